"""The Home Assistant side of the benchmark: the child simulator, write recording, figures."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
import gc
import json
import logging
import os
from pathlib import Path
import sys
import time
from typing import Any, Self

from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, State, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.storage import Store
from homeassistant.util.async_ import get_scheduled_timer_handles

ROOT = Path(__file__).resolve().parent.parent
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
START_TIMEOUT = 180.0


class SimProcess:
    """A benchmark simulator (bench/sims.py) running in a child process."""

    def __init__(self, process: asyncio.subprocess.Process, info: dict[str, Any]) -> None:
        """Wrap a started child and what it said about itself."""
        self.process = process
        self.info = info

    @classmethod
    async def start(cls, kind: str, devices: int, **options: Any) -> SimProcess:
        """Start a simulator of `kind` with `devices` devices and wait until it listens."""
        config = json.dumps({"kind": kind, "devices": devices, "options": options})
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.sims",
            config,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            limit=1 << 28,
        )
        sim = cls(process, {})
        sim.info = await sim._read(START_TIMEOUT)
        return sim

    @property
    def port(self) -> int:
        """The simulator's TCP port."""
        return int(self.info["port"])

    @property
    def devices(self) -> list[Any]:
        """The keys of the simulated devices."""
        return list(self.info["devices"])

    @property
    def _stdout(self) -> asyncio.StreamReader:
        if self.process.stdout is None:
            raise RuntimeError("no pipe from the simulator")
        return self.process.stdout

    @property
    def _stdin(self) -> asyncio.StreamWriter:
        if self.process.stdin is None:
            raise RuntimeError("no pipe to the simulator")
        return self.process.stdin

    async def _read(self, timeout: float) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            line = await self._stdout.readline()
        if not line:
            raise RuntimeError("the simulator process ended")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"simulator: {reply['error']}")
        return reply

    def _write(self, command: str, args: Mapping[str, Any]) -> None:
        self._stdin.write((json.dumps({"cmd": command, **args}) + "\n").encode())

    async def call(self, command: str, timeout: float = 300.0, **args: Any) -> dict[str, Any]:
        """Run one command in the child and return its answer."""
        self._write(command, args)
        return await self._read(timeout)

    async def stop(self) -> None:
        """Stop the simulator and reap the child."""
        if self.process.returncode is None:
            try:
                self._write("stop", {})
                await self._stdin.drain()
                self._stdin.close()
                async with asyncio.timeout(30):
                    await self.process.wait()
            except TimeoutError, ConnectionError, RuntimeError:
                self.process.kill()
                await self.process.wait()
        # Drain what is left of the pipe, so that its transport closes.
        if self.process.stdout is not None:
            await self.process.stdout.read()


@callback
def _never(_event: Event[Any]) -> None:
    """The listener behind the filters below; the filters never let an event through."""


@dataclass
class WriteRecorder:
    """Counts state writes and timestamps changes of the target entity of each device.

    A target write counts only when it changed the state or its attributes: device trackers
    force every write into a state_changed event, even when nothing changed.

    It hooks into the event bus as event filters that always answer False, the cheapest way to
    see every state_changed and state_reported event (no Event object, no job).
    """

    hass: HomeAssistant
    targets: dict[str, Any] = field(default_factory=dict)
    """entity_id -> device key, for the entity whose state each report changes."""
    changed: int = 0
    reported: int = 0
    writes: defaultdict[Any, list[float]] = field(default_factory=lambda: defaultdict(list))
    """Per device key, when its target entity's state changed."""
    keep: bool = False
    changes: list[Mapping[str, Any]] = field(default_factory=list)
    """The state_changed event data while `keep` is on (for the floor's replay)."""
    last_write: float = 0.0
    _waiting: int = 0
    _done: asyncio.Event = field(default_factory=asyncio.Event)
    _remove: list[CALLBACK_TYPE] = field(default_factory=list)

    def start(self) -> None:
        """Listen."""
        bus = self.hass.bus
        self._remove = [
            bus.async_listen(EVENT_STATE_CHANGED, _never, event_filter=self._on_changed),
            bus.async_listen(EVENT_STATE_REPORTED, _never, event_filter=self._on_reported),
        ]

    def stop(self) -> None:
        """Stop listening."""
        for remove in self._remove:
            remove()
        self._remove = []

    def reset(self) -> None:
        """Forget the counts and times so far."""
        self.changed = self.reported = 0
        self.writes.clear()
        self.changes = []

    @callback
    def _on_changed(self, data: Mapping[str, Any]) -> bool:
        self.changed += 1
        if self.keep:
            self.changes.append(data)
        key = self.targets.get(data["entity_id"])
        if key is not None and _differs(data["old_state"], data["new_state"]):
            now = self.last_write = time.monotonic()
            self.writes[key].append(now)
            self._waiting -= 1
            if self._waiting == 0:
                self._done.set()
        return False

    @callback
    def _on_reported(self, _data: Mapping[str, Any]) -> bool:
        self.reported += 1
        return False

    def expect(self, count: int) -> None:
        """Wait (with wait()) for `count` target changes from now on."""
        self._waiting = count
        self._done.clear()
        if self._waiting <= 0:
            self._done.set()

    async def wait(self, timeout: float) -> int:
        """Wait for the expected writes; return how many did not come in time."""
        try:
            async with asyncio.timeout(timeout):
                await self._done.wait()
        except TimeoutError:
            missing, self._waiting = self._waiting, 0
            return missing
        return 0


def _differs(old: State | None, new: State | None) -> bool:
    """Whether a state_changed event changed something (trackers force every write)."""
    if old is None or new is None:
        return True
    return old.state != new.state or old.attributes != new.attributes


def rss_bytes() -> int:
    """The resident memory of the process, from /proc/self/statm."""
    fd = os.open("/proc/self/statm", os.O_RDONLY)
    try:
        fields = os.read(fd, 200).split()
    finally:
        os.close(fd)
    return int(fields[1]) * PAGE_SIZE


def settled_rss() -> int:
    """Resident memory after a full garbage collection."""
    gc.collect()
    return rss_bytes()


async def wait_for_entities(
    hass: HomeAssistant, domain: str, platform: str, unique_ids: Iterable[str], timeout: float
) -> dict[str, str]:
    """Wait until every unique id has an entity with a state; return unique id -> entity id."""
    registry = er.async_get(hass)
    remaining = set(unique_ids)
    found: dict[str, str] = {}
    async with asyncio.timeout(timeout):
        while True:
            for unique_id in list(remaining):
                entity_id = registry.async_get_entity_id(domain, platform, unique_id)
                if entity_id is not None and hass.states.get(entity_id) is not None:
                    found[unique_id] = entity_id
                    remaining.discard(unique_id)
            if not remaining:
                return found
            await asyncio.sleep(0.05)


async def quiet(hass: HomeAssistant, recorder: WriteRecorder, seconds: float = 0.3) -> None:
    """Wait until no state was written for `seconds` (initial bursts are over)."""
    await hass.async_block_till_done()
    while True:
        before = recorder.changed + recorder.reported
        await asyncio.sleep(seconds)
        if recorder.changed + recorder.reported == before:
            return


async def flush_delayed_saves(hass: HomeAssistant) -> int:
    """Write now what stores would write a few seconds later; return how many wrote.

    A registry saves itself 10 s after its last change, serializing every entry: with tens
    of thousands of entities that is seconds of CPU, which must not land in a measured phase.
    """
    stores = {
        handle._callback.__self__  # type: ignore[attr-defined]  # noqa: SLF001
        for handle in list(get_scheduled_timer_handles(hass.loop))
        if isinstance(getattr(handle._callback, "__self__", None), Store)  # noqa: SLF001
        and not handle.cancelled()
    }
    for store in stores:
        await store._async_handle_write_data()  # noqa: SLF001
    await hass.async_block_till_done()
    return len(stores)


class GcClock:
    """Seconds the cyclic garbage collector ran while started (gc.callbacks)."""

    def __init__(self) -> None:
        """Not yet counting."""
        self.seconds = 0.0
        self.collections = 0
        self.longest = 0.0
        """The longest single collection, seconds: Home Assistant stands still meanwhile."""
        self._began = 0.0

    def _callback(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            took = time.perf_counter() - self._began
            self.seconds += took
            self.longest = max(self.longest, took)
            self.collections += 1

    def __enter__(self) -> Self:
        """Start counting."""
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop counting."""
        gc.callbacks.remove(self._callback)


class Phases:
    """Wall-clock time of each phase of a case, printed as it goes (pytest -s)."""

    def __init__(self, case: str) -> None:
        """Start the clock."""
        self.case = case
        self.start = self.last = time.perf_counter()

    def done(self, phase: str) -> None:
        """Say how long the phase that just ended took."""
        now = time.perf_counter()
        print(  # noqa: T201
            f"[bench] {self.case}: {phase} {now - self.last:.1f} s (at {now - self.start:.1f} s)",
            flush=True,
        )
        self.last = now


@dataclass
class Timing:
    """Latencies and busy time of reports, matched per device in order."""

    latencies: list[float]
    busy: float
    unmatched: int


def match_writes(
    stamps: list[tuple[float, list[Any]]],
    writes: Mapping[Any, list[float]],
    reports_per_round: int,
    round_ends: list[float],
) -> Timing:
    """Pair the k-th stamped report of each device with its k-th target write.

    Busy time sums, per round, the time from its first frame leaving to its last write.
    """
    sent: defaultdict[Any, list[float]] = defaultdict(list)
    round_starts: list[float] = []
    reports = 0
    for moment, keys in stamps:
        if reports_per_round and reports // reports_per_round == len(round_starts):
            round_starts.append(moment)
        for key in keys:
            sent[key].append(moment)
        reports += len(keys)
    latencies: list[float] = []
    unmatched = 0
    for key, times in sent.items():
        written = writes.get(key, [])
        unmatched += abs(len(times) - len(written))
        latencies.extend(w - s for s, w in zip(times, written, strict=False))
    latencies.sort()
    busy = sum(end - start for start, end in zip(round_starts, round_ends, strict=False))
    return Timing(latencies, busy, unmatched)


def floor_calls(
    changes: list[Mapping[str, Any]],
) -> tuple[list[tuple[str, str, dict[str, Any]]], list[tuple[str, str, dict[str, Any]]]]:
    """The async_set calls that undo recorded state changes, and those that redo them.

    Each is a list of (entity_id, state, attributes), prepared before anything is timed.
    """
    backwards = [
        (data["entity_id"], data["old_state"].state, dict(data["old_state"].attributes))
        for data in reversed(changes)
        if data["old_state"] is not None and data["new_state"] is not None
    ]
    forwards = [
        (data["entity_id"], data["new_state"].state, dict(data["new_state"].attributes))
        for data in changes
        if data["old_state"] is not None and data["new_state"] is not None
    ]
    return backwards, forwards


class ReplayEntity(Entity):
    """The least an entity can be: it writes the state and attributes it is handed.

    It has no platform and no registry entry, so Home Assistant's write skips the registry
    comparison a real entity's write makes: a lower bound for any integration's entity.
    """

    _attr_should_poll = False
    _attr_name = None

    def __init__(self, hass: HomeAssistant, entity_id: str) -> None:
        """An entity writing `entity_id`."""
        self.hass = hass
        self.entity_id = entity_id

    @callback
    def show(self, state: str, attributes: dict[str, Any]) -> None:
        """Write this state and these attributes."""
        self._attr_state = state
        self._attr_extra_state_attributes = attributes
        self.async_write_ha_state()


def entity_replayer(
    hass: HomeAssistant, calls: list[tuple[str, str, dict[str, Any]]]
) -> Callable[[list[tuple[str, str, dict[str, Any]]]], float]:
    """A replay of writes through ReplayEntity objects, one per entity id of `calls`.

    It returns their CPU seconds, the garbage of what ran before collected first. An entity's
    first write fills Home Assistant's caches of its properties: replay once before timing.
    """
    entities = {entity_id: ReplayEntity(hass, entity_id) for entity_id, _, _ in calls}
    # Home Assistant warns once per entity written without a platform: a line per entity.
    logging.getLogger("homeassistant.helpers.entity").addFilter(_no_platform_warning)

    def show(entity_id: str, state: str, attributes: dict[str, Any]) -> None:
        entities[entity_id].show(state, attributes)

    return lambda calls: _timed(show, calls)


def _no_platform_warning(record: logging.LogRecord) -> bool:
    """Keep every record but the warning about a ReplayEntity without a platform."""
    return not (record.args and ReplayEntity in record.args)


def replay(hass: HomeAssistant, calls: list[tuple[str, str, dict[str, Any]]]) -> float:
    """Make the bare hass.states.async_set calls; return their CPU seconds."""
    return _timed(hass.states.async_set, calls)


def _timed(
    write: Callable[[str, str, dict[str, Any]], None],
    calls: list[tuple[str, str, dict[str, Any]]],
) -> float:
    """The CPU seconds of making the writes.

    The garbage left by what ran before is collected first: at 10,000 devices a full
    collection owed by the rounds took longer than the replay itself when it fell inside.
    """
    gc.collect()
    start = time.process_time()
    for entity_id, state, attributes in calls:
        write(entity_id, state, attributes)
    return time.process_time() - start
