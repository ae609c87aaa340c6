"""The coordinator's fleet across connections, and the supervisor's back-off between them.

Restarts, silent hubs and the grace period are tested for every hub kind in
test_reliability.py; diagnostics in test_diagnostics.py; removing a device in test_init.py.
"""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant

from custom_components.fleet_push import supervisor
from custom_components.fleet_push.hubs import client_class

from .conftest import SetupHub, StartHub
from .helpers import device_of, entity_id, wait_for


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
    with patch.object(client_class("tftiot"), "snapshot_window", 0.1):
        entry = await setup_hub("tftiot", hub)
        trackers = list(hub.trackers)
        assert all(device_of(hass, entry, tracker) for tracker in trackers)

        hub.snapshot_on_signin = False  # after a reconnect, nobody reports in the window
        await hub.drop_connections()
        connected = entity_id(hass, entry, "binary_sensor", "", "connected")
        await wait_for(lambda: hass.states.get(connected).state == STATE_OFF)
        await wait_for(lambda: hass.states.get(connected).state == STATE_ON)
        await hass.async_block_till_done()
    assert all(device_of(hass, entry, tracker) for tracker in trackers)
