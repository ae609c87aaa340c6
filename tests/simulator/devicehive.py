"""A DeviceHive server on loopback: the JSON WebSocket API at /api/websocket (protocols.md 4).

By default it behaves as the Java server does (devicehive-java-server, 4.x with 3.5 where they
agree; file references in the docstrings):

- Users sign in with ``token`` (login/password), ``token/refresh`` or ``authenticate``; JWTs are
  HS256-signed like the server's (claim ``payload`` with ``u``, ``a``, ``n``, ``dt``, ``e`` in ms
  and ``t``: 0 refresh, 1 access) plus a standard ``exp``. A session stays authorized once it
  authenticated: expiry and revocation matter only to the next sign-in
  (WebSocketActionAuthenticationAspect). A refresh token the server cannot verify (revoked) is
  answered 500 with a null error (HttpRestHelper reads the auth service's empty 401).
- ``device/list`` pages with ``take`` (default 20) and ``skip``; ``device/count`` counts.
  Device records have no ``status``.
- Notifications live in a cache for two minutes. ``notification/list`` needs a device
  (``deviceId`` or ``deviceIds``), takes ``start``/``end`` (inclusive), ``take`` (default 20),
  ``skip``, ``sortField``/``sortOrder``, and limits *before* it sorts: a full page is any of the
  matching notifications. ``notification/subscribe`` with a ``timestamp`` replays at most 100, in
  no order, and only to a subscription for one device (for every device the cache is searched
  for a device called "null"). Notification ids are random; devices may date their own.

Constructor switches cover what other servers (older versions, proxies) do; see VARIANTS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import json
import math
import time
from typing import Any, ClassVar

from aiohttp import web
import jwt

from .base import Connection, HubSimulator

REFRESH, ACCESS = 0, 1
ACCESS_LIFETIME = 30 * 60.0
REFRESH_LIFETIME = 15_724_800.0
HISTORY_TTL = 120.0
"""devicehive.cache.notifications.ttl.seconds (Hazelcast's time-to-live-seconds on 3.x)."""
HISTORY = 100_000
DEFAULT_TAKE = 20
REPLAY_LIMIT = 100
OFFLINE_AFTER = 15 * 60.0
"""FleetPush's default "offline after" period: what is_online() judges by."""
RESTING_REPORTS = 30.0
"""Demo pace: seconds between the reports of a courier that is not riding."""
KM_PER_DEGREE = 111.0
DEVICE_SORTS = {"name": "name", "network": "network_id", "status": "status"}


class Reject(Exception):
    """An error reply: HTTP-like code and message (None is sent as null)."""

    def __init__(self, code: int, error: str | None) -> None:
        """Keep the code and the message the server sends."""
        super().__init__(error)
        self.code = code
        self.error = error


def stamp(when: datetime) -> str:
    """DeviceHive's timestamp format: UTC, milliseconds, no zone."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def parse_stamp(value: Any) -> datetime:
    """A timestamp as the server reads one (UTC unless it names a zone); 400 if unreadable."""
    try:
        when = datetime.fromisoformat(value)
    except TypeError, ValueError:
        raise Reject(400, "Invalid timestamp") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@dataclass
class SimDevice:
    """One simulated device and its motion."""

    id: str
    name: str
    status: str = "Online"
    """What a server with ``with_status`` reports."""
    reporting: bool = True
    """Whether it sends notifications and answers commands (an offline device does neither)."""
    last_report: float | None = None
    """When it last notified (seconds since the epoch, real time)."""
    network_id: int = 1
    device_type_id: int = 1
    is_blocked: bool = False
    behaviour: str = "done"
    """How it answers commands: "done", "fail" or "silent"."""
    lat: float = 50.45
    lng: float = 30.52
    heading: float = 90.0
    speed: float = 40.0
    battery: float = 100.0
    mileage: float = 12000.0
    """km on its counter (FleetPush's convention: the `mileage` parameter)."""

    def record(self, *, with_status: bool = False) -> dict[str, Any]:
        """The device as device/list returns it."""
        record = {
            "id": self.id,
            "name": self.name,
            "data": {},
            "networkId": self.network_id,
            "deviceTypeId": self.device_type_id,
            "isBlocked": self.is_blocked,
        }
        return {**record, "status": self.status} if with_status else record

    def move(self, seconds: float) -> dict[str, Any]:
        """Drive on for some seconds; return the gps notification's parameters."""
        km = self.speed * seconds / 3600
        self.mileage += km
        self.lat += km * math.cos(math.radians(self.heading)) / KM_PER_DEGREE
        self.lng += (
            km
            * math.sin(math.radians(self.heading))
            / KM_PER_DEGREE
            / math.cos(math.radians(self.lat))
        )
        self.battery = max(5.0, round(self.battery - 0.1, 1))
        return self.gps()

    def gps(self) -> dict[str, Any]:
        """The gps notification's parameters: where it is now."""
        return {
            "lat": round(self.lat, 6),
            "lng": round(self.lng, 6),
            "speed": self.speed,
            "heading": self.heading,
            "altitude": 180.0,
            "accuracy": 5.0,
            "battery": self.battery,
            "ignition": self.speed > 0,
            "mileage": round(self.mileage, 3),
        }


@dataclass
class Stored:
    """A notification in the cache."""

    notification: dict[str, Any]
    when: datetime
    inserted: float
    """Monotonic time of insertion: the cache's time-to-live counts from it."""
    scan: float
    """Where the cache's key scan finds it: the order of an unsorted search."""


class DeviceHiveSimulator(HubSimulator):
    """DeviceHive speaking its WebSocket API; see the module docstring."""

    kind = "devicehive"
    ws_path = "/api/websocket"
    max_msg_size = 10 * 1024
    api_version: ClassVar[str] = "4.1.0"
    secret: ClassVar[str] = "fleetpush-devicehive-simulator-secret"

    def __init__(
        self,
        *,
        access_lifetime: float = ACCESS_LIFETIME,
        refresh_lifetime: float = REFRESH_LIFETIME,
        command_delay: float = 0.05,
        ping_interval: float | None = 30.0,
        history_ttl: float = HISTORY_TTL,
        with_status: bool = False,
        device_count: bool = True,
        list_many: bool = True,
        list_order: str = "any",
        exclusive_bounds: bool = False,
        replay_all: bool = False,
        enforce_expiry: bool = False,
        refused_refresh: int = 500,
        clock_skew: float = 0.0,
        **kwargs: Any,
    ) -> None:
        """Sign tokens with these lifetimes (seconds); devices answer after command_delay.

        history_ttl: seconds a notification stays findable (cache time-to-live).
        with_status: device records carry ``status`` (servers before 2017).
        device_count: the server has ``device/count`` (3.4.5 on).
        list_many: notification/list takes ``deviceIds`` (3.4 on); else ``deviceId`` only.
        list_order: which notifications a limited search keeps: "any" (4.x, Redis key scan)
            or "oldest_first" (3.x, Hazelcast paging by time).
        exclusive_bounds: start and end exclude their own millisecond (3.x).
        replay_all: a subscription for every device replays too (at most 100), as 3.x does for
            users limited to some networks.
        enforce_expiry: a server (or a proxy) that checks the token on every request: an
            expired or revoked session gets 401 and no pushes.
        refused_refresh: the error code for a refresh token the server cannot verify (500 with
            a null error from the Java server; 400 "Token is not valid" elsewhere).
        clock_skew: seconds the server's clock is ahead of the real one.
        """
        self.login = "dhadmin"
        self.password = "dhadmin_#911"
        self.user_id = 1
        self.users: dict[str, tuple[str, int]] = {self.login: (self.password, self.user_id)}
        self.networks: dict[int, str] = {1: "Couriers"}
        """network/list: id -> name (every device is in network 1 unless moved)."""
        self.device_types: dict[int, str] = {1: "GPS tracker"}
        """devicetype/list: id -> name."""
        self.forbidden: set[str] = set()
        """Actions the signed-in user has no permission for (answered 403)."""
        self.access_lifetime = access_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.command_delay = command_delay
        self.ping_interval = ping_interval
        self.history_ttl = history_ttl
        self.with_status = with_status
        self.device_count = device_count
        self.list_many = list_many
        self.list_order = list_order
        self.exclusive_bounds = exclusive_bounds
        self.replay_all = replay_all
        self.enforce_expiry = enforce_expiry
        self.refused_refresh = refused_refresh
        self.clock_skew = clock_skew
        self.devices: dict[str, SimDevice] = {}
        self.history: list[Stored] = []
        self.commands: dict[int, dict[str, Any]] = {}
        self.failing_device: str | None = None
        self.silent_device: str | None = None
        self.before_device_list: Callable[[dict[str, Any]], Awaitable[None]] | None = None
        """Called with every device/list request before it is answered: the fleet may change
        between the pages of one listing."""
        self._ids = {"command": 0, "subscription": 1527241974000}
        self._notification_ids: set[int] = set()
        self._last_ms = 0
        self._tasks: set[asyncio.Task[None]] = set()
        super().__init__(**kwargs)

    # --- credentials ---

    def issue_token(
        self, kind: int = ACCESS, *, user_id: int | None = None, lifetime: float | None = None
    ) -> str:
        """A signed JWT as the server issues it (kind ACCESS=1 or REFRESH=0)."""
        if lifetime is None:
            lifetime = self.access_lifetime if kind == ACCESS else self.refresh_lifetime
        expires = time.time() + lifetime
        payload = {
            "u": self.user_id if user_id is None else user_id,
            "a": [0],
            "n": ["*"],
            "dt": ["*"],
            "e": int(expires * 1000),
            "t": kind,
        }
        return jwt.encode({"payload": payload, "exp": expires}, self.secret, algorithm="HS256")

    @property
    def access_token(self) -> str:
        """A fresh valid access token of the default user."""
        return self.issue_token(ACCESS)

    @property
    def refresh_token(self) -> str:
        """A fresh valid refresh token of the default user."""
        return self.issue_token(REFRESH)

    def _claims(self, token: Any) -> dict[str, Any] | None:
        """A token's payload claim, or None when it is not one of ours (or revoked)."""
        if self.credentials_revoked or not isinstance(token, str):
            return None
        try:
            claims = jwt.decode(
                token, self.secret, algorithms=["HS256"], options={"verify_exp": False}
            )
        except jwt.PyJWTError:
            return None
        payload = claims.get("payload")
        return payload if isinstance(payload, dict) else None

    def _access_claims(self, token: Any) -> tuple[int, float]:
        """The user and expiry of an access token (JwtTokenAuthenticationProvider)."""
        payload = self._claims(token)
        if payload is None or payload.get("t") != ACCESS:
            raise Reject(401, "Invalid credentials")
        expires = payload.get("e", 0) / 1000
        if expires <= time.time():
            raise Reject(401, "Token expired")
        return payload["u"], expires

    def _refresh_claims(self, token: Any) -> int:
        """The user of a refresh token (JwtTokenResourceImpl.refreshTokenRequest)."""
        payload = self._claims(token)
        if payload is None:
            refused = self.refused_refresh
            raise Reject(refused, None if refused == 500 else "Token is not valid")
        if payload.get("t") != REFRESH:
            raise Reject(401, "Invalid token type")
        if payload.get("e", 0) / 1000 <= time.time():
            raise Reject(401, "Token has expired")
        user: int = payload["u"]
        return user

    def _require(self, conn: Connection) -> int:
        """The session's user; 401 when it never authenticated (or, enforcing, expired)."""
        if "user" not in conn.state:
            raise Reject(401, "Unauthorized")
        if not self._authorized(conn):
            raise Reject(401, "Token expired")
        user: int = conn.state["user"]
        return user

    def _authorized(self, conn: Connection) -> bool:
        """Whether the session may act and get pushes."""
        if "user" not in conn.state:
            return False
        if not self.enforce_expiry:
            return True
        return not self.credentials_revoked and conn.state["expires"] > time.time()

    # --- the fleet ---

    def build_fleet(self, devices: int) -> None:
        """dev-1 ... dev-N, each with a recent notification (a running fleet).

        With three or more, dev-2 fails commands and dev-3 never answers them.
        """
        reported = self.server_time() - timedelta(seconds=1)
        for index in range(1, devices + 1):
            device = self._new_device(f"dev-{index}", f"Tracker {index}")
            self._store(self._notification(device.id, "gps", device.move(1.0), reported))
        if devices >= 3:
            self.failing_device, self.silent_device = "dev-2", "dev-3"
            self.devices["dev-2"].behaviour = "fail"
            self.devices["dev-3"].behaviour = "silent"

    def form(self) -> dict[str, Any]:
        """The WebSocket URL and a login, as a user types them."""
        return {
            "url": self.url,
            "username": self.login,
            "password": self.password,
            "verify_ssl": True,
        }

    @property
    def hub_unique_id(self) -> str:
        """A server's user is known by the server's address and the user's id."""
        return f"{self.host}:{self.port}:{self.user_id}"

    def fleet_ids(self) -> list[str]:
        """Every device id, as FleetPush's client names them."""
        return list(self.devices)

    def is_online(self, device_id: str) -> bool:
        """What Online shows now: off if blocked, else the status if sent, else recent reports."""
        device = self.devices[device_id]
        if device.is_blocked:
            return False
        if self.with_status:
            return device.status != "Offline"
        last = device.last_report
        return last is not None and time.time() - last < OFFLINE_AFTER

    def _new_device(self, device_id: str, name: str) -> SimDevice:
        rng = self.random
        device = SimDevice(
            device_id,
            name,
            lat=50.45 + rng.uniform(-0.05, 0.05),
            lng=30.52 + rng.uniform(-0.05, 0.05),
            heading=rng.choice([0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0]),
            speed=rng.uniform(20, 60),
            battery=rng.uniform(50, 100),
        )
        if self.pace == "demo":  # standing still until its routine starts a ride
            device.speed = 0.0
        self.devices[device_id] = device
        return device

    async def add_device(
        self, device_id: str | None = None, name: str | None = None, *, announce: bool = True
    ) -> str:
        """Register a device; subscribers get the server's "$device-add" notification.

        announce=False: no notification (a device registered where this user's subscription
        does not reach, then moved into its network).
        """
        device_id = device_id or f"dev-{len(self.devices) + 1}"
        device = self._new_device(device_id, name or f"Tracker {device_id}")
        if announce:
            await self.notify(device_id, "$device-add", self._record(device))
        return device_id

    def remove_device(self, device_id: str) -> None:
        """Delete a device (DeviceHive says nothing; the next device/list lacks it)."""
        self.devices.pop(device_id, None)

    async def set_online(self, device_id: str, online: bool) -> None:
        """A device stops (or starts) reporting; with status, the server says so too."""
        device = self.devices[device_id]
        device.reporting = online
        if self.with_status:
            device.status = "Online" if online else "Offline"
            await self.notify(device_id, "$device-update", self._record(device))

    async def block(self, device_id: str, blocked: bool = True) -> None:
        """Block or unblock a device (device/save with isBlocked): "$device-update"."""
        device = self.devices[device_id]
        device.is_blocked = blocked
        await self.notify(device_id, "$device-update", self._record(device))

    async def move_to_network(self, device_id: str, network_id: int) -> None:
        """Move a device to another network (device/save with networkId): "$device-update"."""
        device = self.devices[device_id]
        device.network_id = network_id
        await self.notify(device_id, "$device-update", self._record(device))

    def set_behaviour(self, device_id: str, behaviour: str) -> None:
        """How a device answers commands: "done", "fail" or "silent"."""
        self.devices[device_id].behaviour = behaviour

    def _record(self, device: SimDevice) -> dict[str, Any]:
        return device.record(with_status=self.with_status)

    # --- notifications ---

    async def notify(
        self,
        device_id: str,
        name: str,
        parameters: dict[str, Any] | None = None,
        *,
        timestamp: datetime | None = None,
    ) -> dict[str, Any]:
        """Insert a notification (dated by the device when it gives a timestamp): kept in the
        cache, pushed to subscribers."""
        notification = self._notification(device_id, name, parameters or {}, timestamp)
        self._store(notification)
        for conn in list(self.connections):
            for frame in self._notification_frames(conn, [notification]):
                await conn.send(frame)
        return notification

    def _notification(
        self, device_id: str, name: str, parameters: dict[str, Any], when: datetime | None
    ) -> dict[str, Any]:
        device = self.devices.get(device_id)
        if device is not None and not name.startswith("$"):
            device.last_report = time.time()
        return {
            "id": self._notification_id(),
            "notification": name,
            "deviceId": device_id,
            "networkId": device.network_id if device else 1,
            "deviceTypeId": device.device_type_id if device else 1,
            "timestamp": stamp(when) if when is not None else self._now(),
            "parameters": parameters,
        }

    def _notification_id(self) -> int:
        """Math.abs(new Random().nextInt()), unique here."""
        while (number := self.random.randrange(1, 2**31)) in self._notification_ids:
            pass
        self._notification_ids.add(number)
        return number

    def _store(self, notification: dict[str, Any]) -> None:
        """Put a notification in the cache; what outlived its time-to-live leaves."""
        now = time.monotonic()
        when = parse_stamp(notification["timestamp"])
        self.history.append(Stored(notification, when, now, self.random.random()))
        expired = next(
            (
                index
                for index, item in enumerate(self.history)
                if now - item.inserted < self.history_ttl
            ),
            len(self.history),
        )
        del self.history[: max(expired, len(self.history) - HISTORY)]

    def cached(self) -> list[Stored]:
        """What the cache still holds (the time-to-live passed for the rest)."""
        now = time.monotonic()
        return [item for item in self.history if now - item.inserted < self.history_ttl]

    def server_time(self) -> datetime:
        """The server's clock (real time plus clock_skew)."""
        return datetime.fromtimestamp(time.time() + self.clock_skew, UTC)

    def _now(self) -> str:
        """The server's time as a timestamp, strictly later than the last one given."""
        ms = max(int((time.time() + self.clock_skew) * 1000), self._last_ms + 1)
        self._last_ms = ms
        return stamp(datetime.fromtimestamp(ms / 1000, UTC))

    async def demo_tick(self) -> None:
        """Couriers ride for minutes and stop between rides, reporting each tick while riding
        and every RESTING_REPORTS seconds while stopped; now and then one goes silent for
        longer than "offline after" (15 minutes): DeviceHive has no online status that would
        show it sooner."""
        for device in list(self.devices.values()):
            match self.follow(device.id, offline_for=(OFFLINE_AFTER + 60, OFFLINE_AFTER + 600)):
                case "active":
                    device.speed = self.random.uniform(12, 25)
                case "resting":
                    device.speed = 0.0
                case "offline" | "online" as change:
                    await self.set_online(device.id, change == "online")
            routine = self.routine(device.id)
            if not device.reporting:
                continue
            if routine.active:
                km = device.speed * self.tick_seconds / 3600
                device.mileage += km
                device.lat, device.lng, device.heading = self.drive(
                    device.id, device.lat, device.lng, device.heading, km
                )
                device.battery = max(5.0, device.battery - self.tick_seconds / 360)
            elif self.clock - routine.reported < RESTING_REPORTS:
                continue
            routine.reported = self.clock
            await self.notify(device.id, "gps", device.gps() | {"battery": round(device.battery)})

    async def tick(self) -> None:
        """Every reporting device reports its position; now and then one stops or comes back."""
        seconds = 1.0 / self.event_rate if self.event_rate > 0 else 1.0
        for device in list(self.devices.values()):
            if not device.reporting:
                if self.random.random() < 0.2:
                    await self.set_online(device.id, True)
                continue
            if self.random.random() < 0.03:
                await self.set_online(device.id, False)
                continue
            if self.random.random() < 0.1:
                device.heading = (device.heading + self.random.choice([-90, 90])) % 360
            await self.notify(device.id, "gps", device.move(seconds))

    # --- the server ---

    def add_routes(self, app: web.Application) -> None:
        """GET /api/rest/info, as the REST API has it."""

        async def info(_request: web.Request) -> web.Response:
            return web.json_response(self._info())

        app.router.add_get("/api/rest/info", info)

    def _info(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "serverTimestamp": self._now(),
            "restServerUrl": f"{self.base_url}/api/rest",
            "webSocketServerUrl": self.url,
        }

    async def on_connect(self, conn: Connection) -> None:
        """Start server pings ("devicehive-ping", SessionMonitor)."""
        conn.state.update(subs={}, command_subs={})
        if self.ping_interval:

            async def ping() -> None:
                if not self.silent and not conn.ws.closed:
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await conn.ws.ping(b"devicehive-ping")

            conn.every(self.ping_interval, ping)

    async def on_text(self, conn: Connection, text: str) -> None:
        """Answer one request; errors carry code and error."""
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            await conn.send({"status": "error", "code": 400, "error": "Malformed Json received."})
            return
        action = message.get("action")
        reply: dict[str, Any] = {"action": action}
        if "requestId" in message:
            reply["requestId"] = message["requestId"]
        handlers = self._handlers()
        handler = handlers.get(action, self._unknown) if isinstance(action, str) else self._unknown
        if action in self.forbidden:  # @PreAuthorize refuses a token without the permission
            handler = self._forbidden
        try:
            fields = await handler(conn, message)
        except Reject as err:
            await conn.send({**reply, "status": "error", "code": err.code, "error": err.error})
            return
        await conn.send({**reply, "status": "success", **fields})
        for frame in conn.state.pop("outbox", []):
            await conn.send(frame)

    def _handlers(
        self,
    ) -> dict[str, Callable[[Connection, dict[str, Any]], Awaitable[dict[str, Any]]]]:
        handlers = {
            "authenticate": self._authenticate,
            "token": self._token,
            "token/refresh": self._token_refresh,
            "server/info": self._server_info,
            "device/list": self._device_list,
            "network/list": self._names("networks", self.networks),
            "devicetype/list": self._names("deviceTypes", self.device_types),
            "notification/list": self._notification_list,
            "notification/subscribe": self._notification_subscribe,
            "notification/unsubscribe": self._unsubscribe,
            "command/insert": self._command_insert,
            "command/subscribe": self._command_subscribe,
            "command/unsubscribe": self._unsubscribe,
            "command/update": self._command_update,
        }
        if self.device_count:
            handlers["device/count"] = self._device_count_handler
        return handlers

    def _names(
        self, key: str, names: dict[int, str]
    ) -> Callable[[Connection, dict[str, Any]], Awaitable[dict[str, Any]]]:
        """network/list or devicetype/list: a page of {id, name, description} items."""

        async def handler(conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
            self._require(conn)
            take, skip = _paging(message)
            items = [{"id": i, "name": n, "description": None} for i, n in sorted(names.items())]
            return {key: items[skip : skip + take]}

        return handler

    async def _forbidden(self, _conn: Connection, _message: dict[str, Any]) -> dict[str, Any]:
        raise Reject(403, "Access is denied")

    async def _unknown(self, _conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
        raise Reject(400, f"Unknown action requested: {message.get('action')}")

    async def _authenticate(self, conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
        user, expires = self._access_claims(message.get("token"))
        conn.state.update(user=user, expires=expires)
        return {}

    async def _token(self, _conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(message.get("login")))
        if self.credentials_revoked or user is None or user[0] != message.get("password"):
            raise Reject(401, "Invalid credentials")
        return {
            "accessToken": self.issue_token(ACCESS, user_id=user[1]),
            "refreshToken": self.issue_token(REFRESH, user_id=user[1]),
        }

    async def _token_refresh(self, _conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
        user = self._refresh_claims(message.get("refreshToken"))
        return {"accessToken": self.issue_token(ACCESS, user_id=user)}

    async def _server_info(self, _conn: Connection, _message: dict[str, Any]) -> dict[str, Any]:
        return {"info": self._info()}

    async def _device_list(self, conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
        """A page of devices (DeviceHandlers.processDeviceList, DeviceDaoRdbmsImpl.list)."""
        self._require(conn)
        if self.before_device_list is not None:
            await self.before_device_list(message)
        take, skip = _paging(message)
        devices = list(self.devices.values())
        sort_field = message.get("sortField")
        if sort_field is not None:
            if not isinstance(sort_field, str) or sort_field.lower() not in DEVICE_SORTS:
                raise Reject(400, "Invalid request parameters")
            attribute = DEVICE_SORTS[sort_field.lower()]
            descending = str(message.get("sortOrder")).upper() == "DESC"
            devices.sort(key=lambda device: getattr(device, attribute), reverse=descending)
        return {"devices": [self._record(device) for device in devices[skip : skip + take]]}

    async def _device_count_handler(
        self, conn: Connection, _message: dict[str, Any]
    ) -> dict[str, Any]:
        self._require(conn)
        return {"count": len(self.devices)}

    async def _notification_list(self, conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
        """NotificationHandlers.processNotificationList and NotificationSearchHandler."""
        self._require(conn)
        device_ids = self._searched_devices(message)
        if not device_ids:
            raise Reject(400, "Device id is wrong or empty")
        if device_ids[0] not in self.devices:
            raise Reject(404, f"Device with such deviceId = {device_ids[0]} not found")
        start = parse_stamp(message["start"]) if message.get("start") is not None else None
        end = parse_stamp(message["end"]) if message.get("end") is not None else None
        take, skip = _paging(message)
        found = [
            item
            for item in self._search(set(device_ids), start)
            if end is None or item.when < end or (item.when == end and not self.exclusive_bounds)
        ]
        limited = [item.notification for item in found[: skip + take]]
        return {"notifications": _order_and_limit(limited, message, skip, take)}

    def _searched_devices(self, message: dict[str, Any]) -> list[str]:
        """deviceIds when the server knows them and they are given, else deviceId."""
        ids = message.get("deviceIds") if self.list_many else None
        if isinstance(ids, list) and ids:
            return [str(device_id) for device_id in dict.fromkeys(ids)]
        device_id = message.get("deviceId")
        return [str(device_id)] if device_id is not None else []

    def _search(self, device_ids: set[str] | None, start: datetime | None) -> list[Stored]:
        """Cached notifications of these devices from start on, in the cache's own order."""
        found = [
            item
            for item in self.cached()
            if (device_ids is None or item.notification["deviceId"] in device_ids)
            and (
                start is None
                or item.when > start
                or (item.when == start and not self.exclusive_bounds)
            )
        ]
        if self.list_order == "oldest_first":
            found.sort(key=lambda item: item.when)
        else:
            found.sort(key=lambda item: item.scan)
        return found

    def _subscription(self, conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
        """A subscription filter from a request; 404 for an unknown device."""
        self._require(conn)
        device_id = message.get("deviceId")
        if device_id is not None and device_id not in self.devices:
            raise Reject(404, f"Device with such deviceId = {device_id} not found")
        names = message.get("names")
        return {
            "deviceId": device_id,
            "names": set(names) if names else None,
            "networks": self._networks_of(message.get("networkIds")),
        }

    def _networks_of(self, ids: Any) -> Callable[[str], bool] | None:
        """The networkIds filter (BaseFilterService.getFilterList): whether a device is in one
        of them when a notification comes; 404 for a network the server does not have."""
        if not ids:
            return None
        wanted = set(ids) if isinstance(ids, list) else {ids}
        if not wanted <= set(self.networks):
            raise Reject(404, f"Networks with such networkIds wasn't found: {sorted(wanted)}")
        return lambda device_id: (
            device_id in self.devices and self.devices[device_id].network_id in wanted
        )

    def _new_subscription_id(self) -> int:
        self._ids["subscription"] += 1
        return self._ids["subscription"]

    async def _notification_subscribe(
        self, conn: Connection, message: dict[str, Any]
    ) -> dict[str, Any]:
        selection = self._subscription(conn, message)
        replay = self._replay(selection, message.get("timestamp"))
        subscription_id = self._new_subscription_id()
        conn.state["subs"][subscription_id] = selection
        conn.state["outbox"] = self._notification_frames(conn, replay, subscription_id)
        return {"subscriptionId": subscription_id}

    def _replay(self, selection: dict[str, Any], since: Any) -> list[dict[str, Any]]:
        """At most 100 cached notifications from `since` (NotificationSubscribeRequestHandler)."""
        if since is None:
            return []
        start = parse_stamp(since)
        device_id = selection["deviceId"]
        if device_id is None and not self.replay_all:
            return []
        found = self._search({device_id} if device_id else None, start)
        return [item.notification for item in found if _matches(selection, item.notification)][
            :REPLAY_LIMIT
        ]

    def _notification_frames(
        self, conn: Connection, notifications: list[dict[str, Any]], only: int | None = None
    ) -> list[dict[str, Any]]:
        """The notification/insert pushes a connection gets for these notifications."""
        if not self._authorized(conn):
            return []
        frames = []
        for notification in notifications:
            for subscription_id, selection in conn.state["subs"].items():
                if only in (None, subscription_id) and _matches(selection, notification):
                    frames.append(
                        {
                            "action": "notification/insert",
                            "subscriptionId": subscription_id,
                            "notification": notification,
                        }
                    )
        return frames

    async def _unsubscribe(self, conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
        self._require(conn)
        key = "subs" if message["action"].startswith("notification") else "command_subs"
        if conn.state[key].pop(message.get("subscriptionId"), None) is None:
            raise Reject(404, "Subscription not found")
        return {}

    async def _command_subscribe(self, conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
        selection = self._subscription(conn, message)
        selection["updates"] = bool(message.get("returnUpdatedCommands"))
        subscription_id = self._new_subscription_id()
        conn.state["command_subs"][subscription_id] = selection
        return {"subscriptionId": subscription_id}

    async def _command_insert(self, conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
        user = self._require(conn)
        device_id = message.get("deviceId")
        if not isinstance(device_id, str) or not device_id:
            raise Reject(400, "Device id is wrong or empty")
        if device_id not in self.devices:
            raise Reject(404, f"Device with such deviceId = {device_id} not found")
        body = message.get("command")
        if not isinstance(body, dict) or not isinstance(body.get("command"), str):
            raise Reject(400, "Command name is required")
        self._ids["command"] += 1
        now = self._now()
        command = {
            "id": self._ids["command"],
            "timestamp": now,
            "lastUpdated": now,
            "userId": user,
            "deviceId": device_id,
            "command": body["command"],
            "parameters": body.get("parameters") or {},
            "lifetime": body.get("lifetime"),
            "status": None,
            "result": None,
        }
        self.commands[command["id"]] = command
        await self._push_command("command/insert", command, updates=False)
        self._spawn(self._answer(command))
        return {
            "command": {key: command[key] for key in ("id", "timestamp", "lastUpdated", "userId")}
        }

    async def _command_update(self, conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
        self._require(conn)
        command_id = message.get("commandId")
        command = self.commands.get(command_id) if isinstance(command_id, int) else None
        body = message.get("command")
        if command is None or not isinstance(body, dict):
            raise Reject(404, "Command not found")
        await self._finish(command, body.get("status"), body.get("result"))
        return {}

    async def _answer(self, command: dict[str, Any]) -> None:
        """The device's side: after a while, report the command done or failed."""
        await asyncio.sleep(self.command_delay)
        device = self.devices.get(command["deviceId"])
        if device is None or not device.reporting or device.behaviour == "silent":
            return  # the command stays pending until its lifetime ends
        if device.behaviour == "fail":
            await self._finish(command, "failed", {"error": "device error"})
        else:
            await self._finish(command, "done", {"ok": True})

    async def _finish(self, command: dict[str, Any], status: Any, result: Any) -> None:
        command.update(status=status, result=result, lastUpdated=self._now())
        await self._push_command("command/update", command, updates=True)

    async def _push_command(self, action: str, command: dict[str, Any], *, updates: bool) -> None:
        for conn in list(self.connections):
            if not self._authorized(conn):
                continue
            for subscription_id, selection in list(conn.state["command_subs"].items()):
                if selection["updates"] == updates and _matches(selection, command, "command"):
                    frame = {"action": action, "subscriptionId": subscription_id}
                    await conn.send({**frame, "command": command})

    def _spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Cancel the devices' pending answers, then stop the server."""
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await super().stop()


def _paging(message: dict[str, Any]) -> tuple[int, int]:
    """take (default 20) and skip (default 0) of a list request; 400 when they are no numbers."""
    take, skip = message.get("take"), message.get("skip")
    take = DEFAULT_TAKE if take is None else take
    skip = 0 if skip is None else skip
    if type(take) is not int or type(skip) is not int or take < 0 or skip < 0:
        raise Reject(400, "Invalid request parameters")
    return take, skip


def _order_and_limit(
    notifications: list[dict[str, Any]], message: dict[str, Any], skip: int, take: int
) -> list[dict[str, Any]]:
    """CommandResponseFilterAndSort.orderAndLimit: its comparators sort newest (or Z) first,
    and any sortOrder but "desc" reverses that."""
    sort_field = str(message.get("sortField") or "").lower()
    if sort_field in ("timestamp", "notification"):
        notifications.sort(key=lambda item: item[sort_field], reverse=True)
    order = message.get("sortOrder")
    if order is not None and str(order).lower() != "desc":
        notifications.reverse()
    return notifications[skip : skip + take]


def _matches(
    selection: dict[str, Any], item: dict[str, Any], name_key: str = "notification"
) -> bool:
    device_id, names = selection["deviceId"], selection["names"]
    networks = selection.get("networks")
    return (
        (device_id is None or device_id == item["deviceId"])
        and (names is None or item[name_key] in names)
        and (networks is None or networks(item["deviceId"]))
    )


VARIANTS: dict[str, dict[str, Any]] = {
    "vendor": {},
    "with_status": {"with_status": True},
    "no_device_count": {"device_count": False},
    "one_device_lists": {"list_many": False},
    "oldest_first": {"list_order": "oldest_first"},
    "exclusive_bounds": {"exclusive_bounds": True},
    "replay_all": {"replay_all": True},
    "enforce_expiry": {"enforce_expiry": True},
    "refresh_refused_400": {"refused_refresh": 400},
    "server_clock_behind": {"clock_skew": -3600.0},
    "least_convenient": {
        "device_count": False,
        "list_many": False,
        "exclusive_bounds": True,
        "replay_all": True,
        "enforce_expiry": True,
        "refused_refresh": 400,
        "clock_skew": -3600.0,
    },
}
"""Constructor switches for what the vendor's code leaves open (the first is the vendor's)."""

SIMULATOR = DeviceHiveSimulator
