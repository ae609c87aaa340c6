"""Switches: one per output in use of a device whose hub can set outputs (a tracker's relays)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, override

from homeassistant.components.switch import (
    SwitchDeviceClass,
    SwitchEntity,
    SwitchEntityDescription,
)
from homeassistant.const import Platform

from .const import DEFAULT_COMMAND_TIMEOUT
from .coordinator import FleetPushCoordinator
from .entity import (
    FleetPushEntity,
    FleetPushEntityDescription,
    items_in_use,
    setup_entry,
)
from .fleet import Device
from .hubs.model import Command, Field

# Every switch is a command to the hub: one at a time.
PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class FleetPushSwitchEntityDescription(SwitchEntityDescription, FleetPushEntityDescription):
    """An output: item `index` of the device's outputs, set by the client's `command`."""

    index: int = 0
    command: str = ""


OUTPUT = FleetPushSwitchEntityDescription(
    key="output",
    translation_key="output",
    field=Field.OUTPUTS,
    device_class=SwitchDeviceClass.SWITCH,
)


def _switches(coordinator: FleetPushCoordinator, device: Device) -> Iterable[FleetPushEntity]:
    """A switch per output in use, where the hub kind can set outputs."""
    command = coordinator.declaration.output_command
    if command is None:
        return []
    return [
        FleetPushSwitch(
            coordinator,
            device.device_id,
            replace(OUTPUT, key=key, index=index, command=command),
        )
        for key, index in items_in_use(coordinator, device, OUTPUT, Platform.SWITCH)
    ]


class FleetPushSwitch(FleetPushEntity, SwitchEntity):
    """An output as the hub last reported it; switching it is a command to the hub."""

    entity_description: FleetPushSwitchEntityDescription

    @override
    def _recompute(self) -> tuple[Any, ...]:
        self._attr_is_on = self.flag
        return (*super()._recompute(), self._attr_is_on)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Close the output; the state follows when the hub reports it."""
        await self._set(enable=True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Open the output; the state follows when the hub reports it."""
        await self._set(enable=False)

    async def _set(self, *, enable: bool) -> None:
        description = self.entity_description
        parameters = {"output": description.index + 1, "enable": enable}
        await self.coordinator.async_send_command(
            Command(self.device_id, description.command, parameters, DEFAULT_COMMAND_TIMEOUT)
        )


async_setup_entry = setup_entry(_switches)
