"""Trips of hubs that report no trips: from a vehicle's ignition (or movement) and its mileage.

A trip starts when the ignition goes on (or the device starts moving) and ends when it goes
off; its distance is what the mileage counter advanced meanwhile, its average speed that
distance over its duration. The memory keeps, per device, whether it is driving, since when,
the counter at that moment and the top speed so far, so that a trip under way across a
reconnect or a restart ends as one trip, and none is fired twice. A device whose counter
advanced while FleetPush was away, and which is parked again when it comes back, drove a trip
meanwhile: it is fired with its distance and end, its start unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from .memory import HubMemory, remembered_time
from .model import HubMessage
from .trips import Trip

SECTION: Final = "derived_trips"
AWAY_KM: Final = 0.5
"""A parked device's counter must have advanced this far while away to count as a trip."""
SECONDS_PER_HOUR: Final = 3600.0


class TripDeriver:
    """Watches devices' ignition and mileage, and says when a trip ended."""

    def __init__(self, memory: Callable[[], HubMemory]) -> None:
        """Trips of one hub's devices, remembered in its client's memory (as it is now)."""
        self._client_memory = memory
        self._looked_at: set[str] = set()
        """Devices reported since this connection began (the others may have driven away)."""

    def follows(self, device_id: str) -> bool:
        """Whether a device has reported its ignition: it drives trips."""
        return device_id in self._client_memory().section(SECTION)

    def reconnected(self) -> None:
        """A new connection: each device's next report may show a trip driven meanwhile."""
        self._looked_at.clear()

    def observe(
        self,
        device_id: str,
        *,
        driving: bool | None,
        mileage: float | None,
        at: datetime | None,
        speed: float | None = None,
    ) -> tuple[HubMessage, ...]:
        """One report of a device: the trip event and distance when a trip just ended."""
        if driving is None:
            return ()
        memory = self._client_memory()
        devices = memory.section(SECTION)
        seen = devices.get(device_id)
        seen = seen if isinstance(seen, dict) else None
        first_look = device_id not in self._looked_at
        if first_look:
            self._looked_at.add(device_id)
        if seen is None:
            devices[device_id] = _state(driving=driving, at=at, mileage=mileage, speed=speed)
        elif driving and seen.get("driving"):
            if speed is not None and speed > (seen.get("max_speed") or 0):
                seen["max_speed"] = speed  # saved with the next change
            if seen.get("mileage") is None:
                seen["mileage"] = mileage  # the first counter it reported on this trip
            return ()
        elif driving:
            devices[device_id] = _state(driving=driving, at=at, mileage=mileage, speed=speed)
        elif seen.get("driving"):
            devices[device_id] = _state(driving=driving, at=at, mileage=mileage, speed=None)
            memory.changed()
            return _trip(device_id, seen, at, mileage).messages()
        elif first_look and _advanced(seen.get("mileage"), mileage):
            devices[device_id] = _state(driving=driving, at=at, mileage=mileage, speed=None)
            memory.changed()
            return _trip(device_id, {"mileage": seen.get("mileage")}, at, mileage).messages()
        else:
            return ()
        memory.changed()
        return ()


def _state(
    *, driving: bool, at: datetime | None, mileage: float | None, speed: float | None
) -> dict[str, Any]:
    """What is remembered of a device from its last start or stop."""
    since = (at or datetime.now(UTC)).isoformat()
    return {"driving": driving, "since": since, "mileage": mileage, "max_speed": speed}


def _advanced(before: Any, now: float | None) -> bool:
    return isinstance(before, int | float) and now is not None and now - before >= AWAY_KM


def _trip(
    device_id: str, started: dict[str, Any], at: datetime | None, mileage: float | None
) -> Trip:
    """The trip from what was remembered at its start to this stop."""
    end = at or datetime.now(UTC)
    start = remembered_time(started.get("since"))
    before = started.get("mileage")
    distance = mileage - before if isinstance(before, int | float) and mileage is not None else None
    distance = distance if distance is None or distance >= 0 else None  # a counter reset
    hours = (end - start).total_seconds() / SECONDS_PER_HOUR if start else 0
    max_speed = started.get("max_speed")
    return Trip(
        device_id=device_id,
        start=start,
        end=end,
        distance=distance,
        max_speed=max_speed if isinstance(max_speed, int | float) else None,
        avg_speed=round(distance / hours, 1) if distance is not None and hours > 0 else None,
    )
