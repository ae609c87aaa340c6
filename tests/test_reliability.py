"""Fault injection through Home Assistant: every hub kind, its real simulator, over loopback.

Restarts, silent hubs, revoked credentials, hostile frames, floods, out-of-order positions,
DeviceHive's replay after a reconnect, and reloads while updates flow. Every test here also runs
with debug logging on and fails if a secret of its hubs reaches the log (see test_security).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
import gc
import json
import logging
import math
from pathlib import Path
from typing import Any, cast
from unittest.mock import patch
from zoneinfo import ZoneInfo

import aiohttp
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.fleet_push.const import (
    CONF_GRACE_PERIOD,
    CONF_MIN_POSITION_INTERVAL,
    DOMAIN,
    EVENT_FLEET_PUSH,
)
from custom_components.fleet_push.hubs import HUB_KINDS, client_class
from custom_components.fleet_push.hubs.connection import Drop, HubClient, Timing
from custom_components.fleet_push.hubs.devicehive import EVENTS_OPTION
from custom_components.fleet_push.hubs.model import NOT_IN_GEOFENCE
from custom_components.fleet_push.sensor import SENSORS
from custom_components.fleet_push.supervisor import RECONNECT_CAP

from .conftest import SetupHub, StartHub, coordinator_of
from .helpers import device_of, entity_id, fixture_text, wait_for, wait_for_entity
from .hubs.test_hostile import feed, harvest, primed
from .kinds import KIND
from .test_security import SecretWatch

KINDS = list(HUB_KINDS)
WITH_CREDENTIALS = ["navixy", "devicehive", "tftiot"]
WITH_POSITIONS = ["navixy", "devicehive", "tftiot"]
GRACE = 30
"""Seconds of grace in these tests (60 by default), on the harness clock."""
LOST = "Lost connection to"
RESTORED = "restored"
NEW_PASSWORD = "n3w-Secret!"
NEW_API_KEY = "0123456789abcdef" * 2
BERLIN = ZoneInfo("Europe/Berlin")
TEXT_SENSORS = frozenset(description.key for description in SENSORS if description.text)


def sent(hub: Any, text: str) -> int:
    """How many frames a client sent the hub that contain text."""
    return sum(text in frame for frame in hub.received)


def state(hass: HomeAssistant, entity: str) -> str:
    found = hass.states.get(entity)
    assert found is not None, entity
    return found.state


def log_count(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(
        text in record.getMessage()
        for record in caplog.get_records("call")
        if record.name.startswith("custom_components.fleet_push")
    )


def reauth_flows(hass: HomeAssistant) -> list[dict[str, Any]]:
    return [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_REAUTH
    ]


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.get_records("call")
        if record.levelno >= logging.ERROR
    ]


def fleet_entities(hass: HomeAssistant, entry: MockConfigEntry) -> list[er.RegistryEntry]:
    return er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)


def assert_states_are_sane(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """No entity shows garbage: sensors show numbers, trackers real places."""
    for entity in fleet_entities(hass, entry):
        shown = hass.states.get(entity.entity_id)
        if shown is None:  # disabled by default
            continue
        if shown.state in (STATE_UNKNOWN, STATE_UNAVAILABLE):
            continue
        match entity.domain:
            case "sensor" if entity.unique_id.endswith("licence_expires"):
                datetime.fromisoformat(shown.state)
            case "sensor" if entity.unique_id.endswith("geofence"):  # a label, or none
                geofences = coordinator_of(entry).geofences.index.geofences
                assert shown.state in {NOT_IN_GEOFENCE, *(g.label for g in geofences)}, shown
            case "sensor" if "options" in shown.attributes:  # an enum: one of its options
                assert shown.state in shown.attributes["options"], shown
            case "sensor" if entity.unique_id.rsplit("/", 1)[-1] in TEXT_SENSORS:
                assert shown.state.strip() == shown.state, shown
                assert len(shown.state) <= 255, shown
            case "image":
                datetime.fromisoformat(shown.state)
            case "sensor":
                assert math.isfinite(float(shown.state)), shown
            case "binary_sensor" | "switch":
                assert shown.state in (STATE_ON, STATE_OFF), shown
            case "device_tracker":
                latitude = shown.attributes.get("latitude")
                longitude = shown.attributes.get("longitude")
                if latitude is not None:
                    assert -90 <= latitude <= 90, shown
                    assert -180 <= longitude <= 180, shown


@pytest.fixture
async def watched(
    hass: HomeAssistant, start_hub: StartHub, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[StartHub]:
    """start_hub, with every secret of every hub watched for in the (debug) log."""
    watch = SecretWatch(caplog)

    async def start(kind: str, **options: Any) -> Any:
        hub = await start_hub(kind, **options)
        watch.add_hub(hub)
        return hub

    yield start
    watch.assert_clean()


# --- 1. hub restart ---


@pytest.mark.parametrize("kind", KINDS)
async def test_hub_restart_resynchronizes_after_the_grace_period(
    hass: HomeAssistant,
    watched: StartHub,
    setup_hub: SetupHub,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    """The grace period on the harness clock; what changed meanwhile shows once back."""
    hub = await watched(kind, devices=2)  # logs at debug level, so at info level too
    entry = await setup_hub(kind, hub, options={CONF_GRACE_PERIOD: GRACE})
    device = KIND[kind].first(hub)
    (gone,) = (other for other in hub.fleet_ids() if other != device)
    online = await wait_for_entity(hass, entry, "binary_sensor", device, "online")
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")
    await wait_for(lambda: state(hass, online) == STATE_ON)
    assert device_of(hass, entry, gone) is not None
    subscriptions = sent(hub, KIND[kind].subscribe)

    await hub.stop()
    await wait_for(lambda: state(hass, connected) == STATE_OFF)
    KIND[kind].offline_quietly(hub, device)  # changed while FleetPush cannot see it
    KIND[kind].remove_quietly(hub, gone)  # and deleted
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=GRACE - 10))
    await hass.async_block_till_done()
    assert state(hass, online) == STATE_ON  # within the grace period
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=GRACE + 1))
    await hass.async_block_till_done()
    assert state(hass, online) == STATE_UNAVAILABLE
    assert state(hass, connected) == STATE_OFF  # the hub's own sensor always shows

    await hub.start()
    await wait_for(lambda: state(hass, connected) == STATE_ON, timeout=10)
    await wait_for(lambda: state(hass, online) == STATE_OFF)  # the hub's current value
    await wait_for(lambda: device_of(hass, entry, gone) is None)  # the reloaded fleet's
    assert sent(hub, KIND[kind].subscribe) == subscriptions + 1  # resubscribed, reloaded
    assert log_count(caplog, LOST) == 1  # however many attempts failed meanwhile
    assert log_count(caplog, RESTORED) == 1


# --- 2. silent death ---


def worst_detection(timing: Timing) -> float:
    """Seconds from the hub's last frame until a dead connection is given up, at most."""
    bounds = [math.inf]
    if timing.silence_timeout:
        bounds.append(timing.silence_timeout)
    if timing.ws_heartbeat:  # aiohttp pings after that long and waits half as long for a pong
        bounds.append(1.5 * timing.ws_heartbeat)
    return min(bounds)


def keepalive_interval(timing: Timing) -> float:
    interval = timing.keepalive_interval or timing.ws_heartbeat
    assert interval is not None
    return interval


SILENCES: list[tuple[str, Timing | None]] = [
    *((kind, KIND[kind].fast) for kind in KINDS),
    ("imouse", Timing(silence_timeout=0.6)),  # no liveness pings: silence alone decides
]


@pytest.mark.parametrize(
    ("kind", "fast"),
    SILENCES,
    ids=[
        f"{kind}-{'silence' if fast and not fast.ws_heartbeat else 'liveness'}"
        for kind, fast in SILENCES
    ],
)
async def test_a_silent_hub_is_detected_and_recovered(
    hass: HomeAssistant, watched: StartHub, setup_hub: SetupHub, kind: str, fast: Timing | None
) -> None:
    spec = KIND[kind]
    hub = await watched(kind, devices=1, **spec.options)
    with patch.object(
        client_class(kind), "default_timing", side_effect=lambda: replace(fast or Timing())
    ):
        entry = await setup_hub(kind, hub)
    client = coordinator_of(entry).client
    device = spec.first(hub)
    online = await wait_for_entity(hass, entry, "binary_sensor", device, "online")
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")
    await wait_for(lambda: worst_detection(client.timing) <= 1.0)  # Navixy: its handshake's
    bound = worst_detection(client.timing)

    loop = asyncio.get_running_loop()
    hub.stop_answering()
    started = loop.time()
    await wait_for(lambda: state(hass, connected) == STATE_OFF, timeout=5)
    assert loop.time() - started <= bound + 0.5  # the bound of the client's own timings
    assert state(hass, online) == STATE_ON  # the grace period has just begun

    spec.offline_quietly(hub, device)
    hub.resume_answering()
    await hub.drop_connections()  # the half-dead socket goes; the next attempt gets answers
    await wait_for(lambda: state(hass, connected) == STATE_ON, timeout=10)
    await wait_for(lambda: state(hass, online) == STATE_OFF)


DEFAULT_CONFIGS: dict[str, dict[str, Any]] = {
    "imouse": {"host": "127.0.0.1"},
    "iclick": {},
    "navixy": {"api_key": "k" * 32},
    "devicehive": {"url": "wss://127.0.0.1/api/websocket", "token": "t"},
    "tftiot": {"username": "u", "password": "0" * 32},
}
NAVIXY_HANDSHAKE = (Path(__file__).parent / "fixtures/navixy/protocols_handshake.txt").read_text()


@pytest.mark.parametrize(
    "kind",
    [
        "imouse",
        "iclick",
        "devicehive",
        "navixy",
        "tftiot",
    ],
)
def test_default_timings_detect_silence_within_two_keepalive_intervals(kind: str) -> None:
    session = cast("aiohttp.ClientSession", None)  # nothing is opened
    client = client_class(kind).from_config(session, print, DEFAULT_CONFIGS[kind])
    if kind == "navixy":
        client.handle_text(NAVIXY_HANDSHAKE)  # its timings come from the hub: 30000 ms
    assert worst_detection(client.timing) <= 2 * keepalive_interval(client.timing)


# --- 3. credentials revoked, session closed ---


@dataclass(frozen=True)
class Credentials:
    """How a hub ends a session, and how the user gives it new credentials."""

    options: dict[str, Any]
    end_session: Callable[[Any], Awaitable[None]]
    renew: Callable[[Any], dict[str, Any]]
    """Change the hub's credentials; return what the user types into the reauth form."""
    reconnects: int = 0
    """Sign-in attempts an ended session costs (DeviceHive's ends with its socket only)."""


async def _navixy_logout(hub: Any) -> None:
    hub.revoke_credentials()
    hub.sessions.clear()  # a logout ends every session, and says so:
    await hub.push(fixture_text("navixy", "doc001_logout_event.json"))  # doc 001's, verbatim


async def _devicehive_revoked(hub: Any) -> None:
    hub.revoke_credentials()  # the token renewal within a second is refused; the session goes on
    await hub.drop_connections()  # until its socket ends: the next sign-in is refused


async def _tftiot_signin_error(hub: Any) -> None:
    hub.revoke_credentials()
    await hub.end_sessions()  # an unsolicited sign-in error


def _navixy_renew(hub: Any) -> dict[str, Any]:
    hub.api_key = NEW_API_KEY
    hub.restore_credentials()
    return {"api_key": NEW_API_KEY}


def _devicehive_renew(hub: Any) -> dict[str, Any]:
    hub.password = NEW_PASSWORD
    hub.users[hub.login] = (NEW_PASSWORD, hub.user_id)
    hub.restore_credentials()
    return {"username": hub.login, "password": NEW_PASSWORD}


def _tftiot_renew(hub: Any) -> dict[str, Any]:
    hub.password = NEW_PASSWORD
    hub.accounts[hub.user_id] = NEW_PASSWORD
    hub.restore_credentials()
    return {"password": NEW_PASSWORD}


CREDENTIALS: dict[str, Credentials] = {
    "navixy": Credentials({}, _navixy_logout, _navixy_renew),
    "devicehive": Credentials(
        {"access_lifetime": 1.0}, _devicehive_revoked, _devicehive_renew, reconnects=1
    ),
    "tftiot": Credentials({}, _tftiot_signin_error, _tftiot_renew),
}


def sign_in_attempts(hub: Any) -> int:
    """The client's attempts to sign in so far: WebSocket opens and REST calls."""
    rest = getattr(hub, "rest_calls", None) or getattr(hub, "rest_requests", None) or []
    return int(hub.accepted) + len(rest)


@pytest.mark.parametrize("kind", WITH_CREDENTIALS)
@pytest.mark.parametrize("when", ["in session", "while the hub is down"])
async def test_revoked_credentials_ask_for_new_ones_without_a_retry_storm(
    hass: HomeAssistant, watched: StartHub, setup_hub: SetupHub, kind: str, when: str
) -> None:
    spec = CREDENTIALS[kind]
    hub = await watched(kind, devices=1, **spec.options)
    entry = await setup_hub(kind, hub)
    device = KIND[kind].first(hub)
    online = await wait_for_entity(hass, entry, "binary_sensor", device, "online")
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")
    before = sign_in_attempts(hub)

    def attempts() -> int:
        return sign_in_attempts(hub) - before

    if when == "in session":
        await spec.end_session(hub)
    else:
        await hub.stop()
        await wait_for(lambda: state(hass, connected) == STATE_OFF)
        hub.revoke_credentials()
        await hub.start()
    await wait_for(lambda: reauth_flows(hass), timeout=5)
    assert state(hass, connected) == STATE_OFF
    await wait_for(lambda: not hub.connections)  # the client closed its sockets
    seen = attempts()
    # Nothing may happen now, however long: no retry storm. Past the longest back-off on the
    # harness clock, then a moment for anything woken to reach the hub.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=2 * RECONNECT_CAP))
    await hass.async_block_till_done()
    await asyncio.sleep(0.3)
    assert attempts() == seen
    assert attempts() <= (spec.reconnects if when == "in session" else 2)
    assert entry.state is ConfigEntryState.LOADED

    (flow,) = reauth_flows(hass)
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], spec.renew(hub))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    await wait_for(lambda: state(hass, connected) == STATE_ON, timeout=10)
    await KIND[kind].offline(hub, device)  # updates flow again, without a restart
    await wait_for(lambda: state(hass, online) == STATE_OFF)
    assert not reauth_flows(hass)


# --- 4. hostile input through Home Assistant ---


def sendable(frame: str | bytes) -> str | bytes:
    """Text that is not UTF-8 cannot go out as a text frame: it goes as a binary one."""
    if isinstance(frame, str):
        try:
            frame.encode()
        except UnicodeEncodeError:
            return frame.encode(errors="surrogateescape")
    return frame


async def harmless(kind: str, count: int) -> list[str | bytes]:
    """Generated frames under 1 MB, less those that end a session on purpose (a logout, a 401)."""
    frames = []
    for frame in map(sendable, harvest(kind, count)):
        async with primed(kind, lambda _message: None, waiting=False) as client:
            if len(frame) < 1 << 20 and feed(client, frame):
                frames.append(frame)
    return frames


@pytest.mark.parametrize("kind", KINDS)
async def test_hostile_frames_through_home_assistant(
    hass: HomeAssistant,
    watched: StartHub,
    setup_hub: SetupHub,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    frames = await harmless(kind, 150)
    hub = await watched(kind, devices=2)
    entry = await setup_hub(kind, hub)
    client = coordinator_of(entry).client
    device = KIND[kind].first(hub)
    online = await wait_for_entity(hass, entry, "binary_sensor", device, "online")
    await wait_for(lambda: state(hass, online) == STATE_ON)

    for frame in frames:
        await hub.push(frame)
    await KIND[kind].offline(hub, device)  # an honest frame after the garbage
    await wait_for(lambda: state(hass, online) == STATE_OFF, timeout=10)
    await hass.async_block_till_done()

    assert client.stats.connects == 1  # the read loop kept running: no reconnect
    assert client.stats.dropped.total() > 0
    assert Drop.HANDLER_ERROR not in client.stats.dropped
    assert_states_are_sane(hass, entry)
    assert not errors_logged(caplog)


@pytest.mark.parametrize("kind", ["imouse", "navixy"])
async def test_frames_the_socket_refuses_cost_one_reconnect(
    hass: HomeAssistant, watched: StartHub, setup_hub: SetupHub, kind: str
) -> None:
    """Text that is not UTF-8, and a frame over the size limit, end the socket; no more."""
    hub = await watched(kind, devices=1)
    entry = await setup_hub(kind, hub)
    client = coordinator_of(entry).client
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")

    await hub.push_invalid_text(b"{\xff\xfe}")
    await wait_for(lambda: client.stats.connects == 2, timeout=10)
    await wait_for(lambda: state(hass, connected) == STATE_ON)

    await hub.push("[" + " " * client.max_msg_size + "]")
    await wait_for(lambda: client.stats.connects == 3, timeout=10)
    await wait_for(lambda: state(hass, connected) == STATE_ON)


# --- 5. flood ---


def rss_bytes() -> int:
    """The resident memory of this process."""
    pages = Path("/proc/self/statm").read_text().split()[1]
    return int(pages) * 4096


async def test_a_flood_of_100000_updates_for_1000_devices(
    hass: HomeAssistant, watched: StartHub, setup_hub: SetupHub
) -> None:
    hub = await watched("navixy", devices=1000)
    start = datetime(2024, 5, 1, 12, 0, tzinfo=BERLIN)
    sources = {tracker.source_id: tracker.tracker_id for tracker in hub.trackers.values()}

    def position(source: int, step: int) -> dict[str, Any]:
        return {
            "source_id": source,
            "gps": {
                "updated": (start + timedelta(seconds=step)).strftime("%Y-%m-%d %H:%M:%S"),
                "location": {"lat": 50 + source % 1000 / 1000, "lng": 10 + step / 1000},
            },
        }

    for tracker in hub.trackers.values():
        tracker.state = position(tracker.source_id, 0)  # one entity per tracker: its location
    entry = await setup_hub("navixy", hub)
    coordinator = coordinator_of(entry)
    await wait_for(
        lambda: sum(d.position is not None for d in coordinator.devices.values()) == 1000,
        timeout=30,
    )
    await hass.async_block_till_done()
    trackers = {
        source: entity_id(hass, entry, "device_tracker", str(tracker), "location")
        for source, tracker in sources.items()
    }
    gc.collect()
    before = rss_bytes()

    rounds = 100
    for step in range(1, rounds + 1):
        batch = [position(source, step) for source in sources]
        await hub.push({"type": "event", "event": "state_batch", "data": batch})
    last = 10 + rounds / 1000
    await wait_for(
        lambda: all(
            d.position.longitude == last for d in coordinator.devices.values() if d.position
        ),
        timeout=60,
    )
    await hass.async_block_till_done()
    gc.collect()
    growth = rss_bytes() - before

    assert coordinator.client.stats.messages >= 100_000
    for source, entity in trackers.items():
        shown = hass.states.get(entity)
        assert shown is not None
        assert shown.attributes["latitude"] == 50 + source % 1000 / 1000
        assert shown.attributes["longitude"] == last
    assert growth < 150 * 1024 * 1024, f"{growth / 1024 / 1024:.0f} MB more after the flood"


# --- 6. out of order, duplicates ---


@dataclass(frozen=True)
class Fixes:
    """How a hub kind reports a position with its time, as a raw frame."""

    prepare: Callable[[Any], str]
    """Remove the simulated device's own position; return the device id."""
    frame: Callable[[Any, str, float, int, int], str]
    """(hub, device, latitude, seconds after the start, notification id) -> frame text."""


START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def _navixy_prepare(hub: Any) -> str:
    tracker = next(iter(hub.trackers.values()))
    del tracker.state["gps"]
    return str(tracker.tracker_id)


def _navixy_fix(hub: Any, device: str, latitude: float, seconds: int, _number: int) -> str:
    when = (START + timedelta(seconds=seconds)).astimezone(BERLIN)
    gps = {
        "updated": when.strftime("%Y-%m-%d %H:%M:%S"),
        "location": {"lat": latitude, "lng": 13.4},
    }
    source = hub.trackers[int(device)].source_id
    return json.dumps(
        {"type": "event", "event": "state", "data": {"source_id": source, "gps": gps}}
    )


def _devicehive_fix(_hub: Any, device: str, latitude: float, seconds: int, number: int) -> str:
    when = START + timedelta(seconds=seconds)
    notification = {
        "id": 9000 + number,
        "notification": "gps",
        "deviceId": device,
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.000"),
        "parameters": {"lat": latitude, "lng": 30.5},
    }
    return json.dumps({"action": "notification/insert", "notification": notification})


def _tftiot_prepare(hub: Any) -> str:
    imei, tracker = next(iter(hub.trackers.items()))
    tracker.valid = False
    return str(imei)


def _tftiot_fix(hub: Any, device: str, latitude: float, seconds: int, _number: int) -> str:
    data = hub.trackers[device].data()
    status = data["status"]
    status.update(lat=latitude, latlng_valid=1)
    status["location_date"] = int((START + timedelta(seconds=seconds)).timestamp() * 1000)
    return json.dumps({"event": "snapshot", "data": data, "error": 0})


FIXES = {
    "navixy": Fixes(_navixy_prepare, _navixy_fix),
    "devicehive": Fixes(lambda _hub: "dev-1", _devicehive_fix),
    "tftiot": Fixes(_tftiot_prepare, _tftiot_fix),
}


async def push_and_wait(hub: Any, client: HubClient, frame: str) -> None:
    """Push one frame and wait until the client has read it."""
    frames = client.stats.frames
    await hub.push(frame)
    await wait_for(lambda: client.stats.frames > frames)


@pytest.mark.parametrize("kind", WITH_POSITIONS)
async def test_old_and_repeated_positions_never_move_a_tracker_back(
    hass: HomeAssistant, watched: StartHub, setup_hub: SetupHub, kind: str
) -> None:
    hub = await watched(kind, devices=1)
    fixes = FIXES[kind]
    device = fixes.prepare(hub)
    entry = await setup_hub(kind, hub)
    client = coordinator_of(entry).client

    await push_and_wait(hub, client, fixes.frame(hub, device, 10.0, 100, 1))
    tracker = await wait_for_entity(hass, entry, "device_tracker", device, "location")
    await wait_for(lambda: hass.states.get(tracker).attributes.get("latitude") == 10.0)
    written = hass.states.get(tracker)

    await push_and_wait(hub, client, fixes.frame(hub, device, 20.0, 50, 2))  # older
    await push_and_wait(hub, client, fixes.frame(hub, device, 10.0, 100, 1))  # repeated
    await push_and_wait(hub, client, fixes.frame(hub, device, 10.0, 100, 3))  # same, new id
    await hass.async_block_till_done()
    assert hass.states.get(tracker) == written
    assert hass.states.get(tracker).last_reported == written.last_reported  # not even written

    await push_and_wait(hub, client, fixes.frame(hub, device, 30.0, 200, 4))  # newer
    await push_and_wait(hub, client, fixes.frame(hub, device, 40.0, 150, 5))  # older again
    await hass.async_block_till_done()
    shown = hass.states.get(tracker)
    assert shown.attributes["latitude"] == 30.0
    assert shown.attributes["fix_time"] == (START + timedelta(seconds=200)).isoformat()


async def test_coalesced_positions_keep_the_newest_fix(
    hass: HomeAssistant, watched: StartHub, setup_hub: SetupHub
) -> None:
    hub = await watched("navixy", devices=1)
    fixes = FIXES["navixy"]
    device = fixes.prepare(hub)
    entry = await setup_hub("navixy", hub, options={CONF_MIN_POSITION_INTERVAL: 60})
    client = coordinator_of(entry).client
    await push_and_wait(hub, client, fixes.frame(hub, device, 10.0, 100, 1))
    tracker = await wait_for_entity(hass, entry, "device_tracker", device, "location")
    await wait_for(lambda: hass.states.get(tracker).attributes.get("latitude") == 10.0)

    await push_and_wait(hub, client, fixes.frame(hub, device, 30.0, 200, 2))  # held back
    await push_and_wait(hub, client, fixes.frame(hub, device, 20.0, 150, 3))  # late, older
    await hass.async_block_till_done()
    assert hass.states.get(tracker).attributes["latitude"] == 10.0  # both held
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=61))  # the window ends
    await hass.async_block_till_done()
    assert hass.states.get(tracker).attributes["latitude"] == 30.0


# --- 7. DeviceHive: what happened while disconnected ---


async def test_devicehive_notifications_missed_while_away_arrive_once(
    hass: HomeAssistant, watched: StartHub, setup_hub: SetupHub
) -> None:
    hub = await watched("devicehive", devices=2)
    # gps chosen as an event: each one delivered shows as a fleet_push_event.
    entry = await setup_hub("devicehive", hub, options={EVENTS_OPTION: ["gps"]})
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")

    def gps(number: int) -> dict[str, Any]:
        return {"lat": 50.0 + number / 100, "lng": 30.5, "battery": 90 - number}

    sent = [await hub.notify("dev-1", "gps", gps(number)) for number in range(1, 4)]
    await wait_for(lambda: len(events) == 3)

    await hub.stop()
    await wait_for(lambda: state(hass, connected) == STATE_OFF)
    sent += [  # sent while FleetPush is away
        await hub.notify("dev-1" if number % 2 else "dev-2", "gps", gps(number))
        for number in range(4, 9)
    ]
    await hub.start()
    await wait_for(lambda: state(hass, connected) == STATE_ON, timeout=10)
    await wait_for(lambda: len(events) >= 8)
    await asyncio.sleep(0.3)  # nothing more may come: the fetch overlaps, deduplicated

    assert [event.data["data"]["id"] for event in events] == [item["id"] for item in sent]
    resubscribed = [frame for frame in hub.received if '"notification/subscribe"' in frame]
    assert len(resubscribed) == 2
    assert '"timestamp"' in resubscribed[-1]  # from the cursor
    dev1 = entity_id(hass, entry, "device_tracker", "dev-1", "location")
    dev2 = entity_id(hass, entry, "device_tracker", "dev-2", "location")
    assert hass.states.get(dev1).attributes["latitude"] == 50.07
    assert hass.states.get(dev2).attributes["latitude"] == 50.08


# --- 9. unload and reload while updates flow ---


def not_serving_http() -> list[asyncio.Task[Any]]:
    """The running tasks but the simulators' HTTP handlers: those keep a (pooled) REST
    connection alive on the server's side for as long as its keep-alive lasts."""
    return [
        task
        for task in asyncio.all_tasks()
        if not getattr(task.get_coro(), "__qualname__", "").startswith("RequestHandler.")
    ]


@pytest.mark.parametrize("kind", KINDS)
async def test_reloading_20_times_while_updates_flow_leaks_nothing(
    hass: HomeAssistant,
    watched: StartHub,
    setup_hub: SetupHub,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    hub = await watched(kind, devices=3, event_rate=20)
    entry = await setup_hub(kind, hub)
    device = KIND[kind].first(hub)
    await wait_for_entity(hass, entry, "binary_sensor", device, "online")
    await hub.wait_for_connections(1)
    tasks = len(not_serving_http())

    for _ in range(20):
        assert await hass.config_entries.async_reload(entry.entry_id)
        assert entry.state is ConfigEntryState.LOADED
    await hass.async_block_till_done()
    sockets = getattr(hub, "client_sockets", 1)  # TFT IoT: a device and a message socket
    await wait_for(lambda: len(hub.connections) == sockets)  # the old sockets are all closed
    online = await wait_for_entity(hass, entry, "binary_sensor", device, "online")
    client = coordinator_of(entry).client
    messages = client.stats.messages
    await wait_for(lambda: client.stats.messages > messages)  # the fleet still reports
    assert state(hass, online) in (STATE_ON, STATE_OFF)

    # The live client may be asking for the trips of trackers that just stopped: one at a time
    # per tracker, whatever the reloads did; anything else that outlived them is a leak.
    fleet = len(getattr(hub, "trackers", None) or hub.devices)
    running = not_serving_http()
    trips = [task for task in running if task.get_name() == "fleet_push navixy trips"]
    assert len(trips) <= fleet
    assert len(running) - len(trips) <= tasks + 2
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert len(devices) == fleet + 1  # and the hub
    entities = fleet_entities(hass, entry)
    ids = [entity.entity_id for entity in entities]
    assert len(ids) == len(set(ids))
    assert not [eid for eid in ids if eid.endswith("_2") and eid[:-2] in ids]
    assert not errors_logged(caplog)
