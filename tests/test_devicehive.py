"""A DeviceHive server through Home Assistant, against the simulator over loopback."""

from __future__ import annotations

import json

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_NOT_HOME, STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.fleet_push.const import CONF_HUB_KIND, DOMAIN, EVENT_FLEET_PUSH

from .conftest import SetupHub, StartHub
from .helpers import device_of, entity_exists, entity_id, fixture_text, state_of, wait_for

DOC_NOTIFICATION = "protocols_notification_insert_push.json"
"""protocols.md's notification/insert push: dev-1 at 50.45, 30.52 with 87 % battery."""


def reauth_sources(hass: HomeAssistant) -> list[str]:
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    return [flow["context"]["source"] for flow in flows]


async def test_devices_become_devices_and_entities(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=3)
    hub.devices["dev-3"].status = "Offline"
    entry = await setup_hub("devicehive", hub)
    assert entry.state is ConfigEntryState.LOADED

    server = device_of(hass, entry, "")
    assert server is not None
    assert (server.manufacturer, server.model, server.sw_version) == (
        "DataArt",
        "DeviceHive",
        hub.api_version,
    )
    for device_id, simulated in hub.devices.items():
        device = device_of(hass, entry, device_id)
        assert device is not None
        assert device.via_device_id == server.id
        assert device.name == simulated.name
        assert device.manufacturer == "DeviceHive"
        assert (device.model, device.model_id, device.sw_version, device.serial_number) == (
            None,
            None,
            None,
            None,
        )
        online = state_of(hass, entry, "binary_sensor", device_id, "online")
        assert online.state == (STATE_OFF if device_id == "dev-3" else STATE_ON)
        assert online.attributes["networkId"] == 1
        assert online.attributes["isBlocked"] is False
        assert state_of(hass, entry, "event", device_id, "notification").state == STATE_UNKNOWN
        # Positions and batteries come with notifications only.
        assert not entity_exists(hass, entry, "device_tracker", device_id, "location")
        assert not entity_exists(hass, entry, "sensor", device_id, "battery")

    assert state_of(hass, entry, "binary_sensor", "", "connected").state == STATE_ON


async def test_notifications_make_trackers_batteries_and_events(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=2)
    entry = await setup_hub("devicehive", hub)
    events = async_capture_events(hass, EVENT_FLEET_PUSH)

    await hub.push(fixture_text("devicehive", DOC_NOTIFICATION))
    await wait_for(lambda: entity_exists(hass, entry, "device_tracker", "dev-1", "location"))
    await hass.async_block_till_done()
    location = entity_id(hass, entry, "device_tracker", "dev-1", "location")
    state = hass.states.get(location)
    assert state.state == STATE_NOT_HOME
    assert (state.attributes["latitude"], state.attributes["longitude"]) == (50.45, 30.52)
    assert state.attributes["fix_time"] == "2018-05-25T09:52:54.123000+00:00"
    battery = entity_id(hass, entry, "sensor", "dev-1", "battery")
    assert float(hass.states.get(battery).state) == 87
    assert hass.states.get(battery).attributes["unit_of_measurement"] == "%"
    assert not entity_exists(hass, entry, "device_tracker", "dev-2", "location")
    event = state_of(hass, entry, "event", "dev-1", "notification")
    assert event.attributes["event_type"] == "notification"
    assert event.attributes["name"] == "gps"
    assert event.attributes["id"] == 123
    assert event.attributes["parameters"] == {"lat": 50.45, "lng": 30.52, "battery": 87}
    (doc_event,) = events
    assert doc_event.data["channel"] == doc_event.data["type"] == "notification"
    assert doc_event.data["device_id"] == device_of(hass, entry, "dev-1").id
    assert doc_event.data["source_id"] == "dev-1"
    assert doc_event.data["data"]["timestamp"] == "2018-05-25T09:52:54.123"

    # The simulator's own gps notification: the tracker moves, the battery drains.
    parameters = {"lat": 50.5, "lng": 30.6, "speed": 36.0, "heading": 45.0, "battery": 41}
    await hub.notify("dev-1", "gps", parameters)
    await wait_for(lambda: hass.states.get(location).attributes["latitude"] == 50.5)
    assert hass.states.get(location).attributes["longitude"] == 30.6
    assert hass.states.get(location).attributes["speed"] == 36.0
    assert hass.states.get(location).attributes["heading"] == 45.0
    await wait_for(lambda: float(hass.states.get(battery).state) == 41)

    # An older fix (the vendor sample again, under a new id) never moves the tracker back.
    doc = json.loads(fixture_text("devicehive", DOC_NOTIFICATION))
    doc["notification"]["id"] = 124
    await hub.push(doc)
    await wait_for(lambda: len(events) == 3)
    assert hass.states.get(location).attributes["latitude"] == 50.5

    # Status changes come as the server's $device-update notification.
    online = entity_id(hass, entry, "binary_sensor", "dev-2", "online")
    await hub.set_online("dev-2", online=False)
    await wait_for(lambda: hass.states.get(online).state == STATE_OFF)
    dev2_event = entity_id(hass, entry, "event", "dev-2", "notification")
    await wait_for(lambda: hass.states.get(dev2_event).attributes.get("name") == "$device-update")
    await hub.set_online("dev-2", online=True)
    await wait_for(lambda: hass.states.get(online).state == STATE_ON)
    assert [event.data["source_id"] for event in events] == ["dev-1"] * 3 + ["dev-2"] * 2


async def test_devices_come_and_go(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=2)
    entry = await setup_hub("devicehive", hub)
    server = device_of(hass, entry, "")
    events = async_capture_events(hass, EVENT_FLEET_PUSH)

    added = await hub.add_device("dev-9", "New van")
    await wait_for(lambda: device_of(hass, entry, added))
    await hass.async_block_till_done()
    device = device_of(hass, entry, added)
    assert (device.name, device.manufacturer) == ("New van", "DeviceHive")
    assert device.via_device_id == server.id
    assert state_of(hass, entry, "binary_sensor", added, "online").state == STATE_ON
    # The server's $device-add notification already names the new device and reaches its entity.
    (event,) = events
    assert (event.data["source_id"], event.data["data"]["name"]) == (added, "$device-add")
    assert event.data["device_id"] == device.id
    notification = state_of(hass, entry, "event", added, "notification")
    assert notification.attributes["name"] == "$device-add"

    # DeviceHive announces no deletion: the device goes with the next device/list.
    await hub.notify("dev-2", "gps", {"lat": 50.4, "lng": 30.4, "battery": 60})
    await wait_for(lambda: entity_exists(hass, entry, "sensor", "dev-2", "battery"))
    await hass.async_block_till_done()
    gone = [
        entity_id(hass, entry, "binary_sensor", "dev-2", "online"),
        entity_id(hass, entry, "event", "dev-2", "notification"),
        entity_id(hass, entry, "device_tracker", "dev-2", "location"),
        entity_id(hass, entry, "sensor", "dev-2", "battery"),
    ]
    hub.remove_device("dev-2")
    await hub.drop_connections()
    await wait_for(lambda: device_of(hass, entry, "dev-2") is None)
    await hass.async_block_till_done()
    for removed in gone:
        assert er.async_get(hass).async_get(removed) is None
        assert hass.states.get(removed) is None
    assert device_of(hass, entry, "dev-1") is not None
    assert device_of(hass, entry, added) is not None
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")
    await wait_for(lambda: hass.states.get(connected).state == STATE_ON)


async def test_bad_credentials_at_startup_start_reauthentication(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=1)
    hub.revoke_credentials()
    entry = await setup_hub("devicehive", hub, loaded=False)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert reauth_sources(hass) == [SOURCE_REAUTH]
    await wait_for(lambda: not hub.connections)


async def test_session_ended_by_the_server_starts_reauthentication(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    # Short-lived access tokens: the client renews on the same socket within a second.
    hub = await start_hub("devicehive", devices=1, access_lifetime=1.0)
    entry = await setup_hub("devicehive", hub)
    await hub.wait_for_connections(1)
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")
    assert hass.states.get(connected).state == STATE_ON

    hub.revoke_credentials()
    await wait_for(lambda: hass.states.get(connected).state == STATE_OFF)
    await hass.async_block_till_done()
    assert reauth_sources(hass) == [SOURCE_REAUTH]
    assert entry.state is ConfigEntryState.LOADED
    await wait_for(lambda: not hub.connections)  # no retry storm: it waits for new credentials
    assert any(json.loads(text)["action"] == "token/refresh" for text in hub.received)


async def test_expired_access_token_starts_reauthentication(
    hass: HomeAssistant, start_hub: StartHub
) -> None:
    hub = await start_hub("devicehive", devices=1)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="devicehive hub",
        data={
            CONF_HUB_KIND: "devicehive",
            "url": hub.url,
            "token": hub.issue_token(lifetime=0.5),
            "verify_ssl": True,
        },
        unique_id=f"{hub.host}:{hub.port}:{hub.user_id}",
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")
    assert hass.states.get(connected).state == STATE_ON

    await wait_for(lambda: hass.states.get(connected).state == STATE_OFF, timeout=2.0)
    assert reauth_sources(hass) == [SOURCE_REAUTH]


async def test_unload_closes_the_connection(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=1)
    entry = await setup_hub("devicehive", hub)
    await hub.wait_for_connections(1)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    await wait_for(lambda: not hub.connections)
