"""The demo's Fleet dashboard, made from FleetPush's registry entries, without Home Assistant.

The end-to-end test shows it in a browser; these check what goes on it, quickly.
"""

from __future__ import annotations

from typing import Any

from .demo import fleet_dashboard


def device(device_id: str, name: str, via: str | None = None, **info: Any) -> dict[str, Any]:
    return {
        "id": device_id,
        "name": name,
        "name_by_user": None,
        "via_device_id": via,
        "manufacturer": info.get("manufacturer"),
        "model": info.get("model"),
    }


def entity(device_id: str, key: str, *, disabled: bool = False) -> dict[str, Any]:
    domain = {"location": "device_tracker", "connected": "binary_sensor"}.get(key, "sensor")
    return {
        "entity_id": f"{domain}.{device_id}_{key}",
        "device_id": device_id,
        "unique_id": f"scope/{device_id}/{key}",
        "disabled_by": "integration" if disabled else None,
    }


DEVICES = [
    device("navixy", "fleet@example.com", manufacturer="Navixy", model="Navixy account"),
    device("v1", "Vehicle 1", "navixy"),
    device("v2", "Vehicle 2", "navixy"),
    device("iclick", "iClick 10.0.0.2", manufacturer="iClick", model="iClick"),
    device("p1", "iPhone 1", "iclick"),
    device("kernel", "iMouse XP 10.0.0.3", manufacturer="iMouse", model="iMouse XP"),
    device("m1", "Phone 001", "kernel"),
]
ENTITIES = [
    entity("navixy", "connected"),
    entity("v1", "location"),
    entity("v1", "online"),
    entity("v2", "location"),
    entity("v2", "speed", disabled=True),
    entity("iclick", "connected"),
    entity("p1", "online"),
    entity("p1", "busy"),
    entity("kernel", "connected"),
    entity("kernel", "devices_online"),
    entity("kernel", "licence_expires"),
    entity("m1", "online"),
]


def test_the_map_shows_every_vehicle_the_hubs_their_connection_and_counts() -> None:
    view = fleet_dashboard(DEVICES, ENTITIES)["views"][0]
    vehicles, hubs, phones = (section["cards"] for section in view["sections"])
    assert vehicles[1]["type"] == "map"
    assert vehicles[1]["entities"] == ["device_tracker.v1_location", "device_tracker.v2_location"]
    tiles = [(card["entity"], card.get("name")) for card in hubs if card["type"] == "tile"]
    assert tiles == [
        ("binary_sensor.navixy_connected", "Navixy fleet@example.com"),  # says what it is
        ("binary_sensor.iclick_connected", "iClick 10.0.0.2"),
        ("binary_sensor.kernel_connected", "iMouse XP 10.0.0.3"),
        ("sensor.kernel_devices_online", None),
        ("sensor.kernel_licence_expires", None),
    ]
    glances = [(card["title"], card["entities"]) for card in phones if card["type"] == "glance"]
    assert glances == [
        ("iClick 10.0.0.2: online", [{"entity": "sensor.p1_online", "name": "iPhone 1"}]),
        ("iClick 10.0.0.2: activity", [{"entity": "sensor.p1_busy", "name": "iPhone 1"}]),
        ("iMouse XP 10.0.0.3: online", [{"entity": "sensor.m1_online", "name": "Phone 001"}]),
    ]


def test_disabled_entities_stay_off_the_dashboard() -> None:
    config = fleet_dashboard(DEVICES, [*ENTITIES, entity("v1", "busy", disabled=True)])
    assert "v2_speed" not in str(config)
    assert "v1_busy" not in str(config)


def test_a_vehicle_without_a_position_yet_is_no_phone() -> None:
    devices = [*DEVICES, device("v3", "Vehicle 3", "navixy")]
    config = fleet_dashboard(devices, [*ENTITIES, entity("v3", "online")])
    phones = config["views"][0]["sections"][2]["cards"]
    assert "Vehicle 3" not in str(phones)


def test_each_hub_shows_its_totals() -> None:
    totals = [entity("navixy", key) for key in ("total_online", "total_offline", "total_moving")]
    view = fleet_dashboard(DEVICES, [*ENTITIES, *totals])["views"][0]
    tiles = [card["entity"] for card in view["sections"][1]["cards"] if card["type"] == "tile"]
    assert tiles[:4] == [
        "binary_sensor.navixy_connected",
        "sensor.navixy_total_online",
        "sensor.navixy_total_offline",
        "sensor.navixy_total_moving",
    ]
