"""How tests drive each hub kind's simulator, and each kind's small deterministic fleet.

KIND says, per hub kind, how a test takes a device offline (quietly, or through the hub's push
path), removes one while FleetPush cannot see it, and recognizes a (re)subscription. FLEETS
starts, per kind, a small fleet whose every value is fixed (a seed, vendor samples, fixed
times), so that snapshots of its entities and diagnostics never change from run to run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import json
from typing import Any

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fleet_push.hubs.connection import Timing

from .conftest import SetupHub, StartHub
from .helpers import entity_exists, fixture_text, wait_for, wait_for_entity


@dataclass(frozen=True)
class Kind:
    """How a test drives one hub kind's simulator."""

    first: Callable[[Any], str]
    """The id of the first fleet device, as FleetPush names it."""
    offline_quietly: Callable[[Any, str], None]
    """Take a device offline in the hub without telling anyone (the hub is down)."""
    offline: Callable[[Any, str], Awaitable[None]]
    """Take a device offline through the hub's normal push path."""
    remove_quietly: Callable[[Any, str], None]
    """Delete a device in the hub without telling anyone (the hub is down)."""
    subscribe: str
    """Text in the frame a client sends to (re)load or (re)subscribe to the fleet."""
    fast: Timing | None = None
    """Keep-alive timings shrunk for the silence test (None: the hub's handshake sets them)."""
    options: dict[str, Any] = field(default_factory=dict)
    """Simulator options for the silence test."""


def _navixy_offline(hub: Any, device: str) -> None:
    hub.set_online(int(device), online=False)


async def _navixy_push_offline(hub: Any, device: str) -> None:
    _navixy_offline(hub, device)  # the simulator's next state_batch reports it


def _imouse_offline(hub: Any, device: str) -> None:
    hub.devices[device]["state"] = 0


def _iclick_offline(hub: Any, device: str) -> None:
    hub.devices[device]["online"] = False


def _devicehive_offline(hub: Any, device: str) -> None:
    hub.devices[device].is_blocked = True  # DeviceHive has no status: a blocked device is offline


def _tftiot_offline(hub: Any, device: str) -> None:
    hub.trackers[device].online = False


def _forget(devices: str) -> Callable[[Any, str], None]:
    """Delete a device from one of the simulator's tables, by the id FleetPush knows."""

    def forget(hub: Any, device: str) -> None:
        table = getattr(hub, devices)
        del table[int(device) if devices == "trackers" and hub.kind == "navixy" else device]

    return forget


KIND: dict[str, Kind] = {
    "imouse": Kind(
        first=lambda hub: next(iter(hub.devices)),
        offline_quietly=_imouse_offline,
        offline=lambda hub, device: hub.set_online(device, online=False),
        remove_quietly=_forget("devices"),
        subscribe='"/device/get"',
        fast=Timing(ws_heartbeat=0.3, silence_timeout=0.75),
        options={"user_info_interval": 0.1},
    ),
    "iclick": Kind(
        first=lambda hub: next(iter(hub.devices)),
        offline_quietly=_iclick_offline,
        offline=lambda hub, device: hub.set_online(device, online=False),
        remove_quietly=_forget("devices"),
        subscribe='"type":"devices"',
        fast=Timing(ws_heartbeat=0.3),
    ),
    "navixy": Kind(
        first=lambda hub: str(next(iter(hub.trackers))),
        offline_quietly=_navixy_offline,
        offline=_navixy_push_offline,
        remove_quietly=_forget("trackers"),
        subscribe='"action":"subscribe"',
        fast=Timing(ws_heartbeat=0.3),
        options={"client_heartbeat_ms": 300},
    ),
    "devicehive": Kind(
        first=lambda _hub: "dev-1",
        offline_quietly=_devicehive_offline,
        offline=lambda hub, device: hub.block(device),
        remove_quietly=lambda hub, device: hub.remove_device(device),  # it tells nobody anyway
        subscribe='"action":"notification/subscribe"',
        fast=Timing(ws_heartbeat=0.3),
    ),
    "tftiot": Kind(
        first=lambda hub: next(iter(hub.trackers)),
        offline_quietly=_tftiot_offline,
        offline=lambda hub, device: hub.set_online(device, online=False),
        remove_quietly=_forget("trackers"),
        subscribe='"event":"signin"',
        fast=Timing(keepalive_interval=0.3, ws_heartbeat=0.3),
    ),
}


# --- a small fleet per kind, every value fixed ---


UNIQUE_IDS = {
    "imouse": "kernel",
    "navixy": "account",
    "iclick": "controller",
    "tftiot": "platform",
    "devicehive": "server",
}
"""Fixed unique ids: every entity's unique id starts with its entry's (a port would vary)."""
FIXED_MS = 1_714_557_600_000
"""2024-05-01 10:00:00 UTC: the time of every TFT IoT tracker's report and fix."""
LICENCE_EXPIRES = "2027-01-01T00:00:00+00:00"
"""The iMouse XP simulator's licence expiry (its user_info's overdue_time)."""
DOC_NOTIFICATION = "protocols_notification_insert_push.json"
"""DeviceHive's protocols.md notification/insert push: dev-1 at 50.45, 30.52, 87 % battery."""


def navixy_doc_state() -> dict[str, Any]:
    """The state of Navixy's vendor doc 001 sample, without its source id."""
    data = json.loads(fixture_text("navixy", "doc001_state_event.json"))["data"]
    return {key: value for key, value in data.items() if key != "source_id"}


def tftiot_doc_snapshot() -> str:
    """TFT IoT's vendor snapshot sample made a whole frame, as tests/hubs/test_tftiot.py does:
    outer braces, and the status and data objects closed before the top-level `error: 0,`."""
    sample = fixture_text("tftiot", "snapshot.txt")
    return "{\n" + sample.replace("    error: 0,", "    }},\n    error: 0,") + "}"


async def start_fleet(start_hub: StartHub, kind: str) -> Any:
    """A simulator with the kind's small fleet, its values fixed before FleetPush connects."""
    match kind:
        case "navixy":
            hub = await start_hub(kind, devices=1)
            (tracker,) = hub.trackers.values()
            tracker.state = navixy_doc_state()
            tracker.state["inputs"][1] = tracker.state["outputs"][0] = True  # in use
        case "tftiot":
            hub = await start_hub(kind, devices=2)
            for tracker in hub.trackers.values():
                tracker.date = tracker.location_date = tracker.acc_switch_time = FIXED_MS
        case _:
            hub = await start_hub(kind, devices=2)
    return hub


async def show_fleet(hass: HomeAssistant, entry: MockConfigEntry, kind: str, hub: Any) -> None:
    """Push what the kind's fleet lacks (a vendor sample) and wait until it is all shown."""
    match kind:
        case "imouse":
            expires = await wait_for_entity(hass, entry, "sensor", "", "licence_expires")
            await wait_for(lambda: hass.states.get(expires).state == LICENCE_EXPIRES)
        case "navixy":
            tracker = hub.fleet_ids()[0]
            location = await wait_for_entity(hass, entry, "device_tracker", tracker, "location")
            await wait_for(lambda: hass.states.get(location).attributes.get("latitude"))
            for platform, key in (
                ("binary_sensor", "input_2"),
                ("binary_sensor", "output_1"),
                ("switch", "output_1"),
            ):
                await wait_for(
                    lambda platform=platform, key=key: entity_exists(
                        hass, entry, platform, tracker, key
                    )
                )
        case "devicehive":
            await hub.push(fixture_text("devicehive", DOC_NOTIFICATION))
            location = await wait_for_entity(hass, entry, "device_tracker", "dev-1", "location")
            await wait_for(lambda: hass.states.get(location).attributes.get("latitude") == 50.45)
            for device in hub.fleet_ids():  # online once the server says who notified lately
                online = await wait_for_entity(hass, entry, "binary_sensor", device, "online")
                await wait_for(lambda online=online: hass.states.get(online).state == "on")
        case "tftiot":
            for tracker in hub.fleet_ids():
                await wait_for_entity(hass, entry, "device_tracker", tracker, "location")
    for device in hub.fleet_ids():
        await wait_for_entity(hass, entry, "binary_sensor", device, "online")
    await hass.async_block_till_done()


async def setup_fleet(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub, kind: str
) -> MockConfigEntry:
    """The kind's small fleet, set up and shown."""
    hub = await start_fleet(start_hub, kind)
    entry = await setup_hub(kind, hub, unique_id=UNIQUE_IDS[kind])
    await show_fleet(hass, entry, kind, hub)
    return entry
