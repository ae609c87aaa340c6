"""The simulators' demo pace: fleets that behave like real ones, for scripts/develop.

At the test pace (the default) something changes on every tick, so that tests see every
transition fast. At the demo pace a fleet does in each tick what a real one does in that time:
trips and tasks of minutes, parking and idling between them, now and then a device offline for a
while, never a vehicle that drives while offline or parked. The clock here is the simulators'
own (ticks times their length): two simulated hours take no real time.
"""

from __future__ import annotations

from collections.abc import Callable
import math
from typing import Any

import pytest

from tests.simulator import KINDS, simulator_class
from tests.simulator.base import ACTIVE_FOR, KM_PER_DEGREE, RESTING_FOR, ROAM_KM, HubSimulator

HOURS = 2
DEVICES = 6


def _navixy(sim: Any) -> dict[str, tuple[bool, bool, tuple[float, float] | None]]:
    return {
        str(tracker_id): (
            tracker.state["ignition"],
            tracker.state["connection_status"] in {"active", "idle"},
            tuple(tracker.state["gps"]["location"].values()),
        )
        for tracker_id, tracker in sim.trackers.items()
    }


def _tftiot(sim: Any) -> dict[str, tuple[bool, bool, tuple[float, float] | None]]:
    return {
        imei: (tracker.acc, tracker.online, (tracker.lat, tracker.lng))
        for imei, tracker in sim.trackers.items()
    }


def _devicehive(sim: Any) -> dict[str, tuple[bool, bool, tuple[float, float] | None]]:
    return {
        device_id: (device.speed > 0, device.reporting, (device.lat, device.lng))
        for device_id, device in sim.devices.items()
    }


def _iclick(sim: Any) -> dict[str, tuple[bool, bool, tuple[float, float] | None]]:
    return {
        device_id: (record["busying"], record["online"], None)
        for device_id, record in sim.devices.items()
    }


def _imouse(sim: Any) -> dict[str, tuple[bool, bool, tuple[float, float] | None]]:
    return {
        device_id: (record["rotate"] == 1, record["state"] == 1, None)
        for device_id, record in sim.devices.items()
    }


OBSERVE: dict[str, Callable[[Any], dict[str, tuple[bool, bool, tuple[float, float] | None]]]] = {
    "navixy": _navixy,
    "tftiot": _tftiot,
    "devicehive": _devicehive,
    "iclick": _iclick,
    "imouse": _imouse,
}
"""Per device: whether it is active (driving, busy, in landscape), online, and where it is."""


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    north = (a[0] - b[0]) * KM_PER_DEGREE
    east = (a[1] - b[1]) * KM_PER_DEGREE * math.cos(math.radians(a[0]))
    return math.hypot(north, east)


def test_the_test_pace_is_the_default() -> None:
    for kind in KINDS:
        assert simulator_class(kind)().pace == "test"


@pytest.mark.parametrize("kind", KINDS)
async def test_at_the_demo_pace_a_fleet_behaves_like_a_real_one(kind: str) -> None:
    sim: HubSimulator = simulator_class(kind)(devices=DEVICES, event_rate=1.0, pace="demo")
    observe = OBSERVE[kind]
    await sim.step()
    seen = observe(sim)
    started = [active for active, _, _ in seen.values()]
    assert any(started), "nothing under way at the start"
    assert not all(started), "everything under way at the start, all in step"
    start = {device: where for device, (_, _, where) in seen.items() if where is not None}
    first = sim.clock
    since = dict.fromkeys(seen, first)
    phases: dict[bool, list[float]] = {True: [], False: []}
    offline_seconds = 0.0
    went_offline = 0
    for _ in range(HOURS * 3600):
        await sim.step()
        now = observe(sim)
        for device, (active, online, where) in now.items():
            was_active, was_online, was_where = seen[device]
            if active != was_active:
                if since[device] > first:  # not the first phase, under way from the start
                    phases[was_active].append(sim.clock - since[device])
                since[device] = sim.clock
            if was_online and not online:
                went_offline += 1
            if not online:
                offline_seconds += sim.tick_seconds
                assert not active, f"{device} is active while offline"
            if where is not None and was_where is not None and where != was_where:
                assert active, f"{device} moved while parked"
                assert online, f"{device} moved while offline"
                assert _km(where, start[device]) < ROAM_KM + 1.5
        seen = now

    assert phases[True], "nothing ever became active"
    assert phases[False], "nothing ever rested"
    assert min(phases[True]) >= ACTIVE_FOR[0] - 1
    assert min(phases[False]) >= RESTING_FOR[0] - 1
    changes = len(phases[True]) + len(phases[False])
    assert changes < DEVICES * HOURS * 3600 / 60  # fewer than one change a minute per device
    assert offline_seconds < 0.2 * DEVICES * HOURS * 3600
    assert went_offline < DEVICES * HOURS
