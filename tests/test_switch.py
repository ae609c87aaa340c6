"""Output switches through Home Assistant, against the Navixy simulator over loopback."""

from __future__ import annotations

from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.fleet_push.hubs.model import Field

from .conftest import SetupHub, StartHub, coordinator_of
from .helpers import entity_exists, entity_id, wait_for


async def switch(hass: HomeAssistant, entity: str, *, on: bool) -> None:
    """Turn a switch on or off the way the UI does."""
    await hass.services.async_call(
        SWITCH_DOMAIN,
        SERVICE_TURN_ON if on else SERVICE_TURN_OFF,
        {ATTR_ENTITY_ID: entity},
        blocking=True,
    )


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_outputs_are_switches_that_follow_the_pushed_state(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=1)
    (tracker_id,) = hub.trackers
    entry = await setup_hub("navixy", hub)
    tracker = str(tracker_id)
    await wait_for(lambda: entity_exists(hass, entry, "switch", tracker, "output_8"))
    assert not entity_exists(hass, entry, "switch", tracker, "output_9")
    second = entity_id(hass, entry, "switch", tracker, "output_2")
    await wait_for(lambda: hass.states.get(second) is not None)
    assert hass.states.get(second).state == STATE_OFF
    assert hass.states.get(second).name == "Vehicle 1 Output 2"

    # The hub's own report decides the state.
    hub.set_state(tracker_id, outputs=[False, True, False, False, False, False, False, False])
    await wait_for(lambda: hass.states.get(second).state == STATE_ON)

    first = entity_id(hass, entry, "switch", tracker, "output_1")
    await switch(hass, first, on=True)
    assert hub.trackers[tracker_id].state["outputs"][:2] == [True, True]
    await wait_for(lambda: hass.states.get(first).state == STATE_ON)
    await switch(hass, second, on=False)
    assert hub.trackers[tracker_id].state["outputs"][:2] == [True, False]
    await wait_for(lambda: hass.states.get(second).state == STATE_OFF)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_an_offline_tracker_refuses_and_the_switch_stays(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=1)
    (tracker_id,) = hub.trackers
    entry = await setup_hub("navixy", hub)
    tracker = str(tracker_id)
    await wait_for(lambda: entity_exists(hass, entry, "switch", tracker, "output_1"))
    first = entity_id(hass, entry, "switch", tracker, "output_1")
    await wait_for(lambda: hass.states.get(first) is not None)

    hub.set_online(tracker_id, False)
    with pytest.raises(HomeAssistantError) as offline:
        await switch(hass, first, on=True)
    assert offline.value.translation_key == "command_failed"
    assert offline.value.code == 213  # type: ignore[attr-defined]
    assert str(offline.value) == "Vehicle 1 did not carry out set_output: Device is offline"
    assert hub.trackers[tracker_id].state["outputs"][0] is False
    assert hass.states.get(first).state == STATE_OFF


async def test_output_switches_are_disabled_until_wanted(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=1)
    (tracker_id,) = hub.trackers
    entry = await setup_hub("navixy", hub)
    tracker = str(tracker_id)
    await wait_for(lambda: entity_exists(hass, entry, "switch", tracker, "output_1"))
    first = er.async_get(hass).async_get(entity_id(hass, entry, "switch", tracker, "output_1"))
    assert first.disabled_by is er.RegistryEntryDisabler.INTEGRATION


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_outputs_of_a_hub_that_cannot_set_them_are_no_switches(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("tftiot", devices=1)
    (imei,) = hub.trackers
    entry = await setup_hub("tftiot", hub)
    await wait_for(lambda: Field.OUTPUTS in coordinator_of(entry).devices[imei].values)
    await hass.async_block_till_done()
    assert not [
        entity
        for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if entity.domain == "switch"
    ]
