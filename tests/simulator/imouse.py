"""iMouse XP kernel simulator: WebSocket and HTTP POST at /api, iPhones bound to iMouse hardware.

By default it does what the vendor shows: it greets with im_connect (vendor doc 002 section 2),
echoes a request's msgid at the top level of its reply (iosautot: "服务端接收后会原样返回"), answers
pings, and pushes user_info every 30 s while a licence account is logged in (doc 002 section 14).
Where the vendor is silent, a constructor switch offers each plausible behaviour (VARIANTS).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from datetime import datetime
import functools
import json
from typing import Any, ClassVar, Literal

from aiohttp import web

from .base import Connection, HubSimulator, Pace
from .screens import ImageFormat, phone_screen

OK = "成功"
DEFAULT_VERSION = "2024.12.21.910"
CODE_NOT_FOUND = 1
CODE_NOT_ONLINE = 25
CODE_FAILED = 33
CODE_BAD_PARAMS = 36
UNGROUPED = "未分组"
SCREENSHOT = "/pic/screenshot"
LOGGED_OUT: dict[str, Any] = {"total_license": 0, "user_state": 0, "overdue_time": 0, "phone": ""}
"""The licence account fields of a kernel nobody is logged in to."""

type Frame = dict[str, Any]
type Reply = tuple[Frame, list[Frame]]
"""A request's result data and the callbacks it causes."""
type MsgidEcho = Literal["top", "data", "none"]
"""Where a reply carries the request's msgid: its top level, inside its data, or nowhere (0)."""
type ScreenshotReply = Literal["typed", "untyped", "base64"]
"""How /pic/screenshot with binary answers: the image with its image/* type, the image as
application/octet-stream, or (binary ignored) the JSON reply with the image in base64."""

MODELS = (
    ("iPhone17,1", "iPhone 16 Pro", "18.2", "402", "874", 1206, 2622),
    ("iPhone15,2", "iPhone 14 Pro", "17.6.1", "393", "852", 1179, 2556),
    ("iPhone14,5", "iPhone 13", "16.7.10", "390", "844", 1170, 2532),
    ("iPhone12,8", "iPhone SE (2nd generation)", "16.3", "375", "667", 750, 1334),
    ("iPhone8,1", "iPhone 6s", "15.7.3", "375", "667", 750, 1334),
)
"""Per model: model, device_name, iOS version, screen points (w, h), pixels (w, h)."""


def result(code: int = 0, message: str = OK, id: str = "", **extra: Any) -> Frame:  # noqa: A002
    """A callback's or reply's data object."""
    return {**extra, "code": code, "id": id, "message": message}


def envelope(fun: str, data: Frame, msgid: Any = 0) -> Frame:
    """The frame every reply and callback travels in."""
    return {"data": data, "status": 200, "message": OK, "msgid": msgid, "fun": fun}


def computer_link(entries: list[Frame], *, connected: bool) -> Frame:
    """The usb_change data of hardware connected to or cut from the computer (19 / 20)."""
    if connected:
        return result(19, "There is hardware and computer connection", list=entries)
    return result(20, "有硬件和电脑断开连接", list=entries)


def _ids(data: Frame) -> list[str]:
    """The comma-separated ids of a request."""
    return [part for part in str(data.get("id", "")).split(",") if part]


class IMouseSimulator(HubSimulator):
    """An iMouse XP kernel with a fleet of iPhones; no authentication, like the real one.

    Helpers push every callback through the real path: add_device, remove_device, set_online,
    rotate, set_casting, set_usb, set_computer_link, rename_group, delete_group, set_license,
    push_user_info, logout, change_config, set_sort, push_log, push_callback.
    `overrides[fun]` fakes a reply, `unanswered` mutes functions, `greet = False` withholds
    im_connect. `received` also lists the bodies of HTTP requests.
    """

    kind: ClassVar[str] = "imouse"
    ws_path: ClassVar[str] = "/api"

    def __init__(
        self,
        *,
        devices: int = 3,
        host: str = "127.0.0.1",
        port: int = 0,
        event_rate: float = 0.0,
        seed: int = 1,
        answer_pings: bool = True,
        user_info_interval: float | None = 30.0,
        version: str = DEFAULT_VERSION,
        msgid_echo: MsgidEcho = "top",
        licence_login: bool = True,
        greet: bool = True,
        screenshot_reply: ScreenshotReply = "typed",
        pace: Pace = "test",
    ) -> None:
        """Make a kernel with `devices` iPhones.

        user_info_interval: seconds between user_info pushes while a licence account is logged
        in (None: never). msgid_echo: where replies carry the request's msgid. licence_login:
        whether a licence account is logged in at the start. greet: send im_connect on connect.
        screenshot_reply: how a screenshot comes back.
        """
        self.screenshot_reply: ScreenshotReply = screenshot_reply
        self.screenshot_padding = 0
        """Bytes added to every screenshot (a kernel sending an oversized one)."""
        self.screenshots_taken: list[str] = []
        """The phones whose screenshot was asked for."""
        self.user_info_interval = user_info_interval
        """Read when a client connects."""
        self.version = version
        self.msgid_echo: MsgidEcho = msgid_echo
        self.greet = greet
        self.logged_in = licence_login
        self.overrides: dict[str, Any] = {}
        """fun -> the reply's data, or a whole frame (with "fun") to send instead."""
        self.unanswered: set[str] = set()
        """Functions the kernel accepts but never answers."""
        self.groups: dict[int, str] = {0: UNGROUPED}
        self.unplugged: set[str] = set()
        """Phones whose bound hardware is unplugged."""
        self.config: Frame = {
            "air_play_name": "iMouseXP-D2B6",
            "lang": "English",
            "allow_ip_list": ["192.168.9.0/24"],
            "air_play_fps": 30,
            "air_play_port": 17000,
            "auto_connect": False,
            "mouse_mode": True,
        }
        self.user: Frame = {
            "pass": True,
            "total_license": 0,
            "local_total_license": 100,
            "create_time": 1690800970000,
            "overdue_time": 1798761600000,
            "phone": "13999999999",
            "utag": 2,
            "user_state": 2,
        }
        if not licence_login:
            self.user.update(LOGGED_OUT)
        self.devices: dict[str, Frame] = {}
        self.posted: list[str] = []
        """The bodies of HTTP requests (they are in `received` too)."""
        self._stopping = asyncio.Event()
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
        """The kernel's address, as a user types it."""
        return {"host": self.host, "port": self.port}

    @property
    def hub_unique_id(self) -> str:
        """A kernel is known by its address."""
        return f"{self.host}:{self.port}"

    def fleet_ids(self) -> list[str]:
        """The phones' ids, as FleetPush names them (their deviceid)."""
        return list(self.devices)

    def is_online(self, device_id: str) -> bool:
        """Whether a phone is connected to the kernel (state 1)."""
        return bool(self.devices[device_id]["state"] == 1)

    async def stop(self) -> None:
        """Let HTTP requests left unanswered end, then stop."""
        self._stopping.set()
        await super().stop()
        self._stopping = asyncio.Event()

    # --- fleet ---

    def build_fleet(self, devices: int) -> None:
        """Create `devices` iPhones, two in three bound to iMouse hardware."""
        self.devices = {}
        for _ in range(devices):
            self._new_device()
        if self.pace == "demo":  # the phone farm's shelves, as iMouse XP groups
            self.groups.update({1: "Shelf A", 2: "Shelf B"})
            for index, record in enumerate(self.devices.values()):
                record["gid"] = 1 + index % 2
                record["gname"] = self.groups[record["gid"]]

    def _mac(self) -> str:
        """A unicast MAC, as a phone's is (the multicast bit of the first octet clear)."""
        octets = [self.random.randrange(256) for _ in range(6)]
        octets[0] &= 0xFE
        return ":".join(f"{octet:02X}" for octet in octets)

    def _new_device(
        self, *, online: bool = True, bound: bool | None = None, name: str = ""
    ) -> Frame:
        index = len(self.devices)
        model, device_name, ios, width, height, imgw, imgh = MODELS[index % len(MODELS)]
        bound = index % 3 != 2 if bound is None else bound
        pid = f"{self.random.randrange(0x10000):04X}" if bound else ""
        record: Frame = {
            "air_handle": 118639968 + index,
            "air_pid": 17260,
            "rotate": 0,
            "state": int(online),
            "imgw": imgw,
            "imgh": imgh,
            "gid": 0,
            "air_ratio": 0,
            "air_fps": 0,
            "air_refresh": 0,
            "air_img_fps": 0,
            "air_audio": 0,
            "name": name,
            "srv_name": "`iMouseXP-D2B6",
            "width": width,
            "height": height,
            "ip": f"192.168.9.{100 + index % 150}",
            "mac": self._mac(),
            "user_name": f"Phone {index + 1:03d}",
            "version": ios,
            "model": model,
            "deviceid": self._mac(),
            "device_name": device_name,
            "location": "",
            "location_crc": "",
            "vid": "720D" if bound else "",
            "pid": pid,
            "uid": f"{pid}24BD" if bound else "",
            "gname": self.groups[0],
            "uver": "4.4" if bound else "",
        }
        self.devices[record["deviceid"]] = record
        return record

    def hardware(self, device_id: str) -> Frame:
        """The usb_change entry of the hardware bound to a phone."""
        record = self.devices[device_id]
        state = 1 if device_id in self.unplugged else 2
        return {key: record[key] for key in ("vid", "pid", "uid")} | {
            "ver": record["uver"],
            "state": state,
        }

    def user_info(self) -> Frame:
        """The user_info data, with live device counts."""
        online = sum(1 for record in self.devices.values() if record["state"] == 1)
        return result(
            **self.user,
            dev_num=len(self.devices),
            dev_online_num=online,
            network_time=int(datetime.now().timestamp() * 1000),  # noqa: DTZ005
        )

    # --- helpers that push through the real path ---

    async def push_callback(self, fun: str, data: Frame) -> None:
        """Broadcast one callback (msgid 0) to every client."""
        await self.push(envelope(fun, data))

    async def _broadcast(self, frames: list[Frame]) -> None:
        for frame in frames:
            await self.push(frame)

    async def add_device(self, *, online: bool = True, bound: bool = True, name: str = "") -> str:
        """Plug in a new iPhone (dev_connect); return its id."""
        record = self._new_device(online=online, bound=bound, name=name)
        await self.push_callback("dev_connect", result(list=[record]))
        return str(record["deviceid"])

    async def remove_device(self, device_id: str) -> None:
        """Delete a phone from the kernel (dev_delete)."""
        await self._broadcast(self._delete([device_id]))

    async def set_online(self, device_id: str, online: bool) -> None:
        """Connect or disconnect a phone (dev_connect / dev_disconnect)."""
        record = self.devices[device_id]
        record["state"] = int(online)
        fun = "dev_connect" if online else "dev_disconnect"
        await self.push_callback(fun, result(list=[record]))

    async def rotate(self, device_id: str, to: int | None = None) -> None:
        """Turn a phone's screen a quarter on, or `to` a rotation, 0 to 3 (dev_rotate)."""
        record = self.devices[device_id]
        rotate = (record["rotate"] + 1) % 4 if to is None else to
        if (rotate - record["rotate"]) % 2:
            record["imgw"], record["imgh"] = record["imgh"], record["imgw"]
        record["rotate"] = rotate
        await self.push_callback("dev_rotate", result(list=[record]))

    async def set_casting(self, device_id: str, casting: bool) -> None:
        """Start or stop casting a phone's screen to the kernel (dev_change; a log on start)."""
        await self._broadcast(self._cast(device_id, casting=casting))

    def _cast(self, device_id: str, *, casting: bool) -> list[Frame]:
        record = self.devices[device_id]
        index = list(self.devices).index(device_id)
        record["air_handle"] = 118639968 + index if casting else 0
        record["air_pid"] = 17260 if casting else 0
        pushes = [envelope("dev_change", result(list=[record]))]
        if casting:
            pushes.append(envelope("airplay_connect_log", result(0, "投屏成功", device_id)))
        return pushes

    def screenshot(self, device_id: str, image_format: ImageFormat) -> bytes:
        """What the phone's screen shows now (padded as screenshot_padding says)."""
        record = self.devices[device_id]
        self.screenshots_taken.append(device_id)
        turned = record["rotate"] % 2 == 1
        name = record["name"] or record["user_name"]
        image = phone_screen(name, landscape=turned, image_format=image_format, busy=turned)
        return image + bytes(self.screenshot_padding)

    async def set_usb(self, device_id: str, connected: bool) -> None:
        """Plug or unplug a phone's bound hardware (usb_change 12 / 13)."""
        if connected:
            self.unplugged.discard(device_id)
        else:
            self.unplugged.add(device_id)
        code, message = (12, "有硬件和手机连接") if connected else (13, "硬件未和手机连接")
        await self.push_callback(
            "usb_change", result(code, message, list=[self.hardware(device_id)])
        )

    async def set_computer_link(self, device_id: str, connected: bool) -> None:
        """Connect or cut a phone's bound hardware and the computer (usb_change 19 / 20)."""
        await self.push_callback(
            "usb_change", computer_link([self.hardware(device_id)], connected=connected)
        )

    async def rename_group(self, gid: int, name: str) -> None:
        """Create or rename a group (group_change)."""
        await self._broadcast(self._set_group(gid, name))

    async def delete_group(self, *gids: int) -> None:
        """Delete groups; their phones become ungrouped (group_delete)."""
        await self._broadcast(self._delete_groups(list(gids)))

    async def set_license(
        self,
        *,
        total: int | None = None,
        local: int | None = None,
        expires: datetime | None = None,
        user_state: int | None = None,
    ) -> None:
        """Change the licence account and push user_info."""
        changes = {
            "total_license": total,
            "local_total_license": local,
            "overdue_time": None if expires is None else int(expires.timestamp() * 1000),
            "user_state": user_state,
        }
        self.user.update({key: value for key, value in changes.items() if value is not None})
        self.logged_in = True
        await self.push_user_info()

    async def push_user_info(self) -> None:
        """Push user_info now."""
        await self.push_callback("user_info", self.user_info())

    async def logout(self) -> None:
        """Log the licence account out (logout); periodic user_info stops."""
        self.user.update(LOGGED_OUT)
        self.logged_in = False
        await self.push_callback("logout", result())

    async def change_config(self, **settings: Any) -> None:
        """Change kernel settings (im_config_change with the whole configuration)."""
        self.config.update(settings)
        await self.push_callback("im_config_change", result(**self.config))

    async def set_sort(self, index: int, value: int) -> None:
        """Change the device list sorting (dev_sort_change)."""
        await self.push_callback("dev_sort_change", result(sort_index=index, sort_value=value))

    async def push_log(
        self, fun: str, message: str = OK, *, code: int = 0, device_id: str = "", **extra: Any
    ) -> None:
        """Push a log callback: collection_mouse, airplay_connect_log, restart_log, im_log,
        error_push (extra call_fun=...)."""
        await self.push_callback(fun, result(code, message, device_id, **extra))

    async def demo_tick(self) -> None:
        """Phones turn to landscape for an app for minutes and back; now and then one drops off
        for a while."""
        for device_id in list(self.devices):
            match self.follow(device_id):
                case "active" | "resting" as change:
                    await self.rotate(device_id, to=int(change == "active"))
                case "offline" | "online" as change:
                    await self.set_online(device_id, online=change == "online")

    async def tick(self) -> None:
        """A phone drops off or comes back, turns, or has its hardware unplugged."""
        if not self.devices:
            return
        device_id = self.random.choice(list(self.devices))
        action = self.random.random()
        if action < 0.5:
            await self.set_online(device_id, self.devices[device_id]["state"] != 1)
        elif action < 0.8 or not self.devices[device_id]["vid"]:
            await self.rotate(device_id)
        else:
            await self.set_usb(device_id, device_id in self.unplugged)

    # --- protocol ---

    def add_routes(self, app: web.Application) -> None:
        """HTTP POST /api takes the same JSON requests as the WebSocket."""
        app.router.add_post(self.ws_path, self._http)

    async def on_connect(self, conn: Connection) -> None:
        """Greet with im_connect; push user_info periodically while logged in."""
        if self.greet:
            await conn.send(envelope("im_connect", {"ver": self.version}))
        if self.user_info_interval:
            conn.every(self.user_info_interval, functools.partial(self._periodic_user_info, conn))

    async def _periodic_user_info(self, conn: Connection) -> None:
        if self.logged_in:
            await conn.send(envelope("user_info", self.user_info()))

    async def on_text(self, conn: Connection, text: str) -> None:
        """Answer a request, then broadcast what it caused."""
        try:
            request = json.loads(text)
        except ValueError:
            return
        reply, pushes = self.answer(request)
        if reply is not None:
            await conn.send(reply)
        await self._broadcast(pushes)

    async def _http(self, request: web.Request) -> web.Response:
        text = await request.text()
        self.received.append(text)
        self.posted.append(text)
        try:
            body = json.loads(text)
        except ValueError:
            return web.json_response({"status": 400, "message": "bad json"}, status=400)
        if isinstance(body, dict) and body.get("fun") in self.unanswered:
            await self._stopping.wait()  # no answer while it runs
        if (
            isinstance(body, dict)
            and body.get("fun") == SCREENSHOT
            and SCREENSHOT not in self.overrides
        ):
            return self._screenshot_response(body.get("data"))
        reply, pushes = self.answer(body)
        await self._broadcast(pushes)
        if reply is None:
            return web.json_response({"status": 400, "message": "bad request"}, status=400)
        return web.json_response(reply, dumps=functools.partial(json.dumps, ensure_ascii=False))

    def _screenshot_response(self, data: Any) -> web.Response:
        """/pic/screenshot: the image as the body with binary, else in base64 in the reply."""
        data = data if isinstance(data, dict) else {}
        failure = self._online(data)
        if failure is not None:
            return web.json_response(envelope(SCREENSHOT, failure[0]))
        image_format: ImageFormat = "JPEG" if data.get("jpg") else "PNG"
        image = self.screenshot(str(data["id"]), image_format)
        if not data.get("binary") or self.screenshot_reply == "base64":
            encoded = base64.b64encode(image).decode()
            reply = result(id=str(data["id"]), jpg=bool(data.get("jpg")), rect=[], image=encoded)
            return web.json_response(envelope(SCREENSHOT, reply))
        typed = self.screenshot_reply == "typed"
        content_type = f"image/{image_format.lower()}" if typed else "application/octet-stream"
        return web.Response(body=image, content_type=content_type)

    def answer(self, request: Any) -> tuple[Frame | None, list[Frame]]:
        """The reply to one request and the callbacks it causes.

        The request's msgid (read at its top level or inside its data) goes where msgid_echo
        says.
        """
        if not isinstance(request, dict) or not isinstance(request.get("fun"), str):
            return None, []
        fun = request["fun"]
        data = request.get("data")
        if not isinstance(data, dict):
            data = {}
        if fun in self.unanswered:
            return None, []
        reply, pushes = self._reply(fun, data)
        return self._echo(reply, request.get("msgid", data.get("msgid", 0))), pushes

    def _reply(self, fun: str, data: Frame) -> tuple[Frame, list[Frame]]:
        if fun in self.overrides:
            override = self.overrides[fun]
            if isinstance(override, dict) and "fun" in override:
                return dict(override), []
            return envelope(fun, override), []
        handler = self._handler(fun)
        if handler is None:
            return envelope(fun, result(CODE_FAILED, "未知接口")), []
        reply_data, pushes = handler(data)
        return envelope(fun, reply_data), pushes

    def _echo(self, reply: Frame, msgid: Any) -> Frame:
        """Put the request's msgid where this kernel puts it."""
        match self.msgid_echo:
            case "top":
                return {**reply, "msgid": msgid}
            case "data" if isinstance(reply.get("data"), dict):
                return {**reply, "msgid": 0, "data": {**reply["data"], "msgid": msgid}}
            case _:
                return {**reply, "msgid": 0}

    def _handler(self, fun: str) -> Callable[[Frame], Reply] | None:
        if fun.startswith(("/mouse/", "/key/")):
            return self._input
        handlers: dict[str, Callable[[Frame], Reply]] = {
            "/device/get": self._get,
            "/config/user/info": lambda _data: (self.user_info(), []),
            "/config/imserver/get": lambda _data: (result(**self.config), []),
            "/device/restart": self._restart,
            "/device/usb/restart": self._usb_restart,
            "/device/airplay/connect": functools.partial(self._airplay, casting=True),
            "/device/airplay/disconnect": functools.partial(self._airplay, casting=False),
            "/device/set": self._set,
            "/device/del": self._del,
            "/device/group/set": self._group_set,
        }
        return handlers.get(fun)

    def _ids_known(self, data: Frame) -> Reply | None:
        """A failure reply unless every requested id is a known phone."""
        ids = _ids(data)
        if not ids or any(device_id not in self.devices for device_id in ids):
            return result(CODE_NOT_FOUND, "设备不存在", str(data.get("id", ""))), []
        return None

    def _online(self, data: Frame) -> Reply | None:
        """A failure reply unless the phone is known and online."""
        if (failure := self._ids_known(data)) is not None:
            return failure
        if any(self.devices[device_id]["state"] != 1 for device_id in _ids(data)):
            return result(CODE_NOT_ONLINE, "设备不在线", str(data["id"])), []
        return None

    def _get(self, data: Frame) -> Reply:
        if not _ids(data):
            return result(list=list(self.devices.values())), []
        if (failure := self._ids_known(data)) is not None:
            return failure
        return result(list=[self.devices[device_id] for device_id in _ids(data)]), []

    def _restart(self, data: Frame) -> Reply:
        if (failure := self._online(data)) is not None:
            return failure
        device_id = str(data["id"])
        log = envelope("restart_log", result(0, "重启成功", device_id))
        return result(id=device_id), [log]

    def _usb_restart(self, data: Frame) -> Reply:
        ident = str(data.get("id", ""))
        phones = [
            device_id
            for device_id, record in self.devices.items()
            if record["vid"] and f"{record['vid']}_{record['pid']}" == ident
        ]
        if not phones:
            return result(CODE_NOT_FOUND, "硬件不存在", ident), []
        entries = [self.hardware(device_id) for device_id in phones]
        pushes = [
            envelope("usb_change", computer_link(entries, connected=False)),
            envelope("usb_change", computer_link(entries, connected=True)),
        ]
        return result(id=ident), pushes

    def _airplay(self, data: Frame, *, casting: bool) -> Reply:
        if (failure := self._ids_known(data)) is not None:
            return failure
        pushes = [frame for ident in _ids(data) for frame in self._cast(ident, casting=casting)]
        return result(id=str(data["id"])), pushes

    def _input(self, data: Frame) -> Reply:
        if (failure := self._online(data)) is not None:
            return failure
        if "key" in data or "fn_key" in data or "x" in data or "direction" in data:
            return result(id=str(data["id"])), []
        return result(CODE_BAD_PARAMS, "参数错误", str(data["id"])), []

    def _set(self, data: Frame) -> Reply:
        if (failure := self._ids_known(data)) is not None:
            return failure
        gid = int(data["gid"]) if str(data.get("gid", "")).isdigit() else data.get("gid")
        if gid is not None and gid not in self.groups:
            return result(CODE_BAD_PARAMS, "分组不存在", str(data["id"])), []
        records = [self.devices[device_id] for device_id in _ids(data)]
        for record in records:
            if "name" in data:
                record["name"] = str(data["name"])
            if gid is not None:
                record["gid"], record["gname"] = gid, self.groups[gid]
        return result(id=str(data["id"])), [envelope("dev_change", result(list=records))]

    def _del(self, data: Frame) -> Reply:
        if (failure := self._ids_known(data)) is not None:
            return failure
        return result(id=str(data["id"])), self._delete(_ids(data))

    def _delete(self, ids: list[str]) -> list[Frame]:
        for device_id in ids:
            self.devices.pop(device_id, None)
            self.unplugged.discard(device_id)
        return [envelope("dev_delete", result(list=ids))]

    def _group_set(self, data: Frame) -> Reply:
        name = data.get("name")
        if not isinstance(name, str) or not name:
            return result(CODE_BAD_PARAMS, "参数错误"), []
        gid = int(data.get("id") or max(self.groups) + 1)
        return result(id=str(gid), name=name), self._set_group(gid, name)

    def _set_group(self, gid: int, name: str) -> list[Frame]:
        self.groups[gid] = name
        for record in self.devices.values():
            if record["gid"] == gid:
                record["gname"] = name
        return [envelope("group_change", result(id=str(gid), name=name))]

    def _delete_groups(self, gids: list[int]) -> list[Frame]:
        for gid in gids:
            self.groups.pop(gid, None)
        for record in self.devices.values():
            if record["gid"] in gids:
                record["gid"], record["gname"] = 0, self.groups[0]
        ids = [str(gid) for gid in gids]
        return [envelope("group_delete", result(id=",".join(ids), list=ids))]


SIMULATOR = IMouseSimulator

VARIANTS: dict[str, dict[str, Any]] = {
    "vendor": {},
    "msgid_in_data": {"msgid_echo": "data"},
    "msgid_not_echoed": {"msgid_echo": "none"},
    "no_licence_login": {"licence_login": False},
    "no_greeting": {"greet": False},
    "no_pongs": {"answer_pings": False},
    "untyped_screenshots": {"screenshot_reply": "untyped"},
    "base64_screenshots": {"screenshot_reply": "base64"},
    "least_convenient": {
        "msgid_echo": "none",
        "licence_login": False,
        "greet": False,
        "answer_pings": False,
        "screenshot_reply": "untyped",
    },
}
"""Constructor switches for each behaviour the vendor leaves open; "vendor" is the default."""
