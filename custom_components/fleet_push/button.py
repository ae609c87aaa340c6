"""Buttons: the one-press commands a hub's client declares for its devices (restart, home)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import override

from homeassistant.components.button import (
    ButtonDeviceClass,
    ButtonEntity,
    ButtonEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DEFAULT_COMMAND_TIMEOUT
from .coordinator import FleetPushConfigEntry, FleetPushCoordinator
from .entity import FleetPushEntity, FleetPushEntityDescription, async_add_fleet_entities
from .fleet import Device
from .hubs.model import Field

# Every press is a command to the hub: one at a time.
PARALLEL_UPDATES = 1

_ONLINE = frozenset({Field.ONLINE})


@dataclass(frozen=True, kw_only=True)
class FleetPushButtonEntityDescription(ButtonEntityDescription, FleetPushEntityDescription):
    """How a button looks; what it sends is the client's (HubClient.buttons)."""


BUTTONS: dict[str, FleetPushButtonEntityDescription] = {
    description.key: description
    for description in (
        FleetPushButtonEntityDescription(
            key="restart",
            device_class=ButtonDeviceClass.RESTART,
            entity_category=EntityCategory.CONFIG,
        ),
        FleetPushButtonEntityDescription(key="home", translation_key="home"),
    )
}
"""The look of every button key a client may declare."""


async def async_setup_entry(
    hass: HomeAssistant,
    entry: FleetPushConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the client's buttons to every fleet device, now and as devices appear."""
    async_add_fleet_entities(entry, async_add_entities, _buttons)


def _buttons(coordinator: FleetPushCoordinator, device: Device) -> Iterable[FleetPushEntity]:
    if device.is_hub:
        return []
    return [
        FleetPushButton(coordinator, device.device_id, BUTTONS[key])
        for key in coordinator.buttons
        if key in BUTTONS
    ]


class FleetPushButton(FleetPushEntity, ButtonEntity):
    """A command a device takes with one press; unavailable while the device is offline."""

    entity_description: FleetPushButtonEntityDescription

    @property
    @override
    def aspects(self) -> frozenset[str]:
        """A button follows its device's Online."""
        return _ONLINE

    @property
    @override
    def available(self) -> bool:
        """Pressable only while the hub is connected and the device not reported offline."""
        return super().available and self.device.values.get(Field.ONLINE) is not False

    async def async_press(self) -> None:
        """Send the client's command for this button; HomeAssistantError if it fails."""
        command, parameters = self.coordinator.buttons[self.entity_description.key]
        await self.coordinator.async_send_command(
            self.device_id, command, parameters, DEFAULT_COMMAND_TIMEOUT
        )
