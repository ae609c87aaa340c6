"""Which of its hub's geofences each device is in, and the enter and leave notices.

Computed from the positions the fleet accepts. A position in no geofence's grid cell costs
one dictionary look-up (hubs/geofence.py); the Geofence value changes, and its sensor writes,
only when the set of geofences a device is in changes.
"""

from __future__ import annotations

from collections.abc import Iterable

from .fleet import Change, Device
from .hubs.geofence import CHANNEL, EVENT_TYPES, Geofence, GeofenceIndex
from .hubs.model import NOT_IN_GEOFENCE, Field, HubNotice, Position

ENTER, LEAVE = EVENT_TYPES


def _ids(geofences: Iterable[Geofence]) -> frozenset[str]:
    return frozenset(geofence.geofence_id for geofence in geofences)


def notice(device_id: str, event_type: str, geofence: Geofence) -> HubNotice:
    """Entering or leaving one geofence, with what the hub says of it."""
    return HubNotice(
        CHANNEL,
        event_type,
        device_id=device_id,
        attributes={
            "geofence_id": geofence.geofence_id,
            "geofence": geofence.label,
            "kind": geofence.kind,
            "address": geofence.address,
        },
    )


class FleetGeofences:
    """A hub's geofences and the ones each device is in."""

    def __init__(self) -> None:
        """No geofences until the hub lists some."""
        self.index = GeofenceIndex()
        self.active = False
        """Whether the hub has geofences (checked on every position, so a plain attribute)."""
        self._inside: dict[str, tuple[Geofence, ...]] = {}

    def replace(self, geofences: Iterable[Geofence]) -> None:
        """The hub's geofences now (follow() then recomputes each device)."""
        self.index = GeofenceIndex(geofences)
        self.active = len(self.index) > 0

    def inside(self, device_id: str) -> tuple[Geofence, ...]:
        """The geofences a device is in, smallest first (none until it has a position)."""
        return self._inside.get(device_id, ())

    def forget(self, device_id: str) -> None:
        """A device is gone."""
        self._inside.pop(device_id, None)

    def crosses(self, device_id: str, position: Position) -> bool:
        """Whether a position would put a device in other geofences than it is in now."""
        if not self.active:
            return False
        before = self._inside.get(device_id)
        found = self.index.around(position.latitude, position.longitude)
        return before is None or _ids(before) != _ids(found)

    def follow(
        self, device: Device, touched: set[str], *, notify: bool = True
    ) -> tuple[Change, list[HubNotice]]:
        """Recompute a device's geofences from its position; what changed and the notices.

        A device whose geofences are not known yet (after a restart) starts from the ones its
        saved Geofence value names, so that only a real change fires an event.
        """
        position = device.position
        if position is None:
            return Change.NONE, []
        found = self.index.around(position.latitude, position.longitude)
        device_id = device.device_id
        before = self._inside.get(device_id)
        if before == found:
            return Change.NONE, []
        if before is None:
            before = self._restored(device)
        self._inside[device_id] = found
        label = found[0].label if found else NOT_IN_GEOFENCE
        known = Field.GEOFENCE in device.values
        change = Change.NONE
        if not known or device.values[Field.GEOFENCE] != label or _ids(found) != _ids(before or ()):
            device.values[Field.GEOFENCE] = label
            touched.add(Field.GEOFENCE)
            change = Change.VALUES if known else Change.VALUES | Change.SHAPE
        if before is None or not notify:
            return change, []
        return change, self._notices(device_id, before, found)

    def _restored(self, device: Device) -> tuple[Geofence, ...] | None:
        """The geofences a saved Geofence value names; None if it names nothing known."""
        label = device.values.get(Field.GEOFENCE)
        if label == NOT_IN_GEOFENCE:
            return ()
        if not isinstance(label, str):
            return None
        return tuple(fence for fence in self.index.geofences if fence.label == label) or None

    @staticmethod
    def _notices(
        device_id: str, before: tuple[Geofence, ...], found: tuple[Geofence, ...]
    ) -> list[HubNotice]:
        """Leaving first, then entering: a device moving between two geofences."""
        was, now = _ids(before), _ids(found)
        return [
            *(notice(device_id, LEAVE, fence) for fence in before if fence.geofence_id not in now),
            *(notice(device_id, ENTER, fence) for fence in found if fence.geofence_id not in was),
        ]
