"""What the fleet store saves of a device: everything it knows, in JSON's types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from custom_components.fleet_push.fleet import Device
from custom_components.fleet_push.fleet_store import _plain, saved
from custom_components.fleet_push.hubs.model import (
    Category,
    DeviceDetails,
    Field,
    Position,
    Reading,
)

FIX = datetime(2026, 12, 5, 23, 4, 5, tzinfo=UTC)


def every_kind_of_value() -> Device:
    """A device with a value of every type a hub reports, and a nested extra."""
    return Device(
        "42",
        DeviceDetails(name="Van 42", model="FMB120", category=Category.VEHICLE, group="North"),
        position=Position(52.5, 13.4, time=FIX, speed=12.5, heading=90.0, altitude=None),
        values={
            Field.ONLINE: True,
            Field.BATTERY: 87,
            Field.MILEAGE: 11234.5,
            Field.GSM_SIGNAL: None,
            Field.LICENCE_EXPIRES: FIX,
            Field.INPUTS: (True, False, True),
            Field.READINGS: (Reading(7, "fuel", "Tank", 181.0, "litre"),),
        },
        extras={"blocked": False, "nested": {"list": (1, 2), "when": FIX}},
        channels=frozenset({"trip", "lifecycle"}),
        in_use={Field.INPUTS: frozenset({0, 2})},
    )


def comparable(flat: dict[str, Any]) -> dict[str, Any]:
    """Sets are saved as lists in no particular order."""
    return {
        **flat,
        "channels": sorted(flat["channels"]),
        "in_use": {key: sorted(items) for key, items in flat["in_use"].items()},
    }


def test_saved_is_the_generic_walk_of_everything_known() -> None:
    device = every_kind_of_value()

    assert comparable(saved(device)) == comparable(_plain(device.as_flat_dict()))


def test_a_device_without_a_position_or_values() -> None:
    device = Device("7")

    assert comparable(saved(device)) == comparable(_plain(device.as_flat_dict()))
