"""Each hub its own identity in Home Assistant's registries, and the migration to it."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.fleet_push.const import CONF_HUB_KIND, DOMAIN
from custom_components.fleet_push.identity import (
    CONNECTION_IMEI,
    HardwareClaims,
    device_identifier,
    entity_unique_id,
    hardware_ids,
    hub_scope,
)

from .conftest import SetupHub, StartHub, entry_data
from .helpers import device_of, entity_id, registry_id, wait_for


async def linked_devices(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, device_id: str
) -> list[str]:
    """What the device page lists as "linked devices ... managed by other integrations"."""
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "config/device_registry/list_linked_devices", "device_id": device_id}
    )
    reply = await client.receive_json()
    assert reply["success"], reply
    linked: list[str] = reply["result"]["linked_devices"]
    return linked


async def test_two_hubs_of_one_kind_with_the_same_device_ids_stay_apart(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    hass_ws_client: WebSocketGenerator,
) -> None:
    first_hub, second_hub = await start_hub("iclick"), await start_hub("iclick")
    assert list(first_hub.devices) == list(second_hub.devices)  # the same seed, the same ids
    first = await setup_hub("iclick", first_hub)
    second = await setup_hub("iclick", second_hub)
    phone = next(iter(first_hub.devices))
    mine, theirs = registry_id(hass, first, phone), registry_id(hass, second, phone)

    assert mine != theirs
    for entry in (first, second):
        for device_id in ("", phone):
            device = registry_id(hass, entry, device_id)
            assert await linked_devices(hass, hass_ws_client, device) == []
    assert entity_id(hass, first, "binary_sensor", phone, "online") != entity_id(
        hass, second, "binary_sensor", phone, "online"
    )


async def test_hubs_of_different_kinds_list_no_foreign_devices(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    hass_ws_client: WebSocketGenerator,
) -> None:
    entries = [
        await setup_hub(kind, await start_hub(kind)) for kind in ("imouse", "navixy", "iclick")
    ]
    for entry in entries:
        for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id):
            assert await linked_devices(hass, hass_ws_client, device.id) == [], device.name


async def test_removing_one_hub_leaves_the_other_intact(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    first_hub, second_hub = await start_hub("iclick"), await start_hub("iclick")
    first = await setup_hub("iclick", first_hub)
    second = await setup_hub("iclick", second_hub)
    phone = next(iter(second_hub.devices))
    online = entity_id(hass, second, "binary_sensor", phone, "online")

    assert await hass.config_entries.async_remove(first.entry_id)
    await hass.async_block_till_done()

    assert dr.async_entries_for_config_entry(dr.async_get(hass), first.entry_id) == []
    assert device_of(hass, second, phone) is not None
    assert device_of(hass, second, "") is not None
    assert hass.states.get(online).state == "on"


async def test_phones_reporting_one_mac_stay_two_devices(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=3)
    first, second, third = hub.devices
    for phone in (first, second):
        hub.devices[phone]["mac"] = "A4:83:E7:11:22:33"
    entry = await setup_hub("imouse", hub)
    devices = dr.async_get(hass)

    one, two = device_of(hass, entry, first), device_of(hass, entry, second)
    assert one is not None
    assert two is not None
    assert one.id != two.id
    assert one.connections == two.connections == set()  # nobody's MAC: it is not unique
    assert device_of(hass, entry, third).connections == {
        (dr.CONNECTION_NETWORK_MAC, hub.devices[third]["mac"].lower())
    }

    await hub.remove_device(first)
    await wait_for(lambda: device_of(hass, entry, first) is None)
    survivor = devices.async_get(two.id)
    assert survivor is not None
    assert entity_id(hass, entry, "binary_sensor", second, "online")
    # The MAC is its alone now: the registry says so.
    assert survivor.connections == {(dr.CONNECTION_NETWORK_MAC, "a4:83:e7:11:22:33")}


async def test_a_device_named_like_the_hub_is_a_device_of_its_own(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("iclick", devices=1)
    record = next(iter(hub.devices.values()))
    hub.devices = {"hub": {**record, "info": {**record["info"], "deviceId": "hub"}}}
    entry = await setup_hub("iclick", hub)

    phone, kernel = device_of(hass, entry, "hub"), device_of(hass, entry, "")
    assert phone is not None
    assert kernel is not None
    assert phone.id != kernel.id
    assert entity_id(hass, entry, "event", "hub", "device") != entity_id(
        hass, entry, "event", "", "device"
    )


def test_only_real_hardware_ids_are_connections() -> None:
    assert hardware_ids("A4-83-E7-11-22-33", None) == {
        (dr.CONNECTION_NETWORK_MAC, "a4:83:e7:11:22:33")
    }
    for placeholder in ("02:00:00:00:00:00", "00:00:00:00:00:00", "FF:FF:FF:FF:FF:FF"):
        assert hardware_ids(placeholder, None) == frozenset(), placeholder
    assert hardware_ids("01:00:5e:00:00:01", None) == frozenset()  # multicast
    assert hardware_ids("not a mac", None) == frozenset()
    assert hardware_ids(None, "490154203237518") == {(CONNECTION_IMEI, "490154203237518")}
    assert hardware_ids(None, "490154203237519") == frozenset()  # wrong check digit
    assert hardware_ids(None, "000000000000000") == frozenset()
    assert hardware_ids(None, "12345") == frozenset()


def test_a_hardware_id_reported_twice_belongs_to_nobody_until_one_is_gone() -> None:
    mac = frozenset({(dr.CONNECTION_NETWORK_MAC, "a4:83:e7:11:22:33")})
    claims = HardwareClaims()
    assert claims.claim("a", mac) == set()
    assert claims.owned_by("a") == set(mac)
    assert claims.claim("b", mac) == {"a"}  # a must give it up
    assert claims.owned_by("a") == claims.owned_by("b") == set()
    assert claims.claim("b", mac) == set()  # nothing new
    assert claims.forget("b") == {"a"}
    assert claims.owned_by("a") == set(mac)
    assert claims.claim("a", frozenset()) == set()
    assert claims.owned_by("a") == set()


def test_ids_stay_unambiguous_whatever_the_hub_calls_its_devices() -> None:
    scope = "127.0.0.1:9911"
    ids = ["", "hub", "a", "a_b", "a/b", "a%2Fb", "x:y", "ü", "device:1"]
    identifiers = {device_identifier(scope, device_id) for device_id in ids}
    unique_ids = {
        entity_unique_id(scope, device_id, key) for device_id in ids for key in ("b", "b_c")
    }
    assert len(identifiers) == len(ids)
    assert len(unique_ids) == 2 * len(ids)


# --- migration from version 1 ---


@pytest.mark.parametrize("kind", ["imouse"])
async def test_version_1_registries_keep_ids_history_and_customisations(
    hass: HomeAssistant, start_hub: StartHub, kind: str
) -> None:
    hub = await start_hub(kind, devices=2)
    first, second = hub.devices
    data, unique_id = entry_data(kind, hub)
    entry = MockConfigEntry(
        domain=DOMAIN, title="iMouse XP", data=data, unique_id=unique_id, version=1
    )
    entry.add_to_hass(hass)
    assert data[CONF_HUB_KIND] == kind
    devices, entities = dr.async_get(hass), er.async_get(hass)
    garage = ar.async_get(hass).async_create("Garage")

    def old_device(identifier: str, name: str) -> dr.DeviceEntry:
        return devices.async_get_or_create(
            config_entry_id=entry.entry_id, identifiers={(DOMAIN, identifier)}, name=name
        )

    def old_entity(domain: str, fleet_id: str, key: str, **changes: Any) -> er.RegistryEntry:
        registry_device = old_device("hub" if not fleet_id else f"device:{fleet_id}", "x")
        created = entities.async_get_or_create(
            domain,
            DOMAIN,
            f"{unique_id}_{fleet_id or 'hub'}_{key}",
            config_entry=entry,
            device_id=registry_device.id,
        )
        return entities.async_update_entity(created.entity_id, **changes)

    kernel = old_device("hub", "Kernel")
    phone = old_device(f"device:{first}", "Phone")
    devices.async_update_device(phone.id, name_by_user="My phone", area_id=garage.id)
    online = old_entity("binary_sensor", first, "online", name="Phone up")
    usb = old_entity("binary_sensor", second, "usb", disabled_by=er.RegistryEntryDisabler.USER)
    connected = old_entity("binary_sensor", "", "connected")

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.version == 2
    scope = hub_scope(entry)
    migrated = devices.async_get(phone.id)
    assert migrated is not None
    assert migrated.identifiers == {device_identifier(scope, first)}
    assert (migrated.name_by_user, migrated.area_id) == ("My phone", garage.id)
    assert devices.async_get(kernel.id).identifiers == {device_identifier(scope, "")}
    for before, fleet_id, key in (
        (online, first, "online"),
        (usb, second, "usb"),
        (connected, "", "connected"),
    ):
        after = entities.async_get(before.entity_id)
        assert after is not None
        assert after.unique_id == entity_unique_id(scope, fleet_id, key)
    assert entities.async_get(online.entity_id).name == "Phone up"
    assert entities.async_get(usb.entity_id).disabled_by is er.RegistryEntryDisabler.USER
    assert hass.states.get(online.entity_id).state == "on"
    # No second device or entity appeared for what was migrated.
    assert len(dr.async_entries_for_config_entry(devices, entry.entry_id)) == 3
    assert [
        item.entity_id
        for item in er.async_entries_for_config_entry(entities, entry.entry_id)
        if item.unique_id == entity_unique_id(scope, first, "online")
    ] == [online.entity_id]


async def test_an_entry_of_a_newer_fleetpush_is_not_loaded(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(domain=DOMAIN, data={CONF_HUB_KIND: "imouse"}, version=3)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
