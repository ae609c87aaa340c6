"""What map cards read from a tracker: its picture, group and activity."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .conftest import SetupHub, StartHub
from .helpers import entity_id, state_of, wait_for, wait_for_entity


async def test_navixy_trackers_carry_avatar_group_and_activity(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=2)
    first, second = hub.trackers
    hub.trackers[first].group_id = hub.add_group("Depot South", "E53935")
    hub.trackers[second].group_id = hub.add_group("Depot North", "1E88E5")
    hub.set_state(first, movement_status="parked", connection_status="active")
    entry = await setup_hub("navixy", hub)
    for tracker in (first, second):
        await wait_for_entity(hass, entry, "device_tracker", str(tracker), "location")

    plain = state_of(hass, entry, "device_tracker", str(first), "location")
    assert plain.attributes["group"] == "Depot South"
    assert plain.attributes["activity"] == "parked"
    assert "entity_picture" not in plain.attributes  # no avatar of its own, no vehicle

    pictured = state_of(hass, entry, "device_tracker", str(second), "location")
    assert pictured.attributes["group"] == "Depot North"
    picture = pictured.attributes["entity_picture"]
    assert picture == f"{hub.api_url}/static/tracker/avatars/avatar-2.png"
    async with async_get_clientsession(hass).get(picture) as response:  # the hub serves it
        assert response.status == 200
        assert (await response.read()).startswith(b"\x89PNG")

    # Activity follows the hub's movement and connection status, one write per change.
    location = entity_id(hass, entry, "device_tracker", str(first), "location")
    hub.set_state(first, movement_status="moving")
    await wait_for(lambda: hass.states.get(location).attributes["activity"] == "moving")
    hub.set_online(first, online=False)
    await wait_for(lambda: hass.states.get(location).attributes["activity"] == "offline")


async def test_activity_comes_from_speed_where_the_hub_has_no_moving_flag(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("tftiot", devices=1)
    (imei,) = hub.trackers
    hub.trackers[imei].speed = 0
    entry = await setup_hub("tftiot", hub)
    location = await wait_for_entity(hass, entry, "device_tracker", imei, "location")
    assert hass.states.get(location).attributes["activity"] == "parked"
    assert "group" not in hass.states.get(location).attributes  # TFT IoT names no group
    hub.trackers[imei].speed = 42
    await hub.push_snapshot(imei)
    await wait_for(lambda: hass.states.get(location).attributes["activity"] == "moving")
