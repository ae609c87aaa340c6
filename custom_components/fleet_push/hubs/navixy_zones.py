"""Navixy geofences ("zones"): zone/list items as Geofences.

``zone/list`` with ``with_points`` answers every geofence of the account in one call: circles
(``center`` + ``radius``), polygons (``points``) and corridors (``sausage``: ``points`` +
``radius``), each with a ``label``, a ``color`` (``RRGGBB``) and an ``address``. Navixy pushes
nothing when geofences change, so the client asks again every RELOAD_INTERVAL seconds. A
server that lists a polygon or corridor without its points all the same is asked for them
with ``zone/point/list``, as the docs' "Geofence point" page says.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
import math
import re
from typing import Any, Final

from .geofence import Circle, Corridor, Geofence, Point, Polygon, Shape
from .model import is_place
from .values import as_number, is_int

RELOAD_INTERVAL: Final = 600.0
"""Seconds between two zone/list calls while connected."""
MAX_POINTS: Final = 1024
"""Navixy's limit (a sausage's; a polygon has at most 500): more is not a geofence of theirs."""
MAX_RADIUS: Final = 1_000_000.0
"""Metres: a circle or corridor wider than this is garbage."""
MAX_POINT_LISTS: Final = 100
"""zone/point/list calls per load at most; geofences beyond are skipped until the next load."""
_COLOR: Final = re.compile(r"[0-9A-Fa-f]{6}")
_WITH_POINTS: Final = frozenset({"polygon", "sausage"})


async def fill_points(
    items: list[Any], points_of: Callable[[int], Awaitable[list[Any] | None]]
) -> None:
    """Give the polygons and corridors listed without points the points `points_of` finds."""
    missing = [
        item
        for item in items
        if isinstance(item, dict)
        and item.get("type") in _WITH_POINTS
        and not isinstance(item.get("points"), list)
        and is_int(item.get("id"))
    ]
    for item in missing[:MAX_POINT_LISTS]:
        if (points := await points_of(item["id"])) is not None:
            item["points"] = points


def parse_zones(items: list[Any]) -> tuple[tuple[Geofence, ...], int]:
    """The geofences of a zone/list reply, and how many items were unreadable."""
    geofences = []
    for item in items:
        geofence = parse_zone(item) if isinstance(item, dict) else None
        if geofence is not None:
            geofences.append(geofence)
    return tuple(geofences), len(items) - len(geofences)


def parse_zone(item: Mapping[str, Any]) -> Geofence | None:
    """One zone/list item; None when it is not a geofence FleetPush can draw."""
    zone_id, label = item.get("id"), item.get("label")
    if not is_int(zone_id) or not isinstance(label, str):
        return None
    shape = _shape(item)
    if shape is None:
        return None
    color, address = item.get("color"), item.get("address")
    return Geofence(
        geofence_id=str(zone_id),
        label=label.strip() or str(zone_id),
        shape=shape,
        color=f"#{color.lower()}" if isinstance(color, str) and _COLOR.fullmatch(color) else None,
        address=address.strip() or None if isinstance(address, str) else None,
    )


def _shape(item: Mapping[str, Any]) -> Shape | None:
    match item.get("type"):
        case "circle":
            center, radius = _point(item.get("center")), _radius(item.get("radius"))
            return Circle(center, radius) if center and radius is not None else None
        case "polygon":
            points = _points(item.get("points"), least=3)
            return Polygon(points) if points else None
        case "sausage":
            points, radius = _points(item.get("points"), least=2), _radius(item.get("radius"))
            return Corridor(points, radius) if points and radius is not None else None
    return None


def _radius(value: Any) -> float | None:
    number = as_number(value)
    if number is None or not math.isfinite(number) or not 0 < number <= MAX_RADIUS:
        return None
    return float(number)


def _point(value: Any) -> Point | None:
    if not isinstance(value, dict):
        return None
    lat, lng = as_number(value.get("lat")), as_number(value.get("lng"))
    if lat is None or lng is None or not is_place(lat, lng):
        return None
    return float(lat), float(lng)


def _points(value: Any, *, least: int) -> tuple[Point, ...] | None:
    """All the points of a list, or None if one is no place or there are too few or many."""
    if not isinstance(value, list) or not least <= len(value) <= MAX_POINTS:
        return None
    points = []
    for item in value:
        if (point := _point(item)) is None:
            return None
        points.append(point)
    return tuple(points)
