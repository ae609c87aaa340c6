"""A Navixy account's trips and events, as ``track/list`` and ``history/user/list`` give them.

Trips are recorded from what the simulated trackers do: one starts when a tracker starts moving
(or its ignition goes on) and ends when it parks, with its distance, top and average speed and
made-up addresses. The event history holds the rule events tests and the demo add.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
import itertools
import math
from typing import Any, Final
from zoneinfo import ZoneInfo

DATE: Final = "%Y-%m-%d %H:%M:%S"
EARTH_KM: Final = 6371.0
STREETS: Final = (
    "Unter den Linden",
    "Friedrichstraße",
    "Karl-Marx-Allee",
    "Torstraße",
    "Invalidenstraße",
)


class HistoryError(Exception):
    """A REST error reply (code and description, as the docs list them)."""

    def __init__(self, code: int, description: str) -> None:
        """The Navixy error code and its description."""
        super().__init__(description)
        self.code = code
        self.description = description


def address(location: dict[str, Any]) -> str:
    """A street address made up from a position (the same place, the same address)."""
    number = round(abs(location["lat"]) * 1000 + abs(location["lng"]) * 1000)
    return f"{STREETS[number % len(STREETS)]} {number % 200 + 1}, Berlin, Germany"


def distance_km(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Great-circle distance between two locations."""
    lat1, lat2 = math.radians(a["lat"]), math.radians(b["lat"])
    dlat, dlng = lat2 - lat1, math.radians(b["lng"] - a["lng"])
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(h))


def _driving(state: dict[str, Any]) -> bool:
    return state.get("movement_status") == "moving" or state.get("ignition") is True


@dataclass
class SimTrip:
    """One trip: open while the tracker drives."""

    trip_id: int
    start: datetime
    start_location: dict[str, Any]
    location: dict[str, Any]
    end: datetime | None = None
    length: float = 0.0
    points: int = 1
    speeds: list[float] = field(default_factory=list)

    def item(self, since: datetime, until: datetime) -> dict[str, Any]:
        """The trip as a ``regular`` track/list item, cut to the window asked for."""
        assert self.end is not None
        speeds = self.speeds or [0.0]
        return {
            "id": self.trip_id,
            "start_date": max(self.start, since).strftime(DATE),
            "start_address": address(self.start_location),
            "max_speed": round(max(speeds)),
            "end_date": min(self.end, until).strftime(DATE),
            "end_address": address(self.location),
            "length": round(self.length, 2),
            "points": self.points,
            "avg_speed": round(sum(speeds) / len(speeds)),
            "type": "regular",
            "gsm_lbs": False,
            "bounds": {"nw": dict(self.start_location), "se": dict(self.location)},
        }


class TripLog:
    """Every tracker's trips; a finished trip shows in track/list after `lag` seconds."""

    def __init__(self, time_zone: str, lag: float = 0.0) -> None:
        """Trips dated in the user's time zone."""
        self.zone = ZoneInfo(time_zone)
        self.lag = lag
        self.trips: dict[int, list[SimTrip]] = {}
        self._open: dict[int, SimTrip] = {}
        self._ids = itertools.count(700001)

    def now(self) -> datetime:
        """The user's local time, to the second, as Navixy dates are written."""
        return datetime.now(self.zone).replace(microsecond=0)

    def observe(self, tracker_id: int, state: dict[str, Any]) -> None:
        """A tracker reported: a trip starts, goes on or ends."""
        gps = state.get("gps") if isinstance(state.get("gps"), dict) else {}
        location = gps.get("location")
        if not isinstance(location, dict):
            return
        trip = self._open.get(tracker_id)
        if _driving(state):
            if trip is None:
                self._open[tracker_id] = SimTrip(
                    next(self._ids), self.now(), dict(location), dict(location)
                )
                return
            trip.length += distance_km(trip.location, location)
            trip.location = dict(location)
            trip.points += 1
            if isinstance(speed := gps.get("speed"), int | float):
                trip.speeds.append(float(speed))
        elif trip is not None:
            trip.end = self.now()
            trip.length += distance_km(trip.location, location)
            trip.location = dict(location)
            self.trips.setdefault(tracker_id, []).append(self._open.pop(tracker_id))

    def finished(self, tracker_id: int) -> list[SimTrip]:
        """The tracker's finished trips, oldest first."""
        return list(self.trips.get(tracker_id, ()))

    def track_list(self, tracker_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """track/list: the trips in the window (cut to it), once the platform has them."""
        since, until = window(body, self.zone)
        shown = self.now() - timedelta(seconds=self.lag)
        items = [
            trip.item(since, until)
            for trip in self.trips.get(tracker_id, ())
            if trip.end is not None
            and trip.end <= shown
            and trip.end > since
            and trip.start < until
        ]
        return {"limit_exceeded": False, "list": items}


def window(body: dict[str, Any], zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A request's from and to (the user's local time); error 7 if missing or out of order."""
    try:
        since = datetime.strptime(body["from"], DATE).replace(tzinfo=zone)
        until = datetime.strptime(body["to"], DATE).replace(tzinfo=zone)
    except KeyError, TypeError, ValueError:
        raise HistoryError(7, "Invalid parameters") from None
    if until <= since:
        raise HistoryError(7, "Invalid parameters")
    return since, until


class EventHistory:
    """The account's rule events, as history/user/list lists them."""

    def __init__(self, time_zone: str, max_limit: int = 1000) -> None:
        """Events in the user's time zone; at most `max_limit` per answer (history.maxLimit)."""
        self.zone = ZoneInfo(time_zone)
        self.max_limit = max_limit
        self.entries: list[dict[str, Any]] = []
        self._ids = itertools.count(9000001)

    def add(
        self,
        tracker_id: int,
        event: str,
        message: str,
        location: dict[str, Any],
        *,
        label: str = "",
        when: datetime | None = None,
        emergency: bool = False,
    ) -> dict[str, Any]:
        """Record an event of a tracker now (or at `when`, in the user's zone)."""
        time = when or datetime.now(self.zone)
        entry = {
            "id": next(self._ids),
            "type": "tracker",
            "is_read": False,
            "message": f"{label}: {message}" if label else message,
            "time": time.strftime(DATE),
            "event": event,
            "tracker_id": tracker_id,
            "rule_id": 3000 + len(event),
            "track_id": 0,
            "location": {"lat": location["lat"], "lng": location["lng"], "precision": 10},
            "address": address(location),
            "extra": {
                "tracker_label": label,
                "emergency": emergency,
                "last_known_location": False,
            },
        }
        self.entries.append(entry)
        return entry

    def user_list(self, body: dict[str, Any]) -> dict[str, Any]:
        """history/user/list: the events between from and to (both inclusive), by time."""
        since, until = window(body, self.zone)
        limit = body.get("limit", self.max_limit)
        if not isinstance(limit, int) or limit < 1:
            raise HistoryError(7, "Invalid parameters")
        if limit > self.max_limit:
            raise HistoryError(212, "Requested limit is too big")
        events = body.get("events")
        found = [
            entry
            for entry in self.entries
            if since.strftime(DATE) <= entry["time"] <= until.strftime(DATE)
            and (not isinstance(events, list) or entry["event"] in events)
        ]
        found.sort(key=lambda entry: entry["time"], reverse=body.get("ascending") is False)
        return {
            "list": found[:limit],
            "limit_exceeded": len(found) > limit,
            "total": len(found),
            "total_unread": len(found),
        }
