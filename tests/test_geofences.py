"""A Navixy account's geofences through Home Assistant: the Geofence sensor, enter and leave
events, and circles shown as zones, against the simulator over loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from homeassistant.core import Event, HomeAssistant, callback
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.fleet_push.const import CONF_MIN_POSITION_INTERVAL, EVENT_FLEET_PUSH
from custom_components.fleet_push.geofence_zones import MAX_ZONES, OPTION

from .conftest import SetupHub, StartHub
from .helpers import entity_exists, state_of, wait_for, wait_for_entity
from .simulator import navixy_zones
from .simulator.navixy import VARIANTS

OUTSIDE = (52.60, 13.20)
DEPOT = (52.5200, 13.4050)
"""The centre of the circle "Depot Mitte" (1.5 km)."""
DEPOT_EDGE = (52.5200 + 0.009, 13.4050)
"""About a kilometre north of the centre: still in the depot."""
TEMPELHOF = (52.4700, 13.4000)
"""Inside the polygon "Tempelhofer Feld"."""
A100 = (52.4875 + 0.001, 13.3700)
"""Within the "Stadtautobahn A100" corridor (300 m)."""
INTEGRATION = Path(__file__).parents[1] / "custom_components/fleet_push"


async def start(start_hub: StartHub, where: tuple[float, float] = OUTSIDE) -> Any:
    hub = await start_hub("navixy", devices=1)
    hub.move(next(iter(hub.trackers)), *where)
    return hub


async def shown_geofence(hass: HomeAssistant, entry: MockConfigEntry, hub: Any, label: str) -> str:
    """The entity id of the hub's one tracker's Geofence sensor, once it shows `label`."""
    sensor = await wait_for_entity(hass, entry, "sensor", hub.fleet_ids()[0], "geofence")
    await wait_for(lambda: hass.states.get(sensor).state == label)
    return sensor


def geofence_events(hass: HomeAssistant) -> list[dict[str, Any]]:
    fired: list[dict[str, Any]] = []

    @callback
    def keep(event: Event) -> None:
        if event.data["channel"] == "geofence":
            fired.append({"type": event.data["type"], **event.data["data"]})

    hass.bus.async_listen(EVENT_FLEET_PUSH, keep)
    return fired


@pytest.mark.usefixtures("entity_registry_enabled_by_default")  # the Geofence event
async def test_entering_and_leaving_geofences(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start(start_hub)
    fired = geofence_events(hass)
    entry = await setup_hub("navixy", hub)
    (tracker_id,) = hub.trackers
    tracker = str(tracker_id)
    sensor = await wait_for_entity(hass, entry, "sensor", tracker, "geofence")
    event = await wait_for_entity(hass, entry, "event", tracker, "geofence")
    await wait_for(lambda: hass.states.get(sensor).state == "none")
    assert hass.states.get(sensor).attributes["geofences"] == []
    assert hass.states.get(event).attributes["event_types"] == ["enter", "leave"]

    hub.move(tracker_id, *DEPOT)
    await wait_for(lambda: hass.states.get(sensor).state == "Depot Mitte")
    state = hass.states.get(sensor)
    assert state.attributes["geofences"] == ["Depot Mitte"]
    assert state.attributes["geofence_ids"] == ["985472"]
    await wait_for(lambda: fired)
    assert fired == [
        {
            "type": "enter",
            "geofence_id": "985472",
            "geofence": "Depot Mitte",
            "kind": "circle",
            "address": "Alexanderplatz 1, Berlin",
        }
    ]
    shown = hass.states.get(event)
    assert shown.attributes["event_type"] == "enter"
    assert shown.attributes["geofence"] == "Depot Mitte"

    # Moving inside the same geofence writes nothing: neither the sensor nor the event.
    location = state_of(hass, entry, "device_tracker", tracker, "location").entity_id
    hub.move(tracker_id, *DEPOT_EDGE)
    await wait_for(lambda: hass.states.get(location).attributes["latitude"] == DEPOT_EDGE[0])
    assert hass.states.get(sensor).last_reported == state.last_reported
    assert len(fired) == 1

    # From one geofence to another: leaving first, then entering.
    hub.move(tracker_id, *TEMPELHOF)
    await wait_for(lambda: hass.states.get(sensor).state == "Tempelhofer Feld")
    await wait_for(lambda: len(fired) == 3)
    assert [(f["type"], f["geofence"]) for f in fired[1:]] == [
        ("leave", "Depot Mitte"),
        ("enter", "Tempelhofer Feld"),
    ]
    hub.move(tracker_id, *A100)
    await wait_for(lambda: hass.states.get(sensor).state == "Stadtautobahn A100")
    hub.move(tracker_id, *OUTSIDE)
    await wait_for(lambda: hass.states.get(sensor).state == "none")
    await wait_for(lambda: len(fired) == 6)
    assert fired[-1]["type"] == "leave"
    assert fired[-1]["kind"] == "corridor"


async def test_several_geofences_at_once_the_smallest_is_shown(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start(start_hub, DEPOT)
    hub.zones.append(navixy_zones.circle(77, "Loading bay", *DEPOT, 50))
    entry = await setup_hub("navixy", hub)
    sensor = await shown_geofence(hass, entry, hub, "Loading bay")
    assert hass.states.get(sensor).attributes["geofences"] == ["Loading bay", "Depot Mitte"]


async def test_a_restart_inside_a_geofence_fires_nothing(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start(start_hub, DEPOT)
    fired = geofence_events(hass)
    entry = await setup_hub("navixy", hub)
    tracker = hub.fleet_ids()[0]
    sensor = await shown_geofence(hass, entry, hub, "Depot Mitte")
    assert fired == []  # where it was found at setup: no event

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(lambda: getattr(hass.states.get(sensor), "state", None) == "Depot Mitte")
    hub.move(int(tracker), *DEPOT_EDGE)  # the first position since the restart: same geofence
    location = state_of(hass, entry, "device_tracker", tracker, "location").entity_id
    await wait_for(lambda: hass.states.get(location).attributes["latitude"] == DEPOT_EDGE[0])
    await hass.async_block_till_done()
    assert fired == []
    hub.move(int(tracker), *OUTSIDE)  # a real change after the restart fires
    await wait_for(lambda: fired)
    assert [f["type"] for f in fired] == ["leave"]


async def test_changed_geofences_are_followed_without_events(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("custom_components.fleet_push.hubs.navixy.RELOAD_INTERVAL", 0.1)
    hub = await start(start_hub, DEPOT)
    fired = geofence_events(hass)
    entry = await setup_hub("navixy", hub)
    sensor = await shown_geofence(hass, entry, hub, "Depot Mitte")

    hub.zones[0]["label"] = "Depot Alex"  # renamed in Navixy
    await wait_for(lambda: hass.states.get(sensor).state == "Depot Alex")
    del hub.zones[0]  # deleted in Navixy
    await wait_for(lambda: hass.states.get(sensor).state == "none")
    assert fired == []  # nothing moved


async def test_an_account_without_geofences_has_no_geofence_entities(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start(start_hub, DEPOT)
    hub.zones.clear()
    entry = await setup_hub("navixy", hub)
    tracker = hub.fleet_ids()[0]
    await wait_for_entity(hass, entry, "device_tracker", tracker, "location")
    await hass.async_block_till_done()
    assert not entity_exists(hass, entry, "sensor", tracker, "geofence")
    assert not entity_exists(hass, entry, "event", tracker, "geofence")


def zone_states(hass: HomeAssistant) -> dict[str, dict[str, Any]]:
    return {
        state.name: dict(state.attributes)
        for state in hass.states.async_all("zone")
        if state.entity_id != "zone.home"
    }


async def test_circle_geofences_as_passive_zones(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("custom_components.fleet_push.hubs.navixy.RELOAD_INTERVAL", 0.1)
    hub = await start(start_hub)
    entry = await setup_hub("navixy", hub, options={OPTION: True})
    await wait_for(lambda: "Depot Mitte" in zone_states(hass))
    depot = zone_states(hass)["Depot Mitte"]
    assert (depot["latitude"], depot["longitude"], depot["radius"]) == (52.52, 13.405, 1500)
    assert depot["passive"] is True
    assert set(zone_states(hass)) == {"Depot Mitte"}  # polygons and corridors have no zone

    hub.zones[0]["radius"] = 900  # changed in Navixy
    await wait_for(lambda: zone_states(hass)["Depot Mitte"]["radius"] == 900)

    hass.config_entries.async_update_entry(entry, options={**entry.options, OPTION: False})
    await wait_for(lambda: not zone_states(hass))
    hass.config_entries.async_update_entry(entry, options={**entry.options, OPTION: True})
    await wait_for(lambda: "Depot Mitte" in zone_states(hass))

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert not zone_states(hass)


async def test_no_more_zones_than_the_smallest_hundred(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start(start_hub)
    hub.zones = [
        navixy_zones.circle(1000 + n, f"Stop {n}", 52.0 + n / 100, 13.0, 100 + n)
        for n in range(MAX_ZONES + 5)
    ]
    await setup_hub("navixy", hub, options={OPTION: True})
    await wait_for(lambda: len(zone_states(hass)) == MAX_ZONES)
    assert f"Stop {MAX_ZONES}" not in zone_states(hass)


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
def test_the_geofence_sensor_has_its_name_and_icon(language: str) -> None:
    strings = json.loads((INTEGRATION / "translations" / f"{language}.json").read_text("utf-8"))
    icons = json.loads((INTEGRATION / "icons.json").read_text("utf-8"))
    sensor = strings["entity"]["sensor"]["geofence"]
    assert sensor["name"]
    assert sensor["state"]["none"]
    assert "geofence" in icons["entity"]["sensor"]


async def test_removing_the_hub_leaves_no_zone_nor_record_behind(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    hass_storage: dict[str, Any],
) -> None:
    hub = await start(start_hub)
    entry = await setup_hub("navixy", hub, options={OPTION: True})
    await wait_for(lambda: "Depot Mitte" in zone_states(hass))
    record = f"fleet_push.{entry.entry_id}.zones"
    await wait_for(lambda: record in hass_storage)
    assert list(hass_storage[record]["data"]) == ["985472"]

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert not zone_states(hass)
    assert record not in hass_storage


async def test_entering_a_geofence_passes_coalescing_at_once(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start(start_hub)
    entry = await setup_hub("navixy", hub, options={CONF_MIN_POSITION_INTERVAL: 3600})
    (tracker_id,) = hub.trackers
    tracker = str(tracker_id)
    sensor = await wait_for_entity(hass, entry, "sensor", tracker, "geofence")
    location = state_of(hass, entry, "device_tracker", tracker, "location").entity_id
    await wait_for(lambda: hass.states.get(location).attributes.get("latitude") == OUTSIDE[0])

    hub.move(tracker_id, OUTSIDE[0] + 0.01, OUTSIDE[1])  # position only: held back
    hub.move(tracker_id, *DEPOT)  # into a geofence: at once
    await wait_for(lambda: hass.states.get(sensor).state == "Depot Mitte")
    assert hass.states.get(location).attributes["latitude"] == DEPOT[0]


@pytest.mark.parametrize("variant", list(VARIANTS))
async def test_every_variant_shows_where_a_tracker_is(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub, variant: str
) -> None:
    """A polygon (whose points may come from zone/point/list) on every behaviour Navixy
    leaves open; a sub-user without the right to geofences has no geofence entities."""
    hub = await start_hub("navixy", devices=1, **VARIANTS[variant])
    hub.move(next(iter(hub.trackers)), *TEMPELHOF)
    entry = await setup_hub("navixy", hub)
    tracker = hub.fleet_ids()[0]
    location = await wait_for_entity(hass, entry, "device_tracker", tracker, "location")
    await wait_for(lambda: hass.states.get(location).attributes.get("latitude") == TEMPELHOF[0])
    await hass.async_block_till_done()
    if not hub.zone_rights:
        assert not entity_exists(hass, entry, "sensor", tracker, "geofence")
        return
    await shown_geofence(hass, entry, hub, "Tempelhofer Feld")


async def test_diagnostics_do_not_say_which_geofence_a_tracker_is_in(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    hass_client: ClientSessionGenerator,
) -> None:
    """A geofence's label says where a tracker is, as its position does."""
    hub = await start(start_hub, DEPOT)
    entry = await setup_hub("navixy", hub)
    await shown_geofence(hass, entry, hub, "Depot Mitte")
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    (device,) = diagnostics["devices"]
    assert device["values"]["geofence"] == "**REDACTED**"
    assert "Depot Mitte" not in str(diagnostics)
