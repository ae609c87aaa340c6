"""A repair issue when devices' paid service (a Navixy tracker's tariff) ends soon or has ended.

Hubs give the date as the SERVICE_ENDS extra; it is checked whenever the hub's device list is
loaded and twice a day, never per report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LICENCE_WARNING_DAYS
from .fleet import Device
from .hubs.model import SERVICE_ENDS

CHECK_EVERY: Final = timedelta(hours=12)
MAX_NAMED: Final = 10
"""The issue names at most this many devices, those ending first."""


def ends_of(devices: Iterable[Device]) -> dict[str, date]:
    """The devices whose service ends within the warning period (or has ended), by id."""
    last = dt_util.now().date() + timedelta(days=LICENCE_WARNING_DAYS)
    soon: dict[str, date] = {}
    for device in devices:
        value = device.extras.get(SERVICE_ENDS)
        try:
            ends = date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            continue
        if ends is not None and ends <= last:
            soon[device.device_id] = ends
    return soon


@callback
def async_check_service_ends(
    hass: HomeAssistant,
    entry: ConfigEntry,
    devices: Iterable[Device],
    name_of: Callable[[str], str],
) -> None:
    """Raise, update or clear the hub's issue about services that end."""
    issue_id = f"service_ends_{entry.entry_id}"
    soon = ends_of(devices)
    if not soon:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    first = sorted(soon, key=lambda device_id: (soon[device_id], name_of(device_id)))
    ended = soon[first[0]] <= dt_util.now().date()
    named = ", ".join(name_of(device_id) for device_id in first[:MAX_NAMED])
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR if ended else ir.IssueSeverity.WARNING,
        translation_key="service_ended" if ended else "service_ending",
        translation_placeholders={
            "hub": entry.title,
            "count": str(len(soon)),
            "devices": named if len(soon) <= MAX_NAMED else f"{named}, …",
            "date": soon[first[0]].isoformat(),
        },
    )
