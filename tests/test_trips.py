"""Trips and Navixy alarms through Home Assistant, against the simulators over loopback."""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

from homeassistant.core import Event, HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.fleet_push.const import EVENT_FLEET_PUSH

from .conftest import SetupHub, StartHub
from .helpers import entity_exists, state_of, wait_for, wait_for_entity
from .simulator import simulator_class
from .simulator.tftiot import now_ms

LONG_AGO = "2026-01-01 00:00:00"
"""When the simulated trackers last parked before a test starts (user time)."""


@pytest.fixture(autouse=True)
def fast_reads() -> Generator[None]:
    """Alarm intervals of a twentieth of a second per "minute"; trip retries at once."""
    with (
        patch("custom_components.fleet_push.hubs.navixy_alarms.SECONDS_PER_MINUTE", 0.05),
        patch("custom_components.fleet_push.hubs.navixy_trips.RETRY_DELAY", 0.2),
    ):
        yield


def of(events: list[Event], channel: str) -> list[dict[str, Any]]:
    """The fleet_push_event data of one channel."""
    return [event.data for event in events if event.data["channel"] == channel]


def shows(hass: HomeAssistant, entry: MockConfigEntry, device: str, key: str, value: float) -> bool:
    """Whether a sensor exists and shows a number."""
    if not entity_exists(hass, entry, "sensor", device, key):
        return False
    return float(state_of(hass, entry, "sensor", device, key).state) == value


def track_lists(hub: Any) -> int:
    """How often track/list was asked."""
    return sum(1 for path, _ in hub.rest_calls if path == "track/list")


async def start_parked(start_hub: StartHub, **options: Any) -> tuple[Any, int]:
    """A Navixy account with one tracker, parked long ago."""
    hub = await start_hub("navixy", devices=1, **options)
    (tracker_id,) = hub.trackers
    hub.set_state(tracker_id, movement_status_update=LONG_AGO, ignition_update=LONG_AGO)
    return hub, tracker_id


def drive(hub: Any, tracker_id: int, steps: int = 3) -> None:
    """Start, drive north for a few fixes, park (the simulator records the trip)."""
    set_moving(hub, tracker_id, moving=True)
    location = hub.tracker(tracker_id).state["gps"]["location"]
    for step in range(1, steps + 1):
        hub.move(tracker_id, location["lat"] + 0.01, location["lng"], speed=30 + 10 * step)
    set_moving(hub, tracker_id, moving=False)


def set_moving(hub: Any, tracker_id: int, *, moving: bool) -> None:
    """Moving with the ignition on, or parked with it off, from now (the tracker's time)."""
    now = hub.user_time()
    hub.set_state(
        tracker_id,
        movement_status="moving" if moving else "parked",
        movement_status_update=now,
        ignition=moving,
        ignition_update=now,
    )


async def test_a_navixy_stop_fires_its_trip_once_with_one_track_list(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub, tracker_id = await start_parked(start_hub)
    entry = await setup_hub("navixy", hub)
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    tracker = str(tracker_id)

    drive(hub, tracker_id)
    await wait_for(lambda: of(events, "trip"))
    await hass.async_block_till_done()

    (recorded,) = hub.trips.finished(tracker_id)
    (trip,) = of(events, "trip")
    assert trip["source_id"] == tracker
    assert trip["type"] == "trip"
    data = trip["data"]
    assert data["distance"] == round(recorded.length, 2) > 0
    assert data["max_speed"] == 60
    assert data["trip_id"] == recorded.trip_id
    assert data["start_address"].endswith("Berlin, Germany")
    assert data["end_address"].endswith("Berlin, Germany")
    assert data["end"] >= data["start"]
    assert data["duration"] >= 0
    assert track_lists(hub) == 1
    event_entity = await wait_for_entity(hass, entry, "event", tracker, "trip")
    shown = hass.states.get(event_entity)
    assert shown is not None
    assert shown.attributes["event_type"] == "trip"
    assert shown.attributes["distance"] == data["distance"]
    distance = await wait_for_entity(hass, entry, "sensor", tracker, "last_trip_distance")
    assert float(hass.states.get(distance).state) == pytest.approx(data["distance"])  # type: ignore[union-attr]

    # Fixes while parked, and the same stop reported again, ask nothing more.
    hub.move(tracker_id, 52.5, 13.4)
    hub.set_state(tracker_id, battery_level=40)
    await wait_for(lambda: state_of(hass, entry, "sensor", tracker, "battery").state == "40")
    assert track_lists(hub) == 1
    assert len(of(events, "trip")) == 1


async def test_a_trip_that_shows_late_is_asked_for_again(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub, tracker_id = await start_parked(start_hub, trip_lag=1.2)
    await setup_hub("navixy", hub)
    events = async_capture_events(hass, EVENT_FLEET_PUSH)

    with patch("custom_components.fleet_push.hubs.navixy_trips.RETRY_DELAY", 1.0):
        drive(hub, tracker_id)
        await wait_for(lambda: of(events, "trip"))

    assert 2 <= track_lists(hub) <= 3
    assert len(of(events, "trip")) == 1


async def test_trips_that_ended_while_home_assistant_was_down_fire_once(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub, tracker_id = await start_parked(start_hub)
    entry = await setup_hub("navixy", hub)
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    drive(hub, tracker_id)
    await wait_for(lambda: of(events, "trip"))

    assert await hass.config_entries.async_unload(entry.entry_id)  # Home Assistant stops
    await hass.async_block_till_done()
    drive(hub, tracker_id)  # meanwhile the vehicle drives twice
    hub.trips.now()  # the second trip ends in a later second than the first
    drive(hub, tracker_id)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(lambda: len(of(events, "trip")) >= 3)
    await hass.async_block_till_done()

    fired = [trip["data"]["trip_id"] for trip in of(events, "trip")]
    assert fired == [trip.trip_id for trip in hub.trips.finished(tracker_id)]


async def test_a_stop_during_a_reconnect_fires_its_trip_after_it(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub, tracker_id = await start_parked(start_hub)
    await setup_hub("navixy", hub)
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    hub.set_state(tracker_id, movement_status="moving", ignition=True)
    await hub.wait_for_connections()

    await hub.stop()
    drive(hub, tracker_id)
    await hub.start()
    await wait_for(lambda: of(events, "trip"))
    await hass.async_block_till_done()

    assert [trip["data"]["trip_id"] for trip in of(events, "trip")] == [
        trip.trip_id for trip in hub.trips.finished(tracker_id)
    ]


async def alarm_hub(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub, **options: Any
) -> tuple[Any, int, MockConfigEntry]:
    """A Navixy account with one tracker, its alarms read every "minute"."""
    hub, tracker_id = await start_parked(start_hub, **options)
    entry = await setup_hub("navixy", hub, options={"alarms": True, "alarm_interval": 1})
    await wait_for(lambda: any(path == "history/user/list" for path, _ in hub.rest_calls))
    return hub, tracker_id, entry


async def test_navixy_alarms_fire_once_typed_on_the_tracker(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub, tracker_id, entry = await alarm_hub(hass, start_hub, setup_hub)
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    tracker = str(tracker_id)

    sos = hub.alarm(tracker_id, "sos", "SOS button pressed", emergency=True)
    hub.alarm(tracker_id, "vendor_specific_thing", "Something else")
    await wait_for(lambda: len(of(events, "alarm")) == 2)
    calls = sum(1 for path, _ in hub.rest_calls if path == "history/user/list")
    await wait_for(lambda: sum(1 for p, _ in hub.rest_calls if p == "history/user/list") > calls)
    await hass.async_block_till_done()

    first, second = of(events, "alarm")
    assert (first["type"], first["source_id"]) == ("sos", tracker)
    assert first["data"]["message"] == sos["message"]
    assert first["data"]["emergency"] is True
    assert first["data"]["history_id"] == sos["id"]
    assert first["data"]["address"] == sos["address"]
    assert (second["type"], second["data"]["event"]) == ("other", "vendor_specific_thing")
    assert len(of(events, "alarm")) == 2  # asked again: nothing fired twice
    alarm = state_of(hass, entry, "event", tracker, "alarm")
    assert alarm.attributes["event_type"] == "other"
    assert "sos" in alarm.attributes["event_types"]


async def test_alarms_are_read_page_by_page_and_never_twice_across_a_restart(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    hass_storage: dict[str, Any],
) -> None:
    hub, tracker_id, entry = await alarm_hub(hass, start_hub, setup_hub, history_limit=2)
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    now = datetime.now(ZoneInfo(hub.time_zone))
    for number in range(5):  # two a second: each answer holds two, the history has more
        when = now + timedelta(seconds=number // 2)
        hub.alarm(tracker_id, "speedup", f"Speeding {number}", when=when)
    await wait_for(lambda: len(of(events, "alarm")) == 5)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    hub.alarm(tracker_id, "outzone", "Left the depot")  # while Home Assistant is down
    calls = len(hub.rest_calls)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(lambda: len(of(events, "alarm")) == 6)
    await wait_for(
        lambda: sum(1 for p, _ in hub.rest_calls[calls:] if p == "history/user/list") > 2
    )
    await hass.async_block_till_done()

    assert [event["data"]["message"].split(": ")[-1] for event in of(events, "alarm")] == [
        *(f"Speeding {number}" for number in range(5)),
        "Left the depot",
    ]

    assert f"fleet_push.{entry.entry_id}.memory" in hass_storage
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert f"fleet_push.{entry.entry_id}.memory" not in hass_storage  # forgotten with the hub


async def test_alarms_are_not_read_unless_chosen(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub, tracker_id = await start_parked(start_hub)
    entry = await setup_hub("navixy", hub)
    hub.alarm(tracker_id, "sos", "SOS button pressed")
    drive(hub, tracker_id)
    await wait_for(lambda: track_lists(hub))  # the connection is well under way

    assert not any(path == "history/user/list" for path, _ in hub.rest_calls)

    hass.config_entries.async_update_entry(entry, options={"alarms": True, "alarm_interval": 1})
    await wait_for(lambda: any(path == "history/user/list" for path, _ in hub.rest_calls))
    await wait_for_entity(hass, entry, "event", str(tracker_id), "alarm")


async def test_a_tft_iot_trip_is_derived_from_ignition_and_mileage(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("tftiot", devices=1)
    (imei,) = hub.trackers
    truck = hub.trackers[imei]
    truck.acc, truck.speed = False, 0.0
    entry = await setup_hub("tftiot", hub)
    events = async_capture_events(hass, EVENT_FLEET_PUSH)

    ten_minutes_ago = now_ms() - 600_000
    for acc, speed, metres, switched in (
        (True, 40.0, 0, ten_minutes_ago),
        (True, 75.0, 8000, ten_minutes_ago),
        (False, 0.0, 4345, ten_minutes_ago + 600_000),
    ):
        truck.acc, truck.speed, truck.acc_switch_time = acc, speed, switched
        truck.mileage += metres
        await hub.push_snapshot(imei)
    await wait_for(lambda: of(events, "trip"))
    await hass.async_block_till_done()

    (trip,) = of(events, "trip")
    assert trip["source_id"] == imei
    assert trip["data"]["distance"] == pytest.approx(12.345)
    assert trip["data"]["max_speed"] == 75
    assert trip["data"]["duration"] == 600
    assert trip["data"]["avg_speed"] == pytest.approx(74.1)
    distance = state_of(hass, entry, "sensor", imei, "last_trip_distance")
    assert float(distance.state) == pytest.approx(12.345)
    assert state_of(hass, entry, "event", imei, "trip").attributes["event_type"] == "trip"

    assert await hass.config_entries.async_unload(entry.entry_id)  # Home Assistant stops
    await hass.async_block_till_done()
    truck.mileage += 5000  # and the truck drives 5 km meanwhile, and parks again
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(lambda: len(of(events, "trip")) == 2)
    truck.battery = 63
    await hub.push_snapshot(imei)  # parked: nothing more
    await wait_for(lambda: shows(hass, entry, imei, "battery", 63))
    await hass.async_block_till_done()

    away = of(events, "trip")[1]["data"]
    assert (away["distance"], away["start"], away["duration"]) == (pytest.approx(5.0), None, None)
    assert len(of(events, "trip")) == 2


async def test_a_devicehive_trip_under_way_across_a_restart_is_one_trip(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=1)
    entry = await setup_hub("devicehive", hub)
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    here = {"lat": 50.45, "lng": 30.52}
    await hub.notify("dev-1", "gps", {**here, "ignition": False, "mileage": 100.0})
    await hub.notify("dev-1", "gps", {**here, "ignition": True, "mileage": 100.0, "speed": 30})
    await hub.notify("dev-1", "gps", {**here, "ignition": True, "mileage": 104.0, "speed": 45})
    await wait_for_entity(hass, entry, "event", "dev-1", "trip")

    assert await hass.config_entries.async_unload(entry.entry_id)  # mid-trip, Home Assistant stops
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await hub.notify("dev-1", "gps", {**here, "ignition": True, "mileage": 106.0, "speed": 50})
    await hub.notify("dev-1", "gps", {**here, "ignition": False, "mileage": 107.5, "speed": 0})
    await wait_for(lambda: of(events, "trip"))
    await hub.notify("dev-1", "gps", {**here, "ignition": False, "mileage": 107.5, "battery": 77})
    await wait_for(lambda: shows(hass, entry, "dev-1", "battery", 77))
    await hass.async_block_till_done()

    (trip,) = of(events, "trip")
    assert trip["data"]["distance"] == pytest.approx(7.5)
    assert trip["data"]["max_speed"] == 50
    assert trip["data"]["avg_speed"] is not None
    assert not of(events, "notification")  # ignition and mileage are no events of their own
    distance = state_of(hass, entry, "sensor", "dev-1", "last_trip_distance")
    assert float(distance.state) == pytest.approx(7.5)

    # A device that says whether it moves, not its ignition, drives trips too.
    await hub.notify("dev-1", "gps", {**here, "moving": True, "mileage": 107.5, "speed": 20})
    await hub.notify("dev-1", "gps", {**here, "moving": False, "mileage": 110.0})
    await wait_for(lambda: len(of(events, "trip")) == 2)
    assert of(events, "trip")[1]["data"]["distance"] == pytest.approx(2.5)


async def test_the_demo_fleets_drive_trips_and_raise_alarms() -> None:
    """At the demo pace Navixy's trackers drive trips (track/list) and speed (the history),
    DeviceHive's couriers send their ignition and counter; two simulated hours, no real ones."""
    navixy = simulator_class("navixy")(devices=6, event_rate=1.0, pace="demo")
    couriers = simulator_class("devicehive")(devices=3, event_rate=1.0, pace="demo")
    counters = {device.id: device.mileage for device in couriers.devices.values()}
    for _ in range(2 * 3600):
        await navixy.step()
        await couriers.step()

    trips = [trip for tracker in navixy.trackers for trip in navixy.trips.finished(tracker)]
    assert len(trips) >= len(navixy.trackers)
    assert all(trip.length > 0 and trip.end is not None for trip in trips)
    assert "speedup" in {entry["event"] for entry in navixy.history.entries}
    assert all(device.mileage > counters[device.id] for device in couriers.devices.values())
    assert {"ignition", "mileage"} <= set(next(iter(couriers.devices.values())).gps())
