"""The base of every FleetPush entity: one device, one description, writes only on change."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, override

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .coordinator import FleetPushConfigEntry, FleetPushCoordinator
from .fleet import EXTRAS, Device
from .hubs.model import Field, Value
from .identity import entity_unique_id
from .superseded import release_superseded


@dataclass(frozen=True, kw_only=True)
class FleetPushEntityDescription(EntityDescription):
    """What every FleetPush description has: the field it shows and where it exists."""

    field: Field | None = None
    hub: bool = False
    """True: the entity belongs to the hub itself; False: to fleet devices."""
    always_available: bool = False
    """Shown even while the hub is lost (the hub-connected sensor)."""
    shows_extras: bool = False
    """Carries the device's vendor extras as (unrecorded) attributes."""
    index: int | None = None
    """For a list of flags (inputs, outputs): the item shown, from 0 (named by its number)."""
    needs_fix: bool = False
    """Exists once a fleet device has a position, whatever its fields (Location, Last fix)."""

    def exists_for(self, device: Device) -> bool:
        """Whether a device reports what this entity shows."""
        if self.needs_fix:
            return not device.is_hub and device.position is not None
        return device.is_hub == self.hub and self.field in device.values


def unique_id_of(coordinator: FleetPushCoordinator, device_id: str, key: str) -> str:
    """The unique id of a device's entity of a description key."""
    return entity_unique_id(coordinator.registry.scope, device_id, key)


def items_in_use(
    coordinator: FleetPushCoordinator,
    device: Device,
    description: FleetPushEntityDescription,
    platform: Platform,
) -> Iterator[tuple[str, int]]:
    """The (key, index) of each item in use of the description's list of flags.

    An input or output is in use once its device reported it on; its entity stays from then
    on, across restarts, because the entity registry remembers it.
    """
    items = device.values.get(description.field) if description.field else None
    if not description.exists_for(device) or not isinstance(items, tuple):
        return
    in_use = device.in_use.get(description.field, frozenset()) if description.field else ()
    registry = er.async_get(coordinator.hass)
    for index in range(len(items)):
        key = f"{description.key}_{index + 1}"
        if index in in_use or registry.async_get_entity_id(
            platform, DOMAIN, unique_id_of(coordinator, device.device_id, key)
        ):
            yield key, index


@cache
def _aspects(field: Field | None, *, shows_extras: bool) -> frozenset[str]:
    """One shared set per combination: thousands of entities show the same few aspects."""
    shown: set[str] = {field} if field else set()
    if shows_extras:
        shown.add(EXTRAS)
    return frozenset(shown)


class FleetPushEntity(Entity):
    """An entity of one device that writes its state only when it changed."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: FleetPushEntityDescription

    def __init__(
        self,
        coordinator: FleetPushCoordinator,
        device_id: str,
        description: FleetPushEntityDescription,
    ) -> None:
        """Describe the entity and compute its first state."""
        self.coordinator = coordinator
        self.device_id = device_id
        self.entity_description = description
        if description.index is not None:
            self._attr_translation_placeholders = {"number": str(description.index + 1)}
        self._attr_unique_id = unique_id_of(coordinator, device_id, description.key)
        self._attr_device_info = coordinator.registry.device_info(device_id)
        self._written: tuple[Any, ...] = self._recompute()

    @property
    def device(self) -> Device:
        """The device as last reported."""
        return self.coordinator.devices[self.device_id]

    @property
    def value(self) -> Value:
        """The value of the description's field (its item, for an item of a list)."""
        field, index = self.entity_description.field, self.entity_description.index
        device = self.coordinator.devices.get(self.device_id)
        value = None if field is None or device is None else device.values.get(field)
        if index is None:
            return value
        item = value[index] if isinstance(value, tuple) and index < len(value) else None
        return item if isinstance(item, bool) else None  # an input or output: a flag

    @property
    def flag(self) -> bool | None:
        """The value, if it is a boolean."""
        value = self.value
        return value if isinstance(value, bool) else None

    @property
    @override
    def available(self) -> bool:
        """Available while the device exists and the hub is (or was just) connected."""
        return self.device_id in self.coordinator.devices and (
            self.entity_description.always_available or self.coordinator.available
        )

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The vendor's extras, for descriptions that show them."""
        if self.entity_description.shows_extras and self.device_id in self.coordinator.devices:
            return dict(self.device.extras) or None
        return None

    def _recompute(self) -> tuple[Any, ...]:
        """Recompute the state attributes; return what decides whether to write."""
        if self.entity_description.shows_extras and self.device_id in self.coordinator.devices:
            return (self.available, tuple(self.device.extras.items()))
        return (self.available,)

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the device's updates."""
        await super().async_added_to_hass()
        self.coordinator.listeners.watch(self, self.aspects)

    @override
    async def async_will_remove_from_hass(self) -> None:
        """Stop following the device."""
        self.coordinator.listeners.unwatch(self)
        await super().async_will_remove_from_hass()

    @property
    def aspects(self) -> frozenset[str]:
        """What of its device this entity shows: it is told only when these change."""
        description = self.entity_description
        return _aspects(description.field, shows_extras=description.shows_extras)

    @callback
    def on_device_change(self) -> None:
        """Write the state if what it shows changed."""
        state = self._recompute()
        if state != self._written:
            self._written = state
            self.write_state()

    @callback
    def write_state(self) -> None:
        """Write the state; the one it replaces is freed at once (superseded.py)."""
        if self.entity_id:
            release_superseded(self.hass.states.get(self.entity_id))
        self.async_write_ha_state()


type EntityFactory = Callable[[FleetPushCoordinator, Device], Iterable[FleetPushEntity]]
type SetupEntry = Callable[
    [HomeAssistant, FleetPushConfigEntry, AddConfigEntryEntitiesCallback], Coroutine[Any, Any, None]
]


def setup_entry(factory: EntityFactory) -> SetupEntry:
    """A platform's async_setup_entry: the factory's entities, now and as devices appear."""

    async def async_setup_entry(
        hass: HomeAssistant,
        entry: FleetPushConfigEntry,
        async_add_entities: AddConfigEntryEntitiesCallback,
    ) -> None:
        async_add_fleet_entities(entry, async_add_entities, factory)

    return async_setup_entry


class _Forget:
    """Forgets a removed entity, so that it can be made again (one slotted object each)."""

    __slots__ = ("_created", "_unique_id")

    def __init__(self, created: set[str], unique_id: str) -> None:
        """Remember what to forget where."""
        self._created = created
        self._unique_id = unique_id

    def __call__(self) -> None:
        """Forget it."""
        self._created.discard(self._unique_id)


@callback
def async_add_fleet_entities(
    entry: FleetPushConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    factory: EntityFactory,
) -> None:
    """Add a platform's entities for every device now, and whenever a device gains fields."""
    coordinator = entry.runtime_data
    created: set[str] = set()

    def new_for(device: Device) -> list[FleetPushEntity]:
        new = [entity for entity in factory(coordinator, device) if entity.unique_id not in created]
        for entity in new:
            created.add(str(entity.unique_id))
            entity.async_on_remove(_Forget(created, str(entity.unique_id)))
        return new

    @callback
    def add_for(device: Device) -> None:
        if new := new_for(device):
            async_add_entities(new)

    # The whole fleet known at setup in one call (thousands of devices: one call, not one each).
    async_add_entities(
        [entity for device in list(coordinator.devices.values()) for entity in new_for(device)]
    )
    entry.async_on_unload(coordinator.listeners.add_device_added_listener(add_for))


def described_entities[D: FleetPushEntityDescription](
    descriptions: Iterable[D],
    entity_class: Callable[[FleetPushCoordinator, str, D], FleetPushEntity],
) -> EntityFactory:
    """A factory making one entity per description that exists for the device."""

    def factory(coordinator: FleetPushCoordinator, device: Device) -> Iterable[FleetPushEntity]:
        return [
            entity_class(coordinator, device.device_id, description)
            for description in descriptions
            if description.exists_for(device)
        ]

    return factory
