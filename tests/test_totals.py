"""Totals per hub: devices online, offline, moving and busy, on the hub device."""

from __future__ import annotations

from homeassistant.components.sensor import ATTR_STATE_CLASS, SensorStateClass
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, MATCH_ALL
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fleet_push.fleet import Device
from custom_components.fleet_push.hubs.model import DeviceDetails, Field
from custom_components.fleet_push.sensor import FleetPushSensor
from custom_components.fleet_push.totals import MAX_LISTED, FleetTotals

from .conftest import SetupHub, StartHub
from .helpers import entity_exists, state_of, wait_for, wait_for_entity


def _total(hass: HomeAssistant, entry: MockConfigEntry, key: str) -> str:
    return state_of(hass, entry, "sensor", "", key).state


async def test_navixy_totals_follow_transitions(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=3)
    first, second, third = hub.trackers
    hub.set_state(first, movement_status="moving")
    hub.set_state(second, movement_status="parked")
    hub.set_state(third, movement_status="parked")
    entry = await setup_hub("navixy", hub)
    online = await wait_for_entity(hass, entry, "sensor", "", "total_online")
    await wait_for(lambda: hass.states.get(online).state == "3")
    assert _total(hass, entry, "total_offline") == "0"
    assert _total(hass, entry, "total_moving") == "1"
    assert not entity_exists(hass, entry, "sensor", "", "total_busy")  # trackers are never busy
    offline = state_of(hass, entry, "sensor", "", "total_offline")
    assert offline.attributes["offline_devices"] == []
    for key in ("total_online", "total_offline", "total_moving"):
        state = state_of(hass, entry, "sensor", "", key)
        assert state.attributes[ATTR_STATE_CLASS] == SensorStateClass.MEASUREMENT
        assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == "devices"

    hub.set_online(second, online=False)
    hub.set_state(first, movement_status="parked")
    await wait_for(lambda: _total(hass, entry, "total_offline") == "1")
    assert _total(hass, entry, "total_online") == "2"
    offline = state_of(hass, entry, "sensor", "", "total_offline")
    assert offline.attributes["offline_devices"] == [hub.trackers[second].label]
    await wait_for(lambda: _total(hass, entry, "total_moving") == "0")

    await hub.remove_tracker(second)
    await wait_for(lambda: _total(hass, entry, "total_offline") == "0")
    assert _total(hass, entry, "total_online") == "2"


async def test_phones_busy_total_and_unrecorded_list(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("iclick", devices=2)
    phone, other = hub.fleet_ids()
    entry = await setup_hub("iclick", hub)
    busy = await wait_for_entity(hass, entry, "sensor", "", "total_busy")
    await hub.set_busy(phone, busy=True)
    await hub.set_busy(other, busy=False)
    await wait_for(lambda: hass.states.get(busy).state == "1")
    await hub.set_online(other, online=False)
    await wait_for(lambda: _total(hass, entry, "total_offline") == "1")
    assert not entity_exists(hass, entry, "sensor", "", "total_moving")
    offline = state_of(hass, entry, "sensor", "", "total_offline")
    assert offline.attributes["offline_devices"] == [hub.devices[other]["info"]["deviceName"]]
    assert MATCH_ALL in FleetPushSensor._unrecorded_attributes  # the list is never recorded


def test_a_device_counts_once_and_a_long_list_is_cut() -> None:
    totals = FleetTotals(frozenset({Field.ONLINE, Field.MOVING}))
    devices = [Device(str(n), DeviceDetails(name=f"Van {n:03}")) for n in range(MAX_LISTED + 5)]
    for device in devices:
        device.values[Field.ONLINE] = False
        assert totals.note(device)
        assert not totals.note(device)  # nothing changed: not published again
    assert totals.values() == {
        Field.TOTAL_ONLINE: 0,
        Field.TOTAL_MOVING: 0,
        Field.TOTAL_OFFLINE: MAX_LISTED + 5,
    }
    assert len(totals.offline_names()) == MAX_LISTED
    assert totals.offline_names()[0] == "Van 000"
    devices[0].values[Field.ONLINE] = None  # unknown is neither online nor offline
    assert totals.note(devices[0])
    assert totals.values()[Field.TOTAL_OFFLINE] == MAX_LISTED + 4
    assert totals.forget("1")
    assert not totals.forget("1")


def test_a_hub_that_counts_its_online_devices_gets_no_second_online_total() -> None:
    kernel = FleetTotals(frozenset({Field.ONLINE, Field.DEVICES_ONLINE}))
    phone = Device("p1")
    phone.values[Field.ONLINE] = False
    assert kernel.note(phone)
    assert kernel.values() == {Field.TOTAL_OFFLINE: 1}  # "Devices online" is the kernel's
    assert FleetTotals(frozenset({Field.ONLINE})).values() == {
        Field.TOTAL_ONLINE: 0,
        Field.TOTAL_OFFLINE: 0,
    }
