"""Parse and merge alone, without Home Assistant: python -m bench.parse.

A Navixy and an iMouse XP client are fed the benchmark's frames by hand (1,000 devices, 20
rounds) and their updates merged into devices as the coordinator does (plausibility, then
Device.apply). It prints the best of several runs in CPU microseconds per report: the quick
way to measure an idea for the client or the merge before running scripts/bench.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
import json
import time
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from custom_components.fleet_push.fleet import Device
from custom_components.fleet_push.hubs.connection import HubClient
from custom_components.fleet_push.hubs.imouse import IMouseClient
from custom_components.fleet_push.hubs.model import DeviceUpdate, FleetSnapshot, HubMessage
from custom_components.fleet_push.hubs.navixy import NavixyClient
from custom_components.fleet_push.plausibility import plausible
from tests.simulator.imouse import envelope, result

from .sims import BenchIMouse, BenchNavixy

if TYPE_CHECKING:
    import aiohttp

DEVICES = 1_000
ROUNDS = 20
RUNS = 5


def merging() -> Callable[[HubMessage], None]:
    """A listener that merges updates into devices as the coordinator does."""
    devices: dict[str, Device] = {}
    rejected: Counter[str] = Counter()

    def listener(message: HubMessage) -> None:
        if isinstance(message, FleetSnapshot):
            for update in message.devices:
                listener(update)
        elif isinstance(message, DeviceUpdate):
            update = plausible(message, rejected)
            device = devices.setdefault(update.device_id, Device(update.device_id))
            device.apply(update, set())

    return listener


def navixy_frames() -> tuple[NavixyClient, list[str]]:
    """A Navixy client that knows the fleet, and one state_batch per round."""
    sim = BenchNavixy(devices=DEVICES, seed=1)
    session = cast("aiohttp.ClientSession", None)
    client = NavixyClient(session, merging(), api_key="k" * 32)
    listing = [{"id": t.tracker_id, "source": {"id": t.source_id}} for t in sim.trackers.values()]
    client.emit(client._load_trackers({"list": listing}))  # noqa: SLF001 - no REST here
    client._tz = ZoneInfo(sim.time_zone)  # noqa: SLF001 - the account's zone, as REST says
    frames = []
    for _ in range(ROUNDS + 1):
        for tracker_id in sim.trackers:
            sim.nudge(tracker_id)
        items = [sim.item(tracker, compact=False) for tracker in sim.trackers.values()]
        frames.append(json.dumps(sim._event("state_batch", items)))  # noqa: SLF001
    client.handle_text(frames.pop(0))  # every tracker's first state
    return client, frames


def imouse_frames() -> tuple[IMouseClient, list[str]]:
    """An iMouse XP client that knows the phones, and one record per report."""
    sim = BenchIMouse(devices=DEVICES, seed=1)
    session = cast("aiohttp.ClientSession", None)
    client = IMouseClient(session, merging(), host="127.0.0.1")
    phones = list(sim.devices.values())
    client.handle_text(json.dumps(envelope("dev_change", result(list=phones))))
    frames = []
    for _ in range(ROUNDS):
        for record in phones:
            host = int(record["ip"].rsplit(".", 1)[1])
            record["ip"] = f"192.168.9.{host % 254 + 1}"
            frames.append(json.dumps(envelope("dev_change", result(list=[record]))))
    return client, frames


def per_report(client: HubClient, frames: list[str]) -> float:
    """CPU microseconds per report of handling the frames."""
    start = time.process_time()
    for frame in frames:
        client.handle_text(frame)
    return (time.process_time() - start) / (ROUNDS * DEVICES) * 1e6


def main() -> None:
    """Print the best of RUNS runs for each kind."""
    makers = {"navixy": navixy_frames, "imouse": imouse_frames}
    best = dict.fromkeys(makers, float("inf"))
    for _ in range(RUNS):
        for kind, make in makers.items():
            best[kind] = min(best[kind], per_report(*make()))
    for kind, micros in best.items():
        print(f"{kind}: parse and merge {micros:.1f} us per report")  # noqa: T201


if __name__ == "__main__":
    main()
