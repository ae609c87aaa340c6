"""TFT IoT client: vendor samples, hostile frames, and the simulator over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
import itertools
import json
import logging
from pathlib import Path
import socket
from typing import Any
from unittest.mock import patch

import aiohttp
import pytest

from custom_components.fleet_push.hubs import client_class, frames, tftiot
from custom_components.fleet_push.hubs.connection import Drop, Timing, cancel_and_wait
from custom_components.fleet_push.hubs.errors import (
    CannotConnect,
    CommandCode,
    CommandFailed,
    HubError,
    HubTimeout,
    InvalidAuth,
    SessionClosed,
)
from custom_components.fleet_push.hubs.model import (
    Command,
    DeviceUpdate,
    Field,
    FleetSnapshot,
    HubInfo,
    HubNotice,
    HubUpdate,
    Position,
)
from custom_components.fleet_push.hubs.tftiot import TftIotClient, decode_frame
from tests.hubs.recorder import Recorder
from tests.simulator import simulator_class
from tests.simulator.tftiot import (
    ERROR_DEVICE_OFFLINE,
    ERROR_UNKNOWN_DEVICE,
    VARIANTS,
    TftIotSimulator,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "tftiot"
IMEI = "1000000000112567"
SIGNIN_WAIT = 0.2
"""The client's wait for a refusal of its sign-in, scaled down."""
FAST = Timing(keepalive_interval=0.1, ws_heartbeat=0.1)
"""The default timings scaled down: "ping" and a WebSocket ping every 0.1 s."""
QUIET = 0.6
"""A quiet spell longer than every client timing above (and any watchdog they make)."""


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def between_typographic_quotes(line: str) -> str:
    """The vendor prints sign-in frames as “{…}”: the frame is the text inside."""
    line = line.strip()
    assert line[0] == "\u201c"
    assert line[-1] == "\u201d"
    return line[1:-1]


def snapshot_frame() -> str:
    """The snapshot sample made a whole frame: outer braces, and the status and data objects
    (cut off after `version: "",`) closed before the top-level `error: 0,`."""
    sample = fixture_text("snapshot.txt")
    return "{\n" + sample.replace("    error: 0,", "    }},\n    error: 0,") + "}"


def message_frame() -> str:
    """The messagePass sample made a whole frame: outer braces, and the placeholder `object`
    of `alarm_msg` written as an (empty) object."""
    sample = fixture_text("message_pass.txt")
    return "{\n" + sample.replace("alarm_msg: object,", "alarm_msg: {},") + "}"


def offline_client(recorder: Recorder | None = None) -> TftIotClient:
    """A client fed by hand (no socket): handle_text straight into a recorder."""
    return TftIotClient.from_config(
        None,  # type: ignore[arg-type]
        (recorder if recorder is not None else Recorder()).append,
        {"username": "100861", "password": tftiot.md5_password("secret")},
    )


def snapshot(status: dict[str, Any], **data: Any) -> str:
    return json.dumps({"event": "snapshot", "data": {"imei": IMEI, **data, "status": status}})


# --- vendor samples ---


async def test_signin_sample_is_what_the_client_sends() -> None:
    frame = decode_frame(between_typographic_quotes(fixture_text("signin.txt")))
    assert frame == {"token": "userId", "md5-password": "md5-password", "event": "signin"}


async def test_regist_user_message_sample_parses() -> None:
    frame = decode_frame(between_typographic_quotes(fixture_text("regist_user_message.txt")))
    assert frame == {
        "user_id": "userId",
        "md5-password": "md5-password",
        "type": "registUserMessage",
    }


async def test_snapshot_sample() -> None:
    recorder = Recorder()
    client = offline_client(recorder)
    client.handle_text(snapshot_frame())
    assert not client.stats.dropped
    (update,) = recorder
    assert isinstance(update, DeviceUpdate)
    assert update.device_id == IMEI  # data.imei, not status.imei (which differs in the sample)
    assert update.details.name == IMEI
    assert update.details.manufacturer == "TFT IoT"
    assert update.details.model == "T1"
    assert update.details.serial == IMEI
    assert update.channels == frozenset({"alarm", "accessory", "trip"})
    assert update.values == {
        Field.ONLINE: True,
        Field.IGNITION: True,
        Field.BATTERY: 100,
        Field.BATTERY_VOLTAGE: 4.24,
        Field.EXTERNAL_VOLTAGE: 28.09,
        Field.SPEED: 0,
        Field.SATELLITES: 11,
        Field.GSM_SIGNAL: None,  # -999: no signal figure
        Field.MILEAGE: 145278.016,
        Field.INPUTS: (False, False, True, False, False, False, False, False),
        Field.OUTPUTS: (False,) * 8,
        Field.ENGINE_HOURS: 13057434 / 3600,  # seconds: 3,627 h
        Field.FUEL: 0,
        Field.ANTI_THEFT: False,
        Field.RELAY: False,
        Field.EXTERNAL_BATTERY_LOW: False,
        Field.ADDRESS: None,  # "": no address given
    }
    assert update.position == Position(
        latitude=14.824593,
        longitude=120.482598,
        time=datetime(2021, 7, 31, 1, 8, 2, tzinfo=UTC),
        speed=0,
        heading=143,
        altitude=42,
    )
    assert update.extras == {
        "relay": 0,
        "link_type": "tcp",
        "inputs": "1:0|2:0|3:1|4:0|5:0|6:0|7:0|8:0",
        "outputs": "1:0|2:0|3:0|4:0|5:0|6:0|7:0|8:0",
    }


async def test_message_pass_sample() -> None:
    recorder = Recorder()
    client = offline_client(recorder)
    client.handle_text(message_frame())
    assert not client.stats.dropped
    assert recorder == [
        HubNotice(
            "message",
            "message",
            "",
            {"message": "message", "from_id": 0, "from_name": "name"},
        )
    ]


async def test_every_fixture_is_used() -> None:
    assert sorted(p.name for p in FIXTURES.iterdir()) == [
        "message_pass.txt",
        "regist_user_message.txt",
        "signin.txt",
        "snapshot.txt",
    ]


# --- parsing ---


async def test_helpers_and_config() -> None:
    assert tftiot.md5_password("password") == "5f4dcc3b5aa765d61d8327deb882cf99"
    assert TftIotClient.normalize_config({"username": "1", "password": "password"}) == {
        "username": "1",
        "password": "5f4dcc3b5aa765d61d8327deb882cf99",
    }
    assert TftIotClient.normalize_config({"username": "1"}) == {"username": "1"}
    assert tftiot.rest_base(tftiot.DEFAULT_URL) == "https://openapi.tftiot.com/v2"
    assert tftiot.rest_base("ws://127.0.0.1:8080/websocket") == "http://127.0.0.1:8080/v2"
    assert tftiot.rest_base("wss://[::1]:8443/websocket") == "https://[::1]/v2"
    client = offline_client()
    assert client.account.url == tftiot.DEFAULT_URL
    assert client.account.verify_ssl is True
    assert client.rest_url == "https://openapi.tftiot.com/v2"
    assert client.info == HubInfo(
        unique_id="openapi.tftiot.com:100861",
        title="TFT IoT 100861",
        manufacturer="TFT IoT",
        model=None,
    )
    # "ping" every minute as the vendor asks; WebSocket pings judge liveness; no silence limit
    assert client.timing == Timing(keepalive_interval=60.0, ws_heartbeat=30.0)
    assert client.keepalive_text == "ping"
    assert client.messages.timing is client.timing
    assert client.messages.keepalive_text == "ping"
    assert client.messages.stats.dropped is client.stats.dropped
    assert client_class("tftiot") is TftIotClient
    assert simulator_class("tftiot") is TftIotSimulator


async def test_status_values_edge_cases() -> None:
    recorder = Recorder()
    client = offline_client(recorder)
    status = {
        "online": 0,
        "acc": -1,
        "battery_voltage_percent": "full",
        "network_signal": 23,
        "mileage": None,
        "input": "1:1|x",
        "output": "",
        "relay": True,
        "lat": 14.8,
        "lng": 120.4,
        "latlng_valid": 0,
    }
    client.handle_text(snapshot(status, model=5))
    client.handle_text(snapshot({"latlng_valid": 1, "lat": 91.0, "lng": 1.0}))
    client.handle_text(snapshot({"latlng_valid": 1, "lat": "1", "lng": 1.0}))
    client.handle_text(
        snapshot({"latlng_valid": 1, "lat": -1.5, "lng": 2, "location_date": 10**20, "speed": "?"})
    )
    client.handle_text(json.dumps({"event": "snapshot", "data": {"imei": 42, "status": []}}))
    first, high, text, fix, numeric = recorder
    assert first.values == {
        Field.ONLINE: False,
        Field.IGNITION: None,
        Field.BATTERY: None,
        Field.GSM_SIGNAL: 74,  # 23 of the modem scale 0-31
        Field.MILEAGE: None,
        Field.INPUTS: None,
        Field.OUTPUTS: None,
        Field.RELAY: True,
    }
    assert first.position is None
    assert first.details.model is None
    assert first.extras == {"inputs": "1:1|x", "outputs": ""}  # raw strings, as reported
    assert high.position is None
    assert text.position is None
    assert fix.position == Position(latitude=-1.5, longitude=2.0, altitude=None)
    assert numeric.device_id == "42"
    assert numeric.values == {}
    assert not client.stats.dropped


async def test_json_inside_a_json_string() -> None:
    recorder = Recorder()
    client = offline_client(recorder)
    client.handle_text(json.dumps(snapshot({"online": 1})))
    assert recorder[0].values == {Field.ONLINE: True}


async def test_alarms_from_snapshots() -> None:
    recorder = Recorder()
    client = offline_client(recorder)
    for number in (0, 5, 5, 0, 7):
        client.handle_text(snapshot({"cur_event": number, "date": 1627693682000}))
    client.handle_text(snapshot({"cur_event": "9"}))
    client.handle_text(snapshot({"cur_event": 8}))
    date = "2021-07-31T01:08:02+00:00"
    assert recorder.of(HubNotice) == [
        HubNotice("alarm", "alarm", IMEI, {"number": 5, "message": None, "date": date}),
        HubNotice("alarm", "alarm", IMEI, {"number": 7, "message": None, "date": date}),
        HubNotice("alarm", "alarm", IMEI, {"number": 8, "message": None}),
    ]
    assert len(recorder.of(DeviceUpdate)) == 7


async def test_message_channel() -> None:
    recorder = Recorder()
    client = offline_client(recorder)
    alarm = {
        "type": "messagePass",
        "from_id": 1,
        "from_name": "Alarm",
        "message": "SOS",
        "alarm_msg": {"imei": IMEI, "cur_event": 3},
        "date": 1627693682000,
    }
    client.handle_text(json.dumps(alarm))
    client.handle_text(json.dumps({**alarm, "alarm_msg": {"event": 4}, "date": 0}))
    client.handle_text(json.dumps({**alarm, "alarm_msg": "?"}))
    client.handle_text(json.dumps({**alarm, "from_id": {"x": 1}, "message": 5, "date": -1}))
    client.handle_text(json.dumps({"type": "getFileShake", "file": "a.bin", "size": 3, "x": {}}))
    client.handle_text(json.dumps({"type": "downloadAllow", "file": "a.bin"}))
    client.handle_text(json.dumps({"type": "registUserMessage", "error": 0}))
    date = "2021-07-31T01:08:02+00:00"
    assert recorder == [
        HubNotice("alarm", "alarm", IMEI, {"number": 3, "message": "SOS", "date": date}),
        HubNotice("alarm", "alarm", "", {"number": 4, "message": "SOS"}),
        HubNotice("alarm", "alarm", "", {"number": None, "message": "SOS", "date": date}),
        HubNotice(
            "message", "message", "", {"message": None, "from_id": None, "from_name": "Alarm"}
        ),
        HubNotice("message", "file_shake", "", {"file": "a.bin", "size": 3}),
        HubNotice("message", "download_allow", "", {"file": "a.bin"}),
    ]
    assert not client.stats.dropped


async def test_accessory_events_are_notices_of_their_tracker() -> None:
    recorder = Recorder()
    client = offline_client(recorder)
    names = ("bleTire", "rs232Tire", "driver", "obdErrorInfo", "rs232Fuel")
    types = ("ble_tire", "rs232_tire", "driver", "obd_error", "rs232_fuel")
    for name in names:
        data = {"imei": IMEI, "value": 7, "detail": {"text": "x" * 300, "list": [1]}}
        client.handle_text(json.dumps({"event": name, "data": data, "error": 0}))
    client.handle_text("pong")
    client.handle_text("ping\n")
    assert recorder == [
        HubNotice(
            "accessory",
            event_type,
            device_id=IMEI,
            attributes={"value": 7, "detail_text": "x" * 256},  # texts cut, lists left out
        )
        for event_type in types
    ]
    assert not client.stats.dropped


async def test_accessory_events_without_tracker_or_values_are_dropped() -> None:
    recorder = Recorder()
    client = offline_client(recorder)
    client.handle_text(json.dumps({"event": "driver", "data": {"imei": IMEI}, "error": 0}))
    client.handle_text(json.dumps({"event": "driver", "data": {"name": "A"}, "error": 0}))
    client.handle_text(json.dumps({"event": "bleTire", "data": [1], "error": 0}))
    assert recorder == []
    assert client.stats.dropped == {Drop.MALFORMED: 3}


async def test_hostile_frames_are_dropped() -> None:
    recorder = Recorder()
    client = offline_client(recorder)
    for text in (
        "garbage{",
        "[1, 2]",
        '{"event": "weird"}',
        '{"event": 5}',
        '{"type": "weird"}',
        '{"foo": 1}',
        '{"event": "snapshot", "data": {"model": "T1"}}',
        '{"event": "snapshot", "data": []}',
        '{"event": "snapshot", "error": 3, "data": {"imei": "1"}}',
        '{"event": "snapshot", "error": "E3", "data": {"imei": "1"}}',
        '{"error": 1001, "message": "nobody signs in now"}',
        '{"type": "registUserMessage", "error": 1001}',
    ):
        client.handle_text(text)
    assert recorder == []
    assert client.stats.dropped == {
        Drop.NOT_JSON: 1,
        Drop.NOT_OBJECT: 1,
        Drop.UNKNOWN_KIND: 2,
        Drop.MALFORMED: 5,
        Drop.HUB_ERROR: 3,
    }


async def test_a_long_frame_is_never_read_as_a_literal() -> None:
    """The lenient decoder's regular expressions are quadratic on some hostile text: only
    frames up to LENIENT_LIMIT characters, the size of the vendor's samples, are tried."""
    client = offline_client()
    hostile = "{a: 1," + ", // x" * 20000 + " " * 200000 + "z"
    with patch.object(frames, "decode_lenient", wraps=frames.decode_lenient) as lenient:
        client.handle_text(hostile)
        assert not lenient.called
        client.handle_text(hostile[: tftiot.LENIENT_LIMIT])
        assert lenient.called  # the same text, short enough to try
    assert client.stats.dropped == {Drop.NOT_JSON: 2}


SIGNIN_SUCCESS = [
    '{"event": "signin", "error": 0}',
    '{"event": "signin", "error": "0"}',
    '{"event": "signin"}',  # the sign-in frame echoed back: no error, so no refusal
    '{"event": "signin", "error": null}',
    '{"event": "snapshot", "data": {"imei": "1"}, "error": 0}',
    '{"type": "messagePass", "from_id": 0, "message": "hi"}',
    '{"event": "driver", "data": {}}',
    '{"hello": 1}',
]


@pytest.mark.parametrize("frame", SIGNIN_SUCCESS)
async def test_any_frame_without_an_error_signs_in(frame: str) -> None:
    client = offline_client()
    with client.awaiting("signin") as future:
        client.handle_text(frame)
        assert future.done()
        assert not future.exception()


@pytest.mark.parametrize(
    "frame",
    ["pong", "ping", '{"event": "snapshot", "error": 1001}', '{"type": "x", "error": 1001}'],
)
async def test_frames_that_do_not_settle_the_sign_in(frame: str) -> None:
    client = offline_client()
    with client.awaiting("signin") as future:
        client.handle_text(frame)
        assert not future.done()


async def test_sign_in_refusals() -> None:
    client = offline_client()
    md5 = tftiot.md5_password("secret")
    for reply, text in (
        (
            '{"event": "signin", "error": 1001, "message": "password error"}',
            "TFT IoT refused the sign-in (error 1001): password error",
        ),
        ('{"event": "signin", "error": 1001}', "TFT IoT refused the sign-in (error 1001)"),
        ('{"event": "signin", "error": "bad"}', "TFT IoT refused the sign-in (error bad)"),
        (  # a bare error frame answers the only question asked: the sign-in
            '{"error": 7, "message": "no such user"}',
            "TFT IoT refused the sign-in (error 7): no such user",
        ),
        (  # the hub quoting our credentials back: they stay out of the error
            json.dumps({"event": "signin", "error": 1, "message": f"md5 {md5.upper()} wrong"}),
            "TFT IoT refused the sign-in (error 1): md5 **REDACTED** wrong",
        ),
        (
            json.dumps({"event": "signin", "error": 1, "message": f"got md5-password={md5}"}),
            "TFT IoT refused the sign-in (error 1): got md5-password=**REDACTED**",
        ),
    ):
        with client.awaiting("signin") as future:
            client.handle_text(reply)
            with pytest.raises(InvalidAuth) as caught:
                future.result()
        assert str(caught.value) == text
    assert not client.stats.dropped


async def test_unasked_sign_in_error_ends_the_session() -> None:
    client = offline_client()
    client.handle_text('{"event": "signin", "error": 0}')  # nobody waits: nothing happens
    client.handle_text('{"error": 1003}')  # a bare error nobody asked for: skipped
    assert client.stats.dropped == {Drop.MALFORMED: 1}
    md5 = tftiot.md5_password("secret")
    with pytest.raises(SessionClosed) as caught:
        client.handle_text(
            json.dumps({"event": "signin", "error": 1003, "message": f"{md5} elsewhere"})
        )
    assert str(caught.value) == "TFT IoT ended the session (error 1003): **REDACTED** elsewhere"


# --- against the simulator ---


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncIterator[TftIotSimulator]:
    simulator = TftIotSimulator(devices=3)
    async with simulator:
        yield simulator


type Factory = Callable[..., Awaitable[tuple[TftIotClient, Recorder]]]


@pytest.fixture
async def make_client(sim: TftIotSimulator) -> AsyncIterator[Factory]:
    """Build clients on one session; connect unless told not to; close all at the end."""
    clients: list[TftIotClient] = []
    async with aiohttp.ClientSession() as session:

        async def make(
            *, connect: bool = True, timing: Timing | None = None, **config: Any
        ) -> tuple[TftIotClient, Recorder]:
            recorder = Recorder()
            client = TftIotClient.from_config(
                session, recorder.append, {**sim.config(), **config}, timing=timing
            )
            client.signin_wait = SIGNIN_WAIT  # a refusal on loopback takes milliseconds
            clients.append(client)
            if connect:
                await client.connect()
            return client, recorder

        try:
            yield make
        finally:
            for client in clients:
                await client.close()


def fast_client(
    sim: TftIotSimulator, session: aiohttp.ClientSession, **config: Any
) -> tuple[TftIotClient, Recorder]:
    recorder = Recorder()
    client = TftIotClient.from_config(
        session, recorder.append, {**sim.config(), **config}, timing=replace(FAST)
    )
    client.signin_wait = SIGNIN_WAIT
    return client, recorder


async def until(condition: Callable[[], object]) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.01)


async def test_connect_loads_the_fleet(sim: TftIotSimulator, make_client: Factory) -> None:
    client, recorder = await make_client(connect=False)
    info = await client.connect()
    assert info.unique_id == f"127.0.0.1:{sim.user_id}"
    fleet = recorder[0]
    assert isinstance(fleet, FleetSnapshot)
    assert {d.device_id: d.details.name for d in fleet.devices} == {
        imei: tracker.name for imei, tracker in sim.trackers.items()
    }
    assert recorder[1] == HubUpdate(channels=frozenset({"alarm", "message"}))
    # the snapshots pushed during the sign-in follow the list
    assert [m.device_id for m in recorder[2:]] == list(sim.trackers)  # type: ignore[union-attr]
    assert all(m.details.name == sim.trackers[m.device_id].name for m in recorder.of(DeviceUpdate))
    signin, regist = (json.loads(text) for text in sim.received[:2])
    assert signin == {"token": sim.user_id, "md5-password": sim.password_md5, "event": "signin"}
    assert regist == {
        "user_id": sim.user_id,
        "md5-password": sim.password_md5,
        "type": "registUserMessage",
    }
    assert client.connected
    assert not client.stats.dropped


async def test_fleet_from_snapshots_without_rest(
    sim: TftIotSimulator, make_client: Factory
) -> None:
    sim.rest_enabled = False
    client, recorder = await make_client(connect=False)
    client.snapshot_window = 0.2
    await client.connect()
    fleet = recorder[0]
    assert isinstance(fleet, FleetSnapshot)
    assert [d.device_id for d in fleet.devices] == list(sim.trackers)
    assert all(d.details.name == d.device_id for d in fleet.devices)
    assert recorder[1:] == [HubUpdate(channels=frozenset({"alarm", "message"}))]


async def test_refresh_without_rest_changes_nothing(
    sim: TftIotSimulator, make_client: Factory
) -> None:
    client, recorder = await make_client()
    recorder.skip()
    sim.rest_enabled = False
    await client.reload_fleet()
    assert recorder[recorder.seen :] == []


async def test_fleet_when_rest_is_unreachable(sim: TftIotSimulator, make_client: Factory) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sim.snapshot_on_signin = False
    client, recorder = await make_client(connect=False, rest_url=f"http://127.0.0.1:{port}/v2")
    client.snapshot_window = 0.05
    await client.connect()
    assert recorder[0] == FleetSnapshot((), complete=False)  # only what reported: remove none
    with pytest.raises(CannotConnect, match="REST"):
        await client.send_command(Command(next(iter(sim.trackers)), "RELAY,1#", {}, 5))


async def test_rest_device_list_without_devices(
    sim: TftIotSimulator, make_client: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_list(*args: Any) -> dict[str, Any]:
        return {"code": 0, "access-token": "t", "keep-time": "long"}

    sim.snapshot_on_signin = False
    client, recorder = await make_client(connect=False)
    client.snapshot_window = 0.05
    monkeypatch.setattr(client, "_rest_call", no_list)
    await client.connect()
    assert recorder[0] == FleetSnapshot((), complete=False)  # only what reported: remove none


async def test_connection_lost_while_gathering(sim: TftIotSimulator, make_client: Factory) -> None:
    sim.rest_enabled = False
    client, _ = await make_client(connect=False)
    client.snapshot_window = 0.3

    async def drop_soon() -> None:
        await asyncio.sleep(0.1)
        await sim.drop_connections()

    dropper = asyncio.create_task(drop_soon())
    with pytest.raises(CannotConnect):
        await client.connect()
    await dropper
    assert not client.connected


async def test_pushed_events(sim: TftIotSimulator, make_client: Factory) -> None:
    client, recorder = await make_client()
    recorder.seen = len(recorder)
    first = next(iter(sim.trackers))
    await sim.set_online(first, False)
    update = await recorder.next(DeviceUpdate)
    assert (update.device_id, update.values[Field.ONLINE]) == (first, False)

    await sim.alarm(first, 12, "Overspeed")
    notice = await recorder.next(HubNotice)
    assert (notice.channel, notice.event_type, notice.device_id) == ("alarm", "alarm", first)
    assert notice.attributes["number"] == 12
    assert notice.attributes["message"] == "Overspeed"

    await sim.set_cur_event(first, 6)
    assert (await recorder.next(HubNotice)).attributes["number"] == 6

    await sim.send_message("Maintenance tonight")
    notice = await recorder.next(HubNotice)
    assert (notice.channel, notice.event_type) == ("message", "message")
    assert notice.attributes["message"] == "Maintenance tonight"

    imei = await sim.add_device(name="Van")
    update = await recorder.next(DeviceUpdate)
    assert update.device_id == imei
    assert update.details.name == imei  # names come from the REST list, loaded at connect

    await sim.tick()
    assert (await recorder.next(DeviceUpdate)).device_id in sim.trackers
    await sim.remove_device(imei)
    assert imei not in sim.trackers
    assert not client.stats.dropped


async def test_tick_moves_and_sometimes_loses_the_fix() -> None:
    simulator = TftIotSimulator(devices=2, seed=3)
    tracker = next(iter(simulator.trackers.values()))
    tracker.online = True
    start = (tracker.lat, tracker.lng, tracker.mileage)
    fixes = set()
    for _ in range(100):
        await simulator.tick()
        fixes.add(tracker.valid)
    assert fixes == {True, False}
    assert (tracker.lat, tracker.lng, tracker.mileage) != start


async def test_wrong_password(sim: TftIotSimulator, make_client: Factory) -> None:
    client, _ = await make_client(connect=False, password=tftiot.md5_password("wrong"))
    with pytest.raises(InvalidAuth, match="error 1001"):
        await client.connect()
    assert not client.connected


async def test_revoked_credentials(sim: TftIotSimulator, make_client: Factory) -> None:
    sim.revoke_credentials()
    client, _ = await make_client(connect=False)
    with pytest.raises(InvalidAuth):
        await client.connect()


async def test_a_sign_in_nobody_refuses_succeeds(
    sim: TftIotSimulator, make_client: Factory
) -> None:
    """No reply and no snapshot: after signin_wait without a refusal, the client is in."""
    sim.snapshot_on_signin = False
    client, recorder = await make_client(connect=False)
    await client.connect()
    assert client.connected
    assert isinstance(recorder[0], FleetSnapshot)
    assert len(recorder[0].devices) == len(sim.trackers)


async def test_commands(sim: TftIotSimulator, make_client: Factory) -> None:
    client, recorder = await make_client()
    recorder.seen = len(recorder)
    imei = next(imei for imei, tracker in sim.trackers.items() if tracker.online)
    reply = await client.send_command(Command(imei, "RELAY,1#", {}, 5))
    assert reply == {"code": 0, "msg": "ok", "cmd_id": 1}
    assert sim.commands == [{"imeis": [imei], "message": "RELAY,1#"}]
    update = await recorder.next(DeviceUpdate)
    assert update.extras["relay"] == 1

    sim.trackers[imei].online = False
    with pytest.raises(CommandFailed) as caught:
        await client.send_command(Command(imei, "RELAY,0#", {}, 5))
    assert caught.value.code == ERROR_DEVICE_OFFLINE
    with pytest.raises(CommandFailed) as caught:
        await client.send_command(Command("999", "WHERE#", {}, 5))
    assert caught.value.code == ERROR_UNKNOWN_DEVICE
    assert str(caught.value) == "TFT IoT: device 999 not found"
    with pytest.raises(CommandFailed) as caught:
        await client.send_command(Command(imei, "WHERE#", {"delay": 5}, 5))
    assert caught.value.code == CommandCode.BAD_PARAMETERS
    with pytest.raises(CommandFailed) as caught:
        await client.send_command(Command(imei, "", {}, 5))
    assert caught.value.code == CommandCode.BAD_COMMAND
    assert len(sim.commands) == 1


async def test_command_token_handling(sim: TftIotSimulator, make_client: Factory) -> None:
    client, _ = await make_client()
    imei = next(imei for imei, tracker in sim.trackers.items() if tracker.online)
    sim.expire_tokens()
    with pytest.raises(CommandFailed) as caught:  # never retried, even with a stale token
        await client.send_command(Command(imei, "WHERE#", {}, 5))
    assert caught.value.code == 1002
    # A look inside: a token past its keep-time (hours) is renewed first; the test moves the
    # client's own clock for it rather than wait.
    client._token_expires = 0
    assert (await client.send_command(Command(imei, "WHERE#", {}, 5)))["code"] == 0
    client._token_expires = 0
    sim.revoke_credentials()
    with pytest.raises(CommandFailed) as caught:
        await client.send_command(Command(imei, "WHERE#", {}, 5))
    assert caught.value.code == 1001


async def test_command_failures_of_the_rest_api(
    sim: TftIotSimulator, make_client: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = await make_client()
    imei = next(imei for imei, tracker in sim.trackers.items() if tracker.online)
    sim.rest_delay = 0.5
    with pytest.raises(HubTimeout):
        await client.send_command(Command(imei, "WHERE#", {}, 0.1))
    sim.rest_delay = 0
    sim.rest_enabled = False
    with pytest.raises(CommandFailed) as caught:
        await client.send_command(Command(imei, "WHERE#", {}, 5))
    assert caught.value.code == 503

    async def tokenless(*args: Any) -> dict[str, Any]:
        return {"code": 0}

    client._token = None  # a look inside: sign in to REST again, and get no token
    monkeypatch.setattr(client, "_rest_call", tokenless)
    with pytest.raises(CommandFailed) as caught:
        await client.send_command(Command(imei, "WHERE#", {}, 5))
    assert caught.value.code == CommandCode.BAD_REPLY


async def test_command_refusal_codes_are_kept(make_client: Factory) -> None:
    """A look inside: codes the simulator has no reason to send, into the reply check."""
    client, _ = await make_client()
    with pytest.raises(CommandFailed) as caught:
        client._ok({"code": "E12", "msg": ""})
    assert (caught.value.code, str(caught.value)) == ("E12", "TFT IoT: request refused")
    with pytest.raises(CommandFailed, match="TFT IoT: request refused"):
        client._ok({"code": 3})
    await client.close()
    with pytest.raises(CannotConnect):
        await client.send_command(Command("1", "WHERE#", {}, 5))


async def test_keepalive_ping(sim: TftIotSimulator, make_client: Factory) -> None:
    sim.pong = True
    client, _ = await make_client(timing=Timing(keepalive_interval=0.05))
    await until(lambda: sim.received.count("ping") >= 4)  # on both sockets
    assert client.connected
    assert not client.stats.dropped  # the "pong" replies are ignored


async def test_connection_drop(sim: TftIotSimulator, make_client: Factory) -> None:
    client, _ = await make_client()
    await sim.drop_connections()
    with pytest.raises(CannotConnect):
        await client.run()


async def test_a_hub_that_stops_answering_pings_is_dead(
    sim: TftIotSimulator, make_client: Factory
) -> None:
    client, _ = await make_client(timing=replace(FAST))
    sim.stop_answering()
    with pytest.raises(CannotConnect, match="did not answer"):
        await client.run()


async def test_a_quiet_hub_that_ignores_pings_is_kept(socket_enabled: None) -> None:
    """No WebSocket pong, no "pong", no pushes: nothing proves it dead, so the client stays."""
    async with (
        TftIotSimulator(devices=1, answer_pings=False) as sim,
        aiohttp.ClientSession() as session,
    ):
        client, _ = fast_client(sim, session)
        await client.connect()
        run = asyncio.create_task(client.run())
        await asyncio.sleep(QUIET)
        assert not run.done()
        assert sim.accepted == 2
        await client.close()
        await cancel_and_wait(run)


async def test_session_closed(sim: TftIotSimulator, make_client: Factory) -> None:
    client, _ = await make_client()
    await sim.end_sessions()
    with pytest.raises(SessionClosed, match="signed in elsewhere"):
        await client.run()


async def test_simulator_rest_details(sim: TftIotSimulator) -> None:
    sim.add_account("200", "other")
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{sim.rest_url}/auth/action", data="nope") as response:
            assert response.status == 400
            assert (await response.json())["code"] == 1000
        login = {"getAccessToken": {"account": "200", "password-md5": tftiot.md5_password("other")}}
        async with session.post(f"{sim.rest_url}/auth/action", json=login) as response:
            token = (await response.json())["access-token"]
        url = f"{sim.rest_url}/device-waiting-send-cmds"
        async with session.post(url, params={"access-token": token}, json={"imeis": []}) as resp:
            assert (await resp.json())["code"] == 1000
        async with session.get(f"{sim.rest_url}/devices") as response:
            assert (await response.json())["code"] == 1002


# --- servers the vendor page allows (simulator switches) ---

SWITCHES = ("signin_reply", "pong", "shared_socket", "snapshot_on_signin")


def every_combination() -> list[dict[str, bool]]:
    return [
        dict(zip(SWITCHES, values, strict=True))
        for values in itertools.product((False, True), repeat=len(SWITCHES))
    ]


def roles(sim: TftIotSimulator) -> list[tuple[str, ...]]:
    """What each open socket signed in for: ("user",) devices, ("messages",) messages."""
    return sorted(
        tuple(push for push in ("user", "messages") if push in conn.state)
        for conn in sim.connections
    )


def message_socket(sim: TftIotSimulator) -> Any:
    return next(conn for conn in sim.connections if "messages" in conn.state)


def device_socket(sim: TftIotSimulator) -> Any:
    return next(conn for conn in sim.connections if "user" in conn.state)


@pytest.mark.parametrize(
    "switches", every_combination(), ids=lambda s: "-".join(k for k, v in s.items() if v) or "none"
)
async def test_every_server_keeps_both_sockets_through_a_quiet_spell(
    socket_enabled: None, switches: dict[str, bool]
) -> None:
    async with TftIotSimulator(devices=2, **switches) as sim, aiohttp.ClientSession() as session:
        client, recorder = fast_client(sim, session)
        await client.connect()
        run = asyncio.create_task(client.run())
        try:
            await asyncio.sleep(QUIET)
            assert not run.done()
            assert sim.accepted == sim.client_sockets == 2
            assert roles(sim) == [("messages",), ("user",)]
            assert sim.received.count("ping") >= 4  # the keep-alive goes on both sockets
            # both pushes still arrive
            recorder.skip()
            await sim.send_message("Maintenance tonight")
            notice = await recorder.next(HubNotice)
            assert (notice.channel, notice.attributes["message"]) == (
                "message",
                "Maintenance tonight",
            )
            imei = next(iter(sim.trackers))
            await sim.set_online(imei, online=False)
            update = await recorder.next(DeviceUpdate)
            assert (update.device_id, update.values[Field.ONLINE]) == (imei, False)
            assert len(recorder.of(HubNotice)) == 1  # no message twice
            assert not client.stats.dropped
        finally:
            await client.close()
            await cancel_and_wait(run)


@pytest.mark.parametrize("signin_reply", [False, True], ids=["no_reply", "reply"])
async def test_a_wrong_password_is_invalid_credentials(
    socket_enabled: None, signin_reply: bool
) -> None:
    """With or without a reply to a good sign-in, the server refuses with an error frame."""
    async with (
        TftIotSimulator(signin_reply=signin_reply) as sim,
        aiohttp.ClientSession() as session,
    ):
        client, _ = fast_client(sim, session, password=tftiot.md5_password("wrong"))
        with pytest.raises(InvalidAuth, match="error 1001"):
            await client.connect()
        assert sim.accepted == 1  # the message socket was never opened
        assert not client.connected


async def test_a_silent_close_after_the_sign_in_is_no_wrong_password(socket_enabled: None) -> None:
    """Closing without an error frame says nothing about the credentials: CannotConnect."""
    async with TftIotSimulator(refuse_by_closing=True) as sim, aiohttp.ClientSession() as session:
        client, _ = fast_client(sim, session, password=tftiot.md5_password("wrong"))
        with pytest.raises(CannotConnect) as caught:
            await client.connect()
        assert not isinstance(caught.value, InvalidAuth)
        assert sim.accepted == 1


async def test_the_message_socket_ending_ends_the_session(
    sim: TftIotSimulator, make_client: Factory
) -> None:
    client, _ = await make_client(timing=replace(FAST))
    await message_socket(sim).close()
    with pytest.raises(CannotConnect, match="closed the connection"):
        await client.run()


async def test_the_message_socket_failing_while_connecting_fails_the_connect(
    sim: TftIotSimulator, make_client: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def close_it(conn: Any, _frame: dict[str, Any]) -> None:
        await conn.close()

    monkeypatch.setattr(sim, "_regist", close_it)
    sim.rest_delay = 0.3  # the fleet is still loading when the message socket goes
    client, _ = await make_client(connect=False, timing=replace(FAST))
    with pytest.raises(CannotConnect, match="closed the connection"):
        await client.connect()
    assert not client.connected


async def test_a_refused_message_registration_leaves_the_device_push(
    sim: TftIotSimulator, make_client: Factory
) -> None:
    client, recorder = await make_client(timing=replace(FAST))
    run = asyncio.create_task(client.run())
    try:
        conn = message_socket(sim)
        await conn.send({"type": "registUserMessage", "error": 1001})
        await conn.close()
        await until(lambda: not client.messages.connected)
        recorder.skip()
        imei = next(iter(sim.trackers))
        await sim.set_online(imei, online=False)
        assert (await recorder.next(DeviceUpdate)).device_id == imei
        assert not run.done()
        assert client.stats.dropped == {Drop.HUB_ERROR: 1}
    finally:
        await client.close()
        await cancel_and_wait(run)


async def test_messages_pushed_on_the_device_socket_are_handled(
    sim: TftIotSimulator, make_client: Factory
) -> None:
    client, recorder = await make_client()
    recorder.skip()
    frame = {"type": "messagePass", "from_id": 0, "from_name": "System", "message": "hi"}
    await device_socket(sim).send(frame)
    assert (await recorder.next(HubNotice)).attributes["message"] == "hi"
    await device_socket(sim).send({"type": "registUserMessage", "error": 0})  # one-socket ack
    await message_socket(sim).send({"event": "snapshot", "data": {"imei": "1"}})  # not here
    await until(lambda: client.stats.dropped)
    assert client.stats.dropped == {Drop.UNKNOWN_KIND: 1}
    assert client.connected


async def test_a_message_socket_that_cannot_open(socket_enabled: None) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with aiohttp.ClientSession() as session:
        channel = tftiot.TftIotMessages.from_config(
            session,
            print,
            {"url": f"ws://127.0.0.1:{port}/websocket", "username": "1", "password": "0" * 32},
        )
        with pytest.raises(CannotConnect):
            await channel.connect()
        assert not channel.connected


async def test_the_message_socket_lost_after_the_session_ended() -> None:
    client = offline_client()
    assert client.messages.on_lost is not None
    client.messages.on_lost(CannotConnect("gone"))  # no device socket: nothing to end
    assert client._end_error is None  # a look inside: an unconnected client has no run()


async def test_a_message_socket_that_fails_oddly_ends_the_session() -> None:
    lost: list[HubError] = []
    channel = tftiot.TftIotMessages.from_config(
        None,  # type: ignore[arg-type]
        print,
        {"username": "100861", "password": "0" * 32},
    )
    channel.on_lost = lost.append

    async def odd() -> None:
        raise RuntimeError

    task = asyncio.create_task(odd())
    await asyncio.wait((task,))
    channel._ended(task)  # a look inside: a reader ending as no socket makes it end
    (error,) = lost
    assert isinstance(error, CannotConnect)
    assert str(error) == "the message socket failed: RuntimeError"


class EchoingSimulator(TftIotSimulator):
    """A hub that sends every text frame back before it answers it."""

    async def on_text(self, conn: Any, text: str) -> None:
        await conn.send(text)
        await super().on_text(conn, text)


async def test_echoed_sign_in_frames_leave_no_md5_in_the_log(
    socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with EchoingSimulator(devices=1) as sim, aiohttp.ClientSession() as session:
        client, recorder = fast_client(sim, session)
        await client.connect()
        md5 = sim.password_md5
        assert f'"md5-password":"{md5}"' in "".join(sim.received)  # sent, and sent back
        for frame in (  # a hub quoting our credentials back in every odd way
            {"event": "echo", "frame": {"md5-password": md5}},
            {"event": "echo", "data": md5.upper()},
            {"type": "echo", "text": f"user_id=1&md5-password={md5}"},
            f"unknown command {md5}",
        ):
            await sim.push(frame)
        await until(lambda: client.stats.dropped.total() >= 8)  # each on both sockets
        await device_socket(sim).send(
            {"event": "signin", "error": 1003, "message": f"{md5} signed in elsewhere"}
        )
        with pytest.raises(SessionClosed) as caught:
            await client.run()
        await client.close()
    assert md5 not in str(caught.value)
    logged = caplog.text.casefold()
    assert sim.password.casefold() not in logged
    assert md5 not in logged
    assert "skipped a frame" in logged  # the frames were logged, without the MD5
    assert isinstance(recorder[0], FleetSnapshot)


async def test_rest_errors_leave_out_the_md5_and_the_token() -> None:
    client = offline_client()
    client._token = "6b4c1d2e-token"  # a look inside: a token the hub would quote back
    md5 = tftiot.md5_password("secret")
    with pytest.raises(CommandFailed) as caught:
        client._ok({"code": 1002, "msg": f"access-token 6b4c1d2e-token or {md5} invalid"})
    assert str(caught.value) == "TFT IoT: access-token **REDACTED** or **REDACTED** invalid"


async def test_variants_are_switches_of_the_simulator() -> None:
    assert next(iter(VARIANTS)) == "vendor"
    assert VARIANTS["vendor"] == {}
    assert list(VARIANTS)[-1] == "least_convenient"
    for switches in VARIANTS.values():
        simulator = TftIotSimulator(devices=3, **switches)
        assert simulator.fleet_ids() == list(simulator.trackers)
        for imei, tracker in simulator.trackers.items():
            assert simulator.is_online(imei) is tracker.online
    single = [
        switches
        for name, switches in VARIANTS.items()
        if name not in ("vendor", "least_convenient")
    ]
    assert all(len(switches) == 1 for switches in single)
    assert VARIANTS["least_convenient"].keys() == {key for s in single for key in s}
    fleet = TftIotSimulator(devices=7)
    assert [fleet.is_online(imei) for imei in fleet.fleet_ids()] == [True] * 6 + [False]


@pytest.mark.parametrize("shared_socket", [False, True], ids=["own_socket", "shared_socket"])
async def test_the_simulator_serves_messages_on_the_device_socket_only_if_shared(
    socket_enabled: None, shared_socket: bool
) -> None:
    async with (
        TftIotSimulator(devices=1, shared_socket=shared_socket, signin_reply=True) as sim,
        aiohttp.ClientSession() as session,
        session.ws_connect(sim.url) as ws,
    ):
        account = {"md5-password": sim.password_md5}
        await ws.send_json({**account, "token": sim.user_id, "event": "signin"})
        assert (await ws.receive_json())["error"] == 0
        await ws.send_json({**account, "user_id": sim.user_id, "type": "registUserMessage"})
        await ws.send_str("ping")  # answered by nobody: after it, registUserMessage is done
        await until(lambda: "ping" in sim.received)
        assert ("messages" in device_socket(sim).state) is shared_socket
