"""FleetPush: live device fleets from WebSocket hubs, as Home Assistant devices and entities."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.device_registry import DeviceEntry
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN
from .coordinator import FleetPushConfigEntry, FleetPushCoordinator
from .fleet_store import FleetStore
from .geofence_zones import async_forget
from .memory_store import MemoryStore
from .migration import async_migrate_entry
from .screenshots import async_setup_screenshot_service
from .services import async_setup_services

PLATFORMS = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.DEVICE_TRACKER,
    Platform.EVENT,
    Platform.IMAGE,
    Platform.SENSOR,
    Platform.SWITCH,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

__all__ = ["async_migrate_entry"]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up what FleetPush offers beyond its config entries: its actions."""
    async_setup_services(hass)
    async_setup_screenshot_service(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: FleetPushConfigEntry) -> bool:
    """Connect to a hub and add its devices and entities."""
    coordinator = FleetPushCoordinator(hass, entry)
    await coordinator.async_setup()
    entry.runtime_data = coordinator
    entry.async_on_unload(coordinator.async_shutdown)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: FleetPushConfigEntry) -> bool:
    """Disconnect from a hub and remove its entities."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: FleetPushConfigEntry) -> None:
    """Forget the hub's saved fleet, what its client remembered and its geofences' zones."""
    await FleetStore(hass, entry.entry_id).async_remove()
    await MemoryStore(hass, entry.entry_id).async_remove()
    await async_forget(hass, entry.entry_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: FleetPushConfigEntry, device_entry: DeviceEntry
) -> bool:
    """Let the user delete a device the hub no longer reports; say why for one it still does."""
    if entry.runtime_data.registry.fleet_device_id(device_entry.identifiers) is None:
        return True
    raise HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="device_still_reported",
        translation_placeholders={
            "device": device_entry.name_by_user or device_entry.name or device_entry.id,
            "hub": entry.title,
        },
    )
