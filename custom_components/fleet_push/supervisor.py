"""The connection supervisor: one hub connection kept alive, and how long it may be missed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import Enum, auto
import random
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_VERIFY_SSL, EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_call_later

from .const import CONF_GRACE_PERIOD, CONF_HUB_KIND, DEFAULT_GRACE_PERIOD, DOMAIN, LOGGER
from .hubs import client_class
from .hubs.connection import HubClient, Listener
from .hubs.errors import HubError, InvalidAuth, SessionClosed
from .hubs.model import HubInfo

RECONNECT_FIRST = 2.0
"""Seconds before the first reconnect attempt (at most; jitter takes up to half off)."""
RECONNECT_CAP = 60.0
STABLE_AFTER = 60.0
"""A connection that lasted this long resets the back-off."""

type Callback = Callable[[], None]


class _Attempt(Enum):
    CONNECTED = auto()
    RETRY = auto()
    STOP = auto()
    """The hub refused the credentials: wait for reauthentication."""


def reconnect_delay(attempt: int) -> float:
    """Capped exponential back-off with jitter."""
    return min(RECONNECT_CAP, RECONNECT_FIRST * 2.0**attempt) * random.uniform(0.5, 1.0)  # noqa: S311


class ConnectionSupervisor:
    """Connects a hub's client, reconnects it with back-off, and decides availability.

    Entities stay available while the hub is connected, or lost for less than the grace period.
    A reconfigure swaps the client in place; refused credentials stop the retries and start
    reauthentication.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        listener: Listener,
        *,
        on_connected: Callback,
        on_connection_changed: Callback,
        on_availability_changed: Callback,
    ) -> None:
        """Build the client; nothing connects until async_connect."""
        self.hass = hass
        self.entry = entry
        self._listener = listener
        self._on_connected = on_connected
        self._on_connection_changed = on_connection_changed
        self._on_availability_changed = on_availability_changed
        self.client: HubClient = self._new_client()
        self.hub_info: HubInfo | None = None
        self.connected = False
        self.available = False
        """Whether entities are available: connected, or lost for less than the grace period."""
        self._data = dict(entry.data)
        """The settings the client was built with: a reconfigure changes them."""
        self._running = False
        """Whether the connection is kept (not when waiting for reauthentication)."""
        self._closing = False
        self._grace_timer: CALLBACK_TYPE | None = None

    def _new_client(self) -> HubClient:
        entry = self.entry
        session = async_get_clientsession(
            self.hass, verify_ssl=entry.data.get(CONF_VERIFY_SSL, True)
        )
        return client_class(entry.data[CONF_HUB_KIND]).from_config(
            session, self._listener, {**entry.data, **entry.options}
        )

    # --- lifecycle ---

    async def async_connect(self) -> HubError | None:
        """Connect for the first time; the error when the hub cannot be reached.

        ConfigEntryAuthFailed (reauthentication) when the hub refuses the credentials.
        """
        try:
            self.hub_info = await self.client.connect()
        except (InvalidAuth, SessionClosed) as err:
            await self.client.close()
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="invalid_auth"
            ) from err
        except HubError as err:
            await self.client.close()
            return err
        self.connected = self.available = True
        return None

    def start(self) -> None:
        """Keep the connection from now on, until the entry is unloaded."""
        entry = self.entry
        entry.async_on_unload(
            self.hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, self._async_on_stop)
        )
        entry.async_on_unload(entry.add_update_listener(self._async_entry_updated))
        entry.async_on_unload(self._cancel_grace_timer)
        entry.async_create_background_task(
            self.hass, self._async_keep_connected(), f"{DOMAIN} {entry.title} connection"
        )

    async def async_close(self) -> None:
        """Close the connection for good (unload)."""
        self._closing = True
        await self.client.close()

    async def _async_on_stop(self, _event: Event) -> None:
        await self.async_close()

    async def _async_entry_updated(self, hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
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
        self.client.memory = old.memory
        await old.close()  # the connection loop reconnects with the new client

    # --- the connection loop ---

    async def _async_keep_connected(self) -> None:
        """Keep the connection until unloaded (or until the hub wants new credentials)."""
        self._running = True
        try:
            await self._async_connection_loop()
        finally:
            self._running = False

    async def _async_connection_loop(self) -> None:
        """Wait on the connection; when it ends, reconnect with back-off."""
        loop = asyncio.get_running_loop()
        attempt = 0
        connected = self.connected
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
            LOGGER.exception("Unexpected error in the %s connection", self.entry.title)
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
            self.entry.async_start_reauth(self.hass)
            return None
        return str(err)

    async def _async_reconnect(self) -> _Attempt:
        """Try once to connect again."""
        try:
            self.hub_info = await self.client.connect()
        except InvalidAuth, SessionClosed:
            await self.client.close()
            self.entry.async_start_reauth(self.hass)
            return _Attempt.STOP
        except HubError as err:
            LOGGER.debug("Reconnecting to %s failed: %s", self.entry.title, err)
            await self.client.close()
            return _Attempt.RETRY
        self._connection_restored()
        return _Attempt.CONNECTED

    # --- availability ---

    def _connection_lost(self, err: BaseException | None) -> None:
        LOGGER.info("Lost connection to %s (%s); reconnecting", self.entry.title, err or "closed")
        self._set_connected(connected=False)
        grace = float(self.entry.options.get(CONF_GRACE_PERIOD, DEFAULT_GRACE_PERIOD))
        self._cancel_grace_timer()
        self._grace_timer = async_call_later(self.hass, grace, self._grace_expired)

    def _connection_restored(self) -> None:
        LOGGER.info("Connection to %s restored", self.entry.title)
        self._cancel_grace_timer()
        self._on_connected()  # a new version, or a new title after a reconfigure
        self._set_connected(connected=True)
        self._set_available(available=True)

    @callback
    def _grace_expired(self, _now: Any) -> None:
        self._grace_timer = None
        self._set_available(available=False)

    @callback
    def _cancel_grace_timer(self) -> None:
        if self._grace_timer is not None:
            self._grace_timer()
            self._grace_timer = None

    def _set_connected(self, *, connected: bool) -> None:
        self.connected = connected
        self._on_connection_changed()

    def _set_available(self, *, available: bool) -> None:
        if self.available != available:
            self.available = available
            self._on_availability_changed()
