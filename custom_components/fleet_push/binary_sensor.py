"""Binary sensors: online, busy, USB, ignition, moving, inputs and outputs in use, hub connected."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, override

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import MATCH_ALL, EntityCategory, Platform

from .coordinator import FleetPushCoordinator
from .entity import (
    FleetPushEntity,
    FleetPushEntityDescription,
    described_entities,
    items_in_use,
    setup_entry,
)
from .fleet import Device
from .freshness import STALE
from .hubs.model import Field

# Coordinator is used to centralize the data updates.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class FleetPushBinarySensorEntityDescription(
    BinarySensorEntityDescription, FleetPushEntityDescription
):
    """A binary sensor showing a boolean field, or one item of a list of booleans."""


BINARY_SENSORS: tuple[FleetPushBinarySensorEntityDescription, ...] = (
    FleetPushBinarySensorEntityDescription(
        key="connected",
        translation_key="hub_connected",
        field=Field.CONNECTED,
        hub=True,
        always_available=True,
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    FleetPushBinarySensorEntityDescription(
        key="online",
        translation_key="online",
        field=Field.ONLINE,
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        shows_extras=True,
    ),
    FleetPushBinarySensorEntityDescription(
        key="busy",
        translation_key="busy",  # "Activity: Busy / Idle" reads better than running
        field=Field.BUSY,
    ),
    FleetPushBinarySensorEntityDescription(
        key="usb",
        translation_key="usb",
        field=Field.USB,
        device_class=BinarySensorDeviceClass.PLUG,
    ),
    FleetPushBinarySensorEntityDescription(
        key="usb_computer",
        translation_key="usb_computer",
        field=Field.USB_COMPUTER,
        device_class=BinarySensorDeviceClass.PLUG,
    ),
    FleetPushBinarySensorEntityDescription(
        key="ignition", translation_key="ignition", field=Field.IGNITION
    ),
    FleetPushBinarySensorEntityDescription(
        key="moving",
        translation_key="moving",
        field=Field.MOVING,
        device_class=BinarySensorDeviceClass.MOVING,
    ),
    FleetPushBinarySensorEntityDescription(
        key="screen_casting", translation_key="screen_casting", field=Field.SCREEN_CASTING
    ),
    FleetPushBinarySensorEntityDescription(
        key="anti_theft", translation_key="anti_theft", field=Field.ANTI_THEFT
    ),
    FleetPushBinarySensorEntityDescription(key="relay", translation_key="relay", field=Field.RELAY),
    FleetPushBinarySensorEntityDescription(
        key="external_battery_low",
        translation_key="external_battery_low",
        field=Field.EXTERNAL_BATTERY_LOW,
        device_class=BinarySensorDeviceClass.BATTERY,
    ),
)

# Trackers report eight of each, wired or not: only those ever on get an entity (see
# items_in_use), disabled by default like other raw hardware signals.
INPUT = FleetPushBinarySensorEntityDescription(
    key="input",
    translation_key="input",
    field=Field.INPUTS,
    entity_registry_enabled_default=False,
)
OUTPUT = FleetPushBinarySensorEntityDescription(
    key="output",
    translation_key="output",
    field=Field.OUTPUTS,
    entity_registry_enabled_default=False,
)


POSITION_STALE = FleetPushBinarySensorEntityDescription(
    key="position_stale",
    translation_key="position_stale",
    device_class=BinarySensorDeviceClass.PROBLEM,
    needs_fix=True,  # on while an online device's fix has not advanced for the hub's limit
)
_STALE_ASPECTS = frozenset({STALE})


def _binary_sensors(coordinator: FleetPushCoordinator, device: Device) -> Iterable[FleetPushEntity]:
    """A device's booleans, and a binary sensor per input and per output in use."""
    yield from _booleans(coordinator, device)
    if POSITION_STALE.exists_for(device):
        yield PositionStaleBinarySensor(coordinator, device.device_id, POSITION_STALE)
    for description in (INPUT, OUTPUT):
        for key, index in items_in_use(coordinator, device, description, Platform.BINARY_SENSOR):
            yield FleetPushBinarySensor(
                coordinator, device.device_id, replace(description, key=key, index=index)
            )


class FleetPushBinarySensor(FleetPushEntity, BinarySensorEntity):
    """A boolean a hub reports."""

    _unrecorded_attributes = frozenset({MATCH_ALL})
    entity_description: FleetPushBinarySensorEntityDescription

    @override
    def _recompute(self) -> tuple[Any, ...]:
        self._attr_is_on = self.flag
        return (*super()._recompute(), self._attr_is_on)


class PositionStaleBinarySensor(FleetPushBinarySensor):
    """Judged on a timer (freshness.py): told only when its answer changed, never per fix."""

    @property
    @override
    def aspects(self) -> frozenset[str]:
        return _STALE_ASPECTS

    @override
    def _recompute(self) -> tuple[Any, ...]:
        self._attr_is_on = self.coordinator.freshness.is_stale(self.device_id)
        return (self.available, self._attr_is_on)


_booleans = described_entities(BINARY_SENSORS, FleetPushBinarySensor)
async_setup_entry = setup_entry(_binary_sensors)
