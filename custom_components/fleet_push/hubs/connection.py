"""What every hub client shares: the WebSocket lifecycle, keep-alive, request matching."""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Hashable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
import logging
from typing import Any, ClassVar, Self

import aiohttp

from .declaration import HubDeclaration
from .errors import (
    CannotConnect,
    CommandCode,
    CommandFailed,
    HubError,
    HubTimeout,
    InvalidAuth,
    SessionClosed,
)
from .frames import decode
from .memory import HubMemory
from .model import Command, HubInfo, HubMessage
from .redact import redact
from .screenshots import Screenshot

_LOGGER = logging.getLogger(__name__)

type Listener = Callable[[HubMessage], None]

DEFAULT_MAX_MSG_SIZE = 16 * 1024 * 1024
CONNECT_TIMEOUT = 15.0
REQUEST_TIMEOUT = 15.0
ON_DEMAND_RELOAD_INTERVAL = 30.0
"""At most one device-list reload this often when updates name unknown devices."""


@asynccontextmanager
async def within(seconds: float, who: str) -> AsyncIterator[None]:
    """Wait at most `seconds` for what the block awaits: HubTimeout ("who did not answer")."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError as err:
        raise HubTimeout(f"{who} did not answer in time") from err


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel a task and wait for it to end, without swallowing our own cancellation."""
    if task is None:
        return
    task.cancel()
    await asyncio.wait((task,))
    if not task.cancelled():
        task.exception()  # retrieved: how it ended no longer matters


@dataclass(slots=True)
class Timing:
    """How a client keeps its connection alive and notices a dead one (seconds).

    Nothing here assumes the hub talks on its own: a quiet hub is asked (a WebSocket ping,
    and the client's probe request where it has one) and is dead only when it does not answer.
    """

    keepalive_interval: float | None = None
    """Send the hub's keep-alive text this often (None: the hub has none)."""
    ws_heartbeat: float | None = None
    """Ping a hub that was quiet this long; it must answer (anything) within half of it."""
    silence_timeout: float | None = None
    """Last resort: give up after this long without a frame, unless the hub answers pings."""


class Drop(StrEnum):
    """Why a frame, or an item in one, was skipped: the keys of HubStats.dropped (diagnostics)."""

    NOT_JSON = "not_json"
    """Not JSON (nor the literal a vendor's page prints)."""
    NOT_OBJECT = "not_object"
    """JSON, but not the object a frame is."""
    BINARY = "binary"
    """A binary frame the client cannot read (most hubs send none)."""
    MALFORMED = "malformed"
    """A frame or item without the parts, or the types of values, its kind must have."""
    UNKNOWN_KIND = "unknown_kind"
    """A kind of frame, event or callback the client does not know."""
    UNMATCHED_REPLY = "unmatched_reply"
    """A reply no request waits for."""
    UNKNOWN_DEVICE = "unknown_device"
    """About a device the hub has not listed."""
    HUB_ERROR = "hub_error"
    """An error the hub reported outside any request."""
    DUPLICATE = "duplicate"
    """Delivered already."""
    TOO_LARGE = "too_large"
    """More than the client reads at once: the rest is skipped."""
    HANDLER_ERROR = "handler_error"
    """The client failed on the frame (a hostile one, or a bug); never fatal."""
    RELOAD_FAILED = "reload_failed"
    """A background reload of the device list failed; the next one tries again."""
    PROBE_FAILED = "probe_failed"
    """The hub refused the liveness probe (an answer all the same)."""
    REQUEST_FAILED = "request_failed"
    """A request that only adds to what is shown failed (a model list, a catch-up)."""
    INTERRUPTED = "interrupted"
    """Such a request was cut short by the connection's end; the next connection asks again."""


@dataclass(slots=True)
class HubStats:
    """Counters shown in diagnostics."""

    frames: int = 0
    messages: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    connects: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain values for diagnostics."""
        return {
            "frames": self.frames,
            "messages": self.messages,
            "dropped": dict(self.dropped),
            "connects": self.connects,
        }


class HubClient(ABC):
    """One connection to one hub; emits normalized messages to a listener."""

    declaration: ClassVar[HubDeclaration]
    """What the hub kind is: its settings, notices, commands and fields."""
    kind: ClassVar[str]
    """The kind's name (its declaration's)."""
    keepalive_text: ClassVar[str | None] = None
    fleet_reload_interval: ClassVar[float | None] = None
    """Reload the device list this often, for hubs that announce no deletions."""
    max_msg_size: ClassVar[int] = DEFAULT_MAX_MSG_SIZE

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A client's kind is its declaration's."""
        super().__init_subclass__(**kwargs)
        if "declaration" in cls.__dict__:
            cls.kind = cls.declaration.kind

    def __init__(
        self,
        session: aiohttp.ClientSession,
        listener: Listener,
        *,
        timing: Timing | None = None,
    ) -> None:
        """Keep the injected session; nothing is opened until connect()."""
        self._session = session
        self._listener = listener
        self.timing = timing or self.default_timing()
        self.stats = HubStats()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[Hashable, asyncio.Future[Any]] = {}
        self._reload_task: asyncio.Task[None] | None = None
        self._reload_again = False
        self._end_error: HubError | None = None
        self._heard = self._last_sent = self._last_reload = 0.0
        self._last_ping: float | None = None
        self._answers_pings = False
        """Whether the hub answered a ping on this connection: then pongs decide liveness."""
        self._probed = False
        """Whether the probe went with the last ping: then its silence is fatal too."""
        self._probe_task: asyncio.Task[None] | None = None
        self._last_on_demand_reload = -ON_DEMAND_RELOAD_INTERVAL
        self.memory = HubMemory()
        """What the client keeps across reconnects and restarts (the integration saves it)."""

    @classmethod
    def from_config(
        cls,
        session: aiohttp.ClientSession,
        listener: Listener,
        config: Mapping[str, Any],
        *,
        timing: Timing | None = None,
    ) -> Self:
        """Build a client from a config entry's data (keys as in Home Assistant's CONF_*)."""
        return cls(session, listener, timing=timing, **cls.settings(config))

    @classmethod
    @abstractmethod
    def settings(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """The constructor's keyword arguments for a config entry's data."""

    def apply_options(self, options: Mapping[str, Any]) -> None:  # noqa: B027 - optional
        """Take changed options (the same keys as in from_config) without reconnecting."""

    def offered(self, option: str) -> frozenset[str]:
        """Names to offer for a NAMES option (those the hub has sent, say); none by default."""
        return frozenset()

    @classmethod
    def normalize_config(cls, user_input: Mapping[str, Any]) -> dict[str, Any]:
        """What a config entry stores for this input (a hash, say, instead of a password)."""
        return dict(user_input)

    @classmethod
    def default_timing(cls) -> Timing:
        """Keep-alive settings for this hub kind."""
        return Timing()

    async def connect(self) -> HubInfo:
        """Open the connection, sign in and load the fleet; on any failure, close what opened."""
        try:
            return await self._establish()
        except BaseException:
            await self.close()
            raise

    @abstractmethod
    async def _establish(self) -> HubInfo:
        """Open the connection, sign in and load the fleet (connect() closes it on failure)."""

    @abstractmethod
    def handle_text(self, text: str) -> None:
        """Parse one text frame and emit what it says."""

    async def reload_fleet(self) -> None:  # noqa: B027 - optional: not every hub can
        """Load the full device list again and emit it; hubs that can, override this."""

    def reload_fleet_soon(self) -> None:
        """schedule_fleet_reload() for a device the hub named but never listed, rate-limited."""
        if not self.connected:
            return
        now = asyncio.get_running_loop().time()
        if now - self._last_on_demand_reload >= ON_DEMAND_RELOAD_INTERVAL:
            self._last_on_demand_reload = now
            self.schedule_fleet_reload()

    def schedule_fleet_reload(self) -> None:
        """Run reload_fleet() in the background; a call while one runs makes it run once more."""
        if self._reload_task is not None and not self._reload_task.done():
            self._reload_again = True
            return
        self._reload_task = asyncio.get_running_loop().create_task(
            self._run_reloads(), name=f"fleet_push {self.kind} fleet reload"
        )

    async def _run_reloads(self) -> None:
        self._reload_again = True
        while self._reload_again:
            self._reload_again = False
            try:
                await self.reload_fleet()
            except HubError as err:
                self.drop(Drop.RELOAD_FAILED, type(err).__name__)
                return

    def handle_binary(self, data: bytes) -> None:
        """Parse one binary frame; most hubs send none."""
        self.drop(Drop.BINARY)

    async def probe(self) -> None:
        """Ask the hub something it must answer: liveness that needs no pong; None if it can't.

        Sent together with the WebSocket ping to a quiet hub; any frame it brings back counts as
        an answer. Hubs without such a request keep this default.
        """
        raise NotImplementedError

    @property
    def session(self) -> aiohttp.ClientSession:
        """The HTTP session the client's sockets and requests go through."""
        return self._session

    @property
    def can_probe(self) -> bool:
        """Whether this client has a probe request."""
        return type(self).probe is not HubClient.probe

    async def send_command(self, command: Command) -> Any:
        """Send a native command to one device and return the hub's result."""
        if not self.ready:
            raise CannotConnect("not connected")
        return await self._command(command)

    async def _command(self, command: Command) -> Any:
        """Carry out a command once connected; hubs that take commands override this."""
        raise CommandFailed(f"{self.kind} hubs take no commands")

    async def take_screenshot(self, device_id: str, timeout: float) -> Screenshot:
        """Take one device's screenshot now (declaration.screenshots says which kinds can)."""
        if not self.ready:
            raise CannotConnect("not connected")
        return await self._screenshot(device_id, timeout)

    async def _screenshot(self, device_id: str, timeout: float) -> Screenshot:
        """Take a screenshot once connected; kinds that declare screenshots override this."""
        raise CommandFailed(f"{self.kind} hubs take no screenshots", code=CommandCode.BAD_COMMAND)

    @property
    def connected(self) -> bool:
        """Whether the connection is open."""
        return self._ws is not None and not self._ws.closed

    @property
    def ready(self) -> bool:
        """Whether commands can be sent; hubs with a session to establish add to this."""
        return self.connected

    async def run(self) -> None:
        """Wait until the connection ends; raise why it ended."""
        reader = self._reader
        if reader is None:
            raise CannotConnect("not connected")
        try:
            await asyncio.shield(reader)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not reader.cancelled() or (current is not None and current.cancelling()):
                raise  # it is the caller who is cancelled
            error, self._end_error = self._end_error, None
            raise error or CannotConnect("connection closed") from None

    def end_session(self, error: HubError) -> None:
        """End the connection from this side (an expired token, say); run() raises error."""
        self._end_error = error
        if self._reader is not None:
            self._reader.cancel()

    async def close(self) -> None:
        """Close the connection and stop reading (reloading the fleet and probing)."""
        for task in (self._reload_task, self._probe_task):
            await cancel_and_wait(task)
        self._reload_task = self._probe_task = None
        reader, self._reader = self._reader, None
        await cancel_and_wait(reader)
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
        self._fail_pending(CannotConnect("connection closed"))

    # --- for subclasses ---

    def emit(self, message: HubMessage) -> None:
        """Hand one normalized message to the listener."""
        self.stats.messages += 1
        self._listener(message)

    def drop(self, reason: Drop, detail: object = None) -> None:
        """Count a frame or item that was skipped, and say why at debug level (secrets hidden)."""
        self.stats.dropped[reason] += 1
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s: skipped a frame (%s) %.200r", self.kind, reason, redact(detail))

    def decode_object(
        self, raw: str | bytes, decoder: Callable[[Any], Any] = decode
    ) -> dict[str, Any] | None:
        """A frame decoded as the JSON object it must be; None (counted) for anything else."""
        try:
            value = decoder(raw)
        except ValueError:
            self.drop(Drop.NOT_JSON, raw)
            return None
        return self.as_object(value, raw)

    def as_object(self, value: Any, raw: object) -> dict[str, Any] | None:
        """A decoded frame if it is the JSON object a frame must be; None (counted) otherwise."""
        if isinstance(value, dict):
            return value
        self.drop(Drop.NOT_OBJECT, raw)
        return None

    async def open_websocket(
        self, url: str, *, ssl: bool = True, headers: Mapping[str, str] | None = None
    ) -> None:
        """Open the WebSocket and start reading it."""
        await self.close()
        try:
            self._ws = await self._session.ws_connect(
                url,
                ssl=ssl,
                headers=headers,
                max_msg_size=self.max_msg_size,
                timeout=aiohttp.ClientWSTimeout(ws_close=10.0),
                autoping=False,  # pongs are answers the liveness check counts (_read_frames)
            )
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as err:
            raise CannotConnect(f"cannot open {self.kind} WebSocket: {type(err).__name__}") from err
        self.stats.connects += 1
        self._reader = asyncio.get_running_loop().create_task(
            self._read_loop(self._ws), name=f"fleet_push {self.kind} reader"
        )

    async def send_text(self, text: str) -> None:
        """Send one text frame."""
        if self._ws is None or self._ws.closed:
            raise CannotConnect("not connected")
        try:
            await self._ws.send_str(text)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as err:
            raise CannotConnect("send failed") from err

    async def request(self, key: Hashable, text: str, timeout: float = REQUEST_TIMEOUT) -> Any:
        """Send a frame and wait for the reply that resolve(key, ...) delivers."""
        with self.awaiting(key) as reply:
            return await self._send_and_wait(text, reply, timeout)

    @contextmanager
    def awaiting(self, key: Hashable) -> Iterator[asyncio.Future[Any]]:
        """A reply awaited under key while the block runs: resolve() and reject() deliver it."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            yield future
        finally:
            if self._pending.get(key) is future:
                del self._pending[key]
            _settle(future)

    async def _send_and_wait(self, text: str, reply: asyncio.Future[Any], timeout: float) -> Any:
        """Send a frame, then wait (timeout s at most) for a reply awaited already."""
        await self.send_text(text)
        async with within(timeout, "the hub"):
            return await self._await_reply(reply)

    async def _await_reply(self, future: asyncio.Future[Any]) -> Any:
        """Wait for a reply, or for the connection to end first."""
        reader = self._reader
        if reader is None:
            return await future
        done, _ = await asyncio.wait((future, reader), return_when=asyncio.FIRST_COMPLETED)
        if future in done:
            return future.result()
        future.cancel()
        if not reader.cancelled() and (err := reader.exception()) is not None:
            raise err
        raise CannotConnect("connection closed while waiting for a reply")

    def resolve(self, key: Hashable, result: Any) -> bool:
        """Deliver a reply to the request waiting for it; False if none waits."""
        future = self._pending.get(key)
        if future is None or future.done():
            return False
        future.set_result(result)
        return True

    def reject(self, key: Hashable, error: Exception) -> bool:
        """Fail the request waiting for key; False if none waits."""
        future = self._pending.get(key)
        if future is None or future.done():
            return False
        _fail(future, error)
        return True

    # --- the read loop ---

    async def _read_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Read frames until the connection ends; raise CannotConnect or a hub error."""
        try:
            await self._read_frames(ws)
        finally:
            self._fail_pending(CannotConnect("connection lost"))

    async def _read_frames(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        loop = asyncio.get_running_loop()
        self._heard = self._last_sent = self._last_reload = loop.time()
        self._last_ping = None
        self._answers_pings = self._probed = False
        if self.timing.ws_heartbeat:  # learn at once whether this hub answers pings
            self._last_ping = self._heard
            await self._send_control(ws.ping(b"fleet_push"))
        while True:
            wait = await self._keep_alive(loop.time())
            try:
                msg = await ws.receive(timeout=wait)
            except TimeoutError:
                continue
            self._heard = loop.time()
            match msg.type:
                case aiohttp.WSMsgType.TEXT:
                    self._guarded(self.handle_text, msg.data)
                case aiohttp.WSMsgType.BINARY:
                    self._guarded(self.handle_binary, msg.data)
                case aiohttp.WSMsgType.PING:
                    await self._send_control(ws.pong(msg.data))
                case aiohttp.WSMsgType.PONG:
                    self._answers_pings = True
                case aiohttp.WSMsgType.CLOSE | aiohttp.WSMsgType.CLOSING | aiohttp.WSMsgType.CLOSED:
                    raise CannotConnect(f"the hub closed the connection ({ws.close_code})")
                case aiohttp.WSMsgType.ERROR:
                    raise CannotConnect(f"connection error: {type(msg.data).__name__}")

    async def _keep_alive(self, now: float) -> float | None:
        """Do what is due (keep-alive, liveness, periodic fleet reload); seconds to wait."""
        timing = self.timing
        deadlines = []
        if timing.ws_heartbeat:
            deadlines.append(await self._check_liveness(now, timing.ws_heartbeat))
        if timing.silence_timeout and not self._answers_pings:
            if now - self._heard >= timing.silence_timeout:
                raise CannotConnect(f"the hub went silent for {timing.silence_timeout:g} s")
            deadlines.append(self._heard + timing.silence_timeout)
        if self.keepalive_text and timing.keepalive_interval:
            if now - self._last_sent >= timing.keepalive_interval:
                await self.send_text(self.keepalive_text)
                self._last_sent = now
            deadlines.append(self._last_sent + timing.keepalive_interval)
        if self.fleet_reload_interval:
            if now - self._last_reload >= self.fleet_reload_interval:
                self.schedule_fleet_reload()
                self._last_reload = now
            deadlines.append(self._last_reload + self.fleet_reload_interval)
        return max(min(deadlines) - now, 0.0) if deadlines else None

    async def _check_liveness(self, now: float, interval: float) -> float:
        """Ask a hub that was quiet `interval` s; raise when it leaves the question unanswered.

        An unanswered ping is fatal once the hub has shown it answers pings, or when the probe
        went along with it; a hub that never answers pings is judged by silence_timeout alone.
        """
        asked = self._last_ping
        if asked is not None and asked >= self._heard:
            answer_by = asked + interval / 2
            if now < answer_by:
                return answer_by
            if self._answers_pings or self._probed:
                raise CannotConnect(f"the hub did not answer for {now - self._heard:.1f} s")
        due = max(self._heard, asked or self._heard) + interval
        if now < due:
            return due
        self._last_ping = now
        if self._ws is not None:
            await self._send_control(self._ws.ping(b"fleet_push"))
        self._probed = self.can_probe
        if self._probed and (self._probe_task is None or self._probe_task.done()):
            self._probe_task = asyncio.get_running_loop().create_task(
                self._run_probe(), name=f"fleet_push {self.kind} probe"
            )
        return now + interval / 2

    async def _run_probe(self) -> None:
        """Send the probe; its reply (or error reply) is heard by the read loop."""
        try:
            await self.probe()
        except HubError as err:
            self.drop(Drop.PROBE_FAILED, type(err).__name__)

    async def _send_control(self, sending: Any) -> None:
        """Send a ping or pong; a socket that cannot take it ends at the next read."""
        try:
            await sending
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as err:
            raise CannotConnect("send failed") from err

    def _guarded[T](self, handler: Callable[[T], None], data: T) -> None:
        """Run a frame handler; a bad frame is counted, never fatal."""
        self.stats.frames += 1
        try:
            handler(data)
        except InvalidAuth, SessionClosed:
            raise
        except Exception as err:  # noqa: BLE001 - one bad frame must not end the loop
            self.drop(Drop.HANDLER_ERROR, (type(err).__name__, data))

    def _fail_pending(self, error: Exception) -> None:
        for future in self._pending.values():
            if not future.done():
                _fail(future, error)
        self._pending.clear()


def _fail(future: asyncio.Future[Any], error: Exception) -> None:
    """Fail a request's future; marked retrieved, as its waiter may be gone (an unload)."""
    future.set_exception(error)
    future.exception()


def _settle(future: asyncio.Future[Any]) -> None:
    """Leave nothing unretrieved behind a request that ended (cancelled, timed out)."""
    if not future.done():
        future.cancel()
    elif not future.cancelled():
        future.exception()
