"""iClick client: vendor samples, hostile frames, and the simulator over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import json
from pathlib import Path
import re
from typing import Any

import aiohttp
import orjson
import pytest

from custom_components.fleet_push.hubs import client_class, frames, iclick
from custom_components.fleet_push.hubs.connection import Drop, HubStats, Timing
from custom_components.fleet_push.hubs.errors import (
    CannotConnect,
    CommandCode,
    CommandFailed,
    HubTimeout,
    ProtocolError,
)
from custom_components.fleet_push.hubs.iclick import IClickClient
from custom_components.fleet_push.hubs.iclick_facts import BinaryReply
from custom_components.fleet_push.hubs.iphones import iphone_name
from custom_components.fleet_push.hubs.model import (
    Command,
    DeviceDetails,
    DeviceRemoved,
    DeviceUpdate,
    Field,
    FleetSnapshot,
    HubInfo,
    HubNotice,
    HubUpdate,
    Orientation,
)
from tests.hubs.recorder import Recorder
from tests.simulator import simulator_class
from tests.simulator.iclick import VARIANTS, IClickSimulator

FIXTURES = Path(__file__).parents[1] / "fixtures" / "iclick"
CHANNELS = frozenset({"device"})


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def record(device_id: str, *, chip: str = "", name: str = "Phone", **top: Any) -> dict[str, Any]:
    return {
        "info": {"deviceId": device_id, "deviceChip": chip, "deviceName": name},
        "online": True,
        "plugged": True,
        "busying": False,
        **top,
    }


def event(name: str, data: Any) -> str:
    return json.dumps({"type": "event", "event": name, "data": data})


def binary(meta: bytes, payload: bytes = b"", pad: str = ">") -> bytes:
    """A binary reply: the metadata length in 6 space-padded ASCII digits, metadata, payload."""
    return f"{len(meta):{pad}6d}".encode() + meta + payload


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def out() -> Recorder:
    return Recorder()


@pytest.fixture
def client(session: aiohttp.ClientSession, out: Recorder) -> IClickClient:
    """A client that is never connected: frames are fed to handle_text directly."""
    return IClickClient.from_config(session, out.append, {})


@pytest.fixture
async def simulator(socket_enabled: None) -> AsyncIterator[IClickSimulator]:
    async with IClickSimulator(devices=3) as sim:
        yield sim


@pytest.fixture
async def connected(
    simulator: IClickSimulator, session: aiohttp.ClientSession, out: Recorder
) -> AsyncIterator[IClickClient]:
    hub = IClickClient.from_config(session, out.append, {"port": simulator.port})
    try:
        await hub.connect()
        yield hub
    finally:
        await hub.close()


async def until(condition: Callable[[], object]) -> None:
    """Wait up to 5 s for a condition to hold."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    pytest.fail("condition never held")


def first_id(simulator: IClickSimulator) -> str:
    return next(iter(simulator.devices))


# --- configuration ---


async def test_from_config_defaults(client: IClickClient) -> None:
    assert (client.host, client.port) == ("127.0.0.1", 23188)
    assert client.url == "ws://127.0.0.1:23188"
    assert client.timing == Timing(ws_heartbeat=30.0)
    assert client_class("iclick") is IClickClient
    assert simulator_class("iclick") is IClickSimulator


async def test_from_config_host_port(session: aiohttp.ClientSession) -> None:
    hub = IClickClient.from_config(session, print, {"host": "fe80::1", "port": "8000"})
    assert hub.url == "ws://[fe80::1]:8000"
    hub = IClickClient.from_config(session, print, {"host": "192.168.31.15", "port": 9})
    assert hub.url == "ws://192.168.31.15:9"


# --- vendor samples ---


async def test_doc_event_format_skeleton(client: IClickClient, out: Recorder) -> None:
    text = fixture_text("event_format.txt")
    client.handle_text(text)
    assert client.stats.dropped[Drop.NOT_JSON] == 1
    value = frames.decode_lenient(text)
    assert value == {"type": "event", "event": "event_name", "data": {}}
    client.handle_text(orjson.dumps(value).decode())
    assert client.stats.dropped[Drop.UNKNOWN_KIND] == 1
    assert out == []


async def test_doc_online_sample_matched_by_chip(client: IClickClient, out: Recorder) -> None:
    client.handle_text(event("device:offline", record("P1", chip="XXXXXXXX", name="Old name")))
    out.clear()
    client.handle_text(fixture_text("device_online.json"))
    assert out == [
        DeviceUpdate(
            "P1",
            DeviceDetails(
                name="My iPhone",
                manufacturer="Apple",
                model="iPhone 14 Pro",
                model_id="iPhone15,2",
                firmware="17.0",
            ),
            values={
                Field.ONLINE: True,
                Field.USB: True,
                Field.ORIENTATION: Orientation.PORTRAIT,  # 1: UIKit's portrait
                Field.CHIP: "XXXXXXXX",
            },
            extras={"screen": "1179x2556", "screen_scale": 3.0},
            channels=CHANNELS,
        )
    ]


async def test_doc_online_sample_matched_by_name(client: IClickClient, out: Recorder) -> None:
    client.handle_text(event("device:offline", record("P2", chip="OTHER", name="My iPhone")))
    client.handle_text(event("device:offline", record("P3", name="Another")))
    out.clear()
    client.handle_text(fixture_text("device_online.json"))
    assert [message.device_id for message in out if isinstance(message, DeviceUpdate)] == ["P2"]


async def test_doc_online_sample_unknown_device(client: IClickClient, out: Recorder) -> None:
    """Not connected, nothing to re-query: the frame is counted as skipped."""
    client.handle_text(event("device:offline", record("P4", name="My iPhone")))
    client.handle_text(event("device:offline", record("P5", name="My iPhone")))
    out.clear()
    client.handle_text(fixture_text("device_online.json"))
    assert out == []
    assert client.stats.dropped[Drop.UNKNOWN_DEVICE] == 1


async def listed(
    records: Any, session: aiohttp.ClientSession, out: Recorder
) -> tuple[FleetSnapshot, HubStats]:
    """What a client makes of a controller whose device list is these records, and its stats."""
    async with IClickSimulator(devices=0) as simulator:
        simulator.devices = records
        hub = IClickClient(session, out.append, port=simulator.port)
        try:
            await hub.connect()
        finally:
            await hub.close()
    (snapshot,) = out.of(FleetSnapshot)
    return snapshot, hub.stats


async def test_devices_record_sample(
    socket_enabled: None, session: aiohttp.ClientSession, out: Recorder
) -> None:
    snapshot, stats = await listed(frames.decode(fixture_text("devices_data.json")), session, out)
    assert not stats.dropped
    assert snapshot == (
        FleetSnapshot(
            (
                DeviceUpdate(
                    "PA448EDE2067",
                    DeviceDetails(
                        name="iPhone 16 Pro Max",
                        manufacturer="Apple",
                        model="iPhone 16 Pro Max",
                        model_id="iPhone17,2",
                        firmware="26.1",
                    ),
                    values={
                        Field.ONLINE: False,
                        Field.USB: False,
                        Field.BUSY: False,
                        Field.ORIENTATION: None,  # 0: UIKit's unknown
                        Field.CHIP: None,  # "": bound to no chip board
                        Field.IP_ADDRESS: "192.168.31.29",
                        Field.LANGUAGE: "zh-Hans-CN",
                        Field.TIME_ZONE: "Asia/Shanghai",
                    },
                    extras={
                        "screen": "1320x2868",
                        "screen_scale": 3,
                        "ip": "192.168.31.29",
                        "language": "zh-Hans-CN",
                        "time_zone": "Asia/Shanghai",
                    },
                    channels=CHANNELS,
                ),
            )
        )
    )


async def test_snapshot_skips_bad_records(
    socket_enabled: None, session: aiohttp.ClientSession, out: Recorder
) -> None:
    records = {"P1": record("P1"), "P2": "nonsense", "": record("")}
    snapshot, stats = await listed(records, session, out)
    assert [device.device_id for device in snapshot.devices] == ["P1"]
    assert stats.dropped == {Drop.MALFORMED: 2}


# --- events ---


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("device:online", {Field.ONLINE: True, Field.USB: True, Field.BUSY: True}),
        ("device:offline", {Field.ONLINE: False, Field.USB: True, Field.BUSY: True}),
        ("device:busy", {Field.ONLINE: True, Field.USB: True, Field.BUSY: True}),
        ("device:idle", {Field.ONLINE: True, Field.USB: True, Field.BUSY: False}),
        ("device:rename", {Field.ONLINE: True, Field.USB: True, Field.BUSY: True}),
        ("usb:plug", {Field.ONLINE: True, Field.USB: True, Field.BUSY: True}),
        ("usb:unplug", {Field.ONLINE: True, Field.USB: False, Field.BUSY: True}),
        ("device:bindchip", {Field.ONLINE: True, Field.USB: True, Field.BUSY: True}),
        ("device:reject", {Field.ONLINE: True, Field.USB: True, Field.BUSY: True}),
    ],
)
async def test_event_with_record(
    client: IClickClient, out: Recorder, name: str, values: dict[Field, bool]
) -> None:
    """The event's name decides its own field; the record gives the rest."""
    client.handle_text(event(name, record("P1", chip="C1", name="Desk", busying=True)))
    update = out[0]
    assert isinstance(update, DeviceUpdate)
    assert update.device_id == "P1"
    assert update.details.name == "Desk"
    assert update.values == values | {Field.CHIP: "C1"}
    assert update.channels == CHANNELS
    notices = {"device:reject": "reject", "device:bindchip": "bindchip"}
    if name in notices:
        assert out[1:] == [HubNotice("device", notices[name], "P1", {"name": "Desk", "chip": "C1"})]
    else:
        assert out[1:] == []


async def test_event_with_device_id_only(client: IClickClient, out: Recorder) -> None:
    client.handle_text(event("device:busy", {"deviceId": "P9"}))
    assert out == [
        DeviceUpdate(
            "P9", DeviceDetails(manufacturer="Apple"), values={Field.BUSY: True}, channels=CHANNELS
        )
    ]


async def test_rename_top_level(client: IClickClient, out: Recorder) -> None:
    client.handle_text(event("device:rename", {"deviceId": "P1", "deviceName": "Shelf 3"}))
    update = out[0]
    assert isinstance(update, DeviceUpdate)
    assert update.details.name == "Shelf 3"
    assert update.values == {}


async def test_usb_by_chip_only(client: IClickClient, out: Recorder) -> None:
    client.handle_text(event("device:online", record("P1", chip="CHIP1")))
    client.handle_text(event("device:online", record("P2", chip="")))
    out.clear()
    client.handle_text(event("usb:unplug", {"deviceChip": "CHIP1"}))
    assert out == [
        DeviceUpdate(
            "P1", DeviceDetails(manufacturer="Apple"), values={Field.USB: False}, channels=CHANNELS
        )
    ]


async def test_bindchip_moves_chip(client: IClickClient, out: Recorder) -> None:
    client.handle_text(event("device:online", record("P1", chip="CHIP1")))
    client.handle_text(event("device:bindchip", record("P1", chip="")))
    client.handle_text(event("device:bindchip", record("P2", chip="CHIP1")))
    out.clear()
    client.handle_text(event("usb:plug", {"deviceChip": "CHIP1"}))
    assert [message.device_id for message in out if isinstance(message, DeviceUpdate)] == ["P2"]


async def test_delete(client: IClickClient, out: Recorder) -> None:
    client.handle_text(event("device:online", record("P1", chip="CHIP1")))
    out.clear()
    client.handle_text(event("device:delete", {"info": {"deviceChip": "CHIP1"}}))
    client.handle_text(event("device:delete", {"info": {"deviceChip": "CHIP1"}}))
    assert out == [DeviceRemoved("P1")]
    assert client.stats.dropped[Drop.UNKNOWN_DEVICE] == 1


async def test_reject_unknown_device(client: IClickClient, out: Recorder) -> None:
    client.handle_text(event("device:reject", {"info": {"deviceName": "Stranger"}}))
    assert out == [HubNotice("device", "reject", "", {"name": "Stranger"})]
    assert not client.stats.dropped


async def test_bindchip_unknown_device(client: IClickClient, out: Recorder) -> None:
    client.handle_text(event("device:bindchip", {"deviceChip": "NEW"}))
    assert out == [HubNotice("device", "bindchip", "", {"chip": "NEW"})]
    assert client.stats.dropped[Drop.UNKNOWN_DEVICE] == 1


async def test_wrong_types_are_reported_unknown(client: IClickClient, out: Recorder) -> None:
    data = {
        "info": {
            "deviceId": "P1",
            "deviceName": 7,
            "deviceIdentifier": None,
            "deviceVersion": 17,
            "screenWidth": True,
            "screenHeight": 2556,
            "screenScale": "3",
            "ipAddress": "",
        },
        "online": "yes",
        "plugged": None,
    }
    client.handle_text(event("device:busy", data))
    assert out == [
        DeviceUpdate(
            "P1",
            DeviceDetails(manufacturer="Apple"),
            values={Field.ONLINE: None, Field.USB: None, Field.BUSY: True, Field.IP_ADDRESS: None},
            channels=CHANNELS,
        )
    ]


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", Drop.NOT_JSON),
        ("[1, 2]", Drop.NOT_OBJECT),
        ('{"type": "hello"}', Drop.UNKNOWN_KIND),
        ("{}", Drop.UNKNOWN_KIND),
        ('{"type": "event", "data": {}}', Drop.UNKNOWN_KIND),
        ('{"type": "event", "event": "", "data": {}}', Drop.UNKNOWN_KIND),
        (event("device:explode", {}), Drop.UNKNOWN_KIND),
        ('{"type": "event", "event": 5, "data": {}}', Drop.UNKNOWN_KIND),
        ('{"event": ["device:online"], "data": {}}', Drop.UNKNOWN_KIND),
        (event("device:online", None), Drop.UNKNOWN_DEVICE),  # nothing to reload: not connected
        (event("device:online", []), Drop.UNKNOWN_DEVICE),
        ('{"type": "success", "data": {}}', Drop.UNKNOWN_KIND),
        ('{"type": "success", "evtid": "zzzzzzzzzz", "data": {}}', Drop.UNMATCHED_REPLY),
        ('{"type": "error", "evtid": "zzzzzzzzzz", "error": "late"}', Drop.UNMATCHED_REPLY),
        ('{"evtid": ["zz"], "data": {}}', Drop.UNMATCHED_REPLY),
        ("[" * 100 + "]" * 100, Drop.NOT_JSON),
    ],
)
async def test_bad_text_frames(
    client: IClickClient, out: Recorder, frame: str, reason: str
) -> None:
    client.handle_text(frame)
    assert out == []
    assert client.stats.dropped == {reason: 1}


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"", Drop.BINARY),
        (b"12", Drop.BINARY),
        (b"abcdef{}", Drop.BINARY),
        (b"  -1  {}", Drop.BINARY),
        (b"1_0   {}", Drop.BINARY),
        (b"000099{}", Drop.BINARY),
        (b"000000payload", Drop.NOT_JSON),
        (binary(b"{]"), Drop.NOT_JSON),
        (binary(b"[]"), Drop.NOT_OBJECT),
        (binary(b'{"type": "event"}'), Drop.UNKNOWN_KIND),
        (binary(b'{"type":"success","evtid":1}'), Drop.UNMATCHED_REPLY),
        (binary(b'{"type":"success","evtid":"zzzzzzzzzz"}', b"\xff\xd8"), Drop.UNMATCHED_REPLY),
        (b'{"type": "success", "evtid": "zzzzzzzzzz"}', Drop.UNMATCHED_REPLY),
        (b"[\xff]", Drop.NOT_JSON),
    ],
)
async def test_bad_binary_frames(client: IClickClient, frame: bytes, reason: str) -> None:
    client.handle_binary(frame)
    assert client.stats.dropped == {reason: 1}


async def test_binary_reply_resolves_request(client: IClickClient) -> None:
    meta = b'{"evtid":"abc","type":"success"}'
    for frame in (binary(meta, b"\xff\xd8JPEG", "<"), binary(meta, b"\xff\xd8JPEG", ">")):
        with client.awaiting("abc") as reply:
            client.handle_binary(frame)
            assert reply.result() == BinaryReply(
                {"evtid": "abc", "type": "success"}, b"\xff\xd8JPEG"
            )
    with client.awaiting("abc") as reply:
        client.handle_binary(binary(b'{"evtid":"abc","type":"error","error":7}'))
        with pytest.raises(CommandFailed, match="the hub reported an error"):
            reply.result()


# --- replies and events read as the SDKs read them ---


@pytest.mark.parametrize(
    "reply",
    [
        {"evtid": "abc", "type": "success", "data": {"status": True}},
        {"evtid": "abc", "data": {"status": True}},
        {"evtid": "abc", "type": "getDevice", "data": {"status": True}},
        {"evtid": "abc", "type": "event", "event": "device:busy", "data": {"status": True}},
        {"evtid": "abc", "type": ["odd"], "data": {"status": True}},
    ],
)
async def test_a_reply_is_known_by_its_evtid_whatever_its_type(
    client: IClickClient, out: Recorder, reply: dict[str, Any]
) -> None:
    with client.awaiting("abc") as future:
        client.handle_text(json.dumps(reply))
        assert future.result() == {"status": True}
    assert out == []
    assert not client.stats.dropped


async def test_an_error_reply_without_its_message(client: IClickClient) -> None:
    with client.awaiting("abc") as future:
        client.handle_text('{"evtid": "abc", "type": "error"}')
        with pytest.raises(CommandFailed, match="the hub reported an error"):
            future.result()


async def test_a_binary_reply_without_type(client: IClickClient) -> None:
    with client.awaiting("abc") as future:
        client.handle_binary(binary(b'{"evtid":"abc"}', b"\xff\xd8"))
        assert future.result() == BinaryReply({"evtid": "abc"}, b"\xff\xd8")


async def test_an_event_without_type_is_an_event(client: IClickClient, out: Recorder) -> None:
    client.handle_text(json.dumps({"event": "device:busy", "data": record("P1")}))
    client.handle_text(json.dumps({"type": "push", "event": "device:idle", "data": record("P1")}))
    client.handle_text(
        json.dumps({"evtid": "old", "event": "device:offline", "data": record("P1")})
    )
    assert [update.values.get(Field.BUSY) for update in out.of(DeviceUpdate)] == [
        True,
        False,
        False,
    ]
    assert out.of(DeviceUpdate)[-1].values[Field.ONLINE] is False
    assert not client.stats.dropped


# --- over loopback ---


async def test_connect_loads_fleet(
    connected: IClickClient, simulator: IClickSimulator, out: Recorder
) -> None:
    request = json.loads(simulator.received[0])
    assert request["type"] == "devices"
    assert re.fullmatch(r"[a-z0-9]{10}", request["evtid"])
    assert request["timeout"] == 15
    snapshot = await out.next(FleetSnapshot)
    assert {device.device_id for device in snapshot.devices} == set(simulator.devices)
    device = snapshot.devices[0]
    assert device.details.manufacturer == "Apple"
    assert device.values == {
        Field.ONLINE: True,
        Field.USB: True,
        Field.BUSY: False,
        Field.ORIENTATION: Orientation.PORTRAIT,
        Field.CHIP: None,
        Field.IP_ADDRESS: simulator.devices[device.device_id]["info"]["ipAddress"],
        Field.LANGUAGE: "zh-Hans-CN",
        Field.TIME_ZONE: "Asia/Shanghai",
    }
    assert set(device.extras) == {"screen", "screen_scale", "ip", "language", "time_zone"}
    assert await out.next(HubUpdate) == HubUpdate(channels=CHANNELS)
    info = await connected.connect()  # connecting again: same hub, full state again
    assert info == HubInfo(f"127.0.0.1:{simulator.port}", "iClick 127.0.0.1", "iClick", "iClick")
    assert len((await out.next(FleetSnapshot)).devices) == 3


async def test_pushed_events(
    connected: IClickClient, simulator: IClickSimulator, out: Recorder
) -> None:
    phone = first_id(simulator)

    async def update(action: Callable[[], Any]) -> DeviceUpdate:
        await action()
        return await out.next(DeviceUpdate)

    assert (await update(lambda: simulator.set_busy(phone, True))).values[Field.BUSY] is True
    assert (await update(lambda: simulator.set_busy(phone, False))).values[Field.BUSY] is False
    assert (await update(lambda: simulator.set_online(phone, False))).values[Field.ONLINE] is False
    assert (await update(lambda: simulator.set_online(phone, True))).values[Field.ONLINE] is True
    assert (await update(lambda: simulator.unplug(phone))).values == {Field.USB: False}
    assert (await update(lambda: simulator.plug(phone))).values == {Field.USB: True}
    assert (await update(lambda: simulator.rename(phone, "Rack 1"))).details.name == "Rack 1"
    bound = await update(lambda: simulator.bindchip(phone, "CHIP9"))
    assert bound.values[Field.USB] is True
    assert await out.next(HubNotice) == HubNotice(
        "device", "bindchip", phone, {"name": "Rack 1", "chip": "CHIP9"}
    )
    assert (await update(lambda: simulator.reject(phone))).values[Field.ONLINE] is False
    assert (await out.next(HubNotice)).event_type == "reject"
    added = await update(simulator.add_device)
    assert added.device_id in simulator.devices
    await simulator.remove_device(added.device_id)
    assert await out.next(DeviceRemoved) == DeviceRemoved(added.device_id)
    assert not connected.stats.dropped


async def test_doc_sample_requeries_devices(
    connected: IClickClient, simulator: IClickSimulator, out: Recorder
) -> None:
    await out.next(FleetSnapshot)
    await simulator.push_doc_online_sample()
    snapshot = await out.next(FleetSnapshot)
    assert len(snapshot.devices) == 3
    assert [json.loads(frame)["type"] for frame in simulator.received] == ["devices", "devices"]
    phone = await simulator.add_device(name="My iPhone")
    await out.next(DeviceUpdate)
    await simulator.push_doc_online_sample()
    update = await out.next(DeviceUpdate)
    assert (update.device_id, update.details.model_id) == (phone, "iPhone15,2")


async def test_requery_failure_is_counted(
    connected: IClickClient, simulator: IClickSimulator
) -> None:
    simulator.api.pop("devices")
    await simulator.push(event("device:busy", {"deviceChip": "UNKNOWN"}))
    await until(lambda: connected.stats.dropped)
    assert connected.stats.dropped == {Drop.RELOAD_FAILED: 1}


async def test_close_cancels_requery(connected: IClickClient, simulator: IClickSimulator) -> None:
    simulator.hold_replies()
    await simulator.push(event("device:idle", {"deviceChip": "UNKNOWN"}))
    await simulator.push(event("device:idle", {"deviceChip": "UNKNOWN"}))
    await until(lambda: len(simulator.received) >= 2)
    await asyncio.sleep(0.05)
    assert len(simulator.received) == 2  # one re-query at a time
    await connected.close()
    assert not connected.connected


async def test_commands(connected: IClickClient, simulator: IClickSimulator) -> None:
    phone = first_id(simulator)
    assert await connected.send_command(Command(phone, "sendAction", {"action": "home"}, 5)) == {
        "status": True
    }
    sent = json.loads(simulator.received[-1])
    assert sent == {
        "type": "sendAction",
        "evtid": sent["evtid"],
        "timeout": 5,
        "deviceId": phone,
        "action": "home",
    }
    for command, parameters in (
        ("sendKey", {"key": "h", "fnkey": "COMMAND"}),
        ("sendText", {"text": "hello"}),
        ("openApp", {"name": "Settings"}),
        ("click", {"x": 10, "y": 20}),
        ("swipe", {"start": {"x": 1, "y": 2}, "end": {"x": 3, "y": 4}}),
        ("killRecents", {}),
    ):
        assert await connected.send_command(Command(phone, command, parameters, 5)) == {
            "status": True
        }
    record = await connected.send_command(Command(phone, "getDevice", {}, 5))
    assert record["info"]["deviceId"] == phone


async def test_screenshot_binary_reply(connected: IClickClient, simulator: IClickSimulator) -> None:
    phone = first_id(simulator)
    result = await connected.send_command(Command(phone, "getScreenShot", {}, 0.5))
    assert result["meta"]["type"] == "success"
    assert result["size"] > len(b"\xff\xd8\xff")
    simulator.header_padding = "<"
    result = await connected.send_command(Command(phone, "getScreenShot", {}, 5))
    assert result["meta"]["type"] == "success"
    assert not connected.stats.dropped


@pytest.mark.parametrize(
    ("call", "message", "code"),
    [
        (("nope", "sendAction", {"action": "home"}), "device not found", CommandCode.FAILED),
        ((None, "sendAction", {"action": "reboot"}), "unsupported action: reboot", "failed"),
        ((None, "sendText", {}), "missing parameter: text", CommandCode.FAILED),
        ((None, "fly", {}), "unknown api: fly", CommandCode.FAILED),
        (
            (None, "sendText", {"evtid": "x"}),
            "parameter 'evtid' is set by the client",
            CommandCode.BAD_PARAMETERS,
        ),
        ((None, "sendText", {"text": object()}), "the parameters are not JSON", "bad_parameters"),
    ],
)
async def test_command_failures(
    connected: IClickClient,
    simulator: IClickSimulator,
    call: tuple[str | None, str, dict[str, Any]],
    message: str,
    code: str,
) -> None:
    device, command, parameters = call
    with pytest.raises(CommandFailed, match=re.escape(message)) as failure:
        await connected.send_command(Command(device or first_id(simulator), command, parameters, 5))
    assert failure.value.code == code


async def test_command_to_offline_phone(
    connected: IClickClient, simulator: IClickSimulator
) -> None:
    phone = first_id(simulator)
    await simulator.set_online(phone, False)
    with pytest.raises(CommandFailed, match="device is offline"):
        await connected.send_command(Command(phone, "getScreenShot", {}, 5))


async def test_command_timeout_and_late_reply(
    connected: IClickClient, simulator: IClickSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(iclick, "REPLY_GRACE", 0.0)
    simulator.hold_replies()
    with pytest.raises(HubTimeout, match="did not answer"):
        await connected.send_command(Command(first_id(simulator), "killRecents", {}, 0.1))
    assert json.loads(simulator.received[-1])["timeout"] == 1
    await simulator.release_replies()
    await until(lambda: connected.stats.dropped)
    assert connected.stats.dropped == {Drop.UNMATCHED_REPLY: 1}


async def test_replies_matched_by_evtid(
    connected: IClickClient, simulator: IClickSimulator
) -> None:
    simulator.hold_replies()
    phones = list(simulator.devices)
    calls = asyncio.gather(
        *(connected.send_command(Command(phone, "getDevice", {}, 5)) for phone in phones)
    )
    await until(lambda: len(simulator.held or []) >= len(phones))
    await simulator.release_replies()
    results = await calls
    assert [result["info"]["deviceId"] for result in results] == phones


async def test_command_when_not_connected(client: IClickClient) -> None:
    with pytest.raises(CannotConnect):
        await client.send_command(Command("P1", "sendAction", {"action": "home"}, 5))


async def test_connection_drop(connected: IClickClient, simulator: IClickSimulator) -> None:
    await simulator.drop_connections()
    with pytest.raises(CannotConnect, match="closed the connection"):
        await connected.run()


async def test_silence_detected(simulator: IClickSimulator, session: aiohttp.ClientSession) -> None:
    hub = IClickClient(session, print, port=simulator.port, timing=Timing(silence_timeout=0.3))
    try:
        await hub.connect()
        simulator.stop_answering()
        with pytest.raises(CannotConnect, match="went silent"):
            await hub.run()
    finally:
        await hub.close()


async def test_dead_pings_detected(
    simulator: IClickSimulator, session: aiohttp.ClientSession
) -> None:
    hub = IClickClient(session, print, port=simulator.port, timing=Timing(ws_heartbeat=0.2))
    try:
        await hub.connect()
        await asyncio.sleep(0.3)  # pongs come back while the hub answers
        assert hub.connected
        simulator.stop_answering()
        with pytest.raises(CannotConnect):
            await hub.run()
    finally:
        await hub.close()


async def test_connect_refused(socket_enabled: None, session: aiohttp.ClientSession) -> None:
    async with IClickSimulator(devices=0) as sim:
        port = sim.port
    hub = IClickClient(session, print, port=port)
    with pytest.raises(CannotConnect):
        await hub.connect()


async def test_connect_without_answer(
    simulator: IClickSimulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(iclick, "REPLY_GRACE", 0.0)
    hub = IClickClient(session, print, port=simulator.port)
    hub.request_timeout = 0.2
    simulator.stop_answering()
    with pytest.raises(CannotConnect, match="device list"):
        await hub.connect()
    assert not hub.connected


@pytest.mark.parametrize("reply", ["refuse", [1, 2]])
async def test_connect_bad_device_list(
    simulator: IClickSimulator, session: aiohttp.ClientSession, reply: Any
) -> None:
    if reply == "refuse":
        simulator.api.pop("devices")
    else:
        simulator.api["devices"] = _constant(reply)
    hub = IClickClient(session, print, port=simulator.port)
    with pytest.raises(ProtocolError):
        await hub.connect()
    assert not hub.connected


def _constant(value: Any) -> Callable[[dict[str, Any]], Any]:
    async def handler(_request: dict[str, Any]) -> Any:
        return value

    return handler


async def test_simulator_tick(simulator: IClickSimulator, session: aiohttp.ClientSession) -> None:
    out = Recorder()
    hub = IClickClient(session, out.append, port=simulator.port)
    try:
        await hub.connect()
        for _ in range(10):
            await simulator.tick()
            update = await out.next(DeviceUpdate)
            assert update.values.keys() & {Field.BUSY, Field.ONLINE}
        assert not hub.stats.dropped
    finally:
        await hub.close()
    await IClickSimulator(devices=0).tick()


async def test_simulator_ignores_junk(connected: IClickClient, simulator: IClickSimulator) -> None:
    await connected.send_text("junk")
    await connected.send_text('{"type": "devices"}')
    await connected.send_text("[]")
    phone = first_id(simulator)
    assert (await connected.send_command(Command(phone, "getDevice", {}, 5)))["online"] is True


# --- every behaviour the vendor leaves open ---


def _usb_shown(out: Recorder, phone: str) -> bool | None:
    """The USB state the messages so far leave a phone in (events or reloaded lists)."""
    shown = None
    for message in out:
        updates = message.devices if isinstance(message, FleetSnapshot) else (message,)
        for update in updates:
            if isinstance(update, DeviceUpdate) and update.device_id == phone:
                shown = update.values.get(Field.USB, shown)
    return shown  # type: ignore[return-value]


def _probes(simulator: IClickSimulator) -> int:
    return sum(json.loads(text)["type"] == "getDevice" for text in simulator.received)


@pytest.mark.parametrize("variant", list(VARIANTS))
async def test_every_controller_behaviour(
    socket_enabled: None, session: aiohttp.ClientSession, variant: str
) -> None:
    """Replies of any type, events with or without type, any usb:* data, no pongs."""
    async with IClickSimulator(devices=3, **VARIANTS[variant]) as simulator:
        out = Recorder()
        timing = Timing(ws_heartbeat=0.2)
        hub = IClickClient(session, out.append, port=simulator.port, timing=timing)
        try:
            await hub.connect()
            assert len((await out.next(FleetSnapshot)).devices) == 3
            phone = first_id(simulator)
            assert await hub.send_command(Command(phone, "sendAction", {"action": "home"}, 5)) == {
                "status": True
            }
            assert (await hub.send_command(Command(phone, "getScreenShot", {}, 5)))["size"] > 0
            await simulator.set_busy(phone, True)
            assert (await out.next(DeviceUpdate)).values[Field.BUSY] is True
            await simulator.unplug(phone)
            await until(lambda: _usb_shown(out, phone) is False)
            await simulator.plug(phone)
            await until(lambda: _usb_shown(out, phone) is True)

            await until(lambda: _probes(simulator) >= 3)  # a quiet while
            assert hub.connected
            assert simulator.accepted == 1
            assert not hub.stats.dropped
        finally:
            await hub.close()


async def test_probe_of_an_empty_controller_asks_for_the_list(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    out = Recorder()
    async with IClickSimulator(devices=0) as simulator:
        hub = IClickClient(session, out.append, port=simulator.port)
        try:
            await hub.connect()
            await hub.probe()
            await simulator.add_device()
            await out.next(DeviceUpdate)  # a phone to ask about
            await hub.probe()
        finally:
            await hub.close()
    assert [json.loads(text)["type"] for text in simulator.received] == [
        "devices",
        "devices",
        "getDevice",
    ]


async def test_a_controller_that_ignores_pings_and_stops_answering(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    """Without pongs, the probe's silence decides."""
    async with IClickSimulator(devices=1, answer_pings=False) as simulator:
        timing = Timing(ws_heartbeat=0.2)
        hub = IClickClient(session, print, port=simulator.port, timing=timing)
        try:
            await hub.connect()
            await until(lambda: _probes(simulator) >= 1)
            simulator.stop_answering()
            with pytest.raises(CannotConnect, match="did not answer"):
                await hub.run()
        finally:
            await hub.close()


async def test_an_unplaceable_delete_reloads_the_list(
    connected: IClickClient, simulator: IClickSimulator, out: Recorder
) -> None:
    await out.next(FleetSnapshot)
    gone = first_id(simulator)
    del simulator.devices[gone]
    await simulator.push(event("device:delete", {"info": {"deviceName": "nobody knows"}}))
    snapshot = await out.next(FleetSnapshot)
    assert gone not in {device.device_id for device in snapshot.devices}


def test_iphone_names_by_identifier() -> None:
    assert iphone_name("iPhone15,2") == "iPhone 14 Pro"
    assert iphone_name("iPhone99,1") is None  # a phone newer than the table: unnamed
    assert iphone_name(None) is None
