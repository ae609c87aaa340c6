"""iMouse XP kernel client: vendor samples, malformed frames, and the simulator over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from custom_components.fleet_push.hubs import client_class
from custom_components.fleet_push.hubs.connection import Timing
from custom_components.fleet_push.hubs.errors import (
    CannotConnect,
    CommandFailed,
    ProtocolError,
)
from custom_components.fleet_push.hubs.imouse import HUB_CHANNELS, IMouseClient
from custom_components.fleet_push.hubs.model import (
    DeviceRemoved,
    DeviceUpdate,
    Field,
    FleetSnapshot,
    HubMessage,
    HubNotice,
    HubUpdate,
)
from tests.simulator import simulator_class
from tests.simulator.imouse import IMouseSimulator, envelope, result

FIXTURES = Path(__file__).parent.parent / "fixtures" / "imouse"
SAMPLES = sorted(path.name for path in FIXTURES.glob("*.json"))
PHONE_16 = "9A:97:4E:C9:54:71"
PHONE_6S = "6C:72:E7:EA:CD:95"


def sample(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def of_type[T](messages: list[HubMessage], kind: type[T]) -> list[T]:
    return [message for message in messages if isinstance(message, kind)]


async def wait_for(
    messages: list[HubMessage], predicate: Callable[[HubMessage], bool], timeout: float = 5.0
) -> HubMessage:
    """The first message (seen so far or arriving) that satisfies predicate."""
    async with asyncio.timeout(timeout):
        while True:
            for message in messages:
                if predicate(message):
                    return message
            await asyncio.sleep(0.01)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until condition() holds."""
    async with asyncio.timeout(timeout):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


def update_of(device_id: str, key: Field | None = None) -> Callable[[HubMessage], bool]:
    return lambda m: (
        isinstance(m, DeviceUpdate)
        and m.device_id == device_id
        and (key is None or key in m.values)
    )


def notice_of(event_type: str) -> Callable[[HubMessage], bool]:
    return lambda m: isinstance(m, HubNotice) and m.event_type == event_type


@pytest.fixture
def messages() -> list[HubMessage]:
    return []


@pytest.fixture
def client(messages: list[HubMessage]) -> IMouseClient:
    """A client fed frames directly, without a socket."""
    return IMouseClient(None, messages.append, host="10.0.0.5")  # type: ignore[arg-type]


# --- vendor samples ---


@pytest.mark.parametrize("name", SAMPLES)
async def test_every_vendor_sample_parses(client: IMouseClient, name: str) -> None:
    client.handle_text(sample(name))
    assert not client.stats.dropped
    await client.close()  # group samples schedule a device reload


def test_callback_format_skeleton_is_dropped(client: IMouseClient) -> None:
    client.handle_text(sample("callback_format.txt"))
    assert client.stats.dropped == {"not_json": 1}


def test_dev_connect_sample(client: IMouseClient, messages: list[HubMessage]) -> None:
    client.handle_text(sample("dev_connect.json"))
    assert messages == [
        DeviceUpdate(
            device_id=PHONE_16,
            name="Ss的xx",
            manufacturer="Apple",
            model="iPhone 16 Pro",
            model_id="iPhone17,1",
            firmware="18.2",
            mac="C6:4D:3A:7A:E0:D3",
            values={Field.ONLINE: True, Field.USB: False},
            extras={"ip": "192.168.9.100", "group": "未分组", "screen": "402x874"},
            channels=frozenset(),
        )
    ]


@pytest.mark.parametrize("name", ["dev_disconnect.json", "dev_rotate.json", "dev_change.json"])
def test_offline_device_samples(
    client: IMouseClient, messages: list[HubMessage], name: str
) -> None:
    client.handle_text(sample(name))
    [update] = messages
    assert isinstance(update, DeviceUpdate)
    assert update.device_id == PHONE_16
    assert update.values == {Field.ONLINE: False, Field.USB: False}
    assert update.model == "iPhone 16 Pro"


def test_example_dev_change_sample(client: IMouseClient, messages: list[HubMessage]) -> None:
    client.handle_text(sample("example_dev_change.json"))
    [update] = messages
    assert isinstance(update, DeviceUpdate)
    assert update.device_id == PHONE_6S
    assert update.name == "11"
    assert (update.model, update.model_id, update.firmware) == ("iPhone 6s", "iPhone8,1", "15.7.3")
    assert update.mac == "00:E0:99:D9:8B:2E"
    assert update.values == {Field.ONLINE: True, Field.USB: True}
    assert update.extras == {
        "ip": "192.168.9.112",
        "group": "未分组",
        "screen": "375x667",
        "hardware_version": "4.4",
    }


def test_usb_change_samples_match_bound_phones(
    client: IMouseClient, messages: list[HubMessage]
) -> None:
    client.handle_text(sample("example_dev_change.json"))  # bound to 720D / 9523
    record = json.loads(sample("dev_connect.json"))
    record["data"]["list"][0] |= {"deviceid": "AA", "vid": "720d", "pid": "1f2d"}
    client.handle_text(json.dumps(record))
    messages.clear()
    client.handle_text(sample("example_usb_change.json"))  # code 12, 720D / 9523
    client.handle_text(sample("usb_change.json"))  # code 19, 720D / 1F2D
    assert messages == [
        DeviceUpdate(PHONE_6S, values={Field.USB: True}),
        DeviceUpdate("AA", values={Field.USB: True}),
    ]
    for code in (13, 20):
        frame = json.loads(sample("usb_change.json"))
        frame["data"]["code"] = code
        client.handle_text(json.dumps(frame))
    assert messages[-2:] == [DeviceUpdate("AA", values={Field.USB: False})] * 2


def test_usb_change_for_unknown_hardware_emits_nothing(
    client: IMouseClient, messages: list[HubMessage]
) -> None:
    client.handle_text(sample("usb_change.json"))
    assert messages == []
    assert not client.stats.dropped


def test_dev_delete_sample(client: IMouseClient, messages: list[HubMessage]) -> None:
    client.handle_text(sample("dev_delete.json"))
    assert messages == [DeviceRemoved("90:81:58:EE:D1:9E")]


def test_im_connect_sample_outside_handshake(
    client: IMouseClient, messages: list[HubMessage]
) -> None:
    client.handle_text(sample("im_connect.json"))
    assert messages == [HubUpdate(version="2024.12.21.910", channels=frozenset({"kernel_log"}))]
    assert client.version == "2024.12.21.910"


def test_user_info_sample(client: IMouseClient, messages: list[HubMessage]) -> None:
    client.handle_text(sample("user_info.json"))
    assert messages == [
        HubUpdate(
            values={
                Field.LICENCES_TOTAL: 0,
                Field.LICENCES_LOCAL: 100,
                Field.DEVICES: 16,
                Field.DEVICES_ONLINE: 0,
                Field.LICENCE_EXPIRES: datetime(2023, 5, 5, 12, 15, 10, tzinfo=UTC),
            },
            extras={"user_state": 2, "utag": 2, "pass": True},
            channels=HUB_CHANNELS,
        )
    ]
    assert "13999999999" not in repr(messages)


def test_im_config_change_sample(client: IMouseClient, messages: list[HubMessage]) -> None:
    client.handle_text(sample("im_config_change.json"))
    assert messages == [
        HubUpdate(
            extras={
                "air_play_name": "iMouseXP-D2B6",
                "lang": "English",
                "air_play_fps": 30,
                "auto_connect": False,
                "mouse_mode": True,
            },
            channels=HUB_CHANNELS,
        )
    ]


@pytest.mark.parametrize(
    ("name", "event_type", "attributes"),
    [
        ("collection_mouse.json", "mouse_collection", {"code": 0, "message": "成功"}),
        ("airplay_connect_log.json", "airplay", {"code": 0, "message": "成功"}),
        ("restart_log.json", "restart", {"code": 0, "message": "成功"}),
        ("im_log.json", "log", {"code": 0, "message": "未登录\uff0c不允许上线"}),
        (
            "error_push.json",
            "error",
            {
                "code": 0,
                "message": "Hardware not working (unknown error)",
                "call_fun": "/mouse/down",
            },
        ),
        ("logout.json", "logout", {"code": 0, "message": "成功"}),
    ],
)
def test_kernel_log_samples(
    client: IMouseClient,
    messages: list[HubMessage],
    name: str,
    event_type: str,
    attributes: dict[str, Any],
) -> None:
    client.handle_text(sample(name))
    assert messages == [HubNotice("kernel_log", event_type, "", attributes)]


def test_notice_names_the_device(client: IMouseClient, messages: list[HubMessage]) -> None:
    frame = json.loads(sample("restart_log.json"))
    frame["data"] |= {"id": PHONE_16, "code": 4, "message": "重启失败"}
    client.handle_text(json.dumps(frame))
    assert messages == [
        HubNotice(
            "kernel_log", "restart", "", {"code": 4, "message": "重启失败", "device_id": PHONE_16}
        )
    ]


@pytest.mark.parametrize("name", ["dev_sort_change.json", "example_dev_sort_change.json"])
def test_dev_sort_change_is_accepted_silently(
    client: IMouseClient, messages: list[HubMessage], name: str
) -> None:
    client.handle_text(sample(name))
    assert messages == []
    assert not client.stats.dropped
    assert client.stats.messages == 0


@pytest.mark.parametrize("name", ["group_change.json", "group_delete.json"])
async def test_group_samples_reload_devices(client: IMouseClient, name: str) -> None:
    client.handle_text(sample(name))
    client.handle_text(sample(name))  # coalesced into the reload already scheduled
    assert client._refresh_task is not None
    await client._refresh_task  # not connected: the reload fails and is counted
    assert client.stats.dropped == {"refresh_failed": 1}
    await client.close()


# --- malformed frames ---


def _callback(fun: str, data: Any, **envelope_fields: Any) -> str:
    return json.dumps({"fun": fun, "status": 200, "msgid": 0, "data": data} | envelope_fields)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "not_json"),
        ("[1, 2]", "not_object"),
        ('{"fun": "dev_change"}', "bad_envelope"),
        ('{"data": {}}', "bad_envelope"),
        (_callback("dev_change", []), "bad_envelope"),
        (_callback("dev_change", {"list": []}, status=500), "bad_status"),
        (_callback("no_such_fun", {}), "unknown_fun"),
        (_callback("dev_change", {"list": "x"}), "bad_list"),
        (_callback("dev_change", {"list": [{"name": "no id"}]}), "bad_device"),
        (_callback("dev_change", {"list": ["x"]}), "bad_device"),
        (_callback("dev_change", {"list": [{"deviceid": ""}]}), "bad_device"),
        (_callback("dev_delete", {"list": "x"}), "bad_list"),
        (_callback("dev_delete", {"list": [3]}), "bad_device_id"),
        (_callback("usb_change", {"code": 5, "list": []}), "usb_code"),
        (_callback("usb_change", {"code": "12", "list": []}), "usb_code"),
        (_callback("usb_change", {"code": 12, "list": {}}), "bad_list"),
        (_callback("usb_change", {"code": 12, "list": [{"vid": "", "pid": "1"}]}), "bad_hardware"),
        (_callback("usb_change", {"code": 12, "list": ["x"]}), "bad_hardware"),
        (_callback("im_connect", {}), "bad_greeting"),
        ('{"fun": "/device/get", "msgid": 77, "data": {}}', "unexpected_reply"),
        ('{"fun": "/device/get", "msgid": "7", "data": {}}', "bad_msgid"),
        ('{"fun": "/device/get", "msgid": true, "data": {}}', "bad_msgid"),
    ],
)
def test_malformed_frames_are_dropped(
    client: IMouseClient, messages: list[HubMessage], text: str, reason: str
) -> None:
    client.handle_text(text)
    assert messages == []
    assert client.stats.dropped == {reason: 1}


def test_unknown_values_stay_unknown(client: IMouseClient, messages: list[HubMessage]) -> None:
    record = {"deviceid": "X", "state": "1", "vid": None, "width": 390, "height": 844, "ip": ""}
    client.handle_text(_callback("dev_change", {"list": [record, {"deviceid": "Y"}]}))
    assert messages == [
        DeviceUpdate(
            "X",
            manufacturer="Apple",
            values={Field.ONLINE: None, Field.USB: None},
            extras={"screen": "390x844"},
            channels=frozenset(),
        ),
        DeviceUpdate("Y", manufacturer="Apple", channels=frozenset()),
    ]


@pytest.mark.parametrize("overdue", [0, -5, "soon", True, 10**20])
def test_unusable_licence_values(
    client: IMouseClient, messages: list[HubMessage], overdue: Any
) -> None:
    client.handle_text(
        _callback("user_info", {"overdue_time": overdue, "dev_num": -1, "total_license": True})
    )
    [update] = messages
    assert isinstance(update, HubUpdate)
    assert update.values == {
        Field.LICENCES_TOTAL: None,
        Field.DEVICES: None,
        Field.LICENCE_EXPIRES: None,
    }


# --- configuration ---


def test_from_config() -> None:
    cls = client_class("imouse")
    assert cls is IMouseClient
    plain = cls.from_config(None, print, {"host": "192.168.9.2"})  # type: ignore[arg-type]
    assert isinstance(plain, IMouseClient)
    assert plain.url == "ws://192.168.9.2:9911/api"
    assert plain.timing == Timing(ws_heartbeat=30.0, silence_timeout=75.0)
    ipv6 = cls.from_config(None, print, {"host": "fe80::1", "port": "9000"})  # type: ignore[arg-type]
    assert isinstance(ipv6, IMouseClient)
    assert ipv6.url == "ws://[fe80::1]:9000/api"
    assert simulator_class("imouse") is IMouseSimulator


async def test_commands_need_a_connection(client: IMouseClient) -> None:
    with pytest.raises(CannotConnect):
        await client.send_command(PHONE_16, "/device/restart", {}, 1.0)


# --- against the simulator ---


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def simulator(socket_enabled: None) -> AsyncIterator[IMouseSimulator]:
    simulator = IMouseSimulator(devices=5, user_info_interval=None)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


@pytest.fixture
async def hub(
    simulator: IMouseSimulator, session: aiohttp.ClientSession, messages: list[HubMessage]
) -> AsyncIterator[IMouseClient]:
    """A client connected to the simulator."""
    client = IMouseClient(session, messages.append, host=simulator.host, port=simulator.port)
    try:
        await client.connect()
        yield client
    finally:
        await client.close()


def _phone_id(simulator: IMouseSimulator, *, bound: bool = True) -> str:
    return next(i for i, record in simulator.devices.items() if bool(record["vid"]) == bound)


async def test_connect_loads_phones_and_licence(
    simulator: IMouseSimulator, session: aiohttp.ClientSession, messages: list[HubMessage]
) -> None:
    client = IMouseClient(session, messages.append, host=simulator.host, port=simulator.port)
    try:
        info = await client.connect()
    finally:
        await client.close()
    assert info.unique_id == f"127.0.0.1:{simulator.port}"
    assert info.title == "iMouse XP 127.0.0.1"
    assert (info.manufacturer, info.model, info.version) == (
        "iMouse",
        "iMouse XP",
        "2024.12.21.910",
    )
    snapshot, hub_update = messages
    assert isinstance(snapshot, FleetSnapshot)
    assert [d.device_id for d in snapshot.devices] == list(simulator.devices)
    first = snapshot.devices[0]
    assert (first.model, first.model_id, first.firmware) == ("iPhone 16 Pro", "iPhone17,1", "18.2")
    assert first.name == "Phone 001"
    assert [d.values[Field.USB] for d in snapshot.devices] == [True, True, False, True, True]
    assert isinstance(hub_update, HubUpdate)
    assert hub_update.version == "2024.12.21.910"
    assert hub_update.channels == HUB_CHANNELS
    assert hub_update.values[Field.DEVICES] == 5
    assert hub_update.values[Field.DEVICES_ONLINE] == 5
    assert hub_update.values[Field.LICENCE_EXPIRES] == datetime(2027, 1, 1, tzinfo=UTC)
    assert "13999999999" not in repr(messages)
    requests = [json.loads(text) for text in simulator.received]
    assert requests == [
        {"fun": "/device/get", "msgid": 1, "data": {"id": ""}},
        {"fun": "/config/user/info", "msgid": 2, "data": {}},
    ]


async def test_device_callbacks(
    hub: IMouseClient, simulator: IMouseSimulator, messages: list[HubMessage]
) -> None:
    phone = _phone_id(simulator)
    await simulator.set_online(phone, False)
    assert (await wait_for(messages, update_of(phone))).values[Field.ONLINE] is False  # type: ignore[union-attr]
    messages.clear()
    await simulator.rotate(phone)
    await wait_for(messages, update_of(phone))
    messages.clear()
    new = await simulator.add_device(name="Rack 7")
    added = await wait_for(messages, update_of(new))
    assert isinstance(added, DeviceUpdate)
    assert added.name == "Rack 7"
    assert added.values == {Field.ONLINE: True, Field.USB: True}
    await simulator.remove_device(new)
    await wait_for(messages, lambda m: m == DeviceRemoved(new))
    messages.clear()
    await simulator.set_usb(phone, False)
    assert await wait_for(messages, update_of(phone)) == DeviceUpdate(
        phone, values={Field.USB: False}
    )
    assert not hub.stats.dropped


async def test_hub_callbacks(
    hub: IMouseClient, simulator: IMouseSimulator, messages: list[HubMessage]
) -> None:
    messages.clear()
    await simulator.set_sort(1, 2)
    await simulator.set_license(total=10, local=5, expires=datetime(2030, 1, 1, tzinfo=UTC))
    licence = await wait_for(messages, lambda m: isinstance(m, HubUpdate))
    assert isinstance(licence, HubUpdate)
    assert licence.values[Field.LICENCES_TOTAL] == 10
    assert licence.values[Field.LICENCE_EXPIRES] == datetime(2030, 1, 1, tzinfo=UTC)
    assert len(messages) == 1  # dev_sort_change emitted nothing
    messages.clear()
    await simulator.change_config(lang="简体中文")
    config = await wait_for(messages, lambda m: isinstance(m, HubUpdate))
    assert isinstance(config, HubUpdate)
    assert config.extras["lang"] == "简体中文"
    assert "allow_ip_list" not in config.extras
    await simulator.push_log("error_push", "硬件无法工作", code=3, call_fun="/mouse/click")
    error = await wait_for(messages, notice_of("error"))
    assert error == HubNotice(
        "kernel_log",
        "error",
        "",
        {"code": 3, "message": "硬件无法工作", "call_fun": "/mouse/click"},
    )
    await simulator.logout()
    await wait_for(messages, notice_of("logout"))
    await simulator.push_callback("im_connect", {"ver": "2025.1.1.1"})
    await wait_for(messages, lambda m: isinstance(m, HubUpdate) and m.version == "2025.1.1.1")
    assert hub.connected
    assert not hub.stats.dropped


async def test_group_changes_reload_group_names(
    hub: IMouseClient, simulator: IMouseSimulator, messages: list[HubMessage]
) -> None:
    messages.clear()
    await simulator.rename_group(0, "Farm A")
    await simulator.rename_group(0, "Farm B")
    snapshot = await wait_for(
        messages,
        lambda m: (
            isinstance(m, FleetSnapshot) and all(d.extras["group"] == "Farm B" for d in m.devices)
        ),
    )
    assert isinstance(snapshot, FleetSnapshot)
    assert len(snapshot.devices) == 5
    phone = _phone_id(simulator)
    await hub.send_command("", "/device/group/set", {"name": "Shelf 2"}, 5.0)
    await hub.send_command(phone, "/device/set", {"gid": "1"}, 5.0)
    await wait_for(
        messages,
        lambda m: update_of(phone)(m) and m.extras["group"] == "Shelf 2",  # type: ignore[union-attr]
    )
    await until(lambda: hub._refresh_task is None or hub._refresh_task.done())
    messages.clear()
    await simulator.delete_group(1)
    await wait_for(
        messages,
        lambda m: (
            isinstance(m, FleetSnapshot) and all(d.extras["group"] == "Farm B" for d in m.devices)
        ),
    )
    assert not hub.stats.dropped


async def test_reload_failure_is_counted(
    hub: IMouseClient, simulator: IMouseSimulator, messages: list[HubMessage]
) -> None:
    simulator.overrides["/device/get"] = result(list="nonsense")
    await simulator.rename_group(0, "Farm A")
    await until(lambda: bool(hub.stats.dropped))
    assert hub.stats.dropped == {"refresh_failed": 1}


async def test_close_during_reload(
    hub: IMouseClient, simulator: IMouseSimulator, messages: list[HubMessage]
) -> None:
    simulator.unanswered.add("/device/get")
    await simulator.rename_group(0, "Farm A")
    await until(lambda: hub._refresh_task is not None)
    await hub.close()
    assert not hub.connected


async def test_restart_command(
    hub: IMouseClient, simulator: IMouseSimulator, messages: list[HubMessage]
) -> None:
    phone = _phone_id(simulator)
    reply = await hub.send_command(phone, "/device/restart", {}, 5.0)
    assert reply == {"code": 0, "id": phone, "message": "成功"}
    restart = await wait_for(messages, notice_of("restart"))
    assert isinstance(restart, HubNotice)
    assert restart.attributes["device_id"] == phone
    await simulator.set_online(phone, False)
    with pytest.raises(CommandFailed) as offline:
        await hub.send_command(phone, "/device/restart", {}, 5.0)
    assert offline.value.code == 25
    assert str(offline.value) == "设备不在线"
    with pytest.raises(CommandFailed) as unknown:
        await hub.send_command("00:00:00:00:00:00", "/device/restart", {}, 5.0)
    assert unknown.value.code == 1


async def test_usb_restart_uses_the_bound_hardware(
    hub: IMouseClient, simulator: IMouseSimulator, messages: list[HubMessage]
) -> None:
    phone = _phone_id(simulator)
    record = simulator.devices[phone]
    messages.clear()
    reply = await hub.send_command(phone, "/device/usb/restart", {}, 5.0)
    assert reply["code"] == 0
    assert json.loads(simulator.received[-1])["data"] == {"id": f"{record['vid']}_{record['pid']}"}
    await wait_for(messages, lambda m: m == DeviceUpdate(phone, values={Field.USB: True}))
    assert messages[0] == DeviceUpdate(phone, values={Field.USB: False})
    with pytest.raises(CommandFailed) as unbound:
        await hub.send_command(_phone_id(simulator, bound=False), "/device/usb/restart", {}, 5.0)
    assert unbound.value.code == 2


async def test_input_rename_and_delete_commands(
    hub: IMouseClient, simulator: IMouseSimulator, messages: list[HubMessage]
) -> None:
    phone = _phone_id(simulator)
    home = {"key": "", "fn_key": "WIN+h"}
    assert (await hub.send_command(phone, "/key/sendkey", home, 5.0))["code"] == 0
    assert json.loads(simulator.received[-1])["data"] == {"id": phone, **home}
    assert (await hub.send_command(phone, "/mouse/click", {"x": 10, "y": 20}, 5.0))["code"] == 0
    with pytest.raises(CommandFailed) as bad:
        await hub.send_command(phone, "/mouse/click", {}, 5.0)
    assert bad.value.code == 36
    messages.clear()
    await hub.send_command(phone, "/device/set", {"name": "Rack 1"}, 5.0)
    renamed = await wait_for(messages, update_of(phone))
    assert isinstance(renamed, DeviceUpdate)
    assert renamed.name == "Rack 1"
    await hub.send_command(phone, "/device/del", {}, 5.0)
    await wait_for(messages, lambda m: m == DeviceRemoved(phone))
    with pytest.raises(CommandFailed) as gone:
        await hub.send_command(phone, "/device/usb/restart", {}, 5.0)
    assert gone.value.code == 2


@pytest.mark.parametrize(
    ("override", "code", "message"),
    [
        (
            {"fun": "/key/sendkey", "status": 500, "message": "请求失败", "msgid": 0},
            500,
            "请求失败",
        ),
        ({"fun": "/key/sendkey", "status": 200, "data": "oops"}, "bad_reply", None),
        (result(30, ""), 30, "the iMouse kernel refused the request"),
        (result([1], "x"), None, "x"),
    ],
)
async def test_command_failures(
    hub: IMouseClient,
    simulator: IMouseSimulator,
    override: dict[str, Any],
    code: Any,
    message: str | None,
) -> None:
    simulator.overrides["/key/sendkey"] = override
    with pytest.raises(CommandFailed) as failed:
        await hub.send_command(_phone_id(simulator), "/key/sendkey", {"key": "a"}, 5.0)
    assert failed.value.code == code
    if message is not None:
        assert str(failed.value) == message


async def test_commands_rejected_locally(hub: IMouseClient, simulator: IMouseSimulator) -> None:
    sent = len(simulator.received)
    with pytest.raises(CommandFailed) as unknown:
        await hub.send_command("x", "restart", {}, 5.0)
    assert unknown.value.code == "bad_command"
    with pytest.raises(CommandFailed) as not_json:
        await hub.send_command("x", "/key/sendkey", {"key": object()}, 5.0)
    assert not_json.value.code == "bad_parameters"
    assert len(simulator.received) == sent


async def test_command_timeout(hub: IMouseClient, simulator: IMouseSimulator) -> None:
    simulator.unanswered.add("/device/restart")
    with pytest.raises(CommandFailed) as timed_out:
        await hub.send_command(_phone_id(simulator), "/device/restart", {}, 0.2)
    assert timed_out.value.code == "timeout"
    assert hub.connected


async def test_replies_are_matched_by_msgid(hub: IMouseClient, simulator: IMouseSimulator) -> None:
    ids = list(simulator.devices)
    replies = await asyncio.gather(
        *(hub.send_command(device_id, "/device/get", {}, 5.0) for device_id in ids)
    )
    assert [reply["list"][0]["deviceid"] for reply in replies] == ids
    await simulator.push(envelope("/device/get", result(), msgid=9999))
    await until(lambda: bool(hub.stats.dropped))
    assert hub.stats.dropped == {"unexpected_reply": 1}


async def test_tick_events_parse(
    hub: IMouseClient, simulator: IMouseSimulator, messages: list[HubMessage]
) -> None:
    messages.clear()
    for _ in range(30):
        await simulator.tick()
    await wait_for(messages, lambda _m: len(messages) >= 30)
    assert {type(m) for m in messages} == {DeviceUpdate}
    assert not hub.stats.dropped
    empty = IMouseSimulator(devices=0)
    await empty.tick()
    assert empty.devices == {}


async def test_connection_drop_ends_run(hub: IMouseClient, simulator: IMouseSimulator) -> None:
    await simulator.drop_connections()
    with pytest.raises(CannotConnect):
        await hub.run()


async def test_kernel_restart_then_reconnect(
    hub: IMouseClient, simulator: IMouseSimulator, messages: list[HubMessage]
) -> None:
    await simulator.restart()
    with pytest.raises(CannotConnect):
        await hub.run()
    messages.clear()
    info = await hub.connect()
    assert info.version == "2024.12.21.910"
    assert isinstance(messages[0], FleetSnapshot)


async def test_silence_is_detected(
    simulator: IMouseSimulator, session: aiohttp.ClientSession, messages: list[HubMessage]
) -> None:
    timing = Timing(silence_timeout=0.3)
    client = IMouseClient(
        session, messages.append, host=simulator.host, port=simulator.port, timing=timing
    )
    try:
        await client.connect()
        simulator.stop_answering()
        with pytest.raises(CannotConnect, match="silent"):
            await client.run()
    finally:
        await client.close()


async def test_user_info_keeps_a_quiet_kernel_alive(
    session: aiohttp.ClientSession, messages: list[HubMessage]
) -> None:
    async with IMouseSimulator(devices=1, user_info_interval=0.05) as simulator:
        timing = Timing(ws_heartbeat=0.5, silence_timeout=0.3)
        client = IMouseClient(
            session, messages.append, host=simulator.host, port=simulator.port, timing=timing
        )
        try:
            await client.connect()
            await asyncio.sleep(0.8)
            assert client.connected
            assert len(of_type(messages, HubUpdate)) >= 5
        finally:
            await client.close()


async def test_no_greeting(
    simulator: IMouseSimulator, session: aiohttp.ClientSession, messages: list[HubMessage]
) -> None:
    simulator.greet = False
    client = IMouseClient(session, messages.append, host=simulator.host, port=simulator.port)
    client.connect_timeout = 0.2
    with pytest.raises(CannotConnect, match="im_connect"):
        await client.connect()
    assert not client.connected
    assert simulator.received == []


async def test_greeting_without_version(
    simulator: IMouseSimulator, session: aiohttp.ClientSession, messages: list[HubMessage]
) -> None:
    simulator.version = None  # type: ignore[assignment]
    client = IMouseClient(session, messages.append, host=simulator.host, port=simulator.port)
    try:
        assert (await client.connect()).version is None
    finally:
        await client.close()


async def test_unreachable_kernel(session: aiohttp.ClientSession) -> None:
    simulator = IMouseSimulator()
    await simulator.start()
    port = simulator.port
    await simulator.stop()
    client = IMouseClient(session, print, host="127.0.0.1", port=port)
    with pytest.raises(CannotConnect):
        await client.connect()


async def test_kernel_closes_before_greeting(
    simulator: IMouseSimulator, session: aiohttp.ClientSession
) -> None:
    simulator.greet = False

    async def hang_up(conn: Any) -> None:
        await conn.close()

    simulator.on_connect = hang_up  # type: ignore[method-assign]
    client = IMouseClient(session, print, host=simulator.host, port=simulator.port)
    with pytest.raises(CannotConnect):
        await client.connect()


@pytest.mark.parametrize(
    ("fun", "override", "error"),
    [
        ("/device/get", result(33, "失败"), ProtocolError),
        ("/device/get", result(list={}), ProtocolError),
        ("/device/get", None, CannotConnect),
        ("/config/user/info", None, CannotConnect),
    ],
)
async def test_handshake_failures(
    simulator: IMouseSimulator,
    session: aiohttp.ClientSession,
    fun: str,
    override: dict[str, Any] | None,
    error: type[Exception],
) -> None:
    if override is None:
        simulator.unanswered.add(fun)
    else:
        simulator.overrides[fun] = override
    client = IMouseClient(session, print, host=simulator.host, port=simulator.port)
    client.connect_timeout = 0.3
    with pytest.raises(error):
        await client.connect()
    assert not client.connected


async def test_kernel_without_licence_account(
    simulator: IMouseSimulator, session: aiohttp.ClientSession, messages: list[HubMessage]
) -> None:
    simulator.overrides["/config/user/info"] = result(37, "未登录")
    client = IMouseClient(session, messages.append, host=simulator.host, port=simulator.port)
    try:
        await client.connect()
    finally:
        await client.close()
    assert messages[-1] == HubUpdate(version="2024.12.21.910", channels=HUB_CHANNELS)


async def test_http_post_api(simulator: IMouseSimulator, session: aiohttp.ClientSession) -> None:
    request = {"fun": "/device/get", "data": {"id": "", "msgid": 5}}
    async with session.post(f"{simulator.base_url}/api", json=request) as response:
        reply = await response.json()
    assert reply["msgid"] == 5
    assert reply["status"] == 200
    assert len(reply["data"]["list"]) == 5
    phone = _phone_id(simulator)
    request = {"fun": "/device/set", "msgid": 6, "data": {"id": phone, "name": "http"}}
    async with session.post(f"{simulator.base_url}/api", json=request) as response:
        assert (await response.json())["data"]["code"] == 0
    assert simulator.devices[phone]["name"] == "http"
    async with session.post(f"{simulator.base_url}/api", data=b"nope") as response:
        assert response.status == 400
    async with session.post(f"{simulator.base_url}/api", json=[1]) as response:
        assert response.status == 400
    async with session.post(f"{simulator.base_url}/api", json={"fun": "/x/y"}) as response:
        assert (await response.json())["data"]["code"] == 33


def test_partial_user_info(client: IMouseClient, messages: list[HubMessage]) -> None:
    client.handle_text(_callback("user_info", {"code": 37, "dev_num": 3, "phone": "13999999999"}))
    assert messages == [HubUpdate(values={Field.DEVICES: 3}, channels=HUB_CHANNELS)]
