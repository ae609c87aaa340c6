"""The fleet as FleetPush knows it: the merged state of every device, and what changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import Flag, auto
from typing import Any, Final

from .hubs.model import (
    HUB_DEVICE_ID,
    NO_DETAILS,
    DeviceDetails,
    DeviceUpdate,
    Field,
    HubUpdate,
    Position,
    Value,
)

POSITION: Final = "position"
EXTRAS: Final = "extras"
"""Besides Field keys, the parts of a device an entity can show (see Device.apply)."""


class Change(Flag):
    """What an update changed about a device."""

    NONE = 0
    VALUES = auto()
    """Values, extras or the position changed: the device's entities write."""
    INFO = auto()
    """Name, model, firmware or another registry field changed."""
    SHAPE = auto()
    """New fields, channels, items in use or a first position: entities may have to be added."""


_CHANGES: Final = {
    (info, shape, values): (Change.INFO if info else Change.NONE)
    | (Change.SHAPE if shape else Change.NONE)
    | (Change.VALUES if values else Change.NONE)
    for info in (False, True)
    for shape in (False, True)
    for values in (False, True)
}
"""(info, shape, values) -> the Change they make."""


@dataclass(slots=True)
class Device:
    """One device (or the hub itself) with everything its hub has said about it."""

    device_id: str
    details: DeviceDetails = NO_DETAILS
    position: Position | None = None
    values: dict[Field, Value] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    channels: frozenset[str] = frozenset()
    in_use: dict[Field, frozenset[int]] = field(default_factory=dict)
    """Per list of flags (inputs, outputs), the items ever reported on: the ones wired up."""

    @property
    def is_hub(self) -> bool:
        """Whether this is the hub itself."""
        return self.device_id == HUB_DEVICE_ID

    def apply(self, update: DeviceUpdate, touched: set[str] | None = None) -> Change:
        """Merge what an update says; older positions never replace newer ones.

        `touched` collects what changed: Field keys, POSITION and EXTRAS.
        """
        touched = set() if touched is None else touched
        # Plain booleans, one Change at the end: Flag operators are slow on a hot path.
        info = update.details is not NO_DETAILS and self._merge_details(update.details)
        shape = self._merge_values(update.values, touched) if update.values else False
        if update.extras and self._merge_extras(update.extras):
            touched.add(EXTRAS)
        if update.position is not None and self._accepts(update.position):
            touched.add(POSITION)
            shape = shape or self.position is None
            self.position = update.position
        if update.channels is not None and update.channels != self.channels:
            self.channels = update.channels
            shape = True
        return _CHANGES[info, shape, bool(touched)]

    def apply_hub(self, update: HubUpdate, touched: set[str] | None = None) -> Change:
        """Merge what a hub says about itself."""
        return self.apply(
            DeviceUpdate(
                HUB_DEVICE_ID,
                DeviceDetails(firmware=update.version),
                values=update.values,
                extras=update.extras,
                channels=update.channels,
            ),
            touched,
        )

    def _accepts(self, position: Position) -> bool:
        current = self.position
        if current == position:
            return False
        if current is None or current.time is None or position.time is None:
            return True
        return position.time >= current.time

    def _merge_details(self, said: DeviceDetails) -> bool:
        details = self.details.updated(said)
        if details is self.details:
            return False
        self.details = details
        return True

    def as_flat_dict(self) -> dict[str, Any]:
        """Everything known of the device, its details beside its values (saved, diagnosed)."""
        flat = asdict(self)
        return {"device_id": self.device_id, **flat.pop("details"), **flat}

    def _merge_values(self, values: Mapping[Field, Value], touched: set[str]) -> bool:
        """Merge values, noting the changed keys; return whether a key or an item in use is new."""
        new_shape = False
        current = self.values
        for key, value in values.items():
            if key not in current:
                new_shape = True
            elif current[key] == value and type(current[key]) is type(value):
                continue
            elif _grew(current[key], value):
                new_shape = True  # a sensor more (readings): its entity is added
            current[key] = value
            touched.add(key)
            if type(value) is tuple and self._note_in_use(key, value):
                new_shape = True
        return new_shape

    def _note_in_use(self, key: Field, flags: tuple[Any, ...]) -> bool:
        """Remember the items reported on; return whether one is new."""
        known = self.in_use.get(key, frozenset())
        on = known.union(index for index, flag in enumerate(flags) if flag is True)
        if on == known:
            return False
        self.in_use[key] = on
        return True

    def _merge_extras(self, extras: Mapping[str, Any]) -> bool:
        changed = False
        for key, value in extras.items():
            if self.extras.get(key) != value:
                self.extras[key] = value
                changed = True
        return changed


def _grew(before: Value, after: Value) -> bool:
    """Whether a list of readings gained an item."""
    return type(before) is tuple and type(after) is tuple and len(after) > len(before)
