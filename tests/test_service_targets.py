"""fleet_push.send_command to areas, labels and hubs: every FleetPush device they hold."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.const import ATTR_AREA_ID, ATTR_DEVICE_ID, ATTR_LABEL_ID
from homeassistant.core import HomeAssistant, ServiceResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import area_registry as ar, device_registry as dr, label_registry as lr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fleet_push.const import DOMAIN
from custom_components.fleet_push.services import SERVICE_SEND_COMMAND

from .conftest import SetupHub, StartHub
from .helpers import registry_id


def restarted(hub: Any) -> list[str]:
    """The phones the kernel was asked to restart, in order."""
    frames = [json.loads(text) for text in hub.received]
    return [frame["data"]["id"] for frame in frames if frame.get("fun") == "/device/restart"]


async def restart(hass: HomeAssistant, **target: Any) -> ServiceResponse:
    return await hass.services.async_call(
        DOMAIN,
        SERVICE_SEND_COMMAND,
        {**target, "command": "/device/restart"},
        blocking=True,
        return_response=True,
    )


async def test_an_area_restarts_every_phone_in_it_and_nothing_else(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=3)
    entry = await setup_hub("imouse", hub)
    first, second, third = hub.devices
    shelf = ar.async_get(hass).async_get_or_create("Shelf A")
    devices = dr.async_get(hass)
    for phone in (first, second):
        devices.async_update_device(registry_id(hass, entry, phone), area_id=shelf.id)
    lamp_entry = MockConfigEntry(domain="other_integration")
    lamp_entry.add_to_hass(hass)
    lamp = devices.async_get_or_create(
        config_entry_id=lamp_entry.entry_id, identifiers={("other_integration", "lamp")}
    )
    devices.async_update_device(lamp.id, area_id=shelf.id)  # not FleetPush's: passed over

    response = await restart(hass, **{ATTR_AREA_ID: shelf.id})
    assert sorted(result["device_id"] for result in response["results"]) == sorted(
        registry_id(hass, entry, phone) for phone in (first, second)
    )
    assert all(result["ok"] for result in response["results"])
    assert sorted(restarted(hub)) == sorted([first, second])
    assert third not in restarted(hub)


async def test_a_label_and_a_device_together_command_each_device_once(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=3)
    entry = await setup_hub("imouse", hub)
    first, second, _ = hub.devices
    night = lr.async_get(hass).async_create("Night shift")
    for phone in (first, second):
        dr.async_get(hass).async_update_device(
            registry_id(hass, entry, phone), labels={night.label_id}
        )
    named = registry_id(hass, entry, first)

    response = await restart(hass, **{ATTR_DEVICE_ID: [named], ATTR_LABEL_ID: night.label_id})
    ids = [result["device_id"] for result in response["results"]]
    assert ids[0] == named  # devices named directly come first
    assert sorted(ids) == sorted(registry_id(hass, entry, phone) for phone in (first, second))
    assert sorted(restarted(hub)) == sorted([first, second])


async def test_a_hub_stands_for_all_its_devices_with_a_result_each(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=3)
    entry = await setup_hub("imouse", hub)
    phones = list(hub.devices)
    offline = phones[2]
    await hub.set_online(offline, False)

    response = await restart(hass, **{ATTR_DEVICE_ID: registry_id(hass, entry, "")})
    results = {result["device_id"]: result for result in response["results"]}
    assert set(results) == {registry_id(hass, entry, phone) for phone in phones}
    assert results[registry_id(hass, entry, offline)]["ok"] is False  # refused by the kernel
    assert sum(result["ok"] for result in results.values()) == 2
    assert sorted(restarted(hub)) == sorted(phones)  # each sent once, the offline one too


async def test_targets_without_a_fleet_push_device_are_refused(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=1)
    await setup_hub("imouse", hub)
    empty = ar.async_get(hass).async_get_or_create("Empty room")
    for target in ({ATTR_AREA_ID: empty.id}, {}):
        with pytest.raises(ServiceValidationError) as refused:
            await restart(hass, **target)
        assert refused.value.translation_key == "no_targets"
    assert restarted(hub) == []
