"""Setting up, unloading and removing a hub's entry at awkward moments."""

from __future__ import annotations

import asyncio
import gc
import logging

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED, STATE_OFF, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.fleet_push.hubs import HUB_KINDS

from .conftest import SetupHub, StartHub
from .helpers import entity_id, wait_for


def never_retrieved(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Errors asyncio logs for futures whose exception nobody looked at."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.ERROR and "never retrieved" in record.getMessage()
    ]


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
