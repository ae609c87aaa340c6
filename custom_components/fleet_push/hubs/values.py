"""Type checks every client needs on decoded JSON (where True is an int, but not a number)."""

from __future__ import annotations

from typing import Any, TypeGuard


def is_int(value: Any) -> TypeGuard[int]:
    """A JSON integer; booleans are not."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    """A JSON number; booleans are not."""
    return isinstance(value, int | float) and not isinstance(value, bool)
