"""What an iClick phone record's `info` says beyond its identity, and its binary replies.

`orientation` is read as UIKit's interface orientation (1 portrait, 2 upside down, 3 and 4
landscape; 0 unknown): the vendor's `device:online` sample, a phone just connected, says 1, and
its `devices` sample, a phone offline, 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .model import Field, Orientation, Value
from .values import is_int

MAX_TEXT: Final = 255
"""A fact longer than a state may be is no fact."""
_ORIENTATIONS: Final[Mapping[int, Orientation]] = {
    1: Orientation.PORTRAIT,
    2: Orientation.PORTRAIT,
    3: Orientation.LANDSCAPE,
    4: Orientation.LANDSCAPE,
}
_TEXT_FACTS: Final = (
    ("deviceChip", Field.CHIP),
    ("ipAddress", Field.IP_ADDRESS),
    ("deviceLanguage", Field.LANGUAGE),
    ("timeZone", Field.TIME_ZONE),
)
FACT_FIELDS: Final = frozenset({Field.ORIENTATION, *(field for _, field in _TEXT_FACTS)})


def facts(info: Mapping[str, Any]) -> dict[Field, Value]:
    """The facts among `info`'s keys; junk and empty text are unknown (no chip board: "")."""
    values: dict[Field, Value] = {}
    if "orientation" in info:
        orientation = info["orientation"]
        values[Field.ORIENTATION] = _ORIENTATIONS.get(orientation) if is_int(orientation) else None
    for key, field in _TEXT_FACTS:
        if key in info:
            values[field] = _text(info[key])
    return values


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        return None
    return value.strip() or None


@dataclass(frozen=True, slots=True)
class BinaryReply:
    """A binary reply: its metadata (the reply without data) and its payload."""

    meta: Mapping[str, Any]
    payload: bytes

    def summary(self) -> dict[str, Any]:
        """What an action's response shows of it: the metadata and the payload's size."""
        return {"meta": dict(self.meta), "size": len(self.payload)}
