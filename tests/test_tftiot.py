"""A TFT IoT Open API account through Home Assistant, against the simulator over loopback."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_NOT_HOME, STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.fleet_push.const import DOMAIN, EVENT_FLEET_PUSH

from .conftest import SetupHub, StartHub
from .helpers import device_of, entity_exists, entity_id, state_of, wait_for
from .kinds import tftiot_doc_snapshot
from .simulator.tftiot import VARIANTS

DOC_IMEI = "1000000000112567"
"""The tracker of the vendor page's snapshot sample (data.imei; its status.imei differs)."""


def value(hass: HomeAssistant, entry: MockConfigEntry, imei: str, key: str) -> str:
    """The state of one of a tracker's sensors."""
    return state_of(hass, entry, "sensor", imei, key).state


def reauth_sources(hass: HomeAssistant) -> list[str]:
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    return [flow["context"]["source"] for flow in flows]


@pytest.mark.usefixtures("entity_registry_enabled_by_default")  # signal, satellites
async def test_trackers_become_devices_and_entities(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("tftiot", devices=3)
    first, _, third = hub.trackers
    hub.trackers[first].online = False
    entry = await setup_hub("tftiot", hub)
    assert entry.state is ConfigEntryState.LOADED

    account = device_of(hass, entry, "")
    assert account is not None
    # An account on the platform: no model rather than a placeholder.
    assert (account.manufacturer, account.model, account.sw_version) == ("TFT IoT", None, None)
    for imei, tracker in hub.trackers.items():
        device = device_of(hass, entry, imei)
        assert device is not None
        assert device.via_device_id == account.id
        assert device.name == tracker.name  # the REST device list's config.name
        assert (device.manufacturer, device.model, device.serial_number) == (
            "TFT IoT",
            "T1",
            imei,
        )
        assert (device.model_id, device.sw_version) == (None, None)
        online = state_of(hass, entry, "binary_sensor", imei, "online")
        assert online.state == (STATE_OFF if imei == first else STATE_ON)
        assert online.attributes["link_type"] == "tcp"
        ignition = state_of(hass, entry, "binary_sensor", imei, "ignition").state
        assert ignition == (STATE_OFF if imei == third else STATE_ON)
        assert value(hass, entry, imei, "battery") == str(tracker.battery)
        assert float(value(hass, entry, imei, "mileage")) == pytest.approx(tracker.mileage / 1000)
        assert value(hass, entry, imei, "gsm_signal") == STATE_UNKNOWN
        location = state_of(hass, entry, "device_tracker", imei, "location")
        assert location.attributes["latitude"] == round(tracker.lat, 6)
        assert location.attributes["longitude"] == round(tracker.lng, 6)
        registered = er.async_get(hass).async_get(location.entity_id)
        assert registered.translation_key == "vehicle"  # a vehicle's icon, not a person's
        assert state_of(hass, entry, "event", imei, "alarm").state == STATE_UNKNOWN

    assert state_of(hass, entry, "binary_sensor", "", "connected").state == STATE_ON
    assert state_of(hass, entry, "event", "", "alarm").state == STATE_UNKNOWN
    assert state_of(hass, entry, "event", "", "message").state == STATE_UNKNOWN


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_vendor_doc_snapshot_reaches_the_entities(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("tftiot", devices=1)
    entry = await setup_hub("tftiot", hub)
    # The sample's tracker is not in the account: a REST refresh would remove it again.
    hub.rest_enabled = False

    await hub.push(tftiot_doc_snapshot())
    await wait_for(lambda: entity_exists(hass, entry, "device_tracker", DOC_IMEI, "location"))
    await hass.async_block_till_done()
    device = device_of(hass, entry, DOC_IMEI)
    assert (device.name, device.model, device.serial_number) == (DOC_IMEI, "T1", DOC_IMEI)
    assert device.via_device_id == device_of(hass, entry, "").id

    location = state_of(hass, entry, "device_tracker", DOC_IMEI, "location")
    assert location.state == STATE_NOT_HOME
    assert (location.attributes["latitude"], location.attributes["longitude"]) == (
        14.824593,
        120.482598,
    )
    assert location.attributes["heading"] == 143
    assert location.attributes["altitude"] == 42
    assert location.attributes["speed"] == 0
    assert location.attributes["fix_time"] == "2021-07-31T01:08:02+00:00"
    online = state_of(hass, entry, "binary_sensor", DOC_IMEI, "online")
    assert online.state == STATE_ON
    assert (online.attributes["relay"], online.attributes["link_type"]) == (0, "tcp")
    assert state_of(hass, entry, "binary_sensor", DOC_IMEI, "ignition").state == STATE_ON
    assert value(hass, entry, DOC_IMEI, "battery") == "100"
    assert value(hass, entry, DOC_IMEI, "battery_voltage") == "4.24"
    assert value(hass, entry, DOC_IMEI, "external_voltage") == "28.09"
    assert value(hass, entry, DOC_IMEI, "speed") == "0"
    assert value(hass, entry, DOC_IMEI, "satellites") == "11"
    assert value(hass, entry, DOC_IMEI, "gsm_signal") == STATE_UNKNOWN  # -999: not available
    assert float(value(hass, entry, DOC_IMEI, "mileage")) == pytest.approx(145278.016)
    # Only input 3 is on: the only input or output in use, the only one with an entity.
    assert state_of(hass, entry, "binary_sensor", DOC_IMEI, "input_3").state == STATE_ON
    for number in range(1, 9):
        assert entity_exists(hass, entry, "binary_sensor", DOC_IMEI, f"input_{number}") == (
            number == 3
        )
        assert not entity_exists(hass, entry, "binary_sensor", DOC_IMEI, f"output_{number}")
    assert not entity_exists(hass, entry, "sensor", DOC_IMEI, "altitude")
    assert state_of(hass, entry, "event", DOC_IMEI, "alarm").state == STATE_UNKNOWN  # cur_event 0


@pytest.mark.usefixtures("entity_registry_enabled_by_default")  # signal, satellites
async def test_simulated_status_changes_reach_the_entities(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("tftiot", devices=1)
    entry = await setup_hub("tftiot", hub)
    (imei,) = hub.trackers
    tracker = hub.trackers[imei]
    location = entity_id(hass, entry, "device_tracker", imei, "location")
    start = (hass.states.get(location).attributes["latitude"], tracker.lng)

    # Ignition off, a drained battery, a signal figure, a longer trip, a moving truck.
    tracker.acc = False
    tracker.battery, tracker.battery_voltage, tracker.external_voltage = 35, 3.71, 0.0
    tracker.speed, tracker.satellites, tracker.signal = 57.5, 9, 18
    tracker.mileage = 1_234_567
    await hub.push_snapshot(imei)
    ignition = entity_id(hass, entry, "binary_sensor", imei, "ignition")
    await wait_for(lambda: hass.states.get(ignition).state == STATE_OFF)
    assert value(hass, entry, imei, "battery") == "35"
    assert value(hass, entry, imei, "battery_voltage") == "3.71"
    assert value(hass, entry, imei, "external_voltage") == "0.0"
    assert value(hass, entry, imei, "speed") == "57.5"
    assert value(hass, entry, imei, "satellites") == "9"
    assert value(hass, entry, imei, "gsm_signal") == "58"  # 18 of the modem scale 0-31
    assert float(value(hass, entry, imei, "mileage")) == pytest.approx(1234.567)
    assert hass.states.get(location).attributes["speed"] == 58  # whole km/h

    # A fix marked invalid (latlng_valid 0) is not shown: the last valid one stays.
    tracker.valid, tracker.lat, tracker.signal = False, 10.0, -999
    await hub.push_snapshot(imei)
    await wait_for(lambda: value(hass, entry, imei, "gsm_signal") == STATE_UNKNOWN)
    assert value(hass, entry, imei, "satellites") == "0"
    assert hass.states.get(location).attributes["latitude"] == start[0]
    assert hass.states.get(location).attributes["longitude"] == round(start[1], 6)

    tracker.valid, tracker.lat, tracker.lng = True, 14.9, 120.5
    await hub.push_snapshot(imei)
    await wait_for(lambda: hass.states.get(location).attributes["latitude"] == 14.9)
    assert hass.states.get(location).attributes["longitude"] == 120.5

    online = entity_id(hass, entry, "binary_sensor", imei, "online")
    await hub.set_online(imei, online=False)
    await wait_for(lambda: hass.states.get(online).state == STATE_OFF)
    await hub.set_online(imei, online=True)
    await wait_for(lambda: hass.states.get(online).state == STATE_ON)


async def test_alarms_and_messages_are_events(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("tftiot", devices=2)
    entry = await setup_hub("tftiot", hub)
    imei, _ = hub.trackers
    # The client registers for the message channel right after signing in.
    await wait_for(lambda: any(conn.state.get("messages") for conn in hub.connections))
    events = async_capture_events(hass, EVENT_FLEET_PUSH)
    alarm = entity_id(hass, entry, "event", imei, "alarm")

    await hub.set_cur_event(imei, 5)  # a new alarm number in the tracker's snapshot
    await wait_for(lambda: hass.states.get(alarm).attributes.get("number") == 5)
    assert hass.states.get(alarm).attributes["event_type"] == "alarm"
    await hub.set_cur_event(imei, 5)  # the same number again is no new alarm
    await hub.alarm(imei, 7, "SOS")  # an alarm through the message channel
    await wait_for(lambda: hass.states.get(alarm).attributes.get("number") == 7)
    assert hass.states.get(alarm).attributes["message"] == "SOS"

    message = entity_id(hass, entry, "event", "", "message")
    await hub.send_message("Maintenance tonight")
    await wait_for(lambda: hass.states.get(message).attributes.get("event_type") == "message")
    assert hass.states.get(message).attributes["message"] == "Maintenance tonight"
    assert hass.states.get(message).attributes["from_name"] == "System"
    assert state_of(hass, entry, "event", "", "alarm").state == STATE_UNKNOWN

    tracker = device_of(hass, entry, imei).id
    account = device_of(hass, entry, "").id
    assert [
        (
            event.data["channel"],
            event.data["type"],
            event.data["device_id"],
            event.data["source_id"],
        )
        for event in events
    ] == [
        ("alarm", "alarm", tracker, imei),
        ("alarm", "alarm", tracker, imei),
        ("message", "message", account, None),
    ]
    assert [event.data["data"]["number"] for event in events[:2]] == [5, 7]
    assert events[1].data["data"]["message"] == "SOS"


async def test_trackers_come_and_go(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("tftiot", devices=2)
    entry = await setup_hub("tftiot", hub)
    first, second = hub.trackers

    added = await hub.add_device(name="New truck", model="T2")
    await wait_for(lambda: entity_exists(hass, entry, "device_tracker", added, "location"))
    await hass.async_block_till_done()
    device = device_of(hass, entry, added)
    assert (device.model, device.serial_number) == ("T2", added)
    assert device.via_device_id == device_of(hass, entry, "").id
    assert state_of(hass, entry, "binary_sensor", added, "online").state == STATE_ON

    # The push announces no deletion: the tracker goes with the next REST device list.
    gone = [
        entity_id(hass, entry, "binary_sensor", first, "online"),
        entity_id(hass, entry, "device_tracker", first, "location"),
        entity_id(hass, entry, "sensor", first, "battery"),
        entity_id(hass, entry, "event", first, "alarm"),
    ]
    await hub.remove_device(first)
    await hub.drop_connections()
    await wait_for(lambda: device_of(hass, entry, first) is None)
    await hass.async_block_till_done()
    for removed in gone:
        assert er.async_get(hass).async_get(removed) is None
        assert hass.states.get(removed) is None
    assert device_of(hass, entry, second) is not None
    assert device_of(hass, entry, added).name == "New truck"  # named by the REST list now


async def test_a_tracker_added_live_gets_its_name(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("tftiot", devices=1)
    entry = await setup_hub("tftiot", hub)

    added = await hub.add_device(name="New truck")
    await wait_for(lambda: device_of(hass, entry, added))
    await wait_for(lambda: device_of(hass, entry, added).name == "New truck", timeout=1.0)


async def test_a_hub_closing_without_a_word_is_retried_not_reauthenticated(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    """A socket closed after the sign-in says nothing about the password: retry later."""
    hub = await start_hub("tftiot", devices=1, **VARIANTS["refuse_by_closing"])
    hub.revoke_credentials()
    entry = await setup_hub("tftiot", hub, loaded=False)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert reauth_sources(hass) == []
