"""The Geofence sensor: which of its hub's geofences a tracker is in (all of them as attributes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.sensor import SensorEntity, SensorEntityDescription

from .entity import FleetPushEntity, FleetPushEntityDescription, described_entities
from .hubs.model import Field


@dataclass(frozen=True, kw_only=True)
class GeofenceSensorDescription(SensorEntityDescription, FleetPushEntityDescription):
    """The Geofence sensor's description."""


GEOFENCE_SENSOR = GeofenceSensorDescription(
    key="geofence",
    translation_key="geofence",
    field=Field.GEOFENCE,
)
"""Enabled: it writes only when the set of geofences a tracker is in changes."""


class FleetPushGeofenceSensor(FleetPushEntity, SensorEntity):
    """The label of the (smallest) geofence a tracker is in, "none" outside all of them."""

    entity_description: GeofenceSensorDescription

    @override
    def _recompute(self) -> tuple[Any, ...]:
        value = self.value
        self._attr_native_value = value if isinstance(value, str) else None
        inside = self.coordinator.geofences.inside(self.device_id)
        self._attr_extra_state_attributes = {
            "geofences": [fence.label for fence in inside],
            "geofence_ids": [fence.geofence_id for fence in inside],
        }
        return (*super()._recompute(), self._attr_native_value, inside)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Every geofence the tracker is in, smallest first, and their ids."""
        return self._attr_extra_state_attributes


geofence_sensors = described_entities((GEOFENCE_SENSOR,), FleetPushGeofenceSensor)
