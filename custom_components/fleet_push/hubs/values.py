"""Type checks and conversions every client needs on decoded JSON (True is an int, not a number)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypeGuard

_NUMBER_TYPES = frozenset({int, float})


def is_int(value: Any) -> TypeGuard[int]:
    """A JSON integer; booleans are not."""
    return type(value) is int


def is_number(value: Any) -> TypeGuard[int | float]:
    """A JSON number; booleans are not (decoded JSON has no other subclasses)."""
    return type(value) in _NUMBER_TYPES


def are_flags(value: Any, limit: int) -> TypeGuard[list[bool]]:
    """A JSON list of at most `limit` booleans."""
    return type(value) is list and len(value) <= limit and set(map(type, value)) <= {bool}


def as_number(value: Any) -> int | float | None:
    """A JSON number, or None for anything else (booleans included)."""
    return value if type(value) in _NUMBER_TYPES else None  # is_number inline: a hot path


def as_text(value: Any) -> str | None:
    """A string with something in it, trimmed; None for anything else (blank included)."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def as_float(value: Any) -> float | None:
    """A JSON number as a float, or None for anything else (booleans included)."""
    return float(value) if type(value) in _NUMBER_TYPES else None


def ms_time(value: Any) -> datetime | None:
    """Milliseconds since the epoch as an aware UTC time; 0 (never set) and junk are unknown."""
    if not is_number(value) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except OverflowError, OSError, ValueError:
        return None


def names_by_id(items: Iterable[Any]) -> dict[int, str]:
    """A vendor's list of named things ({"id": 3, "name": "Vans", ...}) as id -> name.

    Names are trimmed; malformed or nameless items are left out.
    """
    names: dict[int, str] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        item_id, name = item.get("id"), item.get("name")
        if is_int(item_id) and isinstance(name, str) and name.strip():
            names[item_id] = name.strip()
    return names
