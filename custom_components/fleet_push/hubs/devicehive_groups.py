"""DeviceHive's groupings of devices: networks and device types.

A device record names them by ``networkId`` and ``deviceTypeId``; ``network/list`` and
``devicetype/list`` give their names. Both are shown as attributes, the network as the
device's suggested area.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .values import is_int

NETWORKS: Final = ("network/list", "networks")
DEVICE_TYPES: Final = ("devicetype/list", "deviceTypes")
"""Each list's action and the key of its reply that holds the items."""
NAMES_TAKE: Final = 1000
"""Items asked for per list (the server's default is 20)."""


@dataclass(frozen=True, slots=True)
class Grouping:
    """The server's networks and device types, by id."""

    networks: Mapping[int, str] = field(default_factory=dict)
    device_types: Mapping[int, str] = field(default_factory=dict)

    def network_of(self, record: Mapping[str, Any]) -> str | None:
        """The name of a device record's network, if the server listed it."""
        network = record.get("networkId")
        return self.networks.get(network) if is_int(network) else None

    def extras(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The attributes of a device's network and device type."""
        extras: dict[str, Any] = {}
        if (network := self.network_of(record)) is not None:
            extras["network"] = network
        device_type = record.get("deviceTypeId")
        if is_int(device_type) and device_type in self.device_types:
            extras["device_type"] = self.device_types[device_type]
        return extras
