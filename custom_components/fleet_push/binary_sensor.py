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
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import FleetPushConfigEntry, FleetPushCoordinator
from .entity import (
    FleetPushEntity,
    FleetPushEntityDescription,
    async_add_fleet_entities,
    described_entities,
    items_in_use,
)
from .fleet import Device
from .hubs.model import Field

# Coordinator is used to centralize the data updates.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class FleetPushBinarySensorEntityDescription(
    BinarySensorEntityDescription, FleetPushEntityDescription
):
    """A binary sensor showing a boolean field, or one item of a list of booleans."""

    index: int | None = None


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


async def async_setup_entry(
    hass: HomeAssistant,
    entry: FleetPushConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add binary sensors for every device, now and as devices appear."""
    simple = described_entities(BINARY_SENSORS, FleetPushBinarySensor)

    def factory(coordinator: FleetPushCoordinator, device: Device) -> Iterable[FleetPushEntity]:
        yield from simple(coordinator, device)
        yield from _indexed_entities(coordinator, device)

    async_add_fleet_entities(entry, async_add_entities, factory)


def _indexed_entities(
    coordinator: FleetPushCoordinator, device: Device
) -> Iterable[FleetPushEntity]:
    """A binary sensor per input and per output in use."""
    for description in (INPUT, OUTPUT):
        for key, index in items_in_use(coordinator, device, description, Platform.BINARY_SENSOR):
            yield FleetPushBinarySensor(
                coordinator, device.device_id, replace(description, key=key, index=index)
            )


class FleetPushBinarySensor(FleetPushEntity, BinarySensorEntity):
    """A boolean a hub reports."""

    _unrecorded_attributes = frozenset({MATCH_ALL})
    entity_description: FleetPushBinarySensorEntityDescription

    def __init__(
        self,
        coordinator: FleetPushCoordinator,
        device_id: str,
        description: FleetPushBinarySensorEntityDescription,
    ) -> None:
        """Name indexed sensors by their number."""
        if description.index is not None:
            self._attr_translation_placeholders = {"number": str(description.index + 1)}
        super().__init__(coordinator, device_id, description)

    @override
    def _recompute(self) -> tuple[Any, ...]:
        value = self.value
        index = self.entity_description.index
        if index is not None:
            value = value[index] if isinstance(value, tuple) and index < len(value) else None
        self._attr_is_on = value if isinstance(value, bool) else None
        return (*super()._recompute(), self._attr_is_on)
