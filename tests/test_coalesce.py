"""Position coalescing: fewer position writes, no transition held back."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.const import STATE_HOME, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.fleet_push.const import CONF_MIN_POSITION_INTERVAL

from .conftest import SetupTracker
from .helpers import entity_id, wait_for, wait_for_entity


@pytest.mark.usefixtures("entity_registry_enabled_by_default")  # speed
async def test_positions_within_the_window_are_coalesced(
    hass: HomeAssistant, one_tracker: SetupTracker
) -> None:
    one = await one_tracker(**{CONF_MIN_POSITION_INTERVAL: 60})
    hub, tracker_id, entry, location = one.hub, one.tracker_id, one.entry, one.location
    tracker = str(tracker_id)
    speed = entity_id(hass, entry, "sensor", tracker, "speed")
    first = hass.states.get(location).attributes["latitude"]

    hub.move(tracker_id, 48.10, 11.50, speed=30)
    hub.set_state(tracker_id, ignition=True)
    ignition = await wait_for_entity(hass, entry, "binary_sensor", tracker, "ignition")
    await wait_for(lambda: hass.states.get(ignition).state == STATE_ON)
    assert hass.states.get(location).attributes["latitude"] == first  # held back
    assert hass.states.get(speed).state == "0"

    hub.move(tracker_id, 48.20, 11.60, speed=50)
    hub.set_state(tracker_id, ignition=False)  # in the same report: it shows once read
    await wait_for(lambda: hass.states.get(ignition).state == STATE_OFF)
    assert hass.states.get(location).attributes["latitude"] == first
    assert hass.states.get(speed).state == "0"  # speed travels with the position

    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=61))
    await hass.async_block_till_done()
    assert hass.states.get(location).attributes["latitude"] == 48.20  # the latest one
    assert hass.states.get(speed).state == "50"


async def test_entering_a_zone_is_never_held_back(
    hass: HomeAssistant, one_tracker: SetupTracker
) -> None:
    one = await one_tracker(**{CONF_MIN_POSITION_INTERVAL: 60})

    one.hub.move(one.tracker_id, hass.config.latitude, hass.config.longitude)
    await wait_for(lambda: hass.states.get(one.location).state == STATE_HOME)
    assert hass.states.get(one.location).attributes["latitude"] == hass.config.latitude
