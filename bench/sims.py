"""The hub simulators the benchmark drives, run in a child process: python -m bench.sims CONFIG.

They subclass the test simulators (tests/simulator/) and add what a benchmark needs: a round in
which every device reports once, flat out; reports paced at a given rate; and a stamp of
time.monotonic() (one clock for every process on the machine) taken just before each frame that
carries device updates is handed to the socket.

Running them in their own process keeps their CPU out of Home Assistant's process_time() and
lets them run on the other core, as a remote hub would. The parent talks to the child through
its stdin and stdout, one JSON object per line: the child first prints what it serves (port,
credentials, device keys), then answers each command with one line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
import json
import math
import sys
import time
from typing import Any, ClassVar

from tests.simulator.base import Connection, HubSimulator
from tests.simulator.imouse import IMouseSimulator, envelope, result
from tests.simulator.navixy import NavixySimulator, SimTracker, Subscription

from .traccar_simulator import TraccarSimulator

type Stamp = tuple[float, list[Any]]
"""When a frame left, and the keys of the devices whose updates it carried."""

FEEDS = ("devices", "single", "batched")
"""How the Traccar simulator feeds its reports (see BenchTraccar)."""
STEP_METRES = 30.0
"""How far a tracker moves per report: a position change and nothing else."""
MOVING_TENTHS = 7
"""Tenths of the fleet on the road when the coalescing case starts."""
TRIP_REPORTS = 360
STOP_REPORTS = 120
OFFLINE_REPORTS = 2_000
"""Average trip, stop and online spell in reports (at 5 s: 30 min, 10 min, about 3 h)."""


async def paced(rate: float, count: int, report: Callable[[int], Awaitable[None]]) -> float:
    """Call report(0..count-1) at `rate` per second; return the seconds it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for index in range(count):
        delay = start + index / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await report(index)
    return loop.time() - start


class BenchHub(HubSimulator):
    """What every benchmark simulator adds: stamped frames, rounds, paced reports."""

    bench_kind: ClassVar[str]

    def __init__(self, **options: Any) -> None:
        """A simulator that keeps the stamps of the frames it sends."""
        self.stamps: list[Stamp] = []
        super().__init__(**options)

    async def send_stamped(self, frame: str, keys: list[Any]) -> None:
        """Send a frame to every client, stamping the moment it leaves."""
        for conn in list(self.connections):
            sent = time.monotonic()
            await conn.send(frame)
            self.stamps.append((sent, keys))

    def device_keys(self) -> list[Any]:
        """The key of every device, in report order."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What the parent needs to configure Home Assistant."""
        return {"host": self.host, "port": self.port, "devices": self.device_keys()}

    async def report(self, key: Any) -> None:
        """One device reports one change (sent at once, or with the hub's next batch)."""
        raise NotImplementedError

    async def bench_round(self) -> int:
        """Every device reports once, flat out; return how many reports went out."""
        keys = self.device_keys()
        for key in keys:
            await self.report(key)
        return len(keys)

    async def bench_pace(self, rate: float, count: int) -> float:
        """`count` reports, round-robin over the devices, at `rate` per second."""
        keys = self.device_keys()
        return await paced(rate, count, lambda index: self.report(keys[index % len(keys)]))

    async def command(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run one command from the parent."""
        match name:
            case "wait_connected":
                await self.wait_for_connections(int(args.get("count", 1)), timeout=120.0)
                return {"connections": len(self.connections)}
            case "round":
                return {"reports": await self.bench_round()}
            case "pace":
                return {"seconds": await self.bench_pace(float(args["rate"]), int(args["count"]))}
            case "stamps":
                stamps, self.stamps = self.stamps, []
                return {"stamps": stamps}
            case _:
                return await self.extra_command(name, args)

    async def extra_command(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Commands of one kind only."""
        raise ValueError(f"unknown command {name!r}")


class BenchNavixy(BenchHub, NavixySimulator):
    """Navixy: a report marks a tracker for the next state_batch; rounds flush at once."""

    bench_kind = "navixy"

    def __init__(
        self,
        *,
        user_id: int = NavixySimulator.user_id,
        on_the_road: bool = False,
        one_per_frame: bool = False,
        **options: Any,
    ) -> None:
        """A Navixy account; user_id tells accounts apart (it is part of the unique id).

        on_the_road: MOVING_TENTHS of the fleet drive from the start (for "drive").
        one_per_frame: each tracker's state in its own `state` event, not one `state_batch`.
        """
        self.user_id = user_id
        self.one_per_frame = one_per_frame
        self.force_flush = False
        super().__init__(**options)
        if on_the_road:
            for index, tracker in enumerate(self.trackers.values()):
                if index % 10 < MOVING_TENTHS:
                    tracker.state.update(movement_status="moving", ignition=True)
                    tracker.state["gps"]["speed"] = 50

    def device_keys(self) -> list[Any]:
        """Tracker ids."""
        return list(self.trackers)

    def describe(self) -> dict[str, Any]:
        """Where the API is and the key to it."""
        return {
            **super().describe(),
            "api_url": self.api_url,
            "api_key": self.api_key,
            "user_id": self.user_id,
        }

    def nudge(self, tracker_id: int) -> None:
        """The tracker moved STEP_METRES along its heading; nothing else changed."""
        gps = self.trackers[tracker_id].state["gps"]
        location, heading = gps["location"], math.radians(gps["heading"])
        lat = location["lat"] + STEP_METRES * math.cos(heading) / 111_320
        lng = location["lng"] + STEP_METRES * math.sin(heading) / (
            111_320 * math.cos(math.radians(lat))
        )
        gps["location"] = {"lat": lat, "lng": lng}
        self._touch(tracker_id)

    async def report(self, key: Any) -> None:
        """Move; the periodic flush sends it with the next batch (at the subscription's rate)."""
        self.nudge(key)

    async def bench_round(self) -> int:
        """Every tracker moves, then one state_batch with all of them goes out at once."""
        for tracker_id in self.trackers:
            self.nudge(tracker_id)
        self.force_flush = True
        try:
            for conn in list(self.connections):
                await self._flush(conn)
        finally:
            self.force_flush = False
        return len(self.trackers)

    async def extra_command(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """drive: every tracker reports every `every` seconds for `seconds`, as a fleet does."""
        if name != "drive":
            return await super().extra_command(name, args)
        every, seconds = float(args["every"]), float(args["seconds"])
        trackers = list(self.trackers.values())
        count = int(len(trackers) * seconds / every)

        async def report(index: int) -> None:
            tracker = trackers[index % len(trackers)]
            if self.commute(tracker):
                self._touch(tracker.tracker_id)

        return {"seconds": await paced(len(trackers) / every, count, report), "reports": count}

    def commute(self, tracker: SimTracker) -> bool:
        """One report interval of a working fleet; False if the tracker is offline (silent).

        Trips last TRIP_REPORTS reports and stops STOP_REPORTS on average; one report in
        OFFLINE_REPORTS loses the connection for a few reports.
        """
        state, roll, now = tracker.state, self.random.random(), self.user_time()
        if state["connection_status"] == "offline":
            if roll < 1 / 5:
                state["connection_status"] = "active"
            return bool(state["connection_status"] != "offline")
        if roll < 1 / OFFLINE_REPORTS:
            state["connection_status"] = "offline"
            return False
        if state["movement_status"] == "moving":
            if roll < 1 / TRIP_REPORTS:
                self._stop(state, now)
            else:
                self._advance(state["gps"])
        elif roll < 1 / STOP_REPORTS:
            state.update(
                movement_status="moving",
                movement_status_update=now,
                ignition=True,
                ignition_update=now,
            )
            state["gps"]["speed"] = 30
        return True

    async def _flush(self, conn: Connection) -> None:
        """The simulator's flush, stamping each frame; a forced flush ignores rate limits."""
        now = asyncio.get_running_loop().time()
        for sub in conn.state.get("subscriptions", ()):
            if not sub.dirty or (not self.force_flush and now - sub.last_sent < sub.interval):
                continue
            await self._send_batch(conn, sub, now)

    async def _send_batch(self, conn: Connection, sub: Subscription, now: float) -> None:
        found = (self.trackers.get(i) for i in sorted(sub.dirty))
        trackers: list[SimTracker] = [t for t in found if t is not None and not t.blocked]
        sub.dirty.clear()
        sub.last_sent = now
        if not trackers:
            return
        if sub.kind == "readings_batch":  # only what changed: a position report changes none
            if readings := self.readings(sub, trackers):
                await self._send(conn, self._event("readings_batch", readings))
            return
        items = [self.item(t, compact=sub.compact) for t in trackers]
        if sub.kind == "state_batch" and not self.one_per_frame:
            frames = [(self._event("state_batch", items), [t.tracker_id for t in trackers])]
        else:
            frames = [
                (self._event("state", item), [t.tracker_id])
                for item, t in zip(items, trackers, strict=True)
            ]
        for frame, keys in frames:
            text = json.dumps(frame, ensure_ascii=False)
            if conn.ws.closed:
                return
            sent = time.monotonic()
            await conn.send(text)
            self.stamps.append((sent, keys))


class BenchIMouse(BenchHub, IMouseSimulator):
    """iMouse XP: a report is a phone's record (dev_change) with one value changed.

    The value is the phone's IP address (its DHCP lease renewed): one value, shown by one
    entity (the Online sensor's `ip` attribute), as a Traccar position is one value of one
    tracker. An online flip would be a fair report too, but it changes two entities (Online,
    and the Restart button, unavailable while its phone is offline): two writes, not one.
    """

    bench_kind = "imouse"

    def device_keys(self) -> list[Any]:
        """Phone ids (their deviceid)."""
        return list(self.devices)

    async def report(self, key: Any) -> None:
        """The phone's IP address changes; the kernel sends its whole record."""
        record = self.devices[key]
        host = int(record["ip"].rsplit(".", 1)[1])
        record["ip"] = f"192.168.9.{host % 254 + 1}"
        frame = envelope("dev_change", result(list=[record]))
        await self.send_stamped(json.dumps(frame, ensure_ascii=False), [key])


class BenchTraccar(BenchHub, TraccarSimulator):
    """Traccar: a report is {"devices": [d]} then {"positions": [p]}; the latter is stamped.

    feed: "devices" (as a Traccar server really feeds it: a devices message, then a
    one-position positions message), "single" (the positions message alone) or "batched" (a
    round is one positions message with every device's position; reports out of rounds are
    single).
    """

    bench_kind = "traccar"

    def __init__(self, *, feed: str = "devices", **options: Any) -> None:
        """A Traccar server feeding reports one of three ways."""
        if feed not in FEEDS:
            raise ValueError(f"feed is one of {', '.join(FEEDS)}")
        self.feed = feed
        super().__init__(**options)

    def device_keys(self) -> list[Any]:
        """Traccar device ids."""
        return list(self.devices)

    def describe(self) -> dict[str, Any]:
        """The API token, and each device's uniqueId (the tracker entity's unique id)."""
        return {
            **super().describe(),
            "token": self.token,
            "unique_ids": [self.unique_id(key) for key in self.devices],
        }

    async def report(self, key: Any) -> None:
        """The device moved: its devices message (as really fed), then its positions message."""
        device_frame, position_frame = self.report_frames(key)
        if self.feed == "devices":
            await self.push(device_frame)
        await self.send_stamped(position_frame, [key])

    async def bench_round(self) -> int:
        """Batched: every device moves, then one positions message carries them all."""
        if self.feed != "batched":
            return await super().bench_round()
        keys = self.device_keys()
        positions = [self.move(key)[1] for key in keys]
        await self.send_stamped(json.dumps({"positions": positions}), keys)
        return len(keys)


SIMULATORS: dict[str, type[BenchHub]] = {
    cls.bench_kind: cls for cls in (BenchNavixy, BenchIMouse, BenchTraccar)
}


async def serve(config: dict[str, Any]) -> None:
    """Start the simulator, say where it is, then answer commands until "stop" or EOF."""
    options = dict(config.get("options", {}))
    simulator = SIMULATORS[config["kind"]](devices=int(config["devices"]), seed=1, **options)
    await simulator.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    _answer(simulator.describe())
    try:
        while line := await reader.readline():
            request = json.loads(line)
            name = request.pop("cmd")
            if name == "stop":
                break
            try:
                _answer(await simulator.command(name, request))
            except Exception as err:  # noqa: BLE001 - the parent must hear of it
                _answer({"error": repr(err)})
    finally:
        transport.close()
        await simulator.stop()
        _answer({"stopped": True})


def _answer(reply: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()


def main() -> None:
    """Serve the simulator described by the JSON in argv[1]."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(json.loads(sys.argv[1])))


if __name__ == "__main__":
    main()
