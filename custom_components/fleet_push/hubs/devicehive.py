"""DeviceHive (DataArt): one JSON WebSocket for authentication, requests and pushes.

The configured URL is the WebSocket itself (``wss://host/api/websocket``). The client signs in
with an access JWT, a refresh JWT (``token/refresh``) or a login (``token``), renews the 30-minute
access token on the same socket before it expires, loads ``device/list`` and subscribes to every
device's notifications. Notification parameters follow FleetPush's convention: ``lat``/``lng``
(or ``latitude``/``longitude``), ``accuracy``, ``speed``, ``heading``, ``altitude``, ``battery``.
"""

from __future__ import annotations

import asyncio
import base64
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from datetime import UTC, datetime
from enum import Enum
from http import HTTPStatus
import logging
import math
import time
from typing import Any, ClassVar, Final, override

import aiohttp
import orjson
from yarl import URL

from .connection import REQUEST_TIMEOUT, HubClient, Listener, Timing, cancel_and_wait
from .errors import (
    CannotConnect,
    CommandFailed,
    HubError,
    InvalidAuth,
    ProtocolError,
    SessionClosed,
)
from .frames import decode
from .model import DeviceUpdate, Field, FleetSnapshot, HubInfo, HubNotice, Position, Value
from .values import is_number

_LOGGER = logging.getLogger(__name__)

MANUFACTURER: Final = "DataArt"
DEVICE_MANUFACTURER: Final = "DeviceHive"
CHANNEL: Final = "notification"
CHANNELS: Final = frozenset({CHANNEL})
MAX_TEXT: Final = 10 * 1024
"""The server's largest text message (WEBSOCKET_MAX_BUFFER_SIZE)."""
ACCESS_LIFETIME: Final = 30 * 60.0
"""Access token lifetime when the token does not say (jwt.access-token-max-age)."""
RENEW_MARGIN: Final = 60.0
MIN_RENEW_DELAY: Final = 0.5
RENEW_RETRY: Final = 30.0
SEEN_IDS: Final = 4096
"""Notification ids remembered for de-duplication."""
KEPT_UPDATES: Final = 64
"""Command updates kept for commands whose insert reply is still on its way."""
DEVICE_EVENTS: Final = frozenset({"$device-add", "$device-update"})
"""Server-originated notifications whose parameters are the device itself."""
PENDING_STATUSES: Final = frozenset(
    {"", "pending", "queued", "sent", "received", "accepted", "in progress", "inprogress"}
)
FAILED_STATUSES: Final = frozenset(
    {"failed", "fail", "failure", "error", "rejected", "timeout", "expired", "cancelled"}
)
RENEWAL_ACTIONS: Final = frozenset({"token", "token/refresh"})
_ACCESS_REFUSED: Final = frozenset({401, 403})
"""Error codes of a handshake request that mean the credentials do not grant access."""
MAX_LATITUDE: Final = 90.0
MAX_LONGITUDE: Final = 180.0
JWT_PARTS: Final = 3
MAX_DIGITS: Final = 18
"""Longest numeric id read from a string (int() refuses more than 4300 digits)."""
MILLISECONDS_FROM: Final = 1e11
"""Expiry numbers above this are milliseconds (1e11 s is the year 5138)."""


class TokenType(Enum):
    """What a DeviceHive JWT is for (its payload's ``t``: 0 refresh, 1 access)."""

    REFRESH = 0
    ACCESS = 1


class DeviceHiveClient(HubClient):
    """A client session on a DeviceHive server's WebSocket API."""

    kind = "devicehive"
    refresh_interval = 600.0
    """DeviceHive announces no deletions: the device list is reloaded every ten minutes."""
    request_timeout: ClassVar[float] = REQUEST_TIMEOUT

    def __init__(
        self,
        session: aiohttp.ClientSession,
        listener: Listener,
        *,
        url: str,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        verify_ssl: bool = True,
        timing: Timing | None = None,
    ) -> None:
        """Keep the settings; nothing is opened until connect()."""
        super().__init__(session, listener, timing=timing)
        if not token and not (username and password):
            raise ValueError("DeviceHive needs a token, or a username and a password")
        self._url = _websocket_url(url)
        self._token = token
        self._login = (username, password) if username and password else None
        self._verify_ssl = verify_ssl
        self._access: str | None = None
        self._refresh: str | None = None
        self._renew_at = 0.0
        self._renewal: asyncio.Task[None] | None = None
        self._established = False
        self._next_id = 0
        self._inflight: dict[str, str] = {}
        self._command_lock = asyncio.Lock()
        self._commands_subscribed = False
        self._updates: OrderedDict[int, Mapping[str, Any]] = OrderedDict()
        self._seen: OrderedDict[Hashable, None] = OrderedDict()
        self._since: tuple[datetime, str] | None = None

    @classmethod
    def settings(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """From "url", "token" or "username" + "password", and "verify_ssl"."""
        return {
            "url": config["url"],
            "token": config.get("token"),
            "username": config.get("username"),
            "password": config.get("password"),
            "verify_ssl": config.get("verify_ssl", True),
        }

    @classmethod
    def default_timing(cls) -> Timing:
        """WebSocket pings every minute; an idle DeviceHive sends nothing else."""
        return Timing(ws_heartbeat=60.0)

    # --- connecting ---

    async def connect(self) -> HubInfo:
        """Sign in, load the server info and the devices, then subscribe to notifications."""
        await self.open_websocket(str(self._url), ssl=self._verify_ssl)
        try:
            return await self._handshake()
        except BaseException:
            await self.close()
            raise

    async def _handshake(self) -> HubInfo:
        try:
            await self._sign_in()
            info = await self._server_info()
            devices = await self._call("device/list")
            self._emit_snapshot(devices)
            await self._subscribe_notifications()
        except CommandFailed as err:
            if err.code == "timeout":
                raise CannotConnect("the DeviceHive server did not answer in time") from err
            if err.code in _ACCESS_REFUSED:  # the token lacks a permission: reauthenticate
                raise InvalidAuth(f"DeviceHive refused access: {err}") from err
            raise ProtocolError(f"DeviceHive refused the handshake: {err}") from err
        self._established = True
        self._schedule_renewal(self._renew_delay())
        return info

    async def _sign_in(self) -> None:
        """Get an access token for the configured credentials and authenticate with it."""
        token = self._token
        kind = _token_type(token) if token is not None else None
        if token is not None and kind is not TokenType.REFRESH:
            self._use_access(token)
            try:
                await self._authenticate()
            except InvalidAuth:
                if kind is TokenType.ACCESS:
                    raise  # without a type claim it may be a refresh token: try that
            else:
                return
        self._refresh = token  # None with a login: the `token` action gives one
        await self._renew_tokens()
        await self._authenticate()

    async def _renew_tokens(self) -> None:
        """Get a new access token: token/refresh when possible, else the login."""
        if self._refresh is not None:
            reply = await self._call("token/refresh", {"refreshToken": self._refresh})
        elif self._login is not None:
            login, password = self._login
            reply = await self._call("token", {"login": login, "password": password})
            refresh = reply.get("refreshToken")
            self._refresh = refresh if isinstance(refresh, str) and refresh else None
        else:
            raise SessionClosed("the DeviceHive access token cannot be renewed")
        access = reply.get("accessToken")
        if not isinstance(access, str) or not access:
            raise ProtocolError("DeviceHive sent no access token")
        self._use_access(access)

    def _use_access(self, token: str) -> None:
        self._access = token
        expires = _token_expiry(token)
        remaining = expires - time.time() if expires is not None else ACCESS_LIFETIME
        if remaining <= 0:  # a skewed clock, or already expired: the server will say
            remaining = ACCESS_LIFETIME
        self._renew_at = asyncio.get_running_loop().time() + remaining

    async def _authenticate(self) -> None:
        await self._call("authenticate", {"token": self._access})

    async def _server_info(self) -> HubInfo:
        reply = await self._call("server/info")
        info = reply.get("info")
        if not isinstance(info, dict):
            raise ProtocolError("DeviceHive sent no server info")
        stamp = info.get("serverTimestamp")
        if self._since is None and isinstance(stamp, str):
            when = _parse_time(stamp)
            self._since = (when, stamp) if when is not None else None
        version = info.get("apiVersion")
        host = self._url.host or ""
        return HubInfo(
            unique_id=f"{self._authority()}:{self._account()}",
            title=f"DeviceHive {host}",
            manufacturer=MANUFACTURER,
            model="DeviceHive",
            version=version if isinstance(version, str) else None,
        )

    def _authority(self) -> str:
        """The server's host, with the port when the URL names one."""
        url = self._url
        return f"{url.host}:{url.explicit_port}" if url.explicit_port else str(url.host)

    def _account(self) -> str:
        """The user the session belongs to: the same for a login and for its tokens."""
        subject = _token_subject(self._access) if self._access else None
        if subject is not None:
            return subject
        return self._login[0] if self._login is not None else "token"

    async def refresh(self) -> None:
        """Load the device list again: DeviceHive announces no deletions."""
        self._emit_snapshot(await self._call("device/list"))

    def _emit_snapshot(self, reply: Mapping[str, Any]) -> None:
        items = reply.get("devices")
        if not isinstance(items, list):
            raise ProtocolError("DeviceHive sent no device list")
        devices: list[DeviceUpdate] = []
        for item in items:
            device_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(device_id, str) and device_id:
                devices.append(_device_update(device_id, item))
            else:
                self.drop("device", item)
        self.emit(FleetSnapshot(tuple(devices)))

    async def _subscribe_notifications(self) -> None:
        """Subscribe to every device, from the last notification seen when there was one."""
        fields = {"timestamp": self._since[1]} if self._since is not None else {}
        await self._call("notification/subscribe", fields)

    # --- token renewal ---

    def _renew_delay(self) -> float:
        remaining = self._renew_at - asyncio.get_running_loop().time()
        return max(remaining - min(RENEW_MARGIN, remaining / 5), MIN_RENEW_DELAY)

    def _schedule_renewal(self, delay: float) -> None:
        if self._refresh is None and self._login is None:
            # A plain access token cannot be renewed: the session ends when it expires.
            expiry = max(self._renew_at - asyncio.get_running_loop().time(), 0.0)
            self._renewal = asyncio.get_running_loop().create_task(
                self._expire_later(expiry), name="fleet_push devicehive token expiry"
            )
            return
        self._renewal = asyncio.get_running_loop().create_task(
            self._renew_later(delay), name="fleet_push devicehive token renewal"
        )

    async def _expire_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.end_session(SessionClosed("the DeviceHive access token expired"))

    async def _renew_later(self, delay: float) -> None:
        """Renew the access token and authenticate again on the same socket."""
        await asyncio.sleep(delay)
        try:
            await self._renew_tokens()
            await self._authenticate()
        except InvalidAuth, SessionClosed, CannotConnect:
            return  # the read loop ends with the reason
        except HubError as err:
            _LOGGER.debug("devicehive: token renewal failed (%s), retrying", type(err).__name__)
            self._schedule_renewal(min(RENEW_RETRY, self._renew_delay()))
            return
        self._schedule_renewal(self._renew_delay())

    async def close(self) -> None:
        """Stop renewing tokens and close the connection."""
        self._established = False
        task, self._renewal = self._renewal, None
        await cancel_and_wait(task)
        await super().close()

    # --- requests ---

    async def _call(
        self,
        action: str,
        fields: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Send one request and return its success reply; errors raise."""
        self._next_id += 1
        request_id = str(self._next_id)
        frame = {"action": action, "requestId": request_id, **(fields or {})}
        text = orjson.dumps(frame).decode()
        if len(text.encode()) > MAX_TEXT:
            raise CommandFailed("the message exceeds DeviceHive's 10 KB limit", code="too_large")
        self._inflight[request_id] = action
        try:
            reply: dict[str, Any] = await self.request(
                request_id, text, timeout or self.request_timeout
            )
        finally:
            self._inflight.pop(request_id, None)
        return reply

    def _on_reply(self, request_id: str, frame: Mapping[str, Any]) -> None:
        if request_id not in self._inflight:
            self.drop("unmatched", frame.get("action"))
            return
        status = frame.get("status")
        if status == "success":
            self.resolve(request_id, frame)
            return
        if status != "error":
            self.reject(request_id, CommandFailed("DeviceHive sent an odd reply", code="protocol"))
            return
        code = frame.get("code")
        message = str(frame.get("error") or "error")[:200]
        if code != HTTPStatus.UNAUTHORIZED:
            self.reject(request_id, CommandFailed(f"DeviceHive: {message}", code=code))
            return
        self._on_unauthorized(request_id)

    def _on_unauthorized(self, request_id: str) -> None:
        """A 401: wrong credentials while signing in, or the end of an established session."""
        action = self._inflight[request_id]
        renewing = action in RENEWAL_ACTIONS
        if not self._established or renewing:
            self.reject(request_id, InvalidAuth("DeviceHive rejected the credentials"))
            if self._established:
                raise InvalidAuth("DeviceHive rejected the credentials while renewing the token")
            return
        self.reject(request_id, CommandFailed("the DeviceHive session has ended", code=401))
        raise SessionClosed("the DeviceHive session has ended")

    # --- frames ---

    def handle_text(self, text: str) -> None:
        """Route a reply to its request, a push to its handler."""
        try:
            frame = decode(text)
        except ValueError:
            self.drop("json", text)
            return
        if not isinstance(frame, dict):
            self.drop("shape", text)
            return
        request_id = frame.get("requestId")
        if request_id is not None:
            self._on_reply(str(request_id), frame)
        elif frame.get("action") == "notification/insert":
            self._on_notification(frame)
        elif frame.get("action") == "command/update":
            self._on_command_update(frame)
        elif frame.get("status") == "error" or "error" in frame:
            self._on_push_error(frame)
        else:
            self.drop("unknown", frame.get("action"))

    def _on_push_error(self, frame: Mapping[str, Any]) -> None:
        if frame.get("code") == HTTPStatus.UNAUTHORIZED and self._established:
            raise SessionClosed("the DeviceHive session has ended")
        self.drop("error", frame.get("error"))

    def _on_notification(self, frame: Mapping[str, Any]) -> None:
        item = frame.get("notification")
        if not isinstance(item, dict):
            self.drop("notification", frame)
            return
        device_id, name = item.get("deviceId"), item.get("notification")
        if not isinstance(device_id, str) or not device_id or not isinstance(name, str):
            self.drop("notification", item)
            return
        notification_id = item.get("id")
        if self._seen_before(notification_id):
            self.drop("duplicate", notification_id)
            return
        stamp = item.get("timestamp")
        when = self._note_time(stamp)
        parameters = item.get("parameters")
        fields = parameters if isinstance(parameters, dict) else {}
        update = (
            _device_update(device_id, fields)
            if name in DEVICE_EVENTS
            else _measurements(device_id, fields, when)
        )
        if update is not None:
            self.emit(update)
        attributes = {
            "name": name,
            "parameters": parameters,
            "id": notification_id,
            "timestamp": stamp,
        }
        self.emit(HubNotice(CHANNEL, CHANNEL, device_id, attributes))

    def _seen_before(self, notification_id: Any) -> bool:
        """Remember a notification id; True when it was delivered already."""
        if not isinstance(notification_id, int | str) or isinstance(notification_id, bool):
            return False
        if notification_id in self._seen:
            return True
        self._seen[notification_id] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        return False

    def _note_time(self, stamp: Any) -> datetime | None:
        """Parse a notification time and keep the latest one for resubscribing."""
        when = _parse_time(stamp) if isinstance(stamp, str) else None
        if when is not None and (self._since is None or when >= self._since[0]):
            self._since = (when, str(stamp))
        return when

    def _on_command_update(self, frame: Mapping[str, Any]) -> None:
        command = frame.get("command")
        command_id = _as_int(command.get("id")) if isinstance(command, dict) else None
        if command_id is None or not isinstance(command, dict):
            self.drop("command", frame)
            return
        if not self.resolve(("command", command_id), command):
            self._updates[command_id] = command
            self._updates.move_to_end(command_id)
            if len(self._updates) > KEPT_UPDATES:
                self._updates.popitem(last=False)

    # --- commands ---

    @property
    @override
    def ready(self) -> bool:
        """Connected, and the session established (signed in, subscribed)."""
        return self._established and self.connected

    @override
    async def _command(
        self,
        device_id: str,
        command: str,
        parameters: Mapping[str, Any],
        timeout: float,
    ) -> Any:
        """Insert a command and wait for the device's update; return id, status and result."""
        body = {"command": command, "parameters": dict(parameters), "lifetime": _lifetime(timeout)}
        try:
            orjson.dumps(body)
        except TypeError as err:
            raise CommandFailed("the parameters are not JSON", code="invalid") from err
        try:
            async with asyncio.timeout(timeout):
                await self._subscribe_command_updates()
                fields = {"deviceId": device_id, "command": body}
                reply = await self._call("command/insert", fields, timeout=timeout)
                inserted = reply.get("command")
                command_id = _as_int(inserted.get("id")) if isinstance(inserted, dict) else None
                if command_id is None:
                    raise CommandFailed("DeviceHive sent no command id", code="protocol")
                update = await self._command_outcome(command_id)
        except TimeoutError as err:
            raise CommandFailed("the device did not answer in time", code="timeout") from err
        return _command_result(command_id, update)

    async def _subscribe_command_updates(self) -> None:
        """Ask for command/update pushes, once per connection."""
        async with self._command_lock:
            if not self._commands_subscribed:
                await self._call("command/subscribe", {"returnUpdatedCommands": True})
                self._commands_subscribed = True

    async def _command_outcome(self, command_id: int) -> Mapping[str, Any]:
        """Wait until the device reports a final status for the command."""
        while True:
            update: Mapping[str, Any] | None = self._updates.pop(command_id, None)
            if update is None:
                update = await self._next_update(("command", command_id))
            if str(update.get("status") or "").casefold() not in PENDING_STATUSES:
                return update

    async def _next_update(self, key: Hashable) -> Mapping[str, Any]:
        future: asyncio.Future[Mapping[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            update: Mapping[str, Any] = await self._await_reply(future)
        finally:
            self._pending.pop(key, None)
        return update

    def _fail_pending(self, error: Exception) -> None:
        """Forget the per-connection command subscription with the connection."""
        self._commands_subscribed = False
        super()._fail_pending(error)


# --- parsing helpers ---


def _websocket_url(url: str) -> URL:
    parsed = URL(url.strip())
    scheme = {"http": "ws", "https": "wss"}.get(parsed.scheme, parsed.scheme)
    if scheme not in ("ws", "wss") or not parsed.host:
        raise ValueError("the DeviceHive URL must be ws:// or wss:// with a host")
    return parsed.with_scheme(scheme)


def _device_update(device_id: str, item: Mapping[str, Any]) -> DeviceUpdate:
    """A device record (device/list, $device-add, $device-update) as an update."""
    values: dict[Field, Value] = {}
    if "status" in item:
        status = item["status"]
        values[Field.ONLINE] = status.casefold() != "offline" if isinstance(status, str) else None
    extras = {
        key: item[key]
        for key in ("networkId", "isBlocked")
        if isinstance(item.get(key), int | str | bool)
    }
    name = item.get("name")
    return DeviceUpdate(
        device_id,
        name=name if isinstance(name, str) and name else None,
        manufacturer=DEVICE_MANUFACTURER,
        values=values,
        extras=extras,
        channels=CHANNELS,
    )


def _measurements(
    device_id: str, parameters: Mapping[str, Any], when: datetime | None
) -> DeviceUpdate | None:
    """Position and battery from a notification's parameters, by FleetPush's convention."""
    position = _position(parameters, when)
    values: dict[Field, Value] = {}
    if "battery" in parameters:
        values[Field.BATTERY] = _number(parameters, "battery")
    if position is None and not values:
        return None
    return DeviceUpdate(device_id, position=position, values=values, channels=CHANNELS)


def _position(parameters: Mapping[str, Any], when: datetime | None) -> Position | None:
    latitude = _number(parameters, "lat", "latitude")
    longitude = _number(parameters, "lng", "lon", "longitude")
    if latitude is None or longitude is None:
        return None
    if abs(latitude) > MAX_LATITUDE or abs(longitude) > MAX_LONGITUDE:
        return None
    return Position(
        latitude,
        longitude,
        time=when,
        speed=_number(parameters, "speed"),
        heading=_number(parameters, "heading"),
        altitude=_number(parameters, "altitude"),
        accuracy=_number(parameters, "accuracy"),
    )


def _number(mapping: Mapping[str, Any], *keys: str) -> float | None:
    """The first of keys that is present, as a finite number (None when it is not one)."""
    for key in keys:
        if key in mapping:
            value = mapping[key]
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                return None
            try:
                number = float(value)
            except ValueError:
                return None
            return number if math.isfinite(number) else None
    return None


def _parse_time(stamp: str) -> datetime | None:
    """A DeviceHive timestamp (ISO 8601, UTC when it names no zone)."""
    try:
        when = datetime.fromisoformat(stamp)
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except ValueError, OverflowError:  # OverflowError: beyond year 1 or 9999 in UTC
        return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= MAX_DIGITS:
        return int(value)
    return None


def _lifetime(timeout: float) -> int:
    return max(1, math.ceil(timeout))


def _command_result(command_id: int, update: Mapping[str, Any]) -> dict[str, Any]:
    status = update.get("status")
    result = update.get("result")
    if str(status).casefold() in FAILED_STATUSES:
        detail = orjson.dumps(result).decode()[:200]
        raise CommandFailed(f"the device reported {status}: {detail}", code=str(status))
    return {"id": command_id, "status": status, "result": result}


# --- JWT payloads (read, never verified: the server does that) ---


def _jwt_claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != JWT_PARTS:
        return {}
    try:
        claims = decode(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _claim(claims: Mapping[str, Any], top: tuple[str, ...], nested: tuple[str, ...]) -> Any:
    """A standard claim, or the same thing inside DeviceHive's ``payload`` claim."""
    for key in top:
        if claims.get(key) is not None:
            return claims[key]
    payload = claims.get("payload")
    if isinstance(payload, dict):
        for key in nested:
            if payload.get(key) is not None:
                return payload[key]
    return None


def _token_type(token: str) -> TokenType | None:
    kind = _claim(
        _jwt_claims(token), ("tpc", "token_type", "tokenType", "type"), ("t", "tokenType", "tpc")
    )
    names = {"0": TokenType.REFRESH, "refresh": TokenType.REFRESH}
    names |= {"1": TokenType.ACCESS, "access": TokenType.ACCESS}
    return names.get(str(kind).casefold()) if not isinstance(kind, bool) else None


def _token_expiry(token: str) -> float | None:
    """Seconds since the epoch: ``exp``, or DeviceHive's ``payload.e`` in milliseconds."""
    claims = _jwt_claims(token)
    exp = claims.get("exp")
    if is_number(exp):
        return float(exp)
    expiration = _claim(claims, (), ("e", "expiration"))
    if is_number(expiration):
        return expiration / 1000 if expiration > MILLISECONDS_FROM else float(expiration)
    return None


def _token_subject(token: str) -> str | None:
    subject = _claim(_jwt_claims(token), ("sub",), ("u", "userId"))
    return str(subject) if isinstance(subject, int | str) and str(subject) else None


CLIENT = DeviceHiveClient
