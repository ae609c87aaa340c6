"""A minimal Traccar server: the REST calls traccar_server makes and the /api/socket WebSocket.

What Home Assistant's traccar_server (pytraccar 3.0.0) calls: GET /api/server (config flow),
GET /api/devices, /api/positions and /api/geofences (every refresh), GET /api/session?token=
(a session cookie for the socket), the /api/socket WebSocket, DELETE /api/session when the
subscription ends, and /api/reports/events with the events option. Every REST call carries
``Authorization: Bearer <token>``; a wrong token gets 401.

Live updates go out the way a Traccar server sends them: on connect the latest positions, then
per device report a ``{"devices": [device]}`` message followed by a one-element
``{"positions": [position]}`` message, and ``{}`` as keep-alive.
"""

from __future__ import annotations

from datetime import UTC, datetime
import itertools
import json
import math
from typing import Any, ClassVar
import uuid

from aiohttp import web

from tests.simulator.base import Connection, HubSimulator

API = "/api"
SESSION_COOKIE = "JSESSIONID"
KEEPALIVE_SECONDS = 60.0
MODELS = ("FMB920", "FMB120", "GV300", "GT06N")
CATEGORIES = ("car", "truck", "van", "bus")
SERVER_VERSION = "6.6"
INITIAL_CHUNK = 1_000
"""Positions per message on connect (see on_connect)."""


def traccar_time(when: datetime | None = None) -> str:
    """A time as Traccar writes it: ISO 8601 with milliseconds and +00:00."""
    moment = when or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"


class TraccarSimulator(HubSimulator):
    """A Traccar server with `devices` GPS trackers around Berlin."""

    kind: ClassVar[str] = "traccar"
    ws_path: ClassVar[str] = f"{API}/socket"

    token = "RzBFAiEA1bench0token0for0the0traccar0simulator"  # noqa: S105 - a simulator's
    user_id = 1

    def __init__(
        self,
        *,
        devices: int = 3,
        host: str = "127.0.0.1",
        port: int = 0,
        event_rate: float = 0.0,
        seed: int = 1,
    ) -> None:
        """Make `devices` devices, each with a first position."""
        self.devices: dict[int, dict[str, Any]] = {}
        self.positions: dict[int, dict[str, Any]] = {}
        self.geofences: list[dict[str, Any]] = [
            {
                "id": 1,
                "name": "Depot",
                "description": None,
                "area": "CIRCLE (52.52 13.405, 500)",
                "calendarId": 0,
                "attributes": {},
            }
        ]
        self.sessions: set[str] = set()
        self._position_ids = itertools.count(1)
        super().__init__(devices=devices, host=host, port=port, event_rate=event_rate, seed=seed)

    # --- the fleet ---

    def build_fleet(self, devices: int) -> None:
        """Create the devices and their first positions."""
        for number in range(1, devices + 1):
            self.add_device(number)

    def add_device(self, number: int) -> dict[str, Any]:
        """Register device `number` (its id) with a position near Berlin."""
        rnd = self.random
        position = self._new_position(
            number,
            latitude=52.52 + rnd.uniform(-0.1, 0.1),
            longitude=13.405 + rnd.uniform(-0.15, 0.15),
            course=float(rnd.randrange(360)),
            speed=0.0,
        )
        device = {
            "id": number,
            "attributes": {},
            "groupId": 0,
            "calendarId": 0,
            "name": f"Vehicle {number}",
            "uniqueId": self.unique_id(number),
            "status": "online",
            "lastUpdate": position["serverTime"],
            "positionId": position["id"],
            "phone": None,
            "model": MODELS[number % len(MODELS)],
            "contact": None,
            "category": CATEGORIES[number % len(CATEGORIES)],
            "disabled": False,
            "expirationTime": None,
        }
        self.devices[number] = device
        self.positions[number] = position
        return device

    @staticmethod
    def unique_id(number: int) -> str:
        """The IMEI-like identifier of device `number`."""
        return f"35{number:013d}"

    def _new_position(
        self, device_id: int, *, latitude: float, longitude: float, course: float, speed: float
    ) -> dict[str, Any]:
        now = traccar_time()
        return {
            "id": next(self._position_ids),
            "attributes": {
                "sat": 12,
                "ignition": speed > 0,
                "motion": speed > 0,
                "distance": 0.0,
                "totalDistance": 1_000_000.0 + device_id,
                "hours": 3_600_000,
                "batteryLevel": 90,
                "power": 12.6,
            },
            "deviceId": device_id,
            "protocol": "teltonika",
            "serverTime": now,
            "deviceTime": now,
            "fixTime": now,
            "outdated": False,
            "valid": True,
            "latitude": latitude,
            "longitude": longitude,
            "altitude": 40.0,
            "speed": speed,
            "course": course,
            "address": None,
            "accuracy": 0.0,
            "network": None,
            "geofenceIds": None,
        }

    def move(
        self, device_id: int, *, metres: float = 30.0
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A report of one device that moved: its new device record and position."""
        old = self.positions[device_id]
        course = old["course"]
        lat = old["latitude"] + metres * math.cos(math.radians(course)) / 111_320
        lng = old["longitude"] + metres * math.sin(math.radians(course)) / (
            111_320 * math.cos(math.radians(lat))
        )
        position = self._new_position(
            device_id, latitude=lat, longitude=lng, course=course, speed=old["speed"]
        )
        position["attributes"]["distance"] = metres
        self.positions[device_id] = position
        device = self.devices[device_id]
        device.update(lastUpdate=position["serverTime"], positionId=position["id"])
        return device, position

    def report_frames(self, device_id: int) -> tuple[str, str]:
        """The two messages Traccar sends for one report of a moving device."""
        device, position = self.move(device_id)
        return json.dumps({"devices": [device]}), json.dumps({"positions": [position]})

    async def tick(self) -> None:
        """Every device reports once."""
        for device_id in list(self.devices):
            for frame in self.report_frames(device_id):
                await self.push(frame)

    # --- REST ---

    def add_routes(self, app: web.Application) -> None:
        """The REST endpoints traccar_server and pytraccar use."""
        app.router.add_get(f"{API}/server", self._server)
        app.router.add_get(f"{API}/devices", self._devices)
        app.router.add_get(f"{API}/positions", self._positions)
        app.router.add_get(f"{API}/geofences", self._geofences)
        app.router.add_get(f"{API}/reports/events", self._reports_events)
        app.router.add_get(f"{API}/session", self._open_session)
        app.router.add_delete(f"{API}/session", self._close_session)

    def _authorized(self, request: web.Request) -> bool:
        if self.credentials_revoked:
            return False
        if request.headers.get("Authorization") == f"Bearer {self.token}":
            return True
        return request.cookies.get(SESSION_COOKIE) in self.sessions

    def _answer(self, request: web.Request, body: Any) -> web.Response:
        if not self._authorized(request):
            return web.Response(status=401, text="Unauthorized")
        return web.json_response(body)

    async def _server(self, request: web.Request) -> web.Response:
        return self._answer(
            request,
            {
                "id": 1,
                "attributes": {},
                "registration": False,
                "readonly": False,
                "deviceReadonly": False,
                "limitCommands": False,
                "map": None,
                "bingKey": None,
                "mapUrl": None,
                "poiLayer": None,
                "latitude": 0.0,
                "longitude": 0.0,
                "zoom": 0,
                "twelveHourFormat": False,
                "version": SERVER_VERSION,
                "forceSettings": False,
                "coordinateFormat": None,
                "openIdEnabled": False,
                "openIdForce": False,
            },
        )

    async def _devices(self, request: web.Request) -> web.Response:
        return self._answer(request, list(self.devices.values()))

    async def _positions(self, request: web.Request) -> web.Response:
        return self._answer(request, list(self.positions.values()))

    async def _geofences(self, request: web.Request) -> web.Response:
        return self._answer(request, self.geofences)

    async def _reports_events(self, request: web.Request) -> web.Response:
        return self._answer(request, [])

    async def _open_session(self, request: web.Request) -> web.Response:
        if self.credentials_revoked or request.query.get("token") != self.token:
            return web.Response(status=401, text="Unauthorized")
        session = uuid.UUID(int=self.random.getrandbits(128)).hex
        self.sessions.add(session)
        response = web.json_response(
            {"id": self.user_id, "name": "admin", "login": "admin", "administrator": True}
        )
        response.set_cookie(SESSION_COOKIE, session, path="/")
        return response

    async def _close_session(self, request: web.Request) -> web.Response:
        self.sessions.discard(request.cookies.get(SESSION_COOKIE, ""))
        return web.Response(status=204)

    # --- WebSocket ---

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Only a logged-in session may open the socket, as on a real server."""
        if request.cookies.get(SESSION_COOKIE) not in self.sessions:
            raise web.HTTPUnauthorized
        return await super()._websocket(request)

    async def on_connect(self, conn: Connection) -> None:
        """The latest positions first, then a keep-alive now and then.

        A real server sends every latest position in one message. With thousands of devices
        that message is over the 4 MiB aiohttp accepts by default, and pytraccar (which sets no
        max_msg_size) drops the socket and retries forever; so they go out INITIAL_CHUNK at a
        time here.
        """
        positions = list(self.positions.values())
        for start in range(0, len(positions), INITIAL_CHUNK):
            await conn.send({"positions": positions[start : start + INITIAL_CHUNK]})
        conn.every(KEEPALIVE_SECONDS, lambda: conn.send("{}"))

    async def on_text(self, conn: Connection, text: str) -> None:
        """Traccar ignores what clients send on the socket."""


SIMULATOR = TraccarSimulator
