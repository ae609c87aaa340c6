"""A newcomer's path through a real Home Assistant, in a real browser.

Home Assistant runs as its own process; onboarding, adding the demo's five hubs (their
simulators at the demo pace) and its Fleet dashboard go through its HTTP and WebSocket APIs as
scripts/develop does it; then headless Chromium signs in and looks at the Fleet dashboard, a
vehicle, a phone, a hub and the action form, and searches Add integration. Each test runs
against the pinned Home Assistant and against the newest one (requirements_e2e_latest.txt);
screenshots land in artifacts/, named after the one they show (e2e-dashboard-pinned.png,
e2e-dashboard-latest.png, e2e-vehicle-*, e2e-phone-*, e2e-hub-*, e2e-action-*). Deselect with
-m "not e2e", or the newest Home Assistant alone with -k "not latest".
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from custom_components.fleet_push.const import DOMAIN

from .conftest import ARTIFACTS, USER, Demo, Environment, Fleet
from .demo import DASHBOARD, VEHICLES, entity_key
from .homeassistant import (
    INTEGRATION,
    HomeAssistantClient,
    HomeAssistantProcess,
    User,
)
from .phone_farm import PHONE_FARM

PRODUCTS = ("iMouse XP", "iClick", "Navixy", "TFT IoT", "DeviceHive")
"""The hubs FleetPush connects, as their vendors name them."""
MANIFEST = json.loads((INTEGRATION / "manifest.json").read_text("utf-8"))
SEARCHED = 20
"""Add integration finds a name by words that start within its first 20 characters."""
TRANSLATIONS = json.loads((INTEGRATION / "translations" / "en.json").read_text("utf-8"))

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


async def open_page(page: Any, url: str) -> None:
    """Load a page of the frontend and wait until its launch screen has faded out."""
    await page.goto(url)
    await page.locator("#ha-launch-screen").wait_for(state="detached", timeout=TIMEOUT_MS)


async def screenshot(page: Any, name: str, height: int = 800) -> None:
    """artifacts/<name>.png, of a window `height` pixels high (the frontend scrolls inside
    its own panels, so a full-page screenshot would not show more)."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.set_viewport_size({"width": 1280, "height": height})
    await page.screenshot(path=ARTIFACTS / f"{name}.png")
    await page.set_viewport_size({"width": 1280, "height": 800})


async def markers_shown(page: Any, wanted: set[str]) -> set[str]:
    """The entity ids of the map's markers, once all the wanted ones are there."""
    markers = page.locator("ha-entity-marker[entity-id]")
    async with asyncio.timeout(TIMEOUT_MS / 1000):
        while True:
            shown = {await marker.get_attribute("entity-id") for marker in await markers.all()}
            if wanted <= shown:
                return shown
            await asyncio.sleep(0.25)


async def test_the_demo_in_a_real_browser(browser: Any, demo: Demo) -> None:
    """What a newcomer sees after scripts/develop: the Fleet dashboard, a vehicle, a phone, a
    hub whose page lists its own devices and no other's, and the action form."""
    url, suffix = demo.client.url, demo.environment.name
    devices = {device["name"]: device for device in demo.devices}
    kernel = next(
        entity["device_id"] for entity in demo.entities if entity_key(entity) == "licence_expires"
    )
    page = await browser.new_page()
    try:
        await sign_in(page, url, USER)
        # Home Assistant opens its default dashboard: the demo's.
        await page.wait_for_url(f"{url}/{DASHBOARD['url_path']}/**", timeout=TIMEOUT_MS)
        await page.locator("#ha-launch-screen").wait_for(state="detached", timeout=TIMEOUT_MS)
        await dashboard_shown(page, demo)
        await screenshot(page, f"e2e-dashboard-{suffix}", height=1640)

        # Navixy's first vehicle and iClick's first phone.
        for device, name in ((devices["Vehicle 1"], "vehicle"), (devices["iPhone 1"], "phone")):
            await device_page_shown(page, url, device, demo.entities)
            await screenshot(page, f"e2e-{name}-{suffix}")

        await hub_page_shown(page, demo, kernel)
        await screenshot(page, f"e2e-hub-{suffix}", height=1420)

        await action_form_shown(page, url)
        await screenshot(page, f"e2e-action-{suffix}", height=1000)

        await phone_farm_shown(page, demo)
        await screenshot(page, f"e2e-phone-farm-{suffix}", height=1640)
    except BaseException:
        await screenshot(page, f"e2e-failure-{suffix}")
        raise
    finally:
        await page.close()


def trackers(demo: Demo) -> set[str]:
    """The entity ids of the demo's vehicles on the map: one per vehicle."""
    shown = {entity["entity_id"] for entity in demo.entities if entity_key(entity) == "location"}
    assert len(shown) == sum(len(demo.simulators[kind].fleet_ids()) for kind in VEHICLES)
    return shown


async def dashboard_shown(page: Any, demo: Demo) -> None:
    """The Fleet dashboard: every vehicle on the map, every hub connected, every phone."""
    vehicles, hubs, phones = (
        section["cards"] for section in demo.dashboard["views"][0]["sections"]
    )
    assert set(vehicles[1]["entities"]) == trackers(demo)
    assert trackers(demo) <= await markers_shown(page, trackers(demo))
    named = [card for card in hubs if card["type"] == "tile" and "name" in card]
    assert len(named) == len(demo.simulators)  # one per hub: its connection
    for card in named:
        tile = page.locator("hui-tile-card").filter(has_text=card["name"])
        await tile.get_by_text("Connected", exact=True).wait_for(timeout=TIMEOUT_MS)
    glances = [card for card in phones if card["type"] == "glance"]
    assert sum(len(card["entities"]) for card in glances) >= sum(
        len(demo.simulators[kind].fleet_ids()) for kind in ("iclick", "imouse")
    )
    for card in glances:
        glance = page.locator("hui-glance-card").filter(has_text=card["title"])
        for entity in card["entities"]:
            await glance.get_by_text(entity["name"], exact=True).wait_for(timeout=TIMEOUT_MS)


async def device_page_shown(
    page: Any, url: str, device: dict[str, Any], entities: list[dict[str, Any]]
) -> None:
    """A device's page with each of its enabled entities."""
    await open_page(page, f"{url}/config/devices/device/{device['id']}")
    names = [
        entity["original_name"]
        for entity in entities
        if entity["device_id"] == device["id"]
        and not entity["disabled_by"]
        and entity["original_name"]
    ]
    assert {"Online"} <= set(names), names
    for name in names:
        await page.get_by_text(name, exact=True).first.wait_for(timeout=TIMEOUT_MS)


async def hub_page_shown(page: Any, demo: Demo, hub: str) -> None:
    """A hub's page: its devices connected through it, no other hub's, nothing linked.

    Every identifier is scoped by its hub, so no device shares one with a device of another
    hub, which Home Assistant would show as "Linked devices" (the same hardware).
    """
    for device in demo.devices:
        linked = await demo.client.ws_command(
            "config/device_registry/list_linked_devices", device_id=device["id"]
        )
        assert linked["linked_devices"] == [], device["name"]
    await open_page(page, f"{demo.client.url}/config/devices/device/{hub}")
    connected = page.locator("ha-device-via-devices-card")
    mine = [device for device in demo.devices if device["via_device_id"] == hub]
    assert len(mine) == len(demo.simulators["imouse"].fleet_ids())
    for device in mine:  # each a list item: its name, then its number of entities
        await connected.get_by_text(device["name"]).wait_for(timeout=TIMEOUT_MS)
    for device in demo.devices:
        if device["via_device_id"] not in {None, hub}:
            assert await connected.get_by_text(device["name"]).count() == 0
    assert await page.get_by_text("Linked devices", exact=True).count() == 0


async def phone_farm_shown(page: Any, demo: Demo) -> None:
    """The Phone farm dashboard: every phone's screenshot, an image the browser could load."""
    assert demo.phone_farm is not None
    await open_page(page, f"{demo.client.url}/{PHONE_FARM['url_path']}/phones")
    phones = sum(len(demo.simulators[kind].fleet_ids()) for kind in ("iclick", "imouse"))
    cards = page.locator("hui-picture-entity-card")
    images = cards.locator("img")
    async with asyncio.timeout(TIMEOUT_MS / 1000):
        while await cards.count() < phones or await _loaded(images) < phones / 2:
            await asyncio.sleep(0.25)  # phones offline at the start have none yet


async def _loaded(images: Any) -> int:
    """How many of the images the browser has loaded (decoded, with a size)."""
    return int(
        await images.evaluate_all("all => all.filter(i => i.complete && i.naturalWidth).length")
    )


async def action_form_shown(page: Any, url: str) -> None:
    """The form of fleet_push.send_command, every string rendered (its parameters' description
    once showed "Translation error: MALFORMED_ARGUMENT")."""
    service = TRANSLATIONS["services"]["send_command"]
    await open_page(page, f"{url}/config/tools/action?service={DOMAIN}.send_command")
    await page.get_by_text(service["name"], exact=True).first.wait_for(timeout=TIMEOUT_MS)
    for field in service["fields"].values():
        await page.get_by_text(field["name"], exact=True).first.wait_for(timeout=TIMEOUT_MS)
    assert await page.get_by_text("Translation error").count() == 0


async def test_add_integration_finds_fleetpush_by_the_hubs_it_connects(
    browser: Any, home_assistant: HomeAssistantProcess, environment: Environment
) -> None:
    """A newcomer searches Add integration for the hub they have, not only for "FleetPush"."""
    expect = pytest.importorskip("playwright.async_api").expect
    async with HomeAssistantClient(home_assistant.url) as client:
        await client.onboard(USER)
        await client.confirm_http_config()  # else its dialog covers the page
    page = await browser.new_page()
    try:
        await sign_in(page, home_assistant.url, USER)
        await open_page(page, f"{home_assistant.url}/config/integrations/dashboard")
        await page.get_by_role("button", name="Add integration").click()
        dialog = page.locator("dialog-add-integration")
        search = dialog.get_by_role("textbox")
        found = dialog.locator("ha-integration-list-item").filter(has_text=MANIFEST["name"])
        await search.fill("FleetPush")
        await found.first.wait_for(timeout=TIMEOUT_MS)
        missing = []
        # Home Assistant's search (Fuse.js, threshold 0.2 at location 0, distance 100) only
        # finds what starts within a name's first SEARCHED characters: FleetPush's name puts
        # the hubs most searched for there (README, "Setting up a hub").
        findable = [p for p in PRODUCTS if 0 <= MANIFEST["name"].find(p) <= SEARCHED]
        assert "Navixy" in findable
        for product in findable:
            await search.fill(product)
            try:
                await expect(found).to_have_count(1, timeout=3000)
            except AssertionError:
                missing.append(product)
                await screenshot(page, f"e2e-search-{environment.name}")
        assert not missing, f"searching Add integration for {missing} finds no {MANIFEST['name']}"
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
