"""Run one hub simulator: python -m tests.simulator --kind navixy --devices 50 --port 0.

--pace demo makes the fleet behave as a real one (trips and tasks of minutes); the default,
test, changes something on every tick.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import get_args

from . import KINDS, simulator_class
from .base import Pace


async def _serve(
    kind: str, devices: int, host: str, port: int, rate: float, pace: Pace = "test"
) -> None:
    simulator = simulator_class(kind)(
        devices=devices, host=host, port=port, event_rate=rate, pace=pace
    )
    await simulator.start()
    print(f"{kind} simulator with {devices} devices: {simulator.url}", flush=True)
    print(f"base URL: {simulator.base_url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await simulator.stop()


def main() -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tests.simulator", description=__doc__)
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.2, help="ticks per second")
    parser.add_argument("--pace", choices=get_args(Pace.__value__), default="test")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.kind, args.devices, args.host, args.port, args.rate, args.pace))


if __name__ == "__main__":
    main()
