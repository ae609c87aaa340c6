"""Event entities: kernel and phone logs, lifecycle changes, alarms, notifications."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, override

from homeassistant.components.event import (
    ATTR_EVENT_TYPES,
    EventEntity,
    EventEntityDescription,
)
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er

from .const import DOMAIN
from .coordinator import FleetPushCoordinator
from .entity import (
    FleetPushEntity,
    FleetPushEntityDescription,
    described_entities,
    setup_entry,
)
from .fleet import Device
from .hubs.declaration import Channel
from .hubs.model import HubNotice

MAX_NAMED_TYPES: Final = 64
"""Event types a hub-named channel learns per entity; later names still reach automations."""

# Coordinator is used to centralize the data updates.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class FleetPushEventEntityDescription(EventEntityDescription, FleetPushEntityDescription):
    """The notices of one channel on one device; the key is the channel."""

    chosen_types_option: str | None = None
    """Set for a channel whose event types the hub names as they come (event_types is empty):
    the option listing the names the user chose, known before any arrives."""

    @override
    def exists_for(self, device: Device) -> bool:
        return self.key in device.channels


LOOKS: dict[str, dict[str, Any]] = {
    "kernel_log": {"entity_category": EntityCategory.DIAGNOSTIC},
    "phone_log": {"entity_category": EntityCategory.DIAGNOSTIC},
    # Rare events (a tracker blocked, a phone bound to a chip board, DeviceHive notifications
    # that say more than the entities show): their entities would show "Unknown" on most
    # devices for good, so they start disabled; every event also reaches automations as
    # fleet_push_event.
    "lifecycle": {"entity_registry_enabled_default": False},
    "device": {"entity_registry_enabled_default": False},
    "notification": {"entity_registry_enabled_default": False},
    # One per tracker of an account with geofences: most trackers would show "Unknown" for
    # long, and each enabled entity costs memory per tracker; automations get every entering
    # and leaving as fleet_push_event, and the Geofence sensor shows where each tracker is.
    "geofence": {"entity_registry_enabled_default": False},
    "accessory": {"entity_registry_enabled_default": False},
}
"""How some channels' entities look beyond their translated name (others: plain, enabled)."""


@cache
def describe(channel: Channel) -> FleetPushEventEntityDescription:
    """The event entity of a channel a hub kind declares."""
    return FleetPushEventEntityDescription(
        key=channel.key,
        translation_key=channel.key,
        event_types=list(channel.event_types),
        chosen_types_option=channel.chosen_by,
        **LOOKS.get(channel.key, {}),
    )


def _events(coordinator: FleetPushCoordinator, device: Device) -> Iterable[FleetPushEntity]:
    """An event entity per channel of the hub kind that the device has."""
    descriptions = (describe(channel) for channel in coordinator.declaration.channels)
    return described_entities(descriptions, FleetPushEvent)(coordinator, device)


class FleetPushEvent(FleetPushEntity, EventEntity):
    """The last notice of one channel on one device."""

    entity_description: FleetPushEventEntityDescription

    def __init__(
        self,
        coordinator: FleetPushCoordinator,
        device_id: str,
        description: FleetPushEventEntityDescription,
    ) -> None:
        """An entity of a hub-named channel starts with the types it knew and those chosen."""
        super().__init__(coordinator, device_id, description)
        if (option := description.chosen_types_option) is not None:
            self._attr_event_types = []
            chosen = coordinator.config_entry.options.get(option)
            self._learn_types(self._registered_types())
            self._learn_types(chosen if isinstance(chosen, list) else ())

    def _registered_types(self) -> list[Any]:
        """The event types this entity had before a restart: the registry keeps them."""
        registry = er.async_get(self.coordinator.hass)
        entity_id = registry.async_get_entity_id(Platform.EVENT, DOMAIN, str(self.unique_id))
        entry = registry.async_get(entity_id) if entity_id else None
        types = (entry.capabilities or {}).get(ATTR_EVENT_TYPES) if entry else None
        return list(types) if isinstance(types, list | tuple) else []

    def _learn_types(self, names: Iterable[Any]) -> None:
        """Add names to the event types, as many as fit (written with the next state)."""
        types = list(self._attr_event_types)
        for name in names:
            if isinstance(name, str) and name not in types and len(types) < MAX_NAMED_TYPES:
                types.append(name)
        if len(types) != len(self._attr_event_types):
            self._attr_event_types = types

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
        if self.entity_description.chosen_types_option is not None:
            self._learn_types((notice.event_type,))
        if notice.event_type in self.event_types:
            self._trigger_event(notice.event_type, dict(notice.attributes))
            self.write_state()
        elif self.entity_description.chosen_types_option is None:  # the declaration missed it
            self.coordinator.note_unknown(f"event type {notice.channel}/{notice.event_type}")


async_setup_entry = setup_entry(_events)
