"""A client's memory (trip and alarm cursors) on disk, so a restart repeats and loses nothing."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN
from .hubs.memory import HubMemory

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 1.0
"""Seconds after a change before the memory is written: it changes once per trip or alarm
poll, and a restart soon after must not fire them again."""


class MemoryStore:
    """Reads and writes one hub's client memory."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """A store per config entry."""
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.memory"
        )

    async def async_load(self) -> HubMemory:
        """The memory as last saved, saved again soon after each change."""
        data = await self._store.async_load()
        memory = HubMemory(data if isinstance(data, dict) else None)
        memory.on_change = lambda: self._store.async_delay_save(lambda: memory.data, SAVE_DELAY)
        return memory

    async def async_save(self, memory: HubMemory) -> None:
        """Write the memory now (on unload)."""
        await self._store.async_save(memory.data)

    async def async_remove(self) -> None:
        """Delete the file (when the entry is deleted)."""
        await self._store.async_remove()
