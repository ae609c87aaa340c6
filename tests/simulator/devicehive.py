"""A DeviceHive server on loopback: the JSON WebSocket API at /api/websocket (protocols.md 4).

Users sign in with ``token`` (login/password), ``token/refresh`` or ``authenticate``; the JWTs are
HS256-signed like the Java server's (claim ``payload`` with ``u``, ``a``, ``n``, ``dt``, ``e`` in
ms and ``t``: 0 refresh, 1 access) plus a standard ``exp``. Requests on a session whose access
token expired, or after revoke_credentials(), are answered 401 "Invalid credentials", and such a
session gets no pushes. Notifications are kept in a history so that ``notification/subscribe``
with a ``timestamp`` replays everything from that time on (inclusive [I]).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
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
HISTORY = 10_000
KM_PER_DEGREE = 111.0


class Reject(Exception):
    """An error reply: HTTP-like code and message."""

    def __init__(self, code: int, error: str) -> None:
        """Keep the code and the message the server sends."""
        super().__init__(error)
        self.code = code
        self.error = error


def stamp(when: datetime) -> str:
    """DeviceHive's timestamp format: UTC, milliseconds, no zone."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


@dataclass
class SimDevice:
    """One simulated device and its motion."""

    id: str
    name: str
    status: str = "Online"
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

    def record(self) -> dict[str, Any]:
        """The device as device/list returns it."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "data": {},
            "networkId": self.network_id,
            "deviceTypeId": self.device_type_id,
            "isBlocked": self.is_blocked,
        }

    def move(self, seconds: float) -> dict[str, Any]:
        """Drive on for some seconds; return the gps notification's parameters."""
        km = self.speed * seconds / 3600
        self.lat += km * math.cos(math.radians(self.heading)) / KM_PER_DEGREE
        self.lng += (
            km
            * math.sin(math.radians(self.heading))
            / KM_PER_DEGREE
            / math.cos(math.radians(self.lat))
        )
        self.battery = max(5.0, round(self.battery - 0.1, 1))
        return {
            "lat": round(self.lat, 6),
            "lng": round(self.lng, 6),
            "speed": self.speed,
            "heading": self.heading,
            "altitude": 180.0,
            "accuracy": 5.0,
            "battery": self.battery,
        }


class DeviceHiveSimulator(HubSimulator):
    """DeviceHive 3.x speaking its WebSocket API; see the module docstring."""

    kind = "devicehive"
    ws_path = "/api/websocket"
    max_msg_size = 10 * 1024
    api_version: ClassVar[str] = "3.5.0"
    secret: ClassVar[str] = "fleetpush-devicehive-simulator-secret"

    def __init__(
        self,
        *,
        access_lifetime: float = ACCESS_LIFETIME,
        refresh_lifetime: float = REFRESH_LIFETIME,
        command_delay: float = 0.05,
        ping_interval: float | None = 30.0,
        **kwargs: Any,
    ) -> None:
        """Sign tokens with these lifetimes (seconds); devices answer after command_delay."""
        self.login = "dhadmin"
        self.password = "dhadmin_#911"
        self.user_id = 1
        self.users: dict[str, tuple[str, int]] = {self.login: (self.password, self.user_id)}
        self.access_lifetime = access_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.command_delay = command_delay
        self.ping_interval = ping_interval
        self.devices: dict[str, SimDevice] = {}
        self.history: list[dict[str, Any]] = []
        self.commands: dict[int, dict[str, Any]] = {}
        self.failing_device: str | None = None
        self.silent_device: str | None = None
        self._ids = {"notification": 0, "command": 0, "subscription": 1527241974000}
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

    def _verify(self, token: Any, kind: int) -> tuple[int, float]:
        """The user id and expiry (epoch seconds) of a valid token of that kind."""
        if self.credentials_revoked or not isinstance(token, str):
            raise Reject(401, "Invalid credentials")
        try:
            claims = jwt.decode(
                token, self.secret, algorithms=["HS256"], options={"verify_exp": False}
            )
        except jwt.PyJWTError:
            raise Reject(401, "Invalid credentials") from None
        payload = claims.get("payload") or {}
        expires = payload.get("e", 0) / 1000
        if payload.get("t") != kind or expires <= time.time():
            raise Reject(401, "Invalid credentials")
        return payload["u"], expires

    def _require(self, conn: Connection) -> int:
        """The session's user; 401 when it is unauthenticated, expired or revoked."""
        if "user" not in conn.state:
            raise Reject(401, "Unauthorized")
        if not self._authorized(conn):
            raise Reject(401, "Invalid credentials")
        user: int = conn.state["user"]
        return user

    def _authorized(self, conn: Connection) -> bool:
        return (
            not self.credentials_revoked
            and "user" in conn.state
            and conn.state["expires"] > time.time()
        )

    # --- the fleet ---

    def build_fleet(self, devices: int) -> None:
        """dev-1 ... dev-N; with three or more, dev-2 fails commands and dev-3 never answers."""
        for index in range(1, devices + 1):
            self._new_device(f"dev-{index}", f"Tracker {index}")
        if devices >= 3:
            self.failing_device, self.silent_device = "dev-2", "dev-3"
            self.devices["dev-2"].behaviour = "fail"
            self.devices["dev-3"].behaviour = "silent"

    def _new_device(self, device_id: str, name: str, status: str = "Online") -> SimDevice:
        rng = self.random
        device = SimDevice(
            device_id,
            name,
            status=status,
            lat=50.45 + rng.uniform(-0.05, 0.05),
            lng=30.52 + rng.uniform(-0.05, 0.05),
            heading=rng.choice([0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0]),
            speed=rng.uniform(20, 60),
            battery=rng.uniform(50, 100),
        )
        self.devices[device_id] = device
        return device

    async def add_device(
        self, device_id: str | None = None, name: str | None = None, *, status: str = "Online"
    ) -> str:
        """Register a device; subscribers get the server's "$device-add" notification."""
        device_id = device_id or f"dev-{len(self.devices) + 1}"
        device = self._new_device(device_id, name or f"Tracker {device_id}", status)
        await self.notify(device_id, "$device-add", device.record())
        return device_id

    def remove_device(self, device_id: str) -> None:
        """Delete a device (DeviceHive says nothing; the next device/list lacks it)."""
        self.devices.pop(device_id, None)

    async def set_status(self, device_id: str, status: str) -> None:
        """Change a device's status ("Online", "Offline"); pushes "$device-update"."""
        device = self.devices[device_id]
        device.status = status
        await self.notify(device_id, "$device-update", device.record())

    async def set_online(self, device_id: str, online: bool) -> None:
        """Shorthand for set_status(Online/Offline)."""
        await self.set_status(device_id, "Online" if online else "Offline")

    def set_behaviour(self, device_id: str, behaviour: str) -> None:
        """How a device answers commands: "done", "fail" or "silent"."""
        self.devices[device_id].behaviour = behaviour

    async def notify(
        self, device_id: str, name: str, parameters: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Insert a notification for a device: kept in the history, pushed to subscribers."""
        device = self.devices.get(device_id)
        self._ids["notification"] += 1
        notification = {
            "id": self._ids["notification"],
            "notification": name,
            "deviceId": device_id,
            "networkId": device.network_id if device else 1,
            "deviceTypeId": device.device_type_id if device else 1,
            "timestamp": self._now(),
            "parameters": parameters or {},
        }
        self.history.append(notification)
        del self.history[:-HISTORY]
        for conn in list(self.connections):
            for frame in self._notification_frames(conn, [notification]):
                await conn.send(frame)
        return notification

    def _now(self) -> str:
        """The current time as a timestamp, strictly later than the last one given."""
        ms = max(int(time.time() * 1000), self._last_ms + 1)
        self._last_ms = ms
        return stamp(datetime.fromtimestamp(ms / 1000, UTC))

    async def tick(self) -> None:
        """Every online device reports its position; now and then one goes offline or back."""
        seconds = 1.0 / self.event_rate if self.event_rate > 0 else 1.0
        for device in list(self.devices.values()):
            if device.status == "Offline":
                if self.random.random() < 0.2:
                    await self.set_status(device.id, "Online")
                continue
            if self.random.random() < 0.03:
                await self.set_status(device.id, "Offline")
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
            "serverTimestamp": stamp(datetime.now(UTC)),
            "restServerUrl": f"{self.base_url}/api/rest",
            "webSocketServerUrl": self.url,
        }

    async def on_connect(self, conn: Connection) -> None:
        """Start server pings ("devicehive-ping")."""
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
        return {
            "authenticate": self._authenticate,
            "token": self._token,
            "token/refresh": self._token_refresh,
            "server/info": self._server_info,
            "device/list": self._device_list,
            "notification/subscribe": self._notification_subscribe,
            "notification/unsubscribe": self._unsubscribe,
            "command/insert": self._command_insert,
            "command/subscribe": self._command_subscribe,
            "command/unsubscribe": self._unsubscribe,
            "command/update": self._command_update,
        }

    async def _unknown(self, _conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
        raise Reject(400, f"Unknown action requested: {message.get('action')}")

    async def _authenticate(self, conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
        user, expires = self._verify(message.get("token"), ACCESS)
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
        user, _ = self._verify(message.get("refreshToken"), REFRESH)
        return {"accessToken": self.issue_token(ACCESS, user_id=user)}

    async def _server_info(self, _conn: Connection, _message: dict[str, Any]) -> dict[str, Any]:
        return {"info": self._info()}

    async def _device_list(self, conn: Connection, _message: dict[str, Any]) -> dict[str, Any]:
        self._require(conn)
        return {"devices": [device.record() for device in self.devices.values()]}

    def _subscription(self, conn: Connection, message: dict[str, Any]) -> dict[str, Any]:
        """A subscription filter from a request; 404 for an unknown device."""
        self._require(conn)
        device_id = message.get("deviceId")
        if device_id is not None and device_id not in self.devices:
            raise Reject(404, f"Device with such deviceId = {device_id} not found")
        names = message.get("names")
        return {"deviceId": device_id, "names": set(names) if names else None}

    def _new_subscription_id(self) -> int:
        self._ids["subscription"] += 1
        return self._ids["subscription"]

    async def _notification_subscribe(
        self, conn: Connection, message: dict[str, Any]
    ) -> dict[str, Any]:
        selection = self._subscription(conn, message)
        replay = self._history_since(message.get("timestamp"))
        subscription_id = self._new_subscription_id()
        conn.state["subs"][subscription_id] = selection
        conn.state["outbox"] = self._notification_frames(conn, replay, subscription_id)
        return {"subscriptionId": subscription_id}

    def _history_since(self, since: Any) -> list[dict[str, Any]]:
        """Notifications at or after a timestamp (none without one)."""
        if since is None:
            return []
        try:
            start = datetime.fromisoformat(since)
        except TypeError, ValueError:
            raise Reject(400, "Invalid timestamp") from None
        if start.tzinfo is not None:
            start = start.astimezone(UTC).replace(tzinfo=None)
        return [n for n in self.history if datetime.fromisoformat(n["timestamp"]) >= start]

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
        if device is None or device.status == "Offline" or device.behaviour == "silent":
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


def _matches(
    selection: dict[str, Any], item: dict[str, Any], name_key: str = "notification"
) -> bool:
    device_id, names = selection["deviceId"], selection["names"]
    return (device_id is None or device_id == item["deviceId"]) and (
        names is None or item[name_key] in names
    )


SIMULATOR = DeviceHiveSimulator
