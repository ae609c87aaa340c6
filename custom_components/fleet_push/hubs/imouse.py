"""iMouse XP kernel: iPhones driven through iMouse USB hardware, at ws://host:9911/api.

The kernel greets with `im_connect`, answers `{"fun", "msgid", "data"}` requests with the same
`msgid`, and broadcasts callbacks (msgid 0) to every client. There is no socket authentication.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
import functools
import itertools
import logging
from typing import Any, ClassVar, Final, override

import aiohttp
import orjson

from .connection import CONNECT_TIMEOUT, REQUEST_TIMEOUT, HubClient, Listener, Timing
from .errors import CannotConnect, CommandFailed, ProtocolError
from .frames import decode
from .model import (
    DeviceRemoved,
    DeviceUpdate,
    Field,
    FleetSnapshot,
    HubInfo,
    HubNotice,
    HubUpdate,
    Value,
)
from .values import ms_time

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT: Final = 9911
STATUS_OK: Final = 200
CHANNEL: Final = "kernel_log"
"""The hub's event channel: kernel logs, errors, restarts, licence logout."""
HUB_CHANNELS: Final = frozenset({CHANNEL})
USB_RESTART: Final = "/device/usb/restart"
CODE_NOT_BOUND: Final = 2
"""The kernel's code for "device not bound to hardware"."""

_GREETING: Final = "im_connect"
_DEVICE_FUNS: Final = frozenset({"dev_connect", "dev_disconnect", "dev_rotate", "dev_change"})
_NOTICE_EVENTS: Final = {
    "collection_mouse": "mouse_collection",
    "airplay_connect_log": "airplay",
    "restart_log": "restart",
    "im_log": "log",
    "error_push": "error",
    "logout": "logout",
}
_NOTICE_ATTRIBUTES: Final = ("code", "message", "call_fun")
_USB_CODES: Final = {12: True, 19: True, 13: False, 20: False}
_USER_COUNTS: Final = {
    Field.LICENCES_TOTAL: "total_license",
    Field.LICENCES_LOCAL: "local_total_license",
    Field.DEVICES: "dev_num",
    Field.DEVICES_ONLINE: "dev_online_num",
}
_USER_EXTRAS: Final = ("user_state", "utag", "pass")
_CONFIG_EXTRAS: Final = ("air_play_name", "lang", "air_play_fps", "auto_connect", "mouse_mode")

type _Handler = Callable[[dict[str, Any]], None]


class IMouseClient(HubClient):
    """One iMouse XP kernel and the iPhones it drives."""

    kind = "imouse"
    buttons: ClassVar[Mapping[str, tuple[str, Mapping[str, Any]]]] = {
        "restart": ("/device/restart", {}),
    }

    def __init__(
        self,
        session: aiohttp.ClientSession,
        listener: Listener,
        *,
        host: str,
        port: int = DEFAULT_PORT,
        timing: Timing | None = None,
    ) -> None:
        """Remember where the kernel is; nothing is opened until connect()."""
        super().__init__(session, listener, timing=timing)
        self.host = host
        self.port = port
        self.connect_timeout = CONNECT_TIMEOUT
        self.version: str | None = None
        self._msgids = itertools.count(1)
        self._hardware: dict[str, tuple[str, str]] = {}
        """deviceid -> (vid, pid) of the iMouse hardware bound to that phone."""

    @classmethod
    def settings(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """From "host" and "port" (default 9911)."""
        return {"host": str(config["host"]), "port": int(config.get("port") or DEFAULT_PORT)}

    @classmethod
    def default_timing(cls) -> Timing:
        """Ping every 30 s; user_info arrives every 30 s, so 75 s of silence is a dead kernel."""
        return Timing(ws_heartbeat=30.0, silence_timeout=75.0)

    @property
    def url(self) -> str:
        """The kernel's WebSocket URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}/api"

    async def connect(self) -> HubInfo:
        """Open the socket, wait for the greeting, load the phones and the licence."""
        try:
            return await self._connect()
        except BaseException:
            await self.close()
            raise

    @override
    async def _command(
        self,
        device_id: str,
        command: str,
        parameters: Mapping[str, Any],
        timeout: float,
    ) -> Any:
        """Call a kernel function (e.g. "/device/restart") for one phone; return its data."""
        if not command.startswith("/"):
            raise CommandFailed(f"unknown command {command!r}", code="bad_command")
        target = self._usb_id(device_id) if command == USB_RESTART else device_id
        return await self._call(command, {"id": target, **parameters}, timeout)

    def handle_text(self, text: str) -> None:
        """Route a reply to its request, or parse a callback."""
        try:
            frame = decode(text)
        except ValueError:
            self.drop("not_json", text)
            return
        if not isinstance(frame, dict):
            self.drop("not_object", text)
            return
        msgid = frame.get("msgid") or 0
        if msgid != 0:
            self._on_reply(msgid, frame)
            return
        fun, data = frame.get("fun"), frame.get("data")
        if not isinstance(fun, str) or not isinstance(data, dict):
            self.drop("bad_envelope", fun)
            return
        if frame.get("status", STATUS_OK) != STATUS_OK:
            self.drop("bad_status", fun)
            return
        handler = self._handler(fun)
        if handler is None:
            self.drop("unknown_fun", fun)
            return
        handler(data)

    # --- connecting ---

    async def _connect(self) -> HubInfo:
        await self.open_websocket(self.url, ssl=False)
        # No await since the reader started, so the greeting cannot have been read yet.
        greeting = asyncio.get_running_loop().create_future()
        self._pending[_GREETING] = greeting
        try:
            async with asyncio.timeout(self.connect_timeout):
                self.version = await self._await_reply(greeting)
        except TimeoutError as err:
            raise CannotConnect("the iMouse kernel sent no im_connect") from err
        finally:
            self._pending.pop(_GREETING, None)
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
        except CommandFailed as err:
            if err.code == "timeout":
                raise CannotConnect(f"the iMouse kernel did not answer {fun}") from err
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
        return FleetSnapshot(tuple(self._phones(records)))

    # --- requests ---

    async def _call(self, fun: str, data: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and return its reply's data; CommandFailed if refused."""
        msgid = next(self._msgids)
        try:
            text = orjson.dumps({"fun": fun, "msgid": msgid, "data": data}).decode()
        except TypeError as err:
            raise CommandFailed("the parameters are not JSON", code="bad_parameters") from err
        return _result(await self.request(msgid, text, timeout))

    def _on_reply(self, msgid: Any, frame: dict[str, Any]) -> None:
        if not isinstance(msgid, int) or isinstance(msgid, bool):
            self.drop("bad_msgid", msgid)
        elif not self.resolve(msgid, frame):
            self.drop("unexpected_reply", msgid)

    def _usb_id(self, device_id: str) -> str:
        """The "<vid>_<pid>" of the hardware bound to a phone."""
        hardware = self._hardware.get(device_id)
        if hardware is None:
            raise CommandFailed("the phone is not bound to iMouse hardware", code=CODE_NOT_BOUND)
        return "_".join(hardware)

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
        ver = data.get("ver")
        version = ver if isinstance(ver, str) else None
        if self.resolve(_GREETING, version):
            return
        if version is None:
            self.drop("bad_greeting", ver)
            return
        self.version = version
        self.emit(HubUpdate(version=version, channels=HUB_CHANNELS))

    def _on_devices(self, data: dict[str, Any]) -> None:
        records = data.get("list")
        if not isinstance(records, list):
            self.drop("bad_list", records)
            return
        for update in self._phones(records):
            self.emit(update)

    def _phones(self, records: list[Any]) -> Iterator[DeviceUpdate]:
        """Parse device records, remembering bound hardware; bad ones are dropped."""
        for record in records:
            device_id = record.get("deviceid") if isinstance(record, dict) else None
            if not isinstance(device_id, str) or not device_id:
                self.drop("bad_device", record)
                continue
            self._remember_hardware(device_id, record)
            yield _phone(device_id, record)

    def _remember_hardware(self, device_id: str, record: dict[str, Any]) -> None:
        vid, pid = record.get("vid"), record.get("pid")
        if not isinstance(vid, str) or not isinstance(pid, str):
            return
        if vid:
            self._hardware[device_id] = (vid, pid)
        else:
            self._hardware.pop(device_id, None)

    def _on_delete(self, data: dict[str, Any]) -> None:
        ids = data.get("list")
        if not isinstance(ids, list):
            self.drop("bad_list", ids)
            return
        for device_id in ids:
            if not isinstance(device_id, str) or not device_id:
                self.drop("bad_device_id", device_id)
                continue
            self._hardware.pop(device_id, None)
            self.emit(DeviceRemoved(device_id))

    def _on_group_change(self, _data: dict[str, Any]) -> None:
        """Group names live on the phone records: load them again."""
        self.schedule_refresh()

    async def refresh(self) -> None:
        """Load every phone again."""
        self.emit(self._snapshot(await self._call("/device/get", {"id": ""}, REQUEST_TIMEOUT)))

    def _on_usb_change(self, data: dict[str, Any]) -> None:
        code, entries = data.get("code"), data.get("list")
        if not isinstance(code, int) or code not in _USB_CODES:
            self.drop("usb_code", code)
            return
        if not isinstance(entries, list):
            self.drop("bad_list", entries)
            return
        for entry in entries:
            key = _hardware_key(entry)
            if key is None:
                self.drop("bad_hardware", entry)
                continue
            for device_id, (vid, pid) in list(self._hardware.items()):
                if (vid.upper(), pid.upper()) == key:
                    self.emit(DeviceUpdate(device_id, values={Field.USB: _USB_CODES[code]}))

    def _on_notice(self, event_type: str, data: dict[str, Any]) -> None:
        attributes: dict[str, Any] = {k: data[k] for k in _NOTICE_ATTRIBUTES if k in data}
        if (device_id := _text(data, "id")) is not None:
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
        raise CommandFailed("the iMouse kernel sent no result", code="bad_reply")
    code = data.get("code", 0)
    if code != 0:
        raise CommandFailed(_message(data), code=_code(code))
    return data


def _message(data: Mapping[str, Any]) -> str:
    return _text(data, "message") or "the iMouse kernel refused the request"


def _code(value: Any) -> int | str | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return value


def _text(record: Mapping[str, Any], key: str) -> str | None:
    """A non-empty string field, else None."""
    value = record.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _scalars(data: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The listed keys whose values are plain JSON scalars."""
    return {key: data[key] for key in keys if isinstance(data.get(key), str | int | float | bool)}


def _phone(device_id: str, record: dict[str, Any]) -> DeviceUpdate:
    """One iPhone record as /device/get and the dev_* callbacks give it."""
    values: dict[Field, Value] = {}
    if "state" in record:
        state = record["state"]
        values[Field.ONLINE] = state == 1 if isinstance(state, int) else None
    if "vid" in record:
        vid = record["vid"]
        values[Field.USB] = bool(vid) if isinstance(vid, str) else None
    return DeviceUpdate(
        device_id=device_id,
        name=_text(record, "name") or _text(record, "user_name") or _text(record, "device_name"),
        manufacturer="Apple",
        model=_text(record, "device_name"),
        model_id=_text(record, "model"),
        firmware=_text(record, "version"),
        mac=_text(record, "mac"),
        values=values,
        extras=_phone_extras(record),
        channels=frozenset(),
    )


def _phone_extras(record: dict[str, Any]) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    for key, vendor_key in (("ip", "ip"), ("group", "gname"), ("hardware_version", "uver")):
        if (value := _text(record, vendor_key)) is not None:
            extras[key] = value
    width, height = record.get("width"), record.get("height")
    if isinstance(width, str | int) and isinstance(height, str | int) and width and height:
        extras["screen"] = f"{width}x{height}"
    return extras


def _hardware_key(entry: Any) -> tuple[str, str] | None:
    """The (VID, PID) naming one piece of iMouse hardware, case-insensitively."""
    if not isinstance(entry, dict):
        return None
    vid, pid = entry.get("vid"), entry.get("pid")
    if not isinstance(vid, str) or not isinstance(pid, str) or not vid:
        return None
    return vid.upper(), pid.upper()


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
