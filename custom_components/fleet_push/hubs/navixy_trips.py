"""Navixy trips: when a tracker stops, the trip it just drove, asked once from ``track/list``.

A tracker is driving while its state says ``movement_status`` "moving" or ``ignition`` on. When
that ends (or the state says it changed since FleetPush last looked, after a reconnect or a
restart), FleetPush asks ``track/list`` once for the trips that ended since the last one it
reported, and fires each as a "trip" event. The memory keeps, per tracker, what it was doing,
the end of its last reported trip, and whether a stop still waits for its trip: nothing is
lost or reported twice across reconnects and restarts. The platform may add a trip to its
list some time after the tracker parks: when the list does not show it yet, FleetPush asks
again a little later, a few times at most.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from .connection import Drop
from .errors import HubError, ProtocolError
from .memory import remembered_time
from .navixy_account import Background, NavixyAccount
from .trips import Trip
from .values import as_float, as_text, is_int

SECTION: Final = "navixy_trips"
DATE_LENGTH: Final = 19
ATTEMPTS: Final = 3
"""track/list calls per stop at most, when the list does not show the trip yet."""
RETRY_DELAY = 30.0
"""Seconds before asking again for a trip the list does not show yet."""
MARGIN: Final = timedelta(minutes=1)
"""Asked from this long before the trip started, so that its first point is in the window."""
LOOKBACK: Final = timedelta(days=7)
"""Trips are asked for this far back at most (a long absence: the last week's)."""
TRIP_TYPES: Final = frozenset({"regular", "merged"})
"""track/list items that are drives (single reports and clusters are not)."""


def _active(state: Mapping[str, Any]) -> bool | None:
    """Driving: moving, or the ignition on; None when the state says neither."""
    moving, ignition = state.get("movement_status"), state.get("ignition")
    if moving == "moving" or ignition is True:
        return True
    if isinstance(moving, str) or ignition is False:
        return False
    return None


def _date_text(value: Any) -> str | None:
    """A date as Navixy writes it ("yyyy-MM-dd HH:mm:ss"), kept as text; None otherwise."""
    return value if isinstance(value, str) and len(value) == DATE_LENGTH else None


def _stamp(state: Mapping[str, Any]) -> str | None:
    """When the movement or ignition last changed, as Navixy wrote it (dates sort as text)."""
    moved = _date_text(state.get("movement_status_update"))
    ignition = _date_text(state.get("ignition_update"))
    if ignition is None:
        return moved
    return ignition if moved is None or ignition > moved else moved


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class NavixyTrips:
    """Watches trackers' states for stops and reports each trip once."""

    def __init__(self, account: NavixyAccount) -> None:
        """Trips of one account's trackers."""
        self._account = account
        self._background = Background("fleet_push navixy trips")
        self._asking: set[str] = set()
        self._again: set[str] = set()

    @property
    def _trackers(self) -> dict[str, Any]:
        return self._account.memory.section(SECTION)

    def observe(self, tracker: int, state: Mapping[str, Any]) -> None:
        """A tracker's state: a stop asks for its trip (cheap for every other state)."""
        active = _active(state)
        if active is None:
            return
        key = str(tracker)
        seen = self._trackers.get(key)
        if not isinstance(seen, dict):
            seen = None
        elif active and seen.get("active"):
            return  # still driving: the common case of a report, decided first
        stamp = _stamp(state)
        if seen is None:  # first seen: its trips from the last change on (parked: none yet)
            changed = (self._account.parse_date(stamp) or _now()).isoformat()
            self._trackers[key] = {"active": active, "stamp": stamp, "end": changed}
        elif not active and not seen.get("active") and stamp in (None, seen.get("stamp")):
            return  # still parked
        elif active:
            start = self._account.parse_date(stamp) or _now()
            seen.update(active=True, stamp=stamp, since=start.isoformat())
        else:
            seen.update(active=False, stamp=stamp, pending=True)
            self._ask_soon(key)
        self._account.memory.changed()

    def keep_only(self, trackers: Collection[int]) -> None:
        """Forget the trackers the account no longer lists."""
        listed = {str(tracker) for tracker in trackers}
        gone = [key for key in self._trackers if key not in listed]
        for key in gone:
            del self._trackers[key]
        if gone:
            self._account.memory.changed()

    def resume(self) -> None:
        """After connecting: ask for the trips of stops not answered before (a restart, a drop)."""
        for key, seen in self._trackers.items():
            if isinstance(seen, dict) and seen.get("pending"):
                self._ask_soon(key)

    async def close(self) -> None:
        """Stop asking (what is pending is asked after the next connect)."""
        await self._background.cancel()
        self._asking.clear()
        self._again.clear()

    def _ask_soon(self, key: str) -> None:
        if key in self._asking:
            self._again.add(key)
            return
        self._asking.add(key)
        self._background.start(self._ask_until_answered(key))

    async def _ask_until_answered(self, key: str) -> None:
        try:
            while True:
                self._again.discard(key)
                await self._ask_with_retries(key)
                if key not in self._again:
                    return
        finally:
            self._asking.discard(key)

    async def _ask_with_retries(self, key: str) -> None:
        """Ask until the trip shows (a few times); left unanswered, the stop stays pending."""
        answered = False
        for attempt in range(ATTEMPTS):
            if attempt:
                await asyncio.sleep(RETRY_DELAY)
            try:
                trips = await self._ask(key)
            except ProtocolError as err:  # refused (a removed tracker, say): not asked again
                self._account.drop(Drop.REQUEST_FAILED, ("track/list", type(err).__name__))
                answered = True
                break
            except HubError as err:  # no answer, a rate limit: again, or after reconnecting
                self._account.drop(Drop.INTERRUPTED, ("track/list", type(err).__name__))
                answered = False
                continue
            answered = True
            if trips and self._report(key, trips):
                break
        if answered:
            self._settle(key)

    async def _ask(self, key: str) -> list[Trip]:
        """The trips that ended since the last reported one, oldest first."""
        seen = self._trackers.get(key) or {}
        last_end = remembered_time(seen.get("end")) or _now() - LOOKBACK
        # From the start seen (else the last trip's end: it drove while FleetPush was away).
        since = max(remembered_time(seen.get("since")) or last_end, _now() - LOOKBACK)
        account = self._account
        reply = await account.rest(
            "track/list",
            {
                "tracker_id": int(key),
                "from": account.format_date(since - MARGIN),
                "to": account.format_date(_now() + MARGIN),
            },
        )
        items = reply.get("list")
        if not isinstance(items, list):
            raise ProtocolError("track/list answered without a list")
        reported = seen.get("ids")  # those that ended in the last one's second (None: all)
        trips = (self._trip(key, item) for item in items)
        return sorted((trip for trip in trips if trip and _new(trip, last_end, reported)), key=_end)

    def _trip(self, key: str, item: Any) -> Trip | None:
        """One track/list item as a trip; None for what is no drive, or has no end."""
        if not isinstance(item, dict) or item.get("type", "regular") not in TRIP_TYPES:
            return None
        parse = self._account.parse_date
        if (end := parse(item.get("end_date"))) is None:
            return None
        return Trip(
            device_id=key,
            start=parse(item.get("start_date")),
            end=end,
            distance=as_float(item.get("length")),
            max_speed=as_float(item.get("max_speed")),
            avg_speed=as_float(item.get("avg_speed")),
            start_address=as_text(item.get("start_address")),
            end_address=as_text(item.get("end_address")),
            trip_id=trip_id if is_int(trip_id := item.get("id")) else None,
        )

    def _report(self, key: str, trips: list[Trip]) -> bool:
        """Fire each trip and remember the last one's end; whether it ends the drive seen.

        Else only older trips were listed (ones driven while FleetPush was away): the list
        does not show the drive that just ended yet.
        """
        for trip in trips:
            for message in trip.messages():
                self._account.emit(message)
        if (seen := self._trackers.get(key)) is None:
            return True  # the account no longer lists the tracker
        end, started = trips[-1].end, remembered_time(seen.get("since"))
        same_end = seen.get("ids") or [] if seen.get("end") == end.isoformat() else []
        ids = [*same_end, *(trip.trip_id for trip in trips if trip.end == end)]
        drove = started is None or end > started
        seen.update(end=end.isoformat(), ids=ids, since=None if drove else seen["since"])
        self._account.memory.changed()
        return drove

    def _settle(self, key: str) -> None:
        """The stop is answered (with a trip, or none to show), unless another came meanwhile."""
        if key not in self._again and (seen := self._trackers.get(key)) is not None:
            seen["pending"] = False
            self._account.memory.changed()


def _end(trip: Trip) -> datetime:
    return trip.end


def _new(trip: Trip, last_end: datetime, reported: list[Any] | None) -> bool:
    """Whether a trip ended after the last reported one (or in its second, not reported).

    reported None: the tracker was first seen parked then; whatever ended then is older.
    """
    if trip.end == last_end:
        return reported is not None and trip.trip_id is not None and trip.trip_id not in reported
    return trip.end > last_end
