"""Diagnostics of a hub, or of one of its devices: plain JSON, secrets and whereabouts redacted."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from enum import Enum
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceEntry

from .coordinator import FleetPushConfigEntry, FleetPushCoordinator
from .fleet import Device
from .hubs import client_class, hub_kinds
from .hubs.redact import is_secret_key

TO_REDACT = {
    "rest_url",
    "unique_id",
    "title",
    "latitude",
    "longitude",
    "serial",
    "mac",
    "ip",
    "imei",
    "hash",
    "device_id",
    "name",
    "identifiers",
    "connections",
    "geofence",
    "geofences",
    "picture",
    "address",
}
"""Places and identities; every hub kind's secret and identifying settings go too (below), and
keys that name a secret in any spelling."""


def _settings_to_redact() -> set[str]:
    """The settings of every hub kind that are secrets or name an account or a hub."""
    redacted: set[str] = set()
    for kind in hub_kinds():
        declaration = client_class(kind).declaration
        redacted |= declaration.secrets
        redacted |= {s.key for s in (*declaration.settings, *declaration.options) if s.identity}
    return redacted


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: FleetPushConfigEntry
) -> dict[str, Any]:
    """The hub, its connection's counters and every device, as a bug report needs them."""
    coordinator = entry.runtime_data
    fleet = [device for device in coordinator.devices.values() if not device.is_hub]
    return _redact(
        {
            "entry": {"data": dict(entry.data), "options": dict(entry.options)},
            "hub": _hub(coordinator),
            "devices": [_device(device) for device in fleet],
        }
    )


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: FleetPushConfigEntry, device: DeviceEntry
) -> dict[str, Any]:
    """One device: what its hub reported and what its entities show."""
    coordinator = entry.runtime_data
    fleet_id = coordinator.registry.fleet_device_id(device.identifiers)
    reported = coordinator.devices.get(fleet_id) if fleet_id is not None else None
    entities = []
    registry = er.async_get(hass)
    for entity in er.async_entries_for_device(registry, device.id, include_disabled_entities=True):
        state = hass.states.get(entity.entity_id)
        entities.append(
            {
                "entity_id": entity.entity_id,
                "disabled": entity.disabled_by is not None,
                "state": state.state if state else None,
                "attributes": _plain(dict(state.attributes)) if state else None,
            }
        )
    return _redact(
        {
            "hub": _hub(coordinator) if reported is None or reported.is_hub else None,
            "device": _device(reported) if reported is not None else None,
            "entities": entities,
        }
    )


def _hub(coordinator: FleetPushCoordinator) -> dict[str, Any]:
    return {
        "kind": coordinator.kind,
        "info": asdict(coordinator.hub_info) if coordinator.hub_info else None,
        "available": coordinator.available,
        "connected": coordinator.connected,
        "stats": coordinator.stats.as_dict(),
        "rejected_values": dict(coordinator.rejected),
        "unknown": dict(coordinator.unknown),
        "values": _device(coordinator.devices[""])["values"],
    }


def _device(device: Device) -> dict[str, Any]:
    described: dict[str, Any] = _plain(device.as_flat_dict())
    return described


def _plain(value: Any) -> Any:
    """JSON a person can read: times as ISO text, sets and tuples as lists, enums as values."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(_plain(key)): _plain(item) for key, item in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(_plain(item) for item in value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _redact(data: dict[str, Any]) -> dict[str, Any]:
    secret_keys = {key for key in _keys(data) if is_secret_key(key)}
    redacted: dict[str, Any] = async_redact_data(
        data, TO_REDACT | _settings_to_redact() | secret_keys
    )
    return redacted


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {str(key) for key in value} | {k for item in value.values() for k in _keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in _keys(item)}
    return set()
