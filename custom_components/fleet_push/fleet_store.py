"""The last known fleet of a hub, kept on disk so a restart without the hub loses nothing."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN
from .fleet import Device
from .hubs.model import (
    DETAIL_FIELDS,
    Category,
    DeviceDetails,
    Field,
    HubInfo,
    Position,
    Reading,
    Value,
)

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 60.0
"""Seconds after a change before the fleet is written (and at Home Assistant's stop)."""
_DATETIME: Final = "$datetime"


class FleetStore:
    """Reads and writes one hub's fleet: devices, their values and positions, the hub's info."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """A store per config entry."""
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}")
        self._pending = False

    async def async_load(self) -> tuple[HubInfo | None, dict[str, Device]]:
        """The fleet as last saved (nothing if never saved or unreadable)."""
        data = await self._store.async_load()
        if not isinstance(data, dict):
            return None, {}
        try:
            hub = HubInfo(**data["hub"]) if data.get("hub") else None
            devices = {item["device_id"]: _device(item) for item in data["devices"]}
        except KeyError, TypeError, ValueError:
            return None, {}
        return hub, devices

    def schedule_save(self, hub: HubInfo | None, devices: dict[str, Device]) -> None:
        """Write the fleet soon; calls before the write cost nothing."""
        if not self._pending:
            self._pending = True
            self._store.async_delay_save(lambda: self._serialize(hub, devices), SAVE_DELAY)

    async def async_save(self, hub: HubInfo | None, devices: dict[str, Device]) -> None:
        """Write the fleet now (on unload)."""
        await self._store.async_save(self._serialize(hub, devices))

    async def async_remove(self) -> None:
        """Delete the file (when the entry is deleted)."""
        await self._store.async_remove()

    def _serialize(self, hub: HubInfo | None, devices: dict[str, Device]) -> dict[str, Any]:
        self._pending = False
        return {
            "hub": asdict(hub) if hub else None,
            "devices": [saved(device) for device in devices.values()],
        }


_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_POSITION_FIELDS: Final = tuple(item.name for item in fields(Position))


def saved(device: Device) -> dict[str, Any]:
    """What is saved of a device: `_plain(device.as_flat_dict())`, built field by field.

    Called in the event loop for every device of the fleet at each save: dataclasses.asdict
    and the generic walk took 110 ms per 1,000 Navixy trackers, seconds for a large fleet.
    """
    details = device.details
    position = device.position
    flat: dict[str, Any] = {"device_id": device.device_id}
    for name in DETAIL_FIELDS:
        flat[name] = getattr(details, name)
    flat["position"] = None if position is None else _saved_position(position)
    flat["values"] = {
        str(key): value if type(value) in _SCALARS else _plain_value(value)
        for key, value in device.values.items()
    }
    flat["extras"] = _plain(device.extras)
    flat["channels"] = list(device.channels)
    flat["in_use"] = {str(key): list(items) for key, items in device.in_use.items()}
    return flat


def _saved_position(position: Position) -> dict[str, Any]:
    flat = {name: getattr(position, name) for name in _POSITION_FIELDS}
    if (time := position.time) is not None:
        flat["time"] = {_DATETIME: time.isoformat()}
    return flat


def _plain_value(value: Value) -> Any:
    """A value that is not a scalar: a time, flags or readings."""
    if isinstance(value, tuple):
        return [asdict(item) if isinstance(item, Reading) else item for item in value]
    return _plain(value)


def _plain(value: Any) -> Any:
    """JSON-able: datetimes tagged, tuples and sets as lists, enum keys as strings."""
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [_plain(item) for item in value]
    return value


def _revive(value: Any) -> Value:
    if isinstance(value, dict) and _DATETIME in value:
        return datetime.fromisoformat(value[_DATETIME])
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return _readings(value)
    if isinstance(value, list):
        return tuple(bool(item) for item in value)
    return value  # type: ignore[no-any-return]


def _readings(items: list[dict[str, Any]]) -> tuple[Reading, ...]:
    """Saved readings; one that no longer reads as a Reading is left out."""
    readings = []
    for item in items:
        try:
            readings.append(Reading(**item))
        except TypeError:
            continue
    return tuple(readings)


def _category(value: Any) -> Category | None:
    """A saved category, if it is still one."""
    try:
        return Category(value)
    except ValueError:
        return None


def _device(item: dict[str, Any]) -> Device:
    position = item.get("position")
    if isinstance(position, dict):
        time = position.get("time")
        position = Position.checked(**{**position, "time": _revive(time) if time else None})
    known = {field.value for field in Field}
    details = {name: item.get(name) for name in DETAIL_FIELDS}
    return Device(
        str(item["device_id"]),
        DeviceDetails(**{**details, "category": _category(details["category"])}),
        position=position,
        values={Field(k): _revive(v) for k, v in item.get("values", {}).items() if k in known},
        extras=dict(item.get("extras") or {}),
        channels=frozenset(item.get("channels") or ()),
        in_use={
            Field(k): frozenset(v for v in items if isinstance(v, int))
            for k, items in (item.get("in_use") or {}).items()
            if k in known and isinstance(items, list)
        },
    )
