"""The demo that scripts/develop runs: five hub simulators and Home Assistant with FleetPush.

    python -m tests.e2e.demo --config config --port 8123

Starts one simulator per hub kind on fixed loopback ports, with small fleets: vehicles that
drive around Berlin (Navixy, TFT IoT, DeviceHive), iPhones that go busy and idle or offline
(iClick, iMouse XP) and an iMouse XP licence that expires in five days. Then starts Home
Assistant from `--config`, completes onboarding with the demo user and adds the five hubs
through the config-flow API, as someone clicking through the UI would. Running it again reuses
the configuration: onboarding is done, the hubs exist, nothing is added twice.
Ctrl-C (SIGINT) or SIGTERM stops Home Assistant, then the simulators.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
import importlib
from pathlib import Path
import random
import signal
from typing import Any

import aiohttp
from homeassistant.const import RESTART_EXIT_CODE

from tests.simulator import KINDS, simulator_class
from tests.simulator.base import HubSimulator

from .homeassistant import (
    HomeAssistantClient,
    HomeAssistantError,
    HomeAssistantProcess,
    User,
    die_with_parent,
)

DEMO_USER = User(name="Demo", username="demo", password="demo-fleetpush")
HUB_PORTS = {"imouse": 9911, "iclick": 23188, "navixy": 8701, "tftiot": 8702, "devicehive": 8703}
"""Fixed loopback ports: the LAN hubs on their usual ports, the cloud ones next to each other."""
FLEETS = {
    "imouse": (6, 0.2),
    "iclick": (6, 0.5),
    "navixy": (5, 0.5),
    "tftiot": (4, 1.0),
    "devicehive": (3, 1.0),
}
"""Devices per hub kind, and simulator ticks per second."""
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


def hub_form(kind: str, hub: Any) -> dict[str, Any]:
    """What a user types into a hub kind's form to add a running simulator."""
    match kind:
        case "imouse" | "iclick":
            return {"host": hub.host, "port": hub.port}
        case "navixy":
            return {"url": hub.api_url, "api_key": hub.api_key, "verify_ssl": True}
        case "tftiot":
            return {
                "url": hub.url,
                "username": hub.user_id,
                "password": hub.password,
                "verify_ssl": True,
            }
        case "devicehive":
            return {
                "url": hub.url,
                "username": hub.login,
                "password": hub.password,
                "verify_ssl": True,
            }
    raise ValueError(f"unknown hub kind {kind!r}")


def demo_simulators(
    ports: dict[str, int] | None = None, variant: str = "vendor"
) -> dict[str, HubSimulator]:
    """The five simulators with their demo fleets (not started), each as its `variant` says.

    "vendor" plays each hub as its vendor's code does; "least_convenient" takes the hardest
    setting of every point the vendors leave open (tests/simulator/*.py VARIANTS).
    """
    ports = ports or HUB_PORTS
    simulators: dict[str, HubSimulator] = {}
    for kind in KINDS:
        devices, rate = FLEETS[kind]
        switches = importlib.import_module(f"tests.simulator.{kind}").VARIANTS[variant]
        simulators[kind] = simulator_class(kind)(
            devices=devices, port=ports[kind], event_rate=rate, **switches
        )
    _gather_around_centre(simulators)
    devicehive: Any = simulators["devicehive"]
    for number, device in enumerate(devicehive.devices.values(), 1):
        device.name = f"Courier {number}"  # "Tracker" would share the map's "T" with "Truck"
    expires = datetime.now(UTC) + timedelta(days=LICENCE_DAYS)
    imouse: Any = simulators["imouse"]
    imouse.user["overdue_time"] = int(expires.timestamp() * 1000)
    return simulators


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
    """Onboarding with the demo user, then one FleetPush hub per simulator (idempotent)."""
    await client.onboard(DEMO_USER, CORE_CONFIG)
    await settle_http_config(client, config_dir)
    await client.wait_until_running(timeout=600)
    for kind, hub in simulators.items():
        result = await client.add_hub(kind, hub_form(kind, hub))
        added = "added" if result["type"] == "create_entry" else "already set up"
        print(f"FleetPush demo: {kind} hub on {hub.base_url} {added}", flush=True)


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
    print(
        "FleetPush demo: Home Assistant keeps the HTTP settings (127.0.0.1:"
        f"{stable['server_port']}) in its storage now; removed them from {yaml_file}",
        flush=True,
    )


async def run(config_dir: Path, port: int, variant: str = "vendor") -> int:
    """Serve the demo until SIGINT or SIGTERM; the exit code."""
    die_with_parent()  # scripts/develop killed: stop all the same
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    simulators = demo_simulators(variant=variant)
    hass = HomeAssistantProcess(config_dir, port)
    try:
        for simulator in simulators.values():
            await simulator.start()
        print("FleetPush demo: simulators up; starting Home Assistant", flush=True)
        if not await _until_stopped(hass.start(timeout=1800), stop):
            return 130
        try:
            async with HomeAssistantClient(hass.url) as client:
                await set_up(client, simulators, config_dir)
        except (HomeAssistantError, aiohttp.ClientError) as err:
            print(f"FleetPush demo: could not finish the set-up ({err}); serving as it is")
        print(
            f"\nFleetPush demo ready: open {hass.url} and sign in as "
            f"{DEMO_USER.username} / {DEMO_USER.password}. Ctrl-C stops everything.\n",
            flush=True,
        )
        while await _until_stopped(hass.wait(), stop) and hass.returncode == RESTART_EXIT_CODE:
            print("FleetPush demo: Home Assistant restarts", flush=True)
            if not await _until_stopped(hass.start(timeout=1800), stop):
                break
    except (HomeAssistantError, OSError) as err:
        print(f"FleetPush demo failed: {err}", flush=True)
        return 1
    finally:
        await hass.stop()
        for simulator in simulators.values():
            await simulator.stop()
    return 0


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
