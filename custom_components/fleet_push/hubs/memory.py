"""What a client remembers across reconnects and restarts (the integration saves it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any


class HubMemory:
    """Plain JSON-able sections a client keeps (trip and alarm cursors); saved when changed.

    A client changes a section in place and calls changed(); the integration writes the whole
    memory to disk soon after, and hands it back to the next client (a reconnect, a reconfigure,
    a restart of Home Assistant).
    """

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        """Start from what was saved (nothing: an empty memory)."""
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        self.on_change: Callable[[], None] | None = None

    def section(self, name: str) -> dict[str, Any]:
        """One client feature's part of the memory (created empty)."""
        part = self.data.get(name)
        if not isinstance(part, dict):
            part = self.data[name] = {}
        return part

    def changed(self) -> None:
        """Say that a section changed, so that it is saved."""
        if self.on_change is not None:
            self.on_change()


def remembered_time(value: Any) -> datetime | None:
    """A time a section kept (ISO text); None if it kept none, or something else."""
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
