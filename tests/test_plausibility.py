"""Values a device cannot have are no value: every numeric field, every impossible kind of value."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
import math

from homeassistant.components.sensor import SensorDeviceClass
import pytest

from custom_components.fleet_push.hubs.model import DeviceUpdate, Field, Position
from custom_components.fleet_push.plausibility import (
    FUTURE_TOLERANCE,
    RANGES,
    plausible,
    plausible_values,
)
from custom_components.fleet_push.sensor import SENSORS

IMPOSSIBLE = (math.nan, math.inf, -math.inf, 1e308, -1e308)


def test_every_numeric_sensor_field_has_a_physical_range() -> None:
    numeric = {
        description.field
        for description in SENSORS
        if description.device_class is not SensorDeviceClass.TIMESTAMP
    }
    assert numeric <= set(RANGES)


@pytest.mark.parametrize("field", list(RANGES))
def test_out_of_range_values_become_unknown_and_are_counted(field: Field) -> None:
    low, high = RANGES[field]
    rejected: Counter[str] = Counter()
    for value in (low - 1, high + 1, *IMPOSSIBLE):
        update = plausible(DeviceUpdate("a", values={field: value}), rejected)
        assert update.values == {field: None}, value
    assert rejected == {field: 2 + len(IMPOSSIBLE)}


@pytest.mark.parametrize("field", list(RANGES))
def test_values_within_range_pass_untouched(field: Field) -> None:
    low, high = RANGES[field]
    rejected: Counter[str] = Counter()
    for value in (low, high, (low + high) / 2, int(high)):
        update = DeviceUpdate("a", values={field: value, Field.ONLINE: True})
        assert plausible(update, rejected) is update
    assert plausible_values({field: high}, rejected) == {field: high}
    assert not rejected


def test_hub_values_are_checked_too() -> None:
    rejected: Counter[str] = Counter()
    values = plausible_values({Field.DEVICES: -3, Field.DEVICES_ONLINE: 2}, rejected)
    assert values == {Field.DEVICES: None, Field.DEVICES_ONLINE: 2}
    assert rejected == {Field.DEVICES: 1}


def test_other_types_are_left_to_the_clients() -> None:
    update = DeviceUpdate("a", values={Field.ONLINE: True, Field.BATTERY: None})
    assert plausible(update, Counter()) is update


def test_a_fix_from_the_future_has_no_time_and_keeps_its_place() -> None:
    now = datetime.now(UTC)
    rejected: Counter[str] = Counter()
    future = Position(52.5, 13.4, time=datetime(2100, 1, 1, tzinfo=UTC), accuracy=-5.0)
    update = plausible(DeviceUpdate("a", position=future), rejected)
    assert update.position == Position(52.5, 13.4)
    assert rejected == {"position_time": 1, "position_accuracy": 1}
    close = Position(52.5, 13.4, time=now + FUTURE_TOLERANCE - timedelta(seconds=5))
    assert plausible(DeviceUpdate("a", position=close), rejected).position is close


@pytest.mark.parametrize(
    ("name", "value"),
    [("speed", -1.0), ("speed", math.inf), ("altitude", 1e9), ("accuracy", math.nan)],
)
def test_impossible_parts_of_a_fix_are_dropped(name: str, value: float) -> None:
    rejected: Counter[str] = Counter()
    fix = Position(1.0, 2.0, **{name: value})  # type: ignore[arg-type]
    assert plausible(DeviceUpdate("a", position=fix), rejected).position == Position(1.0, 2.0)
    assert rejected == {f"position_{name}": 1}
