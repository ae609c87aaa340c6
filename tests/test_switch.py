"""Output switches through Home Assistant, against the Navixy simulator over loopback."""

from __future__ import annotations

from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pytest
from syrupy.assertion import SnapshotAssertion

from custom_components.fleet_push.hubs import HUB_KINDS
from custom_components.fleet_push.identity import entity_unique_id, hub_scope

from .conftest import SetupHub, StartHub
from .helpers import (
    enabled_by_default,
    entity_exists,
    registry_id,
    send,
    snapshot_entities,
    wait_for,
    wait_for_entity,
)
from .kinds import setup_fleet


async def switch(hass: HomeAssistant, entity: str, *, on: bool) -> None:
    """Turn a switch on or off the way the UI does."""
    await hass.services.async_call(
        SWITCH_DOMAIN,
        SERVICE_TURN_ON if on else SERVICE_TURN_OFF,
        {ATTR_ENTITY_ID: entity},
        blocking=True,
    )


def outputs(*on: int) -> list[bool]:
    """A tracker's eight outputs with the numbered ones on."""
    return [number in on for number in range(1, 9)]


async def test_outputs_in_use_are_switches_that_follow_the_pushed_state(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=1)
    (tracker_id,) = hub.trackers
    hub.trackers[tracker_id].state["outputs"] = outputs(2)
    entry = await setup_hub("navixy", hub)
    tracker = str(tracker_id)
    second = await wait_for_entity(hass, entry, "switch", tracker, "output_2")
    assert hass.states.get(second).state == STATE_ON
    assert hass.states.get(second).name == "Vehicle 1 Output 2"
    # Only outputs in use have switches (enabled: they are in use), as they have binary sensors.
    assert not entity_exists(hass, entry, "switch", tracker, "output_1")
    assert entity_exists(hass, entry, "binary_sensor", tracker, "output_2")

    # The hub's own report decides the state.
    hub.set_state(tracker_id, outputs=outputs())
    await wait_for(lambda: hass.states.get(second).state == STATE_OFF)

    # An output switched on elsewhere (here by the action) gets its switch, on.
    target = registry_id(hass, entry, tracker)
    await send(hass, target, "set_output", parameters={"output": 1, "enable": True})
    first = await wait_for_entity(hass, entry, "switch", tracker, "output_1")
    await wait_for(lambda: hass.states.get(first).state == STATE_ON)

    await switch(hass, second, on=True)
    assert hub.trackers[tracker_id].state["outputs"][:2] == [True, True]
    await wait_for(lambda: hass.states.get(second).state == STATE_ON)
    await switch(hass, first, on=False)
    assert hub.trackers[tracker_id].state["outputs"][:2] == [False, True]
    await wait_for(lambda: hass.states.get(first).state == STATE_OFF)


async def test_an_offline_tracker_refuses_and_the_switch_stays(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=1)
    (tracker_id,) = hub.trackers
    hub.trackers[tracker_id].state["outputs"] = outputs(1)
    entry = await setup_hub("navixy", hub)
    first = await wait_for_entity(hass, entry, "switch", str(tracker_id), "output_1")

    hub.set_online(tracker_id, False)
    with pytest.raises(HomeAssistantError) as offline:
        await switch(hass, first, on=False)
    assert offline.value.translation_key == "command_failed"
    assert offline.value.code == 213  # type: ignore[attr-defined]
    assert str(offline.value) == "Vehicle 1 did not carry out set_output: Device is offline"
    assert hub.trackers[tracker_id].state["outputs"][0] is True
    assert hass.states.get(first).state == STATE_ON


async def test_a_switch_stays_once_its_output_was_used(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=1)
    (tracker_id,) = hub.trackers
    hub.trackers[tracker_id].state["outputs"] = outputs(3)
    entry = await setup_hub("navixy", hub)
    tracker = str(tracker_id)
    third = await wait_for_entity(hass, entry, "switch", tracker, "output_3")
    hub.set_state(tracker_id, outputs=outputs())
    await wait_for(lambda: hass.states.get(third).state == STATE_OFF)

    # After a restart the output is off, and the entity registry remembers it was in use.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await wait_for(lambda: hass.states.get(third) is not None)
    await wait_for(lambda: hass.states.get(third).state == STATE_OFF)
    switches = [
        entity.unique_id
        for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if entity.domain == "switch"
    ]
    assert switches == [entity_unique_id(hub_scope(entry), tracker, "output_3")]


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_outputs_of_a_hub_that_cannot_set_them_are_no_switches(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("tftiot", devices=1)
    (imei,) = hub.trackers
    entry = await setup_hub("tftiot", hub)
    # Input 3 is on: the report that says so names the outputs too (all off, none in use).
    await wait_for_entity(hass, entry, "binary_sensor", imei, "input_3")
    await hass.async_block_till_done()
    assert not [
        entity
        for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if entity.domain == "switch"
    ]


# --- every hub kind's switches, as Home Assistant registers and shows them ---


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("kind", HUB_KINDS)
async def test_all_entities(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    snapshot: SnapshotAssertion,
    kind: str,
) -> None:
    entry = await setup_fleet(hass, start_hub, setup_hub, kind)
    snapshot_entities(hass, snapshot, entry, Platform.SWITCH)


@pytest.mark.parametrize("kind", HUB_KINDS)
async def test_which_entities_are_enabled_by_default(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    snapshot: SnapshotAssertion,
    kind: str,
) -> None:
    entry = await setup_fleet(hass, start_hub, setup_hub, kind)
    assert enabled_by_default(hass, entry, Platform.SWITCH) == snapshot
