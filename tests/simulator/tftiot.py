"""TFT IoT Open API simulator: the push WebSocket at /websocket and the REST API under /v2.

By default it does what the vendor page shows and nothing more: no reply to a good sign-in (the
trackers' snapshots follow it), no answer to the text "ping", and the message push on a socket
of its own (the page says to connect again for it). Where the vendor is silent, constructor
switches play the other plausible servers (VARIANTS lists them). The simulator's own choices
(marked [I]): a refusal is an error frame, then the socket closes; `registUserMessage` gets no
reply unless it is refused; an alarm through `messagePass` names its tracker in
`alarm_msg.imei`; a hub ending a session sends an unsolicited sign-in error.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
import hashlib
import json
import math
import time
from typing import Any, ClassVar, Final
import uuid

from aiohttp import web

from .base import Connection, HubSimulator

ERROR_INVALID_REQUEST = 1000
ERROR_BAD_PASSWORD = 1001
ERROR_BAD_TOKEN = 1002
ERROR_SESSION_ENDED = 1003
ERROR_DEVICE_OFFLINE = 2001
ERROR_UNKNOWN_DEVICE = 2002
TOKEN_KEEP_TIME = 7200
REFUSED_CLOSE_CODE = 1008
"""Policy violation: how the simulated server closes a socket whose credentials it refused."""

# Every field of the vendor page's snapshot status, with its sample value; trackers override
# the ones they simulate.
STATUS_TEMPLATE: dict[str, Any] = {
    "ac": -1,
    "acc": 1,
    "acc_switch_time": 1627692684000,
    "accumulating_fuel_consumption": 0,
    "address": "",
    "air_inflow_temp": 0,
    "air_input": 0,
    "air_pressure": 0,
    "alert_sum": "404228143--972-2129968",
    "alerts": 0,
    "alerts1": 0,
    "altitude": 42,
    "analog1": 0.0703125,
    "analog2": 0.0703125,
    "analog3": 0,
    "analog4": 0,
    "analog5": 0,
    "antithefted": 0,
    "antithefted_status": 0,
    "azimuth": 143,
    "bat": 0,
    "battery_voltage": 4.24,
    "battery_voltage_percent": 100,
    "comment": "",
    "cooling_fluid_temp": 0,
    "cur_event": 0,
    "date": 1627693682000,
    "dragThreshold": 0,
    "drag_threshold": 0,
    "engine_load": 0,
    "engine_time": 13057434,
    "event": 0,
    "external_power_voltage": 28.09,
    "fuel": 0,
    "gps": True,
    "gpsWorking": True,
    "idle_status": 1,
    "imei": "1000000000002567",
    "input": "1:0|2:0|3:1|4:0|5:0|6:0|7:0|8:0",
    "instant_fuel_consumption": 0,
    "iop": 16384,
    "is_external_battery_lower": 0,
    "is_inner_battery_lower": 0,
    "is_solar_charging": 0,
    "is_usb_charging": 0,
    "last_reg_date": 1627693682000,
    "lat": 14.824593,
    "latlng_valid": 1,
    "link_type": "tcp",
    "lng": 120.482598,
    "location_date": 1627693682000,
    "mileage": 145278016,
    "network_signal": -999,
    "obd_version": "",
    "online": 1,
    "output": "1:0|2:0|3:0|4:0|5:0|6:0|7:0|8:0",
    "polling": 1627693682000,
    "pwr": -1,
    "relay": 0,
    "relay_status": 0,
    "remain_fuel_rate": 0,
    "rpm": 0,
    "rs232_device_valid": 0,
    "satellite_count": 11,
    "solar_voltage": 0,
    "speed": 0,
    "throttle_position": 0,
    "version": "",
}


def md5_hex(text: str) -> str:
    """Lowercase MD5 hex, as the Open API expects passwords."""
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


PARKED_FIX_SECONDS = 300.0
"""The demo: how often a parked tracker sends a fix (a tracker's parking-mode interval)."""
FUEL_PER_KM = 0.3
"""Litres a simulated truck burns per kilometre."""
ADDRESSES = (
    "Alexanderplatz 1, 10178 Berlin",
    "Unter den Linden 77, 10117 Berlin",
    "Kurfürstendamm 21, 10719 Berlin",
    "Potsdamer Platz 1, 10785 Berlin",
)
"""The demo's addresses (the platform gives one per fix)."""
DEMO_DRIVER = {"name": "A. Fahrer", "card": "DE0042"}
"""The driver's card a demo truck reads when a trip starts (the page shows no fields)."""


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return int(time.time() * 1000)


@dataclass
class Tracker:
    """One simulated GPS tracker."""

    imei: str
    id: int
    name: str
    model: str = "T1"
    lat: float = 14.824593
    lng: float = 120.482598
    azimuth: float = 143.0
    speed: float = 0.0
    altitude: int = 42
    online: bool = True
    acc: bool = True
    valid: bool = True
    battery: int = 100
    battery_voltage: float = 4.24
    external_voltage: float = 28.09
    mileage: int = 145278016
    satellites: int = 11
    signal: int = -999
    relay: int = 0
    cur_event: int = 0
    inputs: list[int] = field(default_factory=lambda: [0, 0, 1, 0, 0, 0, 0, 0])
    date: int = field(default_factory=now_ms)
    location_date: int = field(default_factory=now_ms)
    acc_switch_time: int = field(default_factory=now_ms)
    engine_time: int = 13_057_434
    """Seconds the engine has run (the vendor sample's value)."""
    fuel: float = 0.0
    antithefted: int = 0
    external_battery_low: int = 0
    address: str = ""

    @property
    def device_key(self) -> str:
        """The platform's device key (derived from the id, like the sample's)."""
        return str(191972038000000 + self.id)

    def status(self) -> dict[str, Any]:
        """The status object as snapshots and the REST device list carry it."""
        ports = "|".join(f"{n}:{v}" for n, v in enumerate(self.inputs, 1))
        return {
            **STATUS_TEMPLATE,
            "acc": int(self.acc),
            "acc_switch_time": self.acc_switch_time,
            "altitude": self.altitude,
            "azimuth": round(self.azimuth),
            "battery_voltage": self.battery_voltage,
            "battery_voltage_percent": self.battery,
            "cur_event": self.cur_event,
            "date": self.date,
            "external_power_voltage": self.external_voltage,
            "imei": self.imei,
            "input": ports,
            "last_reg_date": self.date,
            "lat": round(self.lat, 6),
            "latlng_valid": int(self.valid),
            "lng": round(self.lng, 6),
            "location_date": self.location_date,
            "mileage": self.mileage,
            "network_signal": self.signal,
            "online": int(self.online),
            "polling": self.date,
            "relay": self.relay,
            "relay_status": self.relay,
            "satellite_count": self.satellites if self.valid else 0,
            "speed": round(self.speed, 1),
            "engine_time": self.engine_time,
            "fuel": round(self.fuel, 1),
            "antithefted": self.antithefted,
            "is_external_battery_lower": self.external_battery_low,
            "address": self.address,
        }

    def data(self) -> dict[str, Any]:
        """A snapshot's data object."""
        return {
            "device_key": self.device_key,
            "id": self.id,
            "imei": self.imei,
            "model": self.model,
            "status": self.status(),
        }

    def record(self) -> dict[str, Any]:
        """A REST device-list entry."""
        return {**self.data(), "config": {"name": self.name}}

    def drive(self, rng: Any) -> None:
        """Move a little along a wandering route; the ignition sometimes flips."""
        self.date = now_ms()
        if rng.random() < 0.05:
            self.acc = not self.acc
            self.acc_switch_time = self.date
        self.speed = rng.uniform(20, 90) if self.acc else 0.0
        self.azimuth = (self.azimuth + rng.uniform(-25, 25)) % 360
        step = self.speed / 3600 / 111  # degrees in about a second
        self.lat += step * math.cos(math.radians(self.azimuth))
        self.lng += step * math.sin(math.radians(self.azimuth))
        self.mileage += round(self.speed / 3.6)
        if self.acc:
            self.engine_time += 1
        self.valid = rng.random() >= 0.05
        if self.valid:
            self.location_date = self.date
            self.satellites = rng.randint(6, 14)
        self.signal = rng.choice((-999, 12, 18, 25, 31))


class TftIotSimulator(HubSimulator):
    """A TFT IoT Open API account with a fleet of trackers."""

    kind: ClassVar[str] = "tftiot"
    ws_path: ClassVar[str] = "/websocket"
    client_sockets: ClassVar[int] = 2
    """WebSockets one FleetPush client keeps open: the device push and the message push."""

    def __init__(
        self,
        *,
        user_id: str = "100861",
        password: str = "tft-demo-pass",  # noqa: S107 - a simulator's demo account
        signin_reply: bool = False,
        pong: bool = False,
        shared_socket: bool = False,
        snapshot_on_signin: bool = True,
        refuse_by_closing: bool = False,
        **kwargs: Any,
    ) -> None:
        """Make an account (user_id, password) and a fleet; see HubSimulator for kwargs.

        signin_reply: answer a good sign-in with {"event": "signin", "error": 0}.
        pong: answer the text "ping" with "pong".
        shared_socket: serve the message push on the device socket too, not only on a socket
        of its own (either way a socket carrying one push ignores the other's registration).
        snapshot_on_signin: push every tracker's snapshot right after a sign-in (else only
        trackers that report later).
        refuse_by_closing: refuse bad credentials by closing the socket without an error frame.
        """
        self.user_id = user_id
        self.password = password
        self.signin_reply = signin_reply
        self.pong = pong
        self.shared_socket = shared_socket
        self.snapshot_on_signin = snapshot_on_signin
        self.refuse_by_closing = refuse_by_closing
        self.accounts: dict[str, str] = {user_id: password}
        self.trackers: dict[str, Tracker] = {}
        self.tokens: dict[str, str] = {}
        """REST access token -> account."""
        self.commands: list[dict[str, Any]] = []
        """Every command queued through REST."""
        self.rest_enabled = True
        self.rest_delay = 0.0
        self.rest_requests: list[str] = []
        """The path of every REST request clients made, answered or not."""
        self._serial = 0
        super().__init__(**kwargs)

    @property
    def password_md5(self) -> str:
        """The MD5 the client sends (the stored config holds this, not the password)."""
        return md5_hex(self.password)

    @property
    def rest_url(self) -> str:
        """The REST base (config key "rest_url")."""
        return f"{self.base_url}/v2"

    def config(self) -> dict[str, Any]:
        """Config-entry data that connects to this simulator."""
        return {
            "url": self.url,
            "username": self.user_id,
            "password": self.password_md5,
            "verify_ssl": False,
            "rest_url": self.rest_url,
        }

    def form(self) -> dict[str, Any]:
        """The push URL and the account, as a user types them (the password in clear)."""
        return {
            "url": self.url,
            "username": self.user_id,
            "password": self.password,
            "verify_ssl": True,
        }

    @property
    def hub_unique_id(self) -> str:
        """An account is known by its server's host and its user id."""
        return f"{self.host}:{self.user_id}"

    def fleet_ids(self) -> list[str]:
        """The trackers' IMEIs: FleetPush's device ids."""
        return list(self.trackers)

    def is_online(self, device_id: str) -> bool:
        """What a tracker's Online sensor must show: its status.online."""
        return self.trackers[device_id].online

    def add_account(self, user_id: str, password: str) -> None:
        """Accept another account (it sees the same fleet)."""
        self.accounts[user_id] = password

    def build_fleet(self, devices: int) -> None:
        """Create `devices` trackers scattered around the vendor sample's position."""
        for _ in range(devices):
            self._new_tracker()

    def _new_tracker(self, name: str | None = None, model: str = "T1") -> Tracker:
        self._serial += 1
        number = self._serial
        tracker = Tracker(
            imei=f"86{number:013d}",
            id=26846 + number,
            name=name or f"Truck {number}",
            model=model,
            lat=14.824593 + self.random.uniform(-0.2, 0.2),
            lng=120.482598 + self.random.uniform(-0.2, 0.2),
            azimuth=self.random.uniform(0, 360),
            battery=self.random.randint(20, 100),
            mileage=self.random.randint(1_000_000, 200_000_000),
            online=number % 7 != 0,
            acc=number % 3 != 0,
            fuel=float(120 + 37 * number % 200),
            address=ADDRESSES[number % len(ADDRESSES)],
        )
        if self.pace == "demo":  # online and parked, until their routine says otherwise
            tracker.online, tracker.acc, tracker.signal = True, False, 24
        self.trackers[tracker.imei] = tracker
        return tracker

    # --- helpers for tests (each goes through the real protocol path) ---

    async def add_device(self, name: str | None = None, model: str = "T1") -> str:
        """Add a tracker, push its snapshot, return its IMEI."""
        tracker = self._new_tracker(name, model)
        await self.push_snapshot(tracker.imei)
        return tracker.imei

    async def remove_device(self, imei: str) -> None:
        """Delete a tracker; the push has no removal event, REST stops listing it."""
        self.trackers.pop(imei)

    async def set_online(self, imei: str, online: bool) -> None:
        """Take a tracker on or off line and push its snapshot."""
        self.trackers[imei].online = online
        await self.push_snapshot(imei)

    async def set_cur_event(self, imei: str, number: int) -> None:
        """Raise (or clear, with 0) a tracker's alarm number in its snapshot."""
        self.trackers[imei].cur_event = number
        await self.push_snapshot(imei)

    async def alarm(self, imei: str, number: int, message: str) -> None:
        """Push an alarm through the message channel (messagePass, from_id 1)."""
        date = now_ms()
        await self.push_message(
            {
                "type": "messagePass",
                "from_id": 1,
                "from_name": "Alarm",
                "message": message,
                "alarm_msg": {"imei": imei, "cur_event": number, "date": date},
                "date": date,
            }
        )

    async def send_message(self, message: str, from_id: int = 0, from_name: str = "System") -> None:
        """Push an ordinary messagePass (0 is the system, others are users)."""
        await self.push_message(
            {
                "type": "messagePass",
                "from_id": from_id,
                "from_name": from_name,
                "message": message,
                "alarm_msg": {},
                "date": now_ms(),
            }
        )

    async def push_snapshot(self, imei: str) -> None:
        """Push one tracker's snapshot to every signed-in connection."""
        frame = {"event": "snapshot", "data": self.trackers[imei].data(), "error": 0}
        await self._push_where("user", frame)

    async def push_accessory(self, imei: str, event: str, data: dict[str, Any]) -> None:
        """Push an accessory's update (bleTire, rs232Tire, driver, obdErrorInfo, rs232Fuel)."""
        frame = {"event": event, "data": {"imei": imei, **data}, "error": 0}
        await self._push_where("user", frame)

    async def push_message(self, frame: dict[str, Any]) -> None:
        """Push a frame to every connection registered for messages."""
        await self._push_where("messages", frame)

    async def end_sessions(self, message: str = "signed in elsewhere") -> None:
        """End every signed-in session with an unsolicited sign-in error [I]."""
        frame = {"event": "signin", "error": ERROR_SESSION_ENDED, "message": message}
        await self._push_where("user", frame)

    def expire_tokens(self) -> None:
        """Forget every REST access token."""
        self.tokens.clear()

    def revoke_credentials(self) -> None:
        """Refuse every sign-in and every token from now on."""
        super().revoke_credentials()
        self.tokens.clear()

    async def _push_where(self, key: str, frame: dict[str, Any]) -> None:
        for conn in list(self.connections):
            if conn.state.get(key):
                await conn.send(frame)

    # --- the push WebSocket ---

    def _valid(self, user: Any, md5: Any) -> str | None:
        """The account a user id (or REST token [I]) and MD5 sign in to, if valid."""
        if self.credentials_revoked or not isinstance(user, str):
            return None
        account = self.tokens.get(user, user)
        password = self.accounts.get(account)
        return account if password is not None and md5 == md5_hex(password) else None

    async def on_text(self, conn: Connection, text: str) -> None:
        """Answer ping (if told to), sign-in and message registration."""
        if text == "ping":
            if self.pong:
                await conn.send("pong")
            return
        try:
            frame = json.loads(text)
        except ValueError:
            return
        if not isinstance(frame, dict):
            return
        if frame.get("event") == "signin":
            await self._signin(conn, frame)
        elif frame.get("type") == "registUserMessage":
            await self._regist(conn, frame)

    def _serves(self, conn: Connection, push: str) -> bool:
        """Whether this socket takes a registration for `push` ("user" or "messages")."""
        other = "messages" if push == "user" else "user"
        return self.shared_socket or other not in conn.state

    async def _signin(self, conn: Connection, frame: dict[str, Any]) -> None:
        if not self._serves(conn, "user"):
            return
        account = self._valid(frame.get("token"), frame.get("md5-password"))
        if account is None:
            error = {"event": "signin", "error": ERROR_BAD_PASSWORD, "message": "password error"}
            await self._refuse(conn, error)
            return
        conn.state["user"] = account
        if self.signin_reply:
            await conn.send({"event": "signin", "error": 0})
        if self.snapshot_on_signin:
            for tracker in list(self.trackers.values()):
                await conn.send({"event": "snapshot", "data": tracker.data(), "error": 0})

    async def _regist(self, conn: Connection, frame: dict[str, Any]) -> None:
        if not self._serves(conn, "messages"):
            return
        account = self._valid(frame.get("user_id"), frame.get("md5-password"))
        if account is None:
            await self._refuse(conn, {"type": "registUserMessage", "error": ERROR_BAD_PASSWORD})
            return
        conn.state["messages"] = account

    async def _refuse(self, conn: Connection, error: dict[str, Any]) -> None:
        """Refuse credentials: an error frame (unless refuse_by_closing), then close [I]."""
        if not self.refuse_by_closing:
            await conn.send(error)
        await conn.close(REFUSED_CLOSE_CODE)

    async def demo_tick(self) -> None:
        """Trips of minutes and parking between them; now and then a parked tracker offline."""
        for tracker in list(self.trackers.values()):
            match self.follow(tracker.imei):
                case "active":
                    tracker.acc, tracker.speed = True, self.random.uniform(30, 60)
                    tracker.acc_switch_time = now_ms()
                    tracker.antithefted = 0
                    await self.push_accessory(tracker.imei, "driver", DEMO_DRIVER)
                case "resting":
                    tracker.acc, tracker.speed = False, 0.0
                    tracker.acc_switch_time = now_ms()
                    tracker.antithefted = 1
                case "offline" | "online" as change:
                    tracker.online = change == "online"
                case None if not tracker.acc:
                    await self._parked_fix(tracker)
                    continue
            if tracker.acc:
                tracker.speed = max(15.0, min(80.0, tracker.speed + self.random.uniform(-3, 3)))
                km = tracker.speed * self.tick_seconds / 3600
                tracker.lat, tracker.lng, tracker.azimuth = self.drive(
                    tracker.imei, tracker.lat, tracker.lng, tracker.azimuth, km
                )
                tracker.mileage += round(km * 1000)
                tracker.engine_time += round(self.tick_seconds)
                tracker.fuel = max(5.0, tracker.fuel - km * FUEL_PER_KM)
                tracker.address = ADDRESSES[int(tracker.mileage / 1000) % len(ADDRESSES)]
                tracker.location_date = now_ms()
            tracker.date = now_ms()
            await self.push_snapshot(tracker.imei)

    async def _parked_fix(self, tracker: Tracker) -> None:
        """A parked, connected tracker still fixes now and then (so its position stays fresh)."""
        routine = self.routine(tracker.imei)
        if tracker.online and self.clock - routine.reported >= PARKED_FIX_SECONDS:
            routine.reported = self.clock
            tracker.date = tracker.location_date = now_ms()
            await self.push_snapshot(tracker.imei)

    async def tick(self) -> None:
        """Online trackers drive and report; now and then one drops off or comes back."""
        for tracker in list(self.trackers.values()):
            if self.random.random() < 0.01:
                tracker.online = not tracker.online
            elif not tracker.online:
                continue
            tracker.drive(self.random)
            await self.push_snapshot(tracker.imei)

    # --- the REST API ---

    def add_routes(self, app: web.Application) -> None:
        """REST under /v2: access token, device list, command queue."""
        app.router.add_post("/v2/auth/action", self._rest_auth)
        app.router.add_get("/v2/devices", self._rest_devices)
        app.router.add_post("/v2/device-waiting-send-cmds", self._rest_command)

    async def _rest_body(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The JSON body, or the response that ends the request."""
        self.rest_requests.append(request.path)
        if self.rest_delay:
            await asyncio.sleep(self.rest_delay)
        if not self.rest_enabled:
            return web.Response(status=503, text="<html>Service Unavailable</html>")
        if request.method == "GET":
            return {}
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _rest_error(ERROR_INVALID_REQUEST, "invalid request", status=400)
        return body

    def _rest_account(self, request: web.Request) -> str | None:
        if self.credentials_revoked:
            return None
        return self.tokens.get(request.query.get("access-token", ""))

    async def _rest_auth(self, request: web.Request) -> web.Response:
        body = await self._rest_body(request)
        if isinstance(body, web.Response):
            return body
        login = body.get("getAccessToken")
        login = login if isinstance(login, dict) else {}
        account = login.get("account")
        md5 = login.get("password-md5")
        if account not in self.accounts or self._valid(account, md5) is None:
            return _rest_error(ERROR_BAD_PASSWORD, "account or password error")
        token = str(uuid.uuid4())
        self.tokens[token] = account
        return web.json_response({"code": 0, "access-token": token, "keep-time": TOKEN_KEEP_TIME})

    async def _rest_devices(self, request: web.Request) -> web.Response:
        body = await self._rest_body(request)
        if isinstance(body, web.Response):
            return body
        if self._rest_account(request) is None:
            return _rest_error(ERROR_BAD_TOKEN, "access-token invalid")
        devices = [tracker.record() for tracker in self.trackers.values()]
        return web.json_response({"code": 0, "devices": devices})

    async def _rest_command(self, request: web.Request) -> web.Response:
        body = await self._rest_body(request)
        if isinstance(body, web.Response):
            return body
        if self._rest_account(request) is None:
            return _rest_error(ERROR_BAD_TOKEN, "access-token invalid")
        imeis, message = body.get("imeis"), body.get("message")
        if not isinstance(imeis, list) or not imeis or not isinstance(message, str) or not message:
            return _rest_error(ERROR_INVALID_REQUEST, "imeis and message are required")
        for imei in imeis:
            tracker = self.trackers.get(imei)
            if tracker is None:
                return _rest_error(ERROR_UNKNOWN_DEVICE, f"device {imei} not found")
            if not tracker.online:
                return _rest_error(ERROR_DEVICE_OFFLINE, f"device {imei} is offline")
        self.commands.append({"imeis": imeis, "message": message})
        await self._apply(imeis, message)
        return web.json_response({"code": 0, "msg": "ok", "cmd_id": len(self.commands)})

    async def _apply(self, imeis: list[str], message: str) -> None:
        """Relay commands ("RELAY,1#" cuts the engine) change what the trackers report."""
        relay = {"RELAY,1#": 1, "RELAY,0#": 0}.get(message.strip().upper())
        if relay is None:
            return
        for imei in imeis:
            self.trackers[imei].relay = relay
            await self.push_snapshot(imei)


def _rest_error(code: int, message: str, status: int = 200) -> web.Response:
    return web.json_response({"code": code, "msg": message}, status=status)


SIMULATOR = TftIotSimulator

VARIANTS: Final[dict[str, dict[str, Any]]] = {
    "vendor": {},
    "signin_reply": {"signin_reply": True},
    "pong": {"pong": True},
    "shared_socket": {"shared_socket": True},
    "no_snapshot_on_signin": {"snapshot_on_signin": False},
    "refuse_by_closing": {"refuse_by_closing": True},
    "least_convenient": {
        "signin_reply": False,
        "pong": False,
        "shared_socket": False,
        "snapshot_on_signin": False,
        "refuse_by_closing": True,
    },
}
"""Servers the vendor page allows: "vendor" is what it shows; each other entry changes one point
it leaves open; "least_convenient" takes the hardest setting of every switch."""
