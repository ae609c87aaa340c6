"""GPS trackers: where each vehicle or device is."""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, override

from homeassistant.components.device_tracker import TrackerEntity, TrackerEntityDescription

from .coordinator import FleetPushCoordinator
from .entity import FleetPushEntity, FleetPushEntityDescription, described_entities, setup_entry
from .fleet import POSITION, Device
from .hubs.model import Position

# Coordinator is used to centralize the data updates.
PARALLEL_UPDATES = 0

ATTR_SPEED = "speed"
ATTR_HEADING = "heading"
ATTR_ALTITUDE = "altitude"
ATTR_FIX_TIME = "fix_time"


_SHOWN = frozenset({POSITION})
"""What a tracker entity shows of its device: one set for every tracker."""


@dataclass(frozen=True, kw_only=True)
class FleetPushTrackerEntityDescription(TrackerEntityDescription, FleetPushEntityDescription):
    """The location of a device that reports positions."""

    @override
    def exists_for(self, device: Device) -> bool:
        return not device.is_hub and device.position is not None


LOCATION = FleetPushTrackerEntityDescription(key="location", name=None)


class FleetPushTracker(FleetPushEntity, TrackerEntity):
    """A device's last known GPS position."""

    _unrecorded_attributes = frozenset({ATTR_SPEED, ATTR_HEADING, ATTR_ALTITUDE, ATTR_FIX_TIME})
    # Where a vehicle is, is what it is there for, not a diagnostic (Home Assistant's default
    # for trackers, which are mostly phones seen on a network).
    _attr_entity_category = None  # type: ignore[assignment]
    _position: Position | None = None
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
        if position is None:
            self._attr_latitude = self._attr_longitude = None
            self._attr_location_accuracy = 0
        else:
            self._attr_latitude = position.latitude
            self._attr_longitude = position.longitude
            self._attr_location_accuracy = position.accuracy or 0
        return (*super()._recompute(), position)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Speed, heading, altitude and the time of the fix, where known."""
        position = self._position
        if position is None:
            return None
        attributes = {
            ATTR_SPEED: _whole(position.speed),
            ATTR_HEADING: _whole(position.heading),
            ATTR_ALTITUDE: _whole(position.altitude),
            ATTR_FIX_TIME: position.time.isoformat() if position.time else None,
        }
        return {key: value for key, value in attributes.items() if value is not None} or None


def _whole(value: float | None) -> int | None:
    """km/h, degrees and metres as whole numbers: more digits are noise, not precision."""
    return None if value is None or not math.isfinite(value) else round(value)


async_setup_entry = setup_entry(described_entities((LOCATION,), FleetPushTracker))
