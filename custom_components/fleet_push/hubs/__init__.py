"""Hub clients: one per hub kind, free of Home Assistant, sharing one normalized model.

Each hub kind has a module here that defines ``CLIENT``, a HubClient subclass whose
``from_config`` builds it from a config entry's data.
"""

from __future__ import annotations

import importlib

from .connection import HubClient

HUB_KINDS = ("imouse", "navixy", "iclick", "devicehive", "tftiot")


def client_class(kind: str) -> type[HubClient]:
    """The client class of a hub kind."""
    if kind not in HUB_KINDS:
        raise ValueError(f"unknown hub kind {kind!r}")
    module = importlib.import_module(f"{__name__}.{kind}")
    client: type[HubClient] = module.CLIENT
    return client
