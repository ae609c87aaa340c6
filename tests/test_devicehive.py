"""A DeviceHive server through Home Assistant, against the simulator over loopback."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import json
from typing import Any

from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.const import STATE_NOT_HOME, STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.fleet_push.const import (
    CONF_GRACE_PERIOD,
    CONF_HUB_KIND,
    CONF_MIN_POSITION_INTERVAL,
    DOMAIN,
    EVENT_FLEET_PUSH,
)
from custom_components.fleet_push.hubs.devicehive import EVENTS_OPTION, OFFLINE_AFTER_OPTION
from custom_components.fleet_push.identity import device_identifier, hub_scope
from custom_components.fleet_push.migration import CURRENT_VERSION
from custom_components.fleet_push.supervisor import RECONNECT_CAP

from .conftest import SetupHub, StartHub, coordinator_of, entry_data
from .helpers import device_of, entity_exists, entity_id, fixture_text, state_of, wait_for
from .kinds import DOC_NOTIFICATION

FAST_OFFLINE = 0.01
"""Minutes: 0.6 s without a notification makes a device offline."""


def reauth_sources(hass: HomeAssistant) -> list[str]:
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    return [flow["context"]["source"] for flow in flows]


def online(hass: HomeAssistant, entry: MockConfigEntry, device: str) -> str:
    return state_of(hass, entry, "binary_sensor", device, "online").state


def fleet_devices(hass: HomeAssistant, entry: MockConfigEntry) -> list[dr.DeviceEntry]:
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    return [device for device in devices if device.via_device_id is not None]


async def token_entry(hass: HomeAssistant, hub: Any, token: str) -> MockConfigEntry:
    """Set up a hub signed in with a token instead of a login."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="devicehive hub",
        data={CONF_HUB_KIND: "devicehive", "url": hub.url, "token": token, "verify_ssl": True},
        unique_id=f"{hub.host}:{hub.port}:{hub.user_id}",
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def test_devices_become_devices_and_entities(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=3)
    hub.devices["dev-3"].is_blocked = True
    entry = await setup_hub("devicehive", hub)
    assert entry.state is ConfigEntryState.LOADED

    server = device_of(hass, entry, "")
    assert server is not None
    assert (server.manufacturer, server.model, server.sw_version) == (
        "DataArt",
        "DeviceHive",
        hub.api_version,
    )
    # Every device notified moments ago (the fleet runs): online once the server is asked.
    await wait_for(lambda: online(hass, entry, "dev-1") == STATE_ON)
    for device_id, simulated in hub.devices.items():
        device = device_of(hass, entry, device_id)
        assert device is not None
        assert device.via_device_id == server.id
        assert device.name == simulated.name
        # DeviceHive records name no maker or model: nothing shown rather than a placeholder.
        assert (device.manufacturer, device.model, device.model_id) == (None, None, None)
        assert (device.sw_version, device.serial_number) == (None, None)
        shown = state_of(hass, entry, "binary_sensor", device_id, "online")
        assert shown.state == (STATE_OFF if device_id == "dev-3" else STATE_ON)
        assert shown.attributes["networkId"] == 1
        assert shown.attributes["isBlocked"] is (device_id == "dev-3")
        # Most devices never send an event: their Notification entity starts disabled.
        notification = entity_id(hass, entry, "event", device_id, "notification")
        assert er.async_get(hass).async_get(notification).disabled_by is (
            er.RegistryEntryDisabler.INTEGRATION
        )
        # Positions and batteries come with notifications only; the fleet's history is not
        # replayed at setup.
        assert not entity_exists(hass, entry, "device_tracker", device_id, "location")
        assert not entity_exists(hass, entry, "sensor", device_id, "battery")

    assert state_of(hass, entry, "binary_sensor", "", "connected").state == STATE_ON


async def test_a_fleet_of_2000_devices_appears_whole(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    """The server pages device/list by 20 unless asked: all 2,000 come, and a reload keeps them."""
    hub = await start_hub("devicehive", devices=2000)
    entry = await setup_hub("devicehive", hub)
    assert len(fleet_devices(hass, entry)) == 2000
    await wait_for(lambda: online(hass, entry, "dev-2000") == STATE_ON, timeout=20)
    on = [
        state
        for state in hass.states.async_all("binary_sensor")
        if state.entity_id.endswith("_online") and state.state == STATE_ON
    ]
    assert len(on) == 2000

    await coordinator_of(entry).client.reload_fleet()
    await hass.async_block_till_done()
    assert len(fleet_devices(hass, entry)) == 2000


async def test_a_reload_never_removes_a_device_the_server_still_has(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=150)
    entry = await setup_hub("devicehive", hub)
    client = coordinator_of(entry).client

    async def add_between_pages(request: dict[str, Any]) -> None:
        if request.get("skip") and "dev-0" not in hub.devices:  # sorts first: pages shift by one
            await hub.add_device("dev-0", "A new one", announce=False)

    hub.before_device_list = add_between_pages
    hub.remove_device("dev-7")
    await client.reload_fleet()
    await hass.async_block_till_done()
    assert len(fleet_devices(hass, entry)) == 150  # not sure of the list: nothing removed

    await client.reload_fleet()  # the fleet holds still this time
    await hass.async_block_till_done()
    assert device_of(hass, entry, "dev-7") is None
    assert device_of(hass, entry, "dev-0") is not None
    assert len(fleet_devices(hass, entry)) == 150


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_notifications_make_trackers_and_batteries_not_events(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    """A position and a battery: shown by the tracker and the battery sensor, no event."""
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
    assert er.async_get(hass).async_get(location).translation_key == "tracker"  # not a person
    battery = entity_id(hass, entry, "sensor", "dev-1", "battery")
    assert float(hass.states.get(battery).state) == 87
    assert hass.states.get(battery).attributes["unit_of_measurement"] == "%"
    assert not entity_exists(hass, entry, "device_tracker", "dev-2", "location")

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
    await hub.notify("dev-1", "gps", {"battery": 40})
    await wait_for(lambda: float(hass.states.get(battery).state) == 40)
    assert hass.states.get(location).attributes["latitude"] == 50.5

    # Blocking comes as the server's $device-update notification: Online shows it.
    await wait_for(lambda: online(hass, entry, "dev-2") == STATE_ON)
    await hub.block("dev-2")
    await wait_for(lambda: online(hass, entry, "dev-2") == STATE_OFF)
    await hub.block("dev-2", blocked=False)
    await wait_for(lambda: online(hass, entry, "dev-2") == STATE_ON)

    notification = state_of(hass, entry, "event", "dev-1", "notification")
    assert (notification.state, notification.attributes["event_types"]) == (STATE_UNKNOWN, [])
    assert events == []


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_notifications_that_say_more_are_events_of_their_own_name(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=1)
    entry = await setup_hub("devicehive", hub)
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    notification = entity_id(hass, entry, "event", "dev-1", "notification")

    delivered = await hub.notify("dev-1", "delivery", {"parcel": "P-7", "lat": 50.5, "lng": 30.6})
    await wait_for(lambda: len(events) == 1)
    (event,) = events
    assert (event.data["channel"], event.data["type"]) == ("notification", "delivery")
    assert event.data["device_id"] == device_of(hass, entry, "dev-1").id
    assert event.data["source_id"] == "dev-1"
    assert event.data["data"] == {
        "parameters": {"parcel": "P-7", "lat": 50.5, "lng": 30.6},
        "id": delivered["id"],
        "timestamp": delivered["timestamp"],
    }
    await wait_for(lambda: hass.states.get(notification).state != STATE_UNKNOWN)
    shown = hass.states.get(notification)
    assert shown.attributes["event_type"] == "delivery"
    assert shown.attributes["event_types"] == ["delivery"]
    assert shown.attributes["parameters"]["parcel"] == "P-7"
    registered = er.async_get(hass).async_get(notification)
    assert registered.capabilities == {"event_types": ["delivery"]}  # automations can pick it
    assert entity_exists(hass, entry, "device_tracker", "dev-1", "location")  # and it moved

    await hub.notify("dev-1", "door", {"open": True})
    await wait_for(lambda: hass.states.get(notification).attributes["event_type"] == "door")
    assert hass.states.get(notification).attributes["event_types"] == ["delivery", "door"]
    assert [event.data["type"] for event in events] == ["delivery", "door"]


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_the_user_chooses_which_notifications_are_events(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    """Chosen names are events whatever they carry, known to the entity before they come."""
    hub = await start_hub("devicehive", devices=1)
    entry = await setup_hub("devicehive", hub)
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    await hub.notify("dev-1", "gps", {"battery": 50})
    await hub.notify("dev-1", "door", {"open": True})
    await wait_for(lambda: len(events) == 1)

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    names = result["data_schema"].schema[EVENTS_OPTION].config["options"]
    assert names == ["door", "gps"]  # what the server sent lately, to pick from
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "grace_period": 60,
            "min_position_interval": 0,
            OFFLINE_AFTER_OPTION: 15,
            EVENTS_OPTION: [" gps", "gps", "bell", ""],
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[EVENTS_OPTION] == ["bell", "gps"]
    await hass.async_block_till_done()
    await hub.notify("dev-1", "gps", {"battery": 49})
    await hub.notify("dev-1", "door", {"open": False})
    await hub.notify("dev-1", "bell", {})
    await wait_for(lambda: len(events) == 3)
    assert [event.data["type"] for event in events] == ["door", "gps", "bell"]

    # After a restart the entity knows what it had and what was chosen, before any comes.
    notification = entity_id(hass, entry, "event", "dev-1", "notification")
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(lambda: hass.states.get(notification) is not None)
    assert hass.states.get(notification).attributes["event_types"] == ["door", "gps", "bell"]


async def test_a_notification_entity_learns_a_bounded_number_of_types(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A device that names every notification anew cannot grow its entity without end."""
    monkeypatch.setattr("custom_components.fleet_push.event.MAX_NAMED_TYPES", 2)
    hub = await start_hub("devicehive", devices=1)
    entry = await setup_hub("devicehive", hub)
    entity_registry = er.async_get(hass)
    notification = entity_id(hass, entry, "event", "dev-1", "notification")
    entity_registry.async_update_entity(notification, disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    for number in range(3):
        await hub.notify("dev-1", f"reading-{number}", {"value": number})
    await wait_for(lambda: len(events) == 3)  # every one reaches automations
    await hass.async_block_till_done()
    shown = hass.states.get(notification)
    assert shown.attributes["event_types"] == ["reading-0", "reading-1"]
    assert shown.attributes["event_type"] == "reading-1"


async def test_online_follows_notifications_and_the_offline_period(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=2)
    entry = await setup_hub("devicehive", hub, options={OFFLINE_AFTER_OPTION: FAST_OFFLINE})
    await wait_for(lambda: online(hass, entry, "dev-1") == STATE_OFF)  # quiet for 0.6 s
    assert online(hass, entry, "dev-2") == STATE_OFF

    await hub.notify("dev-1", "gps", {"battery": 80})
    await wait_for(lambda: online(hass, entry, "dev-1") == STATE_ON)
    assert online(hass, entry, "dev-2") == STATE_OFF
    await wait_for(lambda: online(hass, entry, "dev-1") == STATE_OFF)

    result = await hass.config_entries.options.async_init(entry.entry_id)  # as the user does
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_GRACE_PERIOD: 60, CONF_MIN_POSITION_INTERVAL: 0, OFFLINE_AFTER_OPTION: 30},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    await hub.notify("dev-1", "gps", {"battery": 79})
    await wait_for(lambda: online(hass, entry, "dev-1") == STATE_ON)
    await asyncio.sleep(1.0)  # longer than the old period (wall time): the new one applies
    assert online(hass, entry, "dev-1") == STATE_ON
    assert hub.accepted == 1  # applied without a reconnect


async def test_an_old_servers_status_wins(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=2, with_status=True)
    await hub.set_online("dev-2", False)
    entry = await setup_hub("devicehive", hub)
    assert online(hass, entry, "dev-1") == STATE_ON
    assert online(hass, entry, "dev-2") == STATE_OFF
    await hub.notify("dev-2", "gps", {"battery": 5})
    await wait_for(lambda: entity_exists(hass, entry, "sensor", "dev-2", "battery"))
    assert online(hass, entry, "dev-2") == STATE_OFF
    await hub.set_online("dev-1", False)
    await wait_for(lambda: online(hass, entry, "dev-1") == STATE_OFF)


async def test_devices_come_and_go(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=2)
    entry = await setup_hub("devicehive", hub)
    server = device_of(hass, entry, "")
    events = async_capture_events(hass, EVENT_FLEET_PUSH)

    # The server's $device-add notification names the new device: a device, not an event.
    added = await hub.add_device("dev-9", "New van")
    await wait_for(lambda: device_of(hass, entry, added))
    await hass.async_block_till_done()
    device = device_of(hass, entry, added)
    assert (device.name, device.manufacturer) == ("New van", None)
    assert device.via_device_id == server.id
    assert online(hass, entry, added) == STATE_UNKNOWN  # registered, not heard from yet
    assert events == []
    await hub.notify(added, "gps", {"battery": 99})
    await wait_for(lambda: online(hass, entry, added) == STATE_ON)

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


async def test_missed_notifications_arrive_once_in_time_order(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    """Over 100 missed (the server replays at most 100 of them, in no order): all, once."""
    hub = await start_hub("devicehive", devices=3, replay_all=True)
    # Chosen: every gps notification is an event, so the events show each one delivered.
    entry = await setup_hub("devicehive", hub, options={EVENTS_OPTION: ["gps"]})
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")

    await hub.stop()
    await wait_for(lambda: hass.states.get(connected).state == STATE_OFF)
    missed = [
        await hub.notify(f"dev-{number % 3 + 1}", "gps", {"lat": 50 + number / 1000, "lng": 30})
        for number in range(150)
    ]
    await hub.start()
    await wait_for(lambda: len(events) >= 150, timeout=10)
    await hass.async_block_till_done()
    assert [event.data["data"]["id"] for event in events] == [item["id"] for item in missed]
    for number in (1, 2, 3):
        location = entity_id(hass, entry, "device_tracker", f"dev-{number}", "location")
        latest = missed[-4 + number]["parameters"]["lat"]
        assert hass.states.get(location).attributes["latitude"] == latest


async def test_a_future_dated_notification_does_not_lose_later_ones(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=2)
    entry = await setup_hub("devicehive", hub, options={EVENTS_OPTION: ["gps"]})
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")
    future = datetime(2100, 1, 1, tzinfo=UTC)
    await hub.notify("dev-1", "gps", {"lat": 1, "lng": 2}, timestamp=future)
    await wait_for(lambda: len(events) == 1)

    await hub.stop()
    await wait_for(lambda: hass.states.get(connected).state == STATE_OFF)
    missed = [await hub.notify("dev-2", "gps", {"battery": level}) for level in (70, 60)]
    await hub.start()
    await wait_for(lambda: len(events) == 3, timeout=10)
    assert [event.data["data"]["id"] for event in events[1:]] == [item["id"] for item in missed]
    battery = entity_id(hass, entry, "sensor", "dev-2", "battery")
    assert float(hass.states.get(battery).state) == 60
    await hub.notify("dev-1", "gps", {"battery": 1})
    await wait_for(lambda: len(events) == 4)  # the 2100 one came only once


async def test_an_expired_access_token_keeps_the_stream(
    hass: HomeAssistant, start_hub: StartHub
) -> None:
    """The server keeps the session past the token's expiry; the next sign-in decides."""
    hub = await start_hub("devicehive", devices=1)
    entry = await token_entry(hass, hub, hub.issue_token(lifetime=0.5))
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")
    assert hass.states.get(connected).state == STATE_ON

    await asyncio.sleep(0.8)  # the token has expired
    await hub.notify("dev-1", "status", {"temperature": 21})
    await wait_for(lambda: len(events) == 1)
    assert hass.states.get(connected).state == STATE_ON
    assert reauth_sources(hass) == []

    await hub.drop_connections()
    await wait_for(lambda: reauth_sources(hass) == [SOURCE_REAUTH])
    assert hass.states.get(connected).state == STATE_OFF
    assert entry.state is ConfigEntryState.LOADED


async def test_a_revoked_refresh_token_asks_for_reauthentication(
    hass: HomeAssistant, start_hub: StartHub
) -> None:
    """token/refresh answers 500 for a token it cannot verify: reauthenticate, no retry loop."""
    hub = await start_hub("devicehive", devices=1)
    token = hub.refresh_token
    entry = await token_entry(hass, hub, token)
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")

    hub.revoke_credentials()
    await hub.drop_connections()
    await wait_for(lambda: reauth_sources(hass) == [SOURCE_REAUTH])
    assert hass.states.get(connected).state == STATE_OFF
    accepted = hub.accepted
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=2 * RECONNECT_CAP))
    await hass.async_block_till_done()
    await asyncio.sleep(0.3)  # for anything woken to reach the server
    assert hub.accepted == accepted  # past every back-off, it waits for new credentials

    # The form says so too.
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "devicehive"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": hub.url, "token": token}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}


async def test_a_refused_renewal_waits_for_the_next_sign_in(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    """Credentials revoked mid-session: the stream goes on; the reconnect asks for new ones."""
    hub = await start_hub("devicehive", devices=1, access_lifetime=1.0)
    entry = await setup_hub("devicehive", hub)
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")

    hub.revoke_credentials()
    await wait_for(lambda: any('"token/refresh"' in text for text in hub.received))
    await hub.notify("dev-1", "status", {"temperature": 21})
    await wait_for(lambda: len(events) == 1)
    assert hass.states.get(connected).state == STATE_ON
    assert reauth_sources(hass) == []

    await hub.drop_connections()
    await wait_for(lambda: reauth_sources(hass) == [SOURCE_REAUTH])
    await wait_for(lambda: not hub.connections)  # no retry storm: it waits for new credentials
    assert entry.state is ConfigEntryState.LOADED


async def test_a_maker_an_older_version_made_up_is_cleared(
    hass: HomeAssistant, start_hub: StartHub
) -> None:
    """Earlier versions showed "DeviceHive" as every device's maker: gone on the next start."""
    hub = await start_hub("devicehive", devices=1)
    data, unique_id = entry_data("devicehive", hub)
    entry = MockConfigEntry(domain=DOMAIN, data=data, unique_id=unique_id, version=CURRENT_VERSION)
    entry.add_to_hass(hass)
    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={device_identifier(hub_scope(entry), "dev-1")},
        manufacturer="DeviceHive",
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    device = device_of(hass, entry, "dev-1")
    assert (device.name, device.manufacturer) == ("Tracker 1", None)
