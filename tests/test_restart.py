"""Home Assistant restarting while a hub is down: the last known fleet, not false values."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_NOT_HOME, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fleet_push.const import DOMAIN
from custom_components.fleet_push.hubs import HUB_KINDS

from .conftest import SetupHub, StartHub
from .helpers import entity_exists, entity_id, wait_for
from .kinds import show_fleet, start_fleet


def entities(hass: HomeAssistant, entry: MockConfigEntry) -> list[er.RegistryEntry]:
    return er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")  # Navixy's input 2, and more
@pytest.mark.parametrize("kind", HUB_KINDS)
async def test_restart_while_the_hub_is_down_shows_the_last_known_fleet(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    hass_storage: dict[str, Any],
    kind: str,
) -> None:
    """Trackers where they were last seen; every other value unavailable, none guessed."""
    hub = await start_fleet(start_hub, kind)
    entry = await setup_hub(kind, hub)
    await show_fleet(hass, entry, kind, hub)
    shown = {
        entity.entity_id: hass.states.get(entity.entity_id) for entity in entities(hass, entry)
    }
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")
    online = [
        entity_id(hass, entry, "binary_sensor", device, "online") for device in hub.fleet_ids()
    ]

    assert await hass.config_entries.async_unload(entry.entry_id)  # Home Assistant stops
    assert f"{DOMAIN}.{entry.entry_id}" in hass_storage
    await hub.stop()  # and the hub is down when it starts again
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert {entity.entity_id for entity in entities(hass, entry)} == set(shown)
    for entity, before in shown.items():
        restored = hass.states.get(entity)
        assert restored is not None, entity
        if entity == connected:
            assert restored.state == STATE_OFF
        elif entity.startswith("device_tracker."):
            assert restored.state == before.state == STATE_NOT_HOME
            for key in ("latitude", "longitude", "fix_time"):
                assert restored.attributes.get(key) == before.attributes.get(key), key
        else:
            assert restored.state == STATE_UNAVAILABLE, entity
    if kind == "navixy":  # the vendor sample's fix, and input 2 in use
        location = entity_id(hass, entry, "device_tracker", hub.fleet_ids()[0], "location")
        assert hass.states.get(location).attributes["latitude"] == 14.330065796228606
        assert hass.states.get(location).attributes["fix_time"] == "2018-10-17T10:51:43+00:00"
        assert entity_exists(hass, entry, "binary_sensor", hub.fleet_ids()[0], "input_2")

    await hub.start()
    for entity in online:  # the hub's values again
        await wait_for(lambda entity=entity: hass.states.get(entity).state == shown[entity].state)
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
