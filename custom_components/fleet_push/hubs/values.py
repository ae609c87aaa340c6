"""Type checks every client needs on decoded JSON (where True is an int, but not a number)."""

from __future__ import annotations

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
