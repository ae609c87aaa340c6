"""Where a report's CPU goes: each stage of FleetPush's hot path timed on its own.

Timers wrap the function that starts each stage; a stage's time excludes the stages nested in
it, so the stages add up to the time inside the client's frame handler. What is left of the
process CPU (reading the socket, the event loop) is "other". The wrappers cost a little per
call themselves, so the split runs in rounds of its own, after the measured ones. They read
the wall clock (the process's CPU clock costs a system call per read here, which would
swamp the stages): on a busy machine other processes' time lands in whatever stage was
running, so the split is only worth reading from a quiet machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
import functools
import time
from typing import Any
from unittest.mock import patch

from homeassistant.components.device_tracker import TrackerEntity
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.event import _TrackStateChangeFiltered
import orjson

from custom_components.fleet_push import coordinator
from custom_components.fleet_push.fleet import Device
from custom_components.fleet_push.hubs.connection import HubClient
from custom_components.fleet_push.listeners import Listeners

STAGES = ("decode", "parse", "merge", "dispatch", "ha_write", "other")
"""decode: JSON to Python objects; parse: the client reads the fields it knows; merge: sane
values merged into the device's state; dispatch: routing to the entities concerned and their
own bookkeeping; ha_write: Home Assistant's entity write (its state, attributes, zone, the
state_changed event); other: the socket, the event loop."""

type Target = tuple[Any, str, str]
"""(owner, attribute, stage): a function whose calls start a stage."""

TARGETS: tuple[Target, ...] = (
    (HubClient, "_guarded", "parse"),
    (orjson, "loads", "decode"),
    (HubClient, "emit", "dispatch"),
    (coordinator, "plausible", "merge"),
    (Device, "apply", "merge"),
    (Listeners, "device_changed", "dispatch"),
    (TrackerEntity, "_async_write_ha_state", "ha_write"),
    (Entity, "_async_write_ha_state", "ha_write"),
)
"""Home Assistant's write is timed where its entities do it, the tracker's zones included:
the same two targets time traccar_server's writes (PEER_TARGETS)."""
PEER_TARGETS: tuple[Target, ...] = TARGETS[-2:]
"""For traccar_server: its entities' writes; the rest of its CPU is "other"."""


class StageClock:
    """Seconds per stage, each exclusive of the stages nested in it."""

    def __init__(self, targets: tuple[Target, ...] = TARGETS) -> None:
        """Nothing timed yet; `targets` start the stages timed."""
        self.targets = targets
        self.seconds = {stage: 0.0 for _, _, stage in targets}
        self._stack: list[str] = []

    def wrap(self, function: Callable[..., Any], stage: str) -> Callable[..., Any]:
        """The function, timed as `stage` (its time taken off the stage it runs in)."""
        clock, stack, seconds = time.perf_counter, self._stack, self.seconds

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            outer = stack[-1] if stack else None
            stack.append(stage)
            start = clock()
            try:
                return function(*args, **kwargs)
            finally:
                spent = clock() - start
                stack.pop()
                seconds[stage] += spent
                if outer is not None:
                    seconds[outer] -= spent

        return timed

    @contextlib.contextmanager
    def timing(self) -> Iterator[None]:
        """Time the stages inside the block."""
        with contextlib.ExitStack() as stack:
            for owner, name, stage in self.targets:
                original = getattr(owner, name)
                stack.enter_context(patch.object(owner, name, self.wrap(original, stage)))
            yield

    def per_report(self, cpu: float, reports: int) -> dict[str, float]:
        """Microseconds per report of each stage; "other" is the CPU the stages leave."""
        split = {
            stage: self.seconds[stage] / reports * 1e6 for stage in STAGES if stage in self.seconds
        }
        split["other"] = max(cpu / reports * 1e6 - sum(split.values()), 0.0)
        return split


class SetupClock:
    """Seconds Home Assistant spends re-subscribing its zone tracking as trackers appear.

    For every device tracker added, `_TrackStateChangeFiltered._state_added` (zone tracking)
    cancels its listener of every tracker and subscribes to every tracker again (quadratic in
    the fleet): Home Assistant's cost, whoever adds the trackers. Its bound method is taken
    when zone tracking starts, so the two methods it calls are the ones timed.
    """

    METHODS = ("_cancel_listener", "_setup_entities_listener")

    def __init__(self) -> None:
        """Nothing timed yet."""
        self.seconds = 0.0

    def _timed(self, original: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(original)
        def timed(*args: Any) -> None:
            start = time.perf_counter()
            try:
                original(*args)
            finally:
                self.seconds += time.perf_counter() - start

        return timed

    @contextlib.contextmanager
    def timing(self) -> Iterator[None]:
        """Time the re-subscriptions inside the block."""
        with contextlib.ExitStack() as stack:
            for name in self.METHODS:
                original = getattr(_TrackStateChangeFiltered, name)
                stack.enter_context(
                    patch.object(_TrackStateChangeFiltered, name, self._timed(original))
                )
            yield
