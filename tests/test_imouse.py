"""An iMouse XP kernel through Home Assistant, against the simulator over loopback."""

from __future__ import annotations

from datetime import UTC, datetime
import json

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.fleet_push.const import DOMAIN, EVENT_FLEET_PUSH

from .conftest import SetupHub, StartHub
from .helpers import device_of, entity_id, fixture_text, state_of, wait_for, wait_for_entity

DOC_PHONE = "9A:97:4E:C9:54:71"
"""The phone of vendor doc 002's dev_connect and dev_disconnect samples."""


async def test_phones_and_kernel_become_devices_and_entities(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=3)
    entry = await setup_hub("imouse", hub)
    assert entry.state is ConfigEntryState.LOADED

    kernel = device_of(hass, entry, "")
    assert kernel is not None
    assert (kernel.manufacturer, kernel.model, kernel.sw_version) == (
        "iMouse",
        "iMouse XP",
        hub.version,
    )
    for number, (phone_id, record) in enumerate(hub.devices.items()):
        phone = device_of(hass, entry, phone_id)
        assert phone is not None
        assert phone.via_device_id == kernel.id
        assert phone.manufacturer == "Apple"
        assert phone.model == record["device_name"]
        assert phone.model_id == record["model"]
        assert phone.sw_version == record["version"]
        assert phone.name == record["user_name"]
        assert (dr.CONNECTION_NETWORK_MAC, record["mac"].lower()) in phone.connections
        assert state_of(hass, entry, "binary_sensor", phone_id, "online").state == STATE_ON
        usb = state_of(hass, entry, "binary_sensor", phone_id, "usb").state
        assert usb == (STATE_ON if number != 2 else STATE_OFF)

    assert state_of(hass, entry, "binary_sensor", "", "connected").state == STATE_ON
    assert state_of(hass, entry, "sensor", "", "devices").state == "3"
    assert state_of(hass, entry, "sensor", "", "devices_online").state == "3"
    assert state_of(hass, entry, "event", "", "kernel_log").state == STATE_UNKNOWN


async def test_vendor_doc_frames_reach_the_entities(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=1)
    entry = await setup_hub("imouse", hub)
    events = async_capture_events(hass, EVENT_FLEET_PUSH)

    await hub.push(fixture_text("imouse", "dev_connect.json"))
    await wait_for(lambda: device_of(hass, entry, DOC_PHONE))
    await hass.async_block_till_done()
    phone = device_of(hass, entry, DOC_PHONE)
    assert phone is not None
    assert (phone.name, phone.model, phone.model_id, phone.sw_version) == (
        "Ss的xx",
        "iPhone 16 Pro",
        "iPhone17,1",
        "18.2",
    )
    online = entity_id(hass, entry, "binary_sensor", DOC_PHONE, "online")
    assert hass.states.get(online).state == STATE_ON
    assert hass.states.get(online).attributes["ip"] == "192.168.9.100"
    assert state_of(hass, entry, "binary_sensor", DOC_PHONE, "usb").state == STATE_OFF

    await hub.push(fixture_text("imouse", "dev_disconnect.json"))
    await wait_for(lambda: hass.states.get(online).state == STATE_OFF)

    await hub.push(fixture_text("imouse", "user_info.json"))
    expires = entity_id(hass, entry, "sensor", "", "licence_expires")
    await wait_for(lambda: hass.states.get(expires).state.startswith("2023"))
    assert datetime.fromisoformat(hass.states.get(expires).state) == datetime.fromtimestamp(
        1683288910, UTC
    )
    assert state_of(hass, entry, "sensor", "", "licences_total").state == "0"
    assert state_of(hass, entry, "sensor", "", "licences_local").state == "100"
    assert state_of(hass, entry, "sensor", "", "devices").state == "16"
    assert state_of(hass, entry, "sensor", "", "devices_online").state == "0"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"licence_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_key == "licence_expired"

    await hub.push(fixture_text("imouse", "im_log.json"))
    log = entity_id(hass, entry, "event", "", "kernel_log")
    await wait_for(lambda: hass.states.get(log).attributes.get("event_type") == "log")
    assert hass.states.get(log).attributes["message"] == "未登录，不允许上线"
    await hub.push(fixture_text("imouse", "error_push.json"))
    await wait_for(lambda: hass.states.get(log).attributes.get("event_type") == "error")
    assert hass.states.get(log).attributes["call_fun"] == "/mouse/down"
    assert [(event.data["type"], event.data["device_id"]) for event in events] == [
        ("log", device_of(hass, entry, "").id),
        ("error", device_of(hass, entry, "").id),
    ]

    await hub.push(fixture_text("imouse", "logout.json"))
    await wait_for(lambda: hass.states.get(log).attributes.get("event_type") == "logout")
    assert entry.state is ConfigEntryState.LOADED


async def test_a_log_about_a_phone_is_on_that_phones_page(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=2)
    entry = await setup_hub("imouse", hub)
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    phone, other = hub.devices
    log = entity_id(hass, entry, "event", phone, "phone_log")
    assert hass.states.get(log).state == STATE_UNKNOWN
    assert hass.states.get(log).name == "Phone 001 Log"
    assert er.async_get(hass).async_get(log).entity_category is EntityCategory.DIAGNOSTIC

    restart = entity_id(hass, entry, "button", phone, "restart")
    await hass.services.async_call(
        "button", "press", {"entity_id": restart}, blocking=True
    )  # the kernel logs the restart
    await wait_for(lambda: hass.states.get(log).attributes.get("event_type") == "restart")
    assert hass.states.get(log).attributes["message"] == "重启成功"
    assert state_of(hass, entry, "event", other, "phone_log").state == STATE_UNKNOWN
    assert state_of(hass, entry, "event", "", "kernel_log").state == STATE_UNKNOWN
    (event,) = events
    assert (event.data["channel"], event.data["type"]) == ("phone_log", "restart")
    assert (event.data["device_id"], event.data["source_id"]) == (
        device_of(hass, entry, phone).id,
        phone,
    )

    # A phone the kernel never listed has no page: its log stays on the kernel, with its id.
    frame = json.loads(fixture_text("imouse", "restart_log.json"))
    frame["data"]["id"] = "AA:BB:CC:DD:EE:FF"
    await hub.push(json.dumps(frame))
    kernel_log = entity_id(hass, entry, "event", "", "kernel_log")
    await wait_for(lambda: hass.states.get(kernel_log).attributes.get("event_type") == "restart")
    assert hass.states.get(kernel_log).attributes["device_id"] == "AA:BB:CC:DD:EE:FF"


async def test_devices_come_and_go_live(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=2)
    entry = await setup_hub("imouse", hub)
    first, second = list(hub.devices)

    added = await hub.add_device(online=True, bound=False, name="New phone")
    await wait_for(lambda: device_of(hass, entry, added))
    await hass.async_block_till_done()
    assert state_of(hass, entry, "binary_sensor", added, "online").state == STATE_ON
    assert device_of(hass, entry, added).name == "New phone"

    online = entity_id(hass, entry, "binary_sensor", first, "online")
    await hub.remove_device(first)
    await wait_for(lambda: device_of(hass, entry, first) is None)
    await hass.async_block_till_done()
    assert er.async_get(hass).async_get(online) is None
    assert hass.states.get(online) is None

    await hub.set_usb(second, connected=False)
    usb = entity_id(hass, entry, "binary_sensor", second, "usb")
    await wait_for(lambda: hass.states.get(usb).state == STATE_OFF)
    await hub.set_usb(second, connected=True)
    await wait_for(lambda: hass.states.get(usb).state == STATE_ON)


async def test_hardware_links_to_phone_and_computer_are_two_sensors(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=1)
    entry = await setup_hub("imouse", hub)
    (phone,) = hub.fleet_ids()
    usb = entity_id(hass, entry, "binary_sensor", phone, "usb")
    assert hass.states.get(usb).state == STATE_ON

    await hub.set_computer_link(phone, False)  # usb_change 20
    computer = await wait_for_entity(hass, entry, "binary_sensor", phone, "usb_computer")
    await wait_for(lambda: hass.states.get(computer).state == STATE_OFF)
    assert hass.states.get(computer).name == "Phone 001 USB hardware to computer"
    assert hass.states.get(usb).state == STATE_ON  # the phone's own link did not change

    await hub.set_usb(phone, connected=False)  # usb_change 13
    await wait_for(lambda: hass.states.get(usb).state == STATE_OFF)
    await hub.rotate(phone)  # a record: the hardware is still bound, the link still cut
    await hub.set_computer_link(phone, True)  # usb_change 19
    await wait_for(lambda: hass.states.get(computer).state == STATE_ON)
    assert hass.states.get(usb).state == STATE_OFF
