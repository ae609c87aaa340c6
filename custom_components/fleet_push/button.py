"""Buttons: the one-press commands a hub's client declares for its devices (restart, home)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.button import (
    ButtonDeviceClass,
    ButtonEntity,
    ButtonEntityDescription,
)
from homeassistant.const import EntityCategory

from .const import DEFAULT_COMMAND_TIMEOUT
from .coordinator import FleetPushCoordinator
from .entity import FleetPushEntity, FleetPushEntityDescription, setup_entry
from .fleet import Device
from .hubs.declaration import Press
from .hubs.model import Command, Field
from .screenshots import SCREENSHOT, async_take_screenshot

# Every press is a command to the hub: one at a time.
PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class FleetPushButtonEntityDescription(ButtonEntityDescription, FleetPushEntityDescription):
    """A button for one of the presses the hub kind declares (HubDeclaration.presses)."""

    press: Press
    needs_online: bool = True
    """Pressable only while the device is online (unavailable while it is offline)."""


LOOKS: dict[str, dict[str, Any]] = {
    "restart": {
        "device_class": ButtonDeviceClass.RESTART,
        "entity_category": EntityCategory.CONFIG,
    },
    # The hardware sits between the kernel and the phone: restarting it helps a phone that
    # went offline, so it is pressable then too.
    "usb_restart": {"entity_category": EntityCategory.CONFIG, "needs_online": False},
}
"""How some presses look beyond their translated name (every other press: a plain button)."""


def describe(press: Press) -> FleetPushButtonEntityDescription:
    """The button of a press: named by its key's translation, looking as LOOKS says."""
    looks = LOOKS.get(press.key, {})
    translation_key = None if "device_class" in looks else press.key
    return FleetPushButtonEntityDescription(
        key=press.key, translation_key=translation_key, field=Field.ONLINE, press=press, **looks
    )


def _buttons(coordinator: FleetPushCoordinator, device: Device) -> Iterable[FleetPushEntity]:
    """The client's buttons, on every fleet device."""
    if device.is_hub:
        return []
    buttons = [
        FleetPushButton(coordinator, device.device_id, describe(press))
        for press in coordinator.declaration.presses
    ]
    if coordinator.declaration.screenshots:
        buttons.append(TakeScreenshotButton(coordinator, device.device_id, TAKE_SCREENSHOT))
    return buttons


class FleetPushButton(FleetPushEntity, ButtonEntity):
    """A command a device takes with one press; unavailable while the device is offline."""

    entity_description: FleetPushButtonEntityDescription

    @property
    @override
    def available(self) -> bool:
        """Pressable while the hub is connected, and (if it needs it) the device not offline."""
        needs_online = self.entity_description.needs_online
        return super().available and (self.value is not False or not needs_online)

    @property
    @override
    def aspects(self) -> frozenset[str]:
        """The device's online state, if it decides availability; else nothing of the device."""
        return super().aspects if self.entity_description.needs_online else frozenset()

    async def async_press(self) -> None:
        """Send the press's command; a translated HomeAssistantError if it fails."""
        press = self.entity_description.press
        await self.coordinator.async_send_command(
            Command(self.device_id, press.command, press.parameters, DEFAULT_COMMAND_TIMEOUT)
        )


TAKE_SCREENSHOT = FleetPushButtonEntityDescription(
    key="take_screenshot",
    translation_key="take_screenshot",
    field=Field.ONLINE,
    press=Press("take_screenshot", SCREENSHOT),
    needs_online=False,  # pressed for a phone offline, it says so (a translated error)
)
"""The button of kinds that take screenshots (HubDeclaration.screenshots)."""


class TakeScreenshotButton(FleetPushButton):
    """Takes the phone's screenshot now; its screenshot entity shows it."""

    async def async_press(self) -> None:
        """Take the screenshot; a translated HomeAssistantError if it cannot be."""
        await async_take_screenshot(self.coordinator, self.device_id)


async_setup_entry = setup_entry(_buttons)
