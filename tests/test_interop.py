"""Every client against every behaviour its vendor leaves open, through Home Assistant.

Each simulator's VARIANTS names the server behaviours the vendor does not pin down ("vendor" is
what the vendor's own code or docs show). For every one: FleetPush connects, the whole fleet
appears (beyond one page where the hub pages), Online is what the hub says, and a quiet hub
stays on its connection through a quiet spell several times longer than every watchdog; a hub
with a probe was asked and answered meanwhile, and its events still arrive afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
import json
from typing import Any
from unittest.mock import patch

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
import pytest

from custom_components.fleet_push.hubs import HUB_KINDS, client_class, navixy
from custom_components.fleet_push.hubs.connection import Timing
from custom_components.fleet_push.hubs.imouse import PROBE
from custom_components.fleet_push.hubs.tftiot import TftIotClient

from .conftest import SetupHub, StartHub
from .helpers import entity_id, state_of, wait_for
from .kinds import KIND
from .simulator import simulator_module

FAST = 0.3
"""Seconds between liveness pings (and keep-alive texts) in these tests."""
QUIET = 8 * FAST
"""How long the hub says nothing: longer than every watchdog at FAST timings."""
FLEET = {"devicehive": 45}
"""Devices per simulator: more than one page (DeviceHive pages by 20)."""


def variants(kind: str) -> dict[str, dict[str, Any]]:
    """The simulator's switches for a hub kind."""
    found: dict[str, dict[str, Any]] = simulator_module(kind).VARIANTS
    return found


MATRIX = [(kind, name) for kind in HUB_KINDS for name in variants(kind)]


def test_every_simulator_starts_with_the_vendor_and_ends_with_the_least_convenient() -> None:
    for kind in HUB_KINDS:
        names = list(variants(kind))
        assert names[0] == "vendor", kind
        assert variants(kind)["vendor"] == {}, kind
        assert names[-1] == "least_convenient", kind
        assert len(names) >= 3, kind  # at least one open point besides the two


@contextmanager
def fast_timings(kind: str) -> Iterator[None]:
    """Liveness every FAST seconds, and the waits for replies a hub may never send, short."""
    keepalive = FAST if client_class(kind).keepalive_text else None
    timing = Timing(ws_heartbeat=FAST, keepalive_interval=keepalive)
    with ExitStack() as stack:
        stack.enter_context(
            patch.object(client_class(kind), "default_timing", side_effect=lambda: timing)
        )
        # Longer than the late handshake variant's 0.5 s, shorter than the real 5 s.
        stack.enter_context(patch.object(navixy, "HANDSHAKE_WAIT", 1.0))
        stack.enter_context(patch.object(TftIotClient, "signin_wait", FAST))
        yield


@pytest.mark.parametrize(("kind", "variant"), MATRIX)
async def test_a_quiet_hub_of_every_variant_shows_its_whole_fleet_on_one_connection(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub, kind: str, variant: str
) -> None:
    hub = await start_hub(kind, devices=FLEET.get(kind, 3), **variants(kind)[variant])
    devices = hub.fleet_ids()
    KIND[kind].offline_quietly(hub, devices[0])  # one device is offline from the start
    with fast_timings(kind):
        entry = await setup_hub(kind, hub)
        connected = entity_id(hass, entry, "binary_sensor", "", "connected")

        for device in devices:
            expected = STATE_ON if hub.is_online(device) else STATE_OFF
            await wait_for(
                lambda device=device, expected=expected: _online(hass, entry, device) == expected
            )
        assert _online(hass, entry, devices[0]) == STATE_OFF
        sockets = hub.accepted

        await asyncio.sleep(QUIET)  # nothing happens in the fleet

        assert hub.accepted == sockets  # no reconnect
        assert hass.states.get(connected).state == STATE_ON
        assert len(hub.connections) == getattr(hub, "client_sockets", 1)
        if kind in AFTER_QUIET:
            await AFTER_QUIET[kind](hass, entry, hub)


def _requests(hub: Any, key: str, value: str) -> int:
    """How many frames the client sent the hub whose `key` is `value`."""
    return sum(json.loads(text).get(key) == value for text in hub.received)


async def _imouse_after_quiet(hass: HomeAssistant, entry: Any, hub: Any) -> None:
    """The kernel was asked while quiet (a ping and the probe) and answered each time."""
    assert _requests(hub, "fun", PROBE) >= 4
    assert hub.accepted == 1
    expires = state_of(hass, entry, "sensor", "", "licence_expires").state
    assert (expires != STATE_UNKNOWN) is hub.logged_in  # overdue_time 0 without a login


async def _iclick_after_quiet(hass: HomeAssistant, entry: Any, hub: Any) -> None:
    """The controller was probed while quiet; its events still arrive, whatever their form."""
    assert _requests(hub, "type", "getDevice") >= 4
    assert hub.accepted == 1
    phone = hub.fleet_ids()[1]
    await hub.unplug(phone)
    await wait_for(lambda: state_of(hass, entry, "binary_sensor", phone, "usb").state == STATE_OFF)
    await hub.set_busy(phone, busy=True)
    await wait_for(lambda: state_of(hass, entry, "binary_sensor", phone, "busy").state == STATE_ON)


async def _tftiot_after_quiet(hass: HomeAssistant, entry: Any, hub: Any) -> None:
    """Both sockets stayed, and the message socket still delivers."""
    assert hub.accepted == hub.client_sockets == 2
    message = entity_id(hass, entry, "event", "", "message")
    await hub.send_message("Still here")
    await wait_for(lambda: hass.states.get(message).attributes.get("message") == "Still here")


AFTER_QUIET: dict[str, Callable[[HomeAssistant, Any, Any], Awaitable[None]]] = {
    "imouse": _imouse_after_quiet,
    "iclick": _iclick_after_quiet,
    "tftiot": _tftiot_after_quiet,
}
"""What else each kind must still do after its quiet spell."""


def _online(hass: HomeAssistant, entry: Any, device: str) -> str | None:
    try:
        return state_of(hass, entry, "binary_sensor", device, "online").state
    except AssertionError:  # not created yet
        return None
