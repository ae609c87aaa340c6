"""TFT IoT Open API: two push WebSockets (device data, messages), the REST API for the fleet."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import contextlib
from dataclasses import dataclass
from functools import cached_property
import hashlib
import logging
import re
from typing import Any, ClassVar, Final, cast, override
from urllib.parse import urlsplit

import aiohttp
import orjson

from . import frames
from .connection import REQUEST_TIMEOUT, Drop, HubClient, HubStats, Listener, Timing, within
from .declaration import Channel, HubDeclaration, Setting, SettingType
from .derived_trips import TripDeriver
from .errors import (
    CannotConnect,
    CommandCode,
    CommandFailed,
    HubError,
    HubTimeout,
    InvalidAuth,
    SessionClosed,
)
from .model import (
    Category,
    Command,
    DeviceDetails,
    DeviceUpdate,
    Field,
    FleetSnapshot,
    HubInfo,
    HubMessage,
    HubNotice,
    HubUpdate,
    Position,
    Value,
)
from .redact import REDACTED, redact_text
from .tftiot_accessories import ACCESSORY_EVENTS, CHANNEL_ACCESSORY, accessory_notice
from .trips import CHANNEL_TRIP, TRIP_EVENTS
from .urls import authority
from .values import as_number, as_text, is_int, is_number, ms_time

_LOGGER = logging.getLogger(__name__)

DEFAULT_URL: Final = "wss://openapi.tftiot.com:8443/websocket"
MANUFACTURER: Final = "TFT IoT"
CONF_REST_URL: Final = "rest_url"

CHANNEL_ALARM: Final = "alarm"
CHANNEL_MESSAGE: Final = "message"
DEVICE_CHANNELS: Final = frozenset({CHANNEL_ALARM, CHANNEL_ACCESSORY, CHANNEL_TRIP})
HUB_CHANNELS: Final = frozenset({CHANNEL_ALARM, CHANNEL_MESSAGE})

ALARM_SENDER: Final = 1
"""messagePass from_id of alarms (0 is the system, others are users)."""
NO_SIGNAL: Final = -999
SECONDS_PER_HOUR: Final = 3600
CSQ_MAX: Final = 31
"""The top of the GSM modem's signal scale (CSQ)."""
_SIGNIN: Final = "signin"
SIGNIN_WAIT: Final = 3.0
"""Seconds a refusal of the sign-in may take to arrive: the vendor shows no sign-in reply."""
KEEPALIVE_INTERVAL: Final = 60.0
"""The vendor page: send "ping" every minute to keep the connection."""
WS_HEARTBEAT: Final = 30.0
"""Ping a socket that was quiet this long; any RFC 6455 server answers."""
_IGNORED_TEXTS: Final = frozenset({"ping", "pong"})
_DEVICE_EVENTS_IGNORED: Final[frozenset[str]] = frozenset()
_DEFAULT_TOKEN_LIFE: Final = 600.0
_HTTP_ERROR: Final = 400
MAX_PORTS: Final = 64
"""More inputs or outputs than this is no tracker's: the value is garbage."""
_PORT: Final = re.compile(r"[0-9]{1,4}")
LENIENT_LIMIT: Final = 8 * 1024
"""Longest frame tried as a JS literal (the vendor's sample has 2.5 KB): the lenient decoder's
regular expressions take quadratic time on some hostile text (0.4 s at this size)."""


PUSH_PORT: Final = 8443
"""The vendor's push-only port."""


def md5_password(plain: str) -> str:
    """Hash a password the way the Open API expects it: lowercase MD5 hex."""
    return hashlib.md5(plain.encode(), usedforsecurity=False).hexdigest()


def rest_base(url: str) -> str:
    """Derive the REST base from a push URL: same host, https (http for ws://), path /v2.

    The vendor's push port (8443) serves no REST, so it is dropped; any other port is kept
    (a self-hosted or simulated server answers both on one port).
    """
    parts = urlsplit(url)
    scheme = "http" if parts.scheme == "ws" else "https"
    port = parts.port if parts.port != PUSH_PORT else None
    return f"{scheme}://{authority(parts.hostname or '', port)}/v2"


def decode_frame(text: str) -> Any:
    """Decode JSON, or the JavaScript literal the vendor page prints; ValueError otherwise."""
    value = _decode(text)
    if isinstance(value, str):  # "a json string": tolerate JSON wrapped in a JSON string
        value = _decode(value)
    return value


def _decode(text: str) -> Any:
    """Strict JSON, or a JS literal when the text is short enough to try one."""
    return frames.decode_lenient(text) if len(text) <= LENIENT_LIMIT else frames.decode(text)


def _error_code(frame: dict[str, Any]) -> int | str | None:
    """The error a frame reports: a non-zero number or a text; None for none, 0 or "0"."""
    error = frame.get("error")
    if is_int(error) and error != 0:
        return error
    if isinstance(error, str) and error.strip() not in ("", "0"):
        return error[:40]
    return None


@dataclass(frozen=True, slots=True)
class TftIotAccount:
    """The account both TFT IoT sockets sign in to; the password is kept only as its MD5."""

    url: str
    """The push WebSocket's URL."""
    user: str
    password_md5: str
    verify_ssl: bool = True


class _Account(HubClient):
    """What both TFT IoT sockets share: the account, keep-alive, timings and frame decoding."""

    declaration = HubDeclaration(
        kind="tftiot",
        name="TFT IoT",
        settings=(
            Setting("url", SettingType.URL, default=DEFAULT_URL, required=True, identity=True),
            Setting("username", SettingType.TEXT, required=True, identity=True),
            Setting("password", SettingType.SECRET, required=True, credential=True),
            Setting("verify_ssl", SettingType.FLAG, default=True, required=True),
        ),
        url_schemes=("ws", "wss"),
        channels=(
            Channel(CHANNEL_ALARM, ("alarm",)),
            Channel(CHANNEL_MESSAGE, ("message", "file_shake", "download_allow")),
            Channel(CHANNEL_ACCESSORY, tuple(ACCESSORY_EVENTS.values())),
            Channel(CHANNEL_TRIP, TRIP_EVENTS),
        ),
        fields=frozenset(
            {
                Field.ONLINE,
                Field.IGNITION,
                Field.BATTERY,
                Field.BATTERY_VOLTAGE,
                Field.EXTERNAL_VOLTAGE,
                Field.SPEED,
                Field.SATELLITES,
                Field.GSM_SIGNAL,
                Field.MILEAGE,
                Field.LAST_TRIP_DISTANCE,
                Field.INPUTS,
                Field.OUTPUTS,
                Field.ENGINE_HOURS,
                Field.FUEL,
                Field.ANTI_THEFT,
                Field.RELAY,
                Field.EXTERNAL_BATTERY_LOW,
                Field.ADDRESS,
            }
        ),
        positions=True,
    )
    keepalive_text: ClassVar[str | None] = "ping"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        listener: Listener,
        *,
        account: TftIotAccount,
        timing: Timing | None = None,
    ) -> None:
        """Keep the account; nothing is opened until connect()."""
        super().__init__(session, listener, timing=timing)
        self.account = account

    @property
    def verify_ssl(self) -> bool:
        """Whether the hub's TLS certificate is verified."""
        return self.account.verify_ssl

    @classmethod
    def settings(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """The account: "url", "username", "password" (MD5 hex) and "verify_ssl"."""
        account = TftIotAccount(
            url=config.get("url") or DEFAULT_URL,
            user=str(config["username"]),
            password_md5=str(config["password"]),
            verify_ssl=bool(config.get("verify_ssl", True)),
        )
        return {"account": account}

    @classmethod
    def default_timing(cls) -> Timing:
        """Text "ping" every minute, as the vendor asks; WebSocket pings judge liveness.

        Nobody promised an answer to "ping", and a quiet account pushes nothing, so there is no
        silence limit: a hub that answers WebSocket pings is alive, however quiet.
        """
        return Timing(keepalive_interval=KEEPALIVE_INTERVAL, ws_heartbeat=WS_HEARTBEAT)

    @property
    def info(self) -> HubInfo:
        """The account this client signs in to."""
        user = self.account.user
        return HubInfo(
            unique_id=f"{urlsplit(self.account.url).hostname or ''}:{user}",
            title=f"TFT IoT {user}",
            manufacturer=MANUFACTURER,
            model=None,  # an account on the platform: no product of its own
        )

    def _decode_object(self, text: str) -> dict[str, Any] | None:
        """The frame as a JSON object; None for "ping" and "pong", and for what is dropped."""
        if text.strip() in _IGNORED_TEXTS:
            return None
        return self.decode_object(text, decode_frame)

    def _dispatch(
        self,
        handlers: Mapping[str, Callable[[dict[str, Any]], None]],
        name: Any,
        frame: dict[str, Any],
        ignored: frozenset[str] = frozenset(),
    ) -> None:
        if not isinstance(name, str):
            self.drop(Drop.MALFORMED, frame)
        elif (handler := handlers.get(name)) is not None:
            handler(frame)
        elif name not in ignored:
            self.drop(Drop.UNKNOWN_KIND, frame)

    def _secrets(self) -> tuple[str, ...]:
        """What a hub's text must not carry into an error message."""
        return (self.account.password_md5,)

    @override
    def drop(self, reason: Drop, detail: object = None) -> None:
        """Count and log a skipped frame; our credentials stay out under whatever key."""
        if any(secret.casefold() in str(detail).casefold() for secret in self._secrets()):
            detail = self._hide(str(detail))
        super().drop(reason, detail)

    def _hide(self, text: Any) -> str:
        """A hub's text fit for an error message: short, and without our credentials."""
        if not isinstance(text, str):
            return ""
        hidden = redact_text(text)
        for secret in self._secrets():
            hidden = re.sub(re.escape(secret), REDACTED, hidden, flags=re.IGNORECASE)
        return hidden[:200]


class TftIotMessages(_Account):
    """The message push (registUserMessage) on a socket of its own, as the vendor page opens it.

    TftIotClient runs one beside its device socket and hands it the message frames that arrive
    on the device socket too. When the socket ends and nobody closed it, on_lost hears why.
    """

    on_lost: Callable[[HubError], None] | None = None
    """Told why the socket ended when nobody closed it."""
    refused = False
    """Whether the hub refused the registration: then the socket's end ends nothing."""

    @cached_property
    def _types(self) -> dict[str, Callable[[dict[str, Any]], None]]:
        return {
            "messagePass": self._on_message_pass,
            "getFileShake": self._notice_handler("file_shake"),
            "downloadAllow": self._notice_handler("download_allow"),
            "registUserMessage": self._on_regist_reply,
        }

    async def _establish(self) -> HubInfo:
        """Open the socket and register for messages; no reply is documented, none is awaited."""
        self.refused = False
        account = self.account
        regist = {
            "user_id": account.user,
            "md5-password": account.password_md5,
            "type": "registUserMessage",
        }
        await self.open_websocket(account.url, ssl=account.verify_ssl)
        reader = cast("asyncio.Task[None]", self._reader)  # set once the socket is open
        reader.add_done_callback(self._ended)
        await self.send_text(orjson.dumps(regist).decode())
        return self.info

    def _ended(self, reader: asyncio.Task[None]) -> None:
        """Tell on_lost why the socket ended, unless it was closed, or refused, on purpose."""
        if reader.cancelled():
            return
        error = reader.exception()
        if self.on_lost is None or self.refused:
            return
        if not isinstance(error, HubError):
            error = CannotConnect(f"the message socket failed: {type(error).__name__}")
        self.on_lost(error)

    def handle_text(self, text: str) -> None:
        """Message pushes; device frames belong to the device socket and are skipped here."""
        frame = self._decode_object(text)
        if frame is None:
            return
        if "type" in frame:
            self.handle_message(frame)
        else:
            self.drop(Drop.UNKNOWN_KIND, frame)

    def handle_message(self, frame: dict[str, Any]) -> None:
        """Dispatch a message push by its "type"."""
        self._dispatch(self._types, frame.get("type"), frame)

    def _on_regist_reply(self, frame: dict[str, Any]) -> None:
        """Accept the registration's acknowledgement; a refusal leaves the device push alone."""
        if _error_code(frame) is not None:
            self.refused = True
            self.drop(Drop.HUB_ERROR, frame)

    def _on_message_pass(self, frame: dict[str, Any]) -> None:
        date = ms_time(frame.get("date"))
        attributes: dict[str, Any] = {"message": _text(frame.get("message"))}
        if date is not None:
            attributes["date"] = date.isoformat()
        if frame.get("from_id") != ALARM_SENDER:
            sender = frame.get("from_id")
            attributes["from_id"] = sender if is_int(sender) or isinstance(sender, str) else None
            attributes["from_name"] = _text(frame.get("from_name"))
            self.emit(HubNotice(CHANNEL_MESSAGE, "message", attributes=attributes))
            return
        alarm = frame.get("alarm_msg")
        alarm = alarm if isinstance(alarm, dict) else {}
        number = next((alarm[k] for k in ("cur_event", "event") if is_int(alarm.get(k))), None)
        self.emit(
            HubNotice(
                CHANNEL_ALARM,
                "alarm",
                device_id=_imei(alarm) or "",
                attributes={"number": number, **attributes},
            )
        )

    def _notice_handler(self, event_type: str) -> Callable[[dict[str, Any]], None]:
        def handle(frame: dict[str, Any]) -> None:
            attributes = {
                key: value
                for key, value in frame.items()
                if key != "type" and isinstance(value, str | int | float | bool)
            }
            self.emit(HubNotice(CHANNEL_MESSAGE, event_type, attributes=attributes))

        return handle


class TftIotClient(_Account):
    """One TFT IoT account: the device push and the message push on two sockets, REST beside.

    The vendor page opens the message push on a connection of its own, so FleetPush always does:
    a server that serves it on the device socket too serves a socket of its own as well, and
    registering on one socket only never brings a message twice. Either socket ending ends the
    session (the coordinator reconnects both); a refused message registration ends nothing.
    """

    fleet_reload_interval = 600.0
    """The push announces no deletions: the REST device list is reloaded every ten minutes."""
    snapshot_window: float = 3.0
    """Without REST: how long to gather snapshots into the first FleetSnapshot (seconds)."""
    signin_wait: float = SIGNIN_WAIT
    """How long a refusal of the sign-in may take (seconds); no refusal by then is success."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        listener: Listener,
        *,
        account: TftIotAccount,
        rest_url: str | None = None,
        timing: Timing | None = None,
    ) -> None:
        """Keep the account; REST is where rest_url says, else beside the push URL."""
        super().__init__(session, listener, account=account, timing=timing)
        self.rest_url = (rest_url or rest_base(account.url)).rstrip("/")
        self._token: str | None = None
        self._token_expires = 0.0
        self._names: dict[str, str] = {}
        self._known: set[str] = set()
        self._alarms: dict[str, int] = {}
        self._gathering: dict[str, dict[str, Any]] | None = None
        """Snapshot data by IMEI while connecting, emitted after the fleet list."""
        self._trips = TripDeriver(lambda: self.memory)
        self._trips_seen: list[HubMessage] = []
        """Trips the device list showed ended, emitted after it."""
        self._events: dict[str, Callable[[dict[str, Any]], None]] = {
            _SIGNIN: self._on_signin,
            "snapshot": self._on_snapshot,
            **dict.fromkeys(ACCESSORY_EVENTS, self._on_accessory),
        }
        self.messages = TftIotMessages(session, self.emit, account=account, timing=self.timing)
        """The message push's socket, beside this device socket."""
        self.messages.on_lost = self._messages_lost
        self.messages.stats = HubStats(dropped=self.stats.dropped)  # one count of skipped frames

    @classmethod
    def normalize_config(cls, user_input: Mapping[str, Any]) -> dict[str, Any]:
        """Store the password only as the MD5 hash the service expects."""
        config = dict(user_input)
        if isinstance(password := config.get("password"), str):
            config["password"] = md5_password(password)
        return config

    @classmethod
    def settings(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """The account's settings, and "rest_url"."""
        return {**super().settings(config), "rest_url": config.get(CONF_REST_URL)}

    # --- connecting ---

    async def _establish(self) -> HubInfo:
        """Sign in on the device socket, open the message socket, then load the fleet."""
        await self.open_websocket(self.account.url, ssl=self.verify_ssl)  # closes all
        self._gathering = {}
        self._trips_seen = []
        self._trips.reconnected()
        await self._sign_in()
        await self.messages.connect()
        devices = await self._load_fleet()
        if devices is None:
            await asyncio.sleep(self.snapshot_window)
        await self._ensure_alive()
        self._emit_fleet(devices)
        return self.info

    async def close(self) -> None:
        """Close both sockets; nothing is gathered any more."""
        self._gathering = None
        await self.messages.close()
        await super().close()

    def _messages_lost(self, error: HubError) -> None:
        """The message socket ended: the session ends with it, unless it has already."""
        if self._reader is not None and not self._reader.done():
            self.end_session(error)

    async def _ensure_alive(self) -> None:
        """Raise why the connection ended, if it ended while the fleet was loading."""
        if self._reader is None or self._reader.done():
            await self.run()

    async def _sign_in(self) -> None:
        """Sign in for device data: any frame but a refusal, or no refusal in time, is success.

        The vendor page shows no reply to the sign-in. A refusal is a frame with a non-zero
        error; a hub that closes the socket without one is CannotConnect, not a wrong password.
        """
        account = self.account
        signin = {"token": account.user, "md5-password": account.password_md5, "event": _SIGNIN}
        with contextlib.suppress(HubTimeout):  # the wait ran out and nobody refused
            await self.request(_SIGNIN, orjson.dumps(signin).decode(), self.signin_wait)

    async def _load_fleet(self) -> tuple[DeviceUpdate, ...] | None:
        """Load the device list from REST; None when REST is out of reach."""
        self._token = None
        try:
            async with within(REQUEST_TIMEOUT, "TFT IoT REST"):
                token = await self._access_token()
                reply = await self._rest_call("GET", "/devices", None, token)
            records = self._ok(reply).get("devices")
        except HubError as err:
            _LOGGER.debug("TFT IoT REST unavailable, using snapshots: %s", type(err).__name__)
            return None
        if not isinstance(records, list):
            return None
        return tuple(
            self._seed(record, imei)
            for record in records
            if isinstance(record, dict) and (imei := _imei(record)) is not None
        )

    def _emit_fleet(self, devices: tuple[DeviceUpdate, ...] | None) -> None:
        """Emit the full list (REST's, else the snapshots gathered), then fresher snapshots."""
        gathered, self._gathering = self._gathering or {}, None
        complete = devices is not None
        if devices is None:  # only the trackers that happened to report: remove none
            devices = tuple(self._seed(data, imei) for imei, data in gathered.items())
            gathered = {}
        self._known = {device.device_id for device in devices}
        self.emit(FleetSnapshot(devices, complete=complete))
        self._emit_trips_seen()
        self.emit(HubUpdate(channels=HUB_CHANNELS))
        for imei, data in gathered.items():
            self._report(data, imei)

    # --- REST ---

    async def _access_token(self) -> str:
        """Return a live access token, signing in to REST when the last one has expired."""
        loop = asyncio.get_running_loop()
        if self._token is not None and loop.time() < self._token_expires:
            return self._token
        body = {
            "getAccessToken": {
                "account": self.account.user,
                "password-md5": self.account.password_md5,
                "client-type": "web",
            }
        }
        reply = self._ok(await self._rest_call("POST", "/auth/action", body, None))
        token = reply.get("access-token")
        if not isinstance(token, str) or not token:
            raise CommandFailed(
                "the TFT IoT REST sign-in gave no token", code=CommandCode.BAD_REPLY
            )
        keep = reply.get("keep-time")
        life = float(keep) if is_number(keep) and keep > 0 else _DEFAULT_TOKEN_LIFE
        self._token, self._token_expires = token, loop.time() + life * 0.9
        return token

    async def _rest_call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        token: str | None,
    ) -> dict[str, Any]:
        """Make one REST request; the reply must be a JSON object."""
        params = {"access-token": token} if token is not None else None
        try:
            async with self._session.request(
                method,
                f"{self.rest_url}{path}",
                params=params,
                json=body,
                ssl=self.verify_ssl,
            ) as response:
                raw = await response.read()
        except (aiohttp.ClientError, OSError) as err:
            raise CannotConnect(f"cannot reach the TFT IoT REST API: {type(err).__name__}") from err
        try:
            reply = frames.decode(raw)
        except ValueError:
            reply = None
        status = response.status
        if not isinstance(reply, dict) or (status >= _HTTP_ERROR and "code" not in reply):
            raise CommandFailed(f"TFT IoT REST answered HTTP {status}", code=status)
        return reply

    @override
    async def _command(self, command: Command) -> Any:
        """Queue a raw device command text (device-waiting-send-cmds); no parameters."""
        if command.parameters:
            raise CommandFailed(
                "TFT IoT commands take no parameters", code=CommandCode.BAD_PARAMETERS
            )
        if not command.name:
            raise CommandFailed("the command text is empty", code=CommandCode.BAD_COMMAND)
        body = {"imeis": [command.device_id], "message": command.name}
        async with within(command.timeout, "the hub"):
            token = await self._access_token()
            reply = await self._rest_call("POST", "/device-waiting-send-cmds", body, token)
        return self._ok(reply)

    def _ok(self, reply: dict[str, Any]) -> dict[str, Any]:
        """Pass a successful REST reply; raise CommandFailed with the hub's code and msg."""
        code = reply.get("code", 0)
        if code != 0:
            text = self._hide(reply.get("msg")) or "request refused"
            raise CommandFailed(f"TFT IoT: {text}", code=code if is_int(code) else str(code)[:40])
        return reply

    def _secrets(self) -> tuple[str, ...]:
        """The password's MD5 and the REST access token."""
        md5 = self.account.password_md5
        return (md5, self._token) if self._token else (md5,)

    # --- frames ---

    def handle_text(self, text: str) -> None:
        """Dispatch by "event" (device push) or "type" (message push).

        Any frame that reports no error also shows that the sign-in went through.
        """
        frame = self._decode_object(text)
        if frame is None:
            return
        if "event" in frame:
            self._dispatch(self._events, frame["event"], frame, _DEVICE_EVENTS_IGNORED)
        elif "type" in frame:
            self.messages.handle_message(frame)
        elif not self._refuses_signin(frame):
            self.drop(Drop.MALFORMED, frame)
        if _error_code(frame) is None:
            self.resolve(_SIGNIN, frame)

    def _refuses_signin(self, frame: dict[str, Any]) -> bool:
        """Refuse the waiting sign-in with a bare error frame (no event, no type), if one waits."""
        code = _error_code(frame)
        return code is not None and self.reject(_SIGNIN, self._refusal(code, frame))

    def _on_signin(self, frame: dict[str, Any]) -> None:
        """A sign-in reply: an error refuses the account, or ends the session if nobody waits."""
        code = _error_code(frame)
        if code is not None and not self.reject(_SIGNIN, self._refusal(code, frame)):
            raise SessionClosed(f"TFT IoT ended the session {self._reason(code, frame)}")

    def _refusal(self, code: int | str, frame: dict[str, Any]) -> InvalidAuth:
        return InvalidAuth(f"TFT IoT refused the sign-in {self._reason(code, frame)}")

    def _reason(self, code: int | str, frame: dict[str, Any]) -> str:
        """Why the hub refused: its error code and message, without our credentials."""
        message = frame.get("message")
        if isinstance(message, str) and message:
            return self._hide(f"(error {code}): {message}")
        return self._hide(f"(error {code})")

    def _on_snapshot(self, frame: dict[str, Any]) -> None:
        if _error_code(frame) is not None:
            self.drop(Drop.HUB_ERROR, frame)
            return
        data = frame.get("data")
        if not isinstance(data, dict) or (imei := _imei(data)) is None:
            self.drop(Drop.MALFORMED, frame)
        elif self._gathering is not None:
            self._gathering[imei] = data
        else:
            self._report(data, imei)

    def _on_accessory(self, frame: dict[str, Any]) -> None:
        """An accessory's update (tyres, driver, OBD error, fuel) as an event of its tracker."""
        data = frame.get("data")
        notice = accessory_notice(
            frame.get("event"), data, _imei(data) if isinstance(data, dict) else None
        )
        if notice is None:
            self.drop(Drop.MALFORMED, frame)
        else:
            self.emit(notice)

    # --- devices ---

    async def reload_fleet(self) -> None:
        """Reload the REST device list (names, new and deleted devices), if REST answers."""
        devices = await self._load_fleet()
        if devices is not None:
            self._known = {device.device_id for device in devices}
            self.emit(FleetSnapshot(devices))
            self._emit_trips_seen()

    def _report(self, record: dict[str, Any], imei: str) -> None:
        """Emit a device's update, then its alarm when the alarm number is new."""
        if imei not in self._known:
            self._known.add(imei)
            self.reload_fleet_soon()  # REST knows its name
        self.emit(self._device(record, imei))
        if (notice := self._alarm(imei, record.get("status"))) is not None:
            self.emit(notice)
        for message in self._trip_end(record, imei):
            self.emit(message)

    def _seed(self, record: dict[str, Any], imei: str) -> DeviceUpdate:
        """Take a device's initial state: its alarm number is known, not announced."""
        self._alarm(imei, record.get("status"))
        self._trips_seen.extend(self._trip_end(record, imei))
        return self._device(record, imei)

    def _trip_end(self, record: dict[str, Any], imei: str) -> tuple[HubMessage, ...]:
        """The trip a report ends (ignition off), from the mileage counter.

        It starts and ends when the ignition switched (acc_switch_time), else at the report.
        """
        status = record.get("status")
        if not isinstance(status, dict):
            return ()
        return self._trips.observe(
            imei,
            driving=_flag(status.get("acc")),
            mileage=_kilometres(status.get("mileage")),
            at=ms_time(status.get("acc_switch_time")) or ms_time(status.get("date")),
            speed=as_number(status.get("speed")),
        )

    def _emit_trips_seen(self) -> None:
        """The trips the device list showed ended, once its devices are known."""
        trips, self._trips_seen = self._trips_seen, []
        for message in trips:
            self.emit(message)

    def _alarm(self, imei: str, status: Any) -> HubNotice | None:
        """Track a device's alarm number; an alarm when it is non-zero and new."""
        if not isinstance(status, dict) or not is_int(number := status.get("cur_event")):
            return None
        previous = self._alarms.get(imei)
        self._alarms[imei] = number
        if number in (0, previous):
            return None
        attributes: dict[str, Any] = {"number": number, "message": None}
        if (date := ms_time(status.get("date"))) is not None:
            attributes["date"] = date.isoformat()
        return HubNotice(CHANNEL_ALARM, "alarm", device_id=imei, attributes=attributes)

    def _device(self, record: dict[str, Any], imei: str) -> DeviceUpdate:
        """Turn a device record (REST or snapshot data) into a DeviceUpdate."""
        config = record.get("config")
        if isinstance(config, dict) and isinstance(name := config.get("name"), str) and name:
            self._names[imei] = name
        status = record.get("status")
        status = status if isinstance(status, dict) else {}
        model = record.get("model")
        return DeviceUpdate(
            imei,
            DeviceDetails(
                name=self._names.get(imei, imei),
                manufacturer=MANUFACTURER,
                model=model if isinstance(model, str) and model else None,
                serial=imei,
                category=Category.VEHICLE,  # the platform follows vehicles (ignition, mileage)
            ),
            position=_position(status),
            values=_values(status),
            extras=_extras(status),
            channels=DEVICE_CHANNELS,
        )


# --- value conversion (module level: pure functions of the decoded status) ---


def _imei(record: dict[str, Any]) -> str | None:
    imei = record.get("imei")
    if isinstance(imei, str) and imei:
        return imei
    return str(imei) if is_int(imei) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _flag(value: Any) -> bool | None:
    return bool(value) if value in (0, 1) and not isinstance(value, float) else None


def _signal(value: Any) -> int | None:
    """network_signal as a percentage of the modem's 0-31 scale; -999 (and 99) mean unknown."""
    number = as_number(value)
    if number is None or not 0 <= number <= CSQ_MAX:
        return None
    return round(number * 100 / CSQ_MAX)


def _kilometres(value: Any) -> float | None:
    return value / 1000 if is_number(value) else None


def _hours(value: Any) -> float | None:
    """engine_time in seconds (the sample's 13057434 is 3,627 h), as hours."""
    return value / SECONDS_PER_HOUR if is_number(value) else None


def _bits(value: Any) -> tuple[bool, ...] | None:
    """Parse "1:0|2:0|3:1" as (False, False, True), ordered by port number."""
    if not isinstance(value, str) or not value:
        return None
    ports: dict[int, bool] = {}
    for item in value.split("|"):
        port, _, state = item.partition(":")
        if not _PORT.fullmatch(port.strip()) or state.strip() not in ("0", "1"):
            return None
        ports[int(port)] = state.strip() == "1"
    return tuple(ports[port] for port in sorted(ports)) if len(ports) <= MAX_PORTS else None


_VALUES: Final[tuple[tuple[Field, str, Callable[[Any], Value]], ...]] = (
    (Field.ONLINE, "online", _flag),
    (Field.IGNITION, "acc", _flag),
    (Field.BATTERY, "battery_voltage_percent", as_number),
    (Field.BATTERY_VOLTAGE, "battery_voltage", as_number),
    (Field.EXTERNAL_VOLTAGE, "external_power_voltage", as_number),
    (Field.SPEED, "speed", as_number),
    (Field.SATELLITES, "satellite_count", as_number),
    (Field.GSM_SIGNAL, "network_signal", _signal),
    (Field.MILEAGE, "mileage", _kilometres),
    (Field.INPUTS, "input", _bits),
    (Field.OUTPUTS, "output", _bits),
    (Field.ENGINE_HOURS, "engine_time", _hours),
    (Field.FUEL, "fuel", as_number),
    (Field.ANTI_THEFT, "antithefted", _flag),
    (Field.RELAY, "relay", _flag),
    (Field.EXTERNAL_BATTERY_LOW, "is_external_battery_lower", _flag),
    (Field.ADDRESS, "address", as_text),  # the empty text the sample shows is no address
)
_EXTRAS: Final = (
    ("relay", "relay"),
    ("link_type", "link_type"),
    ("inputs", "input"),
    ("outputs", "output"),
)


def _values(status: dict[str, Any]) -> dict[Field, Value]:
    """Convert the reported fields; a key the status lacks stays out."""
    return {field: convert(status[key]) for field, key, convert in _VALUES if key in status}


def _extras(status: dict[str, Any]) -> dict[str, Any]:
    """Small vendor values worth showing: relay state, link type, raw I/O strings."""
    return {
        name: value
        for name, key in _EXTRAS
        if isinstance(value := status.get(key), str | int) and not isinstance(value, bool)
    }


def _position(status: dict[str, Any]) -> Position | None:
    """Return the fix, only when the tracker marks it valid."""
    if status.get("latlng_valid") != 1:
        return None
    return Position.checked(
        as_number(status.get("lat")),
        as_number(status.get("lng")),
        time=ms_time(status.get("location_date")),
        speed=as_number(status.get("speed")),
        heading=as_number(status.get("azimuth")),
        altitude=as_number(status.get("altitude")),
    )


CLIENT = TftIotClient
