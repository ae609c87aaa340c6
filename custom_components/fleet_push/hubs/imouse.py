"""iMouse XP kernel: iPhones driven through iMouse USB hardware, at host:9911/api.

Requests are `{"fun", "data"}` JSON posted to http://host:port/api, as the vendor's libraries
make their calls: the HTTP exchange pairs each reply with its request. The WebSocket on the same
path carries the kernel's callbacks (msgid 0) and the liveness probe, whose reply is matched by
its msgid where the kernel echoes one (at the top level or inside data), else by its fun, oldest
request first. The kernel may greet with `im_connect`; nothing waits for it. There is no
authentication.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
import functools
from http import HTTPStatus
import itertools
import logging
from typing import Any, Final, override

import aiohttp
import orjson

from .connection import (
    CONNECT_TIMEOUT,
    REQUEST_TIMEOUT,
    Drop,
    HubClient,
    Listener,
    Timing,
    cancel_and_wait,
    within,
)
from .declaration import (
    GROUPS_OPTION,
    Channel,
    HubDeclaration,
    Identity,
    Press,
    Setting,
    SettingType,
)
from .errors import CannotConnect, CommandCode, CommandFailed, HubTimeout, ProtocolError
from .frames import decode
from .imouse_screens import is_envelope, screen_values, screenshot_in
from .model import (
    Command,
    DeviceDetails,
    DeviceRemoved,
    DeviceUpdate,
    Field,
    FleetSnapshot,
    HubInfo,
    HubNotice,
    HubUpdate,
    Value,
)
from .screenshots import MAX_SCREENSHOT_BYTES, Screenshot, ScreenshotTooLarge, screenshot_of
from .urls import authority
from .values import is_int, ms_time

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT: Final = 9911
STATUS_OK: Final = 200
WS_HEARTBEAT: Final = 30.0
CHANNEL: Final = "kernel_log"
"""The hub's event channel: kernel logs and errors, licence logout."""
HUB_CHANNELS: Final = frozenset({CHANNEL})
PHONE_CHANNEL: Final = "phone_log"
"""A phone's event channel: the kernel's logs about that phone (a restart, screen casting)."""
PHONE_CHANNELS: Final = frozenset({PHONE_CHANNEL})
USB_RESTART: Final = "/device/usb/restart"
SCREENSHOT: Final = "/pic/screenshot"
CODE_NOT_BOUND: Final = 2
"""The kernel's code for "device not bound to hardware"."""
PROBE: Final = "/config/imserver/get"
"""A cheap request every kernel answers: its configuration."""

_JSON_HEADERS: Final = {"Content-Type": "application/json"}
_DEVICE_FUNS: Final = frozenset({"dev_connect", "dev_disconnect", "dev_rotate", "dev_change"})
_NOTICE_EVENTS: Final = {
    "im_log": "log",
    "error_push": "error",
    "restart_log": "restart",
    "airplay_connect_log": "airplay",
    "collection_mouse": "mouse_collection",
    "logout": "logout",
}
_PHONE_EVENTS: Final = tuple(kind for kind in _NOTICE_EVENTS.values() if kind != "logout")
"""What the kernel may log about one phone (a licence logout is the kernel's own)."""
_NOTICE_ATTRIBUTES: Final = ("code", "message", "call_fun")
_USB_CODES: Final[Mapping[int, tuple[Field, bool]]] = {
    12: (Field.USB, True),  # hardware and phone connected
    13: (Field.USB, False),  # hardware not connected to the phone
    19: (Field.USB_COMPUTER, True),  # hardware and computer connected
    20: (Field.USB_COMPUTER, False),  # hardware and computer disconnected
}
_USER_COUNTS: Final = {
    Field.LICENCES_TOTAL: "total_license",
    Field.LICENCES_LOCAL: "local_total_license",
    Field.DEVICES: "dev_num",
    Field.DEVICES_ONLINE: "dev_online_num",
}
_USER_EXTRAS: Final = ("user_state", "utag", "pass")
_CONFIG_EXTRAS: Final = ("air_play_name", "lang", "air_play_fps", "auto_connect", "mouse_mode")

type _Handler = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class _Hardware:
    """One piece of iMouse hardware, as phone records and usb_change entries name it."""

    vid: str
    pid: str
    uid: str

    def matches(self, other: _Hardware) -> bool:
        """The same hardware: by unique id where both have one, else by (VID, PID)."""
        if self.uid and other.uid:
            return self.uid.upper() == other.uid.upper()
        return (self.vid.upper(), self.pid.upper()) == (other.vid.upper(), other.pid.upper())


class IMouseClient(HubClient):
    """One iMouse XP kernel and the iPhones it drives."""

    declaration = HubDeclaration(
        kind="imouse",
        name="iMouse XP",
        settings=(
            Setting("host", SettingType.HOST, required=True, identity=True),
            Setting("port", SettingType.PORT, default=DEFAULT_PORT, required=True),
        ),
        identity=Identity.ADDRESS,
        options=(Setting(GROUPS_OPTION, SettingType.NAMES, default=()),),
        channels=(
            Channel(CHANNEL, tuple(_NOTICE_EVENTS.values())),
            Channel(PHONE_CHANNEL, tuple(_PHONE_EVENTS)),
        ),
        presses=(Press("restart", "/device/restart"), Press("usb_restart", USB_RESTART)),
        fields=frozenset(
            {
                Field.ONLINE,
                Field.USB,
                Field.USB_COMPUTER,
                Field.LICENCES_TOTAL,
                Field.LICENCES_LOCAL,
                Field.DEVICES,
                Field.DEVICES_ONLINE,
                Field.LICENCE_EXPIRES,
                Field.SCREEN_CASTING,
                Field.ORIENTATION,
            }
        ),
        screenshots=True,
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        listener: Listener,
        *,
        host: str,
        port: int = DEFAULT_PORT,
        import_groups: Collection[str] = (),
        timing: Timing | None = None,
    ) -> None:
        """Remember where the kernel is; nothing is opened until connect()."""
        super().__init__(session, listener, timing=timing)
        self.host = host
        self.port = port
        self.connect_timeout = CONNECT_TIMEOUT
        self.version: str | None = None
        self._msgids = itertools.count(1)
        self._waiting: dict[str, deque[int]] = {}
        """fun -> msgids of the WebSocket requests waiting for a reply, oldest first."""
        self._hardware: dict[str, _Hardware] = {}
        """deviceid -> the iMouse hardware bound to that phone."""
        self._unplugged: set[str] = set()
        """Phones whose bound hardware the kernel last reported not connected to them."""
        self._phone_ids: set[str] = set()
        """Every phone the kernel listed: a log naming one of them goes to that phone."""
        self.import_groups = frozenset(import_groups)
        """The groups whose phones are brought in (none: every phone)."""
        self._group_names: set[str] = set()
        """Every group name the kernel's records gave (offered for import_groups)."""

    @classmethod
    def settings(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """From "host" and "port" (default 9911), and the groups to bring in."""
        return {
            "host": str(config["host"]),
            "port": int(config.get("port") or DEFAULT_PORT),
            "import_groups": config.get(GROUPS_OPTION) or (),
        }

    @override
    def offered(self, option: str) -> frozenset[str]:
        """The kernel's group names, to choose the phones to bring in."""
        return frozenset(self._group_names) if option == GROUPS_OPTION else frozenset()

    @override
    def apply_options(self, options: Mapping[str, Any]) -> None:
        """Other groups chosen: load the phones again (pushed changes are filtered as they come)."""
        chosen = frozenset(options.get(GROUPS_OPTION) or ())
        if chosen != self.import_groups:
            self.import_groups = chosen
            if self.connected:
                self.schedule_fleet_reload()

    @classmethod
    def default_timing(cls) -> Timing:
        """Ask a kernel quiet for 30 s (a ping and the probe); it need not talk on its own."""
        return Timing(ws_heartbeat=WS_HEARTBEAT)

    @property
    def url(self) -> str:
        """The kernel's WebSocket URL."""
        return f"ws://{authority(self.host, self.port)}/api"

    @property
    def api_url(self) -> str:
        """The kernel's HTTP API, on the same port and path."""
        return f"http://{authority(self.host, self.port)}/api"

    async def probe(self) -> None:
        """Ask for the kernel's configuration over the WebSocket; it must answer there."""
        self._on_config_change(await self._ask(PROBE, {}, REQUEST_TIMEOUT))

    @override
    async def _command(self, command: Command) -> Any:
        """Call a kernel function (e.g. "/device/restart") for one phone; return its data."""
        fun, device_id = command.name, command.device_id
        if not fun.startswith("/"):
            raise CommandFailed(f"unknown command {fun!r}", code=CommandCode.BAD_COMMAND)
        target = self._usb_id(device_id) if fun == USB_RESTART else device_id
        data = {"id": target, **command.parameters}
        if fun == SCREENSHOT:
            return await self._screenshot_command(data, command.timeout)
        return await self._call(fun, data, command.timeout)

    async def _screenshot_command(self, data: dict[str, Any], timeout: float) -> Any:
        """/pic/screenshot as asked: a binary body is answered by its type and size."""
        content_type, raw = await self._exchange(
            _request(SCREENSHOT, data), timeout, self.max_msg_size
        )
        if is_envelope(content_type, raw):
            return _result(_envelope(raw))
        return {"content_type": content_type, "size": len(raw)}

    def handle_text(self, text: str) -> None:
        """Deliver a reply to the request waiting for it, or parse a callback."""
        frame = self.decode_object(text)
        if frame is None or self._deliver(frame):
            return
        fun, data = frame.get("fun"), frame.get("data")
        if not isinstance(fun, str) or not isinstance(data, dict):
            self.drop(Drop.MALFORMED, fun)
            return
        handler = self._handler(fun)
        if handler is None:
            self.drop(Drop.UNMATCHED_REPLY if fun.startswith("/") else Drop.UNKNOWN_KIND, fun)
            return
        if frame.get("status", STATUS_OK) != STATUS_OK:
            self.drop(Drop.HUB_ERROR, fun)
            return
        handler(data)

    # --- connecting ---

    async def _establish(self) -> HubInfo:
        """Open the socket for callbacks, then load the phones and the licence."""
        await self.open_websocket(self.url, ssl=False)
        self._unplugged.clear()
        devices = await self._handshake_call("/device/get", {"id": ""})
        self.emit(self._snapshot(devices))
        self.emit(await self._load_user_info())
        return HubInfo(
            unique_id=f"{self.host}:{self.port}",
            title=f"iMouse XP {self.host}",
            manufacturer="iMouse",
            model="iMouse XP",
            version=self.version,
        )

    async def _handshake_call(self, fun: str, data: dict[str, Any]) -> dict[str, Any]:
        """Call during connect: a timeout is CannotConnect, a refusal ProtocolError."""
        try:
            return await self._call(fun, data, self.connect_timeout)
        except HubTimeout as err:
            raise CannotConnect(f"the iMouse kernel did not answer {fun}") from err
        except CommandFailed as err:
            raise ProtocolError(f"the iMouse kernel refused {fun} ({err.code})") from err

    async def _load_user_info(self) -> HubUpdate:
        """The licence figures; a kernel with no licence account still connects."""
        try:
            data = await self._handshake_call("/config/user/info", {})
        except ProtocolError as err:
            _LOGGER.debug("iMouse kernel %s: no licence information: %s", self.host, err)
            return HubUpdate(version=self.version, channels=HUB_CHANNELS)
        return _user_update(data, self.version)

    def _snapshot(self, data: Mapping[str, Any]) -> FleetSnapshot:
        """The full phone list of a /device/get reply."""
        records = data.get("list")
        if not isinstance(records, list):
            raise ProtocolError("the iMouse kernel sent no device list")
        self._hardware.clear()
        self._phone_ids.clear()
        return FleetSnapshot(tuple(self._phones(records)))

    # --- requests ---

    async def _call(self, fun: str, data: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Post one request to the HTTP API and return its reply's data."""
        _content_type, raw = await self._exchange(_request(fun, data), timeout, self.max_msg_size)
        return _result(_envelope(raw))

    async def _exchange(self, body: bytes, timeout: float, limit: int) -> tuple[str, bytes]:
        """Post a request; the reply's content type and body (at most `limit` bytes).

        Like a reply over the WebSocket, it is given up (CannotConnect) if the WebSocket ends.
        """
        if not self.connected:
            raise CannotConnect("not connected")
        posting = asyncio.ensure_future(self._post(body, timeout, limit))
        try:
            reply: tuple[str, bytes] = await self._await_reply(posting)
            return reply
        finally:
            await cancel_and_wait(posting)

    async def _post(self, body: bytes, timeout: float, limit: int) -> tuple[str, bytes]:
        """The content type and body the kernel answers an HTTP POST of body with."""
        try:
            async with (
                within(timeout, "the iMouse kernel"),
                self._session.post(self.api_url, data=body, headers=_JSON_HEADERS) as response,
            ):
                status = response.status
                content_type = response.headers.get("Content-Type", "")
                raw = await _read_body(response, limit)
        except (aiohttp.ClientError, OSError) as err:
            raise CannotConnect(f"cannot reach the iMouse API: {type(err).__name__}") from err
        if status != HTTPStatus.OK:
            raise CommandFailed(f"the iMouse kernel answered HTTP {status}", code=status)
        return content_type, raw

    async def _screenshot(self, device_id: str, timeout: float) -> Screenshot:
        """/pic/screenshot as a JPEG in the HTTP body, as the vendor's libraries ask for it."""
        body = _request(SCREENSHOT, {"id": device_id, "jpg": True, "binary": True})
        try:
            content_type, raw = await self._exchange(body, timeout, MAX_SCREENSHOT_BYTES)
        except CommandFailed as err:
            if err.code == CommandCode.TOO_LARGE:
                raise ScreenshotTooLarge from err
            raise
        if not is_envelope(content_type, raw):
            return screenshot_of(raw)
        return screenshot_in(_result(_envelope(raw)))

    async def _ask(self, fun: str, data: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request over the WebSocket and return its reply's data."""
        msgid = next(self._msgids)
        text = _request(fun, data, msgid).decode()
        waiting = self._waiting.setdefault(fun, deque())
        waiting.append(msgid)
        try:
            frame = await self.request(msgid, text, timeout)
        finally:
            waiting.remove(msgid)
            if not waiting and self._waiting.get(fun) is waiting:
                del self._waiting[fun]
        return _result(frame)

    def _deliver(self, frame: dict[str, Any]) -> bool:
        """Resolve the WebSocket request a reply answers: by its msgid, else the oldest of its fun.

        A reply whose msgid is not one of ours (another client's) resolves nothing.
        """
        fun = frame.get("fun")
        waiting = self._waiting.get(fun, ()) if isinstance(fun, str) else ()
        msgid = _msgid(frame)
        if msgid is not None:
            return msgid in waiting and self.resolve(msgid, frame)
        return any(self.resolve(key, frame) for key in waiting)

    def _usb_id(self, device_id: str) -> str:
        """The "<vid>_<pid>" of the hardware bound to a phone."""
        hardware = self._hardware.get(device_id)
        if hardware is None:
            raise CommandFailed("the phone is not bound to iMouse hardware", code=CODE_NOT_BOUND)
        return f"{hardware.vid}_{hardware.pid}"

    # --- callbacks ---

    def _handler(self, fun: str) -> _Handler | None:
        if fun in _DEVICE_FUNS:
            return self._on_devices
        if (event_type := _NOTICE_EVENTS.get(fun)) is not None:
            return functools.partial(self._on_notice, event_type)
        handlers: dict[str, _Handler] = {
            "im_connect": self._on_greeting,
            "dev_delete": self._on_delete,
            "group_change": self._on_group_change,
            "group_delete": self._on_group_change,
            "usb_change": self._on_usb_change,
            "user_info": self._on_user_info,
            "im_config_change": self._on_config_change,
            "dev_sort_change": _ignore,
        }
        return handlers.get(fun)

    def _on_greeting(self, data: dict[str, Any]) -> None:
        version = _text(data, "ver")
        if version is None:
            self.drop(Drop.MALFORMED, data.get("ver"))
            return
        self.version = version
        self.emit(HubUpdate(version=version, channels=HUB_CHANNELS))

    def _on_devices(self, data: dict[str, Any]) -> None:
        records = data.get("list")
        if not isinstance(records, list):
            self.drop(Drop.MALFORMED, records)
            return
        for update in self._phones(records):
            self.emit(update)

    def _phones(self, records: list[Any]) -> Iterator[DeviceUpdate]:
        """Parse device records, remembering bound hardware; bad ones are dropped."""
        for record in records:
            device_id = record.get("deviceid") if isinstance(record, dict) else None
            if not isinstance(device_id, str) or not device_id:
                self.drop(Drop.MALFORMED, record)
                continue
            if not self._brought_in(device_id, record):
                continue
            self._phone_ids.add(device_id)
            self._remember_hardware(device_id, record)
            yield _phone(device_id, record, unplugged=device_id in self._unplugged)

    def _brought_in(self, device_id: str, record: dict[str, Any]) -> bool:
        """Whether a phone is in a chosen group; one that left them is removed.

        A record without a group keeps the phone as it was.
        """
        if (group := _text(record, "gname")) is not None:
            self._group_names.add(group)
        if not self.import_groups:
            return True
        if group is None:
            return device_id in self._phone_ids
        if group in self.import_groups:
            return True
        if device_id in self._phone_ids:
            self._forget(device_id)
            self._phone_ids.discard(device_id)
            self.emit(DeviceRemoved(device_id))
        return False

    def _remember_hardware(self, device_id: str, record: dict[str, Any]) -> None:
        if record.get("vid") == "":
            self._forget(device_id)
        elif (hardware := _hardware(record)) is not None:
            self._hardware[device_id] = hardware

    def _forget(self, device_id: str) -> None:
        self._hardware.pop(device_id, None)
        self._unplugged.discard(device_id)

    def _on_delete(self, data: dict[str, Any]) -> None:
        ids = data.get("list")
        if not isinstance(ids, list):
            self.drop(Drop.MALFORMED, ids)
            return
        for device_id in ids:
            if not isinstance(device_id, str) or not device_id:
                self.drop(Drop.MALFORMED, device_id)
                continue
            self._forget(device_id)
            self._phone_ids.discard(device_id)
            self.emit(DeviceRemoved(device_id))

    def _on_group_change(self, _data: dict[str, Any]) -> None:
        """Group names live on the phone records: load them again."""
        self.schedule_fleet_reload()

    async def reload_fleet(self) -> None:
        """Load every phone again."""
        self.emit(self._snapshot(await self._call("/device/get", {"id": ""}, REQUEST_TIMEOUT)))

    def _on_usb_change(self, data: dict[str, Any]) -> None:
        """Hardware linked to or cut from its phone (12/13) or the computer (19/20)."""
        code, entries = data.get("code"), data.get("list")
        change = _USB_CODES.get(code) if is_int(code) else None
        if change is None:
            self.drop(Drop.UNKNOWN_KIND, code)
            return
        if not isinstance(entries, list):
            self.drop(Drop.MALFORMED, entries)
            return
        field, connected = change
        for entry in entries:
            hardware = _hardware(entry)
            if hardware is None:
                self.drop(Drop.MALFORMED, entry)
                continue
            for device_id, bound in list(self._hardware.items()):
                if bound.matches(hardware):
                    self._note_link(device_id, field, connected=connected)
                    self.emit(DeviceUpdate(device_id, values={field: connected}))

    def _note_link(self, device_id: str, field: Field, *, connected: bool) -> None:
        """Remember a phone's hardware link, which its records (vid only) do not show."""
        if field is not Field.USB:
            return
        if connected:
            self._unplugged.discard(device_id)
        else:
            self._unplugged.add(device_id)

    def _on_notice(self, event_type: str, data: dict[str, Any]) -> None:
        """A log line: on the phone it names, else on the kernel (with the id it gave)."""
        attributes: dict[str, Any] = {k: data[k] for k in _NOTICE_ATTRIBUTES if k in data}
        device_id = _text(data, "id")
        if device_id in self._phone_ids:
            self.emit(HubNotice(PHONE_CHANNEL, event_type, device_id, attributes))
            return
        if device_id is not None:
            attributes["device_id"] = device_id
        self.emit(HubNotice(CHANNEL, event_type, attributes=attributes))

    def _on_user_info(self, data: dict[str, Any]) -> None:
        self.emit(_user_update(data))

    def _on_config_change(self, data: dict[str, Any]) -> None:
        self.emit(HubUpdate(extras=_scalars(data, _CONFIG_EXTRAS), channels=HUB_CHANNELS))


# --- parsing helpers ---


def _ignore(_data: dict[str, Any]) -> None:
    """A callback that changes nothing FleetPush shows."""


def _result(frame: dict[str, Any]) -> dict[str, Any]:
    """A reply's data, or CommandFailed with the kernel's code and message."""
    data = frame.get("data")
    status = frame.get("status", STATUS_OK)
    if status != STATUS_OK:
        raise CommandFailed(_message(frame), code=_code(status))
    if not isinstance(data, dict):
        raise CommandFailed("the iMouse kernel sent no result", code=CommandCode.BAD_REPLY)
    code = data.get("code", 0)
    if code != 0:
        raise CommandFailed(_message(data), code=_code(code))
    return data


def _envelope(raw: bytes) -> dict[str, Any]:
    """The JSON reply object of an HTTP body; a bad reply otherwise."""
    try:
        frame = decode(raw)
    except ValueError:
        frame = None
    if not isinstance(frame, dict):
        raise CommandFailed("the iMouse kernel sent no reply object", code=CommandCode.BAD_REPLY)
    return frame


def _message(data: Mapping[str, Any]) -> str:
    return _text(data, "message") or "the iMouse kernel refused the request"


def _code(value: Any) -> int | str | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return value


def _text(record: Mapping[str, Any], key: str) -> str | None:
    """A non-empty string field, else None."""
    value = record.get(key)
    # isspace() instead of strip(): no new string, nine times per phone record.
    return value if isinstance(value, str) and value and not value.isspace() else None


def _scalars(data: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The listed keys whose values are plain JSON scalars."""
    return {key: data[key] for key in keys if isinstance(data.get(key), str | int | float | bool)}


def _phone(device_id: str, record: dict[str, Any], *, unplugged: bool) -> DeviceUpdate:
    """One iPhone record as /device/get and the dev_* callbacks give it.

    USB is on for bound hardware (a non-empty vid) unless the kernel said it is not connected.
    """
    values: dict[Field, Value] = {}
    if "state" in record:
        state = record["state"]
        values[Field.ONLINE] = state == 1 if is_int(state) else None
    if "vid" in record:
        vid = record["vid"]
        values[Field.USB] = bool(vid) and not unplugged if isinstance(vid, str) else None
    values.update(screen_values(record))
    model = _text(record, "device_name")
    return DeviceUpdate(
        device_id,
        DeviceDetails(
            name=_text(record, "name") or _text(record, "user_name") or model,
            manufacturer="Apple",
            model=model,
            model_id=_text(record, "model"),
            firmware=_text(record, "version"),
            mac=_text(record, "mac"),
            group=_group(record),
        ),
        values=values,
        extras=_phone_extras(record),
        channels=PHONE_CHANNELS,
    )


def _group(record: dict[str, Any]) -> str | None:
    """The phone's group, if it is in one (group 0, "未分组", is the kernel's "ungrouped")."""
    return None if record.get("gid") in (0, "0") else _text(record, "gname")


def _phone_extras(record: dict[str, Any]) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    for key, vendor_key in (("ip", "ip"), ("group", "gname"), ("hardware_version", "uver")):
        if (value := _text(record, vendor_key)) is not None:
            extras[key] = value
    width, height = record.get("width"), record.get("height")
    if isinstance(width, str | int) and isinstance(height, str | int) and width and height:
        extras["screen"] = f"{width}x{height}"
    return extras


def _hardware(entry: Any) -> _Hardware | None:
    """The hardware a usb_change entry or a phone record names (a non-empty vid), else None."""
    if not isinstance(entry, dict):
        return None
    vid, pid, uid = entry.get("vid"), entry.get("pid"), entry.get("uid")
    if not isinstance(vid, str) or not isinstance(pid, str) or not vid:
        return None
    return _Hardware(vid, pid, uid if isinstance(uid, str) else "")


def _request(fun: str, data: dict[str, Any], msgid: int | None = None) -> bytes:
    """A request as JSON: over HTTP as the vendor's libraries send it, with a msgid over WS."""
    request: dict[str, Any] = {"fun": fun} if msgid is None else {"fun": fun, "msgid": msgid}
    try:
        return orjson.dumps({**request, "data": data})
    except TypeError as err:
        raise CommandFailed("the parameters are not JSON", code=CommandCode.BAD_PARAMETERS) from err


def _msgid(frame: Mapping[str, Any]) -> int | None:
    """The msgid a reply echoes, at its top level or inside its data; None for 0 or none."""
    data = frame.get("data")
    for source in (frame, data if isinstance(data, dict) else {}):
        msgid = source.get("msgid")
        if is_int(msgid) and msgid != 0:
            return msgid
    return None


async def _read_body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """An HTTP reply's body, refused beyond the size a WebSocket frame may have."""
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > limit:
            raise CommandFailed(
                "the iMouse kernel's reply is too large", code=CommandCode.TOO_LARGE
            )
    return bytes(body)


def _user_update(data: Mapping[str, Any], version: str | None = None) -> HubUpdate:
    """The licence figures of user_info or /config/user/info (never the phone number)."""
    values: dict[Field, Value] = {
        field: _count(data[key]) for field, key in _USER_COUNTS.items() if key in data
    }
    if "overdue_time" in data:
        values[Field.LICENCE_EXPIRES] = ms_time(data["overdue_time"])
    return HubUpdate(
        version=version,
        values=values,
        extras=_scalars(data, _USER_EXTRAS),
        channels=HUB_CHANNELS,
    )


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


CLIENT = IMouseClient
