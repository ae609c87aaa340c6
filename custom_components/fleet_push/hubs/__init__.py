"""Hub clients: one per hub kind, free of Home Assistant, sharing one normalized model.

Each hub kind has a module here that defines ``CLIENT``, a HubClient subclass whose
``from_config`` builds it from a config entry's data. They are imported here, once, so that
nothing imports a module inside Home Assistant's event loop.
"""

from __future__ import annotations

from . import devicehive, iclick, imouse, navixy, tftiot
from .connection import HubClient

HUB_KINDS = ("imouse", "navixy", "iclick", "devicehive", "tftiot")

_CLIENTS: dict[str, type[HubClient]] = {
    module.CLIENT.kind: module.CLIENT for module in (imouse, navixy, iclick, devicehive, tftiot)
}


def client_class(kind: str) -> type[HubClient]:
    """The client class of a hub kind."""
    if kind not in _CLIENTS:
        raise ValueError(f"unknown hub kind {kind!r}")
    return _CLIENTS[kind]
