"""Helpers for integration tests: fixtures on disk, entity lookup, waiting for the hub."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from homeassistant.core import Context, HomeAssistant, ServiceResponse, State
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.fleet_push.const import DOMAIN
from custom_components.fleet_push.identity import device_identifier, entity_unique_id, hub_scope
from custom_components.fleet_push.services import SERVICE_SEND_COMMAND

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_text(kind: str, name: str) -> str:
    """A vendor sample, verbatim."""
    return (FIXTURES / kind / name).read_text(encoding="utf-8")


async def wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait until a condition holds (frames travel over real sockets)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def entity_id(
    hass: HomeAssistant, entry: MockConfigEntry, platform: str, device_id: str, key: str
) -> str:
    """The entity id of one FleetPush entity, by its device and description key."""
    unique_id = entity_unique_id(hub_scope(entry), device_id, key)
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert found is not None, unique_id
    return found


def entity_exists(
    hass: HomeAssistant, entry: MockConfigEntry, platform: str, device_id: str, key: str
) -> bool:
    """Whether a FleetPush entity has been created."""
    unique_id = entity_unique_id(hub_scope(entry), device_id, key)
    return er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id) is not None


async def wait_for_entity(
    hass: HomeAssistant, entry: MockConfigEntry, platform: str, device_id: str, key: str
) -> str:
    """Wait until a FleetPush entity exists and has a state; return its entity id."""
    await wait_for(lambda: entity_exists(hass, entry, platform, device_id, key))
    found = entity_id(hass, entry, platform, device_id, key)
    await wait_for(lambda: hass.states.get(found) is not None)
    return found


def state_of(
    hass: HomeAssistant, entry: MockConfigEntry, platform: str, device_id: str, key: str
) -> State:
    """The state of one FleetPush entity."""
    state = hass.states.get(entity_id(hass, entry, platform, device_id, key))
    assert state is not None
    return state


def device_of(hass: HomeAssistant, entry: MockConfigEntry, device_id: str) -> dr.DeviceEntry | None:
    """The registry device of a fleet device ("" for the hub)."""
    return dr.async_get(hass).async_get_device_by_identifier(
        device_identifier(hub_scope(entry), device_id), entry.entry_id
    )


def registry_id(hass: HomeAssistant, entry: MockConfigEntry, device_id: str) -> str:
    """The device registry id of a fleet device ("" for the hub)."""
    device = device_of(hass, entry, device_id)
    assert device is not None
    return device.id


async def send(
    hass: HomeAssistant,
    devices: str | list[str],
    command: str,
    *,
    parameters: Any = None,
    timeout: float | None = None,
    response: bool = True,
    context: Context | None = None,
) -> ServiceResponse:
    """Call the action the way an automation does."""
    data: dict[str, Any] = {"device_id": devices, "command": command}
    if parameters is not None:
        data["parameters"] = parameters
    if timeout is not None:
        data["timeout"] = timeout
    return await hass.services.async_call(
        DOMAIN,
        SERVICE_SEND_COMMAND,
        data,
        blocking=True,
        return_response=response,
        context=context,
    )


def platform_entities(
    hass: HomeAssistant, entry: MockConfigEntry, domain: str
) -> list[er.RegistryEntry]:
    """Every entity of an entry on one platform, enabled or not, by entity id."""
    found = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    return sorted((item for item in found if item.domain == domain), key=lambda e: e.entity_id)


def snapshot_entities(
    hass: HomeAssistant, snapshot: SnapshotAssertion, entry: MockConfigEntry, domain: str
) -> None:
    """What snapshot_platform does for one platform of an entry whose platforms all loaded.

    The list of the platform's entity ids first (so that a hub kind with none says so), then
    every entity's registry entry and state.
    """
    entities = platform_entities(hass, entry, domain)
    assert [entity.entity_id for entity in entities] == snapshot(name="entities")
    for entity in entities:
        assert entity == snapshot(name=f"{entity.entity_id}-entry")
        assert entity.disabled_by is None, "use entity_registry_enabled_by_default"
        state = hass.states.get(entity.entity_id)
        assert state is not None, entity.entity_id
        assert state == snapshot(name=f"{entity.entity_id}-state")


def enabled_by_default(hass: HomeAssistant, entry: MockConfigEntry, domain: str) -> dict[str, str]:
    """Each entity of a platform: "enabled", or who disabled it (the integration, by default)."""
    return {
        entity.entity_id: "enabled" if entity.disabled_by is None else str(entity.disabled_by)
        for entity in platform_entities(hass, entry, domain)
    }
