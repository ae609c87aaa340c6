"""TFT IoT's accessory pushes: tyre pressure, driver, OBD errors, RS232 fuel, as events.

The vendor page names these message types and nothing of their data, so FleetPush passes on
what they carry: one event of the tracker's Accessory channel per message that names its
tracker (by ``imei``) and carries values, its scalar values as the event's data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .model import HubNotice

CHANNEL_ACCESSORY: Final = "accessory"
ACCESSORY_EVENTS: Final[Mapping[str, str]] = {
    "bleTire": "ble_tire",
    "rs232Tire": "rs232_tire",
    "driver": "driver",
    "obdErrorInfo": "obd_error",
    "rs232Fuel": "rs232_fuel",
}
"""The vendor's message types -> FleetPush's event types."""
MAX_VALUES: Final = 64
"""Values passed on per event; a real accessory sends a handful."""
MAX_TEXT: Final = 256
_SCALARS: Final = (bool, int, float, str)
_NOT_VALUES: Final = frozenset({"imei", "id", "device_key"})
"""Who the tracker is, not what the accessory says."""


def accessory_notice(event: Any, data: Any, imei: str | None) -> HubNotice | None:
    """An event of the tracker's Accessory channel; None without a tracker or values."""
    if not isinstance(event, str) or event not in ACCESSORY_EVENTS:
        return None
    if imei is None or not isinstance(data, dict):
        return None
    values = _values(data)
    if not values:
        return None
    return HubNotice(CHANNEL_ACCESSORY, ACCESSORY_EVENTS[event], device_id=imei, attributes=values)


def _values(data: Mapping[str, Any]) -> dict[str, Any]:
    """Its scalar values (texts cut short), and each list or object's scalar values flattened."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in _NOT_VALUES or len(values) >= MAX_VALUES:
            continue
        if isinstance(value, _SCALARS):
            values[str(key)] = value[:MAX_TEXT] if isinstance(value, str) else value
        elif isinstance(value, dict):
            for inner, item in value.items():
                if isinstance(item, _SCALARS) and len(values) < MAX_VALUES:
                    values[f"{key}_{inner}"] = item[:MAX_TEXT] if isinstance(item, str) else item
    return values
