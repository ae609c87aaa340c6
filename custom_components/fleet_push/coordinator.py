"""One coordinator per hub: runs its client, keeps the fleet, tells each device's entities."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import replace
from enum import Enum, auto
import random
from typing import Any

from homeassistant.components import zone
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_VERIFY_SSL, EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.event import async_call_later

from .coalesce import PositionCoalescer
from .const import (
    CONF_GRACE_PERIOD,
    CONF_HUB_KIND,
    CONF_MIN_POSITION_INTERVAL,
    DEFAULT_GRACE_PERIOD,
    DOMAIN,
    EVENT_FLEET_PUSH,
    LOGGER,
)
from .fleet import Change, Device
from .fleet_store import FleetStore
from .hubs import client_class
from .hubs.connection import HubClient
from .hubs.errors import HubError, InvalidAuth, SessionClosed
from .hubs.model import (
    HUB_DEVICE_ID,
    DeviceRemoved,
    DeviceUpdate,
    Field,
    FleetSnapshot,
    HubInfo,
    HubMessage,
    HubNotice,
    HubUpdate,
    Position,
)
from .identity import HardwareClaims, device_identifier, hardware_ids, hub_scope
from .licence import async_check_licence
from .plausibility import plausible, plausible_values

type FleetPushConfigEntry = ConfigEntry[FleetPushCoordinator]

RECONNECT_FIRST = 2.0
"""Seconds before the first reconnect attempt (at most; jitter takes up to half off)."""
RECONNECT_CAP = 60.0
STABLE_AFTER = 60.0
"""A connection that lasted this long resets the back-off."""

type DeviceListener = Callable[[], None]
type NoticeListener = Callable[[HubNotice], None]
type DeviceAddedListener = Callable[[Device], None]


class _Attempt(Enum):
    CONNECTED = auto()
    RETRY = auto()
    STOP = auto()
    """The hub refused the credentials: wait for reauthentication."""


def reconnect_delay(attempt: int) -> float:
    """Capped exponential back-off with jitter."""
    return min(RECONNECT_CAP, RECONNECT_FIRST * 2.0**attempt) * random.uniform(0.5, 1.0)  # noqa: S311


class FleetPushCoordinator:
    """Keeps one hub connection alive and the fleet it reports."""

    def __init__(self, hass: HomeAssistant, entry: FleetPushConfigEntry) -> None:
        """Build the client; nothing connects until async_setup."""
        self.hass = hass
        self.config_entry = entry
        self.kind: str = entry.data[CONF_HUB_KIND]
        self.scope = hub_scope(entry)
        """What every identifier and unique id of this hub starts with."""
        self.devices: dict[str, Device] = {HUB_DEVICE_ID: Device(HUB_DEVICE_ID)}
        self.hub_info: HubInfo | None = None
        self.available = False
        """Whether entities are available: connected, or lost for less than the grace period."""
        self.hub_registry_id: str | None = None
        self.rejected: Counter[str] = Counter()
        """Impossible values the hub reported, by field (shown in diagnostics)."""
        self.client: HubClient = self._new_client()
        self._data = dict(entry.data)
        """The settings the client was built with: a reconfigure changes them."""
        self._running = False
        """Whether the connection is kept (not when waiting for reauthentication)."""
        self._closing = False
        self._device_listeners: defaultdict[str, dict[DeviceListener, frozenset[str]]] = (
            defaultdict(dict)
        )
        self._device_infos: dict[str, DeviceInfo] = {}
        self._notice_listeners: dict[tuple[str, str], NoticeListener] = {}
        self._device_added_listeners: list[DeviceAddedListener] = []
        self._grace_timer: CALLBACK_TYPE | None = None
        self._coalescer = PositionCoalescer(self._apply_device, self._crosses_zone)
        self._store = FleetStore(hass, entry.entry_id)
        self._hardware = HardwareClaims()

    # --- lifecycle ---

    async def async_setup(self) -> None:
        """Connect for the first time; without the hub, start from the last known fleet."""
        try:
            self.hub_info = await self.client.connect()
            connected = True
        except (InvalidAuth, SessionClosed) as err:
            await self.client.close()
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="invalid_auth"
            ) from err
        except HubError as err:
            await self.client.close()
            connected = await self._async_start_offline(err)
        self.available = connected
        self._register_hub_device()
        self._set_connected(connected=connected)
        entry = self.config_entry
        entry.async_on_unload(
            self.hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, self._async_on_stop)
        )
        entry.async_on_unload(entry.add_update_listener(self._async_entry_updated))
        entry.async_on_unload(self._cancel_grace_timer)
        entry.async_on_unload(self._coalescer.cancel)
        entry.async_create_background_task(
            self.hass,
            self._async_keep_connected(connected=connected),
            f"{DOMAIN} {entry.title} connection",
        )

    async def _async_start_offline(self, err: HubError) -> bool:
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
        self.hub_info = hub
        self.devices.update(devices)
        for device in devices.values():
            self._claim_hardware(device)
        return False

    def _new_client(self) -> HubClient:
        entry = self.config_entry
        session = async_get_clientsession(
            self.hass, verify_ssl=entry.data.get(CONF_VERIFY_SSL, True)
        )
        return client_class(self.kind).from_config(
            session, self._handle_message, {**entry.data, **entry.options}
        )

    async def async_shutdown(self) -> None:
        """Close the connection and save the fleet (on unload)."""
        self._closing = True
        await self.client.close()
        await self._store.async_save(self.hub_info, self.devices)

    async def _async_entry_updated(self, hass: HomeAssistant, entry: FleetPushConfigEntry) -> None:
        """Apply new options at once, and new settings (a reconfigure) without a reload.

        Entities stay as they are while the new connection opens, within the grace period,
        so a reconfigure writes no "unavailable" to their history.
        """
        if entry.data == self._data:
            self.client.apply_options(entry.options)
            return
        self._data = dict(entry.data)
        if not self._running:  # waiting for new credentials: start afresh
            hass.config_entries.async_schedule_reload(entry.entry_id)
            return
        LOGGER.info("Connecting to %s with its new settings", entry.title)
        old, self.client = self.client, self._new_client()
        await old.close()  # the connection loop reconnects with the new client

    async def _async_on_stop(self, _event: Event) -> None:
        self._closing = True
        await self.client.close()

    async def _async_keep_connected(self, *, connected: bool) -> None:
        """Keep the connection until unloaded (or until the hub wants new credentials)."""
        self._running = True
        try:
            await self._async_connection_loop(connected=connected)
        finally:
            self._running = False

    async def _async_connection_loop(self, *, connected: bool) -> None:
        """Wait on the connection; when it ends, reconnect with back-off."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            replaced = False
            if connected:
                started, client = loop.time(), self.client
                reason = await self._async_wait_for_end()
                await self.client.close()
                if reason is None:
                    return
                replaced = self.client is not client  # reconfigured: connect at once
                if replaced or loop.time() - started >= STABLE_AFTER:
                    attempt = 0
            connected = True
            outcome = _Attempt.RETRY
            while outcome is _Attempt.RETRY:
                if not replaced:
                    await asyncio.sleep(reconnect_delay(attempt))
                replaced = False
                attempt += 1
                outcome = await self._async_reconnect()
            if outcome is _Attempt.STOP:
                return

    async def _async_wait_for_end(self) -> str | None:
        """Run until the connection ends; None when it must not be retried."""
        try:
            await self.client.run()
        except HubError as err:
            return None if self._closing else self._connection_ended(err)
        except Exception as err:  # noqa: BLE001 - the loop must survive a client bug
            LOGGER.exception("Unexpected error in the %s connection", self.config_entry.title)
            self._connection_lost(err)
            return repr(err)
        if self._closing:
            return None
        self._connection_lost(None)
        return "closed"

    def _connection_ended(self, err: HubError) -> str | None:
        """Note why the connection ended; None when it must not be retried."""
        self._connection_lost(err)
        if isinstance(err, InvalidAuth | SessionClosed):
            self._start_reauth()
            return None
        return str(err)

    async def _async_reconnect(self) -> _Attempt:
        """Try once to connect again."""
        try:
            self.hub_info = await self.client.connect()
        except InvalidAuth, SessionClosed:
            await self.client.close()
            self._start_reauth()
            return _Attempt.STOP
        except HubError as err:
            LOGGER.debug("Reconnecting to %s failed: %s", self.config_entry.title, err)
            await self.client.close()
            return _Attempt.RETRY
        self._register_hub_device()  # a new version, or a new title after a reconfigure
        self._connection_restored()
        return _Attempt.CONNECTED

    def _start_reauth(self) -> None:
        self.config_entry.async_start_reauth(self.hass)

    # --- availability ---

    def _connection_lost(self, err: BaseException | None) -> None:
        LOGGER.info(
            "Lost connection to %s (%s); reconnecting", self.config_entry.title, err or "closed"
        )
        self._set_connected(connected=False)
        grace = float(self.config_entry.options.get(CONF_GRACE_PERIOD, DEFAULT_GRACE_PERIOD))
        self._cancel_grace_timer()
        self._grace_timer = async_call_later(self.hass, grace, self._grace_expired)

    def _connection_restored(self) -> None:
        LOGGER.info("Connection to %s restored", self.config_entry.title)
        self._cancel_grace_timer()
        self._set_connected(connected=True)
        if not self.available:
            self.available = True
            self._notify_all()

    @callback
    def _grace_expired(self, _now: Any) -> None:
        self._grace_timer = None
        if self.available:
            self.available = False
            self._notify_all()

    @callback
    def _cancel_grace_timer(self) -> None:
        if self._grace_timer is not None:
            self._grace_timer()
            self._grace_timer = None

    def _set_connected(self, *, connected: bool) -> None:
        self._apply_hub(HubUpdate(values={Field.CONNECTED: connected}))

    # --- listeners ---

    @callback
    def async_add_device_listener(
        self, device_id: str, aspects: frozenset[str], listener: DeviceListener
    ) -> CALLBACK_TYPE:
        """Call listener when these aspects of the device change (and on availability)."""
        listeners = self._device_listeners[device_id]
        listeners[listener] = aspects

        @callback
        def remove() -> None:
            listeners.pop(listener, None)

        return remove

    @callback
    def async_add_notice_listener(
        self, device_id: str, channel: str, listener: NoticeListener
    ) -> CALLBACK_TYPE:
        """Call listener with every notice on a device's channel."""
        key = (device_id, channel)
        self._notice_listeners[key] = listener

        @callback
        def remove() -> None:
            self._notice_listeners.pop(key, None)

        return remove

    @callback
    def async_add_device_added_listener(self, listener: DeviceAddedListener) -> CALLBACK_TYPE:
        """Call listener when a device appears or gains fields (platforms add entities)."""
        self._device_added_listeners.append(listener)

        @callback
        def remove() -> None:
            self._device_added_listeners.remove(listener)

        return remove

    def _notify(self, device_id: str, touched: set[str] | None = None) -> None:
        """Call the device's listeners of the touched aspects; None: all of them."""
        listeners = self._device_listeners.get(device_id)
        if not listeners:
            return
        for listener, aspects in tuple(listeners.items()):
            if touched is None or not aspects.isdisjoint(touched):
                listener()

    def _notify_all(self) -> None:
        for device_id in tuple(self._device_listeners):
            self._notify(device_id)

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

    def _apply_device(self, update: DeviceUpdate) -> None:
        device = self.devices.get(update.device_id)
        if device is None:
            device = self.devices[update.device_id] = Device(update.device_id)
        touched: set[str] = set()
        self._dispatch(device, device.apply(update, touched), touched)

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
        if Change.INFO in change and not device.is_hub:
            for other in self._claim_hardware(device):
                self._update_registry_device(self.devices[other])
            self._update_registry_device(device)
        if Change.SHAPE in change:
            for listener in tuple(self._device_added_listeners):
                listener(device)
        if touched:
            self._notify(device.device_id, touched)
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

    def _crosses_zone(self, device_id: str, position: Position) -> bool:
        """Whether a new position puts a device in another zone than it is shown in."""
        shown = self.devices[device_id].position if device_id in self.devices else None
        if shown is None:
            return True
        before = zone.async_active_zone(
            self.hass, shown.latitude, shown.longitude, shown.accuracy or 0
        )
        after = zone.async_active_zone(
            self.hass, position.latitude, position.longitude, position.accuracy or 0
        )
        return (before and before.entity_id) != (after and after.entity_id)

    def _remove_device(self, device_id: str) -> None:
        self._coalescer.forget(device_id)
        if device_id == HUB_DEVICE_ID or self.devices.pop(device_id, None) is None:
            return
        if (entry := self.registry_device(device_id)) is not None:
            dr.async_get(self.hass).async_remove_device(entry.id)
        self._device_listeners.pop(device_id, None)
        self._device_infos.pop(device_id, None)
        for other in self._hardware.forget(device_id):
            self._update_registry_device(self.devices[other])
        self._store.schedule_save(self.hub_info, self.devices)

    def _fire_notice(self, notice: HubNotice) -> None:
        device_id = notice.device_id if notice.device_id in self.devices else HUB_DEVICE_ID
        registry_entry = self.registry_device(device_id)
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
        listener = self._notice_listeners.get((device_id, notice.channel))
        if listener is not None:
            listener(notice)

    # --- devices ---

    def _register_hub_device(self) -> None:
        info = self.hub_info
        known: dict[str, Any] = (
            {"manufacturer": info.manufacturer, "model": info.model, "sw_version": info.version}
            if info
            else {}
        )
        entry = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.config_entry.entry_id,
            identifiers={self.identifier(HUB_DEVICE_ID)},
            name=self.config_entry.title,
            **known,
        )
        self.hub_registry_id = entry.id

    def device_info(self, device_id: str) -> DeviceInfo:
        """Device registry information of a fleet device or the hub, one for all its entities."""
        if (info := self._device_infos.get(device_id)) is None:
            info = self._device_infos[device_id] = self._build_device_info(self.devices[device_id])
        return info

    def _build_device_info(self, device: Device) -> DeviceInfo:
        if device.is_hub:
            return DeviceInfo(identifiers={self.identifier(HUB_DEVICE_ID)})
        info = DeviceInfo(
            identifiers={self.identifier(device.device_id)},
            name=device.name or device.device_id,
            manufacturer=device.manufacturer,
            model=device.model,
            model_id=device.model_id,
            sw_version=device.firmware,
            hw_version=device.hardware,
            serial_number=device.serial,
        )
        if connections := self._hardware.owned_by(device.device_id):
            info["connections"] = connections
        if self.hub_registry_id is not None:
            info["via_device_id"] = self.hub_registry_id
        return info

    def _update_registry_device(self, device: Device) -> None:
        self._device_infos.pop(device.device_id, None)
        if (entry := self.registry_device(device.device_id)) is not None:
            dr.async_get(self.hass).async_update_device(
                entry.id,
                name=device.name or device.device_id,
                manufacturer=device.manufacturer,
                model=device.model,
                model_id=device.model_id,
                sw_version=device.firmware,
                hw_version=device.hardware,
                serial_number=device.serial,
                new_connections=self._hardware.owned_by(device.device_id),
            )

    def _claim_hardware(self, device: Device) -> set[str]:
        """Note the device's hardware ids; return the other devices that share or freed one."""
        return self._hardware.claim(device.device_id, hardware_ids(device.mac, device.serial))

    def identifier(self, device_id: str) -> tuple[str, str]:
        """The device registry identifier of a fleet device ("" for the hub)."""
        return device_identifier(self.scope, device_id)

    def registry_device(self, device_id: str) -> dr.DeviceEntry | None:
        """The device registry entry of a fleet device ("" for the hub), if it has one."""
        return dr.async_get(self.hass).async_get_device_by_identifier(
            self.identifier(device_id), self.config_entry.entry_id
        )

    def fleet_device_id(self, identifiers: set[tuple[str, str]]) -> str | None:
        """The fleet device ("" for the hub) a registry device stands for, if the hub has it."""
        return next(
            (device_id for device_id in self.devices if self.identifier(device_id) in identifiers),
            None,
        )

    def is_live_device(self, identifiers: set[tuple[str, str]]) -> bool:
        """Whether a registry device is the hub or a device the hub still reports."""
        return self.fleet_device_id(identifiers) is not None
