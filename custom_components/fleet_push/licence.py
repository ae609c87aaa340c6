"""A repair issue when a hub's licence has expired or is about to."""

from __future__ import annotations

from datetime import datetime, timedelta

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LICENCE_WARNING_DAYS


@callback
def async_check_licence(hass: HomeAssistant, entry: ConfigEntry, expires: object) -> None:
    """Raise, update or clear the licence issue of a hub."""
    issue_id = f"licence_{entry.entry_id}"
    now = dt_util.utcnow()
    if not isinstance(expires, datetime) or expires - now > timedelta(days=LICENCE_WARNING_DAYS):
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR if expires <= now else ir.IssueSeverity.WARNING,
        translation_key="licence_expired" if expires <= now else "licence_expiring",
        translation_placeholders={
            "hub": entry.title,
            "date": dt_util.as_local(expires).strftime("%Y-%m-%d %H:%M"),
        },
    )
