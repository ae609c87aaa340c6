"""A hub's config entry: set up, unloaded, retried, reauthenticated, reconfigured, its devices.

Every hub kind against its simulator: what Home Assistant does with the entry (its state, its
reauthentication flows, the device registry), and the connections the hub sees.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import gc
import logging
from typing import Any

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.fleet_push.const import CONF_GRACE_PERIOD, DOMAIN
from custom_components.fleet_push.hubs import HUB_KINDS
from custom_components.fleet_push.identity import device_identifier, hub_scope

from .conftest import SetupHub, StartHub
from .helpers import entity_id, registry_id, wait_for
from .simulator import simulator_module

REFUSED_AT_SETUP = [
    ("navixy", "vendor"),
    ("devicehive", "vendor"),
    ("tftiot", "vendor"),
    ("tftiot", "signin_reply"),  # a refusal is an error frame, whether or not sign-ins get replies
]
GOOD_CREDENTIALS = {
    "navixy": lambda hub: {"api_key": hub.api_key},
    "devicehive": lambda hub: {"username": hub.login, "password": hub.password},
    "tftiot": lambda hub: {"password": hub.password},
}
"""What the user types into a kind's reauthentication form."""


def never_retrieved(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Errors asyncio logs for futures whose exception nobody looked at."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.ERROR and "never retrieved" in record.getMessage()
    ]


def reauth_sources(hass: HomeAssistant) -> list[str]:
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    return [flow["context"]["source"] for flow in flows]


# --- set up and unloaded ---


@pytest.mark.parametrize("kind", HUB_KINDS)
async def test_load_and_unload(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub, kind: str
) -> None:
    hub = await start_hub(kind, devices=1)
    entry = await setup_hub(kind, hub)
    assert entry.state is ConfigEntryState.LOADED
    await hub.wait_for_connections(getattr(hub, "client_sockets", 1))
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")
    assert hass.states.get(connected).state == STATE_ON

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get(connected).state == STATE_UNAVAILABLE
    await wait_for(lambda: not hub.connections)


@pytest.mark.parametrize("kind", HUB_KINDS)
async def test_a_hub_that_cannot_be_reached_is_retried(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub, kind: str
) -> None:
    """Without a fleet saved by an earlier run there is nothing to show: not ready."""
    hub = await start_hub(kind, devices=1)
    await hub.stop()
    entry = await setup_hub(kind, hub, loaded=False)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert reauth_sources(hass) == []


@pytest.mark.parametrize(("kind", "variant"), REFUSED_AT_SETUP)
async def test_credentials_refused_at_setup_are_asked_for_and_load_the_hub(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub, kind: str, variant: str
) -> None:
    hub = await start_hub(kind, devices=1, **simulator_module(kind).VARIANTS[variant])
    hub.revoke_credentials()
    entry = await setup_hub(kind, hub, loaded=False)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert reauth_sources(hass) == [SOURCE_REAUTH]
    await wait_for(lambda: not hub.connections)

    hub.restore_credentials()
    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], GOOD_CREDENTIALS[kind](hub)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")
    assert hass.states.get(connected).state == STATE_ON


@pytest.mark.parametrize("kind", HUB_KINDS)
@pytest.mark.parametrize("how", ["unload", "remove"])
async def test_unloading_while_a_reconnect_waits_for_the_handshake_logs_no_error(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    how: str,
) -> None:
    hub = await start_hub(kind, devices=1)
    entry = await setup_hub(kind, hub)
    accepted = hub.accepted
    hub.stop_answering()  # the next connection opens, then its handshake waits for ever
    await hub.drop_connections()
    async with asyncio.timeout(10):
        while hub.accepted == accepted:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # well into the handshake

    if how == "unload":
        assert await hass.config_entries.async_unload(entry.entry_id)
        assert entry.state is ConfigEntryState.NOT_LOADED
    else:
        assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    gc.collect()  # a forgotten future logs when it is collected
    await asyncio.sleep(0)

    assert never_retrieved(caplog) == []
    assert len(hub.connections) == 0


# --- what a flow's result does to a loaded hub ---


async def test_options_apply_at_once_without_a_reload(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=1)
    entry = await setup_hub("imouse", hub)
    (phone,) = hub.devices
    online = entity_id(hass, entry, "binary_sensor", phone, "online")
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")

    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_GRACE_PERIOD: 5}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert hub.accepted == 1  # still the first connection: nothing was reloaded

    await hub.stop()
    await wait_for(lambda: hass.states.get(connected).state == STATE_OFF)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=6))
    await hass.async_block_till_done()
    assert hass.states.get(online).state == STATE_UNAVAILABLE  # 5 s of grace, not 60


async def test_reconfiguring_a_hub_records_no_unavailable_state(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    old = await start_hub("imouse", devices=1)
    entry = await setup_hub("imouse", old)
    new = await start_hub("imouse", devices=1)
    (phone,) = old.devices
    new.devices = {phone: {**old.devices[phone], "usb": "", "vid": ""}}  # moved, unbound
    usb = entity_id(hass, entry, "binary_sensor", phone, "usb")
    written = async_capture_events(hass, EVENT_STATE_CHANGED)

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "127.0.0.1", "port": new.port}
    )
    assert result["reason"] == "reconfigure_successful"
    await wait_for(lambda: hass.states.get(usb).state == STATE_OFF)

    assert entry.state is ConfigEntryState.LOADED
    states = {event.data["new_state"].state for event in written}
    assert STATE_UNAVAILABLE not in states
    assert len(old.connections) == 0
    assert len(new.connections) == 1


async def test_an_unchanged_reconfigure_changes_nothing(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("iclick", devices=1)
    entry = await setup_hub("iclick", hub)
    written = async_capture_events(hass, EVENT_STATE_CHANGED)

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": hub.host, "port": hub.port}
    )
    await hass.async_block_till_done()

    assert result["reason"] == "reconfigure_successful"
    await wait_for(lambda: len(hub.connections) == 1)  # the flow's check is closed
    assert written == []
    assert hub.accepted == 2  # the flow's check, and the hub's one connection


# --- devices the user deletes ---


async def test_user_can_remove_only_stale_devices(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    hass_ws_client: WebSocketGenerator,
) -> None:
    assert await async_setup_component(hass, "config", {})
    hub = await start_hub("imouse", devices=1)
    entry = await setup_hub("imouse", hub)
    (phone,) = hub.devices
    registry = dr.async_get(hass)
    live = registry.async_get(registry_id(hass, entry, phone))
    assert live is not None
    stale = registry.async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={device_identifier(hub_scope(entry), "gone")},
    )
    client = await hass_ws_client(hass)

    async def remove(device_id: str) -> dict[str, Any]:
        await client.send_json_auto_id(
            {
                "type": "config/device_registry/remove_config_entry",
                "config_entry_id": entry.entry_id,
                "device_id": device_id,
            }
        )
        return await client.receive_json()

    refused = await remove(live.id)
    assert not refused["success"]
    assert refused["error"]["translation_key"] == "device_still_reported"
    assert refused["error"]["message"].startswith(f"{live.name} is still reported by ")
    assert (await remove(stale.id))["success"]
    assert registry.async_get(stale.id) is None
