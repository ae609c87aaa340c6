"""Values a device cannot have are no value: every numeric field, every impossible kind of value."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
import math
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import HomeAssistant
import pytest

from custom_components.fleet_push.hubs.model import DeviceUpdate, Field, Position
from custom_components.fleet_push.plausibility import (
    FUTURE_TOLERANCE,
    RANGES,
    plausible,
    plausible_values,
)
from custom_components.fleet_push.sensor import SENSORS

from .conftest import SetupHub, StartHub, coordinator_of
from .helpers import wait_for, wait_for_entity

IMPOSSIBLE = (math.nan, math.inf, -math.inf, 1e308, -1e308)


def test_every_numeric_sensor_field_has_a_physical_range() -> None:
    numeric = {
        description.field
        for description in SENSORS
        if description.device_class not in (SensorDeviceClass.TIMESTAMP, SensorDeviceClass.ENUM)
        and not description.text
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


# --- through Home Assistant, from each hub that reports positions ---

FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
HERE, THERE = (52.5, 13.4), (52.6, 13.5)


async def _navixy_reports(hub: Any, device: str, *, future: bool, battery: float) -> None:
    lat, lng = HERE if future else THERE
    fixed = FUTURE.strftime("%Y-%m-%d %H:%M:%S") if future else None
    hub.set_state(int(device), battery_level=battery)
    hub.move(int(device), lat, lng, fixed=fixed)


async def _devicehive_reports(hub: Any, device: str, *, future: bool, battery: float) -> None:
    lat, lng = HERE if future else THERE
    fix = {"lat": lat, "lng": lng, "battery": battery, "accuracy": -5 if future else 5}
    await hub.notify(device, "gps", fix, timestamp=FUTURE if future else None)


async def _tftiot_reports(hub: Any, device: str, *, future: bool, battery: float) -> None:
    tracker = hub.trackers[device]
    tracker.lat, tracker.lng = HERE if future else THERE
    now = int(datetime.now(UTC).timestamp() * 1000)
    tracker.location_date = int(FUTURE.timestamp() * 1000) if future else now
    tracker.battery = battery
    await hub.push_snapshot(device)


REPORTS = {
    "navixy": _navixy_reports,
    "devicehive": _devicehive_reports,
    "tftiot": _tftiot_reports,
}


@pytest.mark.parametrize("kind", list(REPORTS))
async def test_a_fix_from_2100_and_a_battery_of_250_never_stick(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub, kind: str
) -> None:
    hub = await start_hub(kind, devices=1)
    entry = await setup_hub(kind, hub)
    (device,) = hub.fleet_ids()
    coordinator = coordinator_of(entry)

    await REPORTS[kind](hub, device, future=True, battery=250)
    await wait_for(lambda: coordinator.rejected["battery"] >= 1)
    location = await wait_for_entity(hass, entry, "device_tracker", device, "location")
    battery = await wait_for_entity(hass, entry, "sensor", device, "battery")
    await wait_for(lambda: _place(hass, location) == HERE)
    assert hass.states.get(battery).state == STATE_UNKNOWN  # 250 % is no value
    assert coordinator.rejected["position_time"] >= 1
    assert "fix_time" not in hass.states.get(location).attributes

    await REPORTS[kind](hub, device, future=False, battery=80)
    await wait_for(lambda: _place(hass, location) == THERE)  # the genuine fix is newer
    await wait_for(lambda: hass.states.get(battery).state in ("80", "80.0"))
    diagnostics = entry.runtime_data.rejected
    assert diagnostics["battery"] >= 1


def _place(hass: HomeAssistant, entity: str) -> tuple[float, float] | None:
    state = hass.states.get(entity)
    if state is None or "latitude" not in state.attributes:
        return None
    return round(state.attributes["latitude"], 4), round(state.attributes["longitude"], 4)
