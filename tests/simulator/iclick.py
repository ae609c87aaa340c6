"""An iClick controller: evtid-matched requests, binary screenshots and device events.

By default it does what the vendor documents: replies {"evtid", "type": "success", "data"} or
{"evtid", "type": "error", "error"}, events {"type": "event", "event", "data"}, and WebSocket pongs.
Where the vendor is silent (the payload of usb:plug / usb:unplug, whether replies and events
always carry those types, pongs the SDKs never ask for), a constructor switch offers each
plausible behaviour (VARIANTS).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import json
from pathlib import Path
import time
from typing import Any, Literal

from .base import Connection, HubSimulator, Pace
from .screens import phone_screen

DOC_ONLINE_SAMPLE = Path(__file__).parents[1] / "fixtures" / "iclick" / "device_online.json"
"""The vendor page's device:online sample (it carries no deviceId)."""

ACTIONS = frozenset(
    {
        "home",
        "switcher",
        "spotlight_search",
        "screen_keyboard",
        "inputmethod_switch",
        "volume_mute",
        "volume_increment",
        "volume_decrement",
        "brightness_increment",
        "brightness_decrement",
    }
)
MODELS = (
    ("iPhone15,2", "17.0", 1179, 2556, 3),
    ("iPhone17,2", "26.1", 1320, 2868, 3),
    ("iPhone12,8", "16.7", 750, 1334, 2),
)
PORTRAIT = 1
LANDSCAPE = 3
"""`orientation` as the vendor's samples give it (UIKit's interface orientation)."""

type Record = dict[str, Any]
type Reply = Any
type ReplyType = Literal["success", "none", "request"]
"""A success reply's type: "success" (documented), none at all, or the request's own type."""
type UsbPayload = Literal["ids", "chip", "record", "none"]
"""usb:* data: {deviceId, deviceChip}, {deviceChip}, the phone's record, or null."""


class IClickSimulator(HubSimulator):
    """iClick on loopback: no auth, flat requests, the `devices` record shape.

    Helpers push every vendor event through the real socket: add_device, remove_device,
    set_online, set_busy, plug, unplug, rename, reject, bindchip, push_doc_online_sample.
    hold_replies / release_replies reorder replies to prove evtid matching.
    """

    kind = "iclick"
    ws_path = "/"

    def __init__(
        self,
        *,
        devices: int = 3,
        host: str = "127.0.0.1",
        port: int = 0,
        event_rate: float = 0.0,
        seed: int = 1,
        answer_pings: bool = True,
        reply_type: ReplyType = "success",
        typed_events: bool = True,
        usb_payload: UsbPayload = "ids",
        pace: Pace = "test",
    ) -> None:
        """Make a controller with `devices` phones.

        reply_type: the type of success replies. typed_events: events carry "type": "event".
        usb_payload: the data of usb:plug and usb:unplug.
        """
        self.reply_type: ReplyType = reply_type
        self.typed_events = typed_events
        self.usb_payload: UsbPayload = usb_payload
        super().__init__(
            devices=devices,
            host=host,
            port=port,
            event_rate=event_rate,
            seed=seed,
            answer_pings=answer_pings,
            pace=pace,
        )

    def form(self) -> dict[str, Any]:
        """The controller's address, as a user types it."""
        return {"host": self.host, "port": self.port}

    @property
    def hub_unique_id(self) -> str:
        """A controller is known by its address."""
        return f"{self.host}:{self.port}"

    def fleet_ids(self) -> list[str]:
        """The phones' ids, as FleetPush names them (info.deviceId)."""
        return list(self.devices)

    def is_online(self, device_id: str) -> bool:
        """Whether a phone is connected to iClick (its record's online)."""
        return bool(self.devices[device_id]["online"])

    def build_fleet(self, devices: int) -> None:
        """Create `devices` online, plugged, idle phones."""
        self.devices: dict[str, Record] = {}
        self.count = 0
        self.held: list[tuple[Connection, str | bytes | dict[str, Any]]] | None = None
        self.api = self._api()
        self.header_padding = ">"
        self.screenshot_padding = 0
        """Bytes added to every screenshot (a controller sending an oversized one)."""
        self.screenshots_taken: list[str] = []
        """The phones whose screenshot was asked for."""
        """Padding of the 6-byte length of binary replies (">": leading spaces, "<": trailing)."""
        for _ in range(devices):
            self._new_device()

    # --- fleet ---

    def _new_device(self, name: str | None = None, chip: str = "") -> str:
        self.count += 1
        device_id = f"P{self.random.getrandbits(44):011X}"
        identifier, version, width, height, scale = MODELS[self.count % len(MODELS)]
        self.devices[device_id] = {
            "info": {
                "timeZone": "Asia/Shanghai",
                "screenScale": scale,
                "screenWidth": width,
                "deviceVersion": version,
                "screenHeight": height,
                "deviceId": device_id,
                "orientation": PORTRAIT,
                "deviceLanguage": "zh-Hans-CN",
                "deviceIdentifier": identifier,
                "ipAddress": f"192.168.31.{10 + self.count % 240}",
                "deviceName": name or f"iPhone {self.count}",
                "deviceChip": chip,
                "deviceRounded": True,
            },
            "time": int(time.time()),
            "online": True,
            "plugged": True,
            "busying": False,
            "adapted": True,
        }
        return device_id

    async def _event(self, name: str, data: dict[str, Any] | None) -> None:
        frame = {"event": name, "data": data}
        await self.push({"type": "event", **frame} if self.typed_events else frame)

    async def _change(self, device_id: str, event: str, **values: Any) -> None:
        record = self.devices[device_id]
        record.update(values, time=int(time.time()))
        await self._event(event, record)

    async def add_device(
        self, name: str | None = None, chip: str = "", *, announce: bool = True
    ) -> str:
        """Connect a new phone (device:online with its record); return its id.

        announce=False: the phone joins the list without any event (as one whose event a
        client cannot place does).
        """
        device_id = self._new_device(name, chip)
        if announce:
            await self._event("device:online", self.devices[device_id])
        return device_id

    async def remove_device(self, device_id: str) -> None:
        """Delete a phone from the list (device:delete)."""
        record = self.devices.pop(device_id)
        await self._event("device:delete", record)

    async def set_online(self, device_id: str, online: bool) -> None:
        """Connect or disconnect a phone (device:online / device:offline)."""
        event = "device:online" if online else "device:offline"
        await self._change(device_id, event, online=online)

    async def set_busy(self, device_id: str, busy: bool, *, turn: bool = False) -> None:
        """Start or finish a task (device:busy / device:idle); turn: its app is landscape."""
        if turn:
            self.devices[device_id]["info"]["orientation"] = LANDSCAPE if busy else PORTRAIT
        await self._change(device_id, "device:busy" if busy else "device:idle", busying=busy)

    async def plug(self, device_id: str) -> None:
        """Connect the phone's USB chip board (usb:plug with deviceId and deviceChip)."""
        await self._usb(device_id, plugged=True)

    async def unplug(self, device_id: str) -> None:
        """Disconnect the phone's USB chip board (usb:unplug)."""
        await self._usb(device_id, plugged=False)

    async def _usb(self, device_id: str, *, plugged: bool) -> None:
        record = self.devices[device_id]
        record["plugged"] = plugged
        chip = record["info"]["deviceChip"]
        payloads: dict[UsbPayload, dict[str, Any] | None] = {
            "ids": {"deviceId": device_id, "deviceChip": chip},
            "chip": {"deviceChip": chip},
            "record": record,
            "none": None,
        }
        await self._event("usb:plug" if plugged else "usb:unplug", payloads[self.usb_payload])

    async def rename(self, device_id: str, name: str) -> None:
        """Rename a phone (device:rename)."""
        self.devices[device_id]["info"]["deviceName"] = name
        await self._change(device_id, "device:rename")

    async def reject(self, device_id: str) -> None:
        """Refuse a phone's connection (device:reject)."""
        await self._change(device_id, "device:reject", online=False)

    async def bindchip(self, device_id: str, chip: str) -> None:
        """Bind a phone to a USB chip board (device:bindchip)."""
        self.devices[device_id]["info"]["deviceChip"] = chip
        await self._change(device_id, "device:bindchip", plugged=True)

    async def push_doc_online_sample(self) -> None:
        """Push the vendor page's device:online sample verbatim (no deviceId in it)."""
        await self.push(DOC_ONLINE_SAMPLE.read_text(encoding="utf-8"))

    async def demo_tick(self) -> None:
        """Phones busy with a task for minutes, idle between tasks, now and then offline."""
        for device_id in list(self.devices):
            match self.follow(device_id):
                case "active" | "resting" as change:
                    await self.set_busy(device_id, busy=change == "active", turn=True)
                case "offline" | "online" as change:
                    await self.set_online(device_id, online=change == "online")

    async def tick(self) -> None:
        """Make one phone go busy/idle (mostly) or offline/online."""
        if not self.devices:
            return
        device_id = self.random.choice(sorted(self.devices))
        record = self.devices[device_id]
        if self.random.random() < 0.7:
            await self.set_busy(device_id, busy=not record["busying"])
        else:
            await self.set_online(device_id, online=not record["online"])

    # --- reordering replies ---

    def hold_replies(self) -> None:
        """Keep replies back until release_replies()."""
        self.held = []

    async def release_replies(self) -> None:
        """Send the held replies, last first."""
        held, self.held = self.held or [], None
        for conn, frame in reversed(held):
            await conn.send(frame)

    async def _reply(self, conn: Connection, frame: str | bytes | dict[str, Any]) -> None:
        if self.held is not None:
            self.held.append((conn, frame))
        else:
            await conn.send(frame)

    # --- requests ---

    async def on_text(self, conn: Connection, text: str) -> None:
        """Answer one request; frames that are not requests are ignored, as the SDKs do."""
        try:
            request = json.loads(text)
        except ValueError:
            return
        if not isinstance(request, dict) or not isinstance(request.get("evtid"), str):
            return
        evtid = request["evtid"]
        handler = self.api.get(str(request.get("type")))
        if handler is None:
            await self._reply(conn, _error(evtid, f"unknown api: {request.get('type')}"))
            return
        try:
            reply = await handler(request)
        except _Refused as refused:
            await self._reply(conn, _error(evtid, str(refused)))
            return
        meta = self._success(evtid, request)
        if isinstance(reply, bytes):
            await self._reply(conn, self._binary(meta, reply))
        else:
            await self._reply(conn, {**meta, "data": reply})

    def _api(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[Reply]]]:
        """Map each supported API `type` to its handler (tests may add or replace some)."""
        return {
            "devices": self._devices,
            "getDevice": self._get_device,
            "getDevices": self._get_device,
            "sendAction": self._send_action,
            "sendKey": self._needs("key"),
            "sendText": self._needs("text"),
            "openApp": self._needs("name"),
            "click": self._needs("x", "y"),
            "swipe": self._needs("start", "end"),
            "killRecents": self._needs(),
            "getScreenShot": self._screenshot,
        }

    async def _devices(self, _request: dict[str, Any]) -> Reply:
        return self.devices

    async def _get_device(self, request: dict[str, Any]) -> Reply:
        return self._record(request)

    def _record(self, request: dict[str, Any], *, online: bool = False) -> Record:
        record = self.devices.get(str(request.get("deviceId")))
        if record is None:
            raise _Refused("device not found")
        if online and not record["online"]:
            raise _Refused("device is offline")
        return record

    async def _send_action(self, request: dict[str, Any]) -> Reply:
        self._record(request, online=True)
        if request.get("action") not in ACTIONS:
            return {"status": False, "message": f"unsupported action: {request.get('action')}"}
        return {"status": True}

    def _needs(self, *keys: str) -> Callable[[dict[str, Any]], Awaitable[Reply]]:
        async def handler(request: dict[str, Any]) -> Reply:
            self._record(request, online=True)
            missing = [key for key in keys if key not in request]
            if missing:
                raise _Refused(f"missing parameter: {missing[0]}")
            return {"status": True}

        return handler

    async def _screenshot(self, request: dict[str, Any]) -> Reply:
        """The phone's screen as a JPEG (the binary reply's payload)."""
        record = self._record(request, online=True)
        info = record["info"]
        self.screenshots_taken.append(info["deviceId"])
        image = phone_screen(
            info["deviceName"],
            landscape=info["orientation"] in {LANDSCAPE, LANDSCAPE + 1},
            image_format="JPEG",
            busy=record["busying"],
        )
        return image + bytes(self.screenshot_padding)

    def _success(self, evtid: str, request: dict[str, Any]) -> dict[str, Any]:
        """A success reply's envelope, typed as reply_type says."""
        match self.reply_type:
            case "success":
                return {"evtid": evtid, "type": "success"}
            case "request":
                return {"evtid": evtid, "type": request["type"]}
            case _:
                return {"evtid": evtid}

    def _binary(self, meta: dict[str, Any], payload: bytes) -> bytes:
        """Build the 6-byte ASCII metadata length, the metadata JSON, then the payload."""
        encoded = json.dumps(meta).encode()
        header = f"{len(encoded):{self.header_padding}6d}".encode("ascii")
        return header + encoded + payload


class _Refused(Exception):
    """The hub answers {"type": "error", "error": <message>}."""


def _error(evtid: str, message: str) -> dict[str, Any]:
    return {"evtid": evtid, "type": "error", "error": message}


SIMULATOR = IClickSimulator

VARIANTS: dict[str, dict[str, Any]] = {
    "vendor": {},
    "no_pongs": {"answer_pings": False},
    "replies_without_type": {"reply_type": "none"},
    "replies_typed_as_request": {"reply_type": "request"},
    "untyped_events": {"typed_events": False},
    "usb_chip_only": {"usb_payload": "chip"},
    "usb_record": {"usb_payload": "record"},
    "usb_anonymous": {"usb_payload": "none"},
    "least_convenient": {
        "answer_pings": False,
        "reply_type": "request",
        "typed_events": False,
        "usb_payload": "none",
    },
}
"""Constructor switches for each behaviour the vendor leaves open; "vendor" is the default."""
