"""A Navixy account through Home Assistant, against the simulator over loopback."""

from __future__ import annotations

from typing import Any

from homeassistant.const import STATE_NOT_HOME, STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.fleet_push.const import DOMAIN
from custom_components.fleet_push.identity import entity_unique_id, hub_scope

from .conftest import SetupHub, StartHub
from .helpers import (
    device_of,
    entity_exists,
    entity_id,
    fixture_text,
    state_of,
    wait_for,
    wait_for_entity,
)
from .kinds import navixy_doc_state
from .simulator.navixy import MODEL_CATALOGUE


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_vendor_doc_state_reaches_the_entities(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=1)
    (tracker_id,) = hub.trackers
    hub.trackers[tracker_id].state = navixy_doc_state()  # source 10284, as in the sample
    entry = await setup_hub("navixy", hub)
    tracker = str(tracker_id)
    await wait_for(lambda: entity_exists(hass, entry, "device_tracker", tracker, "location"))
    await hass.async_block_till_done()

    device = device_of(hass, entry, tracker)
    assert device is not None
    code = hub.trackers[tracker_id].model
    (vendor, name) = next((v, n) for c, v, n, _ in MODEL_CATALOGUE if c == code)
    # The maker and model list_models names, the platform's code as the model id.
    assert (device.name, device.manufacturer, device.model, device.model_id) == (
        "Vehicle 1",
        vendor,
        name,
        code,
    )
    assert device.serial_number == hub.trackers[tracker_id].device_id
    location = state_of(hass, entry, "device_tracker", tracker, "location")
    assert er.async_get(hass).async_get(location.entity_id).translation_key == "vehicle"
    assert location.name == "Vehicle 1"  # its icon says what it is, its name stays the device's
    assert location.state == STATE_NOT_HOME
    assert location.attributes["latitude"] == 14.330065796228606
    assert location.attributes["longitude"] == -90.99037259141691
    assert location.attributes["heading"] == 248
    assert location.attributes["altitude"] == 431
    assert location.attributes["fix_time"] == "2018-10-17T10:51:43+00:00"  # Berlin time
    assert state_of(hass, entry, "binary_sensor", tracker, "online").state == STATE_ON
    assert state_of(hass, entry, "binary_sensor", tracker, "moving").state == STATE_OFF
    assert state_of(hass, entry, "sensor", tracker, "battery").state == STATE_UNKNOWN
    assert state_of(hass, entry, "sensor", tracker, "gsm_signal").state == STATE_UNKNOWN
    assert state_of(hass, entry, "sensor", tracker, "gps_signal").state == "100"
    assert state_of(hass, entry, "sensor", tracker, "speed").state == "0"
    assert state_of(hass, entry, "sensor", tracker, "altitude").state == "431"
    # Every input and output is off: none is in use, so none has an entity.
    for number in range(1, 9):
        assert not entity_exists(hass, entry, "binary_sensor", tracker, f"input_{number}")
        assert not entity_exists(hass, entry, "binary_sensor", tracker, f"output_{number}")
        assert not entity_exists(hass, entry, "switch", tracker, f"output_{number}")
    assert not entity_exists(hass, entry, "binary_sensor", tracker, "ignition")

    # The same state pushed again verbatim changes nothing, so nothing is written.
    before = hass.states.get(location.entity_id)
    await hub.push(fixture_text("navixy", "doc001_state_event.json"))
    await wait_for(lambda: hub.received)
    await hass.async_block_till_done()
    assert hass.states.get(location.entity_id).last_reported == before.last_reported


async def test_each_tracker_shows_its_maker_and_an_icon_of_what_it_is(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=0)
    hub.add_tracker("Truck 7", "telfmb120").vehicle_type = "truck"
    hub.add_tracker("Anna", "concox_gt300")
    hub.add_tracker("Prototype", "acme_x1")  # a code the platform does not list
    entry = await setup_hub("navixy", hub)
    truck, anna, prototype = (str(tracker) for tracker in hub.trackers)
    registry = er.async_get(hass)

    async def shown(tracker: str) -> tuple[str | None, ...]:
        """Its maker, model and model id, and the kind its location's icon shows."""
        location = await wait_for_entity(hass, entry, "device_tracker", tracker, "location")
        device = device_of(hass, entry, tracker)
        assert device is not None
        kind = registry.async_get(location).translation_key
        return (device.manufacturer, device.model, device.model_id, kind)

    assert await shown(truck) == ("Teltonika", "FMB120", "telfmb120", "truck")
    assert await shown(anna) == ("Concox", "GT300", "concox_gt300", "personal")
    assert await shown(prototype) == (None, None, "acme_x1", "tracker")

    added = str(hub.add_tracker("Parcel", "queclink_gl300").tracker_id)
    assert await shown(added) == ("Queclink", "GL300", "queclink_gl300", "portable")


@pytest.mark.usefixtures("entity_registry_enabled_by_default")  # speed
async def test_trackers_move_appear_and_disappear_live(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=2)
    entry = await setup_hub("navixy", hub)
    first, second = (str(tracker) for tracker in hub.trackers)
    await wait_for(lambda: entity_exists(hass, entry, "device_tracker", second, "location"))
    location = entity_id(hass, entry, "device_tracker", first, "location")

    hub.move(int(first), 48.8584, 2.2945, speed=42, heading=90)
    await wait_for(lambda: hass.states.get(location).attributes["latitude"] == 48.8584)
    assert hass.states.get(location).attributes["speed"] == 42
    await wait_for(lambda: state_of(hass, entry, "sensor", first, "speed").state == "42")

    hub.set_state(int(first), ignition=True, connection_status="offline")
    await wait_for(lambda: entity_exists(hass, entry, "binary_sensor", first, "ignition"))
    await wait_for(lambda: state_of(hass, entry, "binary_sensor", first, "online").state == "off")
    assert state_of(hass, entry, "binary_sensor", first, "ignition").state == STATE_ON

    added = str(hub.add_tracker("New car").tracker_id)
    await wait_for(lambda: entity_exists(hass, entry, "device_tracker", added, "location"))
    assert device_of(hass, entry, added).name == "New car"

    await hub.block(int(second))
    lifecycle = entity_id(hass, entry, "event", second, "lifecycle")
    await wait_for(lambda: hass.states.get(lifecycle).attributes.get("event_type") == "block")

    await hub.remove_tracker(int(second))
    await wait_for(lambda: device_of(hass, entry, second) is None)
    assert hass.states.get(lifecycle) is None


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_an_input_gets_its_sensor_once_on_and_keeps_it(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    hass_storage: dict[str, Any],
) -> None:
    hub = await start_hub("navixy", devices=1)
    (tracker_id,) = hub.trackers
    entry = await setup_hub("navixy", hub)
    tracker = str(tracker_id)
    await wait_for_entity(hass, entry, "device_tracker", tracker, "location")
    assert not entity_exists(hass, entry, "binary_sensor", tracker, "input_3")

    hub.set_state(tracker_id, inputs=[False, False, True] + [False] * 5)
    third = await wait_for_entity(hass, entry, "binary_sensor", tracker, "input_3")
    assert hass.states.get(third).state == STATE_ON
    hub.set_state(tracker_id, inputs=[False] * 8)
    await wait_for(lambda: hass.states.get(third).state == STATE_OFF)

    # Restarted without its saved fleet, the entity registry still says input 3 is in use.
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass_storage.pop(f"{DOMAIN}.{entry.entry_id}")
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(lambda: getattr(hass.states.get(third), "state", None) == STATE_OFF)
    inputs = [
        registered.unique_id
        for registered in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if "/input_" in registered.unique_id
    ]
    assert inputs == [entity_unique_id(hub_scope(entry), tracker, "input_3")]


@pytest.mark.parametrize("status", ["just_registered", "just_replaced"])
async def test_a_tracker_that_has_not_reported_yet_is_offline(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub, status: str
) -> None:
    """Registered or replaced, no data yet: Online is off and its attributes say why."""
    hub = await start_hub("navixy", devices=2)
    first, second = hub.trackers
    hub.set_state(first, connection_status=status)
    entry = await setup_hub("navixy", hub)
    fresh = await wait_for_entity(hass, entry, "binary_sensor", str(first), "online")
    other = await wait_for_entity(hass, entry, "binary_sensor", str(second), "online")
    await wait_for(lambda: hass.states.get(other).state == STATE_ON)
    await wait_for(lambda: hass.states.get(fresh).state == STATE_OFF)
    assert hass.states.get(fresh).attributes["connection_status"] == status

    hub.set_state(first, connection_status="active")  # its first data arrived
    await wait_for(lambda: hass.states.get(fresh).state == STATE_ON)
    assert hass.states.get(fresh).attributes["connection_status"] == "active"
