"""What every hub simulator shares: the server, its connections and the fault hooks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import dataclass
import json
import math
import random
from typing import Any, ClassVar, Literal, Self

from aiohttp import WSMsgType, web

type Pace = Literal["test", "demo"]
"""How a fleet behaves between ticks (see HubSimulator.step). "test": something changes on every
tick, fast and harsh, so that tests see every transition quickly. "demo": as a real fleet, in
real time: trips and tasks of minutes, parking and idling, now and then a device offline."""

ACTIVE_FOR = (180.0, 720.0)
"""Demo pace: seconds a trip or a task lasts."""
RESTING_FOR = (60.0, 300.0)
"""Demo pace: seconds a vehicle stays parked or a phone idle between two."""
ACTIVE_AT_START = 0.6
"""Demo pace: the share of a fleet that is driving or busy when the demo starts."""
OFFLINE_EVERY = 45 * 60.0
"""Demo pace: a resting device goes offline about once in this many seconds of resting."""
OFFLINE_FOR = (60.0, 180.0)
"""Demo pace: seconds an offline device stays away."""
ROAM_KM = 4.0
"""Demo pace: how far a vehicle drives from where it started before it heads back."""
TURN_EVERY_KM = 0.8
"""Demo pace: a driving vehicle turns a corner about once per this many kilometres."""
KM_PER_DEGREE = 111.32
"""Kilometres per degree of latitude."""


class Connection:
    """One client connected to a simulator."""

    def __init__(self, simulator: HubSimulator, ws: web.WebSocketResponse) -> None:
        """Wrap the server side of one WebSocket."""
        self.simulator = simulator
        self.ws = ws
        self.state: dict[str, Any] = {}
        """Per-connection protocol state (authenticated, subscriptions, ...)."""
        self._tasks: set[asyncio.Task[None]] = set()

    async def send(self, frame: str | bytes | dict[str, Any] | list[Any]) -> None:
        """Send a frame unless the simulator is playing dead or the socket is gone."""
        if self.simulator.silent or self.ws.closed:
            return
        try:
            if isinstance(frame, bytes):
                await self.ws.send_bytes(frame)
            elif isinstance(frame, str):
                await self.ws.send_str(frame)
            else:
                await self.ws.send_str(json.dumps(frame, ensure_ascii=False))
        except ConnectionError, RuntimeError:
            pass

    def every(self, seconds: float, action: Callable[[], Awaitable[None]]) -> None:
        """Run an action periodically while this connection is open."""

        async def loop() -> None:
            while not self.ws.closed:
                await asyncio.sleep(seconds)
                await action()

        task = asyncio.get_running_loop().create_task(loop())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, code: int = 1000) -> None:
        """Close this connection from the server side."""
        for task in list(self._tasks):
            task.cancel()
        await self.ws.close(code=code)


@dataclass
class Routine:
    """What one device does at the demo pace: active (driving, busy) and resting by turns, and
    now and then offline for a while, only ever while resting."""

    active: bool
    until: float
    """When the current phase ends, on the simulator's clock."""
    offline: bool = False
    home: tuple[float, float] | None = None
    """A vehicle's starting point, which it never drives far from."""
    reported: float = -math.inf
    """When it last reported, on the simulator's clock."""


class HubSimulator:
    """A hub on loopback; subclasses speak one protocol.

    Fault hooks for tests: push(), push_invalid_text(), drop_connections(), stop_answering(),
    resume_answering(), revoke_credentials(), restart().
    """

    kind: ClassVar[str]
    ws_path: ClassVar[str] = "/"
    max_msg_size: ClassVar[int] = 64 * 1024 * 1024

    def __init__(
        self,
        *,
        devices: int = 3,
        host: str = "127.0.0.1",
        port: int = 0,
        event_rate: float = 0.0,
        seed: int = 1,
        answer_pings: bool = True,
        pace: Pace = "test",
    ) -> None:
        """Make a fleet of `devices`; with event_rate, that many ticks per second at `pace`.

        answer_pings=False plays a server that ignores WebSocket pings (RFC 6455 says answer).
        """
        self.host = host
        self.port = port
        self.event_rate = event_rate
        self.answer_pings = answer_pings
        self.pace: Pace = pace
        self.clock = 0.0
        """Seconds the ticks have covered so far (each covers 1 / event_rate)."""
        self.routines: dict[Any, Routine] = {}
        """Demo pace: each device's routine, by its id."""
        self.accepted = 0
        """How many WebSocket connections were accepted since the start."""
        self.random = random.Random(seed)  # noqa: S311 - a simulation, not cryptography
        self.silent = False
        self.credentials_revoked = False
        self.connections: set[Connection] = set()
        self.received: list[str] = []
        """Every text frame clients sent, for tests to inspect."""
        self._runner: web.AppRunner | None = None
        self._events: asyncio.Task[None] | None = None
        self.build_fleet(devices)

    # --- for subclasses ---

    def build_fleet(self, devices: int) -> None:
        """Create the simulated devices."""
        raise NotImplementedError

    def form(self) -> dict[str, Any]:
        """What a user types into this hub kind's setup form to add this hub."""
        raise NotImplementedError

    @property
    def hub_unique_id(self) -> str:
        """The unique id FleetPush gives this hub (its config entry's)."""
        raise NotImplementedError

    def add_routes(self, app: web.Application) -> None:
        """Add REST routes beside the WebSocket, if the hub has any."""

    async def on_connect(self, conn: Connection) -> None:
        """Greet a new connection (handshake frames)."""

    async def on_text(self, conn: Connection, text: str) -> None:
        """Answer one text frame from a client."""
        raise NotImplementedError

    async def tick(self) -> None:
        """Make the fleet do something (move, go busy, ...) once: the test pace's tick."""

    async def demo_tick(self) -> None:
        """What a real fleet does in tick_seconds: the demo pace's tick (see routine)."""

    # --- pace ---

    @property
    def tick_seconds(self) -> float:
        """How much time one tick covers."""
        return 1.0 / self.event_rate if self.event_rate > 0 else 1.0

    async def step(self) -> None:
        """One tick at the simulator's pace, the clock moved on by tick_seconds."""
        self.clock += self.tick_seconds
        if self.pace == "demo":
            await self.demo_tick()
        else:
            await self.tick()

    def later(self, span: tuple[float, float]) -> float:
        """A time on the clock, somewhere in span (seconds) from now."""
        return self.clock + self.random.uniform(*span)

    def routine(self, device: Any) -> Routine:
        """A device's demo routine (resting until follow starts it)."""
        if device not in self.routines:
            self.routines[device] = Routine(active=False, until=self.clock)
        return self.routines[device]

    def follow(
        self,
        device: Any,
        active_for: tuple[float, float] = ACTIVE_FOR,
        resting_for: tuple[float, float] = RESTING_FOR,
        offline_for: tuple[float, float] = OFFLINE_FOR,
    ) -> str | None:
        """Move a device's routine on to the clock; what it starts: "active", "resting",
        "offline", "online" (resting again) or None (it carries on).

        A fleet was under way before the clock started: on its first call a device becomes
        active (with the odds of ACTIVE_AT_START) part of the way into its phase, or rests for
        part of a rest, so that a fleet shows a bit of everything from the start.
        """
        if device not in self.routines:
            return self._under_way(self.routine(device), active_for, resting_for)
        routine = self.routine(device)
        if routine.offline:
            if self.clock < routine.until:
                return None
            routine.offline, routine.until = False, self.later(resting_for)
            return "online"
        if not routine.active and self.random.random() < self.tick_seconds / OFFLINE_EVERY:
            routine.offline, routine.until = True, self.later(offline_for)
            return "offline"
        if self.clock < routine.until:
            return None
        routine.active = not routine.active
        routine.until = self.later(active_for if routine.active else resting_for)
        return "active" if routine.active else "resting"

    def _under_way(
        self, routine: Routine, active_for: tuple[float, float], resting_for: tuple[float, float]
    ) -> str | None:
        """A new routine, part of the way into a phase: "active" if it starts active."""
        if self.random.random() < ACTIVE_AT_START:
            routine.active, routine.until = True, self.later((30.0, active_for[1]))
            return "active"
        routine.until = self.later((0.0, resting_for[1]))
        return None

    def drive(
        self, device: Any, lat: float, lng: float, heading: float, km: float
    ) -> tuple[float, float, float]:
        """Where a vehicle is after `km` more: its new latitude, longitude and heading.

        It turns a corner now and then, and heads back to where it started once ROAM_KM away.
        """
        routine = self.routine(device)
        if routine.home is None:
            routine.home = (lat, lng)
        home_lat, home_lng = routine.home
        north = (home_lat - lat) * KM_PER_DEGREE
        east = (home_lng - lng) * KM_PER_DEGREE * math.cos(math.radians(lat))
        if math.hypot(north, east) > ROAM_KM:
            homeward = math.degrees(math.atan2(east, north))
            turn = (homeward - heading + 180) % 360 - 180
            heading += max(-30.0, min(30.0, turn))
        elif self.random.random() < km / TURN_EVERY_KM:
            heading += self.random.choice((-90, -45, 45, 90))
        heading %= 360
        lat += km * math.cos(math.radians(heading)) / KM_PER_DEGREE
        lng += km * math.sin(math.radians(heading)) / (KM_PER_DEGREE * math.cos(math.radians(lat)))
        return lat, lng, heading

    # --- lifecycle ---

    @property
    def base_url(self) -> str:
        """http://host:port of the running server."""
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The WebSocket URL a client connects to."""
        return f"ws://{self.host}:{self.port}{self.ws_path}"

    async def start(self) -> None:
        """Listen on host:port (port 0: a free one, kept across restarts)."""
        app = web.Application()
        app.router.add_get(self.ws_path, self._websocket)
        self.add_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            server = site._server  # the only way to learn the chosen port
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        if self.event_rate > 0:
            self._events = asyncio.get_running_loop().create_task(self._event_loop())

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        if self._events is not None:
            self._events.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._events
            self._events = None
        await self.drop_connections()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start on entering."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop on leaving."""
        await self.stop()

    # --- fault hooks ---

    async def push(self, frame: str | bytes | dict[str, Any] | list[Any]) -> None:
        """Send a frame to every connected client."""
        for conn in list(self.connections):
            await conn.send(frame)

    async def push_invalid_text(self, data: bytes) -> None:
        """Send bytes as a text frame to every client, unchecked: text that is not UTF-8, as a
        hub with a broken encoder sends it (aiohttp's own send_str cannot)."""
        for conn in list(self.connections):
            await conn.ws._writer.send_frame(data, WSMsgType.TEXT)

    async def drop_connections(self, code: int = 1001) -> None:
        """Close every connection, as a hub going down does."""
        for conn in list(self.connections):
            await conn.close(code)
        self.connections.clear()

    def stop_answering(self) -> None:
        """Play dead: keep sockets open but send nothing, not even pongs."""
        self.silent = True

    def resume_answering(self) -> None:
        """Come back to life."""
        self.silent = False

    def revoke_credentials(self) -> None:
        """Make every credential invalid from now on (subclasses check this flag)."""
        self.credentials_revoked = True

    def restore_credentials(self) -> None:
        """Accept the configured credentials again."""
        self.credentials_revoked = False

    async def restart(self, downtime: float = 0.0) -> None:
        """Go down (dropping every connection) and come back on the same port."""
        await self.stop()
        await asyncio.sleep(downtime)
        await self.start()

    async def wait_for_connections(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until `count` clients are connected."""
        async with asyncio.timeout(timeout):
            while len(self.connections) < count:
                await asyncio.sleep(0.01)

    # --- internals ---

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False, max_msg_size=self.max_msg_size)
        await ws.prepare(request)
        conn = Connection(self, ws)
        conn.state["query"] = dict(request.query)
        self.connections.add(conn)
        self.accepted += 1
        try:
            await self.on_connect(conn)
            async for msg in ws:
                if msg.type is WSMsgType.PING:
                    if self.answer_pings and not self.silent:
                        await ws.pong(msg.data)
                elif msg.type is WSMsgType.TEXT:
                    if self.silent:
                        continue
                    self.received.append(msg.data)
                    await self.on_text(conn, msg.data)
        finally:
            self.connections.discard(conn)
            await conn.close()
        return ws

    async def _event_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            if not self.silent:
                await self.step()
