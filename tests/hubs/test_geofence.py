"""Geofence geometry: circles by haversine, polygons by ray casting, corridors by segment
distance, and the grid index that finds the geofences around a place."""

from __future__ import annotations

import math

import pytest

from custom_components.fleet_push.hubs.geofence import (
    CELL_DEGREES,
    Box,
    Circle,
    Corridor,
    Geofence,
    GeofenceIndex,
    Polygon,
    area,
    bounds,
    contains,
    distance,
    distance_to_polyline,
)

BERLIN = (52.52, 13.405)
METRE = 1 / 111_195  # degrees of latitude


def north_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    return point[0] + metres * METRE, point[1]


def test_haversine_distance() -> None:
    # Berlin to Paris: 878 km by the great circle.
    assert distance(BERLIN, (48.8566, 2.3522)) == pytest.approx(877_500, rel=0.002)
    assert distance(BERLIN, BERLIN) == 0
    assert distance((0.0, 0.0), (0.0, 180.0)) == pytest.approx(math.pi * 6_371_008.8)


@pytest.mark.parametrize(("metres", "inside"), [(0, True), (149, True), (151, False)])
def test_a_circle_holds_what_is_within_its_radius(metres: float, inside: bool) -> None:
    circle = Circle(BERLIN, 150)
    assert contains(circle, *north_of(BERLIN, metres)) is inside


def test_a_circle_east_of_its_centre_is_as_wide_as_north() -> None:
    """Longitude degrees are shorter away from the equator: the distance is in metres."""
    circle = Circle(BERLIN, 1000)
    east = 1000 / (111_195 * math.cos(math.radians(BERLIN[0])))
    assert contains(circle, BERLIN[0], BERLIN[1] + east * 0.99)
    assert not contains(circle, BERLIN[0], BERLIN[1] + east * 1.01)


# An L-shaped (concave) ring: the notch at the north-east is outside.
L_SHAPE = Polygon(((0.0, 0.0), (0.0, 2.0), (1.0, 2.0), (1.0, 1.0), (2.0, 1.0), (2.0, 0.0)))


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ((0.5, 0.5), True),
        ((0.5, 1.5), True),
        ((1.5, 0.5), True),
        ((1.5, 1.5), False),  # the notch
        ((-0.1, 0.5), False),
        ((0.5, 2.1), False),
        ((3.0, 3.0), False),
    ],
)
def test_ray_casting_polygon(point: tuple[float, float], inside: bool) -> None:
    assert contains(L_SHAPE, *point) is inside


def test_a_polygon_whose_ring_is_closed_or_not_is_the_same() -> None:
    closed = Polygon((*L_SHAPE.points, L_SHAPE.points[0]))
    for point in ((0.5, 0.5), (1.5, 1.5), (1.5, 0.5)):
        assert contains(closed, *point) is contains(L_SHAPE, *point)


def test_corridor_distance_is_to_the_nearest_segment() -> None:
    # West to east along the equator, then north: a right angle at (0, 0.01).
    points = ((0.0, 0.0), (0.0, 0.01), (0.01, 0.01))
    metre = 1 / 111_195
    assert distance_to_polyline(points, 100 * metre, 0.005) == pytest.approx(100, rel=1e-3)
    # Beyond the first point the distance is to that end, not to the line's extension.
    assert distance_to_polyline(points, 0.0, -300 * metre) == pytest.approx(300, rel=1e-3)
    # Beside the second segment.
    assert distance_to_polyline(points, 0.005, 0.01 + 50 * metre) == pytest.approx(50, rel=1e-3)
    assert distance_to_polyline(((1.0, 1.0),), 1.0, 1.0) == 0


def test_a_corridor_holds_what_is_within_its_radius_of_the_line() -> None:
    start, end = BERLIN, (BERLIN[0], BERLIN[1] + 0.05)  # 3.4 km east
    corridor = Corridor((start, end), 150)
    middle = BERLIN[1] + 0.025
    assert contains(corridor, *north_of((BERLIN[0], middle), 140))
    assert not contains(corridor, *north_of((BERLIN[0], middle), 160))
    assert contains(corridor, *north_of(start, -100))
    assert not contains(corridor, BERLIN[0], BERLIN[1] + 0.06)  # past the end


def test_bounds_hold_the_whole_shape() -> None:
    box = bounds(Circle(BERLIN, 1000))
    assert box.south < north_of(BERLIN, -1000)[0] < north_of(BERLIN, 1000)[0] < box.north
    assert box.west < BERLIN[1] < box.east
    assert bounds(L_SHAPE) == Box(0.0, 0.0, 2.0, 2.0)
    wide = bounds(Corridor(((0.0, 0.0), (0.0, 1.0)), 1000))
    assert wide.south < -0.008
    assert wide.west < -0.008
    assert wide.north > 0.008
    assert wide.east > 1.008


def test_area_orders_geofences_by_size() -> None:
    assert area(Circle(BERLIN, 100)) == pytest.approx(math.pi * 100**2)
    square = Polygon(((0.0, 0.0), (0.0, 0.01), (0.01, 0.01), (0.01, 0.0)))
    assert area(square) == pytest.approx(1112**2, rel=0.01)
    corridor = Corridor(((0.0, 0.0), (0.0, 0.01)), 10)
    assert area(corridor) == pytest.approx(2 * 10 * 1112 + math.pi * 100, rel=0.01)


def fence(geofence_id: str, shape: Circle | Polygon | Corridor) -> Geofence:
    return Geofence(geofence_id, f"Fence {geofence_id}", shape)


def test_the_index_finds_the_geofences_around_a_place_smallest_first() -> None:
    big = fence("big", Circle(BERLIN, 5000))
    small = fence("small", Circle(BERLIN, 200))
    square = fence("square", Polygon(((52.0, 13.0), (52.0, 13.01), (52.01, 13.01), (52.01, 13.0))))
    index = GeofenceIndex([big, square, small])
    assert len(index) == 3
    assert index.around(*BERLIN) == (small, big)
    assert index.around(*north_of(BERLIN, 1000)) == (big,)
    assert index.around(52.005, 13.005) == (square,)
    assert index.around(10.0, 10.0) == ()
    assert GeofenceIndex().around(*BERLIN) == ()


def test_thousands_of_geofences_are_found_through_their_cells() -> None:
    """A grid of 10,000 small circles: each place meets only those of its own cell."""
    fences = [
        fence(f"{row}-{column}", Circle((50 + row * 0.1, 10 + column * 0.1), 100))
        for row in range(100)
        for column in range(100)
    ]
    index = GeofenceIndex(fences)
    assert index.around(55.0, 15.0) == (fences[50 * 100 + 50],)
    assert index.around(55.05, 15.05) == ()
    assert all(len(near) <= 1 for near in index._cells.values())


def test_a_geofence_too_large_for_the_grid_is_still_found() -> None:
    huge = fence("country", Polygon(((47.0, 6.0), (47.0, 15.0), (55.0, 15.0), (55.0, 6.0))))
    small = fence("small", Circle(BERLIN, 200))
    index = GeofenceIndex([huge, small])
    assert huge not in {entry.geofence for near in index._cells.values() for entry in near}
    assert index.around(*BERLIN) == (small, huge)
    assert index.around(50.0, 10.0) == (huge,)
    assert index.around(60.0, 10.0) == ()


def test_a_place_on_a_cell_edge_finds_geofences_of_both_cells() -> None:
    edge = CELL_DEGREES * 2600  # 52.0: a cell boundary
    circle = fence("edge", Circle((edge, 13.0), 300))
    index = GeofenceIndex([circle])
    assert index.around(edge - 0.001, 13.0) == (circle,)
    assert index.around(edge + 0.001, 13.0) == (circle,)


def test_geofence_kind() -> None:
    assert fence("a", Circle(BERLIN, 1)).kind == "circle"
    assert fence("b", L_SHAPE).kind == "polygon"
    assert fence("c", Corridor((BERLIN,), 1)).kind == "corridor"
