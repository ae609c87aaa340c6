"""Run the benchmark, one pytest process per case, and print one table: python -m bench.

Each case runs in its own process so that its resident memory is its own. Options pick sizes,
hubs and the coalescing case; --profile runs FleetPush's setup and rounds at 1,000 devices
under cProfile instead.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
from pathlib import Path
import platform
import subprocess
import sys
import tempfile
import time

from .report import HUB_ORDER, ROUNDS, load, table

ROOT = Path(__file__).resolve().parent.parent
HUBS = HUB_ORDER
SIZES = (100, 1_000, 10_000)
TAIL = 40


def node(hub: str, size: int) -> str:
    """The pytest node id of one case."""
    test = "test_traccar_server" if hub.startswith("traccar") else "test_fleet_push"
    return f"bench/test_benchmark.py::{test}[{hub}-{size}]"


def parse() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="device counts")
    parser.add_argument("--hubs", default=",".join(HUBS), help=f"any of {', '.join(HUBS)}")
    parser.add_argument("--no-coalescing", action="store_true", help="skip the coalescing case")
    parser.add_argument(
        "--window", type=float, default=120.0, help="how long the coalescing case runs, seconds"
    )
    parser.add_argument("--paced", type=int, default=10_000, help="paced reports at 10,000")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile FleetPush's setup and rounds at 1,000 devices",
    )
    parser.add_argument(
        "--profile-top", type=int, default=25, help="how many functions each profile lists"
    )
    return parser.parse_args()


def say(started: float, text: str) -> None:
    """A progress line."""
    print(f"[{time.monotonic() - started:5.0f}s] {text}", flush=True)  # noqa: T201


def run_case(nodeid: str, env: dict[str, str], log: Path, *, stream: bool) -> bool:
    """Run one pytest case; its output goes to `log` (and to the terminal with stream)."""
    command = [sys.executable, "-m", "pytest", nodeid, "-p", "no:cacheprovider", "-q", "-s"]
    if stream:
        return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode == 0  # noqa: S603
    with log.open("w", encoding="utf-8") as out:
        result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            command, cwd=ROOT, env=env, stdout=out, stderr=out, check=False
        )
    return result.returncode == 0


def describe(args: argparse.Namespace, cases: list[str]) -> list[str]:
    """What was run, and where."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("homeassistant", "pytraccar")
    )
    rounds = ", ".join(f"{size:,}: {count}" for size, count in ROUNDS.items())
    profiled = ["PROFILED: cProfile was on during setup and the rounds; these figures are inflated"]
    return [
        *(profiled if args.profile else []),
        (
            f"FleetPush benchmark: {versions}, Python {platform.python_version()}, "
            f"{os.cpu_count()} x {cpu}"
        ),
        "Cases: " + " ".join(case.split("::")[-1] for case in cases),
        (
            f"Flat-out rounds (every device reports once per round, after a warm-up round): "
            f"{rounds}; at 10,000, latency from {args.paced:,} reports paced at 1,000/s"
        ),
        (
            "Event loop debug off, log level WARNING, Home Assistant's limit of 10,000 enabled "
            "entities per config entry lifted"
        ),
    ]


LEGEND = [
    "navixy: a state_batch per round (as Navixy sends); navixy_state: one state event per frame;",
    "imouse: one phone record (dev_change, its IP address changed) per frame; traccar_batched:",
    "one positions message per round; traccar_single: one one-position positions message per",
    "report; traccar_server: as a Traccar server really feeds it, a devices message then a",
    "one-position positions message per report.",
    "upd/s: reports per second of busy time (first frame sent to last state written);",
    "CPU us/upd: process CPU of Home Assistant (simulators run in other processes) per report;",
    "chg/upd, same/upd: state_changed and state_reported events per report; p50/p99: frame",
    "sent -> state written (flat out, a report also waits for the rest of its round);",
    "setup s: until every device's entity exists, zone s: of it, Home Assistant's zone tracking",
    "re-subscribing to every tracker as each appears; ent/dev: enabled entities per device;",
    "KiB/dev: RSS growth per device; floor us: bare async_set of the same state changes;",
    "x floor: CPU per report over the floor; entity us: the same changes written through the",
    "least entity there is (Home Assistant's entity layer alone, no platform, no registry",
    "entry), x entity: CPU per report over it; x traccar: over traccar_server frame for frame",
    "(navixy: batched, navixy_state and imouse: single); x fed: over traccar_server as fed.",
    "Stages: microseconds per report of each stage of FleetPush's hot path, from rounds of",
    "their own with a timer around each stage (bench/stages.py; the timers add a little).",
]


def main() -> int:
    """Run the cases and print the table."""
    args = parse()
    started = time.monotonic()
    sizes = [1_000] if args.profile else [int(size) for size in args.sizes.split(",")]
    hubs = ["navixy", "imouse"] if args.profile else args.hubs.split(",")
    if unknown := set(hubs) - set(HUBS):
        raise SystemExit(f"unknown hubs: {', '.join(sorted(unknown))}")
    cases = [node(hub, size) for size in sorted(sizes) for hub in HUBS if hub in hubs]
    if not (args.no_coalescing or args.profile):
        cases.append("bench/test_benchmark.py::test_coalescing")
    workdir = Path(tempfile.mkdtemp(prefix="fleetpush-bench-"))
    results = workdir / "results.jsonl"
    env = {
        **os.environ,
        "BENCH_RESULTS": str(results),
        "BENCH_WINDOW": str(args.window),
        "BENCH_PACED_COUNT": str(args.paced),
        "BENCH_PROFILE": "1" if args.profile else "0",
        "BENCH_PROFILE_TOP": str(args.profile_top),
    }
    failed = []
    for nodeid in cases:
        name = nodeid.split("::")[-1]
        case_started = time.monotonic()
        say(started, f"{name} ...")
        log = workdir / (name.replace("[", "-").replace("]", "") + ".log")
        if not run_case(nodeid, env, log, stream=args.profile):
            failed.append(name)
            say(started, f"{name} FAILED; the end of {log}:")
            for line in log.read_text(encoding="utf-8").splitlines()[-TAIL:]:
                print("    " + line)  # noqa: T201
            continue
        say(started, f"{name} done in {time.monotonic() - case_started:.0f} s")
    print()  # noqa: T201
    for line in [*describe(args, cases), "", *table(load(results)), "", *LEGEND]:
        print(line)  # noqa: T201
    say(started, f"Benchmark finished; logs in {workdir}")
    if failed:
        print(f"Failed cases: {', '.join(failed)}")  # noqa: T201
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
