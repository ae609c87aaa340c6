"""A hub's circle geofences as passive Home Assistant zones, while its option says so.

The zones are items of the zone integration's own storage collection (what Settings → Areas,
labels & zones creates), so zone triggers, conditions and the map know them; passive, so no
tracker's state becomes a zone's name. FleetPush remembers which items it made and keeps them
in step with the hub: a geofence moved, renamed or deleted in the hub is changed or deleted
here, and all of them go when the option is turned off or the hub is unloaded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Final

from homeassistant.components import zone
from homeassistant.components.zone.const import CONF_PASSIVE
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import (
    CONF_ICON,
    CONF_ID,
    CONF_LATITUDE,
    CONF_LONGITUDE,
    CONF_NAME,
    CONF_RADIUS,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.setup import async_setup_component

from .const import DOMAIN, LOGGER
from .hubs.geofence import ZONES_OPTION as OPTION, Circle, Geofence

MAX_ZONES: Final = 100
"""Circles shown at most (the smallest): every zone costs Home Assistant work on every
tracker update, so thousands of geofences must not become thousands of zones."""
ICON: Final = "mdi:map-marker-radius-outline"
STORAGE_VERSION: Final = 1


def zone_data(geofence: Geofence) -> dict[str, Any] | None:
    """What a circle geofence is as a passive zone; None for other shapes."""
    shape = geofence.shape
    if not isinstance(shape, Circle):
        return None
    return {
        CONF_NAME: geofence.label,
        CONF_LATITUDE: shape.center[0],
        CONF_LONGITUDE: shape.center[1],
        CONF_RADIUS: shape.radius,
        CONF_ICON: ICON,
        CONF_PASSIVE: True,
    }


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, str]]:
    """Which zone items FleetPush made for one hub's geofences."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.zones")


async def async_forget(hass: HomeAssistant, entry_id: str) -> None:
    """Delete the record of a removed hub's zones (they went when it was unloaded)."""
    await _store(hass, entry_id).async_remove()


class GeofenceZones:
    """The zones made for one hub's circle geofences."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
        """Nothing is read or made until the first call."""
        self.hass = hass
        self._entry = entry
        self._store = _store(hass, entry.entry_id)
        self._owned: dict[str, str] | None = None
        """Geofence id -> the zone item made for it."""
        self._lock = asyncio.Lock()

    async def async_follow(self, geofences: Iterable[Geofence]) -> None:
        """Zones for the circles if the option is on, none if it is off."""
        await self.async_show(geofences if self._entry.options.get(OPTION) else ())

    async def async_show(self, geofences: Iterable[Geofence]) -> None:
        """Make the zones exactly those of these geofences' circles (the smallest MAX_ZONES)."""
        circles = [(fence, data) for fence in geofences if (data := zone_data(fence)) is not None]
        circles.sort(key=lambda pair: pair[1][CONF_RADIUS])
        wanted = {fence.geofence_id: data for fence, data in circles[:MAX_ZONES]}
        async with self._lock:
            owned = await self._load()
            if not owned and not wanted:
                return
            if not await async_setup_component(self.hass, zone.DOMAIN, {}):
                LOGGER.warning("The zone integration is not set up: no zones for geofences")
                return
            collection = self.hass.data[zone.DATA_ZONE_STORAGE_COLLECTION]
            for geofence_id, item_id in list(owned.items()):
                if geofence_id not in wanted or item_id not in collection.data:
                    del owned[geofence_id]
                    if item_id in collection.data:
                        await collection.async_delete_item(item_id)
            for geofence_id, data in wanted.items():
                made = owned.get(geofence_id)
                if made is None:
                    owned[geofence_id] = (await collection.async_create_item(data))[CONF_ID]
                elif any(collection.data[made].get(key) != value for key, value in data.items()):
                    await collection.async_update_item(made, data)
            await self._store.async_save(owned)

    async def _load(self) -> dict[str, str]:
        if self._owned is None:
            saved = await self._store.async_load()
            self._owned = {
                str(key): value for key, value in (saved or {}).items() if isinstance(value, str)
            }
        return self._owned
