"""Whether each online device's fix still advances: checked on a timer, never per report.

A position report costs nothing here. Once a minute the watcher compares every device's fix
time with the hub's "Position stale after" option and tells the Position stale entities of the
devices whose answer changed, so they write only on their transitions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .const import CONF_STALE_AFTER, DEFAULT_STALE_AFTER
from .fleet import Device
from .hubs.model import Field, Position
from .listeners import Listeners

STALE: Final = "stale"
"""The aspect of a device the Position stale entity shows (see Listeners)."""
CHECK_INTERVAL: Final = timedelta(minutes=1)


class Freshness:
    """Which devices are online with a fix that has not advanced for the configured time."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        devices: Mapping[str, Device],
        listeners: Listeners,
        connected: Callable[[], bool],
    ) -> None:
        """Watch a hub's devices while `connected()` says the hub is; nothing runs until start()."""
        self._hass = hass
        self._entry = entry
        self._devices = devices
        self._listeners = listeners
        self._connected = connected
        self._stale: set[str] = set()
        self._first_seen: dict[str, tuple[Position, datetime]] = {}
        """For fixes without a time of their own: when the watcher first saw each."""

    def is_stale(self, device_id: str) -> bool:
        """Whether the device's position is stale, as of the last check."""
        return device_id in self._stale

    @property
    def stale_after(self) -> timedelta:
        """How long an online device's fix may stand still (the hub's option)."""
        return timedelta(minutes=self._entry.options.get(CONF_STALE_AFTER, DEFAULT_STALE_AFTER))

    @callback
    def start(self) -> CALLBACK_TYPE:
        """Check now and then every minute; return what stops it."""
        self.check(dt_util.utcnow())
        return async_track_time_interval(self._hass, self.check, CHECK_INTERVAL)

    @callback
    def check(self, now: datetime) -> None:
        """Re-judge every device; tell the entities of those whose answer changed.

        Not while the hub is away: a fix that stands still because FleetPush cannot hear the
        hub says nothing about the tracker.
        """
        if not self._connected():
            return
        oldest = now - self.stale_after
        for device_id in self._stale.union(self._first_seen).difference(self._devices):
            self._stale.discard(device_id)
            self._first_seen.pop(device_id, None)
        for device in tuple(self._devices.values()):
            fixed = self._fixed_at(device, now)
            stale = fixed is not None and fixed < oldest and device.values.get(Field.ONLINE) is True
            if stale != (device.device_id in self._stale):
                if stale:
                    self._stale.add(device.device_id)
                else:
                    self._stale.discard(device.device_id)
                self._listeners.device_changed(device.device_id, {STALE})

    def _fixed_at(self, device: Device, now: datetime) -> datetime | None:
        """When the device's fix was taken; for an undated fix, when it was first seen."""
        position = device.position
        if position is None:
            self._first_seen.pop(device.device_id, None)
            return None
        if position.time is not None:
            return position.time
        seen = self._first_seen.get(device.device_id)
        if seen is None or seen[0] != position:
            seen = self._first_seen[device.device_id] = (position, now)
        return seen[1]
