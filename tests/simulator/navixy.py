"""A Navixy account on loopback: REST under /v2 and the Atmosphere WebSocket for events."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import json
import math
import re
import struct
from typing import Any, ClassVar
import uuid
import zlib
from zoneinfo import ZoneInfo

from aiohttp import web

from . import navixy_zones
from .base import Connection, HubSimulator, Pace
from .navixy_trips import EventHistory, HistoryError, TripLog

API_PREFIX = "/v2"
COMPACT_KEYS = frozenset(
    {
        "source_id",
        "gps",
        "connection_status",
        "movement_status",
        "movement_status_update",
        "ignition",
        "ignition_update",
        "last_update",
    }
)
MODELS = ("telfmb920", "telfmb120", "queclink_gv300", "concox_gt06n")
"""The models the fleet's trackers are picked from."""
MODEL_CATALOGUE: tuple[tuple[str, str, str, str], ...] = (
    # code, vendor, name, type (list_models: "logger", "portable", "vehicle" or "personal")
    ("navixy_ngp", "Navixy", "Navixy Generic Protocol", "vehicle"),  # the docs' sample
    ("telfmb920", "Teltonika", "FMB920", "vehicle"),
    ("telfmb120", "Teltonika", "FMB120", "vehicle"),
    ("queclink_gv300", "Queclink", "GV300", "vehicle"),
    ("concox_gt06n", "Concox", "GT06N", "vehicle"),
    ("queclink_gl300", "Queclink", "GL300", "portable"),
    ("concox_gt300", "Concox", "GT300", "personal"),
)
"""The integrated models tracker/list_models knows (a code it does not know is left out)."""
HEARTBEAT = "X"
"""Atmosphere's heartbeat padding, both ways."""
COMMANDS = frozenset({"electronic_lock_command", "reboot"})
"""Commands the simulated devices support; others fail with 214."""
FLUSH_POLL = 0.05
"""Seconds between looks at what a connection is due (handshake, heartbeat, batches)."""
STEP_SECONDS = 10.0
"""Simulated driving time per tick."""
PARKED_FIX_SECONDS = 300.0
"""The demo: how often a parked tracker sends a fix (a tracker's parking-mode interval)."""
FUEL_PER_KM = 0.3
"""Litres a simulated vehicle burns per kilometre."""
_RATE_LIMIT = re.compile(r"(\d+)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_OFFLINE = frozenset({"offline", "signal_lost"})
ONLINE_STATUSES = frozenset({"active", "idle"})
"""connection_status values FleetPush shows as online (the others are offline)."""
BATCH_KINDS = frozenset({"state_batch", "readings_batch"})
AVATAR_EVERY = 2
"""Every second tracker has an avatar of its own (tracker/avatar/upload)."""
"""Subscription types that take a target and a rate_limit."""
DEMO_SPEED_LIMIT = 60
"""Demo pace: the speeding rule's limit (km/h)."""
DEMO_SPEEDING = 0.05
"""Demo pace: the chance per tick that a tracker above the limit raises a speeding event."""
DEMO_SOS = 0.0005
"""Demo pace: the chance per tick that a driving tracker's driver presses SOS."""


class ApiFailure(Exception):
    """A REST error reply."""

    def __init__(self, code: int, description: str, status: int = 400) -> None:
        """The Navixy error code and description, and the HTTP status."""
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


@dataclass
class SimTracker:
    """One simulated tracker; `state` is its full-format state without source_id."""

    tracker_id: int
    source_id: int
    label: str
    model: str
    device_id: str
    phone: str
    blocked: bool = False
    vehicle_type: str | None = None
    """The type of the vehicle it is fitted to (vehicle/list), if one is set up for it."""
    group_id: int = 0
    """Its group (tracker/group/list); 0: the default group, which has no title."""
    tags: list[int] = field(default_factory=list)
    """Its tags (tag/list), as tag_bindings."""
    tariff_end_date: str | None = "2031-09-20"
    state: dict[str, Any] = field(default_factory=dict)
    avatar: str | None = None
    """Its avatar's file name (served under /v2/static/tracker/avatars/)."""
    counters: dict[str, float] = field(default_factory=dict)
    """Counter type (odometer km, engine_hours h) -> value."""
    sensors: list[dict[str, Any]] = field(default_factory=list)
    """Its metering sensors as readings_batch `inputs` show them."""
    readings_update: str = ""

    def readings(self) -> dict[str, Any]:
        """Its whole readings_batch item (the first batch after subscribing carries these)."""
        return {
            "inputs": [dict(sensor, update_time=self.readings_update) for sensor in self.sensors],
            "states": _port_states(self.state),
            "counters": [
                {"type": kind, "value": value, "update_time": self.readings_update}
                for kind, value in self.counters.items()
            ],
        }

    def meter(self, km: float, hours: float, now: str) -> None:
        """It drove `km` in `hours` with the engine on: counters up, fuel down."""
        self.counters["odometer"] = round(self.counters.get("odometer", 0.0) + km, 3)
        self.counters["engine_hours"] = round(self.counters.get("engine_hours", 0.0) + hours, 4)
        for sensor in self.sensors:
            if sensor["type"] == "fuel":
                sensor["value"] = round(max(20.0, sensor["value"] - km * FUEL_PER_KM), 2)
        self.readings_update = now

    def listing(self) -> dict[str, Any]:
        """The tracker as tracker/list shows it."""
        return {
            "id": self.tracker_id,
            "label": self.label,
            "clone": False,
            "group_id": self.group_id,
            "source": {
                "id": self.source_id,
                "device_id": self.device_id,
                "model": self.model,
                "blocked": self.blocked,
                "tariff_id": 345678,
                "status_listing_id": None,
                "creation_date": "2021-09-20",
                "tariff_end_date": self.tariff_end_date,
                "phone": self.phone,
            },
            "tag_bindings": list(self.tags),
            # tracker/README.md: avatar_file_name is passed only if present
            **({"avatar_file_name": self.avatar} if self.avatar else {}),
        }

    def vehicle(self) -> dict[str, Any]:
        """Its vehicle as vehicle/list shows it (the fields FleetPush is shown, and some)."""
        return {
            "id": 200000 + self.tracker_id % 100000,
            "tracker_id": self.tracker_id,
            "tracker_label": self.label,
            "label": self.label,
            "max_speed": 90,
            "model": "",
            "type": self.vehicle_type,
            "subtype": None,
            "garage_id": None,
            "reg_number": f"B-FP {self.tracker_id % 10000}",
            "vin": "",
            "icon_id": None,
            "avatar_file_name": None,
            "tags": [],
        }


@dataclass
class Subscription:
    """One subscribed request of one connection."""

    kind: str
    """"state_batch", "readings_batch" or "state"."""
    tracker_ids: frozenset[int] | None
    """None: every tracker."""
    compact: bool
    interval: float
    """Seconds between batches (the request's rate_limit)."""
    last_sent: float = -math.inf
    dirty: set[int] = field(default_factory=set)
    sent: dict[int, dict[str, Any]] = field(default_factory=dict)
    """readings_batch: each tracker's readings as last sent (later batches send what changed)."""

    def covers(self, tracker_id: int) -> bool:
        """Whether this subscription follows a tracker."""
        return self.tracker_ids is None or tracker_id in self.tracker_ids


class NavixySimulator(HubSimulator):
    """Navixy's user API: auth, account, trackers, outputs, commands, and state events.

    The WebSocket behaves as Atmosphere does for Navixy by default: the handshake
    `uuid|client_heartbeat_ms|X|` right after the upgrade (client messages before it are
    dropped), and the server's own `X` only after `server_heartbeat` seconds without any other
    output (Atmosphere's HeartbeatInterceptor: 60 s, not announced to the client).

    Options where the vendor is silent (see VARIANTS): `server_heartbeat` (None: never),
    `handshake_delay` (Atmosphere's delayProtocolInMilliseconds; None: no handshake at all),
    `answer_pings`, `wrapped` items (source_state_event, as seen live) instead of bare states,
    `omit_nulls` (the API docs say nulls are omitted, the samples show them),
    `response_success` (False: subscribe replies without "success", as seen live),
    `zone_points` (False: zone/list never lists points, only zone/point/list gives them),
    `zone_rights` (False: a sub-user without the right to geofences, refused with 11). For tests:
    `client_heartbeat_ms` (the handshake's number), `item_format` ("full"/"compact")
    overriding what the client asked for, `rest_delay` before every REST answer.

    Trips (track/list) are recorded from what the trackers do; the event history
    (history/user/list) holds the rule events added to `history`. Where the docs are silent:
    `trip_lag` (seconds before a finished trip shows in track/list) and `history_limit` (the
    platform's history.maxLimit, 1000 by default).
    """

    kind: ClassVar[str] = "navixy"
    ws_path: ClassVar[str] = f"{API_PREFIX}/event/subscription"

    api_key = "f4bf1b754034213653dad99c78c4b237"
    login = "fleet@example.com"
    password = "navixy-Passw0rd"
    user_id = 43568
    time_zone = "Europe/Berlin"

    def __init__(
        self,
        *,
        devices: int = 3,
        host: str = "127.0.0.1",
        port: int = 0,
        event_rate: float = 0.0,
        seed: int = 1,
        answer_pings: bool = True,
        client_heartbeat_ms: int = 30000,
        server_heartbeat: float | None = 60.0,
        handshake_delay: float | None = 0.0,
        wrapped: bool = False,
        item_format: str | None = None,
        omit_nulls: bool = False,
        response_success: bool = True,
        zone_points: bool = True,
        zone_rights: bool = True,
        trip_lag: float = 0.0,
        history_limit: int = 1000,
        pace: Pace = "test",
    ) -> None:
        """Make `devices` trackers around Berlin."""
        self.client_heartbeat_ms = client_heartbeat_ms
        self.server_heartbeat = server_heartbeat
        self.handshake_delay = handshake_delay
        self.wrapped = wrapped
        self.item_format = item_format
        self.omit_nulls = omit_nulls
        self.response_success = response_success
        self.zone_points = zone_points
        self.zone_rights = zone_rights
        self.rest_delay = 0.0
        self.trips = TripLog(self.time_zone, trip_lag)
        """Every tracker's trips, as track/list reports them."""
        self.history = EventHistory(self.time_zone, history_limit)
        """The account's rule events, as history/user/list reports them."""
        self.trackers: dict[int, SimTracker] = {}
        self.sessions: set[str] = set()
        """Session hashes handed out by user/auth."""
        self.commands: list[tuple[int, dict[str, Any]]] = []
        """Every accepted tracker/send_command, as (tracker id, command)."""
        self.rest_calls: list[tuple[str, dict[str, Any]]] = []
        """Every REST call, as (path, parameters without the hash)."""
        self.too_early: list[str] = []
        """Client frames dropped because they came before the handshake."""
        self.zones: list[dict[str, Any]] = navixy_zones.default_zones()
        """The account's geofences as zone/list shows them (tests and the demo change them)."""
        self._registered = 0
        self.groups: dict[int, dict[str, Any]] = {}
        """Group id -> its tracker/group/list item."""
        self.tags: dict[int, dict[str, Any]] = {}
        """Tag id -> its tag/list item."""
        super().__init__(
            devices=devices,
            host=host,
            port=port,
            event_rate=event_rate,
            seed=seed,
            answer_pings=answer_pings,
            pace=pace,
        )

    @property
    def api_url(self) -> str:
        """The API base URL a client is configured with."""
        return f"{self.base_url}{API_PREFIX}"

    # --- the fleet ---

    def build_fleet(self, devices: int) -> None:
        """Create the trackers."""
        for _ in range(devices):
            self.add_tracker()
        if self.pace == "demo":
            self.group_demo_fleet()

    def group_demo_fleet(self) -> None:
        """The demo's groups and tags: vans and trucks, a night shift, one tariff ending soon."""
        vans = self.add_group("Vans", "FF6DDC")
        trucks = self.add_group("Trucks", "2196F3")
        night = self.add_tag("Night shift", "3F51B5")
        for number, tracker in enumerate(self.trackers.values()):
            tracker.group_id = vans if number % 2 == 0 else trucks
            if number % 3 == 0:
                tracker.tags.append(night)
        last = list(self.trackers.values())[-1:]
        for tracker in last:  # a repair before its service ends
            soon = datetime.now(ZoneInfo(self.time_zone)).date() + timedelta(days=5)
            tracker.tariff_end_date = soon.isoformat()

    def add_group(self, title: str, color: str) -> int:
        """A tracker group, as tracker/group/list shows it; its id."""
        group_id = 129301 + len(self.groups)
        self.groups[group_id] = {"title": title, "color": color, "id": group_id}
        return group_id

    def add_tag(self, name: str, color: str) -> int:
        """A tag, as tag/list shows it; its id."""
        tag_id = 3 + len(self.tags)
        self.tags[tag_id] = {"id": tag_id, "avatar_file_name": None, "name": name, "color": color}
        return tag_id

    def add_tracker(self, label: str | None = None, model: str | None = None) -> SimTracker:
        """Register a new tracker (clients learn of it only from tracker/list)."""
        self._registered += 1
        number = self._registered
        tracker = SimTracker(
            tracker_id=100000 + number,
            source_id=10283 + number,
            label=label or f"Vehicle {number}",
            model=model or self.random.choice(MODELS),
            device_id=f"35{self.random.randrange(10**12, 10**13)}",
            phone=f"+4915{self.random.randrange(10**8, 10**9)}",
        )
        tracker.state = self._initial_state()
        tracker.counters = {
            "odometer": 10_000 + number * 1_234.5,
            "engine_hours": 500 + number * 12.5,
        }
        tracker.sensors = _sensors(number)
        tracker.readings_update = self.user_time()
        tracker.avatar = f"avatar-{number}.png" if number % AVATAR_EVERY == 0 else None
        self.trackers[tracker.tracker_id] = tracker
        self._changed(tracker.tracker_id)
        return tracker

    def _initial_state(self) -> dict[str, Any]:
        now = self.user_time()
        rnd = self.random
        return {
            "gps": {
                "updated": now,
                "signal_level": rnd.randrange(60, 101),
                "location": {
                    "lat": 52.52 + rnd.uniform(-0.1, 0.1),
                    "lng": 13.405 + rnd.uniform(-0.15, 0.15),
                },
                "heading": rnd.randrange(0, 360),
                "speed": 0,
                "alt": rnd.randrange(30, 80),
            },
            "connection_status": "active",
            "movement_status": "parked",
            "movement_status_update": now,
            "ignition": False,
            "ignition_update": now,
            "gsm": {
                "updated": now,
                "signal_level": rnd.randrange(40, 101),
                "network_name": "Simulated GSM",
                "roaming": False,
            },
            "last_update": now,
            "battery_level": rnd.randrange(50, 101),
            "battery_update": now,
            "inputs": [False] * 8,
            "inputs_update": now,
            "outputs": [False] * 8,
            "outputs_update": now,
            "actual_track_update": now,
        }

    def user_time(self) -> str:
        """Now, as Navixy writes dates: the user's local time."""
        return datetime.now(ZoneInfo(self.time_zone)).strftime("%Y-%m-%d %H:%M:%S")

    def tracker(self, tracker_id: int) -> SimTracker:
        """A tracker by id (KeyError if there is none)."""
        return self.trackers[tracker_id]

    def form(self) -> dict[str, Any]:
        """The API base and the account's API key, as a user types them."""
        return {"url": self.api_url, "api_key": self.api_key, "verify_ssl": True}

    @property
    def hub_unique_id(self) -> str:
        """An account is known by its platform's host and its user id."""
        return f"{self.host}:{self.user_id}"

    def fleet_ids(self) -> list[str]:
        """Every tracker id, as FleetPush names the devices."""
        return [str(tracker_id) for tracker_id in self.trackers]

    def is_online(self, device_id: str) -> bool:
        """What a tracker's Online sensor must show: active or idle is online."""
        return self.trackers[int(device_id)].state.get("connection_status") in ONLINE_STATUSES

    # --- helpers for tests ---

    def move(
        self,
        tracker_id: int,
        lat: float,
        lng: float,
        *,
        speed: float | None = None,
        heading: float | None = None,
        fixed: str | None = None,
    ) -> None:
        """Put a tracker somewhere; the next batch reports it (fixed: the fix's own time, in
        the user's zone, as a tracker with a wrong clock may say)."""
        gps = self.tracker(tracker_id).state["gps"]
        gps["location"] = {"lat": lat, "lng": lng}
        if speed is not None:
            gps["speed"] = speed
        if heading is not None:
            gps["heading"] = heading
        self._touch(tracker_id, fixed)

    def set_state(self, tracker_id: int, **fields: Any) -> None:
        """Overwrite state fields (None makes them null); the next batch reports them."""
        self.tracker(tracker_id).state.update(fields)
        self._touch(tracker_id)

    def set_online(self, tracker_id: int, online: bool) -> None:
        """Connect or disconnect a tracker."""
        self.set_state(tracker_id, connection_status="active" if online else "offline")

    async def remove_tracker(self, tracker_id: int) -> None:
        """Corrupt (delete) a tracker: subscribers get lifecycle "corrupt"."""
        tracker = self.trackers.pop(tracker_id)
        await self._lifecycle(tracker, "corrupt")

    async def block(self, tracker_id: int) -> None:
        """Block a tracker: lifecycle "block", and no more states for it."""
        tracker = self.tracker(tracker_id)
        tracker.blocked = True
        await self._lifecycle(tracker, "block")

    async def unblock(self, tracker_id: int) -> None:
        """Unblock a tracker: lifecycle "unblock", then its state."""
        tracker = self.tracker(tracker_id)
        tracker.blocked = False
        await self._lifecycle(tracker, "unblock")
        self._changed(tracker_id)

    async def logout(self) -> None:
        """End every session (as a password change does) and tell the subscribers."""
        self.sessions.clear()
        for conn in list(self.connections):
            if conn.state.get("subscriptions"):
                await self._send(
                    conn, {"type": "event", "event": "logout", "data": "session closed"}
                )

    async def tick(self) -> None:
        """Drive the fleet: trips start and end, trackers lose and regain their signal."""
        for tracker in list(self.trackers.values()):
            if not tracker.blocked:
                self._drive(tracker)
                self._touch(tracker.tracker_id)

    async def demo_tick(self) -> None:
        """Trips of minutes and parking between them; now and then a parked tracker offline."""
        for tracker in list(self.trackers.values()):
            if tracker.blocked:
                continue
            state, now = tracker.state, self.user_time()
            match self.follow(tracker.tracker_id):
                case "active":
                    state.update(
                        movement_status="moving",
                        movement_status_update=now,
                        ignition=True,
                        ignition_update=now,
                    )
                    state["gps"]["speed"] = self.random.randrange(25, 55)
                case "resting":
                    self._stop(state, now)
                case "offline":
                    state["connection_status"] = self.random.choice(("offline", "signal_lost"))
                case "online":
                    state["connection_status"] = "active"
                case None if state["movement_status"] != "moving":
                    self._parked_fix(tracker)
                    continue
            if state["movement_status"] == "moving":
                gps = state["gps"]
                location = gps["location"]
                gps["speed"] = max(15, min(70, gps["speed"] + self.random.randint(-3, 3)))
                lat, lng, heading = self.drive(
                    tracker.tracker_id,
                    location["lat"],
                    location["lng"],
                    gps["heading"],
                    gps["speed"] * self.tick_seconds / 3600,
                )
                gps.update(location={"lat": lat, "lng": lng}, heading=round(heading))
                hours = self.tick_seconds / 3600
                tracker.meter(gps["speed"] * hours, hours, now)
                self._demo_alarm(tracker)
            self._touch(tracker.tracker_id)

    def _parked_fix(self, tracker: SimTracker) -> None:
        """A parked, connected tracker still fixes now and then (so its position stays fresh)."""
        routine = self.routine(tracker.tracker_id)
        online = tracker.state["connection_status"] in ONLINE_STATUSES
        if online and self.clock - routine.reported >= PARKED_FIX_SECONDS:
            routine.reported = self.clock
            self._touch(tracker.tracker_id)

    def _demo_alarm(self, tracker: SimTracker) -> None:
        """Now and then a driving tracker speeds (a rule event), rarely a driver presses SOS."""
        speed, roll = tracker.state["gps"]["speed"], self.random.random()
        if speed > DEMO_SPEED_LIMIT and roll < DEMO_SPEEDING:
            self.alarm(tracker.tracker_id, "speedup", f"Speeding: {speed} km/h")
        elif roll < DEMO_SOS:
            self.alarm(tracker.tracker_id, "sos", "SOS button pressed", emergency=True)

    def _drive(self, tracker: SimTracker) -> None:
        state, rnd = tracker.state, self.random
        roll = rnd.random()
        now = self.user_time()
        if state["connection_status"] in _OFFLINE:
            if roll < 0.3:
                state["connection_status"] = "active"
            return
        if roll < 0.03:
            state["connection_status"] = rnd.choice(("offline", "signal_lost", "idle"))
        elif state["movement_status"] == "moving":
            if roll < 0.1:
                self._stop(state, now)
            else:
                self._advance(state["gps"])
                km = state["gps"]["speed"] * STEP_SECONDS / 3600
                tracker.meter(km, STEP_SECONDS / 3600, now)
        elif roll < 0.25:
            state.update(
                connection_status="active",
                movement_status="moving",
                movement_status_update=now,
                ignition=True,
                ignition_update=now,
            )
            state["gps"]["speed"] = rnd.randrange(20, 90)

    @staticmethod
    def _stop(state: dict[str, Any], now: str) -> None:
        state.update(
            movement_status="parked",
            movement_status_update=now,
            ignition=False,
            ignition_update=now,
        )
        state["gps"]["speed"] = 0

    def _advance(self, gps: dict[str, Any]) -> None:
        """Drive STEP_SECONDS along the heading, turning a little."""
        heading = (gps["heading"] + self.random.uniform(-25, 25)) % 360
        speed = max(5, min(130, gps["speed"] + self.random.uniform(-10, 10)))
        km = speed * STEP_SECONDS / 3600
        location = gps["location"]
        lat = location["lat"] + km * math.cos(math.radians(heading)) / 111.32
        lng = location["lng"] + km * math.sin(math.radians(heading)) / (
            111.32 * math.cos(math.radians(lat))
        )
        gps.update(location={"lat": lat, "lng": lng}, heading=round(heading), speed=round(speed))

    def _touch(self, tracker_id: int, fixed: str | None = None) -> None:
        """A tracker sent data now (its fix dated `fixed` if given)."""
        state = self.tracker(tracker_id).state
        now = self.user_time()
        state["last_update"] = now
        if isinstance(state.get("gps"), dict):
            state["gps"]["updated"] = fixed or now
        self.trips.observe(tracker_id, state)
        self._changed(tracker_id)

    def _changed(self, tracker_id: int) -> None:
        for conn in self.connections:
            for sub in conn.state.get("subscriptions", ()):
                if sub.covers(tracker_id):
                    sub.dirty.add(tracker_id)

    async def _lifecycle(self, tracker: SimTracker, event: str) -> None:
        frame = {
            "type": "event",
            "event": "lifecycle",
            "data": {"source_id": tracker.source_id, "lifecycle_event": event},
        }
        for conn in list(self.connections):
            if any(sub.covers(tracker.tracker_id) for sub in conn.state.get("subscriptions", ())):
                await self._send(conn, frame)

    # --- credentials ---

    def valid_hash(self, value: Any) -> bool:
        """Whether a hash is the API key or a live session."""
        if self.credentials_revoked or not isinstance(value, str):
            return False
        return value == self.api_key or value in self.sessions

    # --- REST ---

    def add_routes(self, app: web.Application) -> None:
        """Every API call under /v2, by POST (JSON) or GET (query string)."""
        app.router.add_route("*", API_PREFIX + "/{path:.+}", self._rest)

    async def _rest(self, request: web.Request) -> web.Response:
        if self.rest_delay:
            await asyncio.sleep(self.rest_delay)
        path = request.match_info["path"]
        if path.startswith("static/"):
            return self._static(path)
        try:
            body = await self._body(request)
            self.rest_calls.append((path, {k: v for k, v in body.items() if k != "hash"}))
            handler = self._handlers().get(path)
            if handler is None:
                raise ApiFailure(5, "Wrong request", 404)  # noqa: TRY301
            if path != "user/auth":
                self._check_hash(body.get("hash"))
            reply = handler(body)
        except ApiFailure as err:
            return web.json_response(
                {"success": False, "status": {"code": err.code, "description": err.description}},
                status=err.status,
            )
        return web.json_response({"success": True, **reply})

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if request.method == "GET":
            return dict(request.query)
        try:
            body = await request.json()
        except ValueError:
            raise ApiFailure(7, "Invalid parameters") from None
        if not isinstance(body, dict):
            raise ApiFailure(7, "Invalid parameters")
        return body

    def _check_hash(self, value: Any) -> None:
        if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{32}", value):
            raise ApiFailure(3, "Wrong user hash")
        if not self.valid_hash(value):
            raise ApiFailure(4, "User or API key not found or session ended", 403)

    def _handlers(self) -> dict[str, Any]:
        return {
            "user/auth": self._auth,
            "user/get_info": self._get_info,
            "user/settings/get": self._settings,
            "tracker/list": self._list,
            "tracker/list_models": self._list_models,
            "vehicle/list": self._vehicles,
            "tracker/group/list": lambda _body: {"list": list(self.groups.values())},
            "tag/list": lambda _body: {"list": list(self.tags.values())},
            "tracker/get_state": self._get_state,
            "tracker/output/set": self._output_set,
            "tracker/send_command": self._send_command,
            "zone/list": self._zone_list,
            "zone/point/list": self._zone_points,
            "track/list": self._track_list,
            "history/user/list": self._history,
        }

    def _auth(self, body: dict[str, Any]) -> dict[str, Any]:
        if (
            self.credentials_revoked
            or body.get("login") != self.login
            or body.get("password") != self.password
        ):
            raise ApiFailure(102, "Wrong login or password")
        session = uuid.UUID(int=self.random.getrandbits(128)).hex
        self.sessions.add(session)
        return {"type": "authenticated", "hash": session}

    def _get_info(self, _body: dict[str, Any]) -> dict[str, Any]:
        return {
            "paas_id": 7,
            "user_info": {
                "id": self.user_id,
                "login": self.login,
                "title": "Fleet Push Test",
                "phone": "79123456789",
                "locale": "en_US",
                "demo": False,
                "verified": True,
                "legal_type": "individual",
                "time_zone": self.time_zone,
                "measurement_system": "metric",
            },
            "tariff_restrictions": {"allowed_maps": ["roadmap", "osm"]},
        }

    def _settings(self, _body: dict[str, Any]) -> dict[str, Any]:
        return {
            "settings": {
                "time_zone": self.time_zone,
                "locale": "en_US",
                "measurement_system": "metric",
                "date_format": "dd/MM/yyyy",
                "hour_mode": "24h",
                "geocoder": "osm",
                "route_provider": "osrm",
                "translit": False,
            }
        }

    def _list(self, _body: dict[str, Any]) -> dict[str, Any]:
        return {"list": [tracker.listing() for tracker in self.trackers.values()]}

    @staticmethod
    def _list_models(body: dict[str, Any]) -> dict[str, Any]:
        """Every integrated model, or those of the `codes` given (unknown codes are left out)."""
        codes = body.get("codes")
        if codes is not None and not (
            isinstance(codes, list) and all(isinstance(code, str) for code in codes)
        ):
            raise ApiFailure(7, "Invalid parameters")
        return {
            "list": [
                _model(2450 + number, *model)
                for number, model in enumerate(MODEL_CATALOGUE)
                if codes is None or model[0] in codes
            ]
        }

    def _vehicles(self, _body: dict[str, Any]) -> dict[str, Any]:
        fitted = (tracker for tracker in self.trackers.values() if tracker.vehicle_type)
        return {"list": [tracker.vehicle() for tracker in fitted]}

    def _zone_list(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self.zone_rights:
            raise ApiFailure(11, "Access denied", 403)
        with_points = body.get("with_points", False)
        if with_points not in (True, False, "true", "false"):
            raise ApiFailure(7, "Invalid parameters")
        with_points = with_points in (True, "true") and self.zone_points
        return navixy_zones.zone_list(self.zones, with_points=with_points)

    def _zone_points(self, body: dict[str, Any]) -> dict[str, Any]:
        """zone/point/list: 201 for an unknown geofence, 230 for a circle (it has none)."""
        if not self.zone_rights:
            raise ApiFailure(11, "Access denied", 403)
        zone = next((z for z in self.zones if z["id"] == body.get("zone_id")), None)
        if zone is None:
            raise ApiFailure(201, "Not found in the database")
        if "points" not in zone:
            raise ApiFailure(230, "Not supported for this entity type")
        return {"list": json.loads(json.dumps(zone["points"]))}

    def _static(self, path: str) -> web.Response:
        """An avatar: a small square in the tracker's group colour."""
        owner, _, name = path.removeprefix("static/").partition("/avatars/")
        tracker = next((t for t in self.trackers.values() if t.avatar == name), None)
        if owner != "tracker" or tracker is None:
            return web.Response(status=404)
        color = self.groups.get(tracker.group_id, {}).get("color", "757575")
        return web.Response(body=square_png(color), content_type="image/png")

    def _target(self, body: dict[str, Any], *, online: bool = False) -> SimTracker:
        """The tracker a call names; 204 unknown, 208 blocked, 213 offline."""
        try:
            tracker = self.trackers[int(body.get("tracker_id"))]  # type: ignore[arg-type]
        except TypeError, ValueError, KeyError:
            raise ApiFailure(204, "Entity not found") from None
        if tracker.blocked:
            raise ApiFailure(208, "Device blocked")
        if online and tracker.state.get("connection_status") not in ONLINE_STATUSES:
            raise ApiFailure(213, "Device is offline")
        return tracker

    def _get_state(self, body: dict[str, Any]) -> dict[str, Any]:
        tracker = self._target(body)
        return {"user_time": self.user_time(), "state": self.state_item(tracker, compact=False)}

    def _output_set(self, body: dict[str, Any]) -> dict[str, Any]:
        tracker = self._target(body, online=True)
        output, enable = body.get("output"), body.get("enable")
        outputs = tracker.state.get("outputs") or []
        if not isinstance(output, int) or not 1 <= output <= len(outputs):
            raise ApiFailure(7, "Invalid parameters")
        if not isinstance(enable, bool):
            raise ApiFailure(7, "Invalid parameters")
        outputs[output - 1] = enable
        tracker.state["outputs_update"] = self.user_time()
        self._touch(tracker.tracker_id)
        return {}

    def _track_list(self, body: dict[str, Any]) -> dict[str, Any]:
        tracker = self._target(body)
        try:
            return self.trips.track_list(tracker.tracker_id, body)
        except HistoryError as err:
            raise ApiFailure(err.code, err.description) from None

    def _history(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.history.user_list(body)
        except HistoryError as err:
            raise ApiFailure(err.code, err.description) from None

    def alarm(self, tracker_id: int, event: str, message: str, **kwargs: Any) -> dict[str, Any]:
        """Record a rule event of a tracker where it is (history/user/list lists it)."""
        tracker = self.tracker(tracker_id)
        location = tracker.state["gps"]["location"]
        return self.history.add(tracker_id, event, message, location, label=tracker.label, **kwargs)

    def _send_command(self, body: dict[str, Any]) -> dict[str, Any]:
        tracker = self._target(body, online=True)
        command = body.get("command")
        if not isinstance(command, dict) or not isinstance(command.get("name"), str):
            raise ApiFailure(7, "Invalid parameters")
        if command["name"] not in COMMANDS:
            raise ApiFailure(
                214, "Requested operation or parameters are not supported by the device"
            )
        self.commands.append((tracker.tracker_id, command))
        return {}

    # --- WebSocket ---

    async def push(self, frame: str | bytes | dict[str, Any] | list[Any]) -> None:
        """Send a frame to every client (it counts as output for the server heartbeat)."""
        for conn in list(self.connections):
            await self._send(conn, frame)

    async def _send(
        self, conn: Connection, frame: str | bytes | dict[str, Any] | list[Any]
    ) -> None:
        """Send a frame; the server heartbeat waits for the next silence."""
        conn.state["last_output"] = asyncio.get_running_loop().time()
        await conn.send(frame)

    async def on_connect(self, conn: Connection) -> None:
        """The handshake (unless delayed or off), then the pump for the rest."""
        now = asyncio.get_running_loop().time()
        conn.state.update(
            subscriptions=[], opened=now, last_output=now, ready=self.handshake_delay is None
        )
        if self.handshake_delay == 0:
            await self._handshake(conn)
        conn.every(FLUSH_POLL, lambda: self._pump(conn))

    async def _handshake(self, conn: Connection) -> None:
        """Atmosphere's protocol frame: tracking id, client heartbeat (ms), padding."""
        tracking_id = uuid.UUID(int=self.random.getrandbits(128), version=4)
        await self._send(conn, f"{tracking_id}|{self.client_heartbeat_ms}|{HEARTBEAT}|")
        conn.state["ready"] = True

    async def _pump(self, conn: Connection) -> None:
        """A late handshake when due; after it, the server heartbeat and the batches."""
        now = asyncio.get_running_loop().time()
        if not conn.state["ready"]:
            if (
                self.handshake_delay is not None
                and now - conn.state["opened"] >= self.handshake_delay
            ):
                await self._handshake(conn)
            return
        if self.server_heartbeat is not None and (
            now - conn.state["last_output"] >= self.server_heartbeat
        ):
            await self._send(conn, HEARTBEAT)
        await self._flush(conn)

    async def on_text(self, conn: Connection, text: str) -> None:
        """Frames before the handshake are dropped, heartbeats ignored; actions are answered."""
        if not conn.state["ready"]:
            self.too_early.append(text)
            return
        if text.strip() == HEARTBEAT:
            return
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        action = message.get("action") if isinstance(message, dict) else None
        if action == "subscribe" and isinstance(message, dict):
            await self._subscribe(conn, message)
        elif action == "unsubscribe" and isinstance(message, dict):
            await self._unsubscribe(conn, message)
        else:
            await self._send(conn, _ws_error("null", 7, "Invalid parameters", None))

    async def _subscribe(self, conn: Connection, message: dict[str, Any]) -> None:
        echo = {key: value for key, value in message.items() if key not in ("action", "hash")}
        if not self.valid_hash(message.get("hash")):
            await self._send(conn, _ws_error("subscription/subscribe", 3, "Wrong hash", echo))
            return
        try:
            subs = [self._parse_request(request) for request in _requests(message)]
        except ApiFailure as err:
            error = _ws_error("subscription/subscribe", err.code, err.description, echo)
            await self._send(conn, error)
            return
        await self._send(conn, self._subscribe_reply(subs))
        conn.state["subscriptions"].extend(subs)
        for sub in subs:
            sub.dirty.update(t for t in self.trackers if sub.covers(t))
        await self._flush(conn)

    def _parse_request(self, request: Any) -> Subscription:
        if not isinstance(request, dict) or request.get("type") not in {"state", *BATCH_KINDS}:
            raise ApiFailure(7, "Invalid parameters")
        kind = request["type"]
        ids = request.get("trackers") if kind == "state" else _target_ids(request.get("target"))
        if ids is not None and not (isinstance(ids, list) and all(isinstance(i, int) for i in ids)):
            raise ApiFailure(7, "Invalid parameters")
        fmt = self.item_format or request.get("format", "full")
        interval = 0.0 if kind == "state" else _rate_limit(request.get("rate_limit", "1s"))
        return Subscription(
            kind=kind,
            tracker_ids=None if ids is None else frozenset(ids),
            compact=fmt == "compact",
            interval=interval,
        )

    def _subscribe_reply(self, subs: list[Subscription]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for sub in subs:
            ids = sub.tracker_ids if sub.tracker_ids is not None else self.trackers.keys()
            entry: dict[str, Any] = {"value": {str(i): self._status(i) for i in ids}}
            if self.response_success:
                entry["success"] = True
            data[sub.kind] = entry
        return {
            "type": "response",
            "action": "subscription/subscribe",
            "events": [sub.kind for sub in subs],
            "data": data,
        }

    def _status(self, tracker_id: int) -> str:
        tracker = self.trackers.get(tracker_id)
        if tracker is None:
            return "unknown"
        return "blocked" if tracker.blocked else "normal"

    async def _unsubscribe(self, conn: Connection, message: dict[str, Any]) -> None:
        kinds = {r.get("type") for r in _requests(message) if isinstance(r, dict)}
        conn.state["subscriptions"] = [
            sub for sub in conn.state["subscriptions"] if sub.kind not in kinds
        ]
        await self._send(
            conn,
            {
                "type": "response",
                "action": "subscription/unsubscribe",
                "events": sorted(k for k in kinds if isinstance(k, str)),
                "data": {},
            },
        )

    async def _flush(self, conn: Connection) -> None:
        """Send what changed, at most once per rate_limit per subscription."""
        now = asyncio.get_running_loop().time()
        for sub in conn.state.get("subscriptions", ()):
            if not sub.dirty or now - sub.last_sent < sub.interval:
                continue
            found = (self.trackers.get(i) for i in sorted(sub.dirty))
            trackers = [t for t in found if t is not None and not t.blocked]
            sub.dirty.clear()
            sub.last_sent = now
            if not trackers:
                continue
            if sub.kind == "readings_batch":
                if readings := self.readings(sub, trackers):
                    await self._send(conn, self._event("readings_batch", readings))
                continue
            items = [self.item(t, compact=sub.compact) for t in trackers]
            if sub.kind == "state_batch":
                await self._send(conn, self._event("state_batch", items))
            else:
                for item in items:
                    await self._send(conn, self._event("state", item))

    def _event(self, event: str, data: Any) -> dict[str, Any]:
        return {"type": "event", "event": event, "user_time": self.user_time(), "data": data}

    def state_item(self, tracker: SimTracker, *, compact: bool) -> dict[str, Any]:
        """A tracker's state as Navixy sends it (full or compact, nulls kept or omitted)."""
        state = {"source_id": tracker.source_id, **json.loads(json.dumps(tracker.state))}
        if compact:
            state = {k: v for k, v in state.items() if k in COMPACT_KEYS}
        if self.omit_nulls:
            state = {k: v for k, v in state.items() if v is not None}
        return state

    @staticmethod
    def readings(sub: Subscription, trackers: list[SimTracker]) -> list[dict[str, Any]]:
        """readings_batch data: each tracker's readings, the first time whole, then only the
        objects that changed ("each item contains only modified objects", events.md)."""
        data = []
        for tracker in trackers:
            whole = tracker.readings()
            before = sub.sent.get(tracker.tracker_id)
            sub.sent[tracker.tracker_id] = whole
            changed = whole if before is None else _modified(before, whole)
            if changed:
                data.append({str(tracker.tracker_id): changed})
        return data

    def item(self, tracker: SimTracker, *, compact: bool) -> dict[str, Any]:
        """A state_batch item: the bare state, or wrapped as live servers send it."""
        state = self.state_item(tracker, compact=compact)
        if self.wrapped:
            return {"type": "source_state_event", "tracker_id": tracker.tracker_id, "state": state}
        return state


def square_png(color: str, size: int = 16) -> bytes:
    """A PNG of one colour (RRGGBB), for avatars."""
    pixel = bytes.fromhex(color)
    raw = b"".join(b"\0" + pixel * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _model(model_id: int, code: str, vendor: str, name: str, kind: str) -> dict[str, Any]:
    """A list_models item (the docs' fields that say what the model is, and some)."""
    return {
        "id": model_id,
        "vendor": vendor,
        "code": code,
        "parent_code": None,
        "type": kind,
        "name": name,
        "id_type": "imei",
        "has_phone": True,
        "register": True,
        "altitude": True,
        "satellites": True,
        "gsm_level": True,
        "digital_inputs": 8,
        "digital_outputs": 8,
        "output_control": "default",
    }


def _requests(message: dict[str, Any]) -> list[Any]:
    """The requests of a subscribe, including the deprecated events + trackers form."""
    if "requests" in message:
        requests = message["requests"]
        return requests if isinstance(requests, list) else [None]
    events = message.get("events")
    if not isinstance(events, list):
        return [None]
    return [{"type": event, "trackers": message.get("trackers")} for event in events]


def _sensors(number: int) -> list[dict[str, Any]]:
    """A fuel tank on every odd tracker, a cargo thermometer on every third (readings.md)."""
    sensors = []
    if number % 2:
        sensors.append(
            _sensor(37640 + number, "Tank", "lls_level_1", "fuel", "litre", 180.0 + number)
        )
    if number % 3 == 0:
        sensors.append(
            _sensor(38640 + number, "Cargo", "temp_sensor_1", "temperature", "celsius", 4.5)
        )
    return sensors


def _sensor(
    sensor_id: int, label: str, name: str, kind: str, units_type: str, value: float
) -> dict[str, Any]:
    return {
        "sensor_id": sensor_id,
        "label": label,
        "units": "",
        "name": name,
        "type": kind,
        "min_value": 0.0,
        "max_value": 480.0,
        "value": value,
        "units_type": units_type,
        "converted_units_type": None,
        "converted_value": None,
    }


def _modified(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The objects of a readings item that changed since `before`, by list."""
    changed = {}
    for key, items in after.items():
        new = [item for item in items if item not in before.get(key, ())]
        if new:
            changed[key] = new
    return changed


def _port_states(state: dict[str, Any]) -> list[dict[str, Any]]:
    """input_status and output_status: the ports as bits (port 1 is bit 0)."""
    states = []
    for ports, status in (("inputs", "input_status"), ("outputs", "output_status")):
        if isinstance(flags := state.get(ports), list):
            value = sum(1 << number for number, on in enumerate(flags) if on)
            states.append(
                {"field": status, "value": value, "update_time": state.get(f"{ports}_update")}
            )
    return states


def _target_ids(target: Any) -> Any:
    """None for {"type": "all"}, else the selected ids (validated by the caller)."""
    if isinstance(target, dict) and target.get("type") == "all":
        return None
    if isinstance(target, dict) and target.get("type") == "selected":
        return target.get("tracker_ids")
    return "invalid"


def _rate_limit(value: Any) -> float:
    match = _RATE_LIMIT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ApiFailure(7, "Invalid parameters")
    return int(match[1]) * _UNITS[match[2]]


def _ws_error(action: str, code: int, description: str, data: Any) -> dict[str, Any]:
    return {
        "type": "error",
        "action": action,
        "status": {"code": code, "description": description},
        "data": data,
    }


SIMULATOR = NavixySimulator

VARIANTS: dict[str, dict[str, Any]] = {
    "vendor": {},
    "no_server_heartbeat": {"server_heartbeat": None},
    "no_pongs": {"answer_pings": False},
    "late_handshake": {"handshake_delay": 0.5},
    "no_handshake": {"handshake_delay": None},
    "wrapped_items": {"wrapped": True},
    "nulls_omitted": {"omit_nulls": True},
    "no_success": {"response_success": False},
    "zones_without_points": {"zone_points": False},
    "no_zone_rights": {"zone_rights": False},
    "late_trips": {"trip_lag": 1.0},
    "short_history": {"history_limit": 2},
    "least_convenient": {
        "server_heartbeat": None,
        "answer_pings": False,
        "handshake_delay": None,
        "wrapped": True,
        "omit_nulls": True,
        "response_success": False,
        "zone_points": False,
        "zone_rights": False,
        "trip_lag": 1.0,
        "history_limit": 2,
    },
}
"""Constructor switches for what Navixy leaves open; "vendor" behaves as its docs and code do."""
