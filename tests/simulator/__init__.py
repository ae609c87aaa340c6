"""Hub simulators: real aiohttp servers on loopback speaking each hub's protocol.

Each hub kind has a module here that defines ``SIMULATOR``, a HubSimulator subclass.
"""

from __future__ import annotations

import importlib

from .base import HubSimulator

KINDS = ("iclick", "imouse", "navixy", "devicehive", "tftiot")


def simulator_class(kind: str) -> type[HubSimulator]:
    """The simulator class of a hub kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown hub kind {kind!r}")
    module = importlib.import_module(f"{__name__}.{kind}")
    simulator: type[HubSimulator] = module.SIMULATOR
    return simulator
