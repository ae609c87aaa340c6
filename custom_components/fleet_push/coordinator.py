"""One coordinator per hub: the fleet it reports, and every message routed to whom it concerns.

Not a DataUpdateCoordinator: that one polls, or fans every update out to every entity. Hubs
push, often one device at a time, thousands of times a minute; here an update touches only the
entities of the device it names, and only those whose part of the device changed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady, HomeAssistantError
from homeassistant.helpers.event import async_track_time_interval

from .coalesce import PositionCoalescer
from .const import CONF_HUB_KIND, CONF_MIN_POSITION_INTERVAL, DOMAIN, EVENT_FLEET_PUSH, LOGGER
from .fleet import POSITION, Change, Device
from .fleet_store import FleetStore
from .freshness import Freshness
from .geofence_zones import GeofenceZones
from .geofences import FleetGeofences
from .hubs.connection import HubClient, HubStats, within
from .hubs.declaration import HubDeclaration
from .hubs.errors import CommandCode, CommandFailed, HubError, HubTimeout
from .hubs.model import (
    HUB_DEVICE_ID,
    Command,
    DeviceRemoved,
    DeviceUpdate,
    Field,
    FleetSnapshot,
    GeofenceList,
    HubInfo,
    HubMessage,
    HubNotice,
    HubUpdate,
    Position,
    Value,
)
from .hubs.screenshots import Screenshot
from .licence import async_check_licence
from .listeners import Listeners
from .memory_store import MemoryStore
from .plausibility import plausible, plausible_values
from .registry_sync import RegistrySync
from .service_ends import CHECK_EVERY, async_check_service_ends
from .supervisor import ConnectionSupervisor
from .totals import OFFLINE_DEVICES, TotalsPublisher
from .zones import ZoneFinder

type FleetPushConfigEntry = ConfigEntry[FleetPushCoordinator]


class CommandError(HomeAssistantError):
    """A command a hub refused, failed or did not answer; code is the hub's own."""

    def __init__(self, key: str, placeholders: dict[str, str], code: int | str | None) -> None:
        """Name the device and the command in a translated message."""
        super().__init__(
            translation_domain=DOMAIN,
            translation_key=key,
            translation_placeholders=placeholders,
        )
        self.device = placeholders["device"]
        self.code = code


class FleetPushCoordinator:
    """Keeps the fleet one hub reports, and tells each change to whom it concerns."""

    def __init__(self, hass: HomeAssistant, entry: FleetPushConfigEntry) -> None:
        """Build the connection and the registry sync; nothing connects until async_setup."""
        self.hass = hass
        self.config_entry = entry
        self.kind: str = entry.data[CONF_HUB_KIND]
        self.devices: dict[str, Device] = {HUB_DEVICE_ID: Device(HUB_DEVICE_ID)}
        self.rejected: Counter[str] = Counter()
        """Impossible values the hub reported, by field (shown in diagnostics)."""
        self.unknown: Counter[str] = Counter()
        """What the hub sent that its kind's declaration does not name (shown in diagnostics)."""
        self.listeners = Listeners()
        self.registry = RegistrySync(hass, entry, self.devices)
        self.connection = ConnectionSupervisor(
            hass,
            entry,
            self._handle_message,
            on_connected=self._on_connected,
            on_connection_changed=self._on_connection_changed,
            on_availability_changed=self.listeners.everything_changed,
        )
        self._coalescer = PositionCoalescer(self._apply_device, self._crosses_zone)
        self._store = FleetStore(hass, entry.entry_id)
        self.screenshots: dict[str, Screenshot] = {}
        """Each phone's latest screenshot, taken on demand (screenshots.py); never saved."""
        self.geofences = FleetGeofences()
        """The hub's geofences and the ones each device is in."""
        self._zones = GeofenceZones(hass, entry)
        self.zone_finder = ZoneFinder(hass)
        """Which of Home Assistant's zones a position is in (each tracker names its zones)."""
        self.freshness = Freshness(
            hass, entry, self.devices, self.listeners, lambda: self.connection.connected
        )
        """Whether each online device's fix still advances (the Position stale entities)."""
        self.totals = TotalsPublisher(hass.loop, self.declaration.fields, self._publish_totals)
        """How many devices are online, offline, moving, busy (the hub's total sensors)."""
        self._memory = MemoryStore(hass, entry.entry_id)

    # --- lifecycle ---

    async def async_setup(self) -> None:
        """Connect for the first time; without the hub, start from the last known fleet."""
        self.client.memory = await self._memory.async_load()
        if (error := await self.connection.async_connect()) is not None:
            await self._async_start_offline(error)
        self._on_connected()
        self._on_connection_changed()
        self.totals.publish_now()
        self.config_entry.async_on_unload(self._coalescer.cancel)
        self.config_entry.async_on_unload(
            self.config_entry.add_update_listener(self._async_options_updated)
        )
        self.config_entry.async_on_unload(self.freshness.start())
        self.config_entry.async_on_unload(self.totals.stop)
        self._check_service_ends()
        self.config_entry.async_on_unload(
            async_track_time_interval(self.hass, self._check_service_ends, CHECK_EVERY)
        )
        self.connection.start()

    async def _async_start_offline(self, err: HubError) -> None:
        """Show the fleet as last saved while the hub is away; without one, not ready."""
        hub, devices = await self._store.async_load()
        if not devices:
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"error": str(err)},
            ) from err
        LOGGER.warning(
            "%s is unreachable (%s); showing its last known fleet until it is back",
            self.config_entry.title,
            err,
        )
        self.connection.hub_info = hub
        self.devices.update(devices)
        self.registry.known(devices.values())
        self.totals.restore(devices.values())

    async def async_shutdown(self) -> None:
        """Close the connection and save the fleet (on unload)."""
        self.totals.stop()
        await self.connection.async_close()
        await self._zones.async_show(())
        await self._store.async_save(self.hub_info, self.devices)
        await self._memory.async_save(self.client.memory)

    async def _async_options_updated(self, _hass: HomeAssistant, _entry: ConfigEntry) -> None:
        """Show or hide the geofences as zones as the option now says."""
        await self._zones.async_follow(self.geofences.index.geofences)

    def _on_connected(self) -> None:
        self.registry.register_hub(self.hub_info)

    def _on_connection_changed(self) -> None:
        self._apply_hub(HubUpdate(values={Field.CONNECTED: self.connection.connected}))

    # --- what the entities and diagnostics read ---

    @property
    def available(self) -> bool:
        """Whether entities are available: connected, or lost for less than the grace period."""
        return self.connection.available

    @property
    def connected(self) -> bool:
        """Whether the hub is connected right now."""
        return self.connection.connected

    @property
    def hub_info(self) -> HubInfo | None:
        """Who the hub is, as it said when FleetPush last connected."""
        return self.connection.hub_info

    @property
    def client(self) -> HubClient:
        """The hub's client (its counters and capabilities; commands go through this class)."""
        return self.connection.client

    @property
    def stats(self) -> HubStats:
        """The connection's counters."""
        return self.connection.client.stats

    @property
    def declaration(self) -> HubDeclaration:
        """What the hub kind is: its notices, commands and fields."""
        return self.connection.client.declaration

    # --- commands ---

    async def async_send_command(self, command: Command) -> Any:
        """Send one command to one device, once; a translated CommandError if it fails."""
        return await self.async_ask(
            command.device_id,
            command.name,
            command.timeout,
            lambda: self.client.send_command(command),
        )

    async def async_ask[T](
        self, device_id: str, what: str, timeout: float, ask: Callable[[], Awaitable[T]]
    ) -> T:
        """Ask the hub something about one device, once; a translated CommandError if it fails."""
        device = self.device_name(device_id)
        placeholders = {"device": device, "command": what}
        if not self.connected:
            raise CommandError(
                "hub_not_connected", {**placeholders, "hub": self.config_entry.title}, None
            )
        LOGGER.debug("Sending %s to %s", what, device)
        try:
            async with within(timeout, device):
                return await ask()
        except HubTimeout as err:  # given up here, or by the client first
            placeholders["timeout"] = f"{timeout:g}"
            raise CommandError("command_timeout", placeholders, CommandCode.TIMEOUT) from err
        except CommandFailed as err:  # refused or failed
            placeholders["error"] = str(err)
            raise CommandError("command_failed", placeholders, err.code) from err
        except HubError as err:  # CannotConnect, or a session that ended meanwhile
            placeholders["error"] = str(err)
            raise CommandError("command_not_sent", placeholders, None) from err

    def note_unknown(self, what: str) -> None:
        """Count something the declaration misses; say so in the log the first time."""
        if not self.unknown[what]:
            LOGGER.warning(
                "%s sent %s, which FleetPush does not know; it reaches automations only",
                self.config_entry.title,
                what,
            )
        self.unknown[what] += 1

    def device_name(self, device_id: str) -> str:
        """The name a user knows a device by: theirs, the hub's, or its id."""
        entry = self.registry.registry_device(device_id)
        renamed = entry.name_by_user if entry is not None else None
        return renamed or self.devices[device_id].details.name or device_id

    # --- messages from the hub ---

    @callback
    def _handle_message(self, message: HubMessage) -> None:
        match message:
            case DeviceUpdate():
                message = plausible(message, self.rejected)
                interval = self.config_entry.options.get(CONF_MIN_POSITION_INTERVAL, 0)
                if interval:
                    self._coalescer.offer(message, float(interval))
                else:
                    self._apply_device(message)
            case FleetSnapshot():
                self._apply_snapshot(message)
            case DeviceRemoved():
                self._remove_device(message.device_id)
            case HubUpdate():
                self._apply_hub(message)
            case HubNotice():
                self._fire_notice(message)
            case GeofenceList():
                self._apply_geofences(message)

    def _apply_device(self, update: DeviceUpdate) -> None:
        device = self.devices.get(update.device_id)
        if device is None:
            device = self.devices[update.device_id] = Device(update.device_id)
        touched: set[str] = set()
        change = device.apply(update, touched)
        if POSITION in touched and self.geofences.active:
            crossed, notices = self.geofences.follow(device, touched)
            if crossed is not Change.NONE:  # rare, and Flag's `|` is slow
                change |= crossed
            self._dispatch(device, change, touched)
            for notice in notices:
                self._fire_notice(notice)
        else:
            self._dispatch(device, change, touched)
        self.totals.note(device, touched)

    def _apply_geofences(self, message: GeofenceList) -> None:
        """New geofences: each device's are recomputed (no event: nothing moved)."""
        self.geofences.replace(message.geofences)
        for device in list(self.devices.values()):
            if not self.geofences.active and Field.GEOFENCE not in device.values:
                continue  # a hub without geofences gives its devices no Geofence sensor
            touched: set[str] = set()
            change, _ = self.geofences.follow(device, touched, notify=False)
            if change:
                self._dispatch(device, change, touched)
        self.config_entry.async_create_background_task(
            self.hass,
            self._zones.async_follow(message.geofences),
            f"{DOMAIN} {self.config_entry.title} geofence zones",
        )

    def _apply_hub(self, update: HubUpdate) -> None:
        if update.values:
            update = replace(update, values=plausible_values(update.values, self.rejected))
        hub = self.devices[HUB_DEVICE_ID]
        touched: set[str] = set()
        self._dispatch(hub, hub.apply_hub(update, touched), touched)
        if Field.LICENCE_EXPIRES in update.values:
            async_check_licence(self.hass, self.config_entry, hub.values[Field.LICENCE_EXPIRES])

    def _dispatch(self, device: Device, change: Change, touched: set[str]) -> None:
        """Tell the registry, the platforms and exactly the entities concerned."""
        if change is not Change.VALUES:  # the usual change, and Flag's `in` is slow
            if Change.INFO in change and not device.is_hub:
                self.registry.changed(device)
            if Change.SHAPE in change:
                self.listeners.device_shaped(device)
        if touched:
            self.listeners.device_changed(device.device_id, touched)
        if change:
            self._store.schedule_save(self.hub_info, self.devices)

    def _apply_snapshot(self, snapshot: FleetSnapshot) -> None:
        present = {update.device_id for update in snapshot.devices}
        gone = [key for key in self.devices if key not in present] if snapshot.complete else []
        for device_id in gone:
            if device_id != HUB_DEVICE_ID:
                self._remove_device(device_id)
        for update in snapshot.devices:
            self._apply_device(plausible(update, self.rejected))
        self._check_service_ends()

    @callback
    def _check_service_ends(self, _now: object = None) -> None:
        """Warn when devices' paid service ends soon (after a device list, twice a day)."""
        async_check_service_ends(
            self.hass, self.config_entry, self.devices.values(), self.device_name
        )

    def _crosses_zone(self, device_id: str, position: Position) -> bool:
        """Whether a new position puts a device in other zones than it is shown in."""
        shown = self.devices[device_id].position if device_id in self.devices else None
        if shown is None:
            return True
        zones_at = self.zone_finder.zones_at
        if zones_at(shown.latitude, shown.longitude, shown.accuracy or 0) != zones_at(
            position.latitude, position.longitude, position.accuracy or 0
        ):
            return True
        return self.geofences.crosses(device_id, position)

    def _remove_device(self, device_id: str) -> None:
        self._coalescer.forget(device_id)
        self.geofences.forget(device_id)
        if device_id == HUB_DEVICE_ID or self.devices.pop(device_id, None) is None:
            return
        self.screenshots.pop(device_id, None)
        self.registry.removed(device_id)
        self.listeners.forget(device_id)
        self.totals.forget(device_id)
        self._store.schedule_save(self.hub_info, self.devices)

    def _publish_totals(self, values: dict[Field, Value]) -> None:
        """Give the hub device its totals; the offline total rereads its list of names."""
        self._apply_hub(HubUpdate(values=values))
        self.listeners.device_changed(HUB_DEVICE_ID, {OFFLINE_DEVICES})

    def _fire_notice(self, notice: HubNotice) -> None:
        if notice.channel not in self.declaration.event_types:
            self.note_unknown(f"channel {notice.channel}")
        device_id = notice.device_id if notice.device_id in self.devices else HUB_DEVICE_ID
        registry_entry = self.registry.registry_device(device_id)
        self.hass.bus.async_fire(
            EVENT_FLEET_PUSH,
            {
                "config_entry_id": self.config_entry.entry_id,
                "hub": self.config_entry.title,
                "device_id": registry_entry.id if registry_entry else None,
                "source_id": notice.device_id or None,
                "channel": notice.channel,
                "type": notice.event_type,
                "data": dict(notice.attributes),
            },
        )
        self.listeners.notice(device_id, notice)
