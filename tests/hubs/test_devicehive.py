"""DeviceHive client: the protocols.md samples, hostile frames, and the simulator over loopback."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
import contextlib
from datetime import UTC, datetime
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from custom_components.fleet_push.hubs import client_class, devicehive
from custom_components.fleet_push.hubs.connection import Timing
from custom_components.fleet_push.hubs.devicehive import DeviceHiveClient, TokenType
from custom_components.fleet_push.hubs.errors import (
    CannotConnect,
    CommandFailed,
    InvalidAuth,
    ProtocolError,
    SessionClosed,
)
from custom_components.fleet_push.hubs.model import (
    DeviceUpdate,
    Field,
    FleetSnapshot,
    HubInfo,
    HubNotice,
    Position,
)
from tests.hubs.recorder import Recorder
from tests.simulator import simulator_class
from tests.simulator.devicehive import REFRESH, DeviceHiveSimulator, Reject

FIXTURES = Path(__file__).parents[1] / "fixtures" / "devicehive"
CHANNELS = frozenset({"notification"})
SAMPLES = {
    "protocols_authenticate_error.json",
    "protocols_authenticate_request.json",
    "protocols_authenticate_success.json",
    "protocols_command_insert_push.txt",
    "protocols_command_insert_request.json",
    "protocols_command_insert_success.json",
    "protocols_command_update_by_device.json",
    "protocols_command_update_push.json",
    "protocols_device_list_success.json",
    "protocols_error_400_device_id.json",
    "protocols_error_400_malformed.json",
    "protocols_error_403.json",
    "protocols_error_404.json",
    "protocols_notification_insert_push.json",
    "protocols_notification_subscribe_request.json",
    "protocols_notification_subscribe_success.json",
    "protocols_notification_unsubscribe_request.json",
    "protocols_server_info_request.json",
    "protocols_server_info_success.json",
    "protocols_token_refresh_request.json",
    "protocols_token_refresh_success.json",
    "protocols_token_request.json",
    "protocols_token_success.json",
}
# aiohttp re-arms its heartbeat timer when the hub's close reply arrives after the read loop
# ended on SessionClosed/InvalidAuth (HubClient.close() then waits for that reply); reported.
REQUEST_SAMPLES = sorted(name for name in SAMPLES if name.endswith("_request.json"))


def sample(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def sample_json(name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(sample(name))
    return value


def jwt(claims: dict[str, Any]) -> str:
    """An unsigned-looking JWT carrying these claims (the client never verifies)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256'})}.{part(claims)}.signature"


async def until(condition: Callable[[], object]) -> None:
    """Wait up to 5 s for a condition to hold."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    pytest.fail("condition never held")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def out() -> Recorder:
    return Recorder()


@pytest.fixture
def client(session: aiohttp.ClientSession, out: Recorder) -> DeviceHiveClient:
    """A client that is never connected: frames are fed to handle_text directly."""
    config = {"url": "wss://hive.example.com/api/websocket", "token": "t"}
    return DeviceHiveClient.from_config(session, out.append, config)


def pending(client: DeviceHiveClient, request_id: str, action: str) -> asyncio.Future[Any]:
    """Make the client wait for a reply, as _call does."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    client._inflight[request_id] = action
    client._pending[request_id] = future
    return future


# --- configuration ---


async def test_from_config(client: DeviceHiveClient, session: aiohttp.ClientSession) -> None:
    assert client._url.human_repr() == "wss://hive.example.com/api/websocket"
    assert client._verify_ssl is True
    assert client.timing == Timing(ws_heartbeat=60.0)
    assert client_class("devicehive") is DeviceHiveClient
    assert simulator_class("devicehive") is DeviceHiveSimulator
    config = {
        "url": "https://hive.example.com:8443/api/websocket",
        "username": "u",
        "password": "p",
        "verify_ssl": False,
    }
    hub = DeviceHiveClient.from_config(session, print, config)
    assert str(hub._url) == "wss://hive.example.com:8443/api/websocket"
    assert hub._login == ("u", "p")
    assert hub._verify_ssl is False


@pytest.mark.parametrize(
    "config",
    [
        {"url": "wss://host/api/websocket"},
        {"url": "wss://host/api/websocket", "username": "u"},
        {"url": "ftp://host/api/websocket", "token": "t"},
        {"url": "/api/websocket", "token": "t"},
    ],
)
async def test_from_config_rejects(session: aiohttp.ClientSession, config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="DeviceHive"):
        DeviceHiveClient.from_config(session, print, config)


async def test_account_fallbacks(client: DeviceHiveClient, session: aiohttp.ClientSession) -> None:
    """Without a user id in the token: the login name, else one account per server."""
    client._access = "opaque"
    assert client._account() == "token"
    config = {"url": "ws://hive:8080/dh/websocket", "username": "alice", "password": "p"}
    hub = DeviceHiveClient.from_config(session, print, config)
    assert hub._account() == "alice"
    assert hub._authority() == "hive:8080"


# --- tokens ---


@pytest.mark.parametrize(
    ("claims", "kind"),
    [
        ({"payload": {"u": 1, "e": 1, "t": 0}}, TokenType.REFRESH),
        ({"payload": {"u": 1, "e": 1, "t": 1}}, TokenType.ACCESS),
        ({"payload": {"userId": 1, "tokenType": "REFRESH"}}, TokenType.REFRESH),
        ({"tpc": "access"}, TokenType.ACCESS),
        ({"type": "refresh", "payload": {"t": 1}}, TokenType.REFRESH),
        ({"payload": {"u": 1}}, None),
        ({"payload": {"t": True}}, None),
        ({"payload": "x"}, None),
    ],
)
def test_token_type(claims: dict[str, Any], kind: TokenType | None) -> None:
    assert devicehive._token_type(jwt(claims)) is kind


@pytest.mark.parametrize("token", ["opaque", "a.b", "a.!!!.c", "a.W10.c", "a.bm90IGpzb24.c"])
def test_token_without_readable_claims(token: str) -> None:
    assert devicehive._token_type(token) is None
    assert devicehive._token_expiry(token) is None
    assert devicehive._token_subject(token) is None


@pytest.mark.parametrize(
    ("claims", "expiry"),
    [
        ({"exp": 1700000000, "payload": {"e": 1}}, 1700000000.0),
        ({"payload": {"e": 1700000000123}}, 1700000000.123),
        ({"payload": {"expiration": 1700000000}}, 1700000000.0),
        ({"exp": True, "payload": {"e": "soon"}}, None),
    ],
)
def test_token_expiry(claims: dict[str, Any], expiry: float | None) -> None:
    assert devicehive._token_expiry(jwt(claims)) == expiry


@pytest.mark.parametrize(
    ("claims", "subject"),
    [
        ({"sub": "alice", "payload": {"u": 1}}, "alice"),
        ({"payload": {"u": 7}}, "7"),
        ({"payload": {"userId": 8}}, "8"),
        ({"payload": {"u": ""}}, None),
        ({"payload": {"u": [1]}}, None),
    ],
)
def test_token_subject(claims: dict[str, Any], subject: str | None) -> None:
    assert devicehive._token_subject(jwt(claims)) == subject


# --- the samples in protocols.md 4.2 ---


def test_every_sample_is_stored() -> None:
    assert {path.name for path in FIXTURES.iterdir()} == SAMPLES


@pytest.mark.parametrize("name", [*REQUEST_SAMPLES, "protocols_command_update_by_device.json"])
async def test_client_frames_are_unmatched_replies(
    client: DeviceHiveClient, out: Recorder, name: str
) -> None:
    """What clients and devices send carries a requestId nobody here waits for."""
    client.handle_text(sample(name))
    assert client.stats.dropped == {"unmatched": 1}
    assert out == []


async def test_notification_insert_sample(client: DeviceHiveClient, out: Recorder) -> None:
    client.handle_text(sample("protocols_notification_insert_push.json"))
    when = datetime(2018, 5, 25, 9, 52, 54, 123000, tzinfo=UTC)
    assert out == [
        DeviceUpdate(
            "dev-1",
            position=Position(50.45, 30.52, time=when),
            values={Field.BATTERY: 87},
            channels=CHANNELS,
        ),
        HubNotice(
            "notification",
            "notification",
            "dev-1",
            {
                "name": "gps",
                "parameters": {"lat": 50.45, "lng": 30.52, "battery": 87},
                "id": 123,
                "timestamp": "2018-05-25T09:52:54.123",
            },
        ),
    ]
    assert client._since == (when, "2018-05-25T09:52:54.123")
    client.handle_text(sample("protocols_notification_insert_push.json"))
    assert len(out) == 2
    assert client.stats.dropped == {"duplicate": 1}


async def test_device_list_sample(client: DeviceHiveClient, out: Recorder) -> None:
    reply = pending(client, "9", "device/list")
    client.handle_text(sample("protocols_device_list_success.json"))
    client._emit_snapshot(await reply)
    assert out == [
        FleetSnapshot(
            (
                DeviceUpdate(
                    "dev-1",
                    name="Car",
                    manufacturer="DeviceHive",
                    values={Field.ONLINE: True},
                    extras={"networkId": 1, "isBlocked": False},
                    channels=CHANNELS,
                ),
            )
        )
    ]


async def test_server_info_sample(client: DeviceHiveClient) -> None:
    reply = pending(client, "4", "server/info")
    client.handle_text(sample("protocols_server_info_success.json"))

    async def call(action: str, fields: Any = None, **_: Any) -> dict[str, Any]:
        assert action == "server/info"
        result: dict[str, Any] = await reply
        return result

    client._call = call  # type: ignore[method-assign]
    client._access = jwt({"payload": {"u": 1, "t": 1}})
    assert await client._server_info() == HubInfo(
        unique_id="hive.example.com:1",
        title="DeviceHive hive.example.com",
        manufacturer="DataArt",
        model="DeviceHive",
        version="3.5.0",
    )
    assert client._since == (
        datetime(2018, 5, 25, 9, 52, 54, 123000, tzinfo=UTC),
        "2018-05-25T09:52:54.123",
    )


@pytest.mark.parametrize(
    ("name", "request_id", "action"),
    [
        ("protocols_authenticate_success.json", "1", "authenticate"),
        ("protocols_token_success.json", "2", "token"),
        ("protocols_token_refresh_success.json", "3", "token/refresh"),
        ("protocols_notification_subscribe_success.json", "5", "notification/subscribe"),
        ("protocols_command_insert_success.json", "7", "command/insert"),
    ],
)
async def test_reply_samples_resolve_their_request(
    client: DeviceHiveClient, name: str, request_id: str, action: str
) -> None:
    reply = pending(client, request_id, action)
    client.handle_text(sample(name))
    assert await reply == sample_json(name)
    assert client.stats.dropped == {}


async def test_command_insert_sample_gives_the_id(client: DeviceHiveClient) -> None:
    reply = pending(client, "7", "command/insert")
    client.handle_text(sample("protocols_command_insert_success.json"))
    assert devicehive._as_int((await reply)["command"]["id"]) == 456


async def test_authenticate_error_sample_while_signing_in(client: DeviceHiveClient) -> None:
    reply = pending(client, "1", "authenticate")
    client.handle_text(sample("protocols_authenticate_error.json"))
    with pytest.raises(InvalidAuth):
        await reply


async def test_authenticate_error_sample_ends_a_session(client: DeviceHiveClient) -> None:
    client._established = True
    reply = pending(client, "1", "authenticate")
    with pytest.raises(SessionClosed):
        client.handle_text(sample("protocols_authenticate_error.json"))
    with pytest.raises(CommandFailed) as failed:
        await reply
    assert failed.value.code == 401


@pytest.mark.parametrize("action", ["token", "token/refresh"])
async def test_renewal_rejected_ends_a_session(client: DeviceHiveClient, action: str) -> None:
    client._established = True
    reply = pending(client, "1", action)
    with pytest.raises(InvalidAuth):
        client.handle_text(sample("protocols_authenticate_error.json"))
    with pytest.raises(InvalidAuth):
        await reply


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("protocols_error_403.json", 403),
        ("protocols_error_404.json", 404),
        ("protocols_error_400_device_id.json", 400),
        ("protocols_error_400_malformed.json", 400),
    ],
)
async def test_error_samples(client: DeviceHiveClient, name: str, code: int) -> None:
    """Without requestId they are skipped; as a reply they fail the request with their code."""
    client.handle_text(sample(name))
    assert client.stats.dropped == {"error": 1}
    reply = pending(client, "3", "command/insert")
    client.handle_text(json.dumps({**sample_json(name), "requestId": "3", "status": "error"}))
    with pytest.raises(CommandFailed) as failed:
        await reply
    assert failed.value.code == code
    assert str(failed.value) == f"DeviceHive: {sample_json(name)['error']}"


async def test_command_update_sample(client: DeviceHiveClient) -> None:
    client.handle_text(sample("protocols_command_update_push.json"))
    kept = client._updates[456]
    assert (kept["status"], kept["result"]) == ("done", {"ok": True})
    assert await client._command_outcome(456) is kept
    assert 456 not in client._updates
    waiter = asyncio.ensure_future(client._command_outcome(456))
    await until(lambda: ("command", 456) in client._pending)
    client.handle_text(sample("protocols_command_update_push.json"))
    assert devicehive._command_result(456, await waiter) == {
        "id": 456,
        "status": "done",
        "result": {"ok": True},
    }


async def test_command_insert_push_sample_is_not_json(client: DeviceHiveClient) -> None:
    client.handle_text(sample("protocols_command_insert_push.txt"))
    assert client.stats.dropped == {"json": 1}


# --- hostile and odd frames ---


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "json"),
        ("[1, 2]", "shape"),
        ('{"action": "notification/insert"}', "notification"),
        (
            '{"action": "notification/insert", "notification": {"notification": "gps"}}',
            "notification",
        ),
        ('{"action": "notification/insert", "notification": {"deviceId": "d"}}', "notification"),
        ('{"action": "command/update", "command": {"status": "done"}}', "command"),
        ('{"action": "command/update", "command": [1]}', "command"),
        ('{"action": "command/insert", "command": {"id": 1}}', "unknown"),
        ('{"action": "authenticate", "status": "success"}', "unknown"),
        ('{"status": "error", "code": 401, "error": "Invalid credentials"}', "error"),
    ],
)
async def test_bad_frames_are_counted(
    client: DeviceHiveClient, out: Recorder, frame: str, reason: str
) -> None:
    client.handle_text(frame)
    assert client.stats.dropped == {reason: 1}
    assert out == []


async def test_binary_frames_are_skipped(client: DeviceHiveClient) -> None:
    client.handle_binary(b"\x00")
    assert client.stats.dropped == {"binary": 1}


async def test_unsolicited_401_ends_a_session(client: DeviceHiveClient) -> None:
    client._established = True
    with pytest.raises(SessionClosed):
        client.handle_text('{"status": "error", "code": 401, "error": "Invalid credentials"}')


async def test_odd_reply_status(client: DeviceHiveClient) -> None:
    reply = pending(client, "1", "device/list")
    client.handle_text('{"action": "device/list", "requestId": 1, "status": "maybe"}')
    with pytest.raises(CommandFailed) as failed:
        await reply
    assert failed.value.code == "protocol"


def notification(parameters: Any, name: str = "gps", **fields: Any) -> str:
    item = {"id": fields.pop("id", 1), "notification": name, "deviceId": "d1"}
    item |= {"timestamp": "2024-01-02T03:04:05.678", "parameters": parameters, **fields}
    return json.dumps({"action": "notification/insert", "subscriptionId": 5, "notification": item})


async def test_notification_conventions(client: DeviceHiveClient, out: Recorder) -> None:
    parameters = {
        "latitude": "48.1",
        "longitude": 11.5,
        "accuracy": 4,
        "speed": 52.5,
        "heading": 270,
        "altitude": 519,
        "battery": "n/a",
    }
    client.handle_text(notification(parameters, timestamp="2024-01-02T04:04:05+01:00"))
    update = out.of(DeviceUpdate)[0]
    assert update.position == Position(
        48.1,
        11.5,
        time=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        speed=52.5,
        heading=270,
        altitude=519,
        accuracy=4,
    )
    assert update.values == {Field.BATTERY: None}
    assert update.channels == CHANNELS
    assert update.name is None


@pytest.mark.parametrize(
    "parameters",
    [
        {"lat": 91, "lng": 0},
        {"lat": 0, "lng": -181},
        {"lat": "nan", "lng": 0},
        {"lat": True, "lng": 0},
        {"lat": [1], "lng": 0},
        {"lat": "north", "lng": 0},
        {"lat": 1},
        {"temperature": 21},
        "free text",
    ],
)
async def test_notification_without_measurements(
    client: DeviceHiveClient, out: Recorder, parameters: Any
) -> None:
    """Only the notice goes out; the raw parameters travel with it."""
    client.handle_text(notification(parameters, timestamp="yesterday", id=None))
    assert out == [
        HubNotice(
            "notification",
            "notification",
            "d1",
            {"name": "gps", "parameters": parameters, "id": None, "timestamp": "yesterday"},
        )
    ]
    assert client._since is None


async def test_notification_ids_are_remembered_within_a_bound(
    client: DeviceHiveClient, out: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devicehive, "SEEN_IDS", 2)
    for notification_id in (1, 2, 3, 1, 3, True, True):
        client.handle_text(notification({}, id=notification_id))
    assert [notice.attributes["id"] for notice in out.of(HubNotice)] == [1, 2, 3, 1, True, True]
    assert client.stats.dropped == {"duplicate": 1}


async def test_latest_timestamp_is_kept(client: DeviceHiveClient) -> None:
    client.handle_text(notification({}, id=1, timestamp="2024-01-02T00:00:02.000"))
    client.handle_text(notification({}, id=2, timestamp="2024-01-02T00:00:01.000"))
    assert client._since is not None
    assert client._since[1] == "2024-01-02T00:00:02.000"


async def test_device_notifications(client: DeviceHiveClient, out: Recorder) -> None:
    client.handle_text(notification({"status": "Offline"}, name="$device-update"))
    record = {"id": "d1", "name": "Van", "status": None, "networkId": None, "isBlocked": True}
    client.handle_text(notification(record, name="$device-add", id=2))
    assert out.of(DeviceUpdate) == [
        DeviceUpdate(
            "d1",
            manufacturer="DeviceHive",
            values={Field.ONLINE: False},
            channels=CHANNELS,
        ),
        DeviceUpdate(
            "d1",
            name="Van",
            manufacturer="DeviceHive",
            values={Field.ONLINE: None},
            extras={"isBlocked": True},
            channels=CHANNELS,
        ),
    ]
    assert [notice.attributes["name"] for notice in out.of(HubNotice)] == [
        "$device-update",
        "$device-add",
    ]


async def test_snapshot_skips_bad_records(client: DeviceHiveClient, out: Recorder) -> None:
    client._emit_snapshot({"devices": [{"id": "a"}, {"name": "no id"}, "junk", {"id": ""}]})
    assert out == [
        FleetSnapshot((DeviceUpdate("a", manufacturer="DeviceHive", channels=CHANNELS),))
    ]
    assert client.stats.dropped == {"device": 3}
    with pytest.raises(ProtocolError):
        client._emit_snapshot({"devices": None})


async def test_command_updates_are_kept_within_a_bound(
    client: DeviceHiveClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devicehive, "KEPT_UPDATES", 2)
    for command_id in (1, "2", 3, 1):
        frame = {"action": "command/update", "command": {"id": command_id, "status": "done"}}
        client.handle_text(json.dumps(frame))
    assert list(client._updates) == [3, 1]


@pytest.mark.parametrize(
    ("status", "code"), [("failed", "failed"), ("Error", "Error"), ("timeout", "timeout")]
)
def test_command_failure_statuses(status: str, code: str) -> None:
    with pytest.raises(CommandFailed, match="device error") as failed:
        devicehive._command_result(1, {"status": status, "result": {"error": "device error"}})
    assert failed.value.code == code


def test_small_parsers() -> None:
    assert devicehive._as_int("12") == 12
    assert devicehive._as_int(True) is None
    assert devicehive._as_int("x") is None
    assert devicehive._as_int(1.5) is None
    assert devicehive._lifetime(0.2) == 1
    assert devicehive._lifetime(60) == 60
    assert devicehive._lifetime(60.1) == 61
    assert devicehive._parse_time("2024-01-02T03:04:05Z") == datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=UTC
    )


async def test_commands_need_a_connection(client: DeviceHiveClient) -> None:
    with pytest.raises(CannotConnect):
        await client.send_command("dev-1", "reboot", {}, 1)


async def test_renewal_retries_after_other_errors(
    client: DeviceHiveClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client._refresh = "refresh"
    client._renew_at = asyncio.get_running_loop().time() + 1000
    delays: list[float] = []

    async def fail() -> None:
        raise ProtocolError("odd")

    monkeypatch.setattr(client, "_renew_tokens", fail)
    monkeypatch.setattr(client, "_schedule_renewal", delays.append)
    await client._renew_later(0)
    assert delays == [devicehive.RENEW_RETRY]


async def test_renewal_needs_a_way(client: DeviceHiveClient) -> None:
    client._token = None
    with pytest.raises(SessionClosed):
        await client._renew_tokens()


async def test_renewal_delay(client: DeviceHiveClient) -> None:
    now = asyncio.get_running_loop().time()
    client._renew_at = now + 1800
    assert client._renew_delay() == pytest.approx(1740, abs=1)
    client._renew_at = now + 2
    assert client._renew_delay() == pytest.approx(1.6, abs=0.1)
    client._renew_at = now - 5
    assert client._renew_delay() == devicehive.MIN_RENEW_DELAY
    client._use_access(jwt({"exp": 1}))  # in the past: assume a full lifetime
    assert client._renew_at - now == pytest.approx(devicehive.ACCESS_LIFETIME, abs=1)


# --- against the simulator ---


@pytest.fixture
async def simulator(socket_enabled: None) -> AsyncIterator[DeviceHiveSimulator]:
    async with DeviceHiveSimulator(devices=3) as sim:
        yield sim


@contextlib.asynccontextmanager
async def hub(
    simulator: DeviceHiveSimulator,
    session: aiohttp.ClientSession,
    out: Recorder,
    timing: Timing | None = None,
    **config: Any,
) -> AsyncIterator[DeviceHiveClient]:
    if not config:
        config = {"username": simulator.login, "password": simulator.password}
    client = DeviceHiveClient.from_config(
        session, out.append, {"url": simulator.url, **config}, timing=timing
    )
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def connected(
    simulator: DeviceHiveSimulator, session: aiohttp.ClientSession, out: Recorder
) -> AsyncIterator[DeviceHiveClient]:
    async with hub(simulator, session, out) as client:
        await client.connect()
        yield client


def sent(simulator: DeviceHiveSimulator, action: str | None = None) -> list[dict[str, Any]]:
    frames = [json.loads(text) for text in simulator.received]
    return [frame for frame in frames if action is None or frame["action"] == action]


async def test_connect_with_login(
    simulator: DeviceHiveSimulator, session: aiohttp.ClientSession, out: Recorder
) -> None:
    async with hub(simulator, session, out) as client:
        info = await client.connect()
    assert info == HubInfo(
        unique_id=f"127.0.0.1:{simulator.port}:1",
        title="DeviceHive 127.0.0.1",
        manufacturer="DataArt",
        model="DeviceHive",
        version="3.5.0",
    )
    snapshot = out.of(FleetSnapshot)[0]
    assert [device.device_id for device in snapshot.devices] == ["dev-1", "dev-2", "dev-3"]
    assert snapshot.devices[0] == DeviceUpdate(
        "dev-1",
        name="Tracker 1",
        manufacturer="DeviceHive",
        values={Field.ONLINE: True},
        extras={"networkId": 1, "isBlocked": False},
        channels=CHANNELS,
    )
    actions = [frame["action"] for frame in sent(simulator)]
    assert actions[:5] == [
        "token",
        "authenticate",
        "server/info",
        "device/list",
        "notification/subscribe",
    ]
    assert [frame["requestId"] for frame in sent(simulator)] == [str(n) for n in range(1, 6)]
    token_request = sent(simulator, "token")[0]
    assert token_request == {**sample_json("protocols_token_request.json"), "requestId": "1"}
    subscribe = sent(simulator, "notification/subscribe")
    assert "deviceId" not in subscribe[0]
    assert "timestamp" in subscribe[0]  # from server/info: nothing slips between list and subscribe


@pytest.mark.parametrize("kind", ["access", "refresh", "untyped refresh"])
async def test_connect_with_tokens(
    simulator: DeviceHiveSimulator,
    session: aiohttp.ClientSession,
    out: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    token = simulator.access_token if kind == "access" else simulator.refresh_token
    if kind == "untyped refresh":
        monkeypatch.setattr(devicehive, "_token_type", lambda _token: None)
    async with hub(simulator, session, out, token=token) as client:
        info = await client.connect()
    assert info.unique_id == f"127.0.0.1:{simulator.port}:1"
    actions = [frame["action"] for frame in sent(simulator)][:3]
    expected = {
        "access": ["authenticate", "server/info", "device/list"],
        "refresh": ["token/refresh", "authenticate", "server/info"],
        "untyped refresh": ["authenticate", "token/refresh", "authenticate"],
    }
    assert actions == expected[kind]


@pytest.mark.parametrize(
    "config",
    [
        {"username": "dhadmin", "password": "wrong"},
        {"token": "opaque"},
        {"token": "expired"},
        {"token": "forged"},
    ],
)
async def test_connect_rejected(
    simulator: DeviceHiveSimulator,
    session: aiohttp.ClientSession,
    out: Recorder,
    config: dict[str, Any],
) -> None:
    if config.get("token") == "expired":
        config = {"token": simulator.issue_token(lifetime=-1)}
    if config.get("token") == "forged":
        config = {"token": jwt({"payload": {"t": 1}})}
    async with hub(simulator, session, out, **config) as client:
        with pytest.raises(InvalidAuth):
            await client.connect()
        assert not client.connected
    assert out == []


async def test_connect_revoked(
    simulator: DeviceHiveSimulator, session: aiohttp.ClientSession, out: Recorder
) -> None:
    simulator.revoke_credentials()
    async with hub(simulator, session, out) as client:
        with pytest.raises(InvalidAuth):
            await client.connect()
    simulator.restore_credentials()
    async with hub(simulator, session, out) as client:
        await client.connect()


async def test_connect_refused(socket_enabled: None, session: aiohttp.ClientSession) -> None:
    config = {"url": "ws://127.0.0.1:1/api/websocket", "token": "t"}
    client = DeviceHiveClient.from_config(session, print, config)
    with pytest.raises(CannotConnect):
        await client.connect()


async def test_connect_without_answer(
    simulator: DeviceHiveSimulator,
    session: aiohttp.ClientSession,
    out: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(DeviceHiveClient, "request_timeout", 0.2)
    simulator.stop_answering()
    async with hub(simulator, session, out) as client:
        with pytest.raises(CannotConnect):
            await client.connect()


async def test_connect_odd_answers(
    simulator: DeviceHiveSimulator,
    session: aiohttp.ClientSession,
    out: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_info(_conn: Any, _message: Any) -> dict[str, Any]:
        return {}

    async def no_token(_conn: Any, _message: Any) -> dict[str, Any]:
        return {"accessToken": None}

    async def refuse(_conn: Any, _message: Any) -> dict[str, Any]:
        raise Reject(403, "Access is denied")

    async def fail(_conn: Any, _message: Any) -> dict[str, Any]:
        raise Reject(500, "Internal error")

    for action, handler, error in (
        ("server/info", no_info, ProtocolError),
        ("token", no_token, ProtocolError),
        ("device/list", fail, ProtocolError),
        ("device/list", refuse, InvalidAuth),  # a token without the permission: reauth
    ):
        handlers = simulator._handlers()
        handlers[action] = handler
        with monkeypatch.context() as patch:
            patch.setattr(simulator, "_handlers", lambda handlers=handlers: handlers)
            async with hub(simulator, session, out) as client:
                with pytest.raises(error):
                    await client.connect()


async def test_pushed_events(
    connected: DeviceHiveClient, simulator: DeviceHiveSimulator, out: Recorder
) -> None:
    await out.next(FleetSnapshot)
    sent_notification = await simulator.notify(
        "dev-1", "gps", {"lat": 50.5, "lng": 30.6, "speed": 30, "battery": 55}
    )
    update = await out.next(DeviceUpdate)
    assert update.position is not None
    assert (update.position.latitude, update.position.longitude) == (50.5, 30.6)
    assert update.position.speed == 30
    assert update.values == {Field.BATTERY: 55}
    notice = await out.next(HubNotice)
    assert notice.attributes["id"] == sent_notification["id"]
    assert notice.attributes["timestamp"] == sent_notification["timestamp"]
    await simulator.set_online("dev-2", False)
    update = await out.next(DeviceUpdate)
    assert (update.device_id, update.values) == ("dev-2", {Field.ONLINE: False})
    new_id = await simulator.add_device(name="Bus")
    update = await out.next(DeviceUpdate)
    assert (update.device_id, update.name, update.values) == (new_id, "Bus", {Field.ONLINE: True})


async def test_commands(connected: DeviceHiveClient, simulator: DeviceHiveSimulator) -> None:
    first = await connected.send_command("dev-1", "reboot", {"delay": 5}, 60)
    assert first == {"id": 1, "status": "done", "result": {"ok": True}}
    insert = sent(simulator, "command/insert")[0]
    expected = sample_json("protocols_command_insert_request.json")
    assert insert == {**expected, "requestId": insert["requestId"]}
    results = await asyncio.gather(
        connected.send_command("dev-1", "beep", {}, 5),
        connected.send_command("dev-1", "light", {"on": True}, 5),
    )
    assert [result["id"] for result in results] == [2, 3]
    assert simulator.commands[3]["parameters"] == {"on": True}
    assert len(sent(simulator, "command/subscribe")) == 1
    assert sent(simulator, "command/subscribe")[0]["returnUpdatedCommands"] is True


async def test_command_failures(
    connected: DeviceHiveClient, simulator: DeviceHiveSimulator
) -> None:
    with pytest.raises(CommandFailed, match="device error") as failed:
        await connected.send_command("dev-2", "reboot", {}, 5)
    assert failed.value.code == "failed"
    with pytest.raises(CommandFailed) as failed:
        await connected.send_command("dev-3", "reboot", {}, 0.3)
    assert failed.value.code == "timeout"
    assert simulator.commands[2]["lifetime"] == 1
    with pytest.raises(CommandFailed, match="deviceId = nope not found") as failed:
        await connected.send_command("nope", "reboot", {}, 5)
    assert failed.value.code == 404
    await simulator.set_online("dev-1", False)
    with pytest.raises(CommandFailed) as failed:
        await connected.send_command("dev-1", "reboot", {}, 0.3)
    assert failed.value.code == "timeout"
    count = len(simulator.received)
    with pytest.raises(CommandFailed) as failed:
        await connected.send_command("dev-1", "upload", {"blob": "x" * 10_240}, 5)
    assert failed.value.code == "too_large"
    with pytest.raises(CommandFailed) as failed:
        await connected.send_command("dev-1", "upload", {"blob": {1, 2}}, 5)
    assert failed.value.code == "invalid"
    assert len(simulator.received) == count
    assert connected.connected


async def test_command_progress_and_odd_insert_reply(
    connected: DeviceHiveClient, simulator: DeviceHiveSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.set_behaviour("dev-1", "silent")
    task = asyncio.ensure_future(connected.send_command("dev-1", "update", {}, 5))
    await until(lambda: 1 in simulator.commands and ("command", 1) in connected._pending)
    await simulator._finish(simulator.commands[1], "In Progress", None)
    await asyncio.sleep(0.05)
    assert not task.done()
    await simulator._finish(simulator.commands[1], "done", {"version": 2})
    assert await task == {"id": 1, "status": "done", "result": {"version": 2}}

    async def no_id(_conn: Any, _message: Any) -> dict[str, Any]:
        return {"command": {}}

    handlers = simulator._handlers()
    handlers["command/insert"] = no_id
    monkeypatch.setattr(simulator, "_handlers", lambda: handlers)
    with pytest.raises(CommandFailed) as failed:
        await connected.send_command("dev-1", "reboot", {}, 5)
    assert failed.value.code == "protocol"


async def test_connection_drop(connected: DeviceHiveClient, simulator: DeviceHiveSimulator) -> None:
    await simulator.drop_connections()
    with pytest.raises(CannotConnect):
        await connected.run()
    with pytest.raises(CannotConnect):
        await connected.send_command("dev-1", "reboot", {}, 1)


async def test_drop_while_waiting_for_a_command(
    connected: DeviceHiveClient, simulator: DeviceHiveSimulator
) -> None:
    task = asyncio.ensure_future(connected.send_command("dev-3", "reboot", {}, 5))
    await until(lambda: ("command", 1) in connected._pending)
    await simulator.drop_connections()
    with pytest.raises(CannotConnect):
        await task
    assert connected._commands_subscribed is False


async def test_silence_detected(
    simulator: DeviceHiveSimulator, session: aiohttp.ClientSession, out: Recorder
) -> None:
    async with hub(simulator, session, out, timing=Timing(ws_heartbeat=0.3)) as client:
        await client.connect()
        simulator.stop_answering()
        with pytest.raises(CannotConnect):
            async with asyncio.timeout(5):
                await client.run()


async def test_junk_from_the_server(
    connected: DeviceHiveClient, simulator: DeviceHiveSimulator
) -> None:
    await simulator.push("garbage")
    await simulator.push({"action": "command/insert", "subscriptionId": 1, "command": {"id": 9}})
    await until(lambda: sum(connected.stats.dropped.values()) == 2)
    assert connected.stats.dropped == {"json": 1, "unknown": 1}
    assert connected.connected


async def test_session_closed_when_the_access_token_expires(
    session: aiohttp.ClientSession, out: Recorder, socket_enabled: None
) -> None:
    async with (
        DeviceHiveSimulator(devices=3, access_lifetime=0.6) as simulator,
        hub(simulator, session, out, token=simulator.access_token) as client,
    ):
        await client.connect()
        with pytest.raises(SessionClosed, match="expired"):
            async with asyncio.timeout(5):
                await client.run()  # a plain access token cannot be renewed
        with pytest.raises(CannotConnect):
            await client.send_command("dev-1", "reboot", {}, 5)
    assert out.of(HubNotice) == []


async def test_session_closed_when_revoked(
    connected: DeviceHiveClient, simulator: DeviceHiveSimulator
) -> None:
    simulator.revoke_credentials()
    with pytest.raises(CommandFailed):
        await connected.send_command("dev-1", "reboot", {}, 5)
    with pytest.raises(SessionClosed):
        await connected.run()


@pytest.mark.parametrize("credentials", ["login", "refresh"])
async def test_tokens_are_renewed_on_the_same_socket(
    session: aiohttp.ClientSession, out: Recorder, socket_enabled: None, credentials: str
) -> None:
    async with DeviceHiveSimulator(devices=3, access_lifetime=1.0) as simulator:
        config: dict[str, Any] = {}
        if credentials == "refresh":
            config["token"] = simulator.refresh_token
        async with hub(simulator, session, out, **config) as client:
            await client.connect()
            await asyncio.sleep(2.2)
            await simulator.notify("dev-1", "gps", {"battery": 40})
            notice = await out.next(HubNotice)
            assert notice.attributes["parameters"] == {"battery": 40}
            assert await client.send_command("dev-1", "ping", {}, 5)
    assert len(sent(simulator, "token")) == (1 if credentials == "login" else 0)
    assert len(sent(simulator, "token/refresh")) >= (2 if credentials == "login" else 3)
    assert len(sent(simulator, "authenticate")) >= 3
    assert client.stats.connects == 1


async def test_renewal_rejected(
    session: aiohttp.ClientSession, out: Recorder, socket_enabled: None
) -> None:
    async with (
        DeviceHiveSimulator(devices=3, access_lifetime=0.6) as simulator,
        hub(simulator, session, out) as client,
    ):
        await client.connect()
        simulator.revoke_credentials()
        with pytest.raises(InvalidAuth):
            async with asyncio.timeout(5):
                await client.run()


async def test_reconnect_replays_missed_notifications(
    connected: DeviceHiveClient, simulator: DeviceHiveSimulator, out: Recorder
) -> None:
    seen = await simulator.notify("dev-1", "gps", {"battery": 90})
    await out.next(HubNotice)
    await simulator.drop_connections()
    with pytest.raises(CannotConnect):
        await connected.run()
    missed = [await simulator.notify("dev-2", "gps", {"battery": level}) for level in (80, 70)]
    await connected.connect()
    notices = [await out.next(HubNotice), await out.next(HubNotice)]
    assert [notice.attributes["id"] for notice in notices] == [n["id"] for n in missed]
    assert sent(simulator, "notification/subscribe")[-1]["timestamp"] == seen["timestamp"]
    await until(lambda: connected.stats.dropped["duplicate"] == 1)
    await simulator.notify("dev-1", "gps", {"battery": 60})
    assert (await out.next(HubNotice)).attributes["parameters"] == {"battery": 60}
    assert len(out.of(HubNotice)) == 4


async def test_close_stops_the_renewal(connected: DeviceHiveClient) -> None:
    renewal = connected._renewal
    assert renewal is not None
    await connected.close()
    assert renewal.cancelled()
    assert connected._renewal is None


# --- the simulator itself ---


async def test_simulator_speaks_the_samples(
    simulator: DeviceHiveSimulator, session: aiohttp.ClientSession
) -> None:
    """The samples' requests, sent verbatim, get replies shaped like the samples' replies."""
    async with session.ws_connect(simulator.url) as ws:

        async def ask(text: str) -> dict[str, Any]:
            await ws.send_str(text)
            reply: dict[str, Any] = json.loads((await ws.receive()).data)
            return reply

        token = await ask(sample("protocols_token_request.json"))
        assert token.keys() == sample_json("protocols_token_success.json").keys()
        assert token["requestId"] == "2"
        authenticate = sample("protocols_authenticate_request.json")
        reply = await ask(authenticate.replace("<access JWT>", token["accessToken"]))
        assert reply == sample_json("protocols_authenticate_success.json")
        refresh = sample("protocols_token_refresh_request.json")
        reply = await ask(refresh.replace("<jwt>", token["refreshToken"]))
        assert reply.keys() == sample_json("protocols_token_refresh_success.json").keys()
        reply = await ask(refresh.replace("<jwt>", token["accessToken"]))
        assert reply == {
            **sample_json("protocols_authenticate_error.json"),
            "action": "token/refresh",
            "requestId": "3",
        }
        reply = await ask(sample("protocols_server_info_request.json"))
        expected = sample_json("protocols_server_info_success.json")
        assert reply.keys() == expected.keys()
        assert reply["info"].keys() == expected["info"].keys()
        reply = await ask(sample("protocols_notification_subscribe_request.json"))
        assert reply.keys() == sample_json("protocols_notification_subscribe_success.json").keys()
        unsubscribe = json.loads(sample("protocols_notification_unsubscribe_request.json"))
        unsubscribe["subscriptionId"] = reply["subscriptionId"]
        assert (await ask(json.dumps(unsubscribe)))["status"] == "success"
        assert (await ask(json.dumps(unsubscribe)))["code"] == 404
        reply = await ask('{"action": "device/list", "requestId": "9"}')
        device = sample_json("protocols_device_list_success.json")["devices"][0]
        assert set(device) <= set(reply["devices"][0])
        reply = await ask(sample("protocols_command_insert_request.json"))
        expected = sample_json("protocols_command_insert_success.json")
        assert reply.keys() == expected.keys()
        assert reply["command"].keys() == expected["command"].keys()
        reply = await ask("not json")
        assert sample_json("protocols_error_400_malformed.json").items() <= reply.items()
        reply = await ask('{"action": "command/insert", "requestId": 1, "command": {}}')
        assert sample_json("protocols_error_400_device_id.json").items() <= reply.items()
        reply = await ask('{"action": "command/insert", "deviceId": "X", "command": {}}')
        assert sample_json("protocols_error_404.json").items() <= reply.items()
        reply = await ask('{"action": "command/insert", "deviceId": "dev-1", "command": {}}')
        assert reply["code"] == 400
        reply = await ask('{"action": "magic"}')
        assert reply["code"] == 400
        reply = await ask('{"action": "notification/subscribe", "timestamp": "noon"}')
        assert reply["error"] == "Invalid timestamp"


async def test_simulator_device_side(
    simulator: DeviceHiveSimulator, session: aiohttp.ClientSession
) -> None:
    """A device subscribes to commands and answers one with command/update."""
    async with session.ws_connect(simulator.url) as ws:
        await ws.send_json({"action": "device/list", "requestId": 1})
        assert (await ws.receive_json())["error"] == "Unauthorized"
        await ws.send_json({"action": "authenticate", "token": simulator.access_token})
        await ws.receive_json()
        await ws.send_json({"action": "command/subscribe", "deviceId": "dev-3"})
        subscription = (await ws.receive_json())["subscriptionId"]
        await ws.send_json(
            {"action": "command/subscribe", "deviceId": "dev-3", "returnUpdatedCommands": True}
        )
        await ws.receive_json()
        await ws.send_json(
            {"action": "command/insert", "deviceId": "dev-3", "command": {"command": "x"}}
        )
        frames = [await ws.receive_json(), await ws.receive_json()]
        push = next(frame for frame in frames if "subscriptionId" in frame)
        assert (push["action"], push["subscriptionId"]) == ("command/insert", subscription)
        command_id = push["command"]["id"]
        await ws.send_json(
            {
                "action": "command/update",
                "commandId": command_id,
                "command": {"status": "done", "result": {"ok": 1}},
            }
        )
        frames = [await ws.receive_json(), await ws.receive_json()]
        update = next(
            frame for frame in frames if frame["action"] == "command/update" and "command" in frame
        )
        assert update["command"]["result"] == {"ok": 1}
        await ws.send_json({"action": "command/update", "commandId": 999, "command": {}})
        assert (await ws.receive_json())["code"] == 404
        await ws.send_json({"action": "command/unsubscribe", "subscriptionId": subscription})
        assert (await ws.receive_json())["status"] == "success"
        await ws.send_str("x" * 11_000)
        closing = await ws.receive()
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


async def test_simulator_tick_and_rest(
    simulator: DeviceHiveSimulator, session: aiohttp.ClientSession, out: Recorder
) -> None:
    async with session.get(f"{simulator.base_url}/api/rest/info") as response:
        assert (await response.json())["webSocketServerUrl"] == simulator.url
    async with hub(simulator, session, out) as client:
        await client.connect()
        before = dict(simulator.devices["dev-1"].__dict__)
        for _ in range(40):
            await simulator.tick()
        await until(lambda: len(out.of(HubNotice)) >= 40)
    assert simulator.devices["dev-1"].__dict__ != before
    positions = [update.position for update in out.of(DeviceUpdate) if update.position]
    assert positions
    assert all(isinstance(position.time, datetime) for position in positions)
    assert any(update.values.get(Field.ONLINE) is False for update in out.of(DeviceUpdate))
    assert len(simulator.history) >= 40
    simulator.remove_device("dev-1")
    assert "dev-1" not in simulator.devices
    assert DeviceHiveSimulator(devices=1).failing_device is None
    assert simulator.issue_token(REFRESH) != simulator.issue_token()


async def test_simulator_pings(session: aiohttp.ClientSession, socket_enabled: None) -> None:
    async with (
        DeviceHiveSimulator(devices=1, ping_interval=0.05) as simulator,
        session.ws_connect(simulator.url, autoping=False) as ws,
    ):
        message = await ws.receive(timeout=2)
        assert (message.type, message.data) == (aiohttp.WSMsgType.PING, b"devicehive-ping")
