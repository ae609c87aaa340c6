"""Position coalescing: at most one position write per device and window, transitions at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from .hubs.model import DeviceUpdate, Field, Position, Value

CONTINUOUS_FIELDS = frozenset(
    {
        Field.SPEED,
        Field.ALTITUDE,
        Field.GPS_SIGNAL,
        Field.GSM_SIGNAL,
        Field.SATELLITES,
        Field.MILEAGE,
        Field.BATTERY,
        Field.BATTERY_VOLTAGE,
        Field.EXTERNAL_VOLTAGE,
        Field.ENGINE_HOURS,
        Field.FUEL,
        Field.ADDRESS,
    }
)
"""Values that drift with every report; they travel with the position. Everything else
(online, ignition, moving, inputs, ...) is a transition and is never held back."""

type Apply = Callable[[DeviceUpdate], None]
type CrossesZone = Callable[[str, Position], bool]


class PositionCoalescer:
    """Holds back position-only changes until a device's window has passed."""

    def __init__(self, apply: Apply, crosses_zone: CrossesZone) -> None:
        """Apply updates through `apply`; a position entering or leaving a zone is never held."""
        self._apply = apply
        self._crosses_zone = crosses_zone
        self._last_write: dict[str, float] = {}
        self._held: dict[str, DeviceUpdate] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def offer(self, update: DeviceUpdate, interval: float) -> None:
        """Apply an update now, or hold its position part until the window ends."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        device_id = update.device_id
        held = self._held.pop(device_id, None)
        if held is not None:
            update = _combine(held, update)
        due = self._last_write.get(device_id, -interval) + interval
        if (
            interval <= 0
            or update.position is None
            or now >= due
            or self._crosses_zone(device_id, update.position)
        ):
            self._cancel_timer(device_id)
            if update.position is not None:
                self._last_write[device_id] = now
            self._apply(update)
            return
        continuous = {k: v for k, v in update.values.items() if k in CONTINUOUS_FIELDS}
        self._held[device_id] = DeviceUpdate(device_id, position=update.position, values=continuous)
        now_part = replace(
            update,
            position=None,
            values={k: v for k, v in update.values.items() if k not in CONTINUOUS_FIELDS},
        )
        self._apply(now_part)
        if device_id not in self._timers:
            self._timers[device_id] = loop.call_at(due, self._flush, device_id)

    def forget(self, device_id: str) -> None:
        """Drop what is held for a removed device."""
        self._cancel_timer(device_id)
        self._held.pop(device_id, None)
        self._last_write.pop(device_id, None)

    def cancel(self) -> None:
        """Stop every timer (on unload); held positions are dropped."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._held.clear()

    def _flush(self, device_id: str) -> None:
        self._timers.pop(device_id, None)
        held = self._held.pop(device_id, None)
        if held is not None:
            self._last_write[device_id] = asyncio.get_running_loop().time()
            self._apply(held)

    def _cancel_timer(self, device_id: str) -> None:
        timer = self._timers.pop(device_id, None)
        if timer is not None:
            timer.cancel()


def _combine(older: DeviceUpdate, newer: DeviceUpdate) -> DeviceUpdate:
    """One update saying what both say; the later update wins, the later fix too."""
    values: dict[Field, Value] = {**older.values, **newer.values}
    return replace(newer, position=_later(older.position, newer.position), values=values)


def _later(held: Position | None, arrived: Position | None) -> Position | None:
    """The fix to keep: the one arriving, unless it is older than the one held."""
    if held is None or arrived is None:
        return arrived or held
    if held.time is not None and arrived.time is not None and arrived.time < held.time:
        return held
    return arrived
