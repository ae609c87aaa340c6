"""Home Assistant restarting while a hub is down: the last known fleet, not false values."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_NOT_HOME, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
import pytest

from custom_components.fleet_push.const import DOMAIN
from custom_components.fleet_push.hubs import HUB_KINDS
from custom_components.fleet_push.hubs.model import Field

from .conftest import SetupHub, StartHub
from .helpers import entity_id, fixture_text, wait_for, wait_for_entity


@pytest.mark.usefixtures("entity_registry_enabled_by_default")  # input 2
async def test_restart_while_the_hub_is_down_shows_the_last_known_fleet(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    hass_storage: dict[str, Any],
) -> None:
    hub = await start_hub("navixy", devices=1)
    (tracker,) = hub.trackers.values()
    data = json.loads(fixture_text("navixy", "doc001_state_event.json"))["data"]
    tracker.state = {key: value for key, value in data.items() if key != "source_id"}
    tracker.state["inputs"] = [False, True] + [False] * 6  # input 2 in use
    entry = await setup_hub("navixy", hub)
    device = str(tracker.tracker_id)
    await wait_for(lambda: entry.runtime_data.devices[device].position)
    await hass.async_block_till_done()
    location = entity_id(hass, entry, "device_tracker", device, "location")
    online = entity_id(hass, entry, "binary_sensor", device, "online")
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")
    input_2 = entity_id(hass, entry, "binary_sensor", device, "input_2")

    assert await hass.config_entries.async_unload(entry.entry_id)  # Home Assistant stops
    assert f"{DOMAIN}.{entry.entry_id}" in hass_storage
    await hub.stop()  # and the hub is down when it starts again

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    restored = hass.states.get(location)
    assert restored.state == STATE_NOT_HOME
    assert restored.attributes["latitude"] == 14.330065796228606
    assert restored.attributes["fix_time"] == "2018-10-17T10:51:43+00:00"
    assert hass.states.get(online).state == STATE_UNAVAILABLE
    assert hass.states.get(connected).state == STATE_OFF
    assert entry.runtime_data.devices[device].in_use == {Field.INPUTS: frozenset({1})}
    assert hass.states.get(input_2).state == STATE_UNAVAILABLE

    await hub.start()
    await wait_for(lambda: hass.states.get(online).state == STATE_ON)
    assert hass.states.get(connected).state == STATE_ON


async def test_deleting_the_entry_forgets_its_fleet(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    hass_storage: dict[str, Any],
) -> None:
    hub = await start_hub("imouse", devices=1)
    entry = await setup_hub("imouse", hub)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert f"{DOMAIN}.{entry.entry_id}" in hass_storage

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert f"{DOMAIN}.{entry.entry_id}" not in hass_storage


async def test_an_unreadable_saved_fleet_is_ignored(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    hass_storage: dict[str, Any],
) -> None:
    hub = await start_hub("imouse", devices=1)
    entry = await setup_hub("imouse", hub)
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"] = {"devices": [{"name": "no id"}]}
    await hub.stop()

    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY


@pytest.mark.parametrize("kind", HUB_KINDS)
async def test_every_hub_kind_restarts_without_its_hub(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub, kind: str
) -> None:
    hub = await start_hub(kind, devices=2)
    entry = await setup_hub(kind, hub)
    devices = hub.fleet_ids()
    online = {
        device: await wait_for_entity(hass, entry, "binary_sensor", device, "online")
        for device in devices
    }
    shown = {device: hass.states.get(entity).state for device, entity in online.items()}
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")

    assert await hass.config_entries.async_unload(entry.entry_id)  # Home Assistant stops
    await hub.stop()  # and the hub is down when it starts again
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get(connected).state == STATE_OFF
    for entity in online.values():  # every device is there, its value not guessed
        assert hass.states.get(entity).state == STATE_UNAVAILABLE
    await hub.start()
    for device, entity in online.items():
        await wait_for(
            lambda entity=entity, device=device: hass.states.get(entity).state == shown[device]
        )
    assert hass.states.get(connected).state == STATE_ON
