"""FleetPush's benchmark cases: they measure and record figures, and assert no timings.

Each case runs inside the test harness's Home Assistant against a simulator in a child process
(bench/sims.py) over loopback. `python -m bench` runs each case in its own pytest process (so
that resident memory is measured per case) and prints one table; `pytest bench` runs them all
in one process and prints the same table at the end.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
import contextlib
import cProfile
from dataclasses import dataclass
import io
import os
import pstats
import time
import tracemalloc
from typing import Any

from homeassistant.components.traccar_server.const import (
    CONF_CUSTOM_ATTRIBUTES,
    CONF_EVENTS,
    CONF_MAX_ACCURACY,
    CONF_SKIP_ACCURACY_FILTER_FOR,
)
from homeassistant.const import (
    CONF_API_TOKEN,
    CONF_HOST,
    CONF_PORT,
    CONF_SSL,
    CONF_VERIFY_SSL,
    EVENT_STATE_CHANGED,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fleet_push.const import CONF_HUB_KIND, CONF_MIN_POSITION_INTERVAL, DOMAIN
from custom_components.fleet_push.identity import entity_unique_id, hub_scope
from custom_components.fleet_push.migration import CURRENT_VERSION

from .harness import (
    GcClock,
    Phases,
    SimProcess,
    Timing,
    WriteRecorder,
    entity_replayer,
    floor_calls,
    flush_delayed_saves,
    match_writes,
    quiet,
    replay,
    settled_rss,
    wait_for_entities,
)
from .report import ROUNDS, record
from .stages import PEER_TARGETS, TARGETS, SetupClock, StageClock, Target

SIZES = (100, 1_000, 10_000)
PACED_FROM = 10_000
"""From this size on, latency is measured at PACED_RATE reports per second, not flat out."""
PACED_RATE = 1_000.0
PACED_COUNT = int(os.environ.get("BENCH_PACED_COUNT", "10000"))
COALESCE_TRACKERS = 1_000
COALESCE_EVERY = 5.0
COALESCE_WINDOW = float(os.environ.get("BENCH_WINDOW", "120"))
"""How long the coalescing case runs: two of its 60 s intervals."""
COALESCE_INTERVALS = (0, 60)
NAVIXY_USER = 43568
PROFILE = os.environ.get("BENCH_PROFILE") == "1"
PROFILE_TOP = int(os.environ.get("BENCH_PROFILE_TOP", "25"))
"""How many functions each profile lists (BENCH_PROFILE_TOP)."""
MEMORY = os.environ.get("BENCH_MEMORY") == "1"
MEMORY_OWNERS = ("fleet_push", "pytest_homeassistant_custom_component", "homeassistant")
"""Where BENCH_MEMORY=1 attributes allocations, by the path of the allocating file."""
TRANSITION_KEYS = ("online", "moving", "ignition")
"""FleetPush binary sensors whose changes users automate on."""
FLEET_PUSH_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "navixy": ("navixy", {}),
    "navixy_state": ("navixy", {"one_per_frame": True}),
    "imouse": ("imouse", {}),
}
"""Table name -> (hub kind, simulator options): Navixy as it sends (a state_batch per round),
Navixy one state per frame, iMouse XP (one phone record per frame)."""
TRACCAR_FEEDS = {
    "traccar_server": "devices",
    "traccar_single": "single",
    "traccar_batched": "batched",
}
"""Table name -> how the Traccar simulator feeds traccar_server (see bench/sims.py)."""
STAGE_ROUNDS = 2
"""Rounds of the per-stage split, after the measured rounds."""


def setup_timeout(size: int) -> float:
    """Generous limits: the benchmark measures, it does not judge."""
    return 60.0 + size * 0.03


def round_timeout(size: int) -> float:
    """How long one round may take before its missing writes are counted as lost."""
    return 30.0 + size * 0.01


@dataclass
class Hub:
    """A hub under test: its config entry and the entity each report must change."""

    entry: MockConfigEntry
    domain: str
    platform: str
    unique_ids: dict[str, Any]
    """unique id of each device's target entity -> the device's key."""


def fleet_push_hub(kind: str, sim: SimProcess, options: Mapping[str, Any] | None = None) -> Hub:
    """A FleetPush config entry for a running simulator."""
    info = sim.info
    if kind == "navixy":
        data = {"url": info["api_url"], "api_key": info["api_key"], "verify_ssl": True}
        unique_id = f"{info['host']}:{info['user_id']}"
        domain, key = "device_tracker", "location"
    else:
        data = {"host": info["host"], "port": info["port"]}
        unique_id = f"{info['host']}:{info['port']}"
        domain, key = "binary_sensor", "online"
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"{kind} bench",
        data={CONF_HUB_KIND: kind, **data},
        options=dict(options or {}),
        unique_id=unique_id,
        version=CURRENT_VERSION,
    )
    scope = hub_scope(entry)
    targets = {entity_unique_id(scope, str(device), key): device for device in sim.devices}
    return Hub(entry, domain, DOMAIN, targets)


def traccar_hub(sim: SimProcess) -> Hub:
    """A traccar_server config entry as its config flow makes it."""
    info = sim.info
    entry = MockConfigEntry(
        domain="traccar_server",
        version=2,
        title=f"{info['host']}:{info['port']}",
        data={
            CONF_HOST: info["host"],
            CONF_PORT: str(info["port"]),
            CONF_API_TOKEN: info["token"],
            CONF_SSL: False,
            CONF_VERIFY_SSL: True,
        },
        options={
            CONF_MAX_ACCURACY: 0.0,
            CONF_CUSTOM_ATTRIBUTES: [],
            CONF_SKIP_ACCURACY_FILTER_FOR: [],
            CONF_EVENTS: [],
        },
        unique_id=f"{info['host']}:{info['port']}",
    )
    targets = dict(zip(info["unique_ids"], sim.devices, strict=True))
    return Hub(entry, "device_tracker", "traccar_server", targets)


type MakeHub = Callable[[SimProcess], Hub]


@dataclass
class Setup:
    """How long a hub took to set up, and how much of it was Home Assistant's zone tracking."""

    seconds: float
    zone_seconds: float


@contextlib.asynccontextmanager
async def running(
    hass: HomeAssistant,
    kind: str,
    size: int,
    make_hub: MakeHub,
    phases: Phases | None = None,
    **options: Any,
) -> AsyncIterator[tuple[SimProcess, Hub, Setup, dict[str, str]]]:
    """Start a simulator and set its hub up; yield it with the setup time and target ids."""
    sim = await SimProcess.start(kind, size, **options)
    hub = make_hub(sim)
    zones = SetupClock()
    try:
        hub.entry.add_to_hass(hass)
        start = time.perf_counter()
        with (
            profiled(f"{kind} {size:,} setup") if phases else contextlib.nullcontext(),
            zones.timing(),
        ):
            if not await hass.config_entries.async_setup(hub.entry.entry_id):
                raise RuntimeError(f"{kind} hub did not set up")
            found = await wait_for_entities(
                hass, hub.domain, hub.platform, hub.unique_ids, setup_timeout(size)
            )
            await hass.async_block_till_done()
        setup = Setup(time.perf_counter() - start, zones.seconds)
        if phases:
            phases.done("setup")
        yield sim, hub, setup, {found[uid]: key for uid, key in hub.unique_ids.items()}
    finally:
        if hub.entry.domain == "traccar_server":
            await stop_background_tasks(hub.entry)
        await hass.config_entries.async_unload(hub.entry.entry_id)
        await hass.async_block_till_done()
        if phases:
            phases.done("unload")
        await sim.stop()


async def stop_background_tasks(entry: MockConfigEntry) -> None:
    """Cancel an entry's background tasks until they end.

    traccar_server's subscription (pytraccar 3.0.0) swallows the first cancellation and then
    sleeps 10 s before reconnecting, so unloading it waits 10 s and leaves the task behind;
    cancelling again while it sleeps ends it.
    """
    tasks = list(entry._background_tasks)  # noqa: SLF001 - no public way to reach them
    async with asyncio.timeout(30):
        while not all(task.done() for task in tasks):
            for task in tasks:
                task.cancel()
            await asyncio.sleep(0.01)


async def warm_up(hass: HomeAssistant, kind: str, make_hub: MakeHub) -> None:
    """Load the integration and its platforms once, so memory deltas are per device."""
    async with running(hass, kind, 1, make_hub, **sim_options(kind, NAVIXY_USER - 1)) as run:
        hub = run[1]
    await hass.config_entries.async_remove(hub.entry.entry_id)
    await hass.async_block_till_done()


def sim_options(kind: str, user: int = NAVIXY_USER) -> dict[str, Any]:
    """Simulator options per kind."""
    return {"user_id": user} if kind == "navixy" else {}


@contextlib.contextmanager
def profiled(label: str) -> Iterator[None]:
    """With BENCH_PROFILE=1, profile the block and print its top functions."""
    if not PROFILE:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        for order in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(
                PROFILE_TOP
            )
            print(f"\n=== cProfile {label}: top {PROFILE_TOP} by {order} ===\n{out.getvalue()}")  # noqa: T201


def start_tracing_memory() -> None:
    """With BENCH_MEMORY=1, trace allocations from here on."""
    if MEMORY:
        tracemalloc.start()


def print_memory(label: str) -> None:
    """With BENCH_MEMORY=1, print where the memory traced since the start went."""
    if not MEMORY:
        return
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    owners: Counter[str] = Counter()
    for stat in snapshot.statistics("filename"):
        path = stat.traceback[0].filename
        owner = next((name for name in MEMORY_OWNERS if name in path), "other")
        owners[owner] += stat.size
    shares = ", ".join(f"{owner} {size / 2**20:.1f} MiB" for owner, size in owners.most_common())
    print(f"\n=== tracemalloc {label}: by owner === {shares}")  # noqa: T201
    for key in ("filename", "lineno"):
        top = "\n".join(str(stat) for stat in snapshot.statistics(key)[:30])
        print(f"\n=== tracemalloc {label}: top 30 by {key} ===\n{top}")  # noqa: T201
    own = [s for s in snapshot.statistics("lineno") if "fleet_push" in s.traceback[0].filename]
    top = "\n".join(str(stat) for stat in own[:30])
    print(f"\n=== tracemalloc {label}: FleetPush's own top 30 lines ===\n{top}")  # noqa: T201


@dataclass
class Rounds:
    """What flat-out rounds measured."""

    updates: int
    cpu: float
    timing: Timing
    changed: int
    reported: int
    missing: int
    gc_seconds: float


async def flat_out(
    sim: SimProcess, recorder: WriteRecorder, size: int, rounds: int, label: str
) -> Rounds:
    """Run `rounds` rounds back to back; keep the last round's changes for the floor."""
    await sim.call("stamps")
    recorder.reset()
    ends: list[float] = []
    missing = 0
    with profiled(label), GcClock() as collector:
        cpu = time.process_time()
        for number in range(rounds):
            recorder.keep = number == rounds - 1
            recorder.expect(size)
            await sim.call("round")
            missing += await recorder.wait(round_timeout(size))
            ends.append(recorder.last_write)
        cpu = time.process_time() - cpu
    print(  # noqa: T201
        f"[bench] {label}: garbage collector {collector.seconds:.2f} s in "
        f"{collector.collections} collections of {cpu:.2f} s CPU",
        flush=True,
    )
    recorder.keep = False
    stamps = (await sim.call("stamps"))["stamps"]
    timing = match_writes(stamps, recorder.writes, size, ends)
    return Rounds(
        size * rounds, cpu, timing, recorder.changed, recorder.reported, missing, collector.seconds
    )


async def paced_latency(sim: SimProcess, recorder: WriteRecorder) -> tuple[Timing, float]:
    """Latency of PACED_COUNT reports at PACED_RATE per second; the longest collection."""
    await sim.call("stamps")
    recorder.reset()
    recorder.expect(PACED_COUNT)
    with GcClock() as collector:
        await sim.call("pace", rate=PACED_RATE, count=PACED_COUNT, timeout=PACED_COUNT / 100)
        missing = await recorder.wait(30.0)
    stamps = (await sim.call("stamps"))["stamps"]
    timing = match_writes(stamps, recorder.writes, 0, [])
    timing.unmatched += missing
    return timing, collector.longest


async def measure(
    hass: HomeAssistant,
    hub_name: str,
    kind: str,
    size: int,
    make_hub: MakeHub,
    *,
    fleet_push: bool,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """Set a hub up, run warm-up and flat-out rounds, the floor and paced latency.

    FleetPush's hubs also get their floor and the per-stage split of their CPU.
    """
    phases = Phases(f"{hub_name} {size:,}")
    if size < PACED_FROM:  # at the largest size the fixed costs do not matter
        await warm_up(hass, kind, make_hub)
        phases.done("warm-up hub")
    rss = settled_rss()
    rounds = ROUNDS[size]
    start_tracing_memory()
    options = {**sim_options(kind), **options}
    async with running(hass, kind, size, make_hub, phases, **options) as running_hub:
        sim, hub, setup, ids = running_hub
        recorder = WriteRecorder(hass, ids)
        recorder.start()
        try:
            if kind == "traccar":
                await sim.call("wait_connected")
            await quiet(hass, recorder)
            # Before the registries save themselves: the test harness keeps a decoded copy
            # of everything saved in memory, which a real installation does not.
            rss = settled_rss() - rss
            print_memory(f"{hub_name} {size:,}")
            await flush_delayed_saves(hass)
            phases.done("registry saves")
            recorder.expect(size)
            await sim.call("round")  # warm-up round
            await recorder.wait(round_timeout(size))
            phases.done("warm-up round")
            measured = await flat_out(sim, recorder, size, rounds, f"{hub_name} {size}")
            phases.done(f"{rounds} rounds")
            figures = figures_of(hub_name, size, measured, setup, rss)
            figures["enabled_per_device"] = enabled_entities(hass, hub) / size
            figures.update(floors_of(hass, recorder, size))
            phases.done("floors")
            targets = TARGETS if fleet_push else PEER_TARGETS
            figures["stages_us"] = await stage_split(sim, recorder, size, targets)
            phases.done(f"{STAGE_ROUNDS} rounds split by stage")
            if size >= PACED_FROM:
                paced, longest_gc = await paced_latency(sim, recorder)
                figures.update(latency_figures(paced.latencies), latency=f"{PACED_RATE:.0f}/s")
                figures["paced_gc_max_ms"] = longest_gc * 1e3
                figures["unmatched"] += paced.unmatched
                phases.done(f"{PACED_COUNT:,} paced reports")
        finally:
            recorder.stop()
    figures["loop_debug"] = asyncio.get_running_loop().get_debug()
    return figures


async def stage_split(
    sim: SimProcess, recorder: WriteRecorder, size: int, targets: tuple[Target, ...]
) -> dict[str, float]:
    """Microseconds per report of each stage of the hot path (bench/stages.py)."""
    clock = StageClock(targets)
    with clock.timing():
        cpu = time.process_time()
        for _ in range(STAGE_ROUNDS):
            recorder.expect(size)
            await sim.call("round")
            await recorder.wait(round_timeout(size))
        cpu = time.process_time() - cpu
    await sim.call("stamps")
    return clock.per_report(cpu, size * STAGE_ROUNDS)


def floors_of(hass: HomeAssistant, recorder: WriteRecorder, size: int) -> dict[str, float]:
    """CPU microseconds per report of writing the last round's changes the cheapest ways.

    The recorded changes are replayed on the same entities, backwards to their old states and
    forwards again: both are real changes with the same attributes and the same listeners
    (the zone follows every device tracker) as the writes being compared. `floor_us`: bare
    hass.states.async_set calls; `entity_floor_us`: the same writes through the least entity
    there is (harness.ReplayEntity), Home Assistant's entity layer and nothing else.
    """
    backwards, forwards = floor_calls(recorder.changes)
    recorder.changes = []
    bare = replay(hass, backwards) + replay(hass, forwards)
    through_entities = entity_replayer(hass, forwards)
    through_entities(backwards)  # each entity's first write: out of the timing
    through_entities(forwards)
    entity = through_entities(backwards) + through_entities(forwards)
    return {"floor_us": bare / 2 / size * 1e6, "entity_floor_us": entity / 2 / size * 1e6}


def enabled_entities(hass: HomeAssistant, hub: Hub) -> int:
    """How many enabled entities a hub's config entry has."""
    entries = er.async_entries_for_config_entry(er.async_get(hass), hub.entry.entry_id)
    return sum(1 for entry in entries if entry.disabled_by is None)


def latency_figures(latencies: list[float]) -> dict[str, Any]:
    """p50 and p99 in milliseconds."""
    if not latencies:
        return {"p50_ms": None, "p99_ms": None}
    p50 = latencies[min(len(latencies) - 1, len(latencies) // 2)]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return {"p50_ms": p50 * 1e3, "p99_ms": p99 * 1e3}


def figures_of(hub: str, size: int, rounds: Rounds, setup: Setup, rss: int) -> dict[str, Any]:
    """The table row of one case."""
    updates = rounds.updates
    return {
        "case": "hub",
        "hub": hub,
        "size": size,
        "rounds": updates // size,
        "updates": updates,
        "ups": updates / rounds.timing.busy if rounds.timing.busy > 0 else None,
        "cpu_us": rounds.cpu / updates * 1e6,
        "changed": rounds.changed / updates,
        "reported": rounds.reported / updates,
        **latency_figures(rounds.timing.latencies),
        "latency": "flat out",
        "setup_s": setup.seconds,
        "setup_zone_s": setup.zone_seconds,
        "kib_per_device": rss / size / 1024,
        "floor_us": None,
        "unmatched": rounds.timing.unmatched + rounds.missing,
        "gc_share": rounds.gc_seconds / rounds.cpu if rounds.cpu else None,
    }


@pytest.mark.timeout(900)
@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size}")
@pytest.mark.parametrize("hub", list(FLEET_PUSH_CASES))
async def test_fleet_push(hass: HomeAssistant, hub: str, size: int) -> None:
    """FleetPush, its floor, its per-stage split, and latency (paced at the largest size)."""
    kind, options = FLEET_PUSH_CASES[hub]

    def make(sim: SimProcess) -> Hub:
        return fleet_push_hub(kind, sim)

    record(await measure(hass, hub, kind, size, make, fleet_push=True, options=options))


@pytest.mark.timeout(900)
@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size}")
@pytest.mark.parametrize("hub", list(TRACCAR_FEEDS))
async def test_traccar_server(hass: HomeAssistant, hub: str, size: int) -> None:
    """The peer: Home Assistant's traccar_server.

    Fed batched, one position per frame, or as a real Traccar server feeds it.
    """
    options = {"feed": TRACCAR_FEEDS[hub]}
    record(
        await measure(hass, hub, "traccar", size, traccar_hub, fleet_push=False, options=options)
    )


@dataclass
class ChangeCounter:
    """state_changed events per config entry: all of them, and transitions."""

    hub_of: dict[str, int]
    transition: dict[str, str]
    """entity_id -> its key, for the binary sensors users automate on."""
    changes: Counter[int]
    transitions: Counter[tuple[int, str]]

    @callback
    def on_changed(self, data: Mapping[str, Any]) -> bool:
        """Count one state change."""
        entity_id = data["entity_id"]
        hub = self.hub_of.get(entity_id)
        if hub is not None:
            self.changes[hub] += 1
            if (key := self.transition.get(entity_id)) is not None:
                self.transitions[hub, key] += 1
        return False


@callback
def _never(_event: object) -> None:
    """Listener behind the counting filter."""


@pytest.mark.timeout(900)
@pytest.mark.usefixtures("socket_enabled")
async def test_coalescing(hass: HomeAssistant) -> None:
    """Two identical 1,000-tracker Navixy fleets, one with min_position_interval=60."""
    async with contextlib.AsyncExitStack() as stack:
        hubs = []
        for number, interval in enumerate(COALESCE_INTERVALS):
            options = {CONF_MIN_POSITION_INTERVAL: interval}

            def make(sim: SimProcess, options: dict[str, Any] = options) -> Hub:
                return fleet_push_hub("navixy", sim, options)

            started = await stack.enter_async_context(
                running(
                    hass,
                    "navixy",
                    COALESCE_TRACKERS,
                    make,
                    on_the_road=True,
                    **sim_options("navixy", NAVIXY_USER + number),
                )
            )
            hubs.append(started)
        registry = er.async_get(hass)
        hub_of: dict[str, int] = {}
        transition: dict[str, str] = {}
        for number, (_, hub, _, _) in enumerate(hubs):
            for entity in er.async_entries_for_config_entry(registry, hub.entry.entry_id):
                hub_of[entity.entity_id] = number
                if (key := entity.unique_id.rsplit("/", 1)[-1]) in TRANSITION_KEYS:
                    transition[entity.entity_id] = key
        counter = ChangeCounter(hub_of, transition, Counter(), Counter())
        await flush_delayed_saves(hass)
        await asyncio.sleep(1.5)  # the first state_batch after subscribing
        remove = hass.bus.async_listen(EVENT_STATE_CHANGED, _never, event_filter=counter.on_changed)
        try:
            drives: list[Awaitable[dict[str, Any]]] = [
                sim.call(
                    "drive",
                    every=COALESCE_EVERY,
                    seconds=COALESCE_WINDOW,
                    timeout=COALESCE_WINDOW * 3,
                )
                for sim, _, _, _ in hubs
            ]
            replies = await asyncio.gather(*drives)
            await asyncio.sleep(2.0)  # the last state_batch
            await hass.async_block_till_done()
        finally:
            remove()
    record(
        {
            "case": "coalescing",
            "trackers": COALESCE_TRACKERS,
            "every": COALESCE_EVERY,
            "window": COALESCE_WINDOW,
            "reports": replies[0]["reports"],
            "intervals": list(COALESCE_INTERVALS),
            "changes": [counter.changes[number] for number in range(len(hubs))],
            "transitions": [
                sum(counter.transitions[number, key] for key in TRANSITION_KEYS)
                for number in range(len(hubs))
            ],
            "transition_keys": {
                key: [counter.transitions[number, key] for number in range(len(hubs))]
                for key in TRANSITION_KEYS
            },
        }
    )
