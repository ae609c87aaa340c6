"""Groups: the hubs' own groupings as attributes and suggested areas, and partial import."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import area_registry as ar, device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fleet_push.hubs.declaration import GROUPS_OPTION
from custom_components.fleet_push.hubs.navixy_groups import (
    Grouping,
    read_groups,
)
from custom_components.fleet_push.hubs.values import names_by_id

from .conftest import SetupHub, StartHub, coordinator_of
from .helpers import device_of, state_of, wait_for, wait_for_entity
from .simulator.imouse import result


def area_name(hass: HomeAssistant, entry: MockConfigEntry, device_id: str) -> str | None:
    device = device_of(hass, entry, device_id)
    assert device is not None
    area = ar.async_get(hass).async_get_area(device.area_id) if device.area_id else None
    return area.name if area else None


def grouped_navixy(hub: Any) -> tuple[int, int, int]:
    """Vans (with the night shift tag), Trucks, and the default group: the three trackers."""
    vans, trucks = hub.add_group("Vans", "FF6DDC"), hub.add_group("Trucks", "2196F3")
    night = hub.add_tag("Night shift", "3F51B5")
    first, second, third = hub.trackers
    hub.trackers[first].group_id = vans
    hub.trackers[first].tags.append(night)
    hub.trackers[second].group_id = trucks
    return first, second, third


def subscribed_trackers(hub: Any) -> list[Any]:
    """The target of every state_batch subscription the simulator received."""
    frames = [json.loads(text) for text in hub.received if text.startswith("{")]
    return [
        request["target"]
        for frame in frames
        if frame.get("action") == "subscribe"
        for request in frame["requests"]
    ]


async def test_navixy_groups_and_tags_are_attributes_and_suggested_areas(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=3)
    first, second, third = grouped_navixy(hub)
    entry = await setup_hub("navixy", hub)
    await wait_for_entity(hass, entry, "binary_sensor", str(third), "online")

    online = state_of(hass, entry, "binary_sensor", str(first), "online")
    assert online.attributes["group"] == "Vans"
    assert online.attributes["group_color"] == "FF6DDC"
    assert online.attributes["tags"] == ["Night shift"]
    assert area_name(hass, entry, str(first)) == "Vans"
    assert area_name(hass, entry, str(second)) == "Trucks"
    assert area_name(hass, entry, str(third)) is None  # the default group suggests nothing
    assert coordinator_of(entry).client.offered(GROUPS_OPTION) == {"Vans", "Trucks", "Night shift"}

    # The user's choice stays: another area, or none at all, survives a new device list.
    depot = ar.async_get(hass).async_get_or_create("Depot")
    devices = dr.async_get(hass)
    devices.async_update_device(device_of(hass, entry, str(first)).id, area_id=depot.id)  # type: ignore[union-attr]
    devices.async_update_device(device_of(hass, entry, str(second)).id, area_id=None)  # type: ignore[union-attr]
    hub.trackers[first].label = "Van 1 renamed"
    await coordinator_of(entry).client.reload_fleet()
    await hass.async_block_till_done()
    assert device_of(hass, entry, str(first)).name == "Van 1 renamed"  # type: ignore[union-attr]
    assert area_name(hass, entry, str(first)) == "Depot"
    assert area_name(hass, entry, str(second)) is None


async def test_imouse_groups_suggest_areas_and_ungrouped_phones_none(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=2)
    grouped, ungrouped = hub.devices
    hub.groups[4] = "Shelf A"
    hub.devices[grouped].update(gid=4, gname="Shelf A")
    entry = await setup_hub("imouse", hub)
    await wait_for_entity(hass, entry, "binary_sensor", ungrouped, "online")
    assert area_name(hass, entry, grouped) == "Shelf A"
    assert area_name(hass, entry, ungrouped) is None
    assert state_of(hass, entry, "binary_sensor", grouped, "online").attributes["group"] == (
        "Shelf A"
    )


async def test_navixy_brings_in_only_the_chosen_groups_and_tags(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=3)
    first, second, third = grouped_navixy(hub)
    entry = await setup_hub("navixy", hub, options={GROUPS_OPTION: ["Night shift"]})
    coordinator = coordinator_of(entry)
    await wait_for(lambda: str(first) in coordinator.devices)
    assert set(coordinator.devices) - {""} == {str(first)}
    assert subscribed_trackers(hub)[-1] == {"type": "selected", "tracker_ids": [first]}

    # Another choice applies at once: the hub is listed and subscribed to again.
    hass.config_entries.async_update_entry(entry, options={GROUPS_OPTION: ["Trucks", "Vans"]})
    await wait_for(lambda: str(second) in coordinator.devices and coordinator.connected, 10)
    await hass.async_block_till_done()
    assert set(coordinator.devices) - {""} == {str(first), str(second)}
    assert subscribed_trackers(hub)[-1] == {
        "type": "selected",
        "tracker_ids": sorted([first, second]),
    }

    hass.config_entries.async_update_entry(entry, options={GROUPS_OPTION: []})  # every tracker
    await wait_for(lambda: str(third) in coordinator.devices and coordinator.connected, 10)
    assert subscribed_trackers(hub)[-1] == {"type": "all"}


def test_what_navixy_says_of_groups_is_read_with_care() -> None:
    groups = read_groups(
        [{"id": 1, "title": " Vans ", "color": "FF6DDC"}, {"id": 2, "title": ""}, "x", {"id": "3"}]
    )
    tags = names_by_id([{"id": 3, "name": "Night"}, {"id": True, "name": "bool"}, None])
    assert groups == {1: ("Vans", "FF6DDC")}
    assert tags == {3: "Night"}
    grouping = Grouping(groups, tags)
    item = {"group_id": 1, "tag_bindings": [3, 99, "3"], "source": {"tariff_end_date": "junk"}}
    assert grouping.extras(item) == {"group": "Vans", "group_color": "FF6DDC", "tags": ["Night"]}
    assert grouping.chosen(item, {"Night"})
    assert grouping.chosen(item, set())
    assert not grouping.chosen({"group_id": 0, "tag_bindings": None}, {"Vans"})


async def test_imouse_brings_in_only_the_chosen_groups(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=3)
    first, second, third = hub.devices
    hub.groups.update({1: "Shelf A", 2: "Shelf B"})
    hub.devices[first].update(gid=1, gname="Shelf A")
    hub.devices[second].update(gid=2, gname="Shelf B")
    entry = await setup_hub("imouse", hub, options={GROUPS_OPTION: ["Shelf A"]})
    coordinator = coordinator_of(entry)
    assert set(coordinator.devices) - {""} == {first}
    assert coordinator.client.offered(GROUPS_OPTION) == {"Shelf A", "Shelf B", "未分组"}

    # A phone moved out of the chosen groups leaves; one moved in arrives.
    record = hub.devices[first]
    record.update(gid=2, gname="Shelf B")
    await hub.push_callback("dev_change", result(list=[record]))
    await wait_for(lambda: first not in coordinator.devices)
    hub.devices[third].update(gid=1, gname="Shelf A")
    await hub.push_callback("dev_change", result(list=[hub.devices[third]]))
    await wait_for(lambda: third in coordinator.devices)

    hass.config_entries.async_update_entry(entry, options={GROUPS_OPTION: []})  # every phone
    await wait_for(lambda: set(coordinator.devices) - {""} == {first, second, third})


async def test_devicehive_networks_and_device_types(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=2)
    first, second = hub.devices
    hub.networks[2] = "Warehouse"
    hub.devices[second].network_id = 2
    hub.devices[second].device_type_id = 7  # a type the server does not list
    entry = await setup_hub("devicehive", hub)
    await wait_for_entity(hass, entry, "binary_sensor", second, "online")
    online = state_of(hass, entry, "binary_sensor", first, "online")
    assert (online.attributes["network"], online.attributes["device_type"]) == (
        "Couriers",
        "GPS tracker",
    )
    other = state_of(hass, entry, "binary_sensor", second, "online")
    assert other.attributes["network"] == "Warehouse"
    assert "device_type" not in other.attributes
    assert area_name(hass, entry, first) == "Couriers"
    assert area_name(hass, entry, second) == "Warehouse"


async def test_a_devicehive_token_without_the_lists_still_connects(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=1)
    (device,) = hub.devices
    hub.forbidden.add("network/list")  # a token without GET_NETWORK
    entry = await setup_hub("devicehive", hub)
    online = await wait_for_entity(hass, entry, "binary_sensor", device, "online")
    attributes = hass.states.get(online).attributes  # type: ignore[union-attr]
    assert "network" not in attributes
    assert attributes["device_type"] == "GPS tracker"
    assert area_name(hass, entry, device) is None
    assert coordinator_of(entry).stats.dropped["request_failed"] == 1


def subscribed_networks(hub: Any) -> list[Any]:
    """The networkIds of every notification/subscribe the server received."""
    frames = [json.loads(text) for text in hub.received]
    return [
        frame.get("networkIds") for frame in frames if frame["action"] == "notification/subscribe"
    ]


async def test_devicehive_brings_in_only_the_chosen_networks(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=3)
    first, second, third = hub.devices
    hub.networks[2] = "Warehouse"
    hub.devices[third].network_id = 2
    entry = await setup_hub("devicehive", hub, options={GROUPS_OPTION: ["Couriers"]})
    coordinator = coordinator_of(entry)
    assert set(coordinator.devices) - {""} == {first, second}
    assert subscribed_networks(hub)[-1] == [1]  # the server sends the chosen networks' alone
    assert coordinator.client.offered(GROUPS_OPTION) == {"Couriers", "Warehouse"}

    await hub.notify(third, "gps", {"lat": 50.1, "lng": 30.1})  # filtered by the server
    await hub.move_to_network(third, 1)  # moved in: followed from its $device-update on
    await wait_for(lambda: third in coordinator.devices)

    await hub.move_to_network(first, 2)  # moved out: gone with the next device list
    await coordinator.client.reload_fleet()
    await wait_for(lambda: first not in coordinator.devices)

    hass.config_entries.async_update_entry(entry, options={GROUPS_OPTION: []})  # every device
    await wait_for(lambda: first in coordinator.devices and coordinator.connected, 10)
    assert subscribed_networks(hub)[-1] is None


async def test_devicehive_passes_over_other_networks_when_the_server_sends_them(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=2)
    first, second = hub.devices
    hub.networks[2] = "Warehouse"
    hub.devices[second].network_id = 2
    hub.forbidden.add("network/list")  # no names: every notification comes
    entry = await setup_hub("devicehive", hub, options={GROUPS_OPTION: ["Warehouse"]})
    coordinator = coordinator_of(entry)
    assert set(coordinator.devices) == {""}  # no network is known by that name
    before = len([text for text in hub.received if '"device/list"' in text])
    frames = coordinator.stats.frames
    await hub.notify(first, "gps", {"lat": 50.1, "lng": 30.1})
    await hub.notify(first, "$device-update", hub.devices[first].record())
    await wait_for(lambda: coordinator.stats.frames >= frames + 2)  # both reached the client
    await hass.async_block_till_done()
    assert set(coordinator.devices) == {""}
    assert len([text for text in hub.received if '"device/list"' in text]) == before
