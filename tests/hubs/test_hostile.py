"""Hostile input: thousands of generated frames per client, fed straight to its frame parser.

No frame may raise out of handle_text/handle_binary (except SessionClosed/InvalidAuth, which end
a session on purpose), every emitted value must have a type an entity can show, positions must
be finite and on the globe, garbage must be counted in stats.dropped, and no frame, however
large or odd, may hold the event loop for long: the work a pathological frame costs is counted
in function calls, the same on any machine, not timed. The strategies here also feed the
Home Assistant level test in tests/test_reliability.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
import json
import logging
import math
from pathlib import Path
import re
import sys
from typing import Any, cast
from zoneinfo import ZoneInfo

import aiohttp
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
import orjson
import pytest

from custom_components.fleet_push.hubs import HUB_KINDS
from custom_components.fleet_push.hubs.connection import Drop, HubClient
from custom_components.fleet_push.hubs.devicehive import DeviceHiveClient
from custom_components.fleet_push.hubs.errors import InvalidAuth, SessionClosed
from custom_components.fleet_push.hubs.iclick import IClickClient
from custom_components.fleet_push.hubs.imouse import IMouseClient
from custom_components.fleet_push.hubs.model import (
    Category,
    DeviceRemoved,
    DeviceUpdate,
    Field,
    FleetSnapshot,
    HubMessage,
    HubNotice,
    HubUpdate,
    Position,
)
from custom_components.fleet_push.hubs.navixy import NavixyClient
from custom_components.fleet_push.hubs.tftiot import TftIotAccount, TftIotClient

FIXTURES = Path(__file__).parents[1] / "fixtures"
KINDS = list(HUB_KINDS)
ENDS_SESSION = (InvalidAuth, SessionClosed)
"""What a frame may raise on purpose: the hub ended the session."""
CALL_BUDGET = 5_000
"""Function calls, Python and C, that rejecting one pathological frame may make at most.

A careless parser makes at least one call per character of those frames (8 thousand to 12
million of them); a sound one makes a few dozen, whatever their size, or a few hundred where it
reads many pieces of one frame (Navixy: up to MAX_PIECES). Unlike seconds, calls are the same on
any machine.
"""

HOSTILE = settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- the vendors' own frames, as templates to mutate ---


def _json_fixtures(kind: str) -> list[Any]:
    return [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((FIXTURES / kind).glob("*.json"))
    ]


IMOUSE_DEVICES = json.loads((FIXTURES / "imouse" / "dev_connect.json").read_text("utf-8"))
ICLICK_DEVICES: dict[str, Any] = json.loads(
    (FIXTURES / "iclick" / "devices_data.json").read_text("utf-8")
)
NAVIXY_TRACKERS = ((555, 10284), (777, 123456), (123, 10433582))
DEVICEHIVE_REPLIES = {
    str(frame["requestId"]): str(frame["action"])
    for frame in _json_fixtures("devicehive")
    if "requestId" in frame and "status" in frame
}
ICLICK_EVTID = "hostile001"
TFT_IMEI = "1000000000112567"


def _tft_snapshot() -> dict[str, Any]:
    """The vendor page's snapshot sample (a JS literal), made a frame and decoded leniently."""
    from custom_components.fleet_push.hubs.frames import decode_lenient  # noqa: PLC0415

    sample = (FIXTURES / "tftiot" / "snapshot.txt").read_text(encoding="utf-8")
    text = "{\n" + sample.replace("    error: 0,", "    }},\n    error: 0,") + "}"
    frame: dict[str, Any] = decode_lenient(text)
    return frame


def _iclick_events() -> list[dict[str, Any]]:
    record = next(iter(ICLICK_DEVICES.values()))
    names = (
        "device:online",
        "device:offline",
        "device:reject",
        "device:delete",
        "device:busy",
        "device:idle",
        "device:rename",
        "device:bindchip",
        "usb:plug",
        "usb:unplug",
    )
    events = [{"type": "event", "event": name, "data": record} for name in names]
    events.append({"type": "event", "event": "usb:plug", "data": {"deviceChip": "chip"}})
    online = json.loads((FIXTURES / "iclick" / "device_online.json").read_text("utf-8"))
    replies = [
        {"type": "success", "evtid": ICLICK_EVTID, "data": ICLICK_DEVICES},
        {"type": "error", "evtid": ICLICK_EVTID, "error": "device not found"},
    ]
    return [*events, online, *replies]


TFT_MESSAGES: list[dict[str, Any]] = [
    {
        "type": "messagePass",
        "from_id": 0,
        "from_name": "System",
        "message": "hello",
        "alarm_msg": {},
        "date": 1627693682000,
    },
    {
        "type": "messagePass",
        "from_id": 1,
        "from_name": "Alarm",
        "message": "SOS",
        "alarm_msg": {"imei": TFT_IMEI, "cur_event": 5, "date": 1627693682000},
        "date": 1627693682000,
    },
    {"type": "getFileShake", "file": "a.bin", "size": 10},
    {"type": "downloadAllow", "file": "a.bin"},
    {"type": "registUserMessage", "error": 0},
    {"event": "signin", "error": 0},
    {"event": "signin", "error": 1003, "message": "signed in elsewhere"},
    {"event": "bleTire", "data": {}},
]

TEMPLATES: dict[str, list[Any]] = {
    "imouse": _json_fixtures("imouse"),
    "iclick": _iclick_events(),
    "navixy": _json_fixtures("navixy"),
    "devicehive": [  # what the server sends: replies, pushes and errors (no requests)
        frame
        for frame in _json_fixtures("devicehive")
        if "status" in frame or "code" in frame or "subscriptionId" in frame
    ],
    "tftiot": [_tft_snapshot()] * 3 + TFT_MESSAGES,  # snapshots are most of the traffic
}
"""Whole frames of each hub; mutations of them reach every handler."""

ENVELOPES: dict[str, str] = {
    "imouse": '{"fun":"dev_connect","msgid":0,"status":200,"data":%s}',
    "iclick": '{"type":"event","event":"device:online","data":%s}',
    "navixy": '{"type":"event","event":"state_batch","data":%s}',
    "devicehive": '{"action":"notification/insert","notification":%s}',
    "tftiot": '{"event":"snapshot","error":0,"data":%s}',
}
"""A frame of each hub with a hole where arbitrary (deep, huge) JSON text goes."""


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


VENDOR_KEYS = sorted(
    {key for frames in TEMPLATES.values() for frame in frames for key in _keys(frame)}
)

# --- strategies ---

NASTY_STRINGS = st.sampled_from(
    [
        "",
        " ",
        "0",
        "1",
        "-1",
        "1e400",
        "-1e400",
        "nan",
        "NaN",
        "Infinity",
        "-999",
        "²",
        "٣",
        "9" * 5000,
        "1:0|2:1|3:x",
        "1:1|²:0",
        "9" * 5000 + ":1",
        "\u0000",
        "\u202e\u200b",
        "null",
        "Offline",
        "offline",
        "active",
        "moving",
        "2024-02-30 25:61:61",
        "9999-12-31 23:59:59",
        "0001-01-01 00:00:00",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "a" * 70_000,
    ]
)
TIMES = st.datetimes(timezones=st.none() | st.timezones()).flatmap(
    lambda when: st.sampled_from(
        [
            when.isoformat(),
            when.strftime("%Y-%m-%d %H:%M:%S"),
            when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
        ]
    )
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.integers(),  # beyond 64 bits the decoder gives a float or refuses the frame
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, -1, 2**63, 2**64 - 1, 10**19, 1e308, -1e308, 5e-324, 0.5, -999]),
)
DIGITS = st.one_of(
    st.text(st.characters(categories=("Nd", "No")), min_size=1, max_size=8),
    st.sampled_from(["9" * 19, "9" * 400, "9" * 5000, "0" * 50 + "1"]),
)
"""Strings of digits, not all of them ASCII, some too long for int()."""
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    NUMBERS,
    st.text(max_size=20),
    DIGITS,
    NASTY_STRINGS,
    TIMES,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(VENDOR_KEYS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=12,
)

FIRST = datetime.fromisoformat("0001-01-01T00:00:00")
LAST = datetime.fromisoformat("9999-12-31T23:59:59.999999")
EDGE_TIMES = st.sampled_from(
    [FIRST, LAST, FIRST.replace(year=1970), FIRST.replace(year=2038, month=1, day=19)]
)
ZONES = st.sampled_from([None, UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-14))])
ODD_TIMES = st.tuples(st.one_of(EDGE_TIMES, st.datetimes()), ZONES | st.timezones()).map(
    lambda pair: pair[0].replace(tzinfo=pair[1])
)
"""Times at the ends of the calendar, in the farthest time zones."""
PORTS = re.compile(r"\d+:\d(\|\d+:\d)*")
DATE = re.compile(r"\d{4}-\d\d-\d\d[ T]")


def _odd_time(value: str) -> st.SearchStrategy[str]:
    form = "%Y-%m-%d %H:%M:%S" if " " in value else "%Y-%m-%dT%H:%M:%S.%f"
    return ODD_TIMES.map(lambda when: when.isoformat() if when.tzinfo else when.strftime(form))


def _odd_ports(_value: str) -> st.SearchStrategy[str]:
    ports = st.lists(DIGITS | st.integers(0, 99).map(str), min_size=1, max_size=70)
    return ports.map(lambda numbers: "|".join(f"{number}:1" for number in numbers))


_LIKE: tuple[tuple[Callable[[Any], bool], Callable[[Any], st.SearchStrategy[Any]]], ...] = (
    (
        lambda value: isinstance(value, bool),
        lambda _value: st.one_of(st.booleans(), st.sampled_from([0, 1, 2, "true", None])),
    ),
    (lambda value: isinstance(value, int | float), lambda _value: NUMBERS | DIGITS),
    (lambda value: isinstance(value, str) and bool(PORTS.fullmatch(value)), _odd_ports),
    (lambda value: isinstance(value, str) and bool(DATE.match(value)), _odd_time),
    (
        lambda value: isinstance(value, str) and value.isdigit(),
        lambda _v: DIGITS | NUMBERS.map(str),
    ),
    (lambda value: isinstance(value, str), lambda _value: NASTY_STRINGS | st.text(max_size=20)),
)


def like(value: Any) -> st.SearchStrategy[Any]:
    """Odd values that still look like this vendor value: same type, same format."""
    for matches, odd in _LIKE:
        if matches(value):
            return odd(value)
    return SCALARS


@st.composite
def mutated(draw: st.DrawFn, template: Any) -> Any:
    """A vendor frame with some values replaced by hostile ones and some keys gone."""

    def walk(node: Any) -> Any:
        if draw(st.integers(0, 7)) == 7:  # one node in eight: anything at all
            return draw(JSON_VALUES)
        if not isinstance(node, dict | list) and draw(st.integers(0, 3)) == 3:
            return draw(like(node))  # a leaf in four: odd, but of its own kind
        if isinstance(node, dict):
            kept = {}
            for key, value in node.items():
                if draw(st.integers(0, 9)) != 9:
                    kept[key] = walk(value)
            return kept
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(template)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value inside a frame, containers included."""
    if path:
        yield path
    if isinstance(node, dict):
        for key, item in node.items():
            yield from _paths(item, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _paths(item, (*path, index))


@st.composite
def point_mutated(draw: st.DrawFn, template: Any) -> Any:
    """A vendor frame with one value replaced: by an odd one of its kind, or by anything."""
    frame = json.loads(json.dumps(template))
    path = draw(st.sampled_from(list(_paths(frame))))
    node = frame
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = draw(like(node[path[-1]]) | like(node[path[-1]]) | JSON_VALUES)
    return frame


def _js_literal(value: Any) -> str:
    """JavaScript object-literal text, as the TFT IoT vendor page prints frames."""
    if isinstance(value, dict):
        items = ", ".join(
            f"{key if key.isidentifier() else json.dumps(key)}: {_js_literal(item)} // note\n"
            for key, item in value.items()
        )
        return "{" + items + ",}"
    if isinstance(value, list):
        return "[" + ", ".join(_js_literal(item) for item in value) + "]"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return json.dumps(value)


def _nested(depth: int) -> str:
    return '{"a":' * depth + "[1]" + "}" * depth


def _render(value: Any, style: int) -> str:
    """Frame text: JSON mostly, sometimes a JS literal or JSON wrapped in a JSON string."""
    text = json.dumps(value)
    if style == 1:
        return _js_literal(value)
    if style == 2:
        return json.dumps(text)
    if style == 3:
        return text.replace("0", "NaN", 1).replace("1", "Infinity", 1)
    return text


def frames_for(kind: str) -> st.SearchStrategy[str | bytes]:
    """Every kind of hostile frame a hub of this kind could send."""
    templates = TEMPLATES[kind]
    envelope = ENVELOPES[kind]
    structured = st.sampled_from(templates).flatmap(
        lambda template: st.one_of(
            point_mutated(template), point_mutated(template), mutated(template)
        )
    )
    rendered = st.tuples(structured, st.integers(0, 3) if kind == "tftiot" else st.just(0))
    vendor = rendered.map(lambda pair: _render(*pair))
    return st.one_of(
        vendor,  # the hub's own frames, altered, are most of what is generated
        vendor,
        vendor,
        vendor,
        vendor,
        JSON_VALUES.map(lambda value: envelope % json.dumps(value)),
        JSON_VALUES.map(json.dumps),
        st.integers(30, 3000).map(lambda depth: envelope % _nested(depth)),
        st.integers(1, 3).map(lambda mb: envelope % json.dumps("x" * (mb << 20))),
        st.text(max_size=200),
        st.binary(max_size=200).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
        st.binary(max_size=300),
        navixy_pieces() if kind == "navixy" else st.nothing(),
        iclick_binary() if kind == "iclick" else st.nothing(),
    )


def navixy_pieces() -> st.SearchStrategy[str]:
    """Atmosphere frames: handshakes, heartbeats, length prefixes, several joined by |."""
    handshake = st.tuples(st.uuids(), st.integers(min_value=-5, max_value=10**500)).map(
        lambda pair: f"{pair[0]}|{pair[1]}|X|"
    )
    message = st.sampled_from(TEMPLATES["navixy"]).flatmap(mutated).map(json.dumps)
    piece = st.one_of(handshake, message, st.just("X"), st.integers(0, 10**6).map(str))
    return st.lists(piece, min_size=1, max_size=5).map("|".join)


def iclick_binary() -> st.SearchStrategy[bytes]:
    """Binary replies: a 6-byte length, metadata JSON, then a payload (lengths may lie)."""
    meta = st.sampled_from(
        [{"type": "success", "evtid": ICLICK_EVTID}, {"type": "error", "evtid": ICLICK_EVTID}]
    ).flatmap(mutated)
    return st.tuples(meta, st.integers(-5, 10**6), st.binary(max_size=64)).map(
        lambda parts: f"{parts[1]:>6}".encode()[:6] + json.dumps(parts[0]).encode() + parts[2]
    )


# --- clients primed with devices, replies they wait for, and a recording listener ---


@asynccontextmanager
async def primed(
    kind: str, listener: Callable[[HubMessage], None], *, waiting: bool = True
) -> AsyncIterator[HubClient]:
    """A client of this kind that knows some devices, fed frames by hand (no socket).

    While waiting, it also waits for replies to some requests, as a client does mid-handshake;
    closing it settles them. Without, it is a client past its handshake, as in Home Assistant.
    """
    with ExitStack() as replies:
        client = _client(kind, listener, replies)
        if not waiting:
            replies.close()
        try:
            yield client
        finally:
            await client.close()


def _client(kind: str, listener: Callable[[HubMessage], None], replies: ExitStack) -> HubClient:
    session = cast("aiohttp.ClientSession", None)
    client: HubClient
    match kind:
        case "imouse":
            client = IMouseClient(session, listener, host="127.0.0.1")
            client.handle_text(json.dumps(IMOUSE_DEVICES))
            keys: list[Any] = [1, 2, 3]
        case "iclick":
            client = IClickClient(session, listener)
            for record in ICLICK_DEVICES.values():
                client.handle_text(json.dumps({"event": "device:online", "data": record}))
            keys = [ICLICK_EVTID]
        case "navixy":
            client = NavixyClient(session, listener, api_key="k" * 32)
            # Trackers and the account's zone come only from REST, which these tests have not:
            # the one place they look inside.
            trackers = [{"id": t, "source": {"id": s}} for t, s in NAVIXY_TRACKERS]
            client._load_trackers({"list": trackers})
            client._tz = ZoneInfo("America/Guatemala")  # UTC-6, as the vendor samples
            keys = ["subscribe"]
        case "devicehive":
            client = DeviceHiveClient(
                session, listener, url="ws://127.0.0.1/api/websocket", token="t"
            )
            client._established = True  # only a server's handshake establishes a session
            for request_id, action in DEVICEHIVE_REPLIES.items():
                replies.enter_context(client.awaiting_reply(request_id, action))
            keys = [("command", 456)]
        case _:
            account = TftIotAccount("ws://127.0.0.1/websocket", "u", "0" * 32)
            client = TftIotClient(session, listener, account=account)
            keys = ["signin"]
    for key in keys:
        replies.enter_context(client.awaiting(key))
    return client


# --- what may come out ---


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_value(value: Any) -> None:
    """A value an entity can show: bool, number, text, aware time, tuple of bools, None."""
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, tuple):
        assert all(isinstance(item, bool) for item in value), value
    elif isinstance(value, datetime):
        assert value.tzinfo is not None, value
    else:
        assert _number(value), repr(value)
        assert math.isfinite(value), value


def check_position(position: Position) -> None:
    """A real place: finite coordinates on the globe, finite extras, an aware time."""
    assert _number(position.latitude), position
    assert _number(position.longitude), position
    assert math.isfinite(position.latitude), position
    assert math.isfinite(position.longitude), position
    assert -90 <= position.latitude <= 90, position
    assert -180 <= position.longitude <= 180, position
    for extra in (position.speed, position.heading, position.altitude, position.accuracy):
        assert extra is None or (_number(extra) and math.isfinite(extra)), position
    assert position.time is None or position.time.tzinfo is not None, position


def _check_values(values: Any) -> None:
    for key, value in values.items():
        assert isinstance(key, Field), key
        check_value(value)


def _check_update(update: DeviceUpdate) -> None:
    assert isinstance(update.device_id, str), update
    assert update.device_id, update
    details = update.details
    for name in ("name", "manufacturer", "model", "model_id", "firmware", "hardware", "mac"):
        assert getattr(details, name) is None or isinstance(getattr(details, name), str), update
    assert details.serial is None or isinstance(details.serial, str), update
    assert details.category is None or isinstance(details.category, Category), update
    if update.position is not None:
        check_position(update.position)
    _check_values(update.values)
    orjson.dumps(dict(update.extras))  # JSON-able
    assert update.channels is None or all(isinstance(c, str) for c in update.channels)


def check_message(message: HubMessage) -> None:
    """Whatever a client emits has the model's types, whatever the hub sent."""
    match message:
        case DeviceUpdate():
            _check_update(message)
        case FleetSnapshot():
            for update in message.devices:
                _check_update(update)
        case DeviceRemoved():
            assert isinstance(message.device_id, str), message
            assert message.device_id, message
        case HubUpdate():
            assert message.version is None or isinstance(message.version, str), message
            _check_values(message.values)
            orjson.dumps(dict(message.extras))
        case HubNotice():
            assert isinstance(message.channel, str), message
            assert isinstance(message.event_type, str), message
            assert isinstance(message.device_id, str), message
            orjson.dumps(dict(message.attributes))
        case _:
            pytest.fail(f"not a hub message: {message!r}")


def feed(client: HubClient, frame: str | bytes) -> bool:
    """Hand one frame to the client as its read loop does; False once the session ended."""
    try:
        if isinstance(frame, bytes):
            client.handle_binary(frame)
        else:
            client.handle_text(frame)
    except ENDS_SESSION:
        return False
    return True


def counted_feed(client: HubClient, frame: str | bytes) -> tuple[bool, int]:
    """feed(), and the number of Python and C functions called meanwhile: its work, untimed.

    A profile function sees every call made from Python code, of Python and C functions alike.
    Coverage traces lines by other hooks (sys.settrace or sys.monitoring) and runs on undisturbed;
    whatever profile function was set before is put back however feed ends.
    """
    calls = 0

    def count(_frame: object, event: str, _arg: object) -> None:
        nonlocal calls
        if event in {"call", "c_call"}:
            calls += 1

    before = sys.getprofile()
    sys.setprofile(count)
    try:
        alive = feed(client, frame)
    finally:
        sys.setprofile(before)
    return alive, calls


# --- the tests ---


@pytest.mark.parametrize("kind", KINDS)
@HOSTILE
@given(data=st.data())
async def test_generated_frames_never_escape(kind: str, data: st.DataObject) -> None:
    messages: list[HubMessage] = []
    async with primed(kind, messages.append) as client:
        messages.clear()
        for frame in data.draw(st.lists(frames_for(kind), min_size=1, max_size=8)):
            before = len(messages)
            alive = feed(client, frame)
            for message in messages[before:]:
                check_message(message)
            if not alive:
                break
        assert Drop.HANDLER_ERROR not in client.stats.dropped


GARBAGE = st.one_of(
    st.text(min_size=1, max_size=100).map(lambda text: "~" + text.replace("|", "")),
    st.binary(min_size=1, max_size=100).map(
        lambda raw: "~" + raw.decode("utf-8", "replace").replace("|", "")
    ),
    st.lists(SCALARS, max_size=5).map(json.dumps),
    st.integers(2, 2000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(65, 3000).map(_nested),
    st.sampled_from(["[]", "{", "}", '{"a":1', "[1,]", "{'a': NaN}", "{a: Infinity}"]),
)
"""Text that is no frame at all: "~" and no "|" keep Navixy from reading a length or an X."""


@pytest.mark.parametrize("kind", KINDS)
@settings(HOSTILE, max_examples=300)
@given(frames=st.lists(GARBAGE, min_size=1, max_size=10))
async def test_garbage_is_dropped_and_counted(kind: str, frames: list[str]) -> None:
    messages: list[HubMessage] = []
    async with primed(kind, messages.append) as client:
        messages.clear()
        for number, frame in enumerate(frames, 1):
            assert feed(client, frame)
            assert client.stats.dropped.total() == number, frame
        assert not messages


@pytest.mark.parametrize("kind", KINDS)
@settings(HOSTILE, max_examples=300)
@given(frames=st.lists(st.binary(max_size=500), min_size=1, max_size=10))
async def test_binary_where_text_is_expected_is_dropped(kind: str, frames: list[bytes]) -> None:
    messages: list[HubMessage] = []
    async with primed(kind, messages.append) as client:
        messages.clear()
        for frame in frames:
            assert feed(client, frame)
        for message in messages:
            check_message(message)
        if kind != "iclick":  # iClick's binary frames are replies; the others send none
            assert client.stats.dropped[Drop.BINARY] == len(frames)
            assert not messages


ODD_VALUES: tuple[Any, ...] = (
    None,
    True,
    [],
    {},
    [[1, {"a": None}]],
    "",
    "x",
    "²",
    "9" * 5000,
    -1,
    2**64 - 1,
    1e308,
    -1e308,
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31 23:59:59",
    "0001-01-01 00:00:00",
    "1:0|²:1",
    "1:1|" * 100 + "2:0",
)
"""A fuzzing dictionary: every value of every vendor frame is replaced by each of these."""


def _with(template: Any, path: tuple[Any, ...], value: Any) -> Any:
    frame = json.loads(json.dumps(template))
    node = frame
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return frame


@pytest.mark.parametrize("kind", KINDS)
async def test_every_field_takes_every_odd_value(kind: str) -> None:
    """A systematic sweep beside the random one: each field meets each odd value once."""
    count = 0
    for template in TEMPLATES[kind]:
        for path in _paths(template):
            for value in ODD_VALUES:
                messages: list[HubMessage] = []
                async with primed(kind, messages.append) as client:
                    messages.clear()
                    feed(client, json.dumps(_with(template, path, value)))
                    for message in messages:
                        check_message(message)
                count += 1
    assert count > 1000


PATHOLOGICAL = {
    "comments": "{" + "/*a" * 400_000,
    "escaped quotes": '{"' + '\\"' * 4_000,  # short enough to be read as a JS literal
    "escapes": "{" + "'\\" * 4_000,
    "pipes": "a|" * 800_000,
    "heartbeats": "X|" * 800_000,
    "open brackets": "[" * 2_000_000,
    "open objects": '{"a":' * 500_000,
    "open string": '"' + "\\u00e9" * 500_000,
    "quotes": "'\"" * 500_000,
    "big string": '{"event":"snapshot","data":"' + "x" * (12 << 20) + '"}',
}
"""Frames that are slow to reject for a careless parser (megabytes, within the 16 MB limit)."""


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", list(PATHOLOGICAL))
async def test_pathological_frames_are_rejected_with_bounded_work(
    kind: str, shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Debug logging would add its own calls for each drop, and more with each pytest log option.
    caplog.set_level(logging.INFO, logger="custom_components.fleet_push")
    messages: list[HubMessage] = []
    async with primed(kind, messages.append) as client:
        messages.clear()
        alive, calls = counted_feed(client, PATHOLOGICAL[shape])
        assert alive
        assert calls < CALL_BUDGET, f"{calls} calls for {len(PATHOLOGICAL[shape])} characters"
        assert client.stats.dropped.total() >= 1
        assert not messages


ICLICK_META = json.dumps({"type": {}, "evtid": "x"})
REGRESSIONS: list[tuple[str, str]] = [
    ("navixy", "e3e70682-c209-4cac-629f-6fbed82c07cd|" + "9" * 400 + "|X|"),
    ("navixy", "e3e70682-c209-4cac-629f-6fbed82c07cd|" + "9" * 5000 + "|X|"),
    ("navixy", json.dumps({"type": "error", "status": {"code": [3]}})),
    (
        "navixy",
        json.dumps({"type": "event", "event": "lifecycle", "data": {"lifecycle_event": {}}}),
    ),
    (
        "navixy",
        json.dumps(
            {
                "type": "event",
                "event": "state",
                "data": {
                    "source_id": 10284,
                    "gps": {"updated": "9999-12-31 23:59:59", "location": {"lat": 1, "lng": 2}},
                },
            }
        ),
    ),
    ("iclick", json.dumps({"type": [], "event": "device:online", "data": None})),
    ("iclick", f"{len(ICLICK_META):6d}{ICLICK_META}"),
    (
        "devicehive",
        json.dumps(
            {
                "action": "notification/insert",
                "notification": {
                    "id": 1,
                    "deviceId": "dev-1",
                    "notification": "gps",
                    "timestamp": "9999-12-31T23:59:59-14:00",
                    "parameters": {"lat": 1, "lng": 2},
                },
            }
        ),
    ),
    ("devicehive", json.dumps({"action": "command/update", "command": {"id": "²"}})),
    ("devicehive", json.dumps({"action": "command/update", "command": {"id": "9" * 5000}})),
    (
        "tftiot",
        json.dumps({"event": "snapshot", "data": {"imei": "1", "status": {"input": "²:1"}}}),
    ),
    (
        "tftiot",
        json.dumps(
            {"event": "snapshot", "data": {"imei": "1", "status": {"input": "9" * 5000 + ":1"}}}
        ),
    ),
]
"""Frames that once raised out of a client (each fixed in the client with a small change)."""


@pytest.mark.parametrize(("kind", "frame"), REGRESSIONS, ids=[kind for kind, _ in REGRESSIONS])
async def test_frames_that_once_escaped(kind: str, frame: str) -> None:
    messages: list[HubMessage] = []
    async with primed(kind, messages.append) as client:
        messages.clear()
        assert feed(client, frame if kind != "iclick" or frame[0] == "{" else frame.encode())
        for message in messages:
            check_message(message)


@pytest.mark.parametrize("kind", ["navixy", "tftiot"])
async def test_absurd_numbers_of_inputs_are_garbage(kind: str) -> None:
    """A tracker claiming a thousand inputs would get a thousand entities: unknown instead."""
    messages: list[HubMessage] = []
    async with primed(kind, messages.append) as client:
        messages.clear()
        if kind == "navixy":
            state = {"source_id": 10284, "inputs": [True] * 1000, "outputs": [False] * 8}
            feed(client, json.dumps({"type": "event", "event": "state", "data": state}))
        else:
            ports = {"input": "|".join(f"{n}:1" for n in range(1, 1001)), "output": "1:0|2:1"}
            feed(client, json.dumps({"event": "snapshot", "data": {"imei": "1", "status": ports}}))
        (update,) = messages
        assert isinstance(update, DeviceUpdate)
        assert update.values[Field.INPUTS] is None
        assert isinstance(update.values[Field.OUTPUTS], tuple)


def _tft_literal(value: str) -> str:
    """The vendor's snapshot sample with its battery figure replaced by a JS literal."""
    return _js_literal(_tft_snapshot()).replace(": 100 //", f": {value} //", 1)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999", "0x10", "undefined"])
async def test_lenient_decoding_refuses_what_json_has_not(value: str) -> None:
    """TFT IoT frames may be JS literals, but NaN and infinities never reach a value."""
    messages: list[HubMessage] = []
    async with primed("tftiot", messages.append) as client:
        messages.clear()
        assert feed(client, _tft_literal("100"))
        assert messages
        assert client.stats.dropped.total() == 0
        messages.clear()
        assert feed(client, _tft_literal(value))
        assert not messages
        assert client.stats.dropped[Drop.NOT_JSON] == 1


def harvest(kind: str, count: int) -> list[str | bytes]:
    """A fixed, reproducible list of generated frames (for tests that cannot use @given)."""
    found: list[str | bytes] = []

    @settings(HOSTILE, max_examples=count, phases=[Phase.generate])
    @given(frame=frames_for(kind))
    def collect(frame: str | bytes) -> None:
        found.append(frame)

    collect()
    return found
