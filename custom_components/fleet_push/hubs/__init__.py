"""Hub clients: one module per hub kind, free of Home Assistant, sharing one normalized model.

Every module of this package that defines ``CLIENT`` (a HubClient subclass with its
declaration) is a hub kind. They are found and imported here, once, so that nothing imports a
module inside Home Assistant's event loop; a kind defined elsewhere joins with register().
"""

from __future__ import annotations

import importlib
import pkgutil

from .connection import HubClient

_CLIENTS: dict[str, type[HubClient]] = {}


def register(client: type[HubClient]) -> None:
    """Make a hub kind known (its client class, with its declaration)."""
    _CLIENTS[client.declaration.kind] = client


def unregister(kind: str) -> None:
    """Forget a hub kind that register() added."""
    _CLIENTS.pop(kind, None)


def hub_kinds() -> tuple[str, ...]:
    """Every hub kind known now."""
    return tuple(_CLIENTS)


def client_class(kind: str) -> type[HubClient]:
    """The client class of a hub kind."""
    if kind not in _CLIENTS:
        raise ValueError(f"unknown hub kind {kind!r}")
    return _CLIENTS[kind]


def _discover() -> tuple[str, ...]:
    """Import every module of the package; register the kinds they define."""
    for module in pkgutil.iter_modules(__path__):
        client = getattr(importlib.import_module(f"{__name__}.{module.name}"), "CLIENT", None)
        if client is not None:
            register(client)
    return hub_kinds()


HUB_KINDS = _discover()
"""The hub kinds FleetPush ships (a test's own kinds come later, with register())."""
