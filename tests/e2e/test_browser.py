"""A newcomer's path through a real Home Assistant, in a real browser.

Home Assistant runs as its own process; onboarding and adding a Navixy hub go through its HTTP
API exactly as the frontend calls it; then headless Chromium signs in and looks at the map
dashboard and the devices pages. Each test runs against the pinned Home Assistant and against
the newest one (requirements_e2e_latest.txt); screenshots land in artifacts/, named after the
one they show (e2e-map-pinned.png, e2e-map-latest.png). Deselect with -m "not e2e", or the
newest Home Assistant alone with -k "not latest".
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import ARTIFACTS, USER, Fleet
from .homeassistant import User

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

TIMEOUT_MS = 30_000


async def sign_in(page: Any, url: str, user: User) -> None:
    """Open Home Assistant, fill in the login form and wait for the first dashboard."""
    await page.goto(url)
    await page.locator("input[name=username]").fill(user.username)
    await page.locator("input[name=password]").fill(user.password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(lambda current: "/auth/" not in current, timeout=TIMEOUT_MS)
    await page.locator("ha-sidebar").wait_for(timeout=TIMEOUT_MS)


async def markers_shown(page: Any, wanted: set[str]) -> set[str]:
    """The entity ids of the map's markers, once all the wanted ones are there."""
    markers = page.locator("ha-entity-marker[entity-id]")
    async with asyncio.timeout(TIMEOUT_MS / 1000):
        while True:
            shown = {await marker.get_attribute("entity-id") for marker in await markers.all()}
            if wanted <= shown:
                return shown
            await asyncio.sleep(0.25)


async def test_map_and_devices_in_a_real_browser(browser: Any, fleet: Fleet) -> None:
    url = fleet.client.url
    tracker_ids = {state["entity_id"] for state in fleet.trackers}
    vehicles = {"Vehicle 1", "Vehicle 2", "Vehicle 3"}
    assert {state["attributes"]["friendly_name"] for state in fleet.trackers} == vehicles
    assert {device["name"] for device in fleet.devices} == {fleet.entry["title"], *vehicles}

    ARTIFACTS.mkdir(exist_ok=True)
    page = await browser.new_page()
    try:
        await sign_in(page, url, USER)

        await page.goto(f"{url}/map")
        await page.get_by_text("Devices", exact=True).click()  # the map's device list
        assert tracker_ids <= await markers_shown(page, tracker_ids)
        for name in vehicles:
            await page.get_by_text(name, exact=True).first.wait_for(timeout=TIMEOUT_MS)
        await page.screenshot(path=ARTIFACTS / f"e2e-map-{fleet.environment.name}.png")

        await page.goto(f"{url}/config/devices/dashboard")
        for device in fleet.devices:
            await page.get_by_text(device["name"], exact=True).first.wait_for(timeout=TIMEOUT_MS)
        await page.screenshot(path=ARTIFACTS / f"e2e-devices-{fleet.environment.name}.png")

        vehicle = next(device for device in fleet.devices if device["name"] == "Vehicle 1")
        mine = [entity for entity in fleet.entities if entity["device_id"] == vehicle["id"]]
        assert any(entity["entity_id"] in tracker_ids for entity in mine)
        shown = [entity for entity in mine if not entity["disabled_by"] and entity["original_name"]]
        assert {"Online", "Battery", "Ignition"} <= {entity["original_name"] for entity in shown}
        await page.goto(f"{url}/config/devices/device/{vehicle['id']}")
        for entity in shown:
            name = entity["original_name"]
            await page.get_by_text(name, exact=True).first.wait_for(timeout=TIMEOUT_MS)
        await page.screenshot(path=ARTIFACTS / f"e2e-device-{fleet.environment.name}.png")
    except BaseException:
        await page.screenshot(path=ARTIFACTS / f"e2e-failure-{fleet.environment.name}.png")
        raise
    finally:
        await page.close()


async def test_offline_blueprint_notifies_in_a_real_home_assistant(fleet: Fleet) -> None:
    """The shipped blueprint, loaded by Home Assistant from its blueprints folder."""
    client = fleet.client
    await client.request(
        "POST",
        "/api/config/automation/config/fleet_push_offline",
        {
            "alias": "FleetPush device offline",
            "use_blueprint": {
                "path": "fleet_push/device_offline.yaml",
                "input": {
                    "notify_action": "persistent_notification.create",
                    "duration": {"hours": 0, "minutes": 0, "seconds": 1},
                },
            },
        },
    )
    automation = await wait_for_state(client, "automation.fleetpush_device_offline")
    assert automation["state"] == "on"

    vehicle = next(iter(fleet.hub.trackers.values()))
    device = next(device for device in fleet.devices if device["name"] == vehicle.label)
    online = next(
        entity["entity_id"]
        for entity in fleet.entities
        if entity["device_id"] == device["id"] and entity["original_name"] == "Online"
    )
    assert (await wait_for_state(client, online))["state"] == "on"
    fleet.hub.set_online(vehicle.tracker_id, online=False)
    assert (await wait_for_state(client, online, "off"))["state"] == "off"

    async with asyncio.timeout(30):
        while not (notes := await offline_notifications(client)):
            await asyncio.sleep(0.25)
    assert len(notes) == 1
    assert notes[0]["message"].startswith(f"{vehicle.label} is offline (since ")


async def wait_for_state(client: Any, entity_id: str, value: str | None = None) -> dict[str, Any]:
    """An entity's state once it exists (and has the given value)."""
    async with asyncio.timeout(30):
        while True:
            for state in await client.states():
                if state["entity_id"] == entity_id and value in {None, state["state"]}:
                    return dict(state)
            await asyncio.sleep(0.2)


async def offline_notifications(client: Any) -> list[dict[str, Any]]:
    notifications = await client.ws_command("persistent_notification/get")
    return [note for note in notifications if note["title"] == "FleetPush device offline"]
