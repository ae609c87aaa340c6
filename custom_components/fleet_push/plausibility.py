"""Values a device cannot have become no value, whatever hub reported them.

Every hub kind's client checks types; this is the one place that checks physics: a battery
of 250 %, a signal above 100 %, a negative accuracy, a fix dated next century. Such a value is
replaced by None (the entity shows unknown) and counted, so diagnostics tell it happened.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
import math
from typing import Final

from .hubs.model import DeviceUpdate, Field, Position, Value

FUTURE_TOLERANCE: Final = timedelta(minutes=10)
"""A fix dated later than now plus this is not newer than the present: its time is unknown."""

RANGES: Final[Mapping[Field, tuple[float, float]]] = {
    Field.BATTERY: (0, 100),
    Field.GPS_SIGNAL: (0, 100),
    Field.GSM_SIGNAL: (0, 100),
    Field.SPEED: (0, 2_000),
    Field.ALTITUDE: (-1_000, 50_000),
    Field.SATELLITES: (0, 200),
    Field.MILEAGE: (0, 100_000_000),
    Field.BATTERY_VOLTAGE: (0, 1_000),
    Field.EXTERNAL_VOLTAGE: (0, 1_000),
    Field.LICENCES_TOTAL: (0, 1_000_000_000),
    Field.LICENCES_LOCAL: (0, 1_000_000_000),
    Field.DEVICES: (0, 1_000_000_000),
    Field.DEVICES_ONLINE: (0, 1_000_000_000),
    Field.ENGINE_HOURS: (0, 1_000_000),
    Field.FUEL: (0, 100_000),
    Field.TOTAL_ONLINE: (0, 1_000_000_000),
    Field.TOTAL_OFFLINE: (0, 1_000_000_000),
    Field.TOTAL_MOVING: (0, 1_000_000_000),
    Field.TOTAL_BUSY: (0, 1_000_000_000),
    Field.LAST_TRIP_DISTANCE: (0, 100_000),
}
"""The values each numeric field can physically have (its unit as in hubs/model.py)."""
MAX_ACCURACY: Final = 1_000_000
"""Metres: a fix less precise than this says nothing."""
_NUMBERS: Final = frozenset({int, float})


def plausible(update: DeviceUpdate, rejected: Counter[str]) -> DeviceUpdate:
    """The update without impossible values (each counted in `rejected` by field)."""
    values = update.values
    bad = _implausible(values)
    position = update.position
    if position is not None:
        position = _plausible_position(position, rejected)
    if not bad and position is update.position:
        return update
    for key in bad:
        rejected[key] += 1
    if bad:
        values = {**values, **dict.fromkeys(bad)}
    return replace(update, values=values, position=position)


def plausible_values(
    values: Mapping[Field, Value], rejected: Counter[str]
) -> Mapping[Field, Value]:
    """Values (a hub's own, say) without impossible ones, each counted."""
    bad = _implausible(values)
    for key in bad:
        rejected[key] += 1
    return {**values, **dict.fromkeys(bad)} if bad else values


def _implausible(values: Mapping[Field, Value]) -> list[Field]:
    """The keys of impossible values; only numbers can be (the test inline: a hot path)."""
    return [
        key
        for key, value in values.items()
        if type(value) in _NUMBERS and not _plausible_value(key, value)
    ]


def _plausible_value(key: Field, value: Value) -> bool:
    if type(value) not in _NUMBERS:
        return True  # types are the clients' business; None stays None
    bounds = RANGES.get(key)
    number: float = value  # type: ignore[assignment]
    if not math.isfinite(number):
        return False
    return bounds is None or bounds[0] <= number <= bounds[1]


def _plausible_position(position: Position, rejected: Counter[str]) -> Position:
    """A fix without an impossible time, accuracy, speed or altitude (the place itself stays)."""
    changes: dict[str, object] = {}
    if position.time is not None and position.time > datetime.now(UTC) + FUTURE_TOLERANCE:
        changes["time"] = None
    if position.accuracy is not None and not 0 <= position.accuracy <= MAX_ACCURACY:
        changes["accuracy"] = None
    for name, field in (("speed", Field.SPEED), ("altitude", Field.ALTITUDE)):
        if not _plausible_value(field, getattr(position, name)):
            changes[name] = None
    if not changes:
        return position
    for name in changes:
        rejected[f"position_{name}"] += 1
    return replace(position, **changes)  # type: ignore[arg-type]
