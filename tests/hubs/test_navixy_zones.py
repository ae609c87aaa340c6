"""Navixy geofences: zone/list items read as the docs describe them, loaded at connect and
again periodically, and a platform that refuses them still connects."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from custom_components.fleet_push.hubs import navixy_zones
from custom_components.fleet_push.hubs.connection import Drop
from custom_components.fleet_push.hubs.geofence import Circle, Corridor, Geofence, Polygon
from custom_components.fleet_push.hubs.model import FleetSnapshot, GeofenceList
from custom_components.fleet_push.hubs.navixy_zones import parse_zone, parse_zones
from tests.helpers import fixture_text, wait_for
from tests.simulator import navixy_zones as sim_zones
from tests.simulator.navixy import VARIANTS, NavixySimulator

from .test_navixy import connected, running, session  # noqa: F401 - the fixture

DOC_POINTS = [{"lat": 11.0, "lng": 22.0, "node": True}, {"lat": 11.2, "lng": 22.2, "node": True}]


def test_the_docs_circle_sample() -> None:
    item = json.loads(fixture_text("navixy", "doc_zone_circle.json"))
    assert parse_zone(item) == Geofence(
        geofence_id="985472",
        label="Zone name",
        shape=Circle((48.200940, 16.369856), 150.0),
        color="#27a9e3",
        address="Karlsplatz, 2",
    )


def test_polygons_and_sausages_with_their_points() -> None:
    """The docs' polygon and sausage items, with points as zone/point/list shows them."""
    three = [*DOC_POINTS, {"lat": 11.4, "lng": 22.4, "node": True}]
    polygon = {"id": 124597, "type": "polygon", "label": "Geofence name", "points": three}
    sausage = {"id": 12345, "type": "sausage", "label": "Zone", "radius": 150, "points": DOC_POINTS}
    found, unreadable = parse_zones([polygon, sausage])
    assert unreadable == 0
    assert found[0].shape == Polygon(((11.0, 22.0), (11.2, 22.2), (11.4, 22.4)))
    assert found[1].shape == Corridor(((11.0, 22.0), (11.2, 22.2)), 150.0)
    assert (found[0].color, found[0].address) == (None, None)


@pytest.mark.parametrize(
    "item",
    [
        {"id": 1, "type": "polygon", "label": "x"},  # listed without points
        {"id": 1, "type": "polygon", "label": "x", "points": DOC_POINTS},  # too few
        {"id": 1, "type": "sausage", "label": "x", "points": DOC_POINTS},  # no radius
        {"id": 1, "type": "circle", "label": "x", "radius": 50},  # no centre
        {"id": 1, "type": "circle", "label": "x", "radius": -5, "center": {"lat": 1, "lng": 2}},
        {"id": 1, "type": "circle", "label": "x", "radius": 50, "center": {"lat": 91, "lng": 2}},
        {"id": 1, "type": "circle", "label": "x", "radius": True, "center": {"lat": 1, "lng": 2}},
        {"id": 1, "type": "hexagon", "label": "x"},
        {"id": "1", "type": "circle", "label": "x", "radius": 5, "center": {"lat": 1, "lng": 2}},
        {"id": 1, "type": "circle", "label": None, "radius": 5, "center": {"lat": 1, "lng": 2}},
        {
            "id": 1,
            "type": "sausage",
            "label": "x",
            "radius": 5,
            "points": [{"lat": 1, "lng": 2}, "junk"],
        },
        {
            "id": 1,
            "type": "polygon",
            "label": "x",
            "points": [{"lat": 1, "lng": 2}] * (navixy_zones.MAX_POINTS + 1),
        },
    ],
)
def test_what_is_no_geofence_is_skipped(item: dict[str, Any]) -> None:
    assert parse_zone(item) is None
    assert parse_zones([item, "junk"]) == ((), 2)


def test_an_empty_label_is_named_by_its_id_and_odd_colours_are_dropped() -> None:
    circle = sim_zones.circle(7, "  ", 1.0, 2.0, 30, color="blue", address="  ")
    geofence = parse_zone(circle)
    assert geofence is not None
    assert (geofence.label, geofence.color, geofence.address) == ("7", None, None)


async def test_geofences_are_loaded_with_their_points_after_the_fleet(
    session: aiohttp.ClientSession,  # noqa: F811 - the fixture
) -> None:
    async with running(NavixySimulator(devices=1)) as sim, connected(session, sim) as (_, got):
        assert isinstance(got[0], FleetSnapshot)
        assert got[0].devices[0].channels == frozenset({"lifecycle", "trip", "geofence"})
        listed = got[1]
        assert isinstance(listed, GeofenceList)
        assert [fence.kind for fence in listed.geofences] == ["circle", "polygon", "corridor"]
        assert listed.geofences == parse_zones(sim.zones)[0]
        assert ("zone/list", {"with_points": True}) in sim.rest_calls


async def test_an_account_without_geofences_says_nothing_of_them(
    session: aiohttp.ClientSession,  # noqa: F811 - the fixture
) -> None:
    sim = NavixySimulator(devices=1)
    sim.zones = []
    async with running(sim), connected(session, sim) as (_, got):
        assert got[0].devices[0].channels == frozenset({"lifecycle", "trip"})  # type: ignore[union-attr]
        assert not any(isinstance(message, GeofenceList) for message in got)


async def test_a_refused_zone_list_still_connects(
    session: aiohttp.ClientSession,  # noqa: F811 - the fixture
) -> None:
    """A sub-user without the right to geofences: the account connects without them."""
    sim = NavixySimulator(devices=1, **VARIANTS["no_zone_rights"])
    async with running(sim), connected(session, sim) as (client, got):
        assert isinstance(got[0], FleetSnapshot)
        assert not any(isinstance(message, GeofenceList) for message in got)
        assert client.stats.dropped[Drop.REQUEST_FAILED] == 1


async def test_points_are_asked_for_when_the_list_leaves_them_out(
    session: aiohttp.ClientSession,  # noqa: F811 - the fixture
) -> None:
    sim = NavixySimulator(devices=1, **VARIANTS["zones_without_points"])
    async with running(sim), connected(session, sim) as (client, got):
        listed = await got.next(GeofenceList)
        assert listed.geofences == parse_zones(sim.zones)[0]  # every shape whole
        asked = [params for path, params in sim.rest_calls if path == "zone/point/list"]
        assert asked == [{"zone_id": 124597}, {"zone_id": 12345}]  # not the circle
        assert not client.stats.dropped


async def test_points_are_asked_for_a_hundred_geofences_per_load_at_most() -> None:
    items: list[Any] = [
        {"id": n, "type": "polygon", "label": f"P{n}"}
        for n in range(navixy_zones.MAX_POINT_LISTS + 3)
    ]
    asked: list[int] = []

    async def points_of(zone: int) -> list[Any] | None:
        asked.append(zone)
        return None if zone == 0 else [{"lat": 1.0, "lng": 2.0}] * 3

    await navixy_zones.fill_points([*items, "junk", {"id": "x", "type": "polygon"}], points_of)
    assert asked == list(range(navixy_zones.MAX_POINT_LISTS))
    assert "points" not in items[0]  # refused: skipped this time
    assert parse_zones(items)[1] == 4  # refused, and the three beyond the limit


async def test_changed_geofences_are_loaded_again_periodically(
    session: aiohttp.ClientSession,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("custom_components.fleet_push.hubs.navixy.RELOAD_INTERVAL", 0.05)
    sim = NavixySimulator(devices=1)
    async with running(sim), connected(session, sim) as (_, got):
        first = await got.next(GeofenceList)
        sim.zones.append(sim_zones.circle(4242, "Car wash", 52.5, 13.3, 80))
        second = await got.next(GeofenceList)
        assert len(second.geofences) == len(first.geofences) + 1
        assert second.geofences[-1].label == "Car wash"
        # Unchanged: nothing more is said, however often it is asked.
        calls = sum(path == "zone/list" for path, _ in sim.rest_calls)
        await wait_for_calls(sim, calls + 2)
        assert sum(isinstance(message, GeofenceList) for message in got) == 2
        # All gone: the trackers lose their geofence channel with the next tracker list.
        sim.zones.clear()
        assert (await got.next(GeofenceList)).geofences == ()
        snapshot = await got.next(FleetSnapshot)
        assert snapshot.devices[0].channels == frozenset({"lifecycle", "trip"})


async def wait_for_calls(sim: NavixySimulator, count: int) -> None:
    await wait_for(lambda: sum(path == "zone/list" for path, _ in sim.rest_calls) >= count)
