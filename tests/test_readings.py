"""Navixy's counters and sensor readings through Home Assistant."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.fleet_push.fleet import Device
from custom_components.fleet_push.fleet_store import FleetStore
from custom_components.fleet_push.hubs import navixy
from custom_components.fleet_push.hubs.model import Field, Reading

from .conftest import SetupHub, StartHub
from .helpers import entity_id, state_of, wait_for, wait_for_entity


@pytest.fixture(autouse=True)
def fast_readings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second between readings batches instead of a minute."""
    monkeypatch.setattr(
        navixy, "READINGS_SUBSCRIPTION", {**navixy.READINGS_SUBSCRIPTION, "rate_limit": "1s"}
    )


async def test_counters_and_sensors_become_sensors(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=3)
    first, _, third = hub.trackers
    entry = await setup_hub("navixy", hub)
    tank_id = hub.trackers[first].sensors[0]["sensor_id"]
    tank = await wait_for_entity(hass, entry, "sensor", str(first), f"reading_{tank_id}")

    fuel = hass.states.get(tank)
    assert fuel.name == "Vehicle 1 Tank"  # the label the user gave the sensor on Navixy
    assert (fuel.state, fuel.attributes["unit_of_measurement"]) == ("181.0", "L")
    assert fuel.attributes["device_class"] == "volume_storage"
    (cargo_id,) = (
        s["sensor_id"] for s in hub.trackers[third].sensors if s["type"] == "temperature"
    )
    await wait_for_entity(hass, entry, "sensor", str(third), f"reading_{cargo_id}")
    cargo = state_of(hass, entry, "sensor", str(third), f"reading_{cargo_id}")
    assert (cargo.name, cargo.state, cargo.attributes["unit_of_measurement"]) == (
        "Vehicle 3 Cargo",
        "4.5",
        "°C",
    )
    mileage = state_of(hass, entry, "sensor", str(first), "mileage")
    assert (mileage.state, mileage.attributes["state_class"]) == ("11234.5", "total_increasing")
    hours = er.async_get(hass).async_get(
        entity_id(hass, entry, "sensor", str(first), "engine_hours")
    )
    assert hours is not None
    assert hours.disabled_by is er.RegistryEntryDisabler.INTEGRATION

    # A position report writes no reading; a changed reading writes its own sensor only.
    written = hass.states.get(tank).last_updated
    location = entity_id(hass, entry, "device_tracker", str(first), "location")
    hub.move(first, 52.6, 13.5)
    await wait_for(lambda: hass.states.get(location).attributes["latitude"] == 52.6)
    assert hass.states.get(tank).last_updated == written
    hub.trackers[first].meter(10.0, 0.25, hub.user_time())
    hub.set_state(first)  # the next batches carry it
    await wait_for(lambda: hass.states.get(tank).state == "178.0", timeout=10)
    mileage_id = entity_id(hass, entry, "sensor", str(first), "mileage")
    assert hass.states.get(mileage_id).state == "11244.5"


async def test_readings_survive_a_restart_in_the_saved_fleet(hass: HomeAssistant) -> None:
    tank = Reading(37641, "fuel", "Tank 1", 225.71, "litre")
    device = Device("1", values={Field.READINGS: (tank,), Field.MILEAGE: 3232.9})
    store = FleetStore(hass, "readings")
    await store.async_save(None, {"1": device})
    _, devices = await store.async_load()
    assert devices["1"].values == device.values


async def test_a_sensor_added_later_gets_its_entity(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=2)
    _, second = hub.trackers  # an even tracker: no sensors at first
    entry = await setup_hub("navixy", hub)
    await wait_for_entity(hass, entry, "sensor", str(second), "mileage")
    assert hub.trackers[second].sensors == []
    hub.trackers[second].sensors.append(
        {"sensor_id": 555, "label": "Fridge", "type": "temperature", "value": -18.5}
        | {"units_type": "celsius", "units": ""}
    )
    hub.set_state(second)
    fridge = await wait_for_entity(hass, entry, "sensor", str(second), "reading_555")
    assert hass.states.get(fridge).state == "-18.5"
    assert hass.states.get(fridge).name == "Vehicle 2 Fridge"
