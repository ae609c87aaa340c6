"""A hub's totals: how many of its devices are online, offline, moving or busy.

Counted on transitions only: a device is re-counted when an update touched one of the counted
fields, never per position report. The totals are published at most once per PUBLISH_EVERY
seconds, however many devices changed: a fleet flapping thousands of times a second writes
them once a second, not once per report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Final

from .fleet import Device
from .hubs.model import Field, Value

OFFLINE_DEVICES: Final = "offline_devices"
"""The aspect (and attribute) listing the offline devices by name."""
PUBLISH_EVERY: Final = 1.0
"""Seconds between two publications of a hub's totals (the first change is published at once)."""
MAX_LISTED: Final = 100
"""At most this many offline devices are named (the attribute goes with every write)."""
TOTALS: Final[Mapping[Field, Field]] = {
    Field.ONLINE: Field.TOTAL_ONLINE,
    Field.MOVING: Field.TOTAL_MOVING,
    Field.BUSY: Field.TOTAL_BUSY,
}
"""Each counted flag, and the hub's field counting the devices with it on."""


class FleetTotals:
    """The devices with each counted flag on, and those offline, kept as they change."""

    def __init__(self, reported: frozenset[Field]) -> None:
        """Count ONLINE (and offline) always; MOVING and BUSY where the kind reports them."""
        self.counted = frozenset(
            flag for flag in TOTALS if flag is Field.ONLINE or flag in reported
        )
        self._shown = {Field.ONLINE} if Field.DEVICES_ONLINE in reported else set()
        """Flags whose total the hub shows itself (iMouse XP's kernel counts its online phones)."""
        self._on: dict[Field, set[str]] = {flag: set() for flag in self.counted}
        self._offline: dict[str, str] = {}
        """Device id -> its name, for the devices reported offline."""

    def note(self, device: Device) -> bool:
        """Re-count a device whose counted fields changed; whether any total changed."""
        changed = False
        for flag, devices in self._on.items():
            changed |= _place(devices, device.device_id, on=device.values.get(flag) is True)
        offline = device.values.get(Field.ONLINE) is False
        name = device.details.name or device.device_id
        if offline and self._offline.get(device.device_id) != name:
            self._offline[device.device_id] = name
            changed = True
        elif not offline and self._offline.pop(device.device_id, None) is not None:
            changed = True
        return changed

    def forget(self, device_id: str) -> bool:
        """A device is gone; whether any total changed."""
        changed = self._offline.pop(device_id, None) is not None
        for devices in self._on.values():
            changed |= _place(devices, device_id, on=False)
        return changed

    def values(self) -> dict[Field, Value]:
        """The hub's totals (but the online one where the hub counts its online devices)."""
        totals: dict[Field, Value] = {
            TOTALS[flag]: len(on) for flag, on in self._on.items() if flag not in self._shown
        }
        totals[Field.TOTAL_OFFLINE] = len(self._offline)
        return totals

    def offline_names(self) -> list[str]:
        """The offline devices' names, sorted, at most MAX_LISTED."""
        return sorted(self._offline.values(), key=str.casefold)[:MAX_LISTED]


def _place(devices: set[str], device_id: str, *, on: bool) -> bool:
    """Put a device in or out of a set; whether that changed it."""
    if on == (device_id in devices):
        return False
    if on:
        devices.add(device_id)
    else:
        devices.discard(device_id)
    return True


class TotalsPublisher:
    """A hub's totals, published on the event loop at most once per PUBLISH_EVERY seconds.

    publish gets the totals as the hub's values; offline_devices names the offline devices.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        reported: frozenset[Field],
        publish: Callable[[dict[Field, Value]], None],
    ) -> None:
        """Count what the kind reports; nothing is published before publish_now()."""
        self._loop = loop
        self._totals = FleetTotals(reported)
        self._publish = publish
        self._due: asyncio.TimerHandle | None = None
        self._published_at = -PUBLISH_EVERY
        self._stopped = False
        self.offline_devices: list[str] = []
        """The offline devices' names (the offline total's attribute)."""

    def note(self, device: Device, touched: Collection[str]) -> None:
        """A device's fields changed: re-count it if a counted one did."""
        if not self._totals.counted.isdisjoint(touched) and self._totals.note(device):
            self._schedule()

    def restore(self, devices: Iterable[Device]) -> None:
        """Count a fleet restored from disk (published with the first publish_now())."""
        for device in devices:
            self._totals.note(device)

    def forget(self, device_id: str) -> None:
        """A device is gone."""
        if self._totals.forget(device_id):
            self._schedule()

    def publish_now(self) -> None:
        """Publish the totals at once (at setup, or when the timer fires)."""
        self._cancel()
        self._published_at = self._loop.time()
        self.offline_devices = self._totals.offline_names()
        self._publish(self._totals.values())

    def stop(self) -> None:
        """Unloading: nothing is published any more (a late frame schedules nothing)."""
        self._stopped = True
        self._cancel()

    def _schedule(self) -> None:
        """Publish after the frame at hand, at most once per PUBLISH_EVERY seconds."""
        if self._due is None and not self._stopped:
            delay = max(0.0, self._published_at + PUBLISH_EVERY - self._loop.time())
            self._due = self._loop.call_later(delay, self.publish_now)

    def _cancel(self) -> None:
        if self._due is not None:
            self._due.cancel()
            self._due = None
