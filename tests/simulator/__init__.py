"""Hub simulators: real aiohttp servers on loopback speaking each hub's protocol.

Each hub kind FleetPush ships has a module here, named after the kind, that defines
``SIMULATOR`` (a HubSimulator subclass) and ``VARIANTS``; a test's own kind joins with
register().
"""

from __future__ import annotations

import importlib
from typing import Any

from custom_components.fleet_push.hubs import HUB_KINDS

from .base import HubSimulator

KINDS = HUB_KINDS
"""One simulator per hub kind FleetPush ships."""
_REGISTERED: dict[str, Any] = {}


def register(kind: str, module: Any) -> None:
    """Make a test's own hub kind's simulator module (SIMULATOR, VARIANTS) known."""
    _REGISTERED[kind] = module


def unregister(kind: str) -> None:
    """Forget what register() added."""
    _REGISTERED.pop(kind, None)


def simulator_module(kind: str) -> Any:
    """The module of a hub kind's simulator (its SIMULATOR and VARIANTS)."""
    if kind in _REGISTERED:
        return _REGISTERED[kind]
    if kind not in KINDS:
        raise ValueError(f"unknown hub kind {kind!r}")
    return importlib.import_module(f"{__name__}.{kind}")


def simulator_class(kind: str) -> type[HubSimulator]:
    """The simulator class of a hub kind."""
    simulator: type[HubSimulator] = simulator_module(kind).SIMULATOR
    return simulator
