"""Navixy's readings_batch: counters (odometer, engine hours) and the sensors a tracker reads.

Subscribed beside state_batch, as the WebSocket docs show. The first batch after subscribing
carries every tracker's readings; later ones "only modified objects", at most once per
``rate_limit``: so each tracker's sensors are kept here and the whole set is reported as one
value whenever one of them changes. A minute's rate keeps the odometer and the fuel level from
writing more than once a minute per tracker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .model import Field, Reading, Value
from .values import is_int, is_number

READINGS_SUBSCRIPTION: Final = {
    "type": "readings_batch",
    "target": {"type": "all"},
    "rate_limit": "60s",
}
COUNTERS: Final[Mapping[str, Field]] = {
    "odometer": Field.MILEAGE,
    "engine_hours": Field.ENGINE_HOURS,
}
"""Counter types (tracker/counter) and their units: km, hours."""
MAX_SENSORS: Final = 64
"""Sensors kept per tracker; more than this is no tracker's."""
MAX_LABEL: Final = 100
"""Navixy's own limit on a sensor's name."""


def reading(item: Any) -> Reading | None:
    """One metering sensor of a readings item's `inputs`; None if it names no sensor."""
    if not isinstance(item, dict) or not is_int(sensor_id := item.get("sensor_id")):
        return None
    kind, label, value = item.get("type"), item.get("label"), item.get("value")
    units_type, units = item.get("units_type"), item.get("units")
    unit = units_type if isinstance(units_type, str) and units_type else None
    if unit is None and isinstance(units, str) and units.strip():
        unit = units.strip()[:MAX_LABEL]
    return Reading(
        sensor_id=sensor_id,
        kind=kind if isinstance(kind, str) and kind else "custom",
        label=label.strip()[:MAX_LABEL] if isinstance(label, str) and label.strip() else "",
        value=float(value) if is_number(value) else None,
        unit=unit,
    )


class ReadingsBook:
    """Every tracker's sensors as last reported."""

    def __init__(self) -> None:
        """Nothing read yet."""
        self._sensors: dict[int, dict[int, Reading]] = {}

    def update(self, tracker: int, item: Mapping[str, Any]) -> dict[Field, Value]:
        """The values a readings item changes: its counters, and the tracker's sensors."""
        values: dict[Field, Value] = {}
        counters = item.get("counters")
        for counter in counters if isinstance(counters, list) else ():
            kind = counter.get("type") if isinstance(counter, dict) else None
            if isinstance(kind, str) and (field := COUNTERS.get(kind)) is not None:
                value = counter.get("value")
                values[field] = float(value) if is_number(value) else None
        inputs = item.get("inputs")
        if isinstance(inputs, list) and self._merge(tracker, inputs):
            sensors = self._sensors[tracker]
            values[Field.READINGS] = tuple(sensors[key] for key in sorted(sensors))
        return values

    def forget(self, tracker: int) -> None:
        """A tracker is gone."""
        self._sensors.pop(tracker, None)

    def _merge(self, tracker: int, inputs: list[Any]) -> bool:
        """Keep the sensors reported; return whether any is new or changed."""
        sensors = self._sensors.setdefault(tracker, {})
        changed = False
        for item in inputs:
            found = reading(item)
            if found is None or sensors.get(found.sensor_id) == found:
                continue
            if found.sensor_id not in sensors and len(sensors) >= MAX_SENSORS:
                continue
            sensors[found.sensor_id] = found
            changed = True
        return changed
