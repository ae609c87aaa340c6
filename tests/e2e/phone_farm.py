"""The demo's Phone farm dashboard: the phone hubs' totals, their phones by group, each phone
with its latest screenshot.

A phone's group is the hub's own (iMouse XP `gname`, the Online sensor's `group` attribute),
else its hub. Screenshots are taken once when the dashboard is made; afterwards only when asked
for: tapping a phone's screenshot presses its "Take screenshot" button, and each group has a
button that calls fleet_push.take_screenshot for all of its phones at once.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Mapping
import contextlib
import time
from typing import Any

from .homeassistant import HomeAssistantClient, HomeAssistantError

PHONE_FARM = {
    "url_path": "phone-farm",
    "title": "Phone farm",
    "icon": "mdi:cellphone-screenshot",
    "show_in_sidebar": True,
    "require_admin": False,
}
"""The dashboard (lovelace/dashboards/create), next to the Fleet one."""
STATUS = {"online": None, "busy": "Activity", "screen_casting": "Casting", "orientation": "Screen"}
"""What each phone's row shows, where the phone has it, and its label (None: the phone's name)."""
TOTALS = "sensor."
"""Every sensor of a phone hub is one of its totals (devices online, licences, ...)."""

DEMO_GROUPS = ("Shelf A", "Shelf B")
"""The iMouse XP demo phones' groups (the kernel's own, `gname`), half of them in each."""

type Shown = Mapping[str, Mapping[str, str]]
"""Per registry device id, its entities by what they show (the unique id's end)."""


def group_demo_phones(imouse: Any) -> None:
    """Put the iMouse XP simulator's phones in the demo's groups, as its user would."""
    for gid, name in enumerate(DEMO_GROUPS, 1):
        imouse.groups[gid] = name
    for index, record in enumerate(imouse.devices.values()):
        gid = 1 + index * len(DEMO_GROUPS) // max(len(imouse.devices), 1)
        record["gid"], record["gname"] = gid, imouse.groups[gid]


async def add_phone_farm_dashboard(
    client: HomeAssistantClient, timeout: float = 60
) -> dict[str, Any] | None:
    """The Phone farm dashboard unless it exists already; its configuration if it was made.

    Waits (up to timeout seconds) for every phone's screenshot entity, then takes every online
    phone's screenshot so that the dashboard opens with them (an offline one would refuse).
    """
    dashboards = await client.ws_command("lovelace/dashboards/list")
    if any(dashboard["url_path"] == PHONE_FARM["url_path"] for dashboard in dashboards):
        return None
    deadline = time.monotonic() + timeout
    while True:
        devices, entities = await client.fleet_devices(), await client.fleet_entities()
        shown = _shown(entities)
        phones = _phones(devices, shown)
        hubs = {phone["via_device_id"] for phone in phones}
        fleet = [device for device in devices if device["via_device_id"] in hubs]
        if (phones and len(phones) == len(fleet)) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    states = {state["entity_id"]: state for state in await client.states()}
    for phone in phones:
        if states.get(shown[phone["id"]].get("online", ""), {}).get("state") == "on":
            await _take_screenshot(client, shown[phone["id"]]["screenshot"])
    config = phone_farm_dashboard(devices, entities, states)
    await client.ws_command("lovelace/dashboards/create", **PHONE_FARM)
    await client.ws_command("lovelace/config/save", url_path=PHONE_FARM["url_path"], config=config)
    return config


def _phones(devices: Iterable[Mapping[str, Any]], shown: Shown) -> list[Mapping[str, Any]]:
    """The devices that take screenshots: the phones."""
    return [device for device in devices if "screenshot" in shown.get(device["id"], {})]


async def _take_screenshot(client: HomeAssistantClient, image: str) -> None:
    """Take one phone's screenshot; an offline phone refuses, and keeps none."""
    with contextlib.suppress(HomeAssistantError):
        await client.request(
            "POST", "/api/services/fleet_push/take_screenshot", {"entity_id": image}
        )


def _shown(entities: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    shown: dict[str, dict[str, str]] = defaultdict(dict)
    for entity in entities:
        if entity["device_id"] and not entity["disabled_by"]:
            key = str(entity["unique_id"]).rsplit("/", 1)[-1]
            shown[entity["device_id"]][key] = entity["entity_id"]
    return shown


def phone_farm_dashboard(
    devices: Iterable[Mapping[str, Any]],
    entities: Iterable[Mapping[str, Any]],
    states: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """One view: the totals of every phone hub, then a section per group of phones."""
    entities = list(entities)
    shown = _shown(entities)
    names = {entity["entity_id"]: entity.get("original_name") for entity in entities}
    devices = sorted(devices, key=_name)
    phone_hubs = {phone["via_device_id"] for phone in _phones(devices, shown)}
    hubs = [device for device in devices if device["id"] in phone_hubs]
    totals: list[dict[str, Any]] = [{"type": "heading", "heading": "Totals"}]
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for hub in hubs:
        totals.append({"type": "heading", "heading": _name(hub), "heading_style": "subtitle"})
        totals.extend(
            _tile(entity, names.get(entity))
            for key, entity in sorted(shown[hub["id"]].items())
            if entity.startswith(TOTALS) or key == "connected"
        )
        for phone in devices:
            if phone["via_device_id"] == hub["id"] and "screenshot" in shown[phone["id"]]:
                groups[_group(phone, shown, states) or _name(hub)].append(phone)
    sections = [{"type": "grid", "cards": totals}]
    sections.extend(_group_section(name, phones, shown) for name, phones in sorted(groups.items()))
    return {
        "title": "Phone farm",
        "views": [
            {
                "title": "Phone farm",
                "path": "phones",
                "type": "sections",
                "max_columns": 3,
                "sections": sections,
            }
        ],
    }


def _group(
    phone: Mapping[str, Any], shown: Shown, states: Mapping[str, Mapping[str, Any]]
) -> str | None:
    """The hub's group of a phone (its Online sensor's `group` attribute), if it has one."""
    online = states.get(shown[phone["id"]].get("online", ""), {})
    group = online.get("attributes", {}).get("group")
    return str(group) if group else None


def _group_section(name: str, phones: list[Mapping[str, Any]], shown: Shown) -> dict[str, Any]:
    """A group's heading, its screenshots, a button that refreshes them all, and a status row
    per phone."""
    images = [shown[phone["id"]]["screenshot"] for phone in phones]
    cards: list[dict[str, Any]] = [
        {"type": "heading", "heading": name, "icon": "mdi:cellphone-link"},
        {
            "type": "button",
            "name": "Take all screenshots",
            "icon": "mdi:cellphone-screenshot",
            "show_state": False,
            "tap_action": {
                "action": "perform-action",
                "perform_action": "fleet_push.take_screenshot",
                "target": {"entity_id": images},
            },
            "grid_options": {"columns": 12, "rows": 1},
        },
    ]
    cards.extend(_screenshot_card(phone, shown[phone["id"]]) for phone in phones)
    rows = [_status_row(phone, shown[phone["id"]]) for phone in phones]
    cards.append(
        {
            "type": "glance",
            "columns": max(len(row) for row in rows),
            "state_color": True,
            "grid_options": {"columns": "full"},
            "entities": [item for row in rows for item in row],
        }
    )
    return {"type": "grid", "cards": cards}


def _status_row(phone: Mapping[str, Any], mine: Mapping[str, str]) -> list[dict[str, Any]]:
    """A phone's status, its name first."""
    return [
        {"entity": mine[key], "name": label or _name(phone)}
        for key, label in STATUS.items()
        if key in mine
    ]


def _screenshot_card(phone: Mapping[str, Any], mine: Mapping[str, str]) -> dict[str, Any]:
    """A phone's latest screenshot; tapping it takes a new one."""
    card: dict[str, Any] = {
        "type": "picture-entity",
        "entity": mine["screenshot"],
        "name": _name(phone),
        "show_state": False,
        "grid_options": {"columns": 4},
    }
    if "take_screenshot" in mine:
        card["tap_action"] = {
            "action": "perform-action",
            "perform_action": "button.press",
            "target": {"entity_id": mine["take_screenshot"]},
        }
    return card


def _name(device: Mapping[str, Any]) -> str:
    return str(device["name_by_user"] or device["name"])


def _tile(entity_id: str, name: str | None) -> dict[str, Any]:
    """A total, named without its hub's name (the heading above says it)."""
    tile: dict[str, Any] = {"type": "tile", "entity": entity_id, "grid_options": {"columns": 6}}
    if name:
        tile["name"] = name
    return tile
