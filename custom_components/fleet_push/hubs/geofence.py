"""Geofences and whether a place is inside one: circles, polygons and corridors.

Pure geometry, no Home Assistant. Distances are on a sphere of Earth's mean radius; polygons
are tested in latitude/longitude (a geofence spans kilometres, not continents, and none
crosses the antimeridian). `GeofenceIndex` finds the geofences around a place with one
dictionary look-up in a grid of cells, so a report far from every geofence costs next to
nothing however many there are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
import itertools
import math
from typing import Final

EARTH_RADIUS: Final = 6_371_008.8
"""Metres (the mean radius)."""
METRES_PER_DEGREE: Final = EARTH_RADIUS * math.pi / 180
CELL_DEGREES: Final = 0.02
"""Grid cell size: about 2.2 km north to south."""
MAX_CELLS: Final = 4096
"""A geofence covering more cells than this is checked by its bounding box on every look-up."""

CHANNEL: Final = "geofence"
"""The event channel of entering and leaving a geofence (a kind with geofences declares it)."""
EVENT_TYPES: Final = ("enter", "leave")
ZONES_OPTION: Final = "geofence_zones"
"""The option that shows circle geofences as Home Assistant zones (declared likewise)."""

type Point = tuple[float, float]
"""Latitude, longitude in degrees."""


@dataclass(frozen=True, slots=True)
class Box:
    """A latitude/longitude box."""

    south: float
    west: float
    north: float
    east: float

    def holds(self, latitude: float, longitude: float) -> bool:
        """Whether a place is in the box (edges included)."""
        return self.south <= latitude <= self.north and self.west <= longitude <= self.east


@dataclass(frozen=True, slots=True)
class Circle:
    """Every place within `radius` metres of a centre."""

    center: Point
    radius: float


@dataclass(frozen=True, slots=True)
class Polygon:
    """The inside of a closed ring of at least three points."""

    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class Corridor:
    """Every place within `radius` metres of a polyline (Navixy's "sausage")."""

    points: tuple[Point, ...]
    radius: float


type Shape = Circle | Polygon | Corridor


@dataclass(frozen=True, slots=True)
class Geofence:
    """One of a hub's geofences, as it names and draws it."""

    geofence_id: str
    label: str
    shape: Shape
    color: str | None = None
    """#rrggbb"""
    address: str | None = None

    @property
    def kind(self) -> str:
        """circle, polygon or corridor."""
        return type(self.shape).__name__.lower()

    def contains(self, latitude: float, longitude: float) -> bool:
        """Whether a place is inside."""
        return contains(self.shape, latitude, longitude)


def distance(a: Point, b: Point) -> float:
    """Great-circle distance in metres (haversine)."""
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS * math.asin(min(1.0, math.sqrt(h)))


def in_polygon(points: tuple[Point, ...], latitude: float, longitude: float) -> bool:
    """Ray casting (even-odd): whether a place is inside a ring of points."""
    inside = False
    last_lat, last_lng = points[-1]
    for lat, lng in points:
        if (lat > latitude) != (last_lat > latitude):
            crossing = lng + (latitude - lat) * (last_lng - lng) / (last_lat - lat)
            if longitude < crossing:
                inside = not inside
        last_lat, last_lng = lat, lng
    return inside


def distance_to_polyline(points: tuple[Point, ...], latitude: float, longitude: float) -> float:
    """Metres from a place to the nearest point of a polyline.

    Each segment is projected onto a plane tangent at the place (equirectangular): exact
    enough for segments of a few kilometres, which is what a corridor is made of.
    """
    scale = math.cos(math.radians(latitude))

    def plane(point: Point) -> tuple[float, float]:
        return (
            (point[1] - longitude) * scale * METRES_PER_DEGREE,
            (point[0] - latitude) * METRES_PER_DEGREE,
        )

    planar = [plane(point) for point in points]
    if len(planar) == 1:
        return math.hypot(*planar[0])
    return min(_to_segment(a, b) for a, b in itertools.pairwise(planar))


def _to_segment(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance from the origin to the segment a-b."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, -(a[0] * dx + a[1] * dy) / length))
    return math.hypot(a[0] + t * dx, a[1] + t * dy)


def contains(shape: Shape, latitude: float, longitude: float) -> bool:
    """Whether a place is inside a shape (on its edge counts as inside for circles)."""
    match shape:
        case Circle(center, radius):
            return distance(center, (latitude, longitude)) <= radius
        case Polygon(points):
            return in_polygon(points, latitude, longitude)
        case Corridor(points, radius):
            return distance_to_polyline(points, latitude, longitude) <= radius


def bounds(shape: Shape) -> Box:
    """A box holding the whole shape (a circle or corridor widened by its radius)."""
    match shape:
        case Circle(center, radius):
            points, margin = (center,), radius
        case Polygon(points):
            margin = 0.0
        case Corridor(points, radius):
            margin = radius
    lats = [point[0] for point in points]
    lngs = [point[1] for point in points]
    margin *= 1.001  # rounding must not leave an edge of the shape outside its box
    lat_margin = margin / METRES_PER_DEGREE
    widest = max(abs(min(lats) - lat_margin), abs(max(lats) + lat_margin))
    lng_margin = margin / (METRES_PER_DEGREE * max(math.cos(math.radians(min(widest, 89.0))), 1e-6))
    return Box(
        max(-90.0, min(lats) - lat_margin),
        max(-180.0, min(lngs) - lng_margin),
        min(90.0, max(lats) + lat_margin),
        min(180.0, max(lngs) + lng_margin),
    )


def area(shape: Shape) -> float:
    """Square metres, roughly: which of several geofences around a place is the smallest."""
    match shape:
        case Circle(_, radius):
            return math.pi * radius * radius
        case Polygon(points):
            scale = math.cos(math.radians(points[0][0])) * METRES_PER_DEGREE**2
            ring = itertools.pairwise((*points, points[0]))
            twice = sum(a[1] * b[0] - b[1] * a[0] for a, b in ring)
            return abs(twice) / 2 * scale
        case Corridor(points, radius):
            length = sum(distance(a, b) for a, b in itertools.pairwise(points))
            return 2 * radius * length + math.pi * radius * radius


def _cell(degrees: float) -> int:
    return math.floor(degrees / CELL_DEGREES)


@dataclass(frozen=True, slots=True)
class _Entry:
    geofence: Geofence
    box: Box
    area: float


class GeofenceIndex:
    """The geofences of a hub, found by place through a grid of cells."""

    def __init__(self, geofences: Iterable[Geofence] = ()) -> None:
        """Index the geofences; each cell lists those whose box touches it, smallest first."""
        entries = sorted(
            (_Entry(fence, bounds(fence.shape), area(fence.shape)) for fence in geofences),
            key=lambda entry: (entry.area, entry.geofence.geofence_id),
        )
        self.geofences: tuple[Geofence, ...] = tuple(entry.geofence for entry in entries)
        """Smallest first."""
        cells: defaultdict[tuple[int, int], list[_Entry]] = defaultdict(list)
        large: list[_Entry] = []
        for entry in entries:
            box = entry.box
            rows = range(_cell(box.south), _cell(box.north) + 1)
            columns = range(_cell(box.west), _cell(box.east) + 1)
            if len(rows) * len(columns) > MAX_CELLS:
                large.append(entry)
                continue
            for row in rows:
                for column in columns:
                    cells[row, column].append(entry)
        self._cells = {key: tuple(found) for key, found in cells.items()}
        self._large = tuple(large)

    def __len__(self) -> int:
        """How many geofences there are."""
        return len(self.geofences)

    def around(self, latitude: float, longitude: float) -> tuple[Geofence, ...]:
        """The geofences a place is inside, smallest first."""
        near = self._cells.get((_cell(latitude), _cell(longitude)), ())
        if not near and not self._large:
            return ()
        found = [
            entry
            for entry in (*near, *self._large)
            if entry.box.holds(latitude, longitude) and entry.geofence.contains(latitude, longitude)
        ]
        if self._large and near:
            found.sort(key=lambda entry: (entry.area, entry.geofence.geofence_id))
        return tuple(entry.geofence for entry in found)
