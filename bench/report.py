"""The benchmark's figures: recorded per case, printed as one table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import json
import os
from pathlib import Path
import textwrap
from typing import Any

ROUNDS = {100: 20, 1_000: 8, 10_000: 3}
"""Flat-out rounds per fleet size (each device reports once per round), after one warm-up."""

RESULTS: list[dict[str, Any]] = []
"""The cases measured in this process."""

HUB_ORDER = (
    "navixy",
    "navixy_state",
    "imouse",
    "traccar_batched",
    "traccar_single",
    "traccar_server",
)
FRAME_FOR_FRAME = {
    "navixy": "traccar_batched",
    "navixy_state": "traccar_single",
    "imouse": "traccar_single",
}
"""The traccar_server case each FleetPush case is compared with, frame for frame."""
AS_FED = "traccar_server"
"""traccar_server as a Traccar server really feeds it."""
STAGE_ORDER = ("decode", "parse", "merge", "dispatch", "ha_write", "other")
COLUMNS = (
    ("hub", 15),
    ("devices", 7),
    ("upd/s", 7),
    ("CPU us/upd", 10),
    ("chg/upd", 7),
    ("same/upd", 8),
    ("p50 ms", 7),
    ("p99 ms", 7),
    ("latency at", 10),
    ("setup s", 7),
    ("zone s", 6),
    ("ent/dev", 7),
    ("KiB/dev", 7),
    ("floor us", 8),
    ("x floor", 7),
    ("entity us", 9),
    ("x entity", 8),
    ("x traccar", 9),
    ("x fed", 5),
)


def record(figures: dict[str, Any]) -> None:
    """Keep one case's figures (and append them to $BENCH_RESULTS, one JSON per line)."""
    RESULTS.append(figures)
    if path := os.environ.get("BENCH_RESULTS"):
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(json.dumps(figures) + "\n")


def load(path: Path) -> list[dict[str, Any]]:
    """The figures a run appended to a results file."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _row(cells: Iterable[str]) -> str:
    parts = []
    for (title, width), cell in zip(COLUMNS, cells, strict=True):
        parts.append(cell.ljust(width) if title == "hub" else cell.rjust(width))
    return " ".join(parts)


def _ratio(cpu: float, peer: Mapping[str, Any] | None) -> float | None:
    return cpu / peer["cpu_us"] if peer else None


def _hub_row(case: Mapping[str, Any], peers: Mapping[tuple[str, int], Mapping[str, Any]]) -> str:
    cpu, size = case["cpu_us"], case["size"]
    floor, entity_floor = case.get("floor_us"), case.get("entity_floor_us")
    frame_peer = peers.get((FRAME_FOR_FRAME.get(case["hub"], ""), size))
    fed_peer = peers.get((AS_FED, size)) if case["hub"] in FRAME_FOR_FRAME else None
    return _row(
        (
            case["hub"],
            f"{case['size']:,}",
            _number(case["ups"]),
            _number(cpu, 1),
            _number(case["changed"], 2),
            _number(case["reported"], 2),
            _number(case["p50_ms"], 1),
            _number(case["p99_ms"], 1),
            case["latency"],
            _number(case["setup_s"], 1),
            _number(case.get("setup_zone_s"), 1),
            _number(case.get("enabled_per_device"), 2),
            _number(case["kib_per_device"], 1),
            _number(floor, 1),
            _number(cpu / floor if floor else None, 2),
            _number(entity_floor, 1),
            _number(cpu / entity_floor if entity_floor else None, 2),
            _number(_ratio(cpu, frame_peer), 2),
            _number(_ratio(cpu, fed_peer), 2),
        )
    )


def table(results: list[dict[str, Any]]) -> list[str]:
    """The table: one row per hub and size, then the coalescing figures."""
    hubs = [case for case in results if case.get("case") == "hub"]
    hubs.sort(key=lambda c: (HUB_ORDER.index(c["hub"]), c["size"]))
    peers = {(case["hub"], case["size"]): case for case in hubs}
    lines = [_row(title for title, _ in COLUMNS)]
    lines.append("-" * len(lines[0]))
    lines.extend(_hub_row(case, peers) for case in hubs)
    lines.extend(
        f"! {case['hub']} {case['size']:,}: {case['unmatched']} reports without their "
        "state write (or the reverse)"
        for case in hubs
        if case.get("unmatched")
    )
    shares = [
        f"{case['hub']} {case['size']:,} {case['gc_share']:.0%}"
        for case in hubs
        if case.get("gc_share") is not None
    ]
    if shares:
        text = "Garbage collector's share of the rounds' CPU: " + ", ".join(shares)
        lines.extend(textwrap.wrap(text, width=len(lines[0])))
    pauses = [
        f"{case['hub']} {case['size']:,} {case['paced_gc_max_ms']:,.0f} ms"
        for case in hubs
        if case.get("paced_gc_max_ms") is not None
    ]
    if pauses:
        text = "Longest garbage collection while paced (Home Assistant stands still): "
        lines.extend(textwrap.wrap(text + ", ".join(pauses), width=len(lines[0])))
    lines.extend(_stages(hubs))
    for case in results:
        if case.get("case") == "coalescing":
            lines.extend(textwrap.wrap(_coalescing(case), width=len(lines[0])))
    if any(case.get("loop_debug") for case in hubs):
        lines.append("! the event loop ran in debug mode: figures are inflated")
    return lines


def _coalescing(case: Mapping[str, Any]) -> str:
    (off, on), (changes_off, changes_on) = case["intervals"], case["changes"]
    ratio = changes_off / changes_on if changes_on else float("inf")
    transitions_off, transitions_on = case["transitions"]
    return (
        f"coalescing, {case['trackers']:,} Navixy trackers reporting every {case['every']:g} s "
        f"for {case['window']:g} s ({case['reports']:,} reports per hub): state changes with "
        f"min_position_interval={off}: {changes_off:,}, ={on}: {changes_on:,} "
        f"(x{ratio:.1f} fewer); online/moving/ignition changes {transitions_off:,} vs "
        f"{transitions_on:,}"
    )


def _stages(hubs: list[dict[str, Any]]) -> list[str]:
    """Per case, microseconds per report of each stage timed and its share.

    traccar_server's cases time only its entities' writes (ha_write); the rest is "other".
    """
    split = [case for case in hubs if case.get("stages_us")]
    if not split:
        return []
    lines = [
        "",
        "Stages, us per report (share): "
        + ", ".join(STAGE_ORDER)
        + " (traccar_server: its entities' writes and the rest)",
    ]
    for case in split:
        stages = case["stages_us"]
        total = sum(stages.values()) or 1.0
        cells = "  ".join(
            f"{stage} {stages[stage]:5.1f} ({stages[stage] / total:4.0%})"
            for stage in STAGE_ORDER
            if stage in stages
        )
        lines.append(f"{case['hub']:<13} {case['size']:>6,}  {cells}")
    return lines
