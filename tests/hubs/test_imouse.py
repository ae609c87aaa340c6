"""iMouse XP kernel client: vendor samples, malformed frames, and the simulator over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
import json
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.fleet_push.hubs import client_class
from custom_components.fleet_push.hubs.connection import Drop, Timing
from custom_components.fleet_push.hubs.errors import (
    CannotConnect,
    CommandFailed,
    HubTimeout,
    ProtocolError,
)
from custom_components.fleet_push.hubs.imouse import (
    HUB_CHANNELS,
    PHONE_CHANNELS,
    PROBE,
    IMouseClient,
)
from custom_components.fleet_push.hubs.model import (
    Command,
    DeviceDetails,
    DeviceRemoved,
    DeviceUpdate,
    Field,
    FleetSnapshot,
    HubMessage,
    HubNotice,
    HubUpdate,
    Orientation,
)
from tests.simulator import simulator_class
from tests.simulator.imouse import VARIANTS, IMouseSimulator, envelope, result

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
    assert client.stats.dropped == {Drop.NOT_JSON: 1}


def test_dev_connect_sample(client: IMouseClient, messages: list[HubMessage]) -> None:
    client.handle_text(sample("dev_connect.json"))
    assert messages == [
        DeviceUpdate(
            PHONE_16,
            DeviceDetails(
                name="Ss的xx",
                manufacturer="Apple",
                model="iPhone 16 Pro",
                model_id="iPhone17,1",
                firmware="18.2",
                mac="C6:4D:3A:7A:E0:D3",
            ),
            values={
                Field.ONLINE: True,
                Field.USB: False,
                Field.ORIENTATION: Orientation.PORTRAIT,
                Field.SCREEN_CASTING: True,  # a cast handle
            },
            extras={"ip": "192.168.9.100", "group": "未分组", "screen": "402x874"},
            channels=PHONE_CHANNELS,
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
    assert update.values == {
        Field.ONLINE: False,
        Field.USB: False,
        Field.ORIENTATION: Orientation.PORTRAIT,
        Field.SCREEN_CASTING: True,  # the kernel keeps its handle: Online alone changes
    }
    assert update.details.model == "iPhone 16 Pro"


def test_example_dev_change_sample(client: IMouseClient, messages: list[HubMessage]) -> None:
    client.handle_text(sample("example_dev_change.json"))
    [update] = messages
    assert isinstance(update, DeviceUpdate)
    assert update.device_id == PHONE_6S
    assert update.details.name == "11"
    assert (update.details.model, update.details.model_id, update.details.firmware) == (
        "iPhone 6s",
        "iPhone8,1",
        "15.7.3",
    )
    assert update.details.mac == "00:E0:99:D9:8B:2E"
    assert update.values == {
        Field.ONLINE: True,
        Field.USB: True,
        Field.ORIENTATION: Orientation.PORTRAIT,
        Field.SCREEN_CASTING: True,
    }
    assert update.extras == {
        "ip": "192.168.9.112",
        "group": "未分组",
        "screen": "375x667",
        "hardware_version": "4.4",
    }


def test_usb_change_codes_say_which_link_changed(
    client: IMouseClient, messages: list[HubMessage]
) -> None:
    """12/13: hardware and phone; 19/20: hardware and computer (vendor doc 002 section 10)."""
    client.handle_text(sample("example_dev_change.json"))  # bound to 720D / 9523 / 952324BD
    messages.clear()
    client.handle_text(sample("example_usb_change.json"))  # code 12, the same hardware
    frame = json.loads(sample("usb_change.json"))  # code 19
    frame["data"]["list"][0] |= {"pid": "9523", "uid": "952324BD"}
    client.handle_text(json.dumps(frame))
    for code in (13, 20):
        frame["data"]["code"] = code
        client.handle_text(json.dumps(frame))
    assert messages == [
        DeviceUpdate(PHONE_6S, values={Field.USB: True}),
        DeviceUpdate(PHONE_6S, values={Field.USB_COMPUTER: True}),
        DeviceUpdate(PHONE_6S, values={Field.USB: False}),
        DeviceUpdate(PHONE_6S, values={Field.USB_COMPUTER: False}),
    ]


def _bind(client: IMouseClient, device_id: str, **hardware: str) -> None:
    record = json.loads(sample("dev_connect.json"))
    record["data"]["list"][0] |= {"deviceid": device_id, **hardware}
    client.handle_text(json.dumps(record))


def test_hardware_is_matched_by_its_uid(client: IMouseClient, messages: list[HubMessage]) -> None:
    """Two boxes of one model share (vid, pid): the vendor sample's uid names the one."""
    _bind(client, "AA", vid="720D", pid="1F2D", uid="1f2d24bd")
    _bind(client, "BB", vid="720D", pid="1F2D", uid="1F2D0001")
    messages.clear()
    client.handle_text(sample("usb_change.json"))  # 720D / 1F2D / 1F2D24BD
    assert messages == [DeviceUpdate("AA", values={Field.USB_COMPUTER: True})]


def test_hardware_without_uid_is_matched_by_vid_and_pid(
    client: IMouseClient, messages: list[HubMessage]
) -> None:
    _bind(client, "AA", vid="720d", pid="1f2d", uid="")
    _bind(client, "BB", vid="720D", pid="1F2D", uid="1F2D0001")
    _bind(client, "CC", vid="720D", pid="9523", uid="")
    messages.clear()
    frame = json.loads(sample("usb_change.json"))
    del frame["data"]["list"][0]["uid"]
    client.handle_text(json.dumps(frame))
    assert messages == [
        DeviceUpdate("AA", values={Field.USB_COMPUTER: True}),
        DeviceUpdate("BB", values={Field.USB_COMPUTER: True}),
    ]


def test_records_keep_the_reported_phone_link(
    client: IMouseClient, messages: list[HubMessage]
) -> None:
    """A record says only that hardware is bound; a code 13 keeps USB off until a 12."""

    def usb_shown() -> Any:
        client.handle_text(sample("example_dev_change.json"))
        update = messages[-1]
        assert isinstance(update, DeviceUpdate)
        return update.values[Field.USB]

    assert usb_shown() is True
    frame = json.loads(sample("example_usb_change.json"))
    frame["data"]["code"] = 13
    client.handle_text(json.dumps(frame))
    assert usb_shown() is False
    client.handle_text(sample("example_usb_change.json"))  # 12
    assert usb_shown() is True
    client.handle_text(json.dumps(frame))  # 13, then the phone is unbound and bound again
    unbound = json.loads(sample("example_dev_change.json"))
    unbound["data"]["list"][0] |= {"vid": "", "pid": "", "uid": ""}
    client.handle_text(json.dumps(unbound))
    assert messages[-1] == DeviceUpdate(
        PHONE_6S,
        DeviceDetails(
            name="11",
            manufacturer="Apple",
            model="iPhone 6s",
            model_id="iPhone8,1",
            firmware="15.7.3",
            mac="00:E0:99:D9:8B:2E",
        ),
        values={
            Field.ONLINE: True,
            Field.USB: False,
            Field.ORIENTATION: Orientation.PORTRAIT,
            Field.SCREEN_CASTING: True,
        },
        extras={
            "ip": "192.168.9.112",
            "group": "未分组",
            "screen": "375x667",
            "hardware_version": "4.4",
        },
        channels=PHONE_CHANNELS,
    )
    messages.clear()
    client.handle_text(sample("example_usb_change.json"))
    assert messages == []  # no longer bound: nothing to match
    assert usb_shown() is True


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


@pytest.mark.parametrize(
    ("name", "event_type"),
    [
        ("restart_log.json", "restart"),
        ("airplay_connect_log.json", "airplay"),
        ("collection_mouse.json", "mouse_collection"),
        ("error_push.json", "error"),
        ("im_log.json", "log"),
    ],
)
def test_a_log_about_a_phone_goes_to_that_phone(
    client: IMouseClient, messages: list[HubMessage], name: str, event_type: str
) -> None:
    """A listed phone gets its logs; a phone the kernel never listed leaves its id on the kernel."""
    client.handle_text(_callback("dev_connect", {"list": [{"deviceid": PHONE_16}]}))
    frame = json.loads(sample(name))
    frame["data"] |= {"id": PHONE_16, "code": 4, "message": "重启失败"}
    client.handle_text(json.dumps(frame))
    attributes = {k: v for k, v in frame["data"].items() if k in ("code", "message", "call_fun")}
    assert messages[-1] == HubNotice("phone_log", event_type, PHONE_16, attributes)

    client.handle_text(_callback("dev_delete", {"list": [PHONE_16]}))
    client.handle_text(json.dumps(frame))
    assert messages[-1] == HubNotice(
        "kernel_log", event_type, "", {**attributes, "device_id": PHONE_16}
    )


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
    await until(lambda: bool(client.stats.dropped))  # not connected: the reload fails
    assert client.stats.dropped == {Drop.RELOAD_FAILED: 1}
    await client.close()


# --- malformed frames ---


def _callback(fun: str, data: Any, **envelope_fields: Any) -> str:
    return json.dumps({"fun": fun, "status": 200, "msgid": 0, "data": data} | envelope_fields)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", Drop.NOT_JSON),
        ("[1, 2]", Drop.NOT_OBJECT),
        ('{"fun": "dev_change"}', Drop.MALFORMED),
        ('{"data": {}}', Drop.MALFORMED),
        (_callback("dev_change", []), Drop.MALFORMED),
        (_callback("dev_change", {"list": []}, status=500), Drop.HUB_ERROR),
        (_callback("no_such_fun", {}), Drop.UNKNOWN_KIND),
        (_callback("dev_change", {"list": "x"}), Drop.MALFORMED),
        (_callback("dev_change", {"list": [{"name": "no id"}]}), Drop.MALFORMED),
        (_callback("dev_change", {"list": ["x"]}), Drop.MALFORMED),
        (_callback("dev_change", {"list": [{"deviceid": ""}]}), Drop.MALFORMED),
        (_callback("dev_delete", {"list": "x"}), Drop.MALFORMED),
        (_callback("dev_delete", {"list": [3]}), Drop.MALFORMED),
        (_callback("usb_change", {"code": 5, "list": []}), Drop.UNKNOWN_KIND),
        (_callback("usb_change", {"code": "12", "list": []}), Drop.UNKNOWN_KIND),
        (_callback("usb_change", {"code": 12, "list": {}}), Drop.MALFORMED),
        (_callback("usb_change", {"code": 12, "list": [{"vid": "", "pid": "1"}]}), Drop.MALFORMED),
        (_callback("usb_change", {"code": 12, "list": ["x"]}), Drop.MALFORMED),
        (_callback("usb_change", {"code": True, "list": []}), Drop.UNKNOWN_KIND),
        (_callback("usb_change", {"code": [12], "list": []}), Drop.UNKNOWN_KIND),
        (_callback("im_connect", {}), Drop.MALFORMED),
        (_callback("im_connect", {"ver": ""}), Drop.MALFORMED),
        ('{"fun": "/device/get", "msgid": 77, "data": {}}', Drop.UNMATCHED_REPLY),
        ('{"fun": "/device/get", "msgid": "7", "data": {}}', Drop.UNMATCHED_REPLY),
        ('{"fun": "/device/get", "msgid": true, "data": {"msgid": [1]}}', Drop.UNMATCHED_REPLY),
        ('{"fun": "/device/get", "data": {"msgid": 7}}', Drop.UNMATCHED_REPLY),
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
            DeviceDetails(manufacturer="Apple"),
            values={Field.ONLINE: None, Field.USB: None},
            extras={"screen": "390x844"},
            channels=PHONE_CHANNELS,
        ),
        DeviceUpdate("Y", DeviceDetails(manufacturer="Apple"), channels=PHONE_CHANNELS),
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
    assert plain.api_url == "http://192.168.9.2:9911/api"
    assert plain.timing == Timing(ws_heartbeat=30.0)  # no watchdog on user_info
    assert plain.can_probe
    ipv6 = cls.from_config(None, print, {"host": "fe80::1", "port": "9000"})  # type: ignore[arg-type]
    assert isinstance(ipv6, IMouseClient)
    assert ipv6.url == "ws://[fe80::1]:9000/api"
    assert ipv6.api_url == "http://[fe80::1]:9000/api"
    assert simulator_class("imouse") is IMouseSimulator


async def test_commands_need_a_connection(client: IMouseClient) -> None:
    with pytest.raises(CannotConnect):
        await client.send_command(Command(PHONE_16, "/device/restart", {}, 1.0))


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
    greeting, snapshot, hub_update = messages  # im_connect came before the HTTP replies
    assert greeting == HubUpdate(version="2024.12.21.910", channels=HUB_CHANNELS)
    assert isinstance(snapshot, FleetSnapshot)
    assert [d.device_id for d in snapshot.devices] == list(simulator.devices)
    first = snapshot.devices[0]
    assert (first.details.model, first.details.model_id, first.details.firmware) == (
        "iPhone 16 Pro",
        "iPhone17,1",
        "18.2",
    )
    assert first.details.name == "Phone 001"
    assert [d.values[Field.USB] for d in snapshot.devices] == [True, True, False, True, True]
    assert isinstance(hub_update, HubUpdate)
    assert hub_update.version == "2024.12.21.910"
    assert hub_update.channels == HUB_CHANNELS
    assert hub_update.values[Field.DEVICES] == 5
    assert hub_update.values[Field.DEVICES_ONLINE] == 5
    assert hub_update.values[Field.LICENCE_EXPIRES] == datetime(2027, 1, 1, tzinfo=UTC)
    assert "13999999999" not in repr(messages)
    assert simulator.received == simulator.posted  # over HTTP, as the vendor's libraries
    assert [json.loads(text) for text in simulator.posted] == [
        {"fun": "/device/get", "data": {"id": ""}},
        {"fun": "/config/user/info", "data": {}},
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
    assert added.details.name == "Rack 7"
    assert added.values == {
        Field.ONLINE: True,
        Field.USB: True,
        Field.ORIENTATION: Orientation.PORTRAIT,
        Field.SCREEN_CASTING: True,
    }
    await simulator.remove_device(new)
    await wait_for(messages, lambda m: m == DeviceRemoved(new))
    messages.clear()
    await simulator.set_usb(phone, False)
    assert await wait_for(messages, update_of(phone)) == DeviceUpdate(
        phone, values={Field.USB: False}
    )
    messages.clear()
    await simulator.rotate(phone)  # the record says bound; the link stays as reported
    assert (await wait_for(messages, update_of(phone))).values[Field.USB] is False  # type: ignore[union-attr]
    messages.clear()
    await simulator.set_computer_link(phone, False)
    assert await wait_for(messages, update_of(phone)) == DeviceUpdate(
        phone, values={Field.USB_COMPUTER: False}
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
    snapshots = len(of_type(messages, FleetSnapshot))
    await hub.send_command(Command("", "/device/group/set", {"name": "Shelf 2"}, 5.0))
    await hub.send_command(Command(phone, "/device/set", {"gid": "1"}, 5.0))
    await wait_for(
        messages,
        lambda m: update_of(phone)(m) and m.extras["group"] == "Shelf 2",  # type: ignore[union-attr]
    )
    await until(lambda: len(of_type(messages, FleetSnapshot)) > snapshots)  # the new group's
    messages.clear()
    await simulator.delete_group(1)
    await wait_for(
        messages,
        lambda m: (
            isinstance(m, FleetSnapshot) and all(d.extras["group"] == "Farm B" for d in m.devices)
        ),
    )
    assert not hub.stats.dropped


def _posted(simulator: IMouseSimulator, fun: str) -> int:
    """How many requests of this function the kernel was posted."""
    return sum(json.loads(text)["fun"] == fun for text in simulator.posted)


async def test_reload_failure_is_counted(
    hub: IMouseClient, simulator: IMouseSimulator, messages: list[HubMessage]
) -> None:
    simulator.overrides["/device/get"] = result(list="nonsense")
    await simulator.rename_group(0, "Farm A")
    await until(lambda: bool(hub.stats.dropped))
    assert hub.stats.dropped == {Drop.RELOAD_FAILED: 1}


async def test_close_during_reload(
    hub: IMouseClient, simulator: IMouseSimulator, messages: list[HubMessage]
) -> None:
    simulator.unanswered.add("/device/get")
    asked = _posted(simulator, "/device/get")
    await simulator.rename_group(0, "Farm A")
    await until(lambda: _posted(simulator, "/device/get") > asked)  # the reload waits
    await hub.close()
    assert not hub.connected


async def test_restart_command(
    hub: IMouseClient, simulator: IMouseSimulator, messages: list[HubMessage]
) -> None:
    phone = _phone_id(simulator)
    reply = await hub.send_command(Command(phone, "/device/restart", {}, 5.0))
    assert reply == {"code": 0, "id": phone, "message": "成功"}
    restart = await wait_for(messages, notice_of("restart"))
    assert restart == HubNotice("phone_log", "restart", phone, {"code": 0, "message": "重启成功"})
    await simulator.set_online(phone, False)
    with pytest.raises(CommandFailed) as offline:
        await hub.send_command(Command(phone, "/device/restart", {}, 5.0))
    assert offline.value.code == 25
    assert str(offline.value) == "设备不在线"
    with pytest.raises(CommandFailed) as unknown:
        await hub.send_command(Command("00:00:00:00:00:00", "/device/restart", {}, 5.0))
    assert unknown.value.code == 1


async def test_usb_restart_uses_the_bound_hardware(
    hub: IMouseClient, simulator: IMouseSimulator, messages: list[HubMessage]
) -> None:
    phone = _phone_id(simulator)
    record = simulator.devices[phone]
    messages.clear()
    reply = await hub.send_command(Command(phone, "/device/usb/restart", {}, 5.0))
    assert reply["code"] == 0
    assert json.loads(simulator.received[-1])["data"] == {"id": f"{record['vid']}_{record['pid']}"}
    await wait_for(messages, lambda m: m == DeviceUpdate(phone, values={Field.USB_COMPUTER: True}))
    assert messages[0] == DeviceUpdate(phone, values={Field.USB_COMPUTER: False})
    with pytest.raises(CommandFailed) as unbound:
        await hub.send_command(
            Command(_phone_id(simulator, bound=False), "/device/usb/restart", {}, 5.0)
        )
    assert unbound.value.code == 2


async def test_input_rename_and_delete_commands(
    hub: IMouseClient, simulator: IMouseSimulator, messages: list[HubMessage]
) -> None:
    phone = _phone_id(simulator)
    home = {"key": "", "fn_key": "WIN+h"}
    assert (await hub.send_command(Command(phone, "/key/sendkey", home, 5.0)))["code"] == 0
    assert json.loads(simulator.received[-1])["data"] == {"id": phone, **home}
    assert (await hub.send_command(Command(phone, "/mouse/click", {"x": 10, "y": 20}, 5.0)))[
        "code"
    ] == 0
    with pytest.raises(CommandFailed) as bad:
        await hub.send_command(Command(phone, "/mouse/click", {}, 5.0))
    assert bad.value.code == 36
    messages.clear()
    await hub.send_command(Command(phone, "/device/set", {"name": "Rack 1"}, 5.0))
    renamed = await wait_for(messages, update_of(phone))
    assert isinstance(renamed, DeviceUpdate)
    assert renamed.details.name == "Rack 1"
    await hub.send_command(Command(phone, "/device/del", {}, 5.0))
    await wait_for(messages, lambda m: m == DeviceRemoved(phone))
    with pytest.raises(CommandFailed) as gone:
        await hub.send_command(Command(phone, "/device/usb/restart", {}, 5.0))
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
        await hub.send_command(Command(_phone_id(simulator), "/key/sendkey", {"key": "a"}, 5.0))
    assert failed.value.code == code
    if message is not None:
        assert str(failed.value) == message


async def test_commands_rejected_locally(hub: IMouseClient, simulator: IMouseSimulator) -> None:
    sent = len(simulator.received)
    with pytest.raises(CommandFailed) as unknown:
        await hub.send_command(Command("x", "restart", {}, 5.0))
    assert unknown.value.code == "bad_command"
    with pytest.raises(CommandFailed) as not_json:
        await hub.send_command(Command("x", "/key/sendkey", {"key": object()}, 5.0))
    assert not_json.value.code == "bad_parameters"
    assert len(simulator.received) == sent


async def test_command_timeout(hub: IMouseClient, simulator: IMouseSimulator) -> None:
    simulator.unanswered.add("/device/restart")
    with pytest.raises(HubTimeout):
        await hub.send_command(Command(_phone_id(simulator), "/device/restart", {}, 0.2))
    assert hub.connected


async def test_a_command_in_flight_ends_with_the_websocket(
    hub: IMouseClient, simulator: IMouseSimulator
) -> None:
    """Posted over HTTP, but given up with the connection, as a reply over the WebSocket is."""
    simulator.unanswered.add("/device/restart")
    call = asyncio.ensure_future(
        hub.send_command(Command(_phone_id(simulator), "/device/restart", {}, 5))
    )
    await until(lambda: any("/device/restart" in text for text in simulator.posted))
    await simulator.drop_connections()
    with pytest.raises(CannotConnect):
        await call


async def test_concurrent_commands_get_their_own_replies(
    hub: IMouseClient, simulator: IMouseSimulator
) -> None:
    ids = list(simulator.devices)
    replies = await asyncio.gather(
        *(hub.send_command(Command(device_id, "/device/get", {}, 5.0)) for device_id in ids)
    )
    assert [reply["list"][0]["deviceid"] for reply in replies] == ids


# --- WebSocket requests: the probe's replies, matched by msgid or by fun ---


@pytest.fixture
def sent(client: IMouseClient, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The WebSocket requests the client sends (it has no socket: replies are fed by hand)."""
    requests: list[dict[str, Any]] = []

    async def send_text(text: str) -> None:
        requests.append(json.loads(text))

    monkeypatch.setattr(client, "send_text", send_text)
    return requests


async def _ask_two(
    client: IMouseClient, sent: list[dict[str, Any]]
) -> tuple[asyncio.Task[dict[str, Any]], asyncio.Task[dict[str, Any]]]:
    """Two WebSocket requests of one function, with their results.

    A look inside: over the WebSocket the client asks only its probe, one at a time; the
    vendor's reply matching (msgid at the top, inside data, else the oldest of the function)
    needs two requests of one function in flight, and _waiting must be empty after them.
    """
    first = asyncio.create_task(client._ask("/device/get", {"id": "A"}, 5.0))
    second = asyncio.create_task(client._ask("/device/get", {"id": "B"}, 5.0))
    await until(lambda: len(sent) == 2)
    return first, second


def _reply(phone: str, msgid: int = 0, data_msgid: int | None = None) -> str:
    data = result(list=[phone]) | ({} if data_msgid is None else {"msgid": data_msgid})
    return json.dumps(envelope("/device/get", data, msgid))


async def test_replies_are_matched_by_a_top_level_msgid(
    client: IMouseClient, sent: list[dict[str, Any]]
) -> None:
    first, second = await _ask_two(client, sent)
    assert [request["msgid"] for request in sent] == [1, 2]
    assert sent[0] == {"fun": "/device/get", "msgid": 1, "data": {"id": "A"}}
    client.handle_text(_reply("B", msgid=2))  # answered out of order
    client.handle_text(_reply("A", msgid=1))
    assert ((await first)["list"], (await second)["list"]) == (["A"], ["B"])
    assert client._waiting == {}


async def test_replies_are_matched_by_a_msgid_inside_data(
    client: IMouseClient, sent: list[dict[str, Any]]
) -> None:
    first, second = await _ask_two(client, sent)
    client.handle_text(_reply("B", data_msgid=2))
    client.handle_text(_reply("A", data_msgid=1))
    assert ((await first)["list"], (await second)["list"]) == (["A"], ["B"])


async def test_replies_without_msgid_go_to_the_oldest_request_of_their_fun(
    client: IMouseClient, sent: list[dict[str, Any]], messages: list[HubMessage]
) -> None:
    first, second = await _ask_two(client, sent)
    client.handle_text(sample("user_info.json"))  # a callback (msgid 0) is not a reply
    client.handle_text(_reply("A"))
    client.handle_text(_reply("B"))
    assert ((await first)["list"], (await second)["list"]) == (["A"], ["B"])
    assert len(of_type(messages, HubUpdate)) == 1


async def test_a_reply_with_someone_elses_msgid_is_not_ours(
    client: IMouseClient, sent: list[dict[str, Any]]
) -> None:
    """Another client's reply, echoed with its msgid, must not resolve ours by its fun."""
    first, second = await _ask_two(client, sent)
    client.handle_text(_reply("X", msgid=99))
    assert client.stats.dropped == {Drop.UNMATCHED_REPLY: 1}
    assert not first.done()
    client.handle_text(_reply("A", msgid=1))
    client.handle_text(_reply("B"))  # this kernel's other reply without one: the oldest
    assert ((await first)["list"], (await second)["list"]) == (["A"], ["B"])


async def test_a_refused_websocket_request(
    client: IMouseClient, sent: list[dict[str, Any]]
) -> None:
    asked = asyncio.create_task(client._ask("/device/get", {"id": "A"}, 5.0))
    await until(lambda: bool(sent))
    client.handle_text(json.dumps(envelope("/device/get", result(1, "设备不存在"))))
    with pytest.raises(CommandFailed, match="设备不存在"):
        await asked
    assert client._waiting == {}


@pytest.mark.parametrize("echo", ["top", "data", "none"])
async def test_probe_is_answered_over_the_websocket(
    session: aiohttp.ClientSession, messages: list[HubMessage], echo: str
) -> None:
    async with IMouseSimulator(devices=1, msgid_echo=echo) as simulator:  # type: ignore[arg-type]
        client = IMouseClient(session, messages.append, host=simulator.host, port=simulator.port)
        try:
            await client.connect()
            posted = len(simulator.posted)
            messages.clear()
            await asyncio.gather(client.probe(), client.probe(), client.probe())
            assert len(simulator.posted) == posted  # over the WebSocket, not HTTP
            assert [json.loads(text)["fun"] for text in simulator.received[-3:]] == [PROBE] * 3
            assert messages == 3 * [
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
            assert not client.stats.dropped
        finally:
            await client.close()


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
    assert len(of_type(messages, FleetSnapshot)) == 1


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


@pytest.mark.parametrize("variant", list(VARIANTS))
async def test_a_quiet_kernel_stays_on_one_connection(
    session: aiohttp.ClientSession, messages: list[HubMessage], variant: str
) -> None:
    """Whatever the kernel leaves open: liveness rounds pass and nothing reconnects."""
    async with IMouseSimulator(devices=2, **VARIANTS[variant]) as simulator:
        timing = Timing(ws_heartbeat=0.2)
        client = IMouseClient(
            session, messages.append, host=simulator.host, port=simulator.port, timing=timing
        )
        try:
            await client.connect()
            await until(lambda: _probes(simulator) >= 3)
            assert client.connected
            assert simulator.accepted == 1
            assert not client.stats.dropped
        finally:
            await client.close()


async def test_user_info_is_periodic_only_with_a_licence_login(
    session: aiohttp.ClientSession, messages: list[HubMessage]
) -> None:
    async with IMouseSimulator(devices=1, user_info_interval=0.02) as simulator:
        client = IMouseClient(session, messages.append, host=simulator.host, port=simulator.port)
        try:
            await client.connect()
            await until(lambda: len(_user_infos(messages)) >= 2)
            await simulator.logout()
            await wait_for(messages, notice_of("logout"))
            messages.clear()
            await asyncio.sleep(0.1)  # five intervals
            assert _user_infos(messages) == []
            await simulator.set_license(total=3)  # logged in again
            await until(lambda: len(_user_infos(messages)) >= 2)
        finally:
            await client.close()


def _user_infos(messages: list[HubMessage]) -> list[HubUpdate]:
    return [m for m in of_type(messages, HubUpdate) if Field.DEVICES in m.values]


def _probes(simulator: IMouseSimulator) -> int:
    return sum(PROBE in text for text in simulator.received)


async def test_a_kernel_that_stops_answering_is_given_up(
    session: aiohttp.ClientSession, messages: list[HubMessage]
) -> None:
    """Without pongs, the probe's silence decides."""
    async with IMouseSimulator(devices=1, answer_pings=False) as simulator:
        timing = Timing(ws_heartbeat=0.2)
        client = IMouseClient(
            session, messages.append, host=simulator.host, port=simulator.port, timing=timing
        )
        try:
            await client.connect()
            await until(lambda: _probes(simulator) >= 1)
            simulator.stop_answering()
            with pytest.raises(CannotConnect, match="did not answer"):
                await client.run()
        finally:
            await client.close()


async def test_no_greeting_is_needed(
    simulator: IMouseSimulator, session: aiohttp.ClientSession, messages: list[HubMessage]
) -> None:
    simulator.greet = False
    client = IMouseClient(session, messages.append, host=simulator.host, port=simulator.port)
    try:
        info = await client.connect()
    finally:
        await client.close()
    assert info.version is None
    snapshot, licence = messages
    assert isinstance(snapshot, FleetSnapshot)
    assert isinstance(licence, HubUpdate)
    assert licence.version is None
    assert licence.values[Field.DEVICES] == 5


async def test_greeting_without_version(
    simulator: IMouseSimulator, session: aiohttp.ClientSession, messages: list[HubMessage]
) -> None:
    simulator.version = None  # type: ignore[assignment]
    client = IMouseClient(session, messages.append, host=simulator.host, port=simulator.port)
    try:
        assert (await client.connect()).version is None
        await until(lambda: bool(client.stats.dropped))
        assert client.stats.dropped == {Drop.MALFORMED: 1}
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


async def test_kernel_closes_the_websocket_at_once(
    simulator: IMouseSimulator, session: aiohttp.ClientSession
) -> None:
    """HTTP answers, but without the WebSocket there are no callbacks: not connected."""

    async def hang_up(conn: Any) -> None:
        await conn.close()

    simulator.on_connect = hang_up  # type: ignore[method-assign]
    client = IMouseClient(session, print, host=simulator.host, port=simulator.port)
    with pytest.raises(CannotConnect):
        await client.connect()
    assert not client.connected


async def test_api_unreachable(
    simulator: IMouseSimulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(IMouseClient, "api_url", "http://127.0.0.1:1/api")
    client = IMouseClient(session, print, host=simulator.host, port=simulator.port)
    with pytest.raises(CannotConnect, match="cannot reach the iMouse API"):
        await client.connect()
    assert not client.connected


class _OddKernel(IMouseSimulator):
    """A kernel whose HTTP API answers /device/restart with a set status and body."""

    status = 200
    body = b"{}"

    async def _http(self, request: web.Request) -> web.Response:
        if "/device/restart" not in await request.text():
            return await super()._http(request)
        return web.Response(status=self.status, body=self.body)


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (500, b"{}", 500),
        (200, b"<html>", "bad_reply"),
        (200, b"[1]", "bad_reply"),
        (200, b"[" * 100 + b"]" * 100, "bad_reply"),
        (200, b" " * 300, "too_large"),
    ],
)
async def test_http_replies_that_are_not_results(
    session: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    body: bytes,
    code: Any,
) -> None:
    async with _OddKernel(devices=1) as simulator:
        simulator.status, simulator.body = status, body
        client = IMouseClient(session, print, host=simulator.host, port=simulator.port)
        try:
            await client.connect()
            monkeypatch.setattr(IMouseClient, "max_msg_size", 256)
            with pytest.raises(CommandFailed) as failed:
                await client.send_command(
                    Command(next(iter(simulator.devices)), "/device/restart", {}, 5)
                )
            assert failed.value.code == code
            assert client.connected
        finally:
            await client.close()


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
