"""The demo that scripts/develop runs: five hub simulators and Home Assistant with FleetPush.

    python -m tests.e2e.demo --config config --port 8123

Starts one simulator per hub kind on fixed loopback ports, with small fleets at the demo pace
(tests/simulator/base.py): vehicles that drive trips of minutes around Berlin and park between
them (Navixy, TFT IoT, DeviceHive), iPhones busy with tasks for minutes (iClick) or turning to
landscape (iMouse XP), now and then a device offline for a while, and an iMouse XP licence that
expires in five days. Then starts Home Assistant from `--config` (its output goes to
home-assistant.console.log there; its log is home-assistant.log), completes onboarding with the
demo user, adds the five hubs through the config-flow API, as someone clicking through the UI
would, and adds the Fleet dashboard (the map, the phone farm, the hubs) as the default one,
and the Phone farm dashboard (tests/e2e/phone_farm.py: totals, groups, screenshots).
Running it again reuses the configuration: onboarding is done, the hubs and the dashboard exist,
nothing is added twice. Ctrl-C (SIGINT) or SIGTERM stops Home Assistant, then the simulators.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from collections.abc import Iterable, Mapping
import contextlib
from datetime import UTC, datetime, timedelta
import os
from pathlib import Path
import random
import signal
import time
from typing import Any

import aiohttp
from homeassistant.const import RESTART_EXIT_CODE

from tests.simulator import KINDS, simulator_class, simulator_module
from tests.simulator.base import HubSimulator, Pace

from .homeassistant import (
    HomeAssistantClient,
    HomeAssistantError,
    HomeAssistantProcess,
    User,
    die_with_parent,
)
from .phone_farm import add_phone_farm_dashboard, group_demo_phones

DEMO_USER = User(name="Demo", username="demo", password="demo-fleetpush")
HUB_PORTS = {"imouse": 9911, "iclick": 23188, "navixy": 8701, "tftiot": 8702, "devicehive": 8703}
"""Fixed loopback ports: the LAN hubs on their usual ports, the cloud ones next to each other."""
HUB_NAMES = {
    "imouse": "iMouse XP",
    "iclick": "iClick",
    "navixy": "Navixy",
    "tftiot": "TFT IoT",
    "devicehive": "DeviceHive",
}
FLEETS = {
    "imouse": (6, 0.5),
    "iclick": (6, 0.5),
    "navixy": (5, 1.0),
    "tftiot": (4, 1.0),
    "devicehive": (3, 1.0),
}
"""Devices per hub kind, and simulator ticks per second."""
DEMO_OPTIONS = {"navixy": {"alarms": True, "geofence_zones": True}}
"""Options the demo turns on beyond the defaults: Navixy's alarms (its speeding and SOS) and
its circle geofence (the depot) on the map as a zone."""
VEHICLES = ("navixy", "tftiot", "devicehive")
"""The hub kinds whose devices are on the map."""
DASHBOARD = {
    "url_path": "fleet",
    "title": "Fleet",
    "icon": "mdi:truck-fast-outline",
    "show_in_sidebar": True,
    "require_admin": False,
    "allow_single_word": True,
}
"""The demo's own dashboard (lovelace/dashboards/create), Home Assistant's default one."""
CENTRE = (52.5163, 13.3777)
"""Where the vehicles start: around the Brandenburg Gate, Berlin."""
SPREAD = 0.03
"""How far from the centre they start, in degrees."""
LICENCE_DAYS = 5
"""The iMouse XP licence expires this many days after the demo starts (a repair issue)."""
CORE_CONFIG = {
    "location_name": "FleetPush demo",
    "latitude": CENTRE[0],
    "longitude": CENTRE[1],
    "radius": 500,
    "elevation": 34,
    "country": "DE",
    "currency": "EUR",
    "time_zone": "Europe/Berlin",
    "unit_system": "metric",
}
"""What the onboarding page for the home location saves."""
DEVELOP_HTTP_YAML = "http:\n  server_host: 127.0.0.1\n  server_port: 8123\n\n"
"""The block scripts/develop writes into a new configuration.yaml (see settle_http_config)."""


def hub_form(hub: Any) -> dict[str, Any]:
    """What a user types into a hub kind's form to add a running simulator."""
    form: dict[str, Any] = hub.form()
    return form


def demo_simulators(
    ports: Mapping[str, int] | None = None, variant: str = "vendor", pace: Pace = "demo"
) -> dict[str, HubSimulator]:
    """The five simulators with their demo fleets (not started), each as its `variant` says.

    "vendor" plays each hub as its vendor's code does; "least_convenient" takes the hardest
    setting of every point the vendors leave open (tests/simulator/*.py VARIANTS). pace: how the
    fleets behave (tests/simulator/base.py), as real ones by default.
    """
    ports = ports or HUB_PORTS
    simulators: dict[str, HubSimulator] = {}
    for kind in KINDS:
        devices, rate = FLEETS[kind]
        switches = simulator_module(kind).VARIANTS[variant]
        simulators[kind] = simulator_class(kind)(
            devices=devices, port=ports[kind], event_rate=rate, pace=pace, **switches
        )
    _gather_around_centre(simulators)
    devicehive: Any = simulators["devicehive"]
    for number, device in enumerate(devicehive.devices.values(), 1):
        device.name = f"Courier {number}"  # "Tracker" would share the map's "T" with "Truck"
    expires = datetime.now(UTC) + timedelta(days=LICENCE_DAYS)
    imouse: Any = simulators["imouse"]
    imouse.user.update(total_license=20, overdue_time=int(expires.timestamp() * 1000))
    group_demo_phones(imouse)
    return dict(sorted(simulators.items(), key=lambda item: list(HUB_NAMES).index(item[0])))


def _gather_around_centre(simulators: dict[str, HubSimulator]) -> None:
    """Start every vehicle near CENTRE, so that they share one map and move visibly on it."""
    place = random.Random(7)  # noqa: S311 - a demo, not cryptography
    lat, lng = CENTRE

    def near() -> tuple[float, float]:
        return lat + place.uniform(-SPREAD, SPREAD), lng + place.uniform(-SPREAD, SPREAD) * 1.6

    navixy: Any = simulators["navixy"]
    for tracker in navixy.trackers.values():
        tracker.state["gps"]["location"] = dict(zip(("lat", "lng"), near(), strict=True))
    tftiot: Any = simulators["tftiot"]
    devicehive: Any = simulators["devicehive"]
    for vehicle in [*tftiot.trackers.values(), *devicehive.devices.values()]:
        vehicle.lat, vehicle.lng = near()


async def set_up(
    client: HomeAssistantClient, simulators: dict[str, HubSimulator], config_dir: Path
) -> None:
    """Onboarding with the demo user, the hubs and the dashboard (idempotent)."""
    await client.onboard(DEMO_USER, CORE_CONFIG)
    await settle_http_config(client, config_dir)
    await client.wait_until_running(timeout=600)
    # Home Assistant's notice that a Core installation (a checkout's) is deprecated: true, and
    # nothing to do with FleetPush; the demo's repair to see is the licence's.
    with contextlib.suppress(HomeAssistantError):  # raised on this machine, or not
        await client.ws_command(
            "repairs/ignore_issue",
            domain="homeassistant",
            issue_id="deprecated_method",
            ignore=True,
        )
    added = await add_hubs(client, simulators)
    for state in ("added", "already set up"):
        if kinds := [HUB_NAMES[kind] for kind, done in added.items() if done == state]:
            say(f"Hubs {state}: {', '.join(kinds)}")
    if (config := await add_dashboard(client, simulators)) is not None:
        trackers = len(config["views"][0]["sections"][0]["cards"][1]["entities"])
        say(f"Fleet dashboard created, the default one ({trackers} vehicles on its map)")
    if (farm := await add_phone_farm_dashboard(client)) is not None:
        say(f"Phone farm dashboard created ({len(farm['views'][0]['sections']) - 1} groups)")


async def add_hubs(
    client: HomeAssistantClient, simulators: Mapping[str, HubSimulator]
) -> dict[str, str]:
    """One FleetPush hub per simulator, unless it is set up already; "added" or "already set up"
    per hub kind."""
    added = {}
    for kind, hub in simulators.items():
        result = await client.add_hub(kind, hub_form(hub))
        added[kind] = "added" if result["type"] == "create_entry" else "already set up"
        if result["type"] == "create_entry" and kind in DEMO_OPTIONS:
            await client.set_options(result["result"]["entry_id"], DEMO_OPTIONS[kind])
    return added


async def add_dashboard(
    client: HomeAssistantClient, simulators: Mapping[str, HubSimulator], timeout: float = 60
) -> dict[str, Any] | None:
    """The Fleet dashboard, made the default one, unless it exists already; its configuration
    if it was made.

    It shows what FleetPush made of the simulators' fleets, so it waits (up to timeout seconds)
    until every vehicle is on the map and every other device has its Online sensor.
    """
    dashboards = await client.ws_command("lovelace/dashboards/list")
    if any(dashboard["url_path"] == DASHBOARD["url_path"] for dashboard in dashboards):
        return None
    vehicles = sum(len(simulators[kind].fleet_ids()) for kind in VEHICLES if kind in simulators)
    others = sum(len(hub.fleet_ids()) for kind, hub in simulators.items() if kind not in VEHICLES)
    if "devicehive" in simulators:
        await _report_positions(simulators["devicehive"])
    deadline = time.monotonic() + timeout
    while True:
        devices, entities = await client.fleet_devices(), await client.fleet_entities()
        keys = [entity_key(entity) for entity in entities]
        shown = keys.count("location"), keys.count("online") - keys.count("location")
        if shown >= (vehicles, others) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    config = fleet_dashboard(devices, entities)
    await client.ws_command("lovelace/dashboards/create", **DASHBOARD)
    await client.ws_command("lovelace/config/save", url_path=DASHBOARD["url_path"], config=config)
    core = await client.ws_command("frontend/get_system_data", key="core")
    await client.ws_command(
        "frontend/set_system_data",
        key="core",
        value={**(core["value"] or {}), "default_panel": DASHBOARD["url_path"]},
    )
    return config


async def _report_positions(devicehive: Any) -> None:
    """Have every reporting courier send its position now, not at its next report.

    A DeviceHive device gets its map tracker with its first position after FleetPush
    subscribed; a courier that is not riding reports only every half a minute.
    """
    for device in devicehive.devices.values():
        if device.reporting:
            await devicehive.notify(device.id, "gps", device.gps())


def entity_key(entity: Mapping[str, Any]) -> str:
    """What a FleetPush entity shows ("location", "online", "busy", ...): its unique id's end."""
    return str(entity["unique_id"]).rsplit("/", 1)[-1]


def fleet_dashboard(
    devices: Iterable[Mapping[str, Any]], entities: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The Fleet dashboard of FleetPush's devices and entities (their registry entries).

    One view: the map of every vehicle, the hubs (connected, the iMouse XP kernel's counts and
    licence), and the phone farm: the devices of each hub that has none on the map (online;
    busy or idle on iClick).
    """
    shown: dict[str, dict[str, str]] = defaultdict(dict)
    for entity in entities:
        if entity["device_id"] and not entity["disabled_by"]:
            shown[entity["device_id"]][entity_key(entity)] = entity["entity_id"]
    hubs = sorted((device for device in devices if device["via_device_id"] is None), key=_name)
    fleets: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for device in sorted(devices, key=_name):
        if device["via_device_id"] is not None:
            fleets[device["via_device_id"]].append(device)
    trackers = [
        shown[device["id"]]["location"]
        for hub in hubs
        for device in fleets[hub["id"]]
        if "location" in shown[device["id"]]
    ]
    hub_cards: list[dict[str, Any]] = [{"type": "heading", "heading": "Hubs"}]
    phone_cards: list[dict[str, Any]] = [{"type": "heading", "heading": "Phone farm"}]
    for hub in hubs:
        mine = shown[hub["id"]]
        if "connected" in mine:
            hub_cards.append(_tile(mine["connected"], _hub_name(hub)))
        hub_cards.extend(
            _tile(mine[key])
            for key in (
                "devices_online",
                "licences_total",
                "licence_expires",
                # FleetPush's own totals of the hub's devices (issue 16, section 1).
                "total_online",
                "total_offline",
                "total_moving",
                "total_busy",
            )
            if key in mine
        )
        if not any("location" in shown[device["id"]] for device in fleets[hub["id"]]):
            phones = [device for device in fleets[hub["id"]] if "online" in shown[device["id"]]]
            phone_cards.extend(_phone_farm(_hub_name(hub), phones, shown))
    vehicles = [
        {"type": "heading", "heading": "Vehicles"},
        {
            "type": "map",
            "entities": trackers,
            "hours_to_show": 1,
            "grid_options": {"columns": "full", "rows": 8},
        },
    ]
    return {
        "title": "Fleet",
        "views": [
            {
                "title": "Fleet",
                "path": "fleet",
                "type": "sections",
                "max_columns": 2,
                "sections": [
                    {"type": "grid", "column_span": 2, "cards": vehicles},
                    {"type": "grid", "cards": hub_cards},
                    {"type": "grid", "cards": phone_cards},
                ],
            }
        ],
    }


def _name(device: Mapping[str, Any]) -> str:
    return str(device["name_by_user"] or device["name"])


def _hub_name(hub: Mapping[str, Any]) -> str:
    """A hub's name that says what it is: "Navixy fleet@example.com", "iClick 10.0.0.2"."""
    name = _name(hub)
    maker, model = hub["manufacturer"] or "", hub["model"] or ""
    if maker and maker not in name and not (model and model in name):
        return f"{maker} {name}"
    return name


def _tile(entity_id: str, name: str | None = None) -> dict[str, Any]:
    tile: dict[str, Any] = {"type": "tile", "entity": entity_id, "grid_options": {"columns": 12}}
    if name is not None:
        tile["name"] = name
    return tile


def _phone_farm(
    hub: str, phones: list[Mapping[str, Any]], shown: Mapping[str, Mapping[str, str]]
) -> list[dict[str, Any]]:
    """The cards of one hub's phones: online, and busy or idle where the hub tells."""
    cards = []
    for key, what in (("online", "online"), ("busy", "activity")):
        entities = [
            {"entity": shown[phone["id"]][key], "name": _name(phone)}
            for phone in phones
            if key in shown[phone["id"]]
        ]
        if entities:
            cards.append(
                {
                    "type": "glance",
                    "title": f"{hub}: {what}",
                    "columns": 3,
                    "state_color": True,
                    "grid_options": {"columns": "full"},
                    "entities": entities,
                }
            )
    return cards


async def settle_http_config(client: HomeAssistantClient, config_dir: Path) -> None:
    """Keep the HTTP settings Home Assistant moved into its storage; drop them from the YAML.

    Home Assistant 2026.10 takes `http:` from configuration.yaml once, as a trial that it
    reverts (with a restart) five minutes later unless confirmed, and reports the YAML as
    deprecated. Confirm, as the dialog's button does, and remove the block scripts/develop
    wrote, so that later starts use the stored settings and raise no repair issue.
    """
    stable = await client.confirm_http_config()
    yaml_file = config_dir / "configuration.yaml"
    text = yaml_file.read_text(encoding="utf-8")
    if stable.get("server_host") != ["127.0.0.1"] or DEVELOP_HTTP_YAML not in text:
        return
    yaml_file.write_text(text.replace(DEVELOP_HTTP_YAML, "", 1), encoding="utf-8")
    for issue in ("deprecated_yaml", "yaml_still_present_after_migration"):
        with contextlib.suppress(HomeAssistantError):  # the one this start did not raise is absent
            await client.ws_command(
                "repairs/ignore_issue", domain="http", issue_id=issue, ignore=True
            )


def say(message: str) -> None:
    """Print a line of the demo's start-up, timed as scripts/develop times its own (FP_START)."""
    started = float(os.environ.get("FP_START") or _STARTED)
    print(f"[{time.time() - started:4.0f}s] {message}", flush=True)


_STARTED = time.time()


async def run(config_dir: Path, port: int, variant: str = "vendor") -> int:
    """Serve the demo until SIGINT or SIGTERM; the exit code.

    Home Assistant's output goes to home-assistant.console.log in config_dir (its log, the same
    records, is home-assistant.log): the terminal shows the demo's few lines only.
    """
    die_with_parent()  # scripts/develop killed: stop all the same
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    simulators = demo_simulators(variant=variant)
    console = (config_dir / "home-assistant.console.log").open("wb")
    hass = HomeAssistantProcess(config_dir, port, output=console)
    try:
        for simulator in simulators.values():
            await simulator.start()
        hard = " (each as its least convenient server)" if variant != "vendor" else ""
        ports = ", ".join(f"{HUB_NAMES[kind]} :{hub.port}" for kind, hub in simulators.items())
        say(f"Hub simulators on 127.0.0.1{hard}: {ports}")
        say(f"Starting Home Assistant (a few minutes the first time); its log: {hass.log_file}")
        if not await _until_stopped(hass.start(timeout=1800), stop):
            return 130
        say(f"Home Assistant is up on {hass.url}; setting up the demo")
        try:
            async with HomeAssistantClient(hass.url) as client:
                await set_up(client, simulators, config_dir)
        except (HomeAssistantError, aiohttp.ClientError) as err:
            say(f"Could not finish the set-up ({err}); serving as it is")
        _ready(hass)
        while await _until_stopped(hass.wait(), stop) and hass.returncode == RESTART_EXIT_CODE:
            say("Home Assistant restarts")
            if not await _until_stopped(hass.start(timeout=1800), stop):
                break
            say("Home Assistant is back")
        if hass.returncode not in {None, 0, RESTART_EXIT_CODE}:
            say(f"Home Assistant exited with {hass.returncode}; the end of its log:")
            print(hass.log_tail(20), flush=True)
            return 1
    except (HomeAssistantError, OSError) as err:
        say(f"The demo failed: {err}")
        return 1
    finally:
        say("Stopping Home Assistant and the simulators")
        await hass.stop()
        for simulator in simulators.values():
            await simulator.stop()
        console.close()
    return 0


def _ready(hass: HomeAssistantProcess) -> None:
    say("FleetPush demo ready:")
    print(
        f"\n    Open {hass.url} and sign in as {DEMO_USER.username} / {DEMO_USER.password}"
        "\n    It opens on the Fleet dashboard: vehicles on the map, the phone farm, the hubs;"
        "\n    the Phone farm dashboard shows each phone's screenshot, by group"
        f"\n    Home Assistant's log: {hass.log_file}"
        "\n    Ctrl-C stops Home Assistant and the simulators\n",
        flush=True,
    )


async def _until_stopped(work: Any, stop: asyncio.Event) -> bool:
    """Await work unless stop is set first; whether the work finished."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False


def main() -> None:
    """Parse the command line and run the demo."""
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.demo", description=__doc__)
    parser.add_argument("--config", type=Path, default=Path("config"))
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument(
        "--hard",
        action="store_true",
        help="play every hub as the least convenient server its vendor allows",
    )
    args = parser.parse_args()
    variant = "least_convenient" if args.hard else "vendor"
    raise SystemExit(asyncio.run(run(args.config.resolve(), args.port, variant)))


if __name__ == "__main__":
    main()
