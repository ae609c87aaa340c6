"""DeviceHive client: the protocols.md samples, hostile frames, and the simulator over loopback."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable, Iterator
import contextlib
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
import itertools
import json
import math
from pathlib import Path
import time
from typing import Any

import aiohttp
import pytest

from custom_components.fleet_push.hubs import (
    client_class,
    devicehive,
    devicehive_history,
    devicehive_tokens,
)
from custom_components.fleet_push.hubs.connection import Drop, Timing
from custom_components.fleet_push.hubs.devicehive import DeviceHiveClient
from custom_components.fleet_push.hubs.devicehive_history import Delivered
from custom_components.fleet_push.hubs.devicehive_presence import Presence
from custom_components.fleet_push.hubs.devicehive_tokens import TokenType
from custom_components.fleet_push.hubs.errors import (
    CannotConnect,
    CommandCode,
    CommandFailed,
    HubTimeout,
    InvalidAuth,
    ProtocolError,
)
from custom_components.fleet_push.hubs.model import (
    Category,
    Command,
    DeviceDetails,
    DeviceUpdate,
    Field,
    FleetSnapshot,
    HubInfo,
    HubNotice,
    Position,
)
from tests.hubs.recorder import Recorder
from tests.simulator import simulator_class
from tests.simulator.devicehive import REFRESH, VARIANTS, DeviceHiveSimulator, Reject

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
REQUEST_SAMPLES = sorted(name for name in SAMPLES if name.endswith("_request.json"))
LOGIN_STEPS = [
    "token",
    "authenticate",
    "server/info",
    "network/list",
    "devicetype/list",
    "device/count",
    "device/list",
]
FOLLOWED = ["gps", "n"]
"""The names the notifications of most tests have, chosen as events: those tests follow how
notifications are delivered (once, in order), and every one becomes a HubNotice."""


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


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


async def until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait for a condition to hold."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


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
    return DeviceHiveClient.from_config(
        session, out.append, {**config, "notification_events": FOLLOWED}
    )


@pytest.fixture
def default_client(session: aiohttp.ClientSession, out: Recorder) -> DeviceHiveClient:
    """The same, with no notification names chosen: the default rule decides the events."""
    config = {"url": "wss://hive.example.com/api/websocket", "token": "t"}
    return DeviceHiveClient.from_config(session, out.append, config)


@pytest.fixture
def replies() -> Iterator[ExitStack]:
    """Replies a test makes the client await; no longer awaited when the test ends."""
    with ExitStack() as stack:
        yield stack


def pending(
    replies: ExitStack, client: DeviceHiveClient, request_id: str, action: str
) -> asyncio.Future[Any]:
    """Make the client await the reply to a request, as it does once it sent one."""
    return replies.enter_context(client.awaiting_reply(request_id, action))


def online_values(out: Recorder) -> dict[str, bool | None]:
    """The Online each device shows after everything the client emitted."""
    shown: dict[str, bool | None] = {}
    for message in out:
        updates = message.devices if isinstance(message, FleetSnapshot) else [message]
        for update in updates:
            if isinstance(update, DeviceUpdate) and Field.ONLINE in update.values:
                shown[update.device_id] = update.values[Field.ONLINE]  # type: ignore[assignment]
    return shown


def notice_ids(out: Recorder) -> list[Any]:
    return [notice.attributes["id"] for notice in out.of(HubNotice)]


# --- configuration ---


async def test_from_config(client: DeviceHiveClient, session: aiohttp.ClientSession) -> None:
    assert client.url.human_repr() == "wss://hive.example.com/api/websocket"
    assert client.verify_ssl is True
    assert client.timing == Timing(ws_heartbeat=60.0)
    assert client.offline_after == 15 * 60
    assert client_class("devicehive") is DeviceHiveClient
    assert simulator_class("devicehive") is DeviceHiveSimulator
    config = {
        "url": "https://hive.example.com:8443/api/websocket",
        "username": "u",
        "password": "p",
        "verify_ssl": False,
        "offline_after": 2,
        "notification_events": ["door"],
    }
    hub = DeviceHiveClient.from_config(session, print, config)
    assert str(hub.url) == "wss://hive.example.com:8443/api/websocket"
    assert hub.username == "u"
    assert hub.verify_ssl is False
    assert hub.offline_after == 120
    assert hub.notification_events == {"door"}
    assert client.notification_events == set(FOLLOWED)
    hub.apply_options({"offline_after": 0.5})
    assert hub.offline_after == 30
    for unusable in (0, -1, math.inf, True, "5", None):
        hub.apply_options({"offline_after": unusable})
        assert hub.offline_after == 15 * 60


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
    assert devicehive_tokens.token_type(jwt(claims)) is kind


@pytest.mark.parametrize("token", ["opaque", "a.b", "a.!!!.c", "a.W10.c", "a.bm90IGpzb24.c"])
def test_token_without_readable_claims(token: str) -> None:
    assert devicehive_tokens.token_type(token) is None
    assert devicehive_tokens.token_expiry(token) is None
    assert devicehive_tokens.token_subject(token) is None


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
    assert devicehive_tokens.token_expiry(jwt(claims)) == expiry


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
    assert devicehive_tokens.token_subject(jwt(claims)) == subject


@pytest.mark.parametrize(
    ("action", "code", "refused"),
    [
        ("authenticate", 401, True),
        ("authenticate", 403, True),
        ("authenticate", 500, False),
        ("token", 400, True),
        ("token", 404, True),
        ("token", 500, False),
        ("token/refresh", 400, True),  # "Token is not valid" (the issue's server)
        ("token/refresh", 401, True),  # expired, or an access token
        ("token/refresh", 500, True),  # the Java server's answer to a token it cannot verify
        ("token/refresh", 503, False),  # its auth service is down: try again later
        ("token/refresh", "401", False),
        ("token/refresh", True, False),
    ],
)
def test_which_errors_refuse_credentials(action: str, code: Any, refused: bool) -> None:
    assert devicehive_tokens.refuses_credentials(action, code) is refused


# --- the samples in protocols.md 4.2 ---


def test_every_sample_is_stored() -> None:
    assert {path.name for path in FIXTURES.iterdir()} == SAMPLES


@pytest.mark.parametrize("name", [*REQUEST_SAMPLES, "protocols_command_update_by_device.json"])
async def test_client_frames_are_unmatched_replies(
    client: DeviceHiveClient, out: Recorder, name: str
) -> None:
    """What clients and devices send carries a requestId nobody here waits for."""
    client.handle_text(sample(name))
    assert client.stats.dropped == {Drop.UNMATCHED_REPLY: 1}
    assert out == []


async def test_notification_insert_sample(client: DeviceHiveClient, out: Recorder) -> None:
    """The sample is from 2018: its fix is shown, but it says nothing about being online now."""
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
            "gps",  # chosen: an event, whatever it carries
            "dev-1",
            {
                "parameters": {"lat": 50.45, "lng": 30.52, "battery": 87},
                "id": 123,
                "timestamp": "2018-05-25T09:52:54.123",
            },
        ),
    ]
    client.handle_text(sample("protocols_notification_insert_push.json"))
    assert len(out) == 2
    assert client.stats.dropped == {Drop.DUPLICATE: 1}


async def test_a_sample_that_carries_only_a_position_and_a_battery_is_no_event(
    default_client: DeviceHiveClient, out: Recorder
) -> None:
    default_client.handle_text(sample("protocols_notification_insert_push.json"))
    assert [type(message) for message in out] == [DeviceUpdate]
    assert default_client.notification_names == {"gps"}


async def test_device_list_sample(
    client: DeviceHiveClient, out: Recorder, replies: ExitStack
) -> None:
    """An old server's status wins: the sample's device is online."""
    reply = pending(replies, client, "9", "device/list")
    client.handle_text(sample("protocols_device_list_success.json"))
    (record,) = (await reply)["devices"]
    client.handle_text(notification(record, name="$device-update", device="dev-1"))
    assert out.of(DeviceUpdate) == [
        DeviceUpdate(
            "dev-1",
            DeviceDetails(name="Car", category=Category.TRACKER),
            values={Field.ONLINE: True},
            extras={"networkId": 1, "isBlocked": False},
            channels=CHANNELS,
        )
    ]


async def test_server_info_sample(client: DeviceHiveClient, replies: ExitStack) -> None:
    """The server's clock gives the offset, and the first cursor."""
    reply = pending(replies, client, "4", "server/info")
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
    server = datetime(2018, 5, 25, 9, 52, 54, 123000, tzinfo=UTC).timestamp()
    assert client._offset == pytest.approx(server - time.time(), abs=1)
    assert client._cursor == pytest.approx(server, abs=1)


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
    client: DeviceHiveClient, name: str, request_id: str, action: str, replies: ExitStack
) -> None:
    reply = pending(replies, client, request_id, action)
    client.handle_text(sample(name))
    assert await reply == sample_json(name)
    assert client.stats.dropped == {}


async def test_command_insert_sample_gives_the_id(
    client: DeviceHiveClient, replies: ExitStack
) -> None:
    reply = pending(replies, client, "7", "command/insert")
    client.handle_text(sample("protocols_command_insert_success.json"))
    assert devicehive._as_int((await reply)["command"]["id"]) == 456


@pytest.mark.parametrize("established", [False, True])
@pytest.mark.parametrize("action", ["authenticate", "token", "token/refresh"])
async def test_authenticate_error_sample_refuses_a_sign_in(
    client: DeviceHiveClient, action: str, established: bool, replies: ExitStack
) -> None:
    """While signing in or renewing alike: the request fails, the session is left alone."""
    client._established = established
    reply = pending(replies, client, "1", action)
    client.handle_text(sample("protocols_authenticate_error.json"))
    with pytest.raises(InvalidAuth, match="Invalid credentials"):
        await reply
    assert client._end_error is None


async def test_a_401_to_another_request_ends_an_established_session(
    client: DeviceHiveClient,
    replies: ExitStack,
) -> None:
    """Only a server that checks tokens on every request says so: sign in afresh."""
    reply = pending(replies, client, "1", "device/list")
    client.handle_text(sample("protocols_authenticate_error.json").replace("authenticate", "x"))
    with pytest.raises(CommandFailed):
        await reply
    assert client._end_error is None  # not established yet: the handshake decides
    client._established = True
    reply = pending(replies, client, "2", "device/list")
    client.handle_text(
        json.dumps({**sample_json("protocols_authenticate_error.json"), "requestId": "2"})
    )
    with pytest.raises(CommandFailed) as failed:
        await reply
    assert failed.value.code == 401
    assert isinstance(client._end_error, CannotConnect)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("protocols_error_403.json", 403),
        ("protocols_error_404.json", 404),
        ("protocols_error_400_device_id.json", 400),
        ("protocols_error_400_malformed.json", 400),
    ],
)
async def test_error_samples(
    client: DeviceHiveClient, name: str, code: int, replies: ExitStack
) -> None:
    """Without requestId they are skipped; as a reply they fail the request with their code."""
    client.handle_text(sample(name))
    assert client.stats.dropped == {Drop.HUB_ERROR: 1}
    reply = pending(replies, client, "3", "command/insert")
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
    assert client.stats.dropped == {Drop.NOT_JSON: 1}


# --- hostile and odd frames ---


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", Drop.NOT_JSON),
        ("[1, 2]", Drop.NOT_OBJECT),
        ('{"action": "notification/insert"}', Drop.MALFORMED),
        (
            '{"action": "notification/insert", "notification": {"notification": "gps"}}',
            Drop.MALFORMED,
        ),
        ('{"action": "notification/insert", "notification": {"deviceId": "d"}}', Drop.MALFORMED),
        ('{"action": "command/update", "command": {"status": "done"}}', Drop.MALFORMED),
        ('{"action": "command/update", "command": [1]}', Drop.MALFORMED),
        ('{"action": "command/insert", "command": {"id": 1}}', Drop.UNKNOWN_KIND),
        ('{"action": "authenticate", "status": "success"}', Drop.UNKNOWN_KIND),
        (
            '{"status": "error", "code": 401, "error": "Invalid credentials"}',
            Drop.HUB_ERROR,
        ),
    ],
)
async def test_bad_frames_are_counted(
    client: DeviceHiveClient, out: Recorder, frame: str, reason: str
) -> None:
    client._established = True
    client.handle_text(frame)
    assert client.stats.dropped == {reason: 1}
    assert out == []
    assert client._end_error is None


async def test_binary_frames_are_skipped(client: DeviceHiveClient) -> None:
    client.handle_binary(b"\x00")
    assert client.stats.dropped == {Drop.BINARY: 1}


async def test_odd_reply_status(client: DeviceHiveClient, replies: ExitStack) -> None:
    reply = pending(replies, client, "1", "device/list")
    client.handle_text('{"action": "device/list", "requestId": 1, "status": "maybe"}')
    with pytest.raises(CommandFailed) as failed:
        await reply
    assert failed.value.code == CommandCode.BAD_REPLY


def notification(parameters: Any, name: str = "gps", **fields: Any) -> str:
    item = {"id": fields.pop("id", 1), "notification": name, "deviceId": fields.pop("device", "d1")}
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
    assert update.details.name is None


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
    """The notice goes out with the raw parameters; the device is alive (undated: now)."""
    client.handle_text(notification(parameters, timestamp="yesterday", id=None))
    assert out == [
        DeviceUpdate("d1", values={Field.ONLINE: True}, channels=CHANNELS),
        HubNotice(
            "notification",
            "gps",
            "d1",
            {"parameters": parameters, "id": None, "timestamp": "yesterday"},
        ),
    ]


@pytest.mark.parametrize(
    ("name", "parameters", "event"),
    [
        ("gps", {"lat": 1, "lng": 2, "speed": 3, "heading": 4, "battery": 50}, False),
        ("gps", {"latitude": 1, "longitude": 2, "lon": 2, "altitude": 5, "accuracy": 6}, False),
        ("ping", {}, False),  # only that the device is alive, which Online shows
        ("ping", None, False),
        ("gps", {"lat": 1, "lng": 2, "address": "Main St 1"}, True),  # more than entities show
        ("door", {"open": True}, True),
        ("note", "free text", True),
        ("list", [1, 2], True),
        ("$device-update", {"id": "d1", "name": "Van"}, False),  # the device's record
        ("$device-add", {"id": "d1", "temperature": 3}, False),
        ("", {"door": "open"}, False),  # no name to be an event type
        ("x" * 129, {"door": "open"}, False),  # longer than the server allows
    ],
)
async def test_which_notifications_are_events_by_default(
    default_client: DeviceHiveClient, out: Recorder, name: str, parameters: Any, event: bool
) -> None:
    default_client.handle_text(notification(parameters, name=name))
    attributes = {"parameters": parameters, "id": 1, "timestamp": "2024-01-02T03:04:05.678"}
    expected = [HubNotice("notification", name, "d1", attributes)] if event else []
    assert out.of(HubNotice) == expected


async def test_chosen_names_are_the_events_whatever_they_carry(
    default_client: DeviceHiveClient, out: Recorder
) -> None:
    ids = itertools.count()

    def events_of(*names: str) -> list[str]:
        out.clear()
        for name in names:
            parameters = {"door": "open"} if name == "door" else {"battery": 5}
            default_client.handle_text(notification(parameters, name=name, id=next(ids)))
        return [notice.event_type for notice in out.of(HubNotice)]

    assert events_of("gps", "door", "$device-update") == ["door"]
    default_client.apply_options({"notification_events": [" gps ", "$device-update", "", 5]})
    assert events_of("gps", "door", "$device-update") == ["gps", "$device-update"]
    default_client.apply_options({"notification_events": []})  # none chosen: the default again
    assert events_of("gps", "door") == ["door"]
    default_client.apply_options({"notification_events": "door"})  # not a list: ignored
    assert events_of("gps", "door") == ["door"]
    assert default_client.notification_names == {"gps", "door", "$device-update"}


async def test_names_heard_are_remembered_within_a_bound(
    default_client: DeviceHiveClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devicehive, "MAX_SEEN_NAMES", 2)
    for number, name in enumerate(["a", "b", "c", "a", ""]):
        default_client.handle_text(notification({}, name=name, id=number))
    assert default_client.notification_names == {"a", "b"}


async def test_notifications_are_told_apart_by_device_id_and_time(
    client: DeviceHiveClient, out: Recorder
) -> None:
    """Ids are random numbers: the same id from another device or time is another one."""
    client.handle_text(notification({}, id=7))
    client.handle_text(notification({}, id=7, device="d2"))
    client.handle_text(notification({}, id=7, timestamp="2024-01-02T03:04:05.679"))
    client.handle_text(notification({}, id="7"))
    client.handle_text(notification({}, id=7))
    client.handle_text(notification({}, id=True))
    client.handle_text(notification({}, id=True))
    assert notice_ids(out) == [7, 7, 7, "7", True, True]
    assert client.stats.dropped == {Drop.DUPLICATE: 1}


async def test_device_notifications(client: DeviceHiveClient, out: Recorder) -> None:
    client.handle_text(notification({"status": "Offline"}, name="$device-update"))
    record = {"id": "d1", "name": "Van", "status": None, "networkId": None, "isBlocked": True}
    client.handle_text(notification(record, name="$device-add", id=2))
    client.handle_text(notification({"id": "d1", "isBlocked": False}, name="$device-update", id=3))
    assert out.of(DeviceUpdate) == [
        DeviceUpdate(
            "d1",
            DeviceDetails(category=Category.TRACKER),
            values={Field.ONLINE: False},
            channels=CHANNELS,
        ),
        DeviceUpdate(
            "d1",
            DeviceDetails(name="Van", category=Category.TRACKER),
            values={Field.ONLINE: False},
            extras={"isBlocked": True},
            channels=CHANNELS,
        ),
        DeviceUpdate(
            "d1",
            DeviceDetails(category=Category.TRACKER),
            values={Field.ONLINE: False},  # unblocked, but not heard from
            extras={"isBlocked": False},
            channels=CHANNELS,
        ),
    ]
    assert out.of(HubNotice) == []  # the device's record: what the device and Online show


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
    assert devicehive_history.parse_time("2024-01-02T03:04:05Z") == datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    assert devicehive_history.server_stamp(1704164645.6789) == "2024-01-02T03:04:05.678"
    assert devicehive_history.server_stamp(1e20) is None


def test_device_ids_are_asked_about_in_requests_under_10_kb() -> None:
    many = [f"dev-{number}" for number in range(250)]
    assert [len(chunk) for chunk in devicehive_history.chunks(many)] == [100, 100, 50]
    long = ["x" * 47 + str(number) for number in range(200)]
    chunks = devicehive_history.chunks([*long, "y" * 7000])  # the last one no server would name
    assert sum(map(len, chunks)) == 200
    for chunk in chunks:
        fields = devicehive_history.list_fields(chunk, 1704164645.0, 1704164700.0)
        request = {"action": "notification/list", "requestId": "99999", **fields}
        assert len(json.dumps(request).encode()) < devicehive.MAX_TEXT


def test_list_windows_take_inclusive_and_exclusive_servers() -> None:
    assert devicehive_history.list_fields(["a"], 1704164645.5, None) == {
        "deviceId": "a",
        "start": "2024-01-02T03:04:05.499",
        "take": 200,
        "sortField": "timestamp",
        "sortOrder": "ASC",
    }
    assert devicehive_history.list_fields(["a", "b"], 1704164645.5, 1704164646.0)["deviceIds"] == [
        "a",
        "b",
    ]
    assert devicehive_history.list_fields(["a"], 1704164645.5, 1704164646.0)["end"] == (
        "2024-01-02T03:04:06.001"
    )


def test_a_full_page_is_split_at_its_middle_time() -> None:
    page = [{"timestamp": stamp(datetime.fromtimestamp(second, UTC))} for second in (3, 1, 2)]
    assert devicehive_history.split_time(page, 0, None) == 2
    assert devicehive_history.split_time(page, 2, None) is None  # not inside the window
    assert devicehive_history.split_time(page, 0, 2) is None
    assert devicehive_history.split_time([{"timestamp": "when?"}], 0, None) is None


# --- presence ---


def test_presence_follows_notifications_and_the_timer() -> None:
    presence = Presence(offline_after=60)
    assert presence.record("a", {"id": "a"}, now=1000) is None  # nothing heard yet
    assert presence.changes(now=2000) == []  # and nobody listens: nothing is judged
    presence.listening_since = 1000
    assert presence.heard("a", when=1010, now=1010) is True
    assert presence.heard("a", when=1020, now=1020) is False  # already online
    assert presence.heard("a", when=900, now=1030) is False  # an old one changes nothing
    assert presence.changes(now=1079) == []
    assert presence.changes(now=1080) == [("a", False)]
    assert presence.changes(now=1090) == []  # only transitions
    assert presence.heard("a", when=1100, now=1100) is True


def test_presence_waits_a_whole_period_of_listening_before_offline() -> None:
    presence = Presence(offline_after=60)
    presence.record("quiet", {}, now=0)
    presence.heard("old", when=0, now=0)  # heard before, then nobody listened
    presence.listening_since = 500
    assert presence.heard("replayed", when=400, now=500) is False  # two hours old, say
    assert presence.changes(now=559) == []
    assert sorted(presence.changes(now=560)) == [
        ("old", False),
        ("quiet", False),
        ("replayed", False),
    ]


def test_presence_blocked_and_status() -> None:
    presence = Presence(offline_after=60)
    presence.listening_since = 0
    presence.heard("a", when=10, now=10)
    assert presence.record("a", {"isBlocked": True}, now=11) is False
    assert presence.heard("a", when=12, now=12) is False  # a blocked device is offline
    assert presence.record("a", {"isBlocked": False}, now=13) is True
    assert presence.record("a", {"status": "Offline"}, now=14) is False  # status wins
    assert presence.heard("a", when=15, now=15) is False
    assert presence.record("a", {"status": "online"}, now=200) is True
    assert presence.changes(now=300) == []
    assert presence.record("a", {"status": None}, now=300) is False  # no status: activity
    blocked = {"status": "online", "isBlocked": True}
    assert presence.record("a", blocked, now=301) is False  # blocked wins over a status
    presence.forget_all_but([])
    assert "a" not in presence
    assert presence.devices() == []


def test_delivered_forgets_what_cannot_come_again() -> None:
    delivered = Delivered()
    assert delivered.first_time("old", when=5, cursor=10, now=20) is True
    assert delivered.first_time("old", when=5, cursor=10, now=20) is True  # before the cursor
    assert delivered.first_time("new", when=15, cursor=10, now=20) is True
    assert delivered.first_time("new", when=15, cursor=10, now=21) is False
    assert delivered.first_time("2100", when=4e9, cursor=10, now=20) is True
    assert delivered.first_time("2100", when=4e9, cursor=10, now=20) is False
    assert delivered.first_time("undated", when=None, cursor=10, now=20) is True
    assert delivered.first_time("undated", when=None, cursor=10, now=20) is False
    delivered.forget_before(16)
    assert delivered.first_time("new", when=15, cursor=16, now=22) is True
    assert delivered.first_time("2100", when=4e9, cursor=16, now=22) is False


def test_delivered_keeps_odd_ones_within_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devicehive_history, "ODD_DELIVERED", 2)
    delivered = Delivered()
    for key in ("a", "b", "c"):
        delivered.first_time(key, when=None, cursor=0, now=0)
    assert delivered.first_time("a", when=None, cursor=0, now=0) is True
    assert delivered.first_time("c", when=None, cursor=0, now=0) is False


async def test_a_fresh_notification_turns_a_device_online(
    client: DeviceHiveClient, out: Recorder
) -> None:
    now = datetime.now(UTC)
    client.handle_text(notification({"battery": 50}, timestamp=stamp(now)))
    assert out.of(DeviceUpdate) == [
        DeviceUpdate("d1", values={Field.ONLINE: True, Field.BATTERY: 50}, channels=CHANNELS)
    ]
    client.handle_text(notification({}, timestamp=stamp(now), id=2))
    client.handle_text(notification({}, timestamp="2100-01-01T00:00:00.000", id=3, device="d2"))
    assert online_values(out) == {"d1": True, "d2": True}  # the future counts as now


async def test_a_command_update_shows_its_device_alive(
    client: DeviceHiveClient, out: Recorder
) -> None:
    client.handle_text(notification({"id": "d1"}, name="$device-add"))  # d1 is known
    out.clear()
    now = stamp(datetime.now(UTC))
    for device in ("d1", "unknown"):
        command = {"id": 1, "deviceId": device, "status": "done", "lastUpdated": now}
        client.handle_text(json.dumps({"action": "command/update", "command": command}))
    assert online_values(out) == {"d1": True}


# --- fetching notifications (the server faked) ---


def answering(client: DeviceHiveClient, answer: Callable[[dict[str, Any]], Any]) -> list[Any]:
    """Replace _call with a server that answers notification/list; return the requests."""
    asked: list[Any] = []

    async def call(action: str, fields: Any = None, **_: Any) -> dict[str, Any]:
        assert action == "notification/list"
        asked.append(fields)
        result = answer(fields)
        if isinstance(result, Exception):
            raise result
        return {"notifications": result}

    client._call = call  # type: ignore[method-assign]
    return asked


async def test_an_old_server_is_asked_one_device_at_a_time(client: DeviceHiveClient) -> None:
    def answer(fields: dict[str, Any]) -> Any:
        if "deviceIds" in fields:
            return CommandFailed("DeviceHive: Device id is wrong or empty", code=400)
        return [{"deviceId": fields["deviceId"], "notification": "gps", "id": 1}]

    asked = answering(client, answer)
    found = await client._fetch_since(["a", "b", "c"], 0, every=True)
    assert sorted(item["deviceId"] for item in found) == ["a", "b", "c"]
    assert await client._fetch_since(["d", "e"], 0, every=True)
    assert len(asked) == 1 + 3 + 2  # the refusal once, then each device


async def test_a_device_gone_since_the_list_is_left_out(client: DeviceHiveClient) -> None:
    def answer(fields: dict[str, Any]) -> Any:
        first = (fields.get("deviceIds") or [fields.get("deviceId")])[0]
        if first in ("gone", "also gone"):
            return CommandFailed(f"DeviceHive: deviceId = {first} not found", code=404)
        return [{"deviceId": first, "notification": "gps", "id": 1}]

    asked = answering(client, answer)
    assert await client._fetch_since(["gone", "also gone", "here"], 0, every=True) == [
        {"deviceId": "here", "notification": "gps", "id": 1}
    ]
    assert await client._fetch_since(["gone"], 0, every=True) == []
    assert len(asked) == 4


async def test_other_list_errors_end_the_fetch(client: DeviceHiveClient) -> None:
    answering(client, lambda _fields: CommandFailed("DeviceHive: boom", code=500))
    with pytest.raises(CommandFailed):
        await client._fetch_since(["a", "b"], 0, every=True)

    async def no_list(action: str, fields: Any = None, **_: Any) -> dict[str, Any]:
        return {"notifications": None}

    client._call = no_list  # type: ignore[method-assign]
    with pytest.raises(ProtocolError):
        await client._fetch_since(["a"], 0, every=True)


async def test_one_failing_fetch_cancels_the_others(client: DeviceHiveClient) -> None:
    started: list[asyncio.Task[Any]] = []

    async def slow() -> list[Any]:
        started.append(asyncio.current_task())  # type: ignore[arg-type]
        await asyncio.sleep(10)
        return []

    async def fail() -> list[Any]:
        await asyncio.sleep(0)
        raise CommandFailed("boom")

    with pytest.raises(CommandFailed):
        await client._each([slow(), fail()])
    assert started[0].cancelled()


async def test_a_full_page_within_one_millisecond_is_kept_as_it_is(
    client: DeviceHiveClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devicehive, "NOTIFICATION_PAGE", 3)
    crowd = [
        {"deviceId": "a", "notification": "n", "id": n, "timestamp": "2024-01-02T03:04:05.000"}
        for n in range(3)
    ]
    answering(client, lambda _fields: crowd)
    start = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    assert await client._fetch_since(["a"], start, every=True) == crowd
    assert client.stats.dropped == {Drop.TOO_LARGE: 1}


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
    if not any(key in config for key in ("token", "username")):
        config |= {"username": simulator.login, "password": simulator.password}
    config.setdefault("notification_events", FOLLOWED)
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


async def reconnect(client: DeviceHiveClient, simulator: DeviceHiveSimulator) -> None:
    """Lose the connection; the caller does what happens while away, then connect()s."""
    await simulator.drop_connections()
    with pytest.raises(CannotConnect):
        await client.run()


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
        version=simulator.api_version,
    )
    (snapshot,) = out.of(FleetSnapshot)
    assert snapshot.complete
    assert [device.device_id for device in snapshot.devices] == ["dev-1", "dev-2", "dev-3"]
    assert snapshot.devices[0] == DeviceUpdate(
        "dev-1",
        DeviceDetails(name="Tracker 1", category=Category.TRACKER, group="Couriers"),
        values={Field.ONLINE: True},  # it notified a second ago: the server was asked first
        extras={
            "networkId": 1,
            "isBlocked": False,
            "network": "Couriers",
            "device_type": "GPS tracker",
        },
        channels=CHANNELS,
    )
    assert out == [snapshot]
    actions = [frame["action"] for frame in sent(simulator)]
    assert actions[:11] == [
        *LOGIN_STEPS,
        "notification/list",  # who notified within the offline period
        "notification/subscribe",
        "command/subscribe",
        "notification/list",  # what came between server/info and the subscription
    ]
    assert [frame["requestId"] for frame in sent(simulator)] == [str(n) for n in range(1, 12)]
    assert sent(simulator, "token")[0] == {
        **sample_json("protocols_token_request.json"),
        "requestId": "1",
    }
    assert sent(simulator, "device/list")[0] == {
        "action": "device/list",
        "requestId": "7",
        "take": 100,
        "skip": 0,
        "sortField": "name",
        "sortOrder": "ASC",
    }
    subscribe = sent(simulator, "notification/subscribe")[0]
    assert "deviceId" not in subscribe
    assert "timestamp" in subscribe  # from server/info: nothing slips between list and subscribe
    assert out.of(HubNotice) == []  # the fleet's history is not replayed as events


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
        monkeypatch.setattr(devicehive, "token_type", lambda _token: None)
    async with hub(simulator, session, out, token=token) as client:
        info = await client.connect()
    assert info.unique_id == f"127.0.0.1:{simulator.port}:1"
    actions = [frame["action"] for frame in sent(simulator)][:3]
    expected = {
        "access": ["authenticate", "server/info", "network/list"],
        "refresh": ["token/refresh", "authenticate", "server/info"],
        "untyped refresh": ["authenticate", "token/refresh", "authenticate"],
    }
    assert actions == expected[kind]


@pytest.mark.parametrize(
    "config",
    [
        {"username": "dhadmin", "password": "wrong"},
        {"token": "opaque"},
        {"token": "expired access"},
        {"token": "expired refresh"},
        {"token": "forged"},
    ],
)
async def test_connect_rejected(
    simulator: DeviceHiveSimulator,
    session: aiohttp.ClientSession,
    out: Recorder,
    config: dict[str, Any],
) -> None:
    match config.get("token"):
        case "expired access":
            config = {"token": simulator.issue_token(lifetime=-1)}
        case "expired refresh":
            config = {"token": simulator.issue_token(REFRESH, lifetime=-1)}
        case "forged":
            config = {"token": jwt({"payload": {"t": 1}})}
    async with hub(simulator, session, out, **config) as client:
        with pytest.raises(InvalidAuth):
            await client.connect()
        assert not client.connected
    assert out == []


@pytest.mark.parametrize(
    ("variant", "said"),
    [("vendor", "credentials: error"), ("refresh_refused_400", "Token is not valid")],
)
async def test_a_revoked_refresh_token_asks_for_new_credentials(
    session: aiohttp.ClientSession, out: Recorder, socket_enabled: None, variant: str, said: str
) -> None:
    """500 with a null error from the Java server, 400 "Token is not valid" from others."""
    async with DeviceHiveSimulator(devices=1, **VARIANTS[variant]) as simulator:
        token = simulator.refresh_token
        simulator.revoke_credentials()
        async with hub(simulator, session, out, token=token) as client:
            with pytest.raises(InvalidAuth, match=said):
                await client.connect()
        simulator.restore_credentials()
        async with hub(simulator, session, out, token=token) as client:
            await client.connect()
    assert json.loads(simulator.received[0])["action"] == "token/refresh"


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


def replace_handler(
    simulator: DeviceHiveSimulator,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
    handler: Callable[[Any, Any], Any],
) -> None:
    handlers = simulator._handlers()
    handlers[action] = handler
    monkeypatch.setattr(simulator, "_handlers", lambda: handlers)


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

    async def no_devices(_conn: Any, _message: Any) -> dict[str, Any]:
        return {"devices": "none"}

    async def refuse(_conn: Any, _message: Any) -> dict[str, Any]:
        raise Reject(403, "Access is denied")

    async def fail(_conn: Any, _message: Any) -> dict[str, Any]:
        raise Reject(500, "Internal error")

    for action, handler, error in (
        ("server/info", no_info, ProtocolError),
        ("token", no_token, ProtocolError),
        ("device/list", fail, ProtocolError),
        ("device/list", no_devices, ProtocolError),
        ("device/list", refuse, InvalidAuth),  # a token without the permission: reauth
        ("device/count", refuse, InvalidAuth),
    ):
        with monkeypatch.context() as patch:
            replace_handler(simulator, patch, action, handler)
            async with hub(simulator, session, out) as client:
                with pytest.raises(error):
                    await client.connect()


async def test_command_updates_refused_are_not_fatal(
    simulator: DeviceHiveSimulator,
    session: aiohttp.ClientSession,
    out: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def refuse(_conn: Any, _message: Any) -> dict[str, Any]:
        raise Reject(403, "Access is denied")

    replace_handler(simulator, monkeypatch, "command/subscribe", refuse)
    async with hub(simulator, session, out) as client:
        await client.connect()
        assert client.stats.dropped == {Drop.REQUEST_FAILED: 1}
        with pytest.raises(CommandFailed) as refused:
            await client.send_command(Command("dev-1", "reboot", {}, 5))
        assert refused.value.code == 403


# --- the fleet, page by page ---


async def test_the_whole_fleet_comes_page_by_page(
    session: aiohttp.ClientSession, out: Recorder, socket_enabled: None
) -> None:
    async with (
        DeviceHiveSimulator(devices=250) as simulator,
        hub(simulator, session, out) as client,
    ):
        await client.connect()
        snapshot = out.of(FleetSnapshot)[0]
        assert snapshot.complete
        assert [update.device_id for update in snapshot.devices] == sorted(
            simulator.fleet_ids(), key=lambda device_id: f"Tracker {device_id[4:]}"
        )
        pages = sent(simulator, "device/list")
        assert [(page["take"], page["skip"]) for page in pages] == [
            (100, 0),
            (100, 100),
            (100, 200),
        ]
        assert len(sent(simulator, "device/count")) == 2  # before and after: nothing moved

        simulator.remove_device("dev-7")
        await client.reload_fleet()
        snapshot = out.of(FleetSnapshot)[-1]
        assert snapshot.complete
        assert len(snapshot.devices) == 249


async def test_a_fleet_that_moves_while_listed_removes_nothing(
    session: aiohttp.ClientSession,
    out: Recorder,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with (
        DeviceHiveSimulator(devices=150) as simulator,
        hub(simulator, session, out) as client,
    ):
        listing = simulator._device_list

        async def add_between_pages(conn: Any, message: dict[str, Any]) -> dict[str, Any]:
            if message.get("skip"):
                simulator._new_device("dev-0", "A new one")  # sorts first: shifts the pages
            return await listing(conn, message)

        replace_handler(simulator, monkeypatch, "device/list", add_between_pages)
        await client.connect()
        snapshot = out.of(FleetSnapshot)[0]
        assert not snapshot.complete  # the counts before and after disagree
        assert len(snapshot.devices) == 150


@pytest.mark.parametrize(("devices", "complete"), [(80, True), (250, False)])
async def test_without_device_count_only_one_page_is_the_whole_fleet(
    session: aiohttp.ClientSession,
    out: Recorder,
    socket_enabled: None,
    devices: int,
    complete: bool,
) -> None:
    async with (
        DeviceHiveSimulator(devices=devices, **VARIANTS["no_device_count"]) as simulator,
        hub(simulator, session, out) as client,
    ):
        await client.connect()
    snapshot = out.of(FleetSnapshot)[0]
    assert (len(snapshot.devices), snapshot.complete) == (devices, complete)
    assert len(sent(simulator, "device/list")) == math.ceil(devices / 100) + 1  # to the empty one


async def test_a_server_that_ignores_skip_is_not_read_forever(
    simulator: DeviceHiveSimulator,
    session: aiohttp.ClientSession,
    out: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listing = simulator._device_list

    async def first_page(conn: Any, message: dict[str, Any]) -> dict[str, Any]:
        return await listing(conn, {**message, "skip": 0, "take": 2})

    async def wrong_count(_conn: Any, _message: Any) -> dict[str, Any]:
        return {"count": "three"}

    replace_handler(simulator, monkeypatch, "device/list", first_page)
    replace_handler(simulator, monkeypatch, "device/count", wrong_count)
    async with hub(simulator, session, out) as client:
        await client.connect()
    snapshot = out.of(FleetSnapshot)[0]
    assert (len(snapshot.devices), snapshot.complete) == (2, False)
    assert len(sent(simulator, "device/list")) == 2


async def test_bad_records_are_skipped(
    simulator: DeviceHiveSimulator,
    session: aiohttp.ClientSession,
    out: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def junk(_conn: Any, message: dict[str, Any]) -> dict[str, Any]:
        if message.get("skip"):
            return {"devices": []}
        return {"devices": [{"id": "a"}, {"name": "no id"}, "junk", {"id": ""}]}

    replace_handler(simulator, monkeypatch, "device/list", junk)
    async with hub(simulator, session, out) as client:
        await client.connect()
    assert out.of(FleetSnapshot)[0].devices == (
        DeviceUpdate(
            "a",
            DeviceDetails(category=Category.TRACKER),
            values={Field.ONLINE: None},
            channels=CHANNELS,
        ),
    )
    assert client.stats.dropped[Drop.MALFORMED] == 3


# --- the session and its tokens ---


def checks(simulator: DeviceHiveSimulator) -> list[dict[str, Any]]:
    """The requests that ask whether the server still takes the session."""
    return [frame for frame in sent(simulator, "device/list") if frame.get("take") == 1]


async def test_an_expired_access_token_keeps_the_stream(
    session: aiohttp.ClientSession,
    out: Recorder,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server does not end a session when its token expires: neither does FleetPush."""
    monkeypatch.setattr(devicehive, "EXPIRY_GRACE", 0.05)
    async with DeviceHiveSimulator(devices=1, access_lifetime=0.3) as simulator:
        token = simulator.access_token
        async with hub(simulator, session, out, token=token) as client:
            await client.connect()
            await until(lambda: checks(simulator))  # asked after the expiry: still welcome
            await simulator.notify("dev-1", "gps", {"battery": 40})
            assert (await out.next(HubNotice)).attributes["parameters"] == {"battery": 40}
            assert await client.send_command(Command("dev-1", "ping", {}, 5))
            assert client.connected
            assert not sent(simulator, "token/refresh")

            await reconnect(client, simulator)
            with pytest.raises(InvalidAuth):  # the next sign-in decides
                await client.connect()


@pytest.mark.parametrize("timing", [None, Timing(ws_heartbeat=0.2)])
async def test_a_server_that_enforces_expiry_ends_the_session(
    session: aiohttp.ClientSession,
    out: Recorder,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
    timing: Timing | None,
) -> None:
    """Asked after the expiry (or probed when quiet), it says 401; the reconnect's sign-in
    asks for credentials."""
    monkeypatch.setattr(devicehive, "EXPIRY_GRACE", 0.05)
    options = {"access_lifetime": 0.6, **VARIANTS["enforce_expiry"]}
    async with DeviceHiveSimulator(devices=1, **options) as simulator:
        token = simulator.access_token
        async with hub(simulator, session, out, timing, token=token) as client:
            await client.connect()
            with pytest.raises(CannotConnect, match="no longer accepts"):
                async with asyncio.timeout(5):
                    await client.run()
            assert checks(simulator)
            with pytest.raises(InvalidAuth):
                await client.connect()


@pytest.mark.parametrize("credentials", ["login", "refresh"])
async def test_tokens_are_renewed_on_the_same_socket(
    session: aiohttp.ClientSession, out: Recorder, socket_enabled: None, credentials: str
) -> None:
    """Renewal keeps a session alive on servers that enforce expiry."""
    options = {"access_lifetime": 1.0, **VARIANTS["enforce_expiry"]}
    async with DeviceHiveSimulator(devices=3, **options) as simulator:
        config: dict[str, Any] = {}
        if credentials == "refresh":
            config["token"] = simulator.refresh_token
        async with hub(simulator, session, out, **config) as client:
            await client.connect()
            await asyncio.sleep(2.2)
            await simulator.notify("dev-1", "gps", {"battery": 40})
            notice = await out.next(HubNotice)
            assert notice.attributes["parameters"] == {"battery": 40}
            assert await client.send_command(Command("dev-1", "ping", {}, 5))
    assert len(sent(simulator, "token")) == (1 if credentials == "login" else 0)
    assert len(sent(simulator, "token/refresh")) >= (2 if credentials == "login" else 3)
    assert len(sent(simulator, "authenticate")) >= 3
    assert client.stats.connects == 1


async def test_a_refused_renewal_leaves_the_session_alone(
    session: aiohttp.ClientSession,
    out: Recorder,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(devicehive, "EXPIRY_GRACE", 0.05)
    async with (
        DeviceHiveSimulator(devices=1, access_lifetime=0.5) as simulator,
        hub(simulator, session, out) as client,
    ):
        await client.connect()
        simulator.revoke_credentials()
        await until(lambda: sent(simulator, "token/refresh"))
        await until(lambda: checks(simulator))  # then asked after the expiry: still welcome
        await simulator.notify("dev-1", "gps", {"battery": 40})
        assert (await out.next(HubNotice)).attributes["parameters"] == {"battery": 40}

        await reconnect(client, simulator)
        with pytest.raises(InvalidAuth):
            await client.connect()


async def test_renewal_retries_after_other_errors(
    client: DeviceHiveClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client._refresh_token = "refresh"
    client._renew_at = asyncio.get_running_loop().time() + 1000
    delays: list[float] = []

    async def fail() -> None:
        raise ProtocolError("odd")

    monkeypatch.setattr(client, "_renew_tokens", fail)
    monkeypatch.setattr(client, "_schedule_renewal", delays.append)
    await client._renew_later(0)
    assert delays == [devicehive.RENEW_RETRY]

    async def lost() -> None:
        raise CannotConnect("gone")

    monkeypatch.setattr(client, "_renew_tokens", lost)
    await client._renew_later(0)
    assert delays == [devicehive.RENEW_RETRY]  # the read loop ends with the reason


async def test_renewal_needs_a_way(client: DeviceHiveClient) -> None:
    client._token = None
    with pytest.raises(InvalidAuth):
        await client._renew_tokens()


async def test_the_expiry_check_survives_a_lost_connection(
    client: DeviceHiveClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devicehive, "EXPIRY_GRACE", 0)
    client._schedule_renewal(1)  # a plain access token: nothing to renew, only to check
    assert client._renewal is not None
    await asyncio.wait_for(client._renewal, 5)  # not connected: CannotConnect, kept quiet


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


async def test_close_stops_the_background_work(connected: DeviceHiveClient) -> None:
    tasks = [connected._renewal, *connected._background]
    assert all(task is not None and not task.done() for task in tasks)
    await connected.close()
    assert all(task is not None and task.cancelled() for task in tasks)
    assert connected._renewal is None
    assert not connected._background


# --- online ---


async def test_devices_are_online_while_they_notify(
    session: aiohttp.ClientSession, out: Recorder, socket_enabled: None
) -> None:
    async with (
        DeviceHiveSimulator(devices=3) as simulator,
        hub(simulator, session, out, offline_after=0.4 / 60) as client,
    ):
        await client.connect()
        for device in simulator.fleet_ids():
            await simulator.notify(device, "gps", {})
        await until(lambda: online_values(out) == dict.fromkeys(simulator.fleet_ids(), True))
        await until(lambda: online_values(out) == dict.fromkeys(simulator.fleet_ids(), False))
        out.skip()
        await simulator.notify("dev-2", "gps", {"battery": 10})
        update = await out.next(DeviceUpdate)
        assert update.values == {Field.ONLINE: True, Field.BATTERY: 10}
        await simulator.block("dev-2")
        update = await out.next(DeviceUpdate)
        assert (update.device_id, update.values) == ("dev-2", {Field.ONLINE: False})
        await simulator.notify("dev-2", "gps", {"battery": 10})  # blocked: still offline
        await simulator.block("dev-2", blocked=False)
        update = await out.next(DeviceUpdate, where=lambda update: update.details.name is not None)
        assert update.values == {Field.ONLINE: True}  # heard just now
        await until(lambda: online_values(out)["dev-2"] is False)
        online_updates = [u for u in out.of(DeviceUpdate) if Field.ONLINE in u.values]
        assert len(online_updates) == len(out.of(DeviceUpdate)) - 1  # the battery-only one


async def test_old_notifications_do_not_make_a_device_online(
    session: aiohttp.ClientSession, out: Recorder, socket_enabled: None
) -> None:
    async with (
        DeviceHiveSimulator(devices=2) as simulator,
        hub(simulator, session, out, offline_after=1) as client,
    ):
        simulator.history.clear()  # a quiet fleet
        await client.connect()
        two_hours_ago = simulator.server_time() - timedelta(hours=2)
        await simulator.notify("dev-1", "gps", {"lat": 1, "lng": 2}, timestamp=two_hours_ago)
        await out.next(HubNotice)
        assert online_values(out) == {"dev-1": None, "dev-2": None}


async def test_a_status_from_an_old_server_wins(
    session: aiohttp.ClientSession, out: Recorder, socket_enabled: None
) -> None:
    async with (
        DeviceHiveSimulator(devices=2, **VARIANTS["with_status"]) as simulator,
        hub(simulator, session, out) as client,
    ):
        await simulator.set_online("dev-2", False)
        await client.connect()
        assert online_values(out) == {"dev-1": True, "dev-2": False}
        await simulator.notify("dev-2", "gps", {"battery": 3})
        await out.next(HubNotice)
        await simulator.set_online("dev-1", False)  # its $device-update
        await out.next(DeviceUpdate, where=lambda update: update.device_id == "dev-1")
        assert online_values(out) == {"dev-1": False, "dev-2": False}


async def test_a_server_clock_an_hour_behind(
    session: aiohttp.ClientSession, out: Recorder, socket_enabled: None
) -> None:
    async with (
        DeviceHiveSimulator(devices=2, **VARIANTS["server_clock_behind"]) as simulator,
        hub(simulator, session, out, offline_after=1) as client,
    ):
        await client.connect()
        await until(lambda: online_values(out) == {"dev-1": True, "dev-2": True})
        assert client.clock_offset == pytest.approx(-3600, abs=1)


# --- what was missed while away ---


@pytest.mark.parametrize("variant", list(VARIANTS))
async def test_missed_notifications_arrive_once_in_time_order(
    session: aiohttp.ClientSession, out: Recorder, socket_enabled: None, variant: str
) -> None:
    """450 missed (the server replays at most 100, in no order, if any): every one, once."""
    async with (
        DeviceHiveSimulator(devices=30, **VARIANTS[variant]) as simulator,
        hub(simulator, session, out) as client,
    ):
        await client.connect()
        seen = await simulator.notify("dev-1", "gps", {"battery": 1})
        assert (await out.next(HubNotice)).attributes["id"] == seen["id"]
        await reconnect(client, simulator)
        missed = [
            await simulator.notify(f"dev-{number % 3 + 1}", "gps", {"battery": number % 100})
            for number in range(450)
        ]
        out.skip()
        await client.connect()
        await until(lambda: len(out.of(HubNotice)) >= 451)
        await simulator.notify("dev-4", "gps", {"battery": 2})
        await until(lambda: len(out.of(HubNotice)) == 452)
        assert notice_ids(out)[1:] == [item["id"] for item in missed] + [notice_ids(out)[-1]]
        assert not client.catching_up


@pytest.mark.parametrize("variant", ["vendor", "oldest_first", "exclusive_bounds"])
async def test_one_busy_device_is_fetched_window_by_window(
    session: aiohttp.ClientSession,
    out: Recorder,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
    variant: str,
) -> None:
    monkeypatch.setattr(devicehive, "NOTIFICATION_PAGE", 5)
    async with (
        DeviceHiveSimulator(devices=2, **VARIANTS[variant]) as simulator,
        hub(simulator, session, out) as client,
    ):
        await client.connect()
        await reconnect(client, simulator)
        missed = [await simulator.notify("dev-1", "gps", {"n": n}) for n in range(23)]
        lists = len(sent(simulator, "notification/list"))
        await client.connect()
        await until(lambda: len(out.of(HubNotice)) == 23)
        assert notice_ids(out) == [item["id"] for item in missed]
        assert len(sent(simulator, "notification/list")) - lists > 5  # window by window


async def test_presence_unknown_when_the_server_cannot_say(
    simulator: DeviceHiveSimulator,
    session: aiohttp.ClientSession,
    out: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0

    async def fail_then_junk(_conn: Any, _message: Any) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise Reject(500, "Internal error")
        stranger = {"deviceId": "stranger", "notification": "gps", "id": 2}
        return {"notifications": [{"id": 1}, stranger]}

    replace_handler(simulator, monkeypatch, "notification/list", fail_then_junk)
    async with hub(simulator, session, out) as client:
        await client.connect()
        assert client.stats.dropped[Drop.REQUEST_FAILED] == 1  # learning who notified lately
        await until(lambda: client.stats.dropped[Drop.REQUEST_FAILED] == 2)  # and catching up
        await reconnect(client, simulator)
        await client.connect()  # learns now: a junk item while learning, one catching up
        await until(lambda: client.stats.dropped[Drop.MALFORMED] == 2)
        shown = online_values(out)
        assert [shown[device] for device in simulator.fleet_ids()] == [None, None, None]


async def test_a_server_without_a_clock(
    simulator: DeviceHiveSimulator,
    session: aiohttp.ClientSession,
    out: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_time(_conn: Any, _message: Any) -> dict[str, Any]:
        return {"info": {"apiVersion": 3}}

    replace_handler(simulator, monkeypatch, "server/info", no_time)
    async with hub(simulator, session, out) as client:
        info = await client.connect()
    assert info.version is None
    assert client.clock_offset == 0
    assert online_values(out) == dict.fromkeys(simulator.fleet_ids(), True)


async def test_command_updates_unanswered_fail_the_handshake(
    simulator: DeviceHiveSimulator,
    session: aiohttp.ClientSession,
    out: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def late(_conn: Any, _message: Any) -> dict[str, Any]:
        await asyncio.sleep(0.5)
        return {}

    monkeypatch.setattr(DeviceHiveClient, "request_timeout", 0.2)
    replace_handler(simulator, monkeypatch, "command/subscribe", late)
    async with hub(simulator, session, out) as client:
        with pytest.raises(CannotConnect):
            await client.connect()


async def test_live_pushes_wait_for_the_catch_up(
    simulator: DeviceHiveSimulator,
    session: aiohttp.ClientSession,
    out: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = asyncio.Event()
    searching = simulator._notification_list

    async def slow_list(conn: Any, message: dict[str, Any]) -> dict[str, Any]:
        await release.wait()
        return await searching(conn, message)

    async with hub(simulator, session, out) as client:
        await client.connect()
        await reconnect(client, simulator)
        missed = await simulator.notify("dev-1", "gps", {"battery": 5})
        replace_handler(simulator, monkeypatch, "notification/list", slow_list)
        await client.connect()
        live = await simulator.notify("dev-2", "gps", {"battery": 6})
        await until(lambda: client.held_back)
        assert out.of(HubNotice) == []
        release.set()
        await until(lambda: len(out.of(HubNotice)) == 2)
        assert notice_ids(out) == [missed["id"], live["id"]]


async def test_an_interrupted_catch_up_is_done_by_the_next_connection(
    simulator: DeviceHiveSimulator,
    session: aiohttp.ClientSession,
    out: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def drop(conn: Any, _message: Any) -> dict[str, Any]:
        await conn.close()
        return {}

    async with hub(simulator, session, out) as client:
        await client.connect()
        await reconnect(client, simulator)
        first = await simulator.notify("dev-1", "gps", {"battery": 5})
        with monkeypatch.context() as patch:
            replace_handler(simulator, patch, "notification/list", drop)
            await client.connect()
            second = await simulator.notify("dev-2", "gps", {"battery": 6})
            with pytest.raises(CannotConnect):
                await client.run()
        await until(lambda: client.stats.dropped[Drop.INTERRUPTED] == 1)
        assert out.of(HubNotice) == []
        await client.connect()
        await until(lambda: len(out.of(HubNotice)) == 2)
        assert notice_ids(out) == [first["id"], second["id"]]


async def test_a_failed_catch_up_lets_what_came_through(
    simulator: DeviceHiveSimulator,
    session: aiohttp.ClientSession,
    out: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def fail(_conn: Any, _message: Any) -> dict[str, Any]:
        raise Reject(500, "Internal error")

    async with hub(simulator, session, out) as client:
        await client.connect()
        await reconnect(client, simulator)
        await simulator.notify("dev-1", "gps", {"battery": 5})  # lost with the cache
        replace_handler(simulator, monkeypatch, "notification/list", fail)
        await client.connect()
        live = await simulator.notify("dev-2", "gps", {"battery": 6})
        await until(lambda: notice_ids(out) == [live["id"]])
        assert client.stats.dropped[Drop.REQUEST_FAILED] == 1


async def test_a_future_dated_notification_is_not_the_cursor(
    connected: DeviceHiveClient, simulator: DeviceHiveSimulator, out: Recorder
) -> None:
    """A device's clock in 2100: later notifications are still fetched after a reconnect."""
    future = datetime(2100, 1, 1, tzinfo=UTC)
    odd = await simulator.notify("dev-1", "gps", {"lat": 1, "lng": 2}, timestamp=future)
    assert (await out.next(HubNotice)).attributes["id"] == odd["id"]
    assert connected.cursor is not None
    assert connected.cursor < time.time()
    await reconnect(connected, simulator)
    missed = [await simulator.notify("dev-2", "gps", {"battery": n}) for n in range(3)]
    await connected.connect()
    await until(lambda: len(out.of(HubNotice)) == 4)
    await asyncio.sleep(0.1)
    assert notice_ids(out) == [odd["id"], *[item["id"] for item in missed]]  # 2100 not again


async def test_the_cursor_stays_behind_the_last_frame(
    connected: DeviceHiveClient, simulator: DeviceHiveSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devicehive, "CURSOR_MARGIN", 0.05)
    first = connected.cursor
    await asyncio.sleep(0.1)
    frames = connected.stats.frames
    before = time.time()
    await simulator.notify("dev-1", "gps", {})
    await until(lambda: connected.stats.frames > frames)
    assert first is not None
    assert connected.cursor is not None
    assert connected.cursor > first
    assert before - 0.05 <= connected.cursor - connected.clock_offset <= time.time() - 0.05
    await reconnect(connected, simulator)
    cursor = connected.cursor
    await connected.connect()
    subscribe = sent(simulator, "notification/subscribe")[-1]
    assert subscribe["timestamp"] == devicehive_history.server_stamp(cursor)


async def test_delivered_ones_are_forgotten_behind_the_cursor(
    session: aiohttp.ClientSession, out: Recorder, simulator: DeviceHiveSimulator
) -> None:
    async with hub(simulator, session, out, offline_after=0.1 / 60) as client:
        await client.connect()
        await simulator.notify("dev-1", "gps", {})
        await out.next(HubNotice)
        # A look inside: what is remembered, and a cursor moved on without waiting for it.
        assert client._delivered._recent
        client._cursor = time.time() + 100
        await until(lambda: not client._delivered._recent)


# --- commands ---


async def test_commands(connected: DeviceHiveClient, simulator: DeviceHiveSimulator) -> None:
    first = await connected.send_command(Command("dev-1", "reboot", {"delay": 5}, 60))
    assert first == {"id": 1, "status": "done", "result": {"ok": True}}
    insert = sent(simulator, "command/insert")[0]
    expected = sample_json("protocols_command_insert_request.json")
    assert insert == {**expected, "requestId": insert["requestId"]}
    results = await asyncio.gather(
        connected.send_command(Command("dev-1", "beep", {}, 5)),
        connected.send_command(Command("dev-1", "light", {"on": True}, 5)),
    )
    assert [result["id"] for result in results] == [2, 3]
    assert simulator.commands[3]["parameters"] == {"on": True}
    assert len(sent(simulator, "command/subscribe")) == 1
    assert sent(simulator, "command/subscribe")[0]["returnUpdatedCommands"] is True


async def test_command_failures(
    connected: DeviceHiveClient, simulator: DeviceHiveSimulator
) -> None:
    with pytest.raises(CommandFailed, match="device error") as failed:
        await connected.send_command(Command("dev-2", "reboot", {}, 5))
    assert failed.value.code == "failed"
    with pytest.raises(HubTimeout):
        await connected.send_command(Command("dev-3", "reboot", {}, 0.3))
    assert simulator.commands[2]["lifetime"] == 1
    with pytest.raises(CommandFailed, match="deviceId = nope not found") as failed:
        await connected.send_command(Command("nope", "reboot", {}, 5))
    assert failed.value.code == 404
    await simulator.set_online("dev-1", False)
    with pytest.raises(HubTimeout):
        await connected.send_command(Command("dev-1", "reboot", {}, 0.3))
    count = len(simulator.received)
    with pytest.raises(CommandFailed) as failed:
        await connected.send_command(Command("dev-1", "upload", {"blob": "x" * 10_240}, 5))
    assert failed.value.code == CommandCode.TOO_LARGE
    with pytest.raises(CommandFailed) as failed:
        await connected.send_command(Command("dev-1", "upload", {"blob": {1, 2}}, 5))
    assert failed.value.code == CommandCode.BAD_PARAMETERS
    assert len(simulator.received) == count
    assert connected.connected


async def test_command_progress_and_odd_insert_reply(
    connected: DeviceHiveClient, simulator: DeviceHiveSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.set_behaviour("dev-1", "silent")
    task = asyncio.ensure_future(connected.send_command(Command("dev-1", "update", {}, 5)))
    await until(lambda: 1 in simulator.commands)  # an early update waits for its command
    await simulator._finish(simulator.commands[1], "In Progress", None)
    await asyncio.sleep(0.05)
    assert not task.done()
    await simulator._finish(simulator.commands[1], "done", {"version": 2})
    assert await task == {"id": 1, "status": "done", "result": {"version": 2}}

    async def no_id(_conn: Any, _message: Any) -> dict[str, Any]:
        return {"command": {}}

    replace_handler(simulator, monkeypatch, "command/insert", no_id)
    with pytest.raises(CommandFailed) as failed:
        await connected.send_command(Command("dev-1", "reboot", {}, 5))
    assert failed.value.code == CommandCode.BAD_REPLY


async def test_commands_need_a_connection(client: DeviceHiveClient) -> None:
    with pytest.raises(CannotConnect):
        await client.send_command(Command("dev-1", "reboot", {}, 1))


async def test_connection_drop(connected: DeviceHiveClient, simulator: DeviceHiveSimulator) -> None:
    await reconnect(connected, simulator)
    with pytest.raises(CannotConnect):
        await connected.send_command(Command("dev-1", "reboot", {}, 1))


async def test_drop_while_waiting_for_a_command(
    connected: DeviceHiveClient, simulator: DeviceHiveSimulator
) -> None:
    task = asyncio.ensure_future(connected.send_command(Command("dev-3", "reboot", {}, 5)))
    await until(lambda: 1 in simulator.commands)
    await simulator.drop_connections()
    with pytest.raises(CannotConnect):
        await task
    subscribed = len(sent(simulator, "command/subscribe"))
    await connected.connect()  # the subscription went with the connection: asked again
    assert len(sent(simulator, "command/subscribe")) == subscribed + 1


async def test_silence_detected(
    simulator: DeviceHiveSimulator, session: aiohttp.ClientSession, out: Recorder
) -> None:
    async with hub(simulator, session, out, timing=Timing(ws_heartbeat=0.3)) as client:
        await client.connect()
        simulator.stop_answering()
        with pytest.raises(CannotConnect):
            async with asyncio.timeout(5):
                await client.run()


async def test_a_quiet_server_is_probed_and_kept(
    simulator: DeviceHiveSimulator, session: aiohttp.ClientSession, out: Recorder
) -> None:
    async with hub(simulator, session, out, timing=Timing(ws_heartbeat=0.1)) as client:
        await client.connect()
        await until(lambda: len(sent(simulator, "device/list")) >= 4)
        assert client.connected
        assert simulator.accepted == 1


async def test_junk_from_the_server(
    connected: DeviceHiveClient, simulator: DeviceHiveSimulator
) -> None:
    await simulator.push("garbage")
    await simulator.push({"action": "command/insert", "subscriptionId": 1, "command": {"id": 9}})
    await until(lambda: sum(connected.stats.dropped.values()) == 2)
    assert connected.stats.dropped == {Drop.NOT_JSON: 1, Drop.UNKNOWN_KIND: 1}
    assert connected.connected


async def test_a_device_added_later_is_listed_again(
    connected: DeviceHiveClient, simulator: DeviceHiveSimulator, out: Recorder
) -> None:
    """A notification from a device the last list lacked reloads the list (rate-limited)."""
    simulator._new_device("dev-9", "Quietly added")
    out.skip()
    await simulator.notify("dev-9", "gps", {"battery": 1})
    snapshot = await out.next(FleetSnapshot)
    assert "dev-9" in [update.device_id for update in snapshot.devices]
    added = await simulator.add_device(name="Bus")
    update = await out.next(DeviceUpdate, where=lambda update: update.device_id == added)
    assert (update.details.name, update.values) == ("Bus", {Field.ONLINE: None})


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
        assert (reply["code"], reply["error"]) == (401, "Invalid token type")
        reply = await ask(sample("protocols_server_info_request.json"))
        expected = sample_json("protocols_server_info_success.json")
        assert reply.keys() == expected.keys()
        assert reply["info"].keys() == expected["info"].keys()
        reply = await ask(sample("protocols_notification_subscribe_request.json"))
        assert reply.keys() == sample_json("protocols_notification_subscribe_success.json").keys()
        replayed = await ws.receive_json()  # dev-1's notification in the cache, after 2018
        assert (replayed["action"], replayed["subscriptionId"]) == (
            "notification/insert",
            reply["subscriptionId"],
        )
        unsubscribe = json.loads(sample("protocols_notification_unsubscribe_request.json"))
        unsubscribe["subscriptionId"] = reply["subscriptionId"]
        assert (await ask(json.dumps(unsubscribe)))["status"] == "success"
        assert (await ask(json.dumps(unsubscribe)))["code"] == 404
        reply = await ask('{"action": "device/list", "requestId": "9"}')
        device = sample_json("protocols_device_list_success.json")["devices"][0]
        assert set(reply["devices"][0]) == set(device) - {"status"} | {"deviceTypeId"}
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


async def test_simulator_pages_as_the_server_does(
    session: aiohttp.ClientSession, socket_enabled: None
) -> None:
    async with (
        DeviceHiveSimulator(devices=45) as simulator,
        session.ws_connect(simulator.url) as ws,
    ):

        async def ask(**message: Any) -> dict[str, Any]:
            await ws.send_json(message)
            reply: dict[str, Any] = await ws.receive_json()
            return reply

        await ask(action="authenticate", token=simulator.access_token)
        assert len((await ask(action="device/list"))["devices"]) == 20  # DEFAULT_TAKE
        page = await ask(action="device/list", take=10, skip=40)
        assert [device["id"] for device in page["devices"]] == [f"dev-{n}" for n in range(41, 46)]
        page = await ask(action="device/list", take=2, sortField="NAME", sortOrder="DESC")
        assert [device["name"] for device in page["devices"]] == ["Tracker 9", "Tracker 8"]
        assert (await ask(action="device/list", sortField="id"))["code"] == 400
        assert (await ask(action="device/list", take="all"))["code"] == 400
        assert (await ask(action="device/count"))["count"] == 45


async def test_simulator_searches_its_cache(
    session: aiohttp.ClientSession, socket_enabled: None
) -> None:
    async with (
        DeviceHiveSimulator(devices=2, history_ttl=0.5) as simulator,
        session.ws_connect(simulator.url) as ws,
    ):

        async def ask(**message: Any) -> dict[str, Any]:
            await ws.send_json(message)
            reply: dict[str, Any] = await ws.receive_json()
            return reply

        await ask(action="authenticate", token=simulator.access_token)
        await asyncio.sleep(0.6)  # the seeded notifications leave the cache
        start = simulator.server_time()
        items = [await simulator.notify("dev-1", "n", {"n": n}) for n in range(30)]
        found = await ask(action="notification/list", deviceId="dev-1")
        assert len(found["notifications"]) == 20  # DEFAULT_TAKE, in no particular order
        found = await ask(
            action="notification/list",
            deviceIds=["dev-1", "dev-2"],
            start=stamp(start),
            take=50,
            sortField="timestamp",
            sortOrder="ASC",
        )
        assert found["notifications"] == items
        newest = await ask(
            action="notification/list", deviceId="dev-1", take=50, sortField="timestamp"
        )
        assert newest["notifications"] == items[::-1]
        end = items[4]["timestamp"]
        found = await ask(action="notification/list", deviceId="dev-1", end=end, take=50)
        assert len(found["notifications"]) == 5
        assert (await ask(action="notification/list"))["code"] == 400
        assert (await ask(action="notification/list", deviceIds=["x", "dev-1"]))["code"] == 404
        assert (await ask(action="notification/list", deviceId="dev-1", start="x"))["code"] == 400


async def test_simulator_variants_of_the_cache(
    session: aiohttp.ClientSession, socket_enabled: None
) -> None:
    options = {**VARIANTS["one_device_lists"], **VARIANTS["oldest_first"]}
    options |= VARIANTS["exclusive_bounds"]
    async with (
        DeviceHiveSimulator(devices=2, **options) as simulator,
        session.ws_connect(simulator.url) as ws,
    ):

        async def ask(**message: Any) -> dict[str, Any]:
            await ws.send_json(message)
            reply: dict[str, Any] = await ws.receive_json()
            return reply

        await ask(action="authenticate", token=simulator.access_token)
        simulator.history.clear()
        items = [await simulator.notify("dev-1", "n", {"n": n}) for n in range(30)]
        assert (await ask(action="notification/list", deviceIds=["dev-1"]))["code"] == 400
        found = await ask(action="notification/list", deviceId="dev-1", sortOrder="desc")
        assert found["notifications"] == items[:20]  # the oldest 20, as they come
        start, end = items[0]["timestamp"], items[3]["timestamp"]
        found = await ask(action="notification/list", deviceId="dev-1", start=start, end=end)
        assert found["notifications"] == items[1:3]


async def test_simulator_replays_only_where_the_server_does(
    session: aiohttp.ClientSession, socket_enabled: None
) -> None:
    async with (
        DeviceHiveSimulator(devices=2) as simulator,
        session.ws_connect(simulator.url) as ws,
    ):
        await ws.send_json({"action": "authenticate", "token": simulator.access_token})
        await ws.receive_json()
        start = stamp(simulator.server_time() - timedelta(minutes=1))
        await ws.send_json({"action": "notification/subscribe", "timestamp": start})
        assert "subscriptionId" in await ws.receive_json()
        await ws.send_json(
            {"action": "notification/subscribe", "deviceId": "dev-2", "timestamp": start}
        )
        assert "subscriptionId" in await ws.receive_json()
        replayed = await ws.receive_json()  # only the one-device subscription replays
        assert replayed["notification"]["deviceId"] == "dev-2"


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
    assert any(not device.reporting for device in simulator.devices.values()) or any(
        simulator.devices[device].reporting for device in simulator.fleet_ids()
    )
    assert len(simulator.history) >= 43
    simulator.remove_device("dev-1")
    assert "dev-1" not in simulator.devices
    assert DeviceHiveSimulator(devices=1).failing_device is None
    assert simulator.issue_token(REFRESH) != simulator.issue_token()


async def test_simulator_is_online(socket_enabled: None) -> None:
    simulator = DeviceHiveSimulator(devices=2)
    assert [simulator.is_online(device) for device in simulator.fleet_ids()] == [True, True]
    simulator.devices["dev-1"].is_blocked = True
    simulator.devices["dev-2"].last_report = time.time() - 3600
    assert [simulator.is_online(device) for device in simulator.fleet_ids()] == [False, False]
    with_status = DeviceHiveSimulator(devices=1, with_status=True)
    with_status.devices["dev-1"].last_report = time.time() - 3600
    assert with_status.is_online("dev-1")  # the status wins over the quiet
    with_status.devices["dev-1"].status = "Offline"
    assert not with_status.is_online("dev-1")
    with_status.devices["dev-1"].status = "Online"
    with_status.devices["dev-1"].is_blocked = True
    assert not with_status.is_online("dev-1")  # blocked wins over everything
    assert next(iter(VARIANTS)) == "vendor"
    assert VARIANTS["vendor"] == {}
    assert list(VARIANTS)[-1] == "least_convenient"


async def test_simulator_pings(session: aiohttp.ClientSession, socket_enabled: None) -> None:
    async with (
        DeviceHiveSimulator(devices=1, ping_interval=0.05) as simulator,
        session.ws_connect(simulator.url, autoping=False) as ws,
    ):
        message = await ws.receive(timeout=2)
        assert (message.type, message.data) == (aiohttp.WSMsgType.PING, b"devicehive-ping")
