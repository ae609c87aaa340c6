"""Navixy's trip and alarm readers and the derived trips, against a scripted account."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
from typing import Any

import pytest

from custom_components.fleet_push.hubs import navixy_alarms, navixy_trips
from custom_components.fleet_push.hubs.connection import Drop
from custom_components.fleet_push.hubs.derived_trips import TripDeriver
from custom_components.fleet_push.hubs.errors import CannotConnect, ProtocolError
from custom_components.fleet_push.hubs.memory import HubMemory
from custom_components.fleet_push.hubs.model import DeviceUpdate, Field, HubMessage, HubNotice
from custom_components.fleet_push.hubs.navixy import NavixyApiError
from custom_components.fleet_push.hubs.navixy_alarms import NavixyAlarms
from custom_components.fleet_push.hubs.navixy_trips import NavixyTrips

FIXTURES = Path(__file__).parents[1] / "fixtures" / "navixy"
DATE = "%Y-%m-%d %H:%M:%S"
RECENTLY = (datetime.now(UTC) - timedelta(hours=1)).strftime(DATE)
"""When the trackers start driving in these tests (trips are asked for a week back at most)."""


def later(minutes: int) -> str:
    """A Navixy date this many minutes after RECENTLY."""
    start = datetime.strptime(RECENTLY, DATE).replace(tzinfo=UTC)
    return (start + timedelta(minutes=minutes)).strftime(DATE)


PARKED = {"movement_status": "parked", "movement_status_update": "2026-01-01 00:00:00"}


class Account:
    """A Navixy account whose REST replies a test scripts (UTC dates)."""

    def __init__(self, *replies: dict[str, Any] | Exception) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[str, Mapping[str, Any]]] = []
        self.memory = HubMemory()
        self.saves = 0
        self.memory.on_change = self._saved
        self.messages: list[HubMessage] = []
        self.dropped: list[Drop] = []
        self.gate = asyncio.Event()
        """Replies wait until it is set."""
        self.gate.set()

    def _saved(self) -> None:
        self.saves += 1

    async def rest(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append((path, params))
        await self.gate.wait()
        reply = self.replies.pop(0) if self.replies else {"list": []}
        if isinstance(reply, Exception):
            raise reply
        return reply

    def parse_date(self, value: Any) -> datetime | None:
        try:
            return datetime.strptime(value, DATE).replace(tzinfo=UTC)
        except TypeError, ValueError:
            return None

    def format_date(self, when: datetime) -> str:
        return when.astimezone(UTC).strftime(DATE)

    def emit(self, message: HubMessage) -> None:
        self.messages.append(message)

    def drop(self, reason: Drop, detail: object = None) -> None:
        self.dropped.append(reason)

    def notices(self) -> list[HubNotice]:
        return [message for message in self.messages if isinstance(message, HubNotice)]


def track(number: int, end: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": number,
        "start_date": later(0),
        "end_date": end,
        "length": 5.5,
        "max_speed": 62,
        "avg_speed": 49,
        "start_address": " 1 Main St ",
        "end_address": "",
        "type": "regular",
        **fields,
    }


async def stop(trips: NavixyTrips, tracker: int = 1, when: str = RECENTLY) -> None:
    """The tracker seen parked, then driving, then parked again; wait for its trip."""
    trips.observe(tracker, PARKED)
    for _ in range(2):
        trips.observe(tracker, {"movement_status": "moving", "movement_status_update": when})
    trips.observe(tracker, {"movement_status": "parked", "movement_status_update": when})
    for _ in range(100):
        await asyncio.sleep(0)
    await trips.close()


async def test_a_stop_fires_the_trips_since_the_last_once() -> None:
    old = track(1, "2025-12-31 23:00:00")  # before the tracker was first seen parked
    single = {"type": "single_report", "start_date": "2026-06-01 09:00:00"}
    account = Account(
        {
            "list": [
                track(3, later(20)),
                old,
                single,
                track(2, later(10)),
                {"type": "regular"},
            ]
        }
    )
    trips = NavixyTrips(account)

    await stop(trips)

    notices = account.notices()
    assert [notice.attributes["trip_id"] for notice in notices] == [2, 3]
    assert notices[0].attributes["start_address"] == "1 Main St"
    assert notices[0].attributes["end_address"] is None
    assert notices[0].attributes["duration"] == 600
    distances = [m for m in account.messages if isinstance(m, DeviceUpdate)]
    assert distances[-1].values == {Field.LAST_TRIP_DISTANCE: 5.5}
    ((path, params),) = account.calls
    assert (path, params["tracker_id"]) == ("track/list", 1)
    start = datetime.strptime(RECENTLY, DATE).replace(tzinfo=UTC) - timedelta(minutes=1)
    assert params["from"] == start.strftime(DATE)  # from its start, less a minute
    assert account.memory.data["navixy_trips"]["1"]["pending"] is False


async def test_states_that_say_nothing_of_driving_ask_nothing() -> None:
    account = Account()
    trips = NavixyTrips(account)
    trips.observe(1, {"battery_level": 50})
    trips.observe(1, PARKED)
    trips.observe(1, PARKED)
    trips.observe(1, {"ignition": False})  # no stamp: the same stop
    trips.observe(1, {"ignition": False, "ignition_update": "x" * 10_000})  # no date: the same
    await trips.close()
    assert account.calls == []
    assert account.saves == 1
    trips.keep_only([1, 2])
    assert account.saves == 1
    trips.keep_only([2])  # removed from the account
    assert account.memory.data["navixy_trips"] == {}


@pytest.mark.parametrize(
    ("reply", "reason", "pending"),
    [
        (NavixyApiError(201, "Not found in database"), Drop.REQUEST_FAILED, False),
        ({"success": True}, Drop.REQUEST_FAILED, False),
        (CannotConnect("gone"), Drop.INTERRUPTED, True),
    ],
)
@pytest.mark.usefixtures("no_retry_delay")
async def test_a_failed_track_list_is_asked_again_only_after_a_lost_connection(
    reply: Exception | dict[str, Any], reason: Drop, pending: bool
) -> None:
    attempts = navixy_trips.ATTEMPTS if pending else 1
    account = Account(*[reply] * attempts, {"list": [track(1, later(30))]})
    trips = NavixyTrips(account)
    await stop(trips)
    assert account.dropped == [reason] * attempts
    assert account.memory.data["navixy_trips"]["1"]["pending"] is pending

    trips.resume()  # the next connection
    for _ in range(100):
        await asyncio.sleep(0)
    await trips.close()
    assert len(account.calls) == attempts + pending
    assert len(account.notices()) == pending  # the trip, once the connection is back


@pytest.fixture
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trips the list does not show yet are asked for again at once."""
    monkeypatch.setattr(navixy_trips, "RETRY_DELAY", 0)


@pytest.mark.usefixtures("no_retry_delay")
async def test_a_trip_not_listed_yet_is_asked_for_again() -> None:
    account = Account({"list": []}, {"list": []}, {"list": []}, {"list": [track(1, later(30))]})
    trips = NavixyTrips(account)
    await stop(trips)
    assert len(account.calls) == navixy_trips.ATTEMPTS  # then given up
    assert account.notices() == []


def entry(number: int, when: datetime, event: str = "sos", **fields: Any) -> dict[str, Any]:
    return {
        "id": number,
        "tracker_id": 7,
        "event": event,
        "time": when.strftime(DATE),
        "message": "Alarm",
        "location": {"lat": 50.0, "lng": 60.0},
        "address": "A street",
        "extra": {"emergency": True, "full_message": "Vehicle 7: SOS"},
        "rule_id": 3,
        **fields,
    }


async def test_alarms_fire_new_entries_once_and_skip_bad_ones() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    first = entry(1, now)
    account = Account(
        {"list": [first, entry(2, now, "no_such_rule"), {"id": 3}, "junk"]},
        {"list": [first]},
        {"list": 5},
    )
    alarms = NavixyAlarms(account, enabled=True, minutes=1)
    await alarms.read()  # the first read starts the cursor: nothing from before
    account.memory.section("navixy_alarms")["cursor"] = (now - timedelta(minutes=1)).isoformat()
    await alarms.read()
    await alarms.read()
    with pytest.raises(ProtocolError):
        await alarms.read()

    sos, other = account.notices()
    assert (sos.event_type, sos.device_id) == ("sos", "7")
    assert sos.attributes["message"] == "Vehicle 7: SOS"
    assert (sos.attributes["latitude"], sos.attributes["emergency"]) == (50.0, True)
    assert (other.event_type, other.attributes["event"]) == ("other", "no_such_rule")
    assert account.dropped == [Drop.MALFORMED, Drop.MALFORMED]


async def test_alarms_turned_on_start_from_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(navixy_alarms, "SECONDS_PER_MINUTE", 0.001)
    account = Account(CannotConnect("gone"))
    account.memory.section("navixy_alarms")["cursor"] = "2020-01-01T00:00:00+00:00"
    alarms = NavixyAlarms(account, enabled=False, minutes=1)
    alarms.start()  # connected, not chosen: nothing read
    await asyncio.sleep(0.01)
    assert account.calls == []

    alarms.configure(enabled=True, minutes=1)  # read at once, then at the interval
    assert account.memory.data["navixy_alarms"] == {}  # nothing from before it was turned on
    async with asyncio.timeout(5):
        while not account.calls:
            await asyncio.sleep(0.002)
    assert account.dropped == [Drop.REQUEST_FAILED]  # and the next interval asks again
    async with asyncio.timeout(5):
        while len(account.calls) < 2:
            await asyncio.sleep(0.002)

    alarms.configure(enabled=False, minutes=1)
    await asyncio.sleep(0.01)
    calls = len(account.calls)
    await asyncio.sleep(0.01)
    assert len(account.calls) == calls  # turned off: no more reads
    await alarms.close()
    assert {path for path, _ in account.calls} == {"history/user/list"}


def test_derived_trips_from_ignition_and_counter() -> None:
    memory = HubMemory()
    trips = TripDeriver(lambda: memory)
    start = datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert trips.observe("a", driving=None, mileage=10.0, at=start) == ()
    assert trips.observe("a", driving=False, mileage=10.0, at=start) == ()
    assert trips.follows("a")
    assert trips.observe("a", driving=True, mileage=10.0, at=start, speed=20) == ()
    assert trips.observe("a", driving=True, mileage=20.0, at=start, speed=80) == ()
    assert trips.observe("a", driving=True, mileage=25.0, at=start, speed=50) == ()
    notice, update = trips.observe("a", driving=False, mileage=40.0, at=start + timedelta(hours=1))
    assert isinstance(notice, HubNotice)
    assert isinstance(update, DeviceUpdate)
    assert notice.attributes | {"start": None} == {
        "start": None,
        "end": "2026-06-01T11:00:00+00:00",
        "start_address": None,
        "end_address": None,
        "distance": 30.0,
        "duration": 3600.0,
        "max_speed": 80,
        "avg_speed": 30.0,
        "trip_id": None,
    }
    # A trip whose counter came only after its start counts from the first one.
    trips.observe("b", driving=True, mileage=None, at=start)
    trips.observe("b", driving=True, mileage=5.0, at=start)
    notice, _ = trips.observe("b", driving=False, mileage=7.5, at=start)
    assert notice.attributes["distance"] == 2.5  # type: ignore[union-attr]
    memory.section("derived_trips")["c"] = "junk"  # a memory that makes no sense: anew
    assert trips.observe("c", driving=False, mileage=1.0, at=start) == ()
    # A counter that went back (replaced, reset) gives no distance.
    trips.observe("a", driving=True, mileage=40.0, at=start)
    notice, update = trips.observe("a", driving=False, mileage=1.0, at=start)
    assert notice.attributes["distance"] is None  # type: ignore[union-attr]
    assert update.values == {Field.LAST_TRIP_DISTANCE: None}  # type: ignore[union-attr]
    # Parked, and the counter crept: only a new connection's first look counts it.
    assert trips.observe("a", driving=False, mileage=3.0, at=start) == ()
    trips.reconnected()
    assert trips.observe("a", driving=False, mileage=1.2, at=start) == ()
    trips.reconnected()
    (notice, _) = trips.observe("a", driving=False, mileage=9.0, at=start)
    assert notice.attributes["distance"] == 8.0  # type: ignore[union-attr]


async def test_the_docs_history_sample_is_an_offline_alarm_of_tracker_2() -> None:
    sample = json.loads((FIXTURES / "doc_history_user_list.json").read_text(encoding="utf-8"))
    account = Account(sample)
    account.memory.section("navixy_alarms")["cursor"] = "2019-12-31T00:00:00+00:00"
    await NavixyAlarms(account, enabled=True, minutes=1).read()

    (notice,) = account.notices()
    assert (notice.channel, notice.event_type, notice.device_id) == ("alarm", "offline", "2")
    assert notice.attributes == {
        "event": "offline",
        "message": "Alarm",
        "time": "2020-01-01T00:00:00+00:00",
        "address": "address",
        "latitude": 50.0,
        "longitude": 60.0,
        "emergency": False,
        "rule_id": 3,
        "history_id": 1,
    }


async def test_a_stop_while_the_last_is_asked_for_is_asked_for_after_it() -> None:
    account = Account(
        {"list": [track(1, later(10))]},
        {"list": [track(1, later(10)), track(2, later(20))]},
    )
    account.gate.clear()
    trips = NavixyTrips(account)
    trips.observe(1, PARKED)
    for stop_at in (later(10), later(20)):
        trips.observe(1, {"ignition": True, "ignition_update": RECENTLY})
        parked = {"movement_status_update": "2026-01-01 00:00:00", "ignition_update": stop_at}
        trips.observe(1, {"movement_status": "parked", "ignition": False, **parked})
        for _ in range(20):
            await asyncio.sleep(0)  # the first stop's track/list is under way meanwhile
    account.gate.set()
    for _ in range(100):
        await asyncio.sleep(0)
    await trips.close()

    assert len(account.calls) == 2
    assert [notice.attributes["trip_id"] for notice in account.notices()] == [1, 2]
    assert account.memory.data["navixy_trips"]["1"]["stamp"] == later(20)
    assert account.memory.data["navixy_trips"]["1"]["pending"] is False


async def test_trips_that_end_in_the_same_second_are_each_fired_once() -> None:
    second = later(10)
    account = Account(
        {"list": [track(1, second)]},
        {"list": [track(1, second), track(2, second)]},
        {"list": [track(1, second), track(2, second)]},
    )
    trips = NavixyTrips(account)
    trips.observe(1, PARKED)
    trips.observe(1, {"movement_status": "parked", "movement_status_update": "2026-01-01 00:00:01"})
    for number in range(3):
        await asyncio.sleep(0)
        stamp = f"2026-02-01 00:00:0{number}"
        trips.observe(1, {"movement_status": "parked", "movement_status_update": stamp})
        for _ in range(50):
            await asyncio.sleep(0)
    await trips.close()

    assert [notice.attributes["trip_id"] for notice in account.notices()] == [1, 2]
    assert account.memory.data["navixy_trips"]["1"]["ids"] == [1, 2]


async def test_a_trip_that_ended_when_the_tracker_was_first_seen_is_older() -> None:
    account = Account({"list": [track(1, "2026-01-01 00:00:00")]})
    trips = NavixyTrips(account)
    await stop(trips)  # first seen parked at 2026-01-01 00:00:00
    assert account.notices() == []


@pytest.mark.usefixtures("no_retry_delay")
async def test_a_list_with_only_older_trips_is_asked_again_for_the_drive_just_ended() -> None:
    older = track(1, "2026-03-01 10:00:00", start_date="2026-03-01 09:00:00")  # while away
    account = Account({"list": [older]}, {"list": [older, track(2, later(10))]})
    trips = NavixyTrips(account)
    await stop(trips)

    assert [notice.attributes["trip_id"] for notice in account.notices()] == [1, 2]
    assert len(account.calls) == 2
    assert account.memory.data["navixy_trips"]["1"]["since"] is None


async def test_a_memory_that_makes_no_sense_and_a_tracker_removed_meanwhile() -> None:
    account = Account({"list": [track(1, later(10))]})
    account.memory.section("navixy_trips")["1"] = {"active": True, "end": "garbage", "since": 5}
    account.gate.clear()
    trips = NavixyTrips(account)
    trips.observe(1, {"movement_status": "parked", "movement_status_update": later(10)})
    for _ in range(20):
        await asyncio.sleep(0)
    trips.keep_only([])  # the account's list, reloaded while track/list is under way
    account.gate.set()
    for _ in range(50):
        await asyncio.sleep(0)
    await trips.close()

    assert [notice.attributes["trip_id"] for notice in account.notices()] == [1]
    assert account.memory.data["navixy_trips"] == {}


async def test_alarms_after_a_long_absence_are_read_a_day_at_a_time() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    account = Account()
    memory = account.memory.section("navixy_alarms")
    memory.update(cursor=(now - timedelta(days=3)).isoformat(), seen={"1": "garbage"}, saved=5)
    await NavixyAlarms(account, enabled=True, minutes=1).read()

    spans = [
        (account.parse_date(params["to"]) or now) - (account.parse_date(params["from"]) or now)
        for _, params in account.calls
    ]
    assert len(spans) == 4
    assert all(span <= timedelta(days=1) for span in spans)
    assert memory["seen"] == {}
    assert datetime.fromisoformat(memory["cursor"]) >= now - timedelta(minutes=3)

    memory["cursor"] = "garbage"  # a memory that makes no sense starts from now
    await NavixyAlarms(account, enabled=True, minutes=1).read()
    assert len(account.calls) == 4
    assert datetime.fromisoformat(memory["cursor"]) >= now
