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
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DEFAULT_COMMAND_TIMEOUT
from .coordinator import FleetPushConfigEntry, FleetPushCoordinator
from .entity import (
    FleetPushEntity,
    FleetPushEntityDescription,
    async_add_fleet_entities,
    items_in_use,
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


async def async_setup_entry(
    hass: HomeAssistant,
    entry: FleetPushConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a switch per output in use, now and as devices report outputs on."""
    async_add_fleet_entities(entry, async_add_entities, _switches)


def _switches(coordinator: FleetPushCoordinator, device: Device) -> Iterable[FleetPushEntity]:
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

    def __init__(
        self,
        coordinator: FleetPushCoordinator,
        device_id: str,
        description: FleetPushSwitchEntityDescription,
    ) -> None:
        """Name the switch by its output's number."""
        self._attr_translation_placeholders = {"number": str(description.index + 1)}
        super().__init__(coordinator, device_id, description)

    @override
    def _recompute(self) -> tuple[Any, ...]:
        outputs = self.value
        index = self.entity_description.index
        value = outputs[index] if isinstance(outputs, tuple) and index < len(outputs) else None
        self._attr_is_on = value if isinstance(value, bool) else None
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
