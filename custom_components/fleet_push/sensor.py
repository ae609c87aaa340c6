"""Sensors: battery, voltages, speed, altitude, signals, mileage, last trip, licence figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
import math
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    MATCH_ALL,
    PERCENTAGE,
    EntityCategory,
    UnitOfElectricPotential,
    UnitOfLength,
    UnitOfSpeed,
)

from .entity import FleetPushEntity, FleetPushEntityDescription, described_entities, setup_entry
from .hubs.model import Field
from .hubs.values import is_number

# Coordinator is used to centralize the data updates.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class FleetPushSensorEntityDescription(SensorEntityDescription, FleetPushEntityDescription):
    """A sensor showing one numeric or timestamp field."""


SENSORS: tuple[FleetPushSensorEntityDescription, ...] = (
    FleetPushSensorEntityDescription(
        key="battery",
        field=Field.BATTERY,
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
    ),
    *(
        FleetPushSensorEntityDescription(
            key=field.value,
            translation_key=field.value,
            field=field,
            device_class=SensorDeviceClass.VOLTAGE,
            native_unit_of_measurement=UnitOfElectricPotential.VOLT,
            state_class=SensorStateClass.MEASUREMENT,
            entity_category=EntityCategory.DIAGNOSTIC,
            suggested_display_precision=2,
        )
        for field in (Field.BATTERY_VOLTAGE, Field.EXTERNAL_VOLTAGE)
    ),
    FleetPushSensorEntityDescription(
        key="speed",
        field=Field.SPEED,
        device_class=SensorDeviceClass.SPEED,
        native_unit_of_measurement=UnitOfSpeed.KILOMETERS_PER_HOUR,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        # A moving vehicle's speed changes with every report: enabled, it doubles the recorded
        # state changes of a fleet, and the tracker already shows it as an attribute.
        entity_registry_enabled_default=False,
    ),
    FleetPushSensorEntityDescription(
        key="altitude",
        translation_key="altitude",
        field=Field.ALTITUDE,
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.METERS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_registry_enabled_default=False,
        suggested_display_precision=0,
    ),
    *(
        FleetPushSensorEntityDescription(
            key=field.value,
            translation_key=field.value,
            entity_registry_enabled_default=False,
            field=field,
            native_unit_of_measurement=PERCENTAGE,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=0,
            entity_category=EntityCategory.DIAGNOSTIC,
        )
        for field in (Field.GPS_SIGNAL, Field.GSM_SIGNAL)
    ),
    FleetPushSensorEntityDescription(
        key="satellites",
        translation_key="satellites",
        entity_registry_enabled_default=False,
        field=Field.SATELLITES,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    FleetPushSensorEntityDescription(
        key="mileage",
        translation_key="mileage",
        field=Field.MILEAGE,
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.KILOMETERS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
    ),
    *(
        FleetPushSensorEntityDescription(
            key=field.value,
            translation_key=field.value,
            field=field,
            hub=True,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=0,
        )
        # Counts: their unit ("licences", "devices") is translated (entity translations).
        for field in (
            Field.LICENCES_TOTAL,
            Field.LICENCES_LOCAL,
            Field.DEVICES,
            Field.DEVICES_ONLINE,
        )
    ),
    FleetPushSensorEntityDescription(
        key="last_trip_distance",
        translation_key="last_trip_distance",
        field=Field.LAST_TRIP_DISTANCE,
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.KILOMETERS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
    ),
    FleetPushSensorEntityDescription(
        key="licence_expires",
        translation_key="licence_expires",
        field=Field.LICENCE_EXPIRES,
        hub=True,
        device_class=SensorDeviceClass.TIMESTAMP,
    ),
)


class FleetPushSensor(FleetPushEntity, SensorEntity):
    """A number or time a hub reports; anything else shows as unknown."""

    _unrecorded_attributes = frozenset({MATCH_ALL})
    entity_description: FleetPushSensorEntityDescription

    @override
    def _recompute(self) -> tuple[Any, ...]:
        self._attr_native_value = self._valid_value()
        return (*super()._recompute(), self._attr_native_value)

    def _valid_value(self) -> float | int | datetime | None:
        value = self.value
        if self.entity_description.device_class is SensorDeviceClass.TIMESTAMP:
            return value if isinstance(value, datetime) and value.tzinfo else None
        if not is_number(value):
            return None
        return value if math.isfinite(value) else None


async_setup_entry = setup_entry(described_entities(SENSORS, FleetPushSensor))
