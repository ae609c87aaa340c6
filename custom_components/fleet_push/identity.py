"""Who is who in Home Assistant's registries: every id scoped by its hub, hardware ids checked.

Home Assistant keeps device identifiers unique per config entry and shows devices of different
entries that share an identifier or a connection as the same hardware. So every identifier and
unique id FleetPush makes is scoped by its hub (the config entry's unique id), and only a real
hardware identity (a MAC, an IMEI) becomes a connection, and only while a single device of the
hub reports it: hubs repeat placeholders, and two devices must never merge into one.
"""

from __future__ import annotations

from collections import defaultdict
import re
from typing import Final
from urllib.parse import quote

from homeassistant.config_entries import ConfigEntry
from homeassistant.helpers.device_registry import CONNECTION_NETWORK_MAC, format_mac

from .const import DOMAIN
from .hubs.model import HUB_DEVICE_ID

CONNECTION_IMEI: Final = "imei"
_SAFE: Final = ":@"
"""Kept as they are when quoting ids: everything else that is not a letter, digit or -._~ is
percent-encoded, so "/" only ever separates the parts of an id."""
_PLACEHOLDER_MACS: Final = frozenset(
    {"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "02:00:00:00:00:00"}  # 02:00:... is iOS's
)
_MAC: Final = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_IMEI: Final = re.compile(r"[0-9]{15}")

type Connection = tuple[str, str]


def hub_scope(entry: ConfigEntry) -> str:
    """The prefix of every id of one hub: its entry's unique id (the entry id if it has none)."""
    return quote(entry.unique_id or entry.entry_id, safe=_SAFE)


def device_identifier(scope: str, device_id: str) -> tuple[str, str]:
    """The device registry identifier of the hub ("" ) or one of its devices."""
    if device_id == HUB_DEVICE_ID:
        return (DOMAIN, scope)
    return (DOMAIN, f"{scope}/{quote(device_id, safe=_SAFE)}")


def entity_unique_id(scope: str, device_id: str, key: str) -> str:
    """The unique id of the entity `key` of the hub ("") or of one of its devices."""
    if device_id == HUB_DEVICE_ID:
        return f"{scope}/{key}"
    return f"{scope}/{quote(device_id, safe=_SAFE)}/{key}"


def hardware_ids(mac: str | None, serial: str | None) -> frozenset[Connection]:
    """The real hardware identities among what a hub reports: a unicast MAC, a valid IMEI."""
    found: set[Connection] = set()
    if mac is not None:
        formatted = format_mac(mac)
        first_octet = formatted[:2]
        if (
            _MAC.fullmatch(formatted)
            and formatted not in _PLACEHOLDER_MACS
            and not int(first_octet, 16) & 1  # multicast
        ):
            found.add((CONNECTION_NETWORK_MAC, formatted))
    if serial is not None and _IMEI.fullmatch(serial) and _luhn_valid(serial):
        found.add((CONNECTION_IMEI, serial))
    return frozenset(found)


def _luhn_valid(digits: str) -> bool:
    """The check digit of an IMEI (Luhn), which all-zero and made-up numbers rarely pass."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2  # noqa: PLR2004
        total += digit
    return total % 10 == 0 and digits.strip("0") != ""


class HardwareClaims:
    """Which device of a hub reports which hardware id; an id reported twice is nobody's."""

    def __init__(self) -> None:
        """No claims yet."""
        self._claimants: defaultdict[Connection, set[str]] = defaultdict(set)
        self._claims: dict[str, frozenset[Connection]] = {}

    def claim(self, device_id: str, ids: frozenset[Connection]) -> set[str]:
        """Record what a device reports now; return the other devices whose ids changed owner."""
        old = self._claims.get(device_id, frozenset())
        if ids == old:
            return set()
        affected: set[str] = set()
        for connection in old - ids:
            affected |= self._release(connection, device_id)
        for connection in ids - old:
            affected |= self._claimants[connection]
            self._claimants[connection].add(device_id)
        self._claims[device_id] = ids
        affected.discard(device_id)
        return affected

    def forget(self, device_id: str) -> set[str]:
        """A device is gone; return the devices that may own its ids now."""
        affected: set[str] = set()
        for connection in self._claims.pop(device_id, frozenset()):
            affected |= self._release(connection, device_id)
        return affected

    def owned_by(self, device_id: str) -> set[Connection]:
        """The hardware ids only this device reports: its connections in the registry."""
        return {
            connection
            for connection in self._claims.get(device_id, frozenset())
            if len(self._claimants[connection]) == 1
        }

    def _release(self, connection: Connection, device_id: str) -> set[str]:
        claimants = self._claimants[connection]
        claimants.discard(device_id)
        if not claimants:
            del self._claimants[connection]
        return set(claimants)
