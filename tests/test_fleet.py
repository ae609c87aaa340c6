"""How FleetPush merges what hubs say about a device (no Home Assistant needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.fleet_push.fleet import Change, Device
from custom_components.fleet_push.hubs.model import (
    HUB_DEVICE_ID,
    DeviceDetails,
    DeviceUpdate,
    Field,
    HubUpdate,
    Position,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_first_report_adds_fields_and_info() -> None:
    device = Device("a")
    change = device.apply(DeviceUpdate("a", DeviceDetails(name="Car"), values={Field.ONLINE: True}))
    assert change == Change.INFO | Change.VALUES | Change.SHAPE
    assert (device.details.name, device.values) == ("Car", {Field.ONLINE: True})


def test_repeating_a_report_changes_nothing() -> None:
    device = Device("a")
    update = DeviceUpdate(
        "a",
        DeviceDetails(name="Car"),
        values={Field.ONLINE: True},
        position=Position(1.0, 2.0, T0),
        extras={"ip": "10.0.0.1"},
        channels=frozenset({"alarm"}),
    )
    device.apply(update)
    assert device.apply(update) is Change.NONE


def test_a_changed_value_is_a_value_change_only() -> None:
    device = Device("a")
    device.apply(DeviceUpdate("a", values={Field.BATTERY: 90}))
    assert device.apply(DeviceUpdate("a", values={Field.BATTERY: 89})) is Change.VALUES
    assert device.values[Field.BATTERY] == 89


def test_a_value_of_another_type_is_a_change() -> None:
    device = Device("a")
    device.apply(DeviceUpdate("a", values={Field.BATTERY: 1}))
    assert device.apply(DeviceUpdate("a", values={Field.BATTERY: True})) is Change.VALUES


def test_an_input_first_on_is_in_use_from_then_on() -> None:
    device = Device("a")
    device.apply(DeviceUpdate("a", values={Field.INPUTS: (False, False, False)}))
    assert device.in_use == {}
    on = DeviceUpdate("a", values={Field.INPUTS: (False, True, False)})
    assert device.apply(on) == Change.VALUES | Change.SHAPE
    off = DeviceUpdate("a", values={Field.INPUTS: (False, False, False)})
    assert device.apply(off) is Change.VALUES  # still in use: nothing to add
    assert device.apply(on) is Change.VALUES
    assert device.in_use == {Field.INPUTS: frozenset({1})}


def test_unsaid_fields_keep_their_values() -> None:
    device = Device("a")
    device.apply(DeviceUpdate("a", DeviceDetails(name="Car"), values={Field.ONLINE: True}))
    assert device.apply(DeviceUpdate("a", values={Field.BUSY: False})) == Change.SHAPE | (
        Change.VALUES
    )
    assert device.details.name == "Car"
    assert device.values == {Field.ONLINE: True, Field.BUSY: False}


def test_extras_merge_even_when_values_change() -> None:
    device = Device("a")
    device.apply(DeviceUpdate("a", values={Field.ONLINE: True}, extras={"ip": "1"}))
    device.apply(DeviceUpdate("a", values={Field.ONLINE: False}, extras={"group": "g"}))
    assert device.extras == {"ip": "1", "group": "g"}


def test_positions_never_go_back_in_time() -> None:
    device = Device("a")
    assert Change.SHAPE in device.apply(DeviceUpdate("a", position=Position(1, 1, T0)))
    older = Position(2, 2, T0 - timedelta(seconds=1))
    assert device.apply(DeviceUpdate("a", position=older)) is Change.NONE
    newer = Position(3, 3, T0 + timedelta(seconds=1))
    assert device.apply(DeviceUpdate("a", position=newer)) is Change.VALUES
    assert device.position == newer
    undated = Position(4, 4)
    assert device.apply(DeviceUpdate("a", position=undated)) is Change.VALUES


def test_new_channels_change_the_shape() -> None:
    device = Device("a")
    assert device.apply(DeviceUpdate("a", channels=frozenset({"alarm"}))) is Change.SHAPE
    assert device.channels == {"alarm"}


def test_the_hub_is_a_device_too() -> None:
    hub = Device(HUB_DEVICE_ID)
    assert hub.is_hub
    change = hub.apply_hub(HubUpdate(version="1.2", values={Field.DEVICES: 3}))
    assert change == Change.INFO | Change.VALUES | Change.SHAPE
    assert (hub.details.firmware, hub.values) == ("1.2", {Field.DEVICES: 3})
