"""An iClick controller through Home Assistant, against the simulator over loopback."""

from __future__ import annotations

import json

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.fleet_push.const import EVENT_FLEET_PUSH
from custom_components.fleet_push.hubs.iphones import IPHONE_NAMES

from .conftest import SetupHub, StartHub
from .helpers import device_of, entity_id, fixture_text, state_of, wait_for

DOC_CHIP = "XXXXXXXX"
"""The chip board of the vendor page's device:online sample (which carries no deviceId)."""


def devices_requests(hub: object, api: str = "devices") -> int:
    """How many times the client called an API (by default: asked for the device list)."""
    received: list[str] = hub.received  # type: ignore[attr-defined]
    return sum(json.loads(text).get("type") == api for text in received)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")  # device events
async def test_phones_and_controller_become_devices_and_entities(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("iclick", devices=3)
    first = next(iter(hub.devices))
    hub.devices[first].update(online=False, plugged=False, busying=True)
    entry = await setup_hub("iclick", hub)
    assert entry.state is ConfigEntryState.LOADED

    controller = device_of(hass, entry, "")
    assert controller is not None
    assert (controller.manufacturer, controller.model, controller.sw_version) == (
        "iClick",
        "iClick",
        None,
    )
    for phone_id, record in hub.devices.items():
        info = record["info"]
        phone = device_of(hass, entry, phone_id)
        assert phone is not None
        assert phone.via_device_id == controller.id
        assert phone.name == info["deviceName"]
        assert phone.manufacturer == "Apple"
        assert phone.model == IPHONE_NAMES[info["deviceIdentifier"]]  # iClick sends the id only
        assert phone.model_id == info["deviceIdentifier"]
        assert phone.sw_version == info["deviceVersion"]
        assert phone.serial_number is None
        online = state_of(hass, entry, "binary_sensor", phone_id, "online")
        assert online.state == (STATE_OFF if phone_id == first else STATE_ON)
        assert online.attributes["ip"] == info["ipAddress"]
        assert online.attributes["screen"] == f"{info['screenWidth']}x{info['screenHeight']}"
        assert online.attributes["screen_scale"] == info["screenScale"]
        assert online.attributes["language"] == "zh-Hans-CN"
        assert online.attributes["time_zone"] == "Asia/Shanghai"
        usb = state_of(hass, entry, "binary_sensor", phone_id, "usb").state
        busy = state_of(hass, entry, "binary_sensor", phone_id, "busy").state
        assert (usb, busy) == (
            (STATE_OFF, STATE_ON) if phone_id == first else (STATE_ON, STATE_OFF)
        )
        assert state_of(hass, entry, "event", phone_id, "device").state == STATE_UNKNOWN

    assert state_of(hass, entry, "binary_sensor", "", "connected").state == STATE_ON
    assert state_of(hass, entry, "event", "", "device").state == STATE_UNKNOWN


async def test_vendor_doc_online_sample_is_placed_by_its_chip(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("iclick", devices=2)
    phone, other = hub.devices
    hub.devices[phone]["info"]["deviceChip"] = DOC_CHIP
    hub.devices[phone].update(online=False, plugged=False)
    entry = await setup_hub("iclick", hub)
    online = entity_id(hass, entry, "binary_sensor", phone, "online")
    assert hass.states.get(online).state == STATE_OFF

    await hub.push(fixture_text("iclick", "device_online.json"))
    await wait_for(lambda: hass.states.get(online).state == STATE_ON)
    assert state_of(hass, entry, "binary_sensor", phone, "usb").state == STATE_ON
    assert hass.states.get(online).attributes["screen"] == "1179x2556"
    assert hass.states.get(online).attributes["screen_scale"] == 3.0
    device = device_of(hass, entry, phone)
    assert (device.name, device.model_id, device.sw_version) == ("My iPhone", "iPhone15,2", "17.0")
    assert device_of(hass, entry, other).name == hub.devices[other]["info"]["deviceName"]
    assert devices_requests(hub) == 1  # placed without asking the controller again


async def test_vendor_doc_online_sample_of_an_unknown_phone_reloads_the_list(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("iclick", devices=1)
    entry = await setup_hub("iclick", hub)
    # The phone joins the controller's list without an event the client could place.
    newcomer = await hub.add_device("My iPhone", DOC_CHIP, announce=False)

    await hub.push(fixture_text("iclick", "device_online.json"))
    await wait_for(lambda: device_of(hass, entry, newcomer))
    await hass.async_block_till_done()
    assert devices_requests(hub) == 2
    device = device_of(hass, entry, newcomer)
    assert device.name == "My iPhone"
    assert device.via_device_id == device_of(hass, entry, "").id
    assert state_of(hass, entry, "binary_sensor", newcomer, "online").state == STATE_ON


async def test_simulator_events_reach_the_entities(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("iclick", devices=2)
    entry = await setup_hub("iclick", hub)
    phone, _ = hub.devices
    online = entity_id(hass, entry, "binary_sensor", phone, "online")
    busy = entity_id(hass, entry, "binary_sensor", phone, "busy")
    usb = entity_id(hass, entry, "binary_sensor", phone, "usb")

    await hub.set_online(phone, online=False)
    await wait_for(lambda: hass.states.get(online).state == STATE_OFF)
    await hub.set_online(phone, online=True)
    await wait_for(lambda: hass.states.get(online).state == STATE_ON)

    await hub.set_busy(phone, busy=True)
    await wait_for(lambda: hass.states.get(busy).state == STATE_ON)
    await hub.set_busy(phone, busy=False)
    await wait_for(lambda: hass.states.get(busy).state == STATE_OFF)

    await hub.unplug(phone)
    await wait_for(lambda: hass.states.get(usb).state == STATE_OFF)
    await hub.plug(phone)
    await wait_for(lambda: hass.states.get(usb).state == STATE_ON)

    await hub.rename(phone, "Shelf 3, slot 7")
    await wait_for(lambda: device_of(hass, entry, phone).name == "Shelf 3, slot 7")
    assert hass.states.get(online).state == STATE_ON


@pytest.mark.usefixtures("entity_registry_enabled_by_default")  # device events
async def test_reject_and_bindchip_are_events(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("iclick", devices=2)
    entry = await setup_hub("iclick", hub)
    phone, other = hub.devices
    name = hub.devices[phone]["info"]["deviceName"]
    await hub.unplug(other)
    usb = entity_id(hass, entry, "binary_sensor", other, "usb")
    await wait_for(lambda: hass.states.get(usb).state == STATE_OFF)
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    event = entity_id(hass, entry, "event", phone, "device")

    await hub.reject(phone)
    await wait_for(lambda: hass.states.get(event).attributes.get("event_type") == "reject")
    assert hass.states.get(event).attributes["name"] == name
    assert state_of(hass, entry, "binary_sensor", phone, "online").state == STATE_OFF

    other_event = entity_id(hass, entry, "event", other, "device")
    await hub.bindchip(other, "CHIP0042")
    await wait_for(lambda: hass.states.get(other_event).attributes.get("event_type") == "bindchip")
    assert hass.states.get(other_event).attributes["chip"] == "CHIP0042"
    assert hass.states.get(usb).state == STATE_ON
    assert state_of(hass, entry, "event", "", "device").state == STATE_UNKNOWN

    # A phone the controller cannot place (no deviceId, unknown chip and name): the controller.
    stranger = {"info": {"deviceName": "Stranger", "deviceChip": "ZZZZ"}, "online": False}
    await hub.push({"type": "event", "event": "device:reject", "data": stranger})
    controller_event = entity_id(hass, entry, "event", "", "device")
    await wait_for(lambda: hass.states.get(controller_event).attributes.get("name") == "Stranger")
    assert hass.states.get(controller_event).attributes["event_type"] == "reject"
    assert hass.states.get(controller_event).attributes["chip"] == "ZZZZ"
    assert device_of(hass, entry, "ZZZZ") is None
    assert devices_requests(hub) == 1  # a rejected phone is not looked for in the list

    assert [
        (
            event.data["channel"],
            event.data["type"],
            event.data["device_id"],
            event.data["source_id"],
        )
        for event in events
    ] == [
        ("device", "reject", device_of(hass, entry, phone).id, phone),
        ("device", "bindchip", device_of(hass, entry, other).id, other),
        ("device", "reject", device_of(hass, entry, "").id, None),
    ]
    assert events[0].data["data"] == {"name": name}
    assert events[1].data["data"]["chip"] == "CHIP0042"
    assert events[1].data["config_entry_id"] == entry.entry_id


async def test_phones_come_and_go_live(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("iclick", devices=2)
    entry = await setup_hub("iclick", hub)
    first, _ = hub.devices

    added = await hub.add_device(name="New phone")
    await wait_for(lambda: device_of(hass, entry, added))
    await hass.async_block_till_done()
    device = device_of(hass, entry, added)
    assert device.name == "New phone"
    assert device.via_device_id == device_of(hass, entry, "").id
    assert state_of(hass, entry, "binary_sensor", added, "online").state == STATE_ON
    assert state_of(hass, entry, "binary_sensor", added, "usb").state == STATE_ON

    removed = [
        entity_id(hass, entry, "binary_sensor", first, key) for key in ("online", "busy", "usb")
    ]
    removed.append(entity_id(hass, entry, "event", first, "device"))
    await hub.remove_device(first)
    await wait_for(lambda: device_of(hass, entry, first) is None)
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    for removed_id in removed:
        assert registry.async_get(removed_id) is None
        assert hass.states.get(removed_id) is None
    assert device_of(hass, entry, added) is not None
