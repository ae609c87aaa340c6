"""Sensors: the numbers, counters, texts and times hubs report; the sensors trackers read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
import math
from typing import Any, Final, override

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
    UnitOfTemperature,
    UnitOfTime,
    UnitOfVolume,
)

from .coordinator import FleetPushCoordinator
from .entity import (
    EntityFactory,
    FleetPushEntity,
    FleetPushEntityDescription,
    described_entities,
    setup_entry,
)
from .fleet import POSITION, Device
from .geofence_sensor import geofence_sensors
from .hubs.model import Field, Orientation, Reading
from .hubs.values import is_number
from .totals import OFFLINE_DEVICES

# Coordinator is used to centralize the data updates.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class FleetPushSensorEntityDescription(SensorEntityDescription, FleetPushEntityDescription):
    """A sensor showing one numeric, timestamp, enum or text field."""

    text: bool = False
    """Shows the field's text as the hub gives it."""

    lists_offline: bool = False
    """Carries the names of the hub's offline devices as an (unrecorded) attribute."""


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
    FleetPushSensorEntityDescription(
        key="orientation",
        translation_key="orientation",
        field=Field.ORIENTATION,
        device_class=SensorDeviceClass.ENUM,
        options=[orientation.value for orientation in Orientation],
    ),
    FleetPushSensorEntityDescription(
        key="chip",
        translation_key="chip",
        field=Field.CHIP,
        text=True,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    *(
        FleetPushSensorEntityDescription(
            key=field.value,
            translation_key=field.value,
            field=field,
            text=True,
            entity_category=EntityCategory.DIAGNOSTIC,
            # The Online sensor's attributes show them already; a sensor keeps their history.
            entity_registry_enabled_default=False,
        )
        for field in (Field.IP_ADDRESS, Field.LANGUAGE, Field.TIME_ZONE)
    ),
    FleetPushSensorEntityDescription(
        key="engine_hours",
        translation_key="engine_hours",
        field=Field.ENGINE_HOURS,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.HOURS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
        # TFT IoT sends it with every report while the engine runs.
        entity_registry_enabled_default=False,
    ),
    FleetPushSensorEntityDescription(
        key="fuel",
        translation_key="fuel",
        field=Field.FUEL,
        device_class=SensorDeviceClass.VOLUME_STORAGE,
        native_unit_of_measurement=UnitOfVolume.LITERS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
    ),
    FleetPushSensorEntityDescription(
        key="address",
        translation_key="address",
        field=Field.ADDRESS,
        text=True,
        # It changes with the position: enabled, it would double a moving fleet's writes.
        entity_registry_enabled_default=False,
    ),
    *(
        FleetPushSensorEntityDescription(
            key=field.value,
            translation_key=field.value,
            field=field,
            hub=True,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=0,
            lists_offline=field is Field.TOTAL_OFFLINE,
        )
        # FleetPush's own totals of the hub's devices (totals.py), counted on transitions.
        for field in (Field.TOTAL_ONLINE, Field.TOTAL_OFFLINE, Field.TOTAL_MOVING, Field.TOTAL_BUSY)
    ),
)


class FleetPushSensor(FleetPushEntity, SensorEntity):
    """A number or time a hub reports; anything else shows as unknown."""

    _unrecorded_attributes = frozenset({MATCH_ALL})
    entity_description: FleetPushSensorEntityDescription

    @override
    def _recompute(self) -> tuple[Any, ...]:
        self._attr_native_value = self._valid_value()
        if self.entity_description.lists_offline:
            return (*super()._recompute(), self._attr_native_value, self._offline_devices)
        return (*super()._recompute(), self._attr_native_value)

    @property
    def _offline_devices(self) -> tuple[str, ...]:
        return tuple(self.coordinator.totals.offline_devices)

    @property
    @override
    def aspects(self) -> frozenset[str]:
        if self.entity_description.lists_offline:
            return super().aspects | {OFFLINE_DEVICES}
        return super().aspects

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The offline devices' names, on the offline total."""
        if self.entity_description.lists_offline:
            return {OFFLINE_DEVICES: list(self._offline_devices)}
        return super().extra_state_attributes

    def _valid_value(self) -> float | int | datetime | str | None:
        value = self.value
        description = self.entity_description
        if description.device_class is SensorDeviceClass.TIMESTAMP:
            return value if isinstance(value, datetime) and value.tzinfo else None
        if description.device_class is SensorDeviceClass.ENUM:
            known = isinstance(value, str) and value in (description.options or ())
            return str(value) if known else None
        if description.text:
            return value if isinstance(value, str) and value else None
        if not is_number(value):
            return None
        return value if math.isfinite(value) else None


LAST_FIX = FleetPushSensorEntityDescription(
    key="last_fix",
    translation_key="last_fix",
    device_class=SensorDeviceClass.TIMESTAMP,
    needs_fix=True,  # when the device's shown position was taken
    # Its state changes with every fix: enabled, it would double a moving fleet's writes.
    entity_registry_enabled_default=False,
)
_POSITION_ASPECTS = frozenset({POSITION})


class LastFixSensor(FleetPushSensor):
    """The time of the fix the device's tracker shows."""

    @property
    @override
    def aspects(self) -> frozenset[str]:
        return _POSITION_ASPECTS

    @override
    def _valid_value(self) -> datetime | None:
        device = self.coordinator.devices.get(self.device_id)
        position = device.position if device else None
        return position.time if position else None


READING = FleetPushSensorEntityDescription(
    key="reading",
    translation_key="reading",
    field=Field.READINGS,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=1,
)
"""What every sensor a tracker reads shares; each is named by its label on the hub."""
READING_UNITS: Final[Mapping[str, tuple[SensorDeviceClass | None, str]]] = {
    "litre": (SensorDeviceClass.VOLUME_STORAGE, UnitOfVolume.LITERS),
    "celsius": (SensorDeviceClass.TEMPERATURE, UnitOfTemperature.CELSIUS),
    "fahrenheit": (SensorDeviceClass.TEMPERATURE, UnitOfTemperature.FAHRENHEIT),
}
"""The hub's units that say what a reading is; others are shown with their own text."""


def describe_reading(reading: Reading) -> FleetPushSensorEntityDescription:
    """The description of one sensor a tracker reads: its device class and unit from its unit."""
    device_class, unit = READING_UNITS.get(reading.unit or "", (None, reading.unit))
    return replace(
        READING,
        key=f"reading_{reading.sensor_id}",
        device_class=device_class,
        native_unit_of_measurement=unit,
    )


class ReadingSensor(FleetPushSensor):
    """One sensor a tracker reads (a fuel tank, a thermometer), named by its label."""

    def __init__(
        self,
        coordinator: FleetPushCoordinator,
        device_id: str,
        reading: Reading,
    ) -> None:
        """Follow the tracker's sensor with this id."""
        self._sensor_id = reading.sensor_id
        self._attr_translation_placeholders = {"label": reading.label or str(reading.sensor_id)}
        super().__init__(coordinator, device_id, describe_reading(reading))

    @override
    def _valid_value(self) -> float | None:
        readings = self.value
        for reading in readings if isinstance(readings, tuple) else ():
            if isinstance(reading, Reading) and reading.sensor_id == self._sensor_id:
                value = reading.value
                return value if value is not None and math.isfinite(value) else None
        return None


def _readings(coordinator: FleetPushCoordinator, device: Device) -> Iterable[FleetPushEntity]:
    readings = device.values.get(Field.READINGS)
    for reading in readings if isinstance(readings, tuple) and not device.is_hub else ():
        if isinstance(reading, Reading):
            yield ReadingSensor(coordinator, device.device_id, reading)


_described: EntityFactory = described_entities(SENSORS, FleetPushSensor)


def _sensors(coordinator: FleetPushCoordinator, device: Device) -> Iterable[FleetPushEntity]:
    """A device's numbers and texts, each sensor it reads, the time of its fix, its geofence."""
    yield from _described(coordinator, device)
    yield from _readings(coordinator, device)
    if LAST_FIX.exists_for(device):
        yield LastFixSensor(coordinator, device.device_id, LAST_FIX)
    yield from geofence_sensors(coordinator, device)


async_setup_entry = setup_entry(_sensors)
