"""Diagnostics: the hub, its counters and its fleet, with secrets and whereabouts redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import (
    CONF_API_KEY,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_URL,
    CONF_USERNAME,
)
from homeassistant.core import HomeAssistant

from .coordinator import FleetPushConfigEntry

TO_REDACT = {
    CONF_API_KEY,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_USERNAME,
    CONF_HOST,
    CONF_URL,
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
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: FleetPushConfigEntry
) -> dict[str, Any]:
    """What a bug report needs, and nothing that identifies or locates anyone."""
    coordinator = entry.runtime_data
    devices = {
        f"device {number}": asdict(device)
        for number, device in enumerate(coordinator.devices.values())
    }
    return async_redact_data(
        {
            "entry": {"data": dict(entry.data), "options": dict(entry.options)},
            "hub": asdict(coordinator.hub_info) if coordinator.hub_info else None,
            "available": coordinator.available,
            "stats": coordinator.client.stats.as_dict(),
            "rejected_values": dict(coordinator.rejected),
            "devices": devices,
        },
        TO_REDACT,
    )
