"""Switches: one per output of a device whose hub can set outputs (a tracker's relays)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, override

from homeassistant.components.switch import (
    SwitchDeviceClass,
    SwitchEntity,
    SwitchEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import FleetPushConfigEntry, FleetPushCoordinator
from .entity import FleetPushEntity, FleetPushEntityDescription, async_add_fleet_entities
from .fleet import Device
from .hubs.model import Field
from .services import async_send_command

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
    # Outputs drive what is wired to them (an engine relay, say): enable the ones in use.
    entity_registry_enabled_default=False,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: FleetPushConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a switch per output, now and as devices report outputs."""
    async_add_fleet_entities(entry, async_add_entities, _switches)


def _switches(coordinator: FleetPushCoordinator, device: Device) -> Iterable[FleetPushEntity]:
    command = coordinator.client.output_command
    outputs = device.values.get(Field.OUTPUTS)
    if command is None or not OUTPUT.exists_for(device):
        return []
    # Every output, used or not: a relay has to be switchable before its first use.
    return [
        FleetPushSwitch(
            coordinator,
            device.device_id,
            replace(OUTPUT, key=f"{OUTPUT.key}_{index + 1}", index=index, command=command),
        )
        for index in range(len(outputs) if isinstance(outputs, tuple) else 0)
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
    def _refresh(self) -> tuple[Any, ...]:
        outputs = self.value
        index = self.entity_description.index
        value = outputs[index] if isinstance(outputs, tuple) and index < len(outputs) else None
        self._attr_is_on = value if isinstance(value, bool) else None
        return (*super()._refresh(), self._attr_is_on)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Close the output; the state follows when the hub reports it."""
        await self._set(enable=True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Open the output; the state follows when the hub reports it."""
        await self._set(enable=False)

    async def _set(self, *, enable: bool) -> None:
        description = self.entity_description
        parameters = {"output": description.index + 1, "enable": enable}
        await async_send_command(self.coordinator, self.device_id, description.command, parameters)
