"""Which of Home Assistant's zones a position is in: Home Assistant's answer, found cheaply.

Home Assistant works out a tracker's zones on every write with an exact ellipsoid distance
(Vincenty's, about 7 µs) to every zone. A tracker that names its zones itself (`in_zones`)
skips that. Here the straight line between the two points, which is never longer than the
distance along the Earth, rules out every zone the position is clearly outside of, for a few
multiplications; only a zone the position may be in gets Home Assistant's own distance and
test, so the answer is always the one Home Assistant would give.
"""

from __future__ import annotations

import math

from homeassistant.components.zone import DATA_ZONE_ENTITY_IDS
from homeassistant.components.zone.const import ATTR_RADIUS
from homeassistant.const import ATTR_LATITUDE, ATTR_LONGITUDE, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.util.location import distance

_A = 6_378_137.0
"""WGS 84's equatorial radius, metres."""
_E2 = 6.694_379_990_14e-3
"""WGS 84's first eccentricity, squared."""
_MARGIN = 1.0
"""Metres of slack before a zone is ruled out: far more than the rounding of the arithmetic."""


def earth_point(latitude: float, longitude: float) -> tuple[float, float, float]:
    """The point in metres from the Earth's centre (WGS 84, at sea level)."""
    phi, lam = math.radians(latitude), math.radians(longitude)
    sin_phi, cos_phi = math.sin(phi), math.cos(phi)
    normal = _A / math.sqrt(1 - _E2 * sin_phi * sin_phi)
    return (
        normal * cos_phi * math.cos(lam),
        normal * cos_phi * math.sin(lam),
        normal * (1 - _E2) * sin_phi,
    )


class _Zone:
    """One zone as last seen: its state, its centre in space, its radius."""

    __slots__ = ("latitude", "longitude", "point", "radius", "state")

    def __init__(self, state: State) -> None:
        """Read what the test needs from the zone's state, once per state."""
        attributes = state.attributes
        self.state = state
        self.latitude: float = attributes[ATTR_LATITUDE]
        self.longitude: float = attributes[ATTR_LONGITUDE]
        self.radius: float = attributes[ATTR_RADIUS]
        self.point = earth_point(self.latitude, self.longitude)


class ZoneFinder:
    """Finds the zones a position is in, remembering each zone until its state changes."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Look zones up in this Home Assistant."""
        self._hass = hass
        self._zones: dict[str, _Zone] = {}

    def zones_at(self, latitude: float, longitude: float, accuracy: float) -> list[str]:
        """The zones containing the position, smallest first, then closest (as `in_zones`)."""
        zone_ids = self._hass.data.get(DATA_ZONE_ENTITY_IDS, ())
        if not zone_ids:
            return []
        x, y, z = earth_point(latitude, longitude)
        found: list[tuple[float, float, str]] = []
        for entity_id in zone_ids:
            zone = self._zone(entity_id)
            if zone is None:
                continue
            reach = zone.radius + accuracy + _MARGIN
            zx, zy, zz = zone.point
            if (x - zx) ** 2 + (y - zy) ** 2 + (z - zz) ** 2 > reach * reach:
                continue  # the straight line alone is too long: outside
            gap = distance(latitude, longitude, zone.latitude, zone.longitude)
            if gap is not None and gap - zone.radius < accuracy:
                found.append((zone.radius, gap, entity_id))
        found.sort(key=lambda item: (item[0], item[1]))
        return [entity_id for _, _, entity_id in found]

    def _zone(self, entity_id: str) -> _Zone | None:
        """The zone, read again whenever its state changed; None while it is unavailable."""
        state = self._hass.states.get(entity_id)
        if state is None or state.state == STATE_UNAVAILABLE:
            self._zones.pop(entity_id, None)
            return None
        zone = self._zones.get(entity_id)
        if zone is None or zone.state is not state:
            zone = self._zones[entity_id] = _Zone(state)
        return zone
