"""GPS trackers: where each vehicle or device is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
import math
from typing import Any, override

from homeassistant.components.device_tracker import TrackerEntity, TrackerEntityDescription

from .coordinator import FleetPushCoordinator
from .entity import FleetPushEntity, FleetPushEntityDescription, described_entities, setup_entry
from .fleet import EXTRAS, POSITION, Device
from .hubs.model import Field, Position

# Coordinator is used to centralize the data updates.
PARALLEL_UPDATES = 0

ATTR_SPEED = "speed"
ATTR_HEADING = "heading"
ATTR_ALTITUDE = "altitude"
ATTR_FIX_TIME = "fix_time"
ATTR_ACTIVITY = "activity"
ATTR_GROUP = "group"
MOVING = "moving"
PARKED = "parked"
OFFLINE = "offline"
_NOT_SAID = object()


_SHOWN = frozenset({POSITION, Field.ONLINE, Field.MOVING, EXTRAS})
"""What a tracker entity shows of its device: one set for every tracker. Online, moving and
the extras (the group) change on transitions only; a report that moves the tracker and
changes them too is still one write."""


def activity_of(device: Device) -> str | None:
    """Moving, parked or offline, for map cards that filter; None when the hub says neither.

    Moving is the hub's own flag where it has one (Navixy), else a fix with speed.
    """
    values = device.values
    if values.get(Field.ONLINE) is False:
        return OFFLINE
    moving = values.get(Field.MOVING, _NOT_SAID)
    if moving is _NOT_SAID:
        speed = device.position.speed if device.position else None
        moving = None if speed is None else speed > 0
    if moving is None:
        return None
    return MOVING if moving else PARKED


def group_of(device: Device) -> str | None:
    """The group the hub puts the device in, for map cards that label."""
    group = device.extras.get(ATTR_GROUP)
    return group if isinstance(group, str) and group else None


@dataclass(frozen=True, kw_only=True)
class FleetPushTrackerEntityDescription(TrackerEntityDescription, FleetPushEntityDescription):
    """The location of a device that reports positions."""


LOCATION = FleetPushTrackerEntityDescription(key="location", name=None, needs_fix=True)


class FleetPushTracker(FleetPushEntity, TrackerEntity):
    """A device's last known GPS position."""

    _unrecorded_attributes = frozenset(
        {ATTR_SPEED, ATTR_HEADING, ATTR_ALTITUDE, ATTR_FIX_TIME, ATTR_ACTIVITY, ATTR_GROUP}
    )
    # Where a vehicle is, is what it is there for, not a diagnostic (Home Assistant's default
    # for trackers, which are mostly phones seen on a network).
    _attr_entity_category = None  # type: ignore[assignment]
    _position: Position | None = None
    _activity: str | None = None
    _group: str | None = None
    entity_description: FleetPushTrackerEntityDescription

    def __init__(
        self,
        coordinator: FleetPushCoordinator,
        device_id: str,
        description: FleetPushTrackerEntityDescription,
    ) -> None:
        """A tracker whose icon says what its device is (a vehicle, a truck, a tracker...)."""
        super().__init__(coordinator, device_id, description)
        if (category := self.device.details.category) is not None:
            # Icons only: without a translated name the entity keeps its device's name.
            self._attr_translation_key = category.value

    @property
    @override
    def aspects(self) -> frozenset[str]:
        """A tracker shows its device's position."""
        return _SHOWN

    @property
    @override
    def available(self) -> bool:
        """A tracker keeps showing its last known position while its hub is away."""
        device = self.coordinator.devices.get(self.device_id)
        return device is not None and (self.coordinator.available or device.position is not None)

    @override
    def _recompute(self) -> tuple[Any, ...]:
        device = self.coordinator.devices.get(self.device_id)
        position = device.position if device else None  # a place on Earth, always
        self._position = position
        self._activity = activity_of(device) if device else None
        self._group = group_of(device) if device else None
        picture = device.details.picture if device else None
        if picture != self._attr_entity_picture:  # each _attr_ set clears a cache: only changes
            self._attr_entity_picture = picture
        if position is None:
            self._attr_latitude = self._attr_longitude = None
            self._attr_location_accuracy = 0
            self._attr_in_zones = None
        else:
            self._attr_latitude = position.latitude
            self._attr_longitude = position.longitude
            accuracy = position.accuracy or 0
            if accuracy != self._attr_location_accuracy:
                self._attr_location_accuracy = accuracy
            # Home Assistant's own zones, named here: its exact distance to every zone on
            # every write is a large part of a tracker's write (zones.py).
            self._attr_in_zones = self.coordinator.zone_finder.zones_at(
                position.latitude, position.longitude, accuracy
            )
        return (
            *super()._recompute(),
            position,
            self._activity,
            self._group,
            self._attr_entity_picture,
        )

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Speed, heading, altitude, the time of the fix, activity and group, where known."""
        position = self._position
        if position is None:
            return None
        attributes: dict[str, Any] = {}
        # km/h, degrees and metres as whole numbers: more digits are noise, not precision.
        if (speed := position.speed) is not None and math.isfinite(speed):
            attributes[ATTR_SPEED] = round(speed)
        if (heading := position.heading) is not None and math.isfinite(heading):
            attributes[ATTR_HEADING] = round(heading)
        if (altitude := position.altitude) is not None and math.isfinite(altitude):
            attributes[ATTR_ALTITUDE] = round(altitude)
        if position.time is not None:
            attributes[ATTR_FIX_TIME] = _iso_text(position.time)
        if self._activity is not None:
            attributes[ATTR_ACTIVITY] = self._activity
        if self._group is not None:
            attributes[ATTR_GROUP] = self._group
        return attributes or None


@lru_cache(maxsize=64)
def _iso_text(time: datetime) -> str:
    """A fix time as text, once per time: the trackers of one batch share their second."""
    return time.isoformat()


async_setup_entry = setup_entry(described_entities((LOCATION,), FleetPushTracker))
