"""iClick iPhone farm controller: a local WebSocket with evtid-matched requests and events.

Protocol: protocols.md section 1 and the iClick decisions of section 8. Frames are read as the
vendor's SDKs read them: a frame whose evtid a request waits for is its reply (an error when its
type is "error", whatever else it says), and any other frame naming an `event` is that event.
There is no authentication and no documented keep-alive: WebSocket pings, and a probe request
for a server that does not answer them.
"""

from __future__ import annotations

from collections.abc import Mapping
import math
import secrets
import string
from typing import Any, Final, override

import aiohttp
import orjson

from .connection import REQUEST_TIMEOUT, Drop, HubClient, Listener, Timing
from .declaration import Channel, HubDeclaration, Identity, Press, Setting, SettingType
from .errors import CannotConnect, CommandCode, CommandFailed, HubTimeout, ProtocolError
from .iclick_facts import FACT_FIELDS, BinaryReply, facts
from .iphones import iphone_name
from .model import (
    HUB_DEVICE_ID,
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
from .screenshots import Screenshot, screenshot_of
from .urls import authority
from .values import is_int

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 23188
WS_HEARTBEAT: Final = 30.0
REPLY_GRACE: Final = 2.0
"""Wait this much longer than the hub's own timeout, so its timeout error can still arrive."""
HEADER_SIZE: Final = 6
"""Binary replies start with the metadata length as ASCII decimal in this many bytes."""

CHANNEL: Final = "device"
CHANNELS: Final = frozenset({CHANNEL})
MANUFACTURER: Final = "Apple"

_EVTID_ALPHABET: Final = string.ascii_lowercase + string.digits
_EVTID_LENGTH: Final = 10
_RESERVED: Final = frozenset({"type", "evtid", "timeout", "deviceId"})
_MAX_MESSAGE: Final = 200

_DELETE: Final = "device:delete"
_REJECT: Final = "device:reject"
_EVENTS: Final[Mapping[str, tuple[Field, bool] | None]] = {
    "device:online": (Field.ONLINE, True),
    "device:offline": (Field.ONLINE, False),
    _REJECT: None,
    _DELETE: None,
    "device:busy": (Field.BUSY, True),
    "device:idle": (Field.BUSY, False),
    "device:rename": None,
    "device:bindchip": (Field.USB, True),
    "usb:plug": (Field.USB, True),
    "usb:unplug": (Field.USB, False),
}
"""Every event iClick pushes, and the value its name implies (over the record's own)."""
_NOTICES: Final[Mapping[str, str]] = {_REJECT: "reject", "device:bindchip": "bindchip"}
_RECORD_VALUES: Final = (("online", Field.ONLINE), ("plugged", Field.USB), ("busying", Field.BUSY))
_INFO_EXTRAS: Final = (
    ("ipAddress", "ip"),
    ("deviceLanguage", "language"),
    ("timeZone", "time_zone"),
)


class IClickClient(HubClient):
    """One iClick controller at ws://host:port."""

    declaration = HubDeclaration(
        kind="iclick",
        name="iClick",
        settings=(
            Setting("host", SettingType.HOST, default=DEFAULT_HOST, required=True, identity=True),
            Setting("port", SettingType.PORT, default=DEFAULT_PORT, required=True),
        ),
        identity=Identity.ADDRESS,
        channels=(Channel(CHANNEL, tuple(_NOTICES.values())),),
        presses=(Press("home", "sendAction", {"action": "home"}),),
        fields=frozenset({Field.ONLINE, Field.BUSY, Field.USB, *FACT_FIELDS}),
        screenshots=True,
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        listener: Listener,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        timing: Timing | None = None,
    ) -> None:
        """Remember where the controller listens."""
        super().__init__(session, listener, timing=timing)
        self.host = host
        self.port = port
        self.request_timeout = REQUEST_TIMEOUT
        """How long to wait for the device list."""
        self._known: dict[str, tuple[str | None, str | None]] = {}
        """Device id -> (chip, name), to place events that carry no device id."""

    @classmethod
    def settings(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """From "host" and "port"; iClick has no credentials."""
        return {
            "host": str(config.get("host") or DEFAULT_HOST),
            "port": int(config.get("port") or DEFAULT_PORT),
        }

    @classmethod
    def default_timing(cls) -> Timing:
        """No keep-alive is documented: WebSocket pings only, no silence watchdog."""
        return Timing(ws_heartbeat=WS_HEARTBEAT)

    @property
    def url(self) -> str:
        """The controller's WebSocket URL (no path)."""
        return f"ws://{authority(self.host, self.port)}"

    async def _establish(self) -> HubInfo:
        """Open the socket and load the device list."""
        await self.open_websocket(self.url)
        self._emit_snapshot(await self._load_devices())
        self.emit(HubUpdate(channels=CHANNELS))
        return HubInfo(
            unique_id=f"{self.host}:{self.port}",
            title=f"iClick {self.host}",
            manufacturer="iClick",
            model="iClick",
        )

    async def probe(self) -> None:
        """Ask for one known phone's record (for the list when none is known): a cheap answer."""
        device_id = next(iter(self._known), None)
        if device_id is None:
            await self._call("devices", {}, self.request_timeout)
        else:
            await self._call("getDevice", {"deviceId": device_id}, self.request_timeout)

    @override
    async def _command(self, command: Command) -> Any:
        """Call the iClick API `command` (its `type`) for one device; return the reply's data.

        Binary replies (getScreenShot) give {"meta": <reply metadata>, "size": <payload bytes>};
        take_screenshot gives the image itself.
        """
        parameters = command.parameters
        if clash := _RESERVED.intersection(parameters):
            raise CommandFailed(
                f"parameter {min(clash)!r} is set by the client", code=CommandCode.BAD_PARAMETERS
            )
        fields = {"deviceId": command.device_id, **parameters}
        result = await self._call(command.name, fields, command.timeout)
        if isinstance(result, BinaryReply):
            return result.summary()
        if isinstance(result, dict) and result.get("status") is False:
            raise CommandFailed(_message(result.get("message")), code=CommandCode.FAILED)
        return result

    async def _screenshot(self, device_id: str, timeout: float) -> Screenshot:
        """getScreenShot: a binary reply whose payload is the image, as the SDKs read it."""
        result = await self._call("getScreenShot", {"deviceId": device_id}, timeout)
        if not isinstance(result, BinaryReply):
            raise CommandFailed("the hub sent no image", code=CommandCode.BAD_REPLY)
        return screenshot_of(result.payload)

    # --- frames ---

    def handle_text(self, text: str) -> None:
        """Parse one reply or event."""
        self._handle_json(text)

    def handle_binary(self, data: bytes) -> None:
        """Parse a binary reply: 6-byte metadata length, metadata JSON, payload."""
        if data[:1] in (b"{", b"["):
            self._handle_json(data)
            return
        header = data[:HEADER_SIZE].strip()
        if len(data) < HEADER_SIZE or not header.isdigit():
            self.drop(Drop.BINARY, data[:HEADER_SIZE])
            return
        end = HEADER_SIZE + int(header)
        if end > len(data):
            self.drop(Drop.BINARY, header)
            return
        meta = self.decode_object(data[HEADER_SIZE:end])
        if meta is not None:
            self._dispatch(meta, BinaryReply(meta, data[end:]))

    def _handle_json(self, raw: str | bytes) -> None:
        if (frame := self.decode_object(raw)) is not None:
            self._dispatch(frame, frame.get("data"))

    def _dispatch(self, frame: Mapping[str, Any], result: Any) -> None:
        """A reply to a waiting request (whatever its type), else an event, as the SDKs do."""
        if self._settle(frame, result):
            return
        if frame.get("event"):
            self._handle_event(frame)
        elif "evtid" in frame:
            self.drop(Drop.UNMATCHED_REPLY, frame.get("evtid"))
        else:
            self.drop(Drop.UNKNOWN_KIND, frame.get("type"))

    def _settle(self, frame: Mapping[str, Any], result: Any) -> bool:
        """Resolve the request waiting for this frame's evtid; False if none waits."""
        evtid = frame.get("evtid")
        if not isinstance(evtid, str):
            return False
        if frame.get("type") == "error":
            return self.reject(
                evtid, CommandFailed(_message(frame.get("error")), code=CommandCode.FAILED)
            )
        return self.resolve(evtid, result)

    # --- events ---

    def _handle_event(self, frame: Mapping[str, Any]) -> None:
        name = frame.get("event")
        if not isinstance(name, str) or name not in _EVENTS:
            self.drop(Drop.UNKNOWN_KIND, name)
            return
        data = frame.get("data")
        if not isinstance(data, dict):
            data = {}  # names no phone: handled like one that cannot be placed
        device_id = self._resolve(data)
        if device_id is None:
            self._on_unknown_device(name, data)
        elif name == _DELETE:
            self._known.pop(device_id, None)
            self.emit(DeviceRemoved(device_id))
        else:
            self._remember(device_id, data)
            self.emit(self._device_update(device_id, data, _EVENTS[name]))
            self._notice(name, device_id, data)

    def _on_unknown_device(self, name: str, data: Mapping[str, Any]) -> None:
        """Handle an event for a device we cannot place: notify, then reload the list.

        The reloaded list sets what the event changed (a deleted phone is gone from it);
        undocumented payloads such as those of usb:plug and usb:unplug heal this way.
        """
        self._notice(name, HUB_DEVICE_ID, data)
        if name == _REJECT:
            return
        if self.connected:
            self.schedule_fleet_reload()
        else:
            self.drop(Drop.UNKNOWN_DEVICE, name)

    def _notice(self, name: str, device_id: str, data: Mapping[str, Any]) -> None:
        event_type = _NOTICES.get(name)
        if event_type is None:
            return
        info = _info(data)
        attributes = {
            key: value
            for key, value in (
                ("name", _pick(info, data, "deviceName")),
                ("chip", _pick(info, data, "deviceChip")),
            )
            if value
        }
        self.emit(HubNotice(CHANNEL, event_type, device_id, attributes))

    # --- devices ---

    async def _load_devices(self) -> Mapping[str, Any]:
        """Ask for `devices`: the map of device id to record."""
        try:
            records = await self._call("devices", {}, self.request_timeout)
        except HubTimeout as err:
            raise CannotConnect("the hub did not send its device list") from err
        except CommandFailed as err:
            raise ProtocolError("the hub refused to list its devices") from err
        if not isinstance(records, dict):
            raise ProtocolError("the device list is not an object")
        return records

    async def reload_fleet(self) -> None:
        """Reload the whole list after an event for an unknown device."""
        self._emit_snapshot(await self._load_devices())

    def _emit_snapshot(self, records: Mapping[str, Any]) -> None:
        updates: list[DeviceUpdate] = []
        self._known = {}
        for device_id, record in records.items():
            if not device_id or not isinstance(record, dict):
                self.drop(Drop.MALFORMED, device_id)
                continue
            self._remember(device_id, record)
            updates.append(self._device_update(device_id, record, None))
        self.emit(FleetSnapshot(tuple(updates)))

    def _resolve(self, data: Mapping[str, Any]) -> str | None:
        """Find the device of an event: its deviceId, else a known chip, else a known name."""
        info = _info(data)
        if device_id := _pick(info, data, "deviceId"):
            return device_id
        if chip := _pick(info, data, "deviceChip"):
            for known_id, (known_chip, _) in self._known.items():
                if known_chip == chip:
                    return known_id
        if name := _pick(info, data, "deviceName"):
            matches = [known_id for known_id, (_, known) in self._known.items() if known == name]
            if len(matches) == 1:
                return matches[0]
        return None

    def _remember(self, device_id: str, data: Mapping[str, Any]) -> None:
        info = _info(data)
        chip, name = self._known.get(device_id, (None, None))
        new_chip = _pick(info, data, "deviceChip")
        new_name = _pick(info, data, "deviceName")
        self._known[device_id] = (
            chip if new_chip is None else new_chip,
            name if new_name is None else new_name,
        )

    @staticmethod
    def _device_update(
        device_id: str, data: Mapping[str, Any], implied: tuple[Field, bool] | None
    ) -> DeviceUpdate:
        """One phone from its record (or the part of it an event carries)."""
        info = _info(data)
        values: dict[Field, Value] = {}
        for key, field in _RECORD_VALUES:
            if key in data:
                value = data[key]
                values[field] = value if isinstance(value, bool) else None
        if implied is not None:
            values[implied[0]] = implied[1]
        model_id = _pick(info, {}, "deviceIdentifier") or None
        return DeviceUpdate(
            device_id,
            DeviceDetails(
                name=_pick(info, data, "deviceName") or None,
                manufacturer=MANUFACTURER,
                model=iphone_name(model_id),
                model_id=model_id,
                firmware=_pick(info, {}, "deviceVersion") or None,
            ),
            values=values | facts(info),
            extras=_extras(info),
            channels=CHANNELS,
        )

    # --- requests ---

    async def _call(self, api: str, params: Mapping[str, Any], seconds: float) -> Any:
        """Send {"type", "evtid", "timeout", **params} and wait for the matching reply."""
        evtid = "".join(secrets.choice(_EVTID_ALPHABET) for _ in range(_EVTID_LENGTH))
        frame = {"type": api, "evtid": evtid, "timeout": max(1, math.ceil(seconds)), **params}
        try:
            text = orjson.dumps(frame).decode()
        except TypeError as err:
            raise CommandFailed(
                "the parameters are not JSON", code=CommandCode.BAD_PARAMETERS
            ) from err
        return await self.request(evtid, text, seconds + REPLY_GRACE)


def _info(data: Mapping[str, Any]) -> Mapping[str, Any]:
    info = data.get("info")
    return info if isinstance(info, dict) else {}


def _pick(info: Mapping[str, Any], data: Mapping[str, Any], key: str) -> str | None:
    """Get a string field from `info`, else from the top level of the event data."""
    for source in (info, data):
        value = source.get(key)
        if isinstance(value, str):
            return value
    return None


def _extras(info: Mapping[str, Any]) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    width, height = info.get("screenWidth"), info.get("screenHeight")
    if is_int(width) and is_int(height):
        extras["screen"] = f"{width}x{height}"
    scale = info.get("screenScale")
    if is_int(scale) or isinstance(scale, float):
        extras["screen_scale"] = scale
    for key, name in _INFO_EXTRAS:
        if value := _pick(info, {}, key):
            extras[name] = value
    return extras


def _message(value: Any) -> str:
    """Bound the hub's error text."""
    text = value if isinstance(value, str) else ""
    return text[:_MAX_MESSAGE] or "the hub reported an error"


CLIENT = IClickClient
