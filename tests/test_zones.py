"""A tracker's zones, named by FleetPush, are always the ones Home Assistant would find."""

from __future__ import annotations

import math

from homeassistant.components import zone
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.fleet_push.zones import ZoneFinder

from .conftest import SetupTracker
from .helpers import wait_for

ZONES = [
    {"name": "Depot", "latitude": 52.52, "longitude": 13.40, "radius": 250},
    {"name": "Yard", "latitude": 52.5205, "longitude": 13.4010, "radius": 250},  # same radius
    {"name": "City", "latitude": 52.51, "longitude": 13.38, "radius": 8000},
    {"name": "Fuel", "latitude": 52.53, "longitude": 13.42, "radius": 40, "passive": True},
    {"name": "Pier", "latitude": -33.86, "longitude": 151.21, "radius": 300},  # far away
    {"name": "Date line", "latitude": 0.0, "longitude": 179.999, "radius": 500},
]
"""Nested, equal, passive, tiny and far zones, and one across the antimeridian."""
METRES_PER_DEGREE = 111_320


@pytest.fixture
async def zones(hass: HomeAssistant) -> None:
    """The zones above, and home (the tests' default place)."""
    assert await async_setup_component(hass, zone.DOMAIN, {zone.DOMAIN: ZONES})
    await hass.async_block_till_done()


def near_a_zone() -> st.SearchStrategy[tuple[float, float, float]]:
    """A position near some zone's edge (inside, outside, on it), with an accuracy."""
    centres = [(item["latitude"], item["longitude"], item["radius"]) for item in ZONES]
    return st.tuples(
        st.sampled_from(centres),
        st.floats(0, 2 * math.pi),
        st.floats(0.0, 2.0),  # the distance from the centre, in radii
        st.sampled_from([0.0, 0.5, 5.0, 50.0, 3000.0]),
    ).map(_place)


def _place(
    drawn: tuple[tuple[float, float, float], float, float, float],
) -> tuple[float, float, float]:
    (latitude, longitude, radius), bearing, radii, accuracy = drawn
    reach = radius * radii / METRES_PER_DEGREE
    longitude += reach * math.sin(bearing) / math.cos(math.radians(latitude))
    longitude = (longitude + 180) % 360 - 180
    return latitude + reach * math.cos(bearing), longitude, accuracy


@pytest.mark.usefixtures("zones")
@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    # The zones are only read: one Home Assistant for every example is what is wanted.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(position=near_a_zone())
async def test_zones_are_home_assistants_own(
    hass: HomeAssistant, position: tuple[float, float, float]
) -> None:
    latitude, longitude, accuracy = position
    finder = ZoneFinder(hass)

    found = finder.zones_at(latitude, longitude, accuracy)

    assert found == zone.async_in_zones(hass, latitude, longitude, accuracy)[1]


@pytest.mark.usefixtures("zones")
async def test_a_changed_or_unavailable_zone_is_read_again(hass: HomeAssistant) -> None:
    finder = ZoneFinder(hass)
    depot = hass.states.get("zone.depot")
    assert depot is not None
    assert finder.zones_at(52.52, 13.40, 0)[:2] == ["zone.depot", "zone.yard"]

    hass.states.async_set("zone.depot", depot.state, {**depot.attributes, "latitude": 48.0})
    assert "zone.depot" not in finder.zones_at(52.52, 13.40, 0)  # moved away
    assert finder.zones_at(48.0, 13.40, 0) == ["zone.depot"]

    hass.states.async_set("zone.depot", STATE_UNAVAILABLE, depot.attributes)
    assert finder.zones_at(48.0, 13.40, 0) == []
    hass.states.async_remove("zone.depot")
    assert finder.zones_at(48.0, 13.40, 0) == []


async def test_no_zones_at_all(hass: HomeAssistant) -> None:
    assert ZoneFinder(hass).zones_at(52.52, 13.40, 0) == []


@pytest.mark.usefixtures("zones")
async def test_a_tracker_shows_the_smallest_zone_it_is_in(
    hass: HomeAssistant, one_tracker: SetupTracker
) -> None:
    tracker = await one_tracker()
    location = tracker.location

    tracker.hub.move(tracker.tracker_id, 52.5202, 13.4004)  # in the depot, the yard, the city
    await wait_for(lambda: hass.states.get(location).state == "Depot")
    assert hass.states.get(location).attributes["in_zones"] == [
        "zone.depot",
        "zone.yard",
        "zone.city",
    ]

    tracker.hub.move(tracker.tracker_id, 52.53, 13.42)  # at the fuel station: passive
    await wait_for(lambda: "zone.fuel" in hass.states.get(location).attributes["in_zones"])
    assert hass.states.get(location).state == "City"

    tracker.hub.move(tracker.tracker_id, 10.0, 10.0)
    await wait_for(lambda: hass.states.get(location).state == "not_home")
    assert hass.states.get(location).attributes["in_zones"] == []
