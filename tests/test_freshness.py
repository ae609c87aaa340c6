"""Position stale and Last fix: judged on a timer, written only on their transitions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.fleet_push.const import CONF_STALE_AFTER, DEFAULT_STALE_AFTER
from custom_components.fleet_push.hubs.model import Field

from .conftest import SetupHub, StartHub, coordinator_of
from .helpers import entity_id, state_of, wait_for, wait_for_entity
from .kinds import setup_fleet

STALE = "position_stale"


def _berlin(moment: Any) -> str:
    """A time as Navixy writes it (the simulator's account is in Berlin)."""
    return (
        dt_util.as_local(moment)
        .astimezone(dt_util.get_time_zone("Europe/Berlin"))
        .strftime("%Y-%m-%d %H:%M:%S")
    )


async def _tick(hass: HomeAssistant) -> None:
    """Let the minute's timer run its freshness check."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=1))
    await hass.async_block_till_done()


async def _fixed_ago(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub, age: timedelta
) -> tuple[Any, int, MockConfigEntry, str]:
    """A Navixy hub of one tracker whose fix is `age` old, set up; its Position stale entity."""
    hub = await start_hub("navixy", devices=1)
    (tracker_id,) = hub.trackers
    hub.move(tracker_id, 52.5, 13.4, fixed=_berlin(dt_util.utcnow() - age))
    entry = await setup_hub("navixy", hub)
    stale = await wait_for_entity(hass, entry, "binary_sensor", str(tracker_id), STALE)
    return hub, tracker_id, entry, stale


async def _check_later(hass: HomeAssistant, entry: MockConfigEntry, later: timedelta) -> None:
    """Run the check the timer runs, as it would run `later` from now."""
    coordinator_of(entry).freshness.check(dt_util.utcnow() + later)
    await hass.async_block_till_done()


async def test_navixy_tracker_turns_stale_and_fresh_on_its_transitions_only(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub, tracker_id, entry, stale = await _fixed_ago(hass, start_hub, setup_hub, timedelta(hours=2))
    tracker = str(tracker_id)
    await wait_for(lambda: hass.states.get(stale).state == STATE_ON)  # online, fix 2 h old
    assert state_of(hass, entry, "binary_sensor", tracker, STALE).attributes["device_class"] == (
        "problem"
    )

    # A fresh fix: the entity is not told on the report; the next check turns it off.
    hub.move(tracker_id, 52.51, 13.41)
    location = entity_id(hass, entry, "device_tracker", tracker, "location")
    await wait_for(lambda: hass.states.get(location).attributes["latitude"] == 52.51)
    assert hass.states.get(stale).state == STATE_ON
    await _tick(hass)
    assert hass.states.get(stale).state == STATE_OFF
    written = hass.states.get(stale).last_updated

    # More fresh fixes write the tracker, never the stale sensor.
    for step in range(1, 4):
        hub.move(tracker_id, 52.51 + step / 100, 13.41)
        await wait_for(
            lambda step=step: hass.states.get(location).attributes["latitude"] == 52.51 + step / 100
        )
        await _tick(hass)
    assert hass.states.get(stale).last_updated == written

    # The fix stands still past the limit: stale; the tracker goes offline: no longer stale.
    await _check_later(hass, entry, timedelta(minutes=DEFAULT_STALE_AFTER + 2))
    assert hass.states.get(stale).state == STATE_ON
    hub.set_online(tracker_id, online=False)
    online = entity_id(hass, entry, "binary_sensor", tracker, "online")
    await wait_for(lambda: hass.states.get(online).state == STATE_OFF)
    await _check_later(hass, entry, timedelta(minutes=DEFAULT_STALE_AFTER + 3))
    assert hass.states.get(stale).state == STATE_OFF


async def test_the_limit_is_an_option_that_applies_at_the_next_check(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    _, _, entry, stale = await _fixed_ago(hass, start_hub, setup_hub, timedelta(minutes=10))
    assert hass.states.get(stale).state == STATE_OFF  # 10 minutes old, 30 allowed

    hass.config_entries.async_update_entry(entry, options={CONF_STALE_AFTER: 5})
    await _tick(hass)
    assert hass.states.get(stale).state == STATE_ON


@pytest.mark.parametrize("kind", ["navixy", "tftiot", "devicehive"])
async def test_every_kind_with_positions_has_both_entities(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub, kind: str
) -> None:
    entry = await setup_fleet(hass, start_hub, setup_hub, kind)
    coordinator = coordinator_of(entry)
    located = [d for d in coordinator.devices.values() if d.position is not None]
    assert located
    registry = er.async_get(hass)
    await _check_later(
        hass, entry, timedelta(days=1)
    )  # far later: every online device's fix is old
    for device in located:
        stale = entity_id(hass, entry, "binary_sensor", device.device_id, STALE)
        last_fix = registry.async_get(
            entity_id(hass, entry, "sensor", device.device_id, "last_fix")
        )
        assert last_fix is not None
        assert last_fix.disabled_by is er.RegistryEntryDisabler.INTEGRATION  # the recorder's sake
        online = device.values.get(Field.ONLINE) is True
        assert hass.states.get(stale).state == (STATE_ON if online else STATE_OFF)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_last_fix_shows_the_time_of_the_fix(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=1)
    (tracker_id,) = hub.trackers
    hub.move(tracker_id, 52.5, 13.4, fixed="2026-12-05 10:00:00")
    entry = await setup_hub("navixy", hub)
    last_fix = await wait_for_entity(hass, entry, "sensor", str(tracker_id), "last_fix")
    assert hass.states.get(last_fix).state == "2026-12-05T09:00:00+00:00"  # Berlin is UTC+1
    assert hass.states.get(last_fix).attributes["device_class"] == "timestamp"
    hub.move(tracker_id, 52.6, 13.4, fixed="2026-12-05 10:05:00")
    await wait_for(lambda: hass.states.get(last_fix).state == "2026-12-05T09:05:00+00:00")


async def test_a_lost_hub_makes_no_tracker_stale(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=1)
    (tracker_id,) = hub.trackers
    entry = await setup_hub("navixy", hub)
    stale = await wait_for_entity(hass, entry, "binary_sensor", str(tracker_id), STALE)
    coordinator = coordinator_of(entry)
    await hub.stop()
    await wait_for(lambda: not coordinator.connected)
    await _check_later(hass, entry, timedelta(days=1))
    assert hass.states.get(stale).state == STATE_OFF  # still within the grace period
