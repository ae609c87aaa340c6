"""The Navixy simulator's geofences: zone/list as the vendor documents it.

One of each shape the docs describe (a circle, a polygon, a "sausage" corridor), with their
fields (label, address, color, bounds, tags), laid over Berlin where the fleet drives. Points
come only with ``with_points``, as documented. Tests and the demo change them at will
(NavixySimulator.zones); Navixy pushes nothing when geofences change.
"""

from __future__ import annotations

import copy
import math
from typing import Any

type Zone = dict[str, Any]


def _bounds(points: list[tuple[float, float]], radius: float = 0.0) -> dict[str, Any]:
    """The docs' bounds: the north-west and south-east corners of the box, radius included."""
    lat_margin = radius / 111_320
    lng_margin = radius / (111_320 * math.cos(math.radians(points[0][0])))
    lats, lngs = [p[0] for p in points], [p[1] for p in points]
    return {
        "nw": {"lat": max(lats) + lat_margin, "lng": min(lngs) - lng_margin},
        "se": {"lat": min(lats) - lat_margin, "lng": max(lngs) + lng_margin},
    }


def circle(zone_id: int, label: str, lat: float, lng: float, radius: int, **more: Any) -> Zone:
    """A circle geofence as zone/list shows it."""
    return {
        "id": zone_id,
        "type": "circle",
        "label": label,
        "address": more.get("address", ""),
        "color": more.get("color", "27A9E3"),
        "radius": radius,
        "center": {"lat": lat, "lng": lng},
        "bounds": _bounds([(lat, lng)], radius),
        "tags": more.get("tags", []),
    }


def polygon(zone_id: int, label: str, points: list[tuple[float, float]], **more: Any) -> Zone:
    """A polygon geofence as zone/list shows it with its points."""
    return {
        "id": zone_id,
        "type": "polygon",
        "label": label,
        "address": more.get("address", ""),
        "color": more.get("color", "27A9E3"),
        "points": [{"lat": lat, "lng": lng, "node": True} for lat, lng in points],
        "bounds": _bounds(points),
        "tags": more.get("tags", []),
    }


def sausage(
    zone_id: int, label: str, points: list[tuple[float, float]], radius: int, **more: Any
) -> Zone:
    """A corridor ("sausage") geofence as zone/list shows it with its points."""
    return {
        **polygon(zone_id, label, points, **more),
        "type": "sausage",
        "radius": radius,
        "bounds": _bounds(points, radius),
    }


def default_zones() -> list[Zone]:
    """The account's geofences: one of each documented shape, where the fleet drives."""
    return [
        circle(
            985472,
            "Depot Mitte",
            52.5200,
            13.4050,
            1500,
            address="Alexanderplatz 1, Berlin",
            color="27A9E3",
            tags=[127, 15],
        ),
        polygon(
            124597,
            "Tempelhofer Feld",
            [(52.4800, 13.3900), (52.4800, 13.4200), (52.4650, 13.4200), (52.4650, 13.3900)],
            address="Tempelhofer Damm, Berlin",
            color="E67E22",
            tags=[1, 236],
        ),
        sausage(
            12345,
            "Stadtautobahn A100",
            [(52.5000, 13.2800), (52.4900, 13.3400), (52.4850, 13.4000), (52.4950, 13.4600)],
            300,
            address="A100, Berlin",
            color="8E44AD",
            tags=[289],
        ),
    ]


def zone_list(zones: list[Zone], *, with_points: bool) -> dict[str, Any]:
    """zone/list: every geofence, with its points only when asked (with_points)."""
    listed = copy.deepcopy(zones)
    if not with_points:
        for zone in listed:
            zone.pop("points", None)
    return {"list": listed}
