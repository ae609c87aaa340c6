"""Event entities: kernel logs, lifecycle changes, alarms, notifications."""

from __future__ import annotations

from dataclasses import dataclass
from typing import override

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import FleetPushConfigEntry
from .entity import (
    FleetPushEntity,
    FleetPushEntityDescription,
    async_add_fleet_entities,
    described_entities,
)
from .fleet import Device
from .hubs.model import HubNotice

# Coordinator is used to centralize the data updates.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class FleetPushEventEntityDescription(EventEntityDescription, FleetPushEntityDescription):
    """The notices of one channel on one device; the key is the channel."""

    @override
    def exists_for(self, device: Device) -> bool:
        return self.key in device.channels


EVENTS: tuple[FleetPushEventEntityDescription, ...] = (
    FleetPushEventEntityDescription(
        key="kernel_log",
        translation_key="kernel_log",
        event_types=["log", "error", "restart", "airplay", "mouse_collection", "logout"],
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    # Rare events (a tracker blocked, a phone bound to a chip board): their entities would
    # show "Unknown" on every device for good, so they start disabled; every event also
    # reaches automations as fleet_push_event.
    FleetPushEventEntityDescription(
        key="lifecycle",
        translation_key="lifecycle",
        event_types=["block", "unblock", "corrupt"],
        entity_registry_enabled_default=False,
    ),
    FleetPushEventEntityDescription(
        key="device",
        translation_key="device_event",
        event_types=["reject", "bindchip"],
        entity_registry_enabled_default=False,
    ),
    FleetPushEventEntityDescription(
        key="notification", translation_key="notification", event_types=["notification"]
    ),
    FleetPushEventEntityDescription(key="alarm", translation_key="alarm", event_types=["alarm"]),
    FleetPushEventEntityDescription(
        key="message",
        translation_key="message",
        event_types=["message", "file_shake", "download_allow"],
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: FleetPushConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add an event entity per device and channel, now and as channels appear."""
    async_add_fleet_entities(entry, async_add_entities, described_entities(EVENTS, FleetPushEvent))


class FleetPushEvent(FleetPushEntity, EventEntity):
    """The last notice of one channel on one device."""

    entity_description: FleetPushEventEntityDescription

    @override
    async def async_added_to_hass(self) -> None:
        """Listen for this channel's notices too."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.coordinator.listeners.add_notice_listener(
                self.device_id, self.entity_description.key, self._handle_notice
            )
        )

    @callback
    def _handle_notice(self, notice: HubNotice) -> None:
        if notice.event_type in self.event_types:
            self._trigger_event(notice.event_type, dict(notice.attributes))
            self.async_write_ha_state()
