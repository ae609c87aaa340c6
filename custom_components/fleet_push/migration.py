"""Config entry migrations: what an older FleetPush left in the registries, brought up to date."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .const import DOMAIN, LOGGER
from .coordinator import FleetPushConfigEntry
from .hubs.model import HUB_DEVICE_ID
from .identity import device_identifier, entity_unique_id, hub_scope

CURRENT_VERSION = 2
"""1: identifiers "hub" and "device:<id>", unique ids "<entry unique id>_<id or hub>_<key>"."""

_V1_HUB = "hub"
_V1_DEVICE = "device:"


async def async_migrate_entry(hass: HomeAssistant, entry: FleetPushConfigEntry) -> bool:
    """Bring an entry of an older FleetPush up to date; False for one of a newer FleetPush."""
    if entry.version > CURRENT_VERSION:
        return False
    if entry.version == 1:
        _scope_identities(hass, entry)
        hass.config_entries.async_update_entry(entry, version=2, minor_version=1)
        LOGGER.debug("Migrated %s to scoped identifiers", entry.title)
    return True


def _scope_identities(hass: HomeAssistant, entry: FleetPushConfigEntry) -> None:
    """Scope every device identifier and entity unique id by the hub.

    Registry ids stay, and with them entity ids, history, names, areas and disabled entities.
    A registry device that version 1 merged from several fleet devices keeps the first of them;
    the others get devices of their own again when the hub next reports them.
    """
    scope = hub_scope(entry)
    devices = dr.async_get(hass)
    fleet_ids: dict[str, list[str]] = {}
    for device in dr.async_entries_for_config_entry(devices, entry.entry_id):
        ours = sorted(value for domain, value in device.identifiers if domain == DOMAIN)
        fleet = [found for value in ours if (found := _v1_fleet_id(value)) is not None]
        if not fleet:
            continue
        fleet_ids[device.id] = fleet
        others = {identifier for identifier in device.identifiers if identifier[0] != DOMAIN}
        devices.async_update_device(
            device.id, new_identifiers=others | {device_identifier(scope, fleet[0])}
        )
    entities = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(entities, entry.entry_id):
        candidates = fleet_ids.get(entity.device_id or "", [])
        for fleet_id in sorted(candidates, key=len, reverse=True):  # "a_b" before "a"
            prefix = f"{entry.unique_id}_{fleet_id or _V1_HUB}_"
            if entity.unique_id.startswith(prefix):
                key = entity.unique_id.removeprefix(prefix)
                entities.async_update_entity(
                    entity.entity_id, new_unique_id=entity_unique_id(scope, fleet_id, key)
                )
                break


def _v1_fleet_id(identifier: str) -> str | None:
    """The fleet device id ("" for the hub) of a version 1 identifier."""
    if identifier == _V1_HUB:
        return HUB_DEVICE_ID
    if identifier.startswith(_V1_DEVICE):
        return identifier.removeprefix(_V1_DEVICE)
    return None
