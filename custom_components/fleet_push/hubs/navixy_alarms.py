"""Navixy alarms: the account's rule events (SOS, speeding, geofences, ...) from its history.

Navixy's WebSocket carries no rule events. When the user opts in, FleetPush asks
``history/user/list`` (every tracker of the account in one request) at the chosen interval for
the events since the last time it asked, and fires each on its tracker's Alarm entity. The
memory keeps the cursor and the ids already fired at and after it, so no event is fired twice
across reconnects and restarts. The window reaches back a little before the last look, for
events the platform records late; the ids keep those from firing again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from .connection import Drop
from .errors import HubError, ProtocolError
from .memory import remembered_time
from .model import HubNotice
from .navixy_account import Background, NavixyAccount
from .values import as_number, is_int

SECTION: Final = "navixy_alarms"
CHANNEL_ALARM: Final = "alarm"
OTHER: Final = "other"
ALARM_EVENTS: Final = (
    "sos",
    "speedup",
    "over_speed_reported",
    "inzone",
    "outzone",
    "outroute",
    "excessive_parking",
    "excessive_parking_finished",
    "excessive_driving_start",
    "excessive_driving_end",
    "idle_start",
    "idle_end",
    "harsh_driving",
    "crash_alarm",
    "fueling",
    "drain",
    "lowpower",
    "battery_off",
    "battery_on",
    "offline",
    "gps_lost",
    "gps_recover",
    "alarmcontrol",
    "door_alarm",
    "hood_alarm",
    "parking",
    "track_start",
    "track_end",
    "input_change",
    "output_change",
    OTHER,
)
"""History event types (Navixy's rule types) shown as themselves; the rest as "other"."""
SECONDS_PER_MINUTE = 60.0
"""The interval option is in minutes (tests shorten them)."""
LATE: Final = timedelta(minutes=2)
"""Each request reaches back this far before the last one's end, for events recorded late."""
SECOND: Final = timedelta(seconds=1)
WINDOW: Final = timedelta(days=1)
"""One request spans a day at most (the platform limits the span it answers)."""
SAVE_EVERY: Final = timedelta(minutes=15)
"""A quiet history's cursor is saved this often (a write a minute would wear SD cards)."""
MAX_PAGES: Final = 10
"""Requests per interval at most when the history holds more than one answer's limit."""


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class NavixyAlarms:
    """Reads the account's event history at an interval, when the user opted in."""

    def __init__(self, account: NavixyAccount, *, enabled: bool, minutes: float) -> None:
        """Whether to read, and how often."""
        self._account = account
        self.enabled = enabled
        self.minutes = minutes
        self._background = Background("fleet_push navixy alarms")
        self._connected = False

    @property
    def _memory(self) -> dict[str, Any]:
        return self._account.memory.section(SECTION)

    def configure(self, *, enabled: bool, minutes: float) -> None:
        """New options: when just turned on, events from now on (none from before)."""
        if enabled and not self.enabled:
            self._memory.clear()
            self._account.memory.changed()
        self.enabled, self.minutes = enabled, minutes
        if enabled and self._connected and not self._background.running:
            self._background.start(self._run())

    def start(self) -> None:
        """Connected: read at the interval, while the option says so."""
        self._connected = True
        if self.enabled:
            self._background.start(self._run())

    async def close(self) -> None:
        """Stop reading (the next connection goes on from the cursor)."""
        self._connected = False
        await self._background.cancel()

    async def _run(self) -> None:
        """Read now, then at the interval; turned off, stop."""
        while self.enabled:
            try:
                await self.read()
            except HubError as err:
                self._account.drop(Drop.REQUEST_FAILED, ("history", type(err).__name__))
            await asyncio.sleep(self.minutes * SECONDS_PER_MINUTE)

    async def read(self) -> None:
        """Fire the events since the cursor, page by page; then move the cursor on."""
        memory = self._memory
        if not isinstance(memory.get("seen"), dict):
            memory["seen"] = {}
        if remembered_time(memory.get("cursor")) is None:
            memory.update(cursor=_now().isoformat(), seen={})
            self._account.memory.changed()
            return
        for _ in range(MAX_PAGES):
            cursor = remembered_time(memory["cursor"]) or _now()
            until = min(_now(), cursor + WINDOW)  # a long absence: a day at a time
            if until <= cursor:
                return
            reply = await self._account.rest(
                "history/user/list",
                {
                    "from": self._account.format_date(cursor),
                    "to": self._account.format_date(until),
                    "ascending": True,
                },
            )
            entries = reply.get("list")
            if not isinstance(entries, list):
                raise ProtocolError("history/user/list answered without a list")
            latest, fired = self._fire_new(entries)
            if reply.get("limit_exceeded") is True and latest is not None:
                # The rest is from the latest second on; a page all in the cursor's second
                # (more events in one second than an answer holds) can only be left behind.
                self._move_cursor(latest if latest > cursor else cursor + SECOND, fired=fired)
                continue
            self._move_cursor(max(cursor, until - LATE), fired=fired)
            if until < _now() - LATE:
                continue  # the next day of a long absence
            return

    def _fire_new(self, entries: list[Any]) -> tuple[datetime | None, bool]:
        """Fire the entries not fired yet; the latest time among them all, and whether any."""
        seen: dict[str, str] = self._memory["seen"]
        latest: datetime | None = None
        fired = False
        for entry in entries:
            if (alarm := self._notice(entry)) is None:
                self._account.drop(Drop.MALFORMED, "history entry")
                continue
            notice, when = alarm
            latest = max(latest, when) if latest else when
            if (key := str(entry["id"])) not in seen:
                seen[key] = when.isoformat()
                self._account.emit(notice)
                fired = True
        return latest, fired

    def _move_cursor(self, cursor: datetime, *, fired: bool) -> None:
        """Ask from here next; forget the ids of events before it (never asked again).

        Saved when an event was fired, else only every SAVE_EVERY of cursor: a restart then
        asks a little further back, and the ids saved with that cursor fire nothing twice.
        """
        memory = self._memory
        last_saved = remembered_time(memory.get("saved"))
        memory["cursor"] = cursor.isoformat()
        memory["seen"] = {
            key: when
            for key, when in memory.get("seen", {}).items()
            if (time := remembered_time(when)) is not None and time >= cursor
        }
        if fired or last_saved is None or cursor - last_saved >= SAVE_EVERY:
            memory["saved"] = memory["cursor"]
            self._account.memory.changed()

    def _notice(self, entry: Any) -> tuple[HubNotice, datetime] | None:
        """A history entry as an alarm of its tracker, and its time; None if it is no entry."""
        if not isinstance(entry, dict):
            return None
        tracker, event = entry.get("tracker_id"), entry.get("event")
        time = self._account.parse_date(entry.get("time"))
        if not (is_int(entry.get("id")) and is_int(tracker) and isinstance(event, str) and time):
            return None
        event_type = event if event in ALARM_EVENTS else OTHER
        return HubNotice(CHANNEL_ALARM, event_type, str(tracker), _attributes(entry, time)), time


def _attributes(entry: dict[str, Any], time: datetime) -> dict[str, Any]:
    """What an alarm says: Navixy's event type, message, time, place and rule."""
    extra, location = _object(entry.get("extra")), _object(entry.get("location"))
    message = extra.get("full_message") or entry.get("message")
    return {
        "event": entry["event"],
        "message": message if isinstance(message, str) else None,
        "time": time.isoformat(),
        "address": entry.get("address") if isinstance(entry.get("address"), str) else None,
        "latitude": as_number(location.get("lat")),
        "longitude": as_number(location.get("lng")),
        "emergency": extra.get("emergency") is True,
        "rule_id": entry.get("rule_id") if is_int(entry.get("rule_id")) else None,
        "history_id": entry["id"],
    }


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
