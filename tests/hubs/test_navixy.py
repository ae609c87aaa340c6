"""Navixy client: vendor samples, hostile frames, and the simulator over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from datetime import UTC, datetime
import json
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
import pytest

from custom_components.fleet_push.hubs import client_class, navixy
from custom_components.fleet_push.hubs.connection import Drop, Timing
from custom_components.fleet_push.hubs.errors import (
    CannotConnect,
    CommandFailed,
    HubTimeout,
    InvalidAuth,
    ProtocolError,
    SessionClosed,
)
from custom_components.fleet_push.hubs.model import (
    Category,
    Command,
    DeviceDetails,
    DeviceRemoved,
    DeviceUpdate,
    Field,
    FleetSnapshot,
    HubNotice,
    Position,
)
from custom_components.fleet_push.hubs.navixy import (
    SUBSCRIPTION,
    NavixyApiError,
    NavixyClient,
    websocket_url,
)
from custom_components.fleet_push.hubs.navixy_readings import READINGS_SUBSCRIPTION
from tests.hubs.recorder import Recorder
from tests.simulator import simulator_class
from tests.simulator.navixy import (
    MODEL_CATALOGUE,
    VARIANTS,
    ApiFailure,
    NavixySimulator,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "navixy"
CHANNELS = frozenset({"lifecycle", "trip"})
GUATEMALA = ZoneInfo("America/Guatemala")  # UTC-6, where the vendor samples are
READINGS_FIELDS = frozenset({Field.MILEAGE, Field.ENGINE_HOURS, Field.READINGS})
"""What readings_batch reports (the counters and the sensors)."""


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def tracker_item(tracker_id: int, source_id: int, **source: Any) -> dict[str, Any]:
    return {
        "id": tracker_id,
        "label": f"Car {tracker_id}",
        "source": {"id": source_id, "device_id": "9999999988888", "model": "telfmb920", **source},
    }


def offline_client(
    *trackers: dict[str, Any], timing: Timing | None = None
) -> tuple[NavixyClient, Recorder]:
    """A client fed frames by hand: trackers 555 (source 10284) and 777 (source 123456).

    A look inside: trackers and the account's time zone come only over REST, which a client
    fed by hand has not.
    """
    recorder = Recorder()
    session = cast("aiohttp.ClientSession", None)
    client = NavixyClient(session, recorder.append, api_key="k" * 32, timing=timing)
    items = trackers or (tracker_item(555, 10284), tracker_item(777, 123456, blocked=True))
    client._load_trackers({"list": list(items)})
    client._tz = GUATEMALA
    return client, recorder


def frame(event: str, data: Any) -> str:
    return json.dumps({"type": "event", "event": event, "data": data})


def only_update(recorder: Recorder) -> DeviceUpdate:
    assert len(recorder) == 1
    update = recorder[0]
    assert isinstance(update, DeviceUpdate)
    return update


# --- vendor samples ---


def test_doc_state_event() -> None:
    client, recorder = offline_client()
    client.handle_text(fixture_text("doc001_state_event.json"))
    update = only_update(recorder)
    assert update.device_id == "555"
    assert update.details.name is None
    assert update.values == {
        Field.ONLINE: True,
        Field.MOVING: False,
        Field.SPEED: 0,
        Field.ALTITUDE: 431,
        Field.GPS_SIGNAL: 100,
        Field.GSM_SIGNAL: None,
        Field.BATTERY: None,
        Field.INPUTS: (False,) * 8,
        Field.OUTPUTS: (False,) * 8,
    }
    assert update.position == Position(
        latitude=14.330065796228606,
        longitude=-90.99037259141691,
        time=datetime(2018, 10, 17, 18, 51, 43, tzinfo=UTC),
        speed=0.0,
        heading=248.0,
        altitude=431.0,
        accuracy=None,
    )
    assert update.extras == {
        "blocked": False,
        "connection_status": "active",
        "movement_status": "parked",
    }
    assert client.stats.dropped == {}


def test_protocols_state_event_has_ignition() -> None:
    client, recorder = offline_client()
    client.handle_text(fixture_text("protocols_state_event.json"))
    update = only_update(recorder)
    assert update.values[Field.IGNITION] is False
    assert update.values[Field.ONLINE] is True
    assert Field.IGNITION in update.values


def test_doc_lifecycle_block_unblock_corrupt() -> None:
    client, recorder = offline_client()
    client.handle_text(fixture_text("doc001_lifecycle_event.json"))
    assert recorder == [
        HubNotice("lifecycle", "block", device_id="777"),
        DeviceUpdate("777", extras={"blocked": True}),
    ]
    recorder.clear()
    client.handle_text(frame("lifecycle", {"source_id": 123456, "lifecycle_event": "unblock"}))
    assert recorder == [
        HubNotice("lifecycle", "unblock", device_id="777"),
        DeviceUpdate("777", extras={"blocked": False}),
    ]
    recorder.clear()
    client.handle_text(frame("lifecycle", {"source_id": 123456, "lifecycle_event": "corrupt"}))
    assert recorder == [HubNotice("lifecycle", "corrupt", device_id="777"), DeviceRemoved("777")]
    recorder.clear()
    client.handle_text(frame("state", {"source_id": 123456}))
    assert recorder == []
    assert client.stats.dropped == {Drop.UNKNOWN_DEVICE: 1}


def test_doc_logout_ends_the_session() -> None:
    client, _ = offline_client()
    with pytest.raises(SessionClosed):
        client.handle_text(fixture_text("doc001_logout_event.json"))


def test_protocols_state_batch_sample() -> None:
    client, recorder = offline_client()
    client.handle_text(fixture_text("protocols_state_batch_event.json"))
    assert recorder == [DeviceUpdate("555", values={}, extras={"blocked": False})]


def test_protocols_wrapped_item_by_tracker_id() -> None:
    client, recorder = offline_client(tracker_item(123, 999))
    item = json.loads(fixture_text("protocols_state_batch_wrapped_item.json"))
    client.handle_text(frame("state_batch", [item, item["state"]]))
    # The wrapped item names a known tracker; the bare state's source is unknown.
    assert recorder == [DeviceUpdate("123", values={}, extras={"blocked": False})]
    assert client.stats.dropped == {Drop.UNKNOWN_DEVICE: 1}


def test_wrapped_and_bare_items_in_one_batch() -> None:
    client, recorder = offline_client()
    state = json.loads(fixture_text("doc001_state_event.json"))["data"]
    wrapped = {"type": "source_state_event", "tracker_id": 1, "state": state}
    client.handle_text(frame("state_batch", [state, wrapped]))
    assert len(recorder) == 2
    assert recorder[0] == recorder[1]


def test_protocols_handshake_sets_the_client_heartbeat_only() -> None:
    client, recorder = offline_client()
    client.handle_text(fixture_text("protocols_handshake.txt"))
    assert recorder == []
    assert client.timing == Timing(
        keepalive_interval=30.0, ws_heartbeat=30.0, silence_timeout=300.0
    )
    assert client.stats.dropped == {}


def test_default_timing_assumes_no_server_heartbeat() -> None:
    """Pings every 30 s; silence counts only after atmosphere.js's five minutes."""
    assert NavixyClient.default_timing() == Timing(ws_heartbeat=30.0, silence_timeout=300.0)


@pytest.mark.parametrize("handshake", ["abc|100|X|", "abc|99999|X|"])
def test_no_silence_limit_comes_from_the_handshake(handshake: str) -> None:
    client, _ = offline_client(timing=Timing(ws_heartbeat=1.0))
    client.handle_text(handshake)
    assert client.timing.silence_timeout is None
    assert client.timing.ws_heartbeat == 1.0


def test_a_given_keepalive_wins_over_the_handshake() -> None:
    timing = Timing(keepalive_interval=0.3, ws_heartbeat=0.3)
    client, _ = offline_client(timing=timing)
    client.handle_text("abc|200|X|")
    assert client.timing == timing
    client, _ = offline_client(timing=Timing(ws_heartbeat=0.3))
    client.handle_text("abc|200|X|")
    assert client.timing.keepalive_interval == 0.2
    assert timing.keepalive_interval == 0.3  # the caller's object is not changed


@pytest.mark.parametrize(("handshake", "interval"), [("abc|0|X|", None), ("abc|1|X|", 0.1)])
def test_handshake_without_or_with_a_tiny_client_heartbeat(
    handshake: str, interval: float | None
) -> None:
    """0 is Atmosphere's "no client heartbeat"; 1 ms would flood the server."""
    client, _ = offline_client()
    client.handle_text(handshake)
    assert client.timing.keepalive_interval == interval
    assert client.stats.dropped == {}


async def test_protocols_subscribe_responses_resolve_the_subscription() -> None:
    for name in ("protocols_subscribe_response.json", "protocols_subscribe_response_live.json"):
        client, _ = offline_client()
        with client.awaiting("subscribe") as future:
            client.handle_text(fixture_text(name))
            assert future.result()["action"] == "subscription/subscribe"
        assert client.stats.dropped == {}


async def test_protocols_subscribe_error_rejects_the_subscription() -> None:
    client, _ = offline_client()
    with client.awaiting("subscribe") as future:
        client.handle_text(fixture_text("protocols_subscribe_error.json"))
        with pytest.raises(InvalidAuth):
            future.result()


async def test_other_subscribe_error_is_a_protocol_error() -> None:
    client, _ = offline_client()
    with client.awaiting("subscribe") as future:
        client.handle_text('{"type":"error","action":"subscription/subscribe","status":{"code":7}}')
        with pytest.raises(ProtocolError):
            future.result()


def test_unsolicited_auth_error_ends_the_connection() -> None:
    client, _ = offline_client()
    with pytest.raises(InvalidAuth):
        client.handle_text(fixture_text("protocols_subscribe_error.json"))


def test_unsolicited_responses_and_errors_are_dropped() -> None:
    client, recorder = offline_client()
    client.handle_text(fixture_text("protocols_subscribe_response.json"))
    client.handle_text('{"type":"response","action":"subscription/unsubscribe","data":{}}')
    client.handle_text('{"type":"error","action":"null","status":{"code":7}}')
    client.handle_text('{"type":"error","action":"null"}')
    assert recorder == []
    assert client.stats.dropped == {Drop.UNMATCHED_REPLY: 2, Drop.HUB_ERROR: 2}


# --- values ---


@pytest.mark.parametrize(
    ("status", "online"),
    [
        ("active", True),
        ("idle", True),
        ("signal_lost", False),
        ("offline", False),
        ("just_registered", False),
        ("just_replaced", False),
        (None, None),
        (7, None),
    ],
)
def test_connection_status(status: Any, online: bool | None) -> None:
    client, recorder = offline_client()
    client.handle_text(frame("state", {"source_id": 10284, "connection_status": status}))
    assert only_update(recorder).values == {Field.ONLINE: online}


@pytest.mark.parametrize("status", ["just_registered", "just_replaced"])
def test_not_yet_reporting_trackers_are_offline_and_say_why(status: str) -> None:
    client, recorder = offline_client()
    client.handle_text(frame("state", {"source_id": 10284, "connection_status": status}))
    update = only_update(recorder)
    assert update.values == {Field.ONLINE: False}
    assert update.extras == {"blocked": False, "connection_status": status}


@pytest.mark.parametrize(
    ("movement", "moving"), [("moving", True), ("stopped", False), ("parked", False), (None, None)]
)
def test_movement_status(movement: str | None, moving: bool | None) -> None:
    client, recorder = offline_client()
    client.handle_text(frame("state", {"source_id": 10284, "movement_status": movement}))
    assert only_update(recorder).values == {Field.MOVING: moving}


def test_full_state_values_and_position() -> None:
    client, recorder = offline_client()
    state = {
        "source_id": 10284,
        "gps": {
            "updated": "2024-07-01 10:00:00",
            "signal_level": 80,
            "location": {"lat": 52.5, "lng": 13.4},
            "heading": 90,
            "speed": 54.5,
            "alt": 35,
            "precision": 12,
        },
        "gsm": {"updated": "2024-07-01 10:00:00", "signal_level": 65, "network_name": "X"},
        "ignition": True,
        "battery_level": 87,
        "outputs": [True, False],
        "inputs": [False, True, True],
        "movement_status": "moving",
    }
    client.handle_text(frame("state", state))
    update = only_update(recorder)
    assert update.values == {
        Field.IGNITION: True,
        Field.BATTERY: 87,
        Field.INPUTS: (False, True, True),
        Field.OUTPUTS: (True, False),
        Field.MOVING: True,
        Field.SPEED: 54.5,
        Field.ALTITUDE: 35,
        Field.GPS_SIGNAL: 80,
        Field.GSM_SIGNAL: 65,
    }
    assert update.position == Position(
        52.5, 13.4, datetime(2024, 7, 1, 16, 0, tzinfo=UTC), 54.5, 90.0, 35.0, 12.0
    )


def test_nulls_are_unknown_and_omitted_keys_are_absent() -> None:
    client, recorder = offline_client()
    client.handle_text(frame("state", {"source_id": 10284, "gps": None, "ignition": None}))
    update = only_update(recorder)
    assert update.values == {
        Field.SPEED: None,
        Field.ALTITUDE: None,
        Field.GPS_SIGNAL: None,
        Field.IGNITION: None,
    }
    assert update.position is None
    assert update.extras == {"blocked": False}


def test_compact_state_has_fewer_fields() -> None:
    client, recorder = offline_client()
    compact = {
        "source_id": 10284,
        "gps": {"updated": "2018-10-17 12:51:43", "location": {"lat": 1.5, "lng": 2.5}},
        "connection_status": "idle",
        "movement_status": "stopped",
        "movement_status_update": "2018-10-04 22:47:07",
        "ignition": False,
        "ignition_update": "2018-10-04 22:47:07",
        "last_update": "2018-10-17 12:51:46",
    }
    client.handle_text(frame("state", compact))
    update = only_update(recorder)
    assert update.values == {Field.ONLINE: True, Field.MOVING: False, Field.IGNITION: False}
    assert update.position == Position(1.5, 2.5, datetime(2018, 10, 17, 18, 51, 43, tzinfo=UTC))


def test_wrongly_typed_fields_are_unknown() -> None:
    client, recorder = offline_client()
    state = {
        "source_id": 10284,
        "gps": {"speed": "fast", "alt": True, "location": {"lat": "1", "lng": 2}, "updated": 5},
        "gsm": "none",
        "battery_level": "full",
        "inputs": [1, 0],
        "outputs": "on",
        "ignition": "yes",
        "last_update": "yesterday",
    }
    client.handle_text(frame("state", state))
    update = only_update(recorder)
    assert update.values == {
        Field.BATTERY: None,
        Field.INPUTS: None,
        Field.OUTPUTS: None,
        Field.IGNITION: None,
        Field.SPEED: None,
        Field.ALTITUDE: None,
        Field.GSM_SIGNAL: None,
    }
    assert update.position is None
    assert update.extras == {"blocked": False}


@pytest.mark.parametrize(
    "location", [{"lat": 91, "lng": 0}, {"lat": 0, "lng": -181}, None, {"lat": 1}]
)
def test_bad_locations_are_no_position(location: Any) -> None:
    client, recorder = offline_client()
    client.handle_text(frame("state", {"source_id": 10284, "gps": {"location": location}}))
    assert only_update(recorder).position is None


def test_position_without_time() -> None:
    client, recorder = offline_client()
    client.handle_text(
        frame("state", {"source_id": 10284, "gps": {"location": {"lat": 1, "lng": 2}}})
    )
    assert only_update(recorder).position == Position(1.0, 2.0)


# --- hostile frames ---


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json at all", Drop.NOT_JSON),
        ("[1, 2]", Drop.NOT_OBJECT),
        ('"text"', Drop.NOT_OBJECT),
        ('{"type":"event","event":"readings_batch","data":{}}', Drop.MALFORMED),
        ('{"type":"surprise"}', Drop.UNKNOWN_KIND),
        ('{"no":"type"}', Drop.UNKNOWN_KIND),
        ('{"type":"event","event":"state_batch","data":{"source_id":10284}}', Drop.MALFORMED),
        ('{"type":"event","event":"state","data":"nothing"}', Drop.MALFORMED),
        ('{"type":"event","event":"state_batch","data":[1]}', Drop.MALFORMED),
        ('{"type":"event","event":"state","data":{"type":"source_state_event"}}', Drop.MALFORMED),
        ('{"type":"event","event":"state","data":{"source_id":1}}', Drop.UNKNOWN_DEVICE),
        ('{"type":"event","event":"state","data":{"source_id":[10284]}}', Drop.UNKNOWN_DEVICE),
        ('{"type":"event","event":"state","data":{}}', Drop.UNKNOWN_DEVICE),
        ('{"type":"event","event":"lifecycle","data":null}', Drop.MALFORMED),
        (
            '{"type":"event","event":"lifecycle","data":{"source_id":10284,"lifecycle_event":"x"}}',
            Drop.MALFORMED,
        ),
        (
            '{"type":"event","event":"lifecycle","data":{"source_id":1,"lifecycle_event":"block"}}',
            Drop.UNKNOWN_DEVICE,
        ),
    ],
)
def test_bad_frames_are_dropped(text: str, reason: str) -> None:
    client, recorder = offline_client()
    client.handle_text(text)
    assert recorder == []
    assert client.stats.dropped == {reason: 1}


@pytest.mark.parametrize("text", ["X", " X\n", "X|X", "", "  "])
def test_heartbeats_are_ignored(text: str) -> None:
    client, recorder = offline_client()
    client.handle_text(text)
    assert recorder == []
    assert client.stats.dropped == {}


def test_joined_atmosphere_frames_are_split() -> None:
    client, recorder = offline_client()
    state = frame("state", {"source_id": 10284, "ignition": True})
    client.handle_text(f"b623a15d-9623|30000|X|{state}")
    client.handle_text(f"{len(state)}|{state}")
    client.handle_text(f"{state}|X|{state}")
    client.handle_text('{"broken|' + state)
    assert client.timing.keepalive_interval == 30.0
    assert len(recorder) == 5
    assert all(message == recorder[0] for message in recorder)
    assert client.stats.dropped == {Drop.NOT_JSON: 1}


def test_tracker_list_skips_bad_items() -> None:
    """The list's own parsing (a look inside): a connection would add models and vehicles."""
    client, _ = offline_client()
    snapshot = client._load_trackers(
        {
            "list": [
                tracker_item(1, 11, device_id=9999999988888),
                {"id": 2},
                {"id": "3", "source": {"id": 13}},
                "junk",
                {"id": 4, "label": None, "source": {"id": 14, "model": 5, "device_id": None}},
            ]
        }
    )
    # Nothing asked list_models here: the code alone, no maker, a tracker.
    assert snapshot == FleetSnapshot(
        (
            DeviceUpdate(
                "1",
                DeviceDetails(
                    name="Car 1",
                    model_id="telfmb920",
                    serial="9999999988888",
                    category=Category.TRACKER,
                ),
                extras={"blocked": False},
                channels=CHANNELS,
            ),
            DeviceUpdate(
                "4",
                DeviceDetails(category=Category.TRACKER),
                extras={"blocked": False},
                channels=CHANNELS,
            ),
        )
    )
    assert client.stats.dropped == {Drop.MALFORMED: 3}
    with pytest.raises(ProtocolError):
        client._load_trackers({"list": None})


def test_websocket_url() -> None:
    query = (
        "X-Atmosphere-tracking-id=0&X-Atmosphere-Framework=2.3.6-javascript"
        "&X-Atmosphere-Transport=websocket&Content-Type=application/json&X-atmo-protocol=true"
    )
    assert websocket_url("https://api.eu.navixy.com/v2/") == (
        f"wss://api.eu.navixy.com/v2/event/subscription?{query}"
    )
    assert websocket_url("http://127.0.0.1:8080/api-v2") == (
        f"ws://127.0.0.1:8080/api-v2/event/subscription?{query}"
    )


def test_from_config_and_registry() -> None:
    session = cast("aiohttp.ClientSession", None)
    assert client_class("navixy") is NavixyClient
    assert navixy.CLIENT is NavixyClient
    assert simulator_class("navixy") is NavixySimulator
    client = NavixyClient.from_config(session, print, {"api_key": "abc"})
    assert client.base_url == "https://api.eu.navixy.com/v2"
    assert client.verify_ssl is True
    assert client.keepalive_text == "X"
    assert client.max_msg_size == 64 * 1024 * 1024
    client = NavixyClient.from_config(
        session,
        print,
        {"url": "http://h/v2/", "username": "u", "password": "p", "verify_ssl": False},
    )
    assert (client.base_url, client.username, client.verify_ssl) == ("http://h/v2", "u", False)


def test_api_error_keeps_code_and_description() -> None:
    err = NavixyApiError(213, "Device is offline")
    assert (err.code, err.description) == (213, "Device is offline")
    err = NavixyApiError(None, 5)
    assert (err.code, err.description) == (None, "unknown error")


# --- against the simulator ---


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@contextlib.asynccontextmanager
async def running(sim: NavixySimulator) -> AsyncIterator[NavixySimulator]:
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@contextlib.asynccontextmanager
async def connected(
    session: aiohttp.ClientSession,
    sim: NavixySimulator,
    *,
    timing: Timing | None = None,
    **config: Any,
) -> AsyncIterator[tuple[NavixyClient, Recorder]]:
    recorder = Recorder()
    config = {"url": sim.api_url, **(config or {"api_key": sim.api_key})}
    client = NavixyClient.from_config(session, recorder.append, config, timing=timing)
    try:
        client.info = await client.connect()  # type: ignore[attr-defined]
        yield client, recorder
    finally:
        await client.close()


async def next_state(recorder: Recorder) -> DeviceUpdate:
    """The next state update (readings_batch's left out)."""
    (update,) = await first_batch(recorder, 1)
    return update


async def first_batch(recorder: Recorder, count: int) -> list[DeviceUpdate]:
    """The next `count` state updates (readings_batch's counters and sensors left out)."""
    updates: list[DeviceUpdate] = []
    while len(updates) < count:
        update = await recorder.next(DeviceUpdate)
        if not update.values or not update.values.keys() <= READINGS_FIELDS:
            updates.append(update)
    return updates


async def test_connect_with_api_key(session: aiohttp.ClientSession) -> None:
    async with (
        running(NavixySimulator(devices=3)) as sim,
        connected(session, sim) as (client, recorder),
    ):
        info = client.info  # type: ignore[attr-defined]
        assert info.unique_id == f"127.0.0.1:{sim.user_id}"
        assert info.title == "Navixy Fleet Push Test"  # the account's name, not its login
        assert (info.manufacturer, info.model) == ("Navixy", "Navixy account")
        snapshot = recorder[0]
        assert isinstance(snapshot, FleetSnapshot)
        trackers = list(sim.trackers.values())
        models = {code: (vendor, name) for code, vendor, name, _ in MODEL_CATALOGUE}
        assert snapshot.devices == tuple(
            DeviceUpdate(
                str(t.tracker_id),
                DeviceDetails(
                    name=t.label,
                    manufacturer=models[t.model][0],
                    model=models[t.model][1],
                    model_id=t.model,
                    serial=t.device_id,
                    category=Category.VEHICLE,
                    picture=f"{sim.api_url}/static/tracker/avatars/{t.avatar}"
                    if t.avatar
                    else None,
                ),
                extras={"blocked": False, "service_ends": t.tariff_end_date},
                channels=CHANNELS | {"geofence"},  # the account has geofences
            )
            for t in trackers
        )
        updates = await first_batch(recorder, 3)
        assert [u.device_id for u in updates] == [str(t.tracker_id) for t in trackers]
        gps = trackers[0].state["gps"]
        assert updates[0].position is not None
        assert updates[0].position.latitude == gps["location"]["lat"]
        assert updates[0].values[Field.ONLINE] is True
        assert updates[0].values[Field.BATTERY] == trackers[0].state["battery_level"]
        assert client.time_zone == ZoneInfo(sim.time_zone)
        subscribe = json.loads(sim.received[0])
        requests = [SUBSCRIPTION, READINGS_SUBSCRIPTION]
        assert subscribe == {"action": "subscribe", "hash": sim.api_key, "requests": requests}
        (conn,) = sim.connections
        assert conn.state["query"]["X-Atmosphere-Transport"] == "websocket"
        assert client.timing.keepalive_interval == 30.0
        assert client.stats.dropped == {}


def models_asked(sim: NavixySimulator) -> list[Any]:
    return [params.get("codes") for path, params in sim.rest_calls if path == "tracker/list_models"]


async def test_makers_and_kinds_come_from_the_models_and_the_vehicles(
    session: aiohttp.ClientSession,
) -> None:
    """list_models once per code (a code it does not know stays a code), vehicle/list each load."""
    sim = NavixySimulator(devices=0)
    for label, model, vehicle in (
        ("Truck", "telfmb120", "truck"),
        ("Bus", "telfmb120", "bus"),
        ("Crane", "queclink_gv300", "special"),
        ("Car", "telfmb920", None),
        ("Walker", "concox_gt300", None),
        ("Box", "queclink_gl300", None),
        ("Odd", "acme_x1", "boat"),
    ):
        sim.add_tracker(label, model).vehicle_type = vehicle
    async with running(sim), connected(session, sim) as (client, recorder):
        snapshot = recorder[0]
        assert isinstance(snapshot, FleetSnapshot)
        devices = {device.details.name: device for device in snapshot.devices}
        assert {name: device.details.category for name, device in devices.items()} == {
            "Truck": Category.TRUCK,
            "Bus": Category.BUS,
            "Crane": Category.VEHICLE,
            "Car": Category.VEHICLE,
            "Walker": Category.PERSONAL,
            "Box": Category.PORTABLE,
            "Odd": Category.TRACKER,
        }
        walker, odd = devices["Walker"], devices["Odd"]
        assert (walker.details.manufacturer, walker.details.model, walker.details.model_id) == (
            "Concox",
            "GT300",
            "concox_gt300",
        )
        assert (odd.details.manufacturer, odd.details.model, odd.details.model_id) == (
            None,
            None,
            "acme_x1",
        )
        codes = sorted({tracker.model for tracker in sim.trackers.values()})
        assert models_asked(sim) == [codes]

        sim.add_tracker("New", "navixy_ngp")
        await client.reload_fleet()
        await client.reload_fleet()
        assert models_asked(sim) == [codes, ["navixy_ngp"]]  # only what it never asked
        assert [path for path, _ in sim.rest_calls].count("vehicle/list") == 3
        new = recorder.of(FleetSnapshot)[-1].devices[-1]
        assert (new.details.manufacturer, new.details.model, new.details.category) == (
            "Navixy",
            "Navixy Generic Protocol",
            Category.VEHICLE,
        )


@pytest.mark.parametrize("refused", ["tracker/list_models", "vehicle/list"])
@pytest.mark.parametrize(
    "failure",
    [ApiFailure(13, "Operation not permitted", 403), ApiFailure(15, "Too many requests", 429)],
)
async def test_a_platform_that_refuses_models_or_vehicles_still_connects(
    session: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
    refused: str,
    failure: ApiFailure,
) -> None:
    """What they add is only shown: a sub-user without the right still sees the fleet."""
    sim = NavixySimulator(devices=1)
    (tracker,) = sim.trackers.values()
    tracker.vehicle_type = "truck"
    handlers = sim._handlers()

    def refuse(_body: dict[str, Any]) -> dict[str, Any]:
        raise failure

    monkeypatch.setattr(sim, "_handlers", lambda: {**handlers, refused: refuse})
    async with running(sim), connected(session, sim) as (client, recorder):
        (device,) = recorder.of(FleetSnapshot)[0].devices
        assert device.details.model_id == tracker.model
        if refused == "vehicle/list":
            assert (device.details.manufacturer, device.details.category) == (
                "Teltonika",
                Category.VEHICLE,
            )
        else:
            assert (device.details.manufacturer, device.details.category) == (None, Category.TRUCK)
            await client.reload_fleet()  # not taken as "unknown code": asked again next time
            assert models_asked(sim) == [[tracker.model]] * 2
        assert client.stats.dropped == {Drop.REQUEST_FAILED: 1 + (refused != "vehicle/list")}
        assert client.connected


async def test_replies_without_lists_are_skipped(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = NavixySimulator(devices=1)
    handlers = sim._handlers()
    odd = {
        "tracker/list_models": lambda _body: {"list": ["junk", {"code": 5}, {"vendor": "X"}]},
        "vehicle/list": lambda _body: {"list": [1, {"tracker_id": "1", "type": "truck"}]},
    }
    monkeypatch.setattr(sim, "_handlers", lambda: {**handlers, **odd})
    async with running(sim), connected(session, sim) as (client, recorder):
        (device,) = recorder.of(FleetSnapshot)[0].devices
        assert (device.details.manufacturer, device.details.model, device.details.category) == (
            None,
            None,
            Category.TRACKER,
        )
        odd["vehicle/list"] = lambda _body: {"vehicles": []}
        await client.reload_fleet()
        assert client.stats.dropped == {Drop.MALFORMED: 1}


async def test_login_and_session_reuse(session: aiohttp.ClientSession) -> None:
    async with running(NavixySimulator()) as sim:
        creds: dict[str, Any] = {"username": sim.login, "password": sim.password}
        async with connected(session, sim, **creds) as (client, _):
            (session_hash,) = sim.sessions
            await client.connect()  # reconnects with the same session: no new login
            assert sim.sessions == {session_hash}
            sim.sessions.clear()  # the session expired: log in again
            await client.connect()
            assert len(sim.sessions) == 1
            assert session_hash not in sim.sessions


@pytest.mark.parametrize(
    "config",
    [
        {"api_key": "0" * 32},
        {"api_key": "not-a-hash"},
        {"username": "fleet@example.com", "password": "wrong"},
        {"username": "fleet@example.com"},
        {"verify_ssl": True},
    ],
)
async def test_rejected_credentials(session: aiohttp.ClientSession, config: dict[str, Any]) -> None:
    async with running(NavixySimulator()) as sim:
        with pytest.raises(InvalidAuth):
            async with connected(session, sim, **config):
                pass
        assert not sim.connections


async def test_revoked_credentials(session: aiohttp.ClientSession) -> None:
    async with running(NavixySimulator()) as sim:
        sim.revoke_credentials()
        options: list[dict[str, Any]] = [
            {"api_key": sim.api_key},
            {"username": sim.login, "password": sim.password},
        ]
        for creds in options:
            with pytest.raises(InvalidAuth):
                async with connected(session, sim, **creds):
                    pass


async def test_second_factor_is_refused(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(NavixySimulator()) as sim:
        monkeypatch.setattr(
            sim, "_auth", lambda _body: {"type": "second_factor_required", "hash": "a" * 32}
        )
        with pytest.raises(InvalidAuth, match="second factor"):
            async with connected(session, sim, username=sim.login, password="x"):
                pass


async def test_subscription_rejected_over_the_socket(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(NavixySimulator()) as sim:
        monkeypatch.setattr(sim, "_check_hash", lambda _value: None)  # REST takes any hash
        with pytest.raises(InvalidAuth):
            async with connected(session, sim, api_key="0" * 32):
                pass
        assert json.loads(sim.received[0])["hash"] == "0" * 32


@pytest.mark.parametrize(
    ("patch", "error"),
    [
        ("_get_info", CannotConnect),  # code 15, rate limit
        ("_auth", CannotConnect),  # code 1, database error
        ("_list", ProtocolError),  # code 7
    ],
)
async def test_api_errors_while_connecting(
    session: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
    patch: str,
    error: type[Exception],
) -> None:
    codes = {"_get_info": 15, "_auth": 1, "_list": 7}

    def fail(_body: dict[str, Any]) -> dict[str, Any]:
        raise ApiFailure(codes[patch], "nope")

    async with running(NavixySimulator()) as sim:
        monkeypatch.setattr(sim, patch, fail)
        with pytest.raises(error):
            async with connected(session, sim, username=sim.login, password=sim.password):
                pass


@pytest.mark.parametrize(
    ("patch", "reply"),
    [
        ("_get_info", {"user_info": {"login": "x"}}),
        ("_get_info", {}),
        ("_list", {"list": {}}),
        ("_auth", {"type": "authenticated"}),
    ],
)
async def test_nonsense_answers_while_connecting(
    session: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
    patch: str,
    reply: dict[str, Any],
) -> None:
    async with running(NavixySimulator()) as sim:
        monkeypatch.setattr(sim, patch, lambda _body: reply)
        with pytest.raises(ProtocolError):
            async with connected(session, sim, username=sim.login, password=sim.password):
                pass


@pytest.mark.parametrize(
    ("settings", "zone"),
    [
        ({"settings": {"time_zone": "Mars/Olympus_Mons"}}, UTC),
        ({"settings": {"time_zone": "../etc"}}, UTC),
        ({"settings": None}, UTC),
        ({"settings": {"time_zone": "Asia/Tokyo"}}, ZoneInfo("Asia/Tokyo")),
    ],
)
async def test_time_zone(
    session: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
    settings: dict[str, Any],
    zone: Any,
) -> None:
    async with running(NavixySimulator()) as sim:
        monkeypatch.setattr(sim, "_settings", lambda _body: settings)
        async with connected(session, sim) as (client, _):
            assert client.time_zone == zone


async def test_time_zone_falls_back_when_settings_fail(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(_body: dict[str, Any]) -> dict[str, Any]:
        raise ApiFailure(11, "Access denied")

    async with running(NavixySimulator()) as sim:
        monkeypatch.setattr(sim, "_settings", fail)
        async with connected(session, sim) as (client, _):
            assert client.time_zone is UTC


async def test_subscription_refused_or_unanswered(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusal = {
        "type": "response",
        "action": "subscription/subscribe",
        "data": {"state_batch": {"value": {}, "success": False}},
    }
    async with running(NavixySimulator()) as sim:
        monkeypatch.setattr(sim, "_subscribe_reply", lambda _subs: refusal)
        with pytest.raises(ProtocolError):
            async with connected(session, sim):
                pass
        refusal = {"type": "response", "action": "subscription/subscribe"}
        with pytest.raises(ProtocolError):
            async with connected(session, sim):
                pass
        # A response to something else does not answer the subscription.
        monkeypatch.setattr(sim, "_subscribe_reply", lambda _subs: {"type": "response"})
        monkeypatch.setattr(navixy, "REQUEST_TIMEOUT", 0.2)
        with pytest.raises(CannotConnect):
            async with connected(session, sim):
                pass


async def test_socket_closed_while_subscribing(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def hang_up(conn: Any, _message: Any) -> None:
        await conn.close()

    async with running(NavixySimulator()) as sim:
        monkeypatch.setattr(sim, "_subscribe", hang_up)
        with pytest.raises(CannotConnect):
            async with connected(session, sim):
                pass


@pytest.mark.parametrize(
    ("user_info", "title"),
    [
        ({"title": "John Smith", "legal_name": "QWER Inc.", "first_name": "J"}, "John Smith"),
        ({"title": " ", "legal_name": "QWER Inc.", "first_name": "John"}, "QWER Inc."),
        ({"first_name": "John", "middle_name": "W", "last_name": "Smith"}, "John Smith"),
        ({"first_name": None, "last_name": "Smith", "title": 5}, "Smith"),
        ({"login": "demo@navixy.com", "title": ""}, "127.0.0.1"),  # never the login
        ({}, "127.0.0.1"),
    ],
)
async def test_the_hub_is_titled_by_the_accounts_name_else_the_host(
    session: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
    user_info: dict[str, Any],
    title: str,
) -> None:
    async with running(NavixySimulator()) as sim:
        reply = {"user_info": {"id": "u5", **user_info}}
        monkeypatch.setattr(sim, "_get_info", lambda _body: reply)
        async with connected(session, sim) as (client, _):
            info = client.info  # type: ignore[attr-defined]
            assert (info.unique_id, info.title) == ("127.0.0.1:u5", f"Navixy {title}")


async def test_hub_unreachable(session: aiohttp.ClientSession) -> None:
    sim = NavixySimulator()
    await sim.start()
    await sim.stop()  # the port is free again: nothing listens
    with pytest.raises(CannotConnect):
        async with connected(session, sim):
            pass


@contextlib.asynccontextmanager
async def raw_server(status: int, body: bytes) -> AsyncIterator[str]:
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/v2"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (502, b"<html>bad gateway</html>", CannotConnect),
        (429, b"slow down", CannotConnect),
        (200, b"<html>login page</html>", ProtocolError),
        (200, b"[true]", ProtocolError),
        (400, b'{"success":false}', ProtocolError),
        (400, b'{"success":false,"status":{"code":4,"description":"x"}}', InvalidAuth),
    ],
)
async def test_bad_http_answers(
    session: aiohttp.ClientSession, status: int, body: bytes, error: type[Exception]
) -> None:
    async with raw_server(status, body) as url:
        client = NavixyClient(session, print, url=url, api_key="a" * 32, verify_ssl=False)
        with pytest.raises(error):
            await client.connect()
        await client.close()


async def test_pushed_states(session: aiohttp.ClientSession) -> None:
    async with (
        running(NavixySimulator(devices=2)) as sim,
        connected(session, sim) as (_client, recorder),
    ):
        await first_batch(recorder, 2)
        first, second = sim.trackers
        sim.move(first, 52.0, 13.0, speed=40, heading=180)
        sim.move(first, 52.1, 13.1)
        sim.set_state(second, battery_level=None, gsm=None)
        update = await next_state(recorder)
        other = await next_state(recorder)
        assert update.device_id == str(first)
        assert update.position is not None
        assert (update.position.latitude, update.position.longitude) == (52.1, 13.1)
        assert (update.position.speed, update.position.heading) == (40.0, 180.0)
        assert other.device_id == str(second)
        assert other.values[Field.BATTERY] is None
        assert other.values[Field.GSM_SIGNAL] is None
        sim.set_online(second, online=False)
        update = await next_state(recorder)
        assert update.values[Field.ONLINE] is False


async def test_batches_come_at_most_once_per_rate_limit(session: aiohttp.ClientSession) -> None:
    async with (
        running(NavixySimulator(devices=1)) as sim,
        connected(session, sim) as (_client, recorder),
    ):
        await first_batch(recorder, 1)
        loop = asyncio.get_running_loop()
        (tracker,) = sim.trackers
        start = loop.time()
        sim.move(tracker, 1.0, 1.0)
        await recorder.next(DeviceUpdate)
        sim.move(tracker, 2.0, 2.0)
        await recorder.next(DeviceUpdate)
        assert loop.time() - start >= 0.9


async def test_lifecycle_over_the_socket(session: aiohttp.ClientSession) -> None:
    async with (
        running(NavixySimulator(devices=2)) as sim,
        connected(session, sim) as (client, recorder),
    ):
        await first_batch(recorder, 2)
        first, second = sim.trackers
        await sim.block(first)
        assert await recorder.next(HubNotice) == HubNotice("lifecycle", "block", str(first))
        assert await recorder.next(DeviceUpdate) == DeviceUpdate(
            str(first), extras={"blocked": True}
        )
        await sim.unblock(first)
        assert await recorder.next(HubNotice) == HubNotice("lifecycle", "unblock", str(first))
        await recorder.next(DeviceUpdate, where=lambda u: u.values != {})  # its state follows
        await sim.remove_tracker(second)
        assert await recorder.next(HubNotice) == HubNotice("lifecycle", "corrupt", str(second))
        assert await recorder.next(DeviceRemoved) == DeviceRemoved(str(second))
        new = sim.add_tracker("New car")  # its first state makes the client reload the list
        snapshot = await recorder.next(FleetSnapshot)
        assert str(new.tracker_id) in {device.device_id for device in snapshot.devices}
        update = await recorder.next(
            DeviceUpdate, where=lambda u: u.device_id == str(new.tracker_id) and u.values != {}
        )
        assert update.position is not None
        assert client.stats.dropped == {}


@pytest.mark.parametrize(
    "options",
    [
        {"wrapped": True},
        {"item_format": "compact"},
        {"omit_nulls": True, "response_success": False},
    ],
)
async def test_simulator_variants(session: aiohttp.ClientSession, options: dict[str, Any]) -> None:
    async with (
        running(NavixySimulator(devices=2, **options)) as sim,
        connected(session, sim) as (client, recorder),
    ):
        updates = await first_batch(recorder, 2)
        (tracker, _) = sim.trackers
        sim.set_state(tracker, battery_level=None)
        later = await next_state(recorder)
        assert all(u.values[Field.ONLINE] is True for u in updates)
        assert updates[0].position is not None
        if options.get("item_format") == "compact":
            assert Field.BATTERY not in later.values
        elif options.get("omit_nulls"):
            assert Field.BATTERY not in later.values
            assert Field.BATTERY in updates[0].values
        else:
            assert later.values[Field.BATTERY] is None
        assert client.stats.dropped == {}


async def test_commands(session: aiohttp.ClientSession) -> None:
    async with (
        running(NavixySimulator(devices=2)) as sim,
        connected(session, sim) as (client, recorder),
    ):
        await first_batch(recorder, 2)
        first, second = sim.trackers
        params = {"output": 2, "enable": True}
        assert await client.send_command(Command(str(first), "set_output", params, 5)) == {}
        assert sim.trackers[first].state["outputs"][1] is True
        update = await next_state(recorder)
        assert update.values[Field.OUTPUTS] == (False, True) + (False,) * 6
        lock = {"command_code": "seal", "special_settings": {}}
        reply = await client.send_command(Command(str(first), "electronic_lock_command", lock, 5))
        assert reply == {}
        assert sim.commands == [(first, {"name": "electronic_lock_command", **lock})]
        sent = [json.loads(text) for text in sim.received if text != "X"]
        assert sent == [json.loads(sim.received[0])]  # commands go over REST, not the socket

        sim.set_online(second, online=False)
        with pytest.raises(CommandFailed) as err:
            await client.send_command(Command(str(second), "set_output", params, 5))
        assert (err.value.code, str(err.value)) == (213, "Device is offline")
        with pytest.raises(CommandFailed) as err:
            await client.send_command(Command(str(second), "reboot", {}, 5))
        assert err.value.code == 213
        with pytest.raises(CommandFailed) as err:
            await client.send_command(Command(str(first), "self_destruct", {}, 5))
        assert err.value.code == 214
        with pytest.raises(CommandFailed) as err:
            await client.send_command(Command("424242", "set_output", params, 5))
        assert err.value.code == 204
        with pytest.raises(CommandFailed) as err:
            await client.send_command(
                Command(str(first), "set_output", {"output": 99, "enable": True}, 5)
            )
        assert err.value.code == 7
        await sim.block(first)
        with pytest.raises(CommandFailed) as err:
            await client.send_command(Command(str(first), "reboot", {}, 5))
        assert err.value.code == 208


@pytest.mark.parametrize(
    ("device_id", "parameters"),
    [
        ("car", {"output": 1, "enable": True}),
        ("\uff11\uff12", {"output": 1, "enable": True}),
        ("1", {"output": 0, "enable": True}),
        ("1", {"output": True, "enable": True}),
        ("1", {"output": "1", "enable": True}),
        ("1", {"output": 1, "enable": "yes"}),
        ("1", {"output": 1}),
    ],
)
async def test_invalid_commands_fail_locally(
    session: aiohttp.ClientSession, device_id: str, parameters: dict[str, Any]
) -> None:
    async with running(NavixySimulator()) as sim, connected(session, sim) as (client, _):
        with pytest.raises(CommandFailed):
            await client.send_command(Command(device_id, "set_output", parameters, 5))


async def test_command_timeout_and_bad_answers(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(NavixySimulator()) as sim, connected(session, sim) as (client, _):
        tracker = str(next(iter(sim.trackers)))
        sim.rest_delay = 0.5
        with pytest.raises(HubTimeout):
            await client.send_command(Command(tracker, "reboot", {}, 0.1))
        sim.rest_delay = 0.0
        monkeypatch.setattr(sim, "_send_command", lambda _body: {"value": [1]})
        assert await client.send_command(Command(tracker, "reboot", {}, 5)) == {"value": [1]}

    async with raw_server(200, b"nonsense") as url:
        client = NavixyClient(session, print, url=url, api_key="a" * 32)
        monkeypatch.setattr(NavixyClient, "ready", True)  # as if signed in
        with pytest.raises(CommandFailed, match="no JSON"):
            await client.send_command(Command("1", "reboot", {}, 5))


async def test_command_when_not_connected(session: aiohttp.ClientSession) -> None:
    client = NavixyClient(session, print, api_key="a" * 32)
    with pytest.raises(CannotConnect):
        await client.send_command(Command("1", "reboot", {}, 5))


async def test_connection_drop(session: aiohttp.ClientSession) -> None:
    async with running(NavixySimulator()) as sim, connected(session, sim) as (client, _):
        await sim.drop_connections()
        with pytest.raises(CannotConnect):
            await asyncio.wait_for(client.run(), 5)


SCALED = Timing(ws_heartbeat=1.0, silence_timeout=3.0)
"""The default timings scaled down (silence 1:100; pings 1:30, so a busy machine answers them)."""
SERVER_HEARTBEAT = 0.6
"""Atmosphere's default server heartbeat (60 s) at the same scale."""
QUIET = 4.0
"""Seconds a quiet fleet stays quiet: longer than every scaled client timing."""


@pytest.mark.parametrize(
    ("server_heartbeat", "answer_pings"),
    [(SERVER_HEARTBEAT, True), (None, True), (SERVER_HEARTBEAT, False)],
    ids=["vendor", "no_server_heartbeat", "no_pongs"],
)
async def test_a_quiet_fleet_stays_on_one_connection(
    session: aiohttp.ClientSession, server_heartbeat: float | None, answer_pings: bool
) -> None:
    sim = NavixySimulator(
        client_heartbeat_ms=500, server_heartbeat=server_heartbeat, answer_pings=answer_pings
    )
    async with running(sim), connected(session, sim, timing=SCALED) as (client, recorder):
        await first_batch(recorder, len(sim.trackers))
        heard = len(recorder)
        await asyncio.sleep(QUIET)  # no tracker changes: state_batch says nothing
        assert len(recorder) == heard
        assert client.connected
        assert sim.accepted == 1
        assert sim.received.count("X") >= 3  # the client heartbeat the handshake asked for


async def test_without_pongs_or_server_heartbeat_silence_is_the_last_resort(
    session: aiohttp.ClientSession,
) -> None:
    """As atmosphere.js does: a server that says nothing at all is given up after its timeout."""
    sim = NavixySimulator(server_heartbeat=None, answer_pings=False)
    async with running(sim), connected(session, sim, timing=SCALED) as (client, _):
        with pytest.raises(CannotConnect, match="silent for 3 s"):
            await asyncio.wait_for(client.run(), 10)


@pytest.mark.parametrize("answer_pings", [True, False], ids=["pongs", "no_pongs"])
async def test_a_hub_that_stops_answering_is_detected(
    session: aiohttp.ClientSession, answer_pings: bool
) -> None:
    sim = NavixySimulator(server_heartbeat=SERVER_HEARTBEAT, answer_pings=answer_pings)
    async with running(sim), connected(session, sim, timing=SCALED) as (client, recorder):
        await first_batch(recorder, len(sim.trackers))
        sim.stop_answering()  # no frames, no pongs, no heartbeats
        reason = "did not answer" if answer_pings else "silent"
        with pytest.raises(CannotConnect, match=reason):
            await asyncio.wait_for(client.run(), 10)


async def test_subscribes_only_after_a_late_handshake(session: aiohttp.ClientSession) -> None:
    sim = NavixySimulator(handshake_delay=0.5)  # the simulator drops what comes before it
    async with running(sim), connected(session, sim) as (client, recorder):
        await first_batch(recorder, len(sim.trackers))
        assert sim.too_early == []
        assert json.loads(sim.received[0])["action"] == "subscribe"
        assert client.timing.keepalive_interval == 30.0


async def test_subscribes_anyway_when_no_handshake_comes(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(navixy, "HANDSHAKE_WAIT", 0.3)
    sim = NavixySimulator(handshake_delay=None)
    async with running(sim), connected(session, sim) as (client, recorder):
        await first_batch(recorder, len(sim.trackers))
        assert client.timing.keepalive_interval is None  # nobody asked for a heartbeat
        assert client.stats.dropped == {}


async def test_no_client_heartbeat_when_the_handshake_asks_for_none(
    session: aiohttp.ClientSession,
) -> None:
    sim = NavixySimulator(client_heartbeat_ms=0)
    timing = Timing(ws_heartbeat=0.2)
    async with running(sim), connected(session, sim, timing=timing) as (client, recorder):
        await first_batch(recorder, len(sim.trackers))
        await asyncio.sleep(0.5)
        assert client.timing.keepalive_interval is None
        assert "X" not in sim.received


async def test_connection_lost_before_the_handshake(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def hang_up(conn: Any) -> None:
        await conn.close()

    async with running(NavixySimulator()) as sim:
        monkeypatch.setattr(sim, "on_connect", hang_up)
        with pytest.raises(CannotConnect):
            async with connected(session, sim):
                pass
        assert sim.received == []


async def test_subscription_reply_corrects_blocked_trackers(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocked between tracker/list and the subscription: the reply says so."""
    sim = NavixySimulator(devices=3)
    sim.zones = []  # no geofences: the blocked updates follow the snapshot at once
    first, second, third = sim.trackers
    stale = {"list": [tracker.listing() for tracker in sim.trackers.values()]}
    stale["list"][1]["source"]["blocked"] = True  # unblocked since
    monkeypatch.setattr(sim, "_list", lambda _body: stale)
    await sim.block(first)
    reply = sim._subscribe_reply

    def odd_statuses(subs: list[Any]) -> dict[str, Any]:
        answer = reply(subs)
        answer["data"]["state_batch"]["value"][str(third)] = ["normal"]
        answer["data"]["readings_batch"] = "nonsense"
        return answer

    monkeypatch.setattr(sim, "_subscribe_reply", odd_statuses)
    async with running(sim), connected(session, sim) as (_client, recorder):
        snapshot = recorder[0]
        assert isinstance(snapshot, FleetSnapshot)
        assert [d.extras["blocked"] for d in snapshot.devices] == [False, True, False]
        assert recorder[1:3] == [
            DeviceUpdate(str(first), extras={"blocked": True}),
            DeviceUpdate(str(second), extras={"blocked": False}),
        ]
        update = await recorder.next(DeviceUpdate, where=lambda u: u.values != {})
        assert update.device_id != str(first)  # blocked: Navixy sends no state


async def test_simulator_server_heartbeat_waits_for_silence(
    session: aiohttp.ClientSession,
) -> None:
    """Atmosphere writes X only after its interval without any other output."""
    sim = NavixySimulator(server_heartbeat=1.5)
    async with running(sim), session.ws_connect(sim.url) as ws:
        assert (await ws.receive_str()).endswith("|30000|X|")
        for _ in range(20):  # output every 0.1 s keeps the heartbeat away
            await sim.push({"type": "event", "event": "nothing"})
            assert json.loads(await ws.receive_str())["event"] == "nothing"
            await asyncio.sleep(0.1)
        assert await ws.receive_str(timeout=5) == "X"  # silence: the heartbeat
        assert await ws.receive_str(timeout=5) == "X"  # and again after its own silence


async def test_simulator_drops_messages_before_the_handshake(
    session: aiohttp.ClientSession,
) -> None:
    sim = NavixySimulator(handshake_delay=0.3)
    async with running(sim), session.ws_connect(sim.url) as ws:
        request = {"action": "subscribe", "hash": sim.api_key, "requests": [SUBSCRIPTION]}
        await ws.send_json(request)
        assert (await ws.receive_str()).endswith("|30000|X|")
        await ws.send_json(request)
        assert (await ws.receive_json())["type"] == "response"
        assert [json.loads(text) for text in sim.too_early] == [request]


async def test_simulator_accepts_the_documented_subscribe(
    session: aiohttp.ClientSession,
) -> None:
    """The request of the docs' WebSocket page: state_batch and readings_batch, no options."""
    async with running(NavixySimulator(devices=2)) as sim:
        first, second = sim.trackers
        sim.set_state(first, inputs=[False, False, False, True], outputs=[True])
        async with session.ws_connect(sim.url) as ws:
            await ws.receive_str()
            await ws.send_json(
                {
                    "action": "subscribe",
                    "hash": sim.api_key,
                    "requests": [
                        {"type": "state_batch", "target": {"type": "all"}},
                        {"type": "readings_batch", "target": {"type": "all"}},
                    ],
                }
            )
            reply = await ws.receive_json()
            assert reply["events"] == ["state_batch", "readings_batch"]
            statuses = {str(first): "normal", str(second): "normal"}
            assert reply["data"] == {
                "state_batch": {"value": statuses, "success": True},
                "readings_batch": {"value": statuses, "success": True},
            }
            events = {}
            for _ in range(2):
                event = await ws.receive_json()
                events[event["event"]] = event["data"]
            assert len(events["state_batch"]) == 2
            readings = events["readings_batch"][0][str(first)]
            updated = sim.trackers[first].state["inputs_update"]
            assert readings["states"][0] == {
                "field": "input_status",
                "value": 8,
                "update_time": updated,
            }
            assert readings["states"][1]["value"] == 1


async def test_simulator_fleet_ids_and_online() -> None:
    sim = NavixySimulator(devices=3)
    first, second, third = sim.trackers
    sim.set_state(second, connection_status="idle")
    sim.set_state(third, connection_status="just_registered")
    assert sim.fleet_ids() == [str(first), str(second), str(third)]
    assert [sim.is_online(device) for device in sim.fleet_ids()] == [True, True, False]


@pytest.mark.parametrize("variant", list(VARIANTS))
async def test_every_variant_connects_and_shows_online(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch, variant: str
) -> None:
    monkeypatch.setattr(navixy, "HANDSHAKE_WAIT", 1.0)  # still longer than late_handshake's
    sim = NavixySimulator(devices=4, **VARIANTS[variant])
    (_, _, _, last) = sim.trackers
    sim.set_online(last, online=False)
    async with running(sim), connected(session, sim, timing=SCALED) as (client, recorder):
        updates = await first_batch(recorder, 4)
        online = {u.device_id: u.values[Field.ONLINE] for u in updates}
        assert online == {device: sim.is_online(device) for device in sim.fleet_ids()}
        refused = {} if sim.zone_rights else {Drop.REQUEST_FAILED: 1}  # zone/list, counted
        assert client.stats.dropped == refused


def test_variants_start_with_the_vendor_and_end_with_the_least_convenient() -> None:
    names = list(VARIANTS)
    assert (names[0], VARIANTS["vendor"]) == ("vendor", {})
    assert names[-1] == "least_convenient"
    switches = {key for name in names[1:-1] for key in VARIANTS[name]}
    assert set(VARIANTS["least_convenient"]) == switches


async def test_logout_closes_the_session(session: aiohttp.ClientSession) -> None:
    async with running(NavixySimulator()) as sim:
        creds: dict[str, Any] = {"username": sim.login, "password": sim.password}
        async with connected(session, sim, **creds) as (client, _):
            (old,) = sim.sessions
            await sim.logout()
            with pytest.raises(SessionClosed):
                await asyncio.wait_for(client.run(), 5)
            await client.connect()  # logs in again: a new session, the only one
            assert len(sim.sessions) == 1
            assert old not in sim.sessions


async def test_hub_ends_the_hash(session: aiohttp.ClientSession) -> None:
    async with running(NavixySimulator()) as sim, connected(session, sim) as (client, _):
        await sim.push(
            {"type": "error", "action": "null", "status": {"code": 4, "description": "ended"}}
        )
        with pytest.raises(InvalidAuth):
            await asyncio.wait_for(client.run(), 5)


async def test_a_large_fleet_fits_one_frame(session: aiohttp.ClientSession) -> None:
    async with (
        running(NavixySimulator(devices=3000)) as sim,
        connected(session, sim) as (client, recorder),
    ):
        await first_batch(recorder, 3000)
        trackers = list(sim.trackers.values())
        batch = json.dumps(
            {
                "type": "event",
                "event": "state_batch",
                "data": [sim.item(t, compact=False) for t in trackers],
            }
        )
        assert len(batch) > 1024 * 1024
        assert len(batch) * 10 < client.max_msg_size
        assert client.stats.dropped == {}


# --- the simulator itself ---


async def test_simulator_drives_the_fleet() -> None:
    sim = NavixySimulator(devices=5, seed=7)
    before = {t: dict(sim.trackers[t].state["gps"]["location"]) for t in sim.trackers}
    for _ in range(60):
        await sim.tick()
    states = [t.state for t in sim.trackers.values()]
    moved = [t for t in sim.trackers if sim.trackers[t].state["gps"]["location"] != before[t]]
    assert moved
    assert all(-90 <= s["gps"]["location"]["lat"] <= 90 for s in states)
    statuses = {s["connection_status"] for s in states} | {s["movement_status"] for s in states}
    assert statuses <= {"active", "idle", "offline", "signal_lost", "moving", "parked"}


async def test_simulator_event_rate_pushes_batches(session: aiohttp.ClientSession) -> None:
    async with (
        running(NavixySimulator(devices=2, event_rate=20)) as sim,
        connected(session, sim) as (client, recorder),
    ):
        await first_batch(recorder, 2)
        await recorder.next(DeviceUpdate, timeout=3)
        assert client.stats.dropped == {}


async def test_simulator_rest_and_socket_edges(session: aiohttp.ClientSession) -> None:
    async with running(NavixySimulator(devices=2)) as sim:
        tracker = next(iter(sim.trackers))
        url = sim.api_url
        async with session.get(
            f"{url}/tracker/get_state", params={"hash": sim.api_key, "tracker_id": str(tracker)}
        ) as response:
            reply = await response.json()
        assert reply["success"] is True
        assert reply["state"]["source_id"] == sim.trackers[tracker].source_id
        async with session.post(f"{url}/nope", json={"hash": sim.api_key}) as response:
            assert response.status == 404
        async with session.post(f"{url}/tracker/list", data=b"[") as response:
            assert (await response.json())["status"]["code"] == 7
        async with session.post(f"{url}/tracker/list", json=[1]) as response:
            assert (await response.json())["status"]["code"] == 7
        body = {"hash": sim.api_key, "tracker_id": tracker, "command": "reboot"}
        async with session.post(f"{url}/tracker/send_command", json=body) as response:
            assert (await response.json())["status"]["code"] == 7
        body = {"hash": sim.api_key, "tracker_id": tracker, "output": 1, "enable": 1}
        async with session.post(f"{url}/tracker/output/set", json=body) as response:
            assert (await response.json())["status"]["code"] == 7

        async with session.ws_connect(sim.url) as ws:
            handshake = await ws.receive_str()
            assert handshake.endswith("|30000|X|")
            await ws.send_str("X")
            await ws.send_str("hello")
            assert (await ws.receive_json())["action"] == "null"
            legacy = {
                "action": "subscribe",
                "hash": sim.api_key,
                "events": ["state"],
                "trackers": [tracker, 5],
            }
            await ws.send_json(legacy)
            reply = await ws.receive_json()
            assert reply["data"]["state"]["value"] == {str(tracker): "normal", "5": "unknown"}
            state = await ws.receive_json()
            assert (state["event"], state["data"]["source_id"]) == (
                "state",
                sim.trackers[tracker].source_id,
            )
            for bad in (
                {"events": "state"},
                {"requests": "all"},
                {"requests": [{"type": "iot_monitor"}]},
                {"requests": [{"type": "state_batch", "target": {"type": "some"}}]},
                {
                    "requests": [
                        {"type": "state_batch", "target": {"type": "all"}, "rate_limit": "soon"}
                    ]
                },
            ):
                await ws.send_json({"action": "subscribe", "hash": sim.api_key, **bad})
                assert (await ws.receive_json())["status"]["code"] == 7
            selected = {
                "type": "state_batch",
                "target": {"type": "selected", "tracker_ids": [tracker]},
            }
            await ws.send_json({"action": "subscribe", "hash": sim.api_key, "requests": [selected]})
            assert (await ws.receive_json())["type"] == "response"
            assert len((await ws.receive_json())["data"]) == 1
            await ws.send_json({"action": "unsubscribe", "requests": [{"type": "state"}]})
            reply = await ws.receive_json()
            assert (reply["action"], reply["events"]) == ("subscription/unsubscribe", ["state"])
            await sim.logout()
            assert (await ws.receive_json())["event"] == "logout"


async def test_simulator_blocked_tracker_status(session: aiohttp.ClientSession) -> None:
    async with running(NavixySimulator(devices=2)) as sim:
        first, second = sim.trackers
        await sim.block(first)
        async with session.ws_connect(sim.url) as ws:
            await ws.receive_str()
            request = {"type": "state_batch", "target": {"type": "all"}, "rate_limit": "500ms"}
            await ws.send_json({"action": "subscribe", "hash": sim.api_key, "requests": [request]})
            reply = await ws.receive_json()
            assert reply["data"]["state_batch"]["value"] == {
                str(first): "blocked",
                str(second): "normal",
            }
            batch = await ws.receive_json()
            assert [item["source_id"] for item in batch["data"]] == [sim.trackers[second].source_id]
            sim.set_state(first, battery_level=5)  # blocked: nothing is sent
            await asyncio.sleep(0.6)
            sim.set_state(second, battery_level=5)
            batch = await ws.receive_json()
            assert [item["source_id"] for item in batch["data"]] == [sim.trackers[second].source_id]
