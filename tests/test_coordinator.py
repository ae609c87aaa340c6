"""The connection's life: restarts, silence, the grace period, stale devices, diagnostics."""

from __future__ import annotations

from datetime import timedelta
import logging
from unittest.mock import patch

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.fleet_push import supervisor
from custom_components.fleet_push.const import CONF_GRACE_PERIOD
from custom_components.fleet_push.hubs.connection import Timing
from custom_components.fleet_push.hubs.imouse import IMouseClient

from .conftest import SetupHub, StartHub, coordinator_of
from .helpers import entity_id, wait_for

LOST = "Lost connection to"
RESTORED = "restored"


def log_count(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(
        text in record.getMessage()
        for record in caplog.records
        if record.name.startswith("custom_components.fleet_push")
    )


async def test_hub_restart_reconnects_and_resynchronizes(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="custom_components.fleet_push")
    hub = await start_hub("imouse", devices=2)
    entry = await setup_hub("imouse", hub)
    first, second = list(hub.devices)
    online = entity_id(hass, entry, "binary_sensor", first, "online")
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")

    await hub.stop()
    await wait_for(lambda: hass.states.get(connected).state == STATE_OFF)
    hub.devices[first]["state"] = 0  # changed while FleetPush could not see it
    del hub.devices[second]  # and deleted
    assert hass.states.get(online).state == STATE_ON  # still within the grace period

    await hub.start()
    await wait_for(lambda: hass.states.get(connected).state == STATE_ON)
    await wait_for(lambda: hass.states.get(online).state == STATE_OFF)
    await wait_for(
        lambda: (
            dr.async_get(hass).async_get_device_by_identifier(
                coordinator_of(entry).registry.identifier(second), entry.entry_id
            )
            is None
        )
    )
    assert log_count(caplog, LOST) == 1
    assert log_count(caplog, RESTORED) == 1


async def test_entities_turn_unavailable_only_after_the_grace_period(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="custom_components.fleet_push")
    hub = await start_hub("imouse", devices=1)
    entry = await setup_hub("imouse", hub, options={CONF_GRACE_PERIOD: 30})
    (phone,) = hub.devices
    online = entity_id(hass, entry, "binary_sensor", phone, "online")
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")

    await hub.stop()
    await wait_for(lambda: hass.states.get(connected).state == STATE_OFF)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=20))
    await hass.async_block_till_done()
    assert hass.states.get(online).state == STATE_ON

    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=31))
    await hass.async_block_till_done()
    assert hass.states.get(online).state == STATE_UNAVAILABLE
    assert hass.states.get(connected).state == STATE_OFF  # the hub sensor always shows

    await hub.start()
    await wait_for(lambda: hass.states.get(online).state == STATE_ON)
    assert log_count(caplog, LOST) == 1  # however many attempts failed meanwhile
    assert log_count(caplog, RESTORED) == 1


async def test_a_silent_hub_is_detected(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=1, user_info_interval=0.1)
    with patch.object(IMouseClient, "default_timing", return_value=Timing(silence_timeout=0.6)):
        entry = await setup_hub("imouse", hub)
        connected = entity_id(hass, entry, "binary_sensor", "", "connected")
        hub.stop_answering()
        await wait_for(lambda: hass.states.get(connected).state == STATE_OFF, timeout=3)
        hub.resume_answering()
        await hub.drop_connections()  # the dead socket is gone; the hub answers again
        await wait_for(lambda: hass.states.get(connected).state == STATE_ON, timeout=3)


def test_back_off_grows_to_a_cap_with_jitter() -> None:
    with patch.object(supervisor, "RECONNECT_FIRST", 2.0):
        delays = [supervisor.reconnect_delay(attempt) for attempt in range(12)]
    assert 1.0 <= delays[0] <= 2.0
    assert all(delay <= supervisor.RECONNECT_CAP for delay in delays)
    assert delays[-1] >= supervisor.RECONNECT_CAP / 2


async def test_a_partial_device_list_removes_nothing(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("tftiot", devices=2)
    hub.rest_enabled = False  # the list is only the trackers that report after sign-in
    with patch("custom_components.fleet_push.hubs.tftiot.TftIotClient.snapshot_window", 0.1):
        entry = await setup_hub("tftiot", hub)
        first, second = list(hub.trackers)
        assert set(entry.runtime_data.devices) == {"", first, second}

        hub.snapshot_on_signin = False  # after a reconnect, nobody reports in the window
        await hub.drop_connections()
        connected = entity_id(hass, entry, "binary_sensor", "", "connected")
        await wait_for(lambda: hass.states.get(connected).state == STATE_OFF)
        await wait_for(lambda: hass.states.get(connected).state == STATE_ON)
    assert set(entry.runtime_data.devices) == {"", first, second}
