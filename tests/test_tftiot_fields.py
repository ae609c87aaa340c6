"""TFT IoT's snapshot fields beyond the basics, and its accessory events, through Home Assistant."""

from __future__ import annotations

from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
import pytest

from .conftest import SetupHub, StartHub
from .helpers import entity_id, state_of, wait_for, wait_for_entity


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_snapshot_fields_reach_their_entities(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("tftiot", devices=1)
    (imei,) = hub.trackers
    tracker = hub.trackers[imei]
    tracker.engine_time, tracker.fuel, tracker.address = 36_000, 81.5, "Engeldamm 18, Berlin"
    tracker.antithefted, tracker.relay, tracker.external_battery_low = 1, 1, 0
    entry = await setup_hub("tftiot", hub)
    await wait_for_entity(hass, entry, "sensor", imei, "engine_hours")

    hours = state_of(hass, entry, "sensor", imei, "engine_hours")
    assert (hours.state, hours.attributes["unit_of_measurement"]) == ("10.0", "h")
    assert hours.attributes["state_class"] == "total_increasing"
    fuel = state_of(hass, entry, "sensor", imei, "fuel")
    assert (fuel.state, fuel.attributes["unit_of_measurement"]) == ("81.5", "L")
    assert state_of(hass, entry, "sensor", imei, "address").state == "Engeldamm 18, Berlin"
    assert state_of(hass, entry, "binary_sensor", imei, "anti_theft").state == STATE_ON
    assert state_of(hass, entry, "binary_sensor", imei, "relay").state == STATE_ON
    battery = state_of(hass, entry, "binary_sensor", imei, "external_battery_low")
    assert (battery.state, battery.attributes["device_class"]) == (STATE_OFF, "battery")

    tracker.external_battery_low, tracker.address = 1, ""
    await hub.push_snapshot(imei)
    low = entity_id(hass, entry, "binary_sensor", imei, "external_battery_low")
    await wait_for(lambda: hass.states.get(low).state == STATE_ON)
    assert state_of(hass, entry, "sensor", imei, "address").state == "unknown"  # none given


async def test_engine_hours_and_address_start_disabled(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("tftiot", devices=1)
    (imei,) = hub.trackers
    entry = await setup_hub("tftiot", hub)
    await wait_for_entity(hass, entry, "sensor", imei, "fuel")
    for key in ("engine_hours", "address"):
        assert hass.states.get(entity_id(hass, entry, "sensor", imei, key)) is None, key


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_accessory_messages_are_events_of_their_tracker(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("tftiot", devices=1)
    (imei,) = hub.trackers
    entry = await setup_hub("tftiot", hub)
    accessory = await wait_for_entity(hass, entry, "event", imei, "accessory")
    fired = []
    hass.bus.async_listen("fleet_push_event", fired.append)

    await hub.push_accessory(imei, "bleTire", {"position": 2, "pressure": 7.9, "temp": 31})
    await wait_for(lambda: hass.states.get(accessory).attributes.get("event_type") == "ble_tire")
    state = hass.states.get(accessory)
    assert (state.attributes["pressure"], state.attributes["position"]) == (7.9, 2)
    await hass.async_block_till_done()
    assert [(e.data["channel"], e.data["type"]) for e in fired] == [("accessory", "ble_tire")]

    # One that carries nothing is skipped (it comes before the next, which arrives).
    await hub.push_accessory(imei, "driver", {})
    await hub.push_accessory(imei, "obdErrorInfo", {"codes": {"first": "P0301"}})
    await wait_for(lambda: hass.states.get(accessory).attributes.get("event_type") == "obd_error")
    assert hass.states.get(accessory).attributes["codes_first"] == "P0301"
    assert [e.data["type"] for e in fired] == ["ble_tire", "obd_error"]
