"""A finished trip, as every hub kind reports it: a "trip" event and the last trip's distance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from .model import DeviceUpdate, Field, HubNotice

CHANNEL_TRIP: Final = "trip"
TRIP_EVENTS: Final = ("trip",)


@dataclass(frozen=True, slots=True, kw_only=True)
class Trip:
    """One drive from a start to a stop; None where the hub does not say."""

    device_id: str
    start: datetime | None
    end: datetime
    distance: float | None
    """km"""
    max_speed: float | None = None
    """km/h"""
    avg_speed: float | None = None
    """km/h"""
    start_address: str | None = None
    end_address: str | None = None
    trip_id: int | None = None
    """The hub's own id of the trip, where it has one."""

    @property
    def duration(self) -> float | None:
        """Seconds from start to end."""
        return None if self.start is None else (self.end - self.start).total_seconds()

    def attributes(self) -> dict[str, Any]:
        """The event's data: times as ISO strings, distance in km, speeds in km/h."""
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat(),
            "start_address": self.start_address,
            "end_address": self.end_address,
            "distance": self.distance,
            "duration": self.duration,
            "max_speed": self.max_speed,
            "avg_speed": self.avg_speed,
            "trip_id": self.trip_id,
        }

    def messages(self) -> tuple[HubNotice, DeviceUpdate]:
        """The trip event, then the device's new last trip distance."""
        notice = HubNotice(CHANNEL_TRIP, "trip", self.device_id, self.attributes())
        distance = round(self.distance, 3) if self.distance is not None else None
        return notice, DeviceUpdate(self.device_id, values={Field.LAST_TRIP_DISTANCE: distance})
