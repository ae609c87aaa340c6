"""The demo's Phone farm dashboard, made from FleetPush's registry entries and states, without
Home Assistant. The end-to-end test shows it in a browser; these check what goes on it."""

from __future__ import annotations

from typing import Any

from tests.simulator.imouse import IMouseSimulator

from .phone_farm import DEMO_GROUPS, group_demo_phones, phone_farm_dashboard
from .test_demo import device

DOMAINS = {
    "connected": "binary_sensor",
    "online": "binary_sensor",
    "busy": "binary_sensor",
    "screen_casting": "binary_sensor",
    "screenshot": "image",
    "take_screenshot": "button",
    "restart": "button",
}


def entity(device_id: str, key: str, *, disabled: bool = False) -> dict[str, Any]:
    return {
        "entity_id": f"{DOMAINS.get(key, 'sensor')}.{device_id}_{key}",
        "device_id": device_id,
        "unique_id": f"scope/{device_id}/{key}",
        "disabled_by": "integration" if disabled else None,
    }


def phone(device_id: str, *keys: str) -> list[dict[str, Any]]:
    return [entity(device_id, key) for key in ("online", "screenshot", "orientation", *keys)]


DEVICES = [
    device("navixy", "fleet@example.com"),
    device("v1", "Vehicle 1", "navixy"),
    device("iclick", "iClick 10.0.0.2"),
    device("p1", "iPhone 1", "iclick"),
    device("kernel", "iMouse XP 10.0.0.3"),
    device("m1", "Phone 001", "kernel"),
    device("m2", "Phone 002", "kernel"),
]
ENTITIES = [
    entity("navixy", "connected"),
    entity("v1", "online"),
    entity("iclick", "connected"),
    *phone("p1", "busy", "take_screenshot"),
    entity("kernel", "connected"),
    entity("kernel", "devices_online"),
    entity("kernel", "licence_expires"),
    *phone("m1", "screen_casting", "take_screenshot"),
    *phone("m2", "screen_casting"),
]
STATES: dict[str, dict[str, Any]] = {
    "binary_sensor.m1_online": {"attributes": {"group": "Shelf A"}},
    "binary_sensor.m2_online": {"attributes": {"group": "Shelf B"}},
    "binary_sensor.p1_online": {"attributes": {}},
}


def sections() -> list[list[dict[str, Any]]]:
    view = phone_farm_dashboard(DEVICES, ENTITIES, STATES)["views"][0]
    return [section["cards"] for section in view["sections"]]


def test_totals_are_the_phone_hubs_connection_and_sensors() -> None:
    totals = sections()[0]
    assert [card.get("heading") or card["entity"] for card in totals] == [
        "Totals",
        "iClick 10.0.0.2",
        "binary_sensor.iclick_connected",
        "iMouse XP 10.0.0.3",
        "binary_sensor.kernel_connected",
        "sensor.kernel_devices_online",
        "sensor.kernel_licence_expires",
    ]
    assert "navixy" not in str(totals)  # no phones: not a phone farm


def test_totals_are_named_by_what_they_count() -> None:
    named = [dict(entity, original_name="Devices online") for entity in ENTITIES]
    view = phone_farm_dashboard(DEVICES, named, STATES)["views"][0]
    tiles = [card for card in view["sections"][0]["cards"] if card["type"] == "tile"]
    assert {card["name"] for card in tiles} == {"Devices online"}
    assert all("name" not in card for card in sections()[0] if card["type"] == "tile")


def test_phones_are_grouped_by_the_hubs_group_else_by_their_hub() -> None:
    groups = {cards[0]["heading"]: cards for cards in sections()[1:]}
    assert list(groups) == ["Shelf A", "Shelf B", "iClick 10.0.0.2"]
    shelf_a = groups["Shelf A"]
    refresh = shelf_a[1]
    assert refresh["tap_action"] == {
        "action": "perform-action",
        "perform_action": "fleet_push.take_screenshot",
        "target": {"entity_id": ["image.m1_screenshot"]},
    }
    (screenshot,) = [card for card in shelf_a if card["type"] == "picture-entity"]
    assert screenshot["entity"] == "image.m1_screenshot"
    assert screenshot["tap_action"]["target"] == {"entity_id": "button.m1_take_screenshot"}
    (status,) = [card for card in shelf_a if card["type"] == "glance"]
    assert status["entities"] == [
        {"entity": "binary_sensor.m1_online", "name": "Phone 001"},
        {"entity": "binary_sensor.m1_screen_casting", "name": "Casting"},
        {"entity": "sensor.m1_orientation", "name": "Screen"},
    ]
    iclick = groups["iClick 10.0.0.2"]
    (status,) = [card for card in iclick if card["type"] == "glance"]
    assert [item["name"] for item in status["entities"]] == ["iPhone 1", "Activity", "Screen"]
    (shelf_b_screenshot,) = [c for c in groups["Shelf B"] if c["type"] == "picture-entity"]
    assert "tap_action" not in shelf_b_screenshot  # its button is disabled


def test_the_demo_kernel_puts_its_phones_in_two_groups() -> None:
    kernel = IMouseSimulator(devices=6)
    group_demo_phones(kernel)
    names = [record["gname"] for record in kernel.devices.values()]
    assert names == [DEMO_GROUPS[0]] * 3 + [DEMO_GROUPS[1]] * 3
