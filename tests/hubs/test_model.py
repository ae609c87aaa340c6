"""The normalized model: a position is always a place on Earth."""

from __future__ import annotations

from datetime import UTC, datetime
import math

import pytest

from custom_components.fleet_push.hubs.model import Position


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(90.5, 0.0), (-91.0, 0.0), (0.0, 180.5), (0.0, -181.0), (math.nan, 0.0), (0.0, math.inf)],
)
def test_no_position_names_no_place(latitude: float, longitude: float) -> None:
    assert Position.checked(latitude, longitude, speed=5.0) is None
    with pytest.raises(ValueError, match="no place on Earth"):
        Position(latitude, longitude)


def test_a_checked_fix_keeps_what_the_hub_said() -> None:
    when = datetime(2024, 1, 2, tzinfo=UTC)
    fix = Position.checked(90, -180, time=when, speed=1, heading=2, altitude=3, accuracy=4)
    assert fix == Position(90.0, -180.0, when, 1, 2, 3, 4)
    assert fix is not None
    assert type(fix.latitude) is float
    assert type(fix.longitude) is float
    assert Position.checked(None, 1.0) is None
    assert Position.checked(1.0, None) is None
