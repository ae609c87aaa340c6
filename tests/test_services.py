"""fleet_push.send_command through Home Assistant, against every hub's simulator over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
import json
from typing import Any

from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import probatio as vol
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_fire_time_changed_exact,
)

from custom_components.fleet_push.const import DOMAIN
from custom_components.fleet_push.identity import device_identifier, hub_scope

from .conftest import SetupHub, StartHub
from .helpers import entity_id, registry_id, send, wait_for


def imouse_requests(hub: Any, fun: str) -> list[dict[str, Any]]:
    """The data of every request the kernel received for a function."""
    frames = [json.loads(text) for text in hub.received]
    return [frame["data"] for frame in frames if frame.get("fun") == fun]


async def after_timeout(
    hass: HomeAssistant, call: Coroutine[Any, Any, Any], sent: Callable[[], object], timeout: float
) -> Any:
    """Start an action; once `sent` holds (its commands are out), move the harness clock past
    its timeout, and return what it returned (or raise what it raised).

    Timeouts here are far longer than any test runs: only the harness clock can end them.
    """
    task = asyncio.ensure_future(call)
    await wait_for(sent)
    assert not task.done()
    async_fire_time_changed_exact(hass, dt_util.utcnow() + timedelta(seconds=timeout + 0.05))
    await wait_for(task.done)
    return task.result()


def iclick_requests(hub: Any, api: str) -> list[dict[str, Any]]:
    """Every request iClick received for an API type."""
    frames = [json.loads(text) for text in hub.received]
    return [frame for frame in frames if frame.get("type") == api]


# --- every hub's command path and its response ---


async def test_imouse_functions_and_their_replies(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=2)
    entry = await setup_hub("imouse", hub)
    phone, other = list(hub.devices)
    target = registry_id(hass, entry, phone)

    response = await send(hass, target, "/device/restart")
    assert response == {
        "results": [
            {
                "device_id": target,
                "ok": True,
                "result": {"code": 0, "id": phone, "message": "成功"},
            }
        ]
    }
    assert imouse_requests(hub, "/device/restart") == [{"id": phone}]

    response = await send(hass, [target], "/key/sendkey", parameters={"key": "home"})
    assert response["results"][0]["ok"] is True
    assert imouse_requests(hub, "/key/sendkey") == [{"id": phone, "key": "home"}]

    # The kernel refuses: its message names what went wrong, the error names the phone.
    with pytest.raises(HomeAssistantError) as refused:
        await send(hass, target, "/key/sendkey")
    assert refused.value.translation_key == "command_failed"
    assert refused.value.translation_placeholders == {
        "device": "Phone 001",
        "command": "/key/sendkey",
        "error": "参数错误",
    }
    assert str(refused.value) == "Phone 001 did not carry out /key/sendkey: 参数错误"

    # A phone the user renamed is named their way.
    await hub.set_online(other, False)
    dr.async_get(hass).async_update_device(registry_id(hass, entry, other), name_by_user="Spare")
    with pytest.raises(
        HomeAssistantError, match="Spare did not carry out /device/restart: 设备不在线"
    ):
        await send(hass, registry_id(hass, entry, other), "/device/restart", response=False)
    assert await send(hass, target, "/device/restart", response=False) is None


async def test_iclick_api_calls_and_their_replies(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("iclick", devices=1)
    entry = await setup_hub("iclick", hub)
    (phone,) = hub.devices
    target = registry_id(hass, entry, phone)

    response = await send(hass, target, "sendAction", parameters={"action": "home"})
    assert response == {"results": [{"device_id": target, "ok": True, "result": {"status": True}}]}
    response = await send(hass, target, "sendKey", parameters={"key": "a"})
    assert response["results"][0]["result"] == {"status": True}
    sent = iclick_requests(hub, "sendAction") + iclick_requests(hub, "sendKey")
    assert [(frame["deviceId"], frame.get("action"), frame.get("key")) for frame in sent] == [
        (phone, "home", None),
        (phone, None, "a"),
    ]
    assert all(frame["timeout"] == 15 for frame in sent)

    with pytest.raises(HomeAssistantError, match="unsupported action: fly") as refused:
        await send(hass, target, "sendAction", parameters={"action": "fly"})
    assert refused.value.translation_key == "command_failed"
    with pytest.raises(HomeAssistantError, match="missing parameter: text"):
        await send(hass, target, "sendText")


async def test_devicehive_command_waits_for_its_update(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("devicehive", devices=3)
    entry = await setup_hub("devicehive", hub)
    targets = [registry_id(hass, entry, f"dev-{number}") for number in (1, 2, 3)]

    response = await send(hass, targets[0], "blink", parameters={"times": 3})
    (result,) = response["results"]
    assert result["ok"] is True
    assert result["result"]["status"] == "done"
    assert result["result"]["result"] == {"ok": True}
    inserted = hub.commands[result["result"]["id"]]
    assert (inserted["deviceId"], inserted["command"], inserted["parameters"]) == (
        "dev-1",
        "blink",
        {"times": 3},
    )

    # dev-2 reports failure, dev-3 never answers: each device still gets its command, once.
    # (A real second: the other two answers travel over the socket meanwhile.)
    response = await send(hass, targets, "blink", timeout=1)
    assert response["results"][0]["ok"] is True
    failed, silent = response["results"][1:]
    assert failed["device_id"] == targets[1]
    assert (failed["ok"], failed["code"]) == (False, "failed")
    assert failed["error"].startswith("Tracker 2 did not carry out blink: the device reported")
    assert silent == {
        "device_id": targets[2],
        "ok": False,
        "error": "Tracker 3 did not answer blink within 1 seconds",
        "code": "timeout",
    }
    assert [command["deviceId"] for command in hub.commands.values()] == [
        "dev-1",
        "dev-1",
        "dev-2",
        "dev-3",
    ]

    # Without a response to read, a partial failure cannot pass unnoticed.
    with pytest.raises(HomeAssistantError) as partly:
        await send(hass, targets[:2], "blink", response=False)
    assert partly.value.translation_key == "commands_failed"
    assert str(partly.value) == "blink failed on 1 of 2 devices: Tracker 2"
    # When every device fails, the action fails whether or not a response is wanted; devices
    # are commanded side by side: both commands are out before either times out, and one
    # timeout ends both.
    hub.set_behaviour("dev-2", "silent")
    commanded = len(hub.commands)
    with pytest.raises(HomeAssistantError, match="blink failed on 2 of 2 devices"):
        await after_timeout(
            hass,
            send(hass, targets[1:], "blink", timeout=30),
            lambda: len(hub.commands) == commanded + 2,
            timeout=30,
        )


async def test_navixy_commands_and_outputs_over_rest(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=2)
    entry = await setup_hub("navixy", hub)
    first, second = hub.trackers
    target = registry_id(hass, entry, str(first))

    response = await send(hass, target, "reboot")
    assert response == {"results": [{"device_id": target, "ok": True, "result": {}}]}
    assert hub.commands == [(first, {"name": "reboot"})]

    await send(hass, target, "set_output", parameters={"output": 2, "enable": True})
    assert hub.trackers[first].state["outputs"][:3] == [False, True, False]

    with pytest.raises(HomeAssistantError) as unsupported:
        await send(hass, target, "self_destruct")
    assert unsupported.value.translation_placeholders["error"] == (
        "Requested operation or parameters are not supported by the device"
    )

    hub.set_online(second, False)
    other = registry_id(hass, entry, str(second))
    response = await send(hass, [target, other], "reboot")
    assert [result["ok"] for result in response["results"]] == [True, False]
    assert response["results"][1]["code"] == 213
    with pytest.raises(HomeAssistantError) as offline:
        await send(hass, other, "set_output", parameters={"output": 1, "enable": True})
    assert offline.value.translation_key == "command_failed"
    assert offline.value.translation_placeholders == {
        "device": "Vehicle 2",
        "command": "set_output",
        "error": "Device is offline",
    }
    assert hub.trackers[second].state["outputs"][0] is False


async def test_tftiot_command_text_over_rest(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("tftiot", devices=2)
    entry = await setup_hub("tftiot", hub)
    first, second = hub.trackers
    target = registry_id(hass, entry, first)

    response = await send(hass, target, "RELAY,1#")
    assert response == {
        "results": [
            {"device_id": target, "ok": True, "result": {"code": 0, "msg": "ok", "cmd_id": 1}}
        ]
    }
    assert hub.commands == [{"imeis": [first], "message": "RELAY,1#"}]

    with pytest.raises(HomeAssistantError, match="commands take no parameters"):
        await send(hass, target, "RELAY,0#", parameters={"now": True})
    await hub.set_online(second, False)
    with pytest.raises(HomeAssistantError, match="is offline") as offline:
        await send(hass, registry_id(hass, entry, second), "RELAY,1#")
    assert offline.value.translation_placeholders["device"] == "Truck 2"
    assert len(hub.commands) == 1


# --- timeouts and lost connections ---


async def test_a_silent_hub_times_out_within_the_timeout(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("iclick", devices=1)
    entry = await setup_hub("iclick", hub)
    (phone,) = hub.devices
    never = asyncio.Event()

    async def hang(_request: dict[str, Any]) -> Any:
        await never.wait()

    hub.api["sendAction"] = hang
    # iClick's client waits a grace period past the timeout; the action does not.
    with pytest.raises(HomeAssistantError) as slow:
        await after_timeout(
            hass,
            send(hass, registry_id(hass, entry, phone), "sendAction", timeout=30),
            lambda: iclick_requests(hub, "sendAction"),
            timeout=30,
        )
    assert slow.value.translation_key == "command_timeout"
    assert str(slow.value) == "iPhone 1 did not answer sendAction within 30 seconds"
    assert len(iclick_requests(hub, "sendAction")) == 1
    never.set()


async def test_a_kernel_that_does_not_answer_times_out(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=1)
    entry = await setup_hub("imouse", hub)
    (phone,) = hub.devices
    hub.unanswered.add("/device/restart")
    with pytest.raises(HomeAssistantError) as slow:
        await after_timeout(
            hass,
            send(hass, registry_id(hass, entry, phone), "/device/restart", timeout=22.5),
            lambda: imouse_requests(hub, "/device/restart"),
            timeout=22.5,
        )
    assert slow.value.translation_key == "command_timeout"
    assert slow.value.translation_placeholders["timeout"] == "22.5"
    assert len(imouse_requests(hub, "/device/restart")) == 1


async def test_a_connection_lost_while_waiting_is_reported(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=1)
    entry = await setup_hub("imouse", hub)
    (phone,) = hub.devices
    hub.unanswered.add("/device/restart")
    call = asyncio.ensure_future(send(hass, registry_id(hass, entry, phone), "/device/restart"))
    await wait_for(lambda: imouse_requests(hub, "/device/restart"))
    await hub.drop_connections()
    with pytest.raises(HomeAssistantError) as lost:
        await call
    assert lost.value.translation_key == "command_not_sent"
    assert lost.value.translation_placeholders["device"] == "Phone 001"
    await hub.wait_for_connections(1)  # FleetPush reconnects; the command is not sent again
    await hass.async_block_till_done()
    assert len(imouse_requests(hub, "/device/restart")) == 1


# --- validation: nothing is sent ---


async def test_bad_targets_are_refused_before_anything_is_sent(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=1)
    entry = await setup_hub("imouse", hub)
    (phone,) = hub.devices
    target = registry_id(hass, entry, phone)
    registry = dr.async_get(hass)
    other = MockConfigEntry(domain="other_integration")
    other.add_to_hass(hass)
    foreign = registry.async_get_or_create(
        config_entry_id=other.entry_id, identifiers={("other_integration", "x")}, name="Lamp"
    )
    ghost = registry.async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={device_identifier(hub_scope(entry), "gone")},
        name="Old phone",
    )
    before = len(hub.received)

    cases = [
        ("no-such-device", "homeassistant", "service_device_not_found"),
        (foreign.id, "homeassistant", "service_device_wrong_domain"),
        (ghost.id, DOMAIN, "device_not_reported"),
    ]
    for bad, domain, key in cases:
        with pytest.raises(ServiceValidationError) as refused:
            await send(hass, [target, bad], "/device/restart")
        assert (refused.value.translation_domain, refused.value.translation_key) == (domain, key)
    assert str(refused.value) == "imouse hub no longer reports Old phone"
    assert len(hub.received) == before


@pytest.mark.parametrize("parameters", ["home", ["key", "home"], 3, {"keys": {"home", "menu"}}])
async def test_parameters_must_be_a_mapping_of_json_values(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub, parameters: Any
) -> None:
    hub = await start_hub("imouse", devices=1)
    entry = await setup_hub("imouse", hub)
    (phone,) = hub.devices
    before = len(hub.received)
    with pytest.raises(ServiceValidationError) as refused:
        await send(hass, registry_id(hass, entry, phone), "/key/sendkey", parameters=parameters)
    assert refused.value.translation_key == "invalid_parameters"
    assert refused.value.translation_placeholders == {"type": type(parameters).__name__}
    assert len(hub.received) == before


async def test_a_disconnected_or_unloaded_hub_is_refused(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=1)
    entry = await setup_hub("navixy", hub)
    (tracker,) = hub.trackers
    target = registry_id(hass, entry, str(tracker))

    await hub.stop()
    connected = entity_id(hass, entry, "binary_sensor", "", "connected")
    await wait_for(lambda: hass.states.get(connected).state == "off")
    with pytest.raises(HomeAssistantError) as refused:  # not the caller's mistake
        await send(hass, target, "reboot")
    assert not isinstance(refused.value, ServiceValidationError)
    assert refused.value.translation_key == "hub_not_connected"
    assert refused.value.translation_placeholders == {
        "device": "Vehicle 1",
        "hub": "navixy hub",
        "command": "reboot",
    }

    assert await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as unloaded:
        await send(hass, target, "reboot")
    assert unloaded.value.translation_key == "service_config_entry_not_loaded"
    assert hub.commands == []


async def test_schema_bounds_and_admin_only(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    hass_read_only_user: MockUser,
) -> None:
    hub = await start_hub("imouse", devices=1)
    entry = await setup_hub("imouse", hub)
    (phone,) = hub.devices
    target = registry_id(hass, entry, phone)
    before = len(hub.received)
    for timeout in (0, 301):
        with pytest.raises(vol.Invalid):
            await send(hass, target, "/device/restart", timeout=timeout)
    with pytest.raises(vol.Invalid):
        await send(hass, target, "")
    with pytest.raises(Unauthorized):
        await send(hass, target, "/device/restart", context=Context(user_id=hass_read_only_user.id))
    assert len(hub.received) == before


async def test_one_call_across_hubs_and_repeated_targets(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    imouse = await start_hub("imouse", devices=1)
    iclick = await start_hub("iclick", devices=1)
    kernel = await setup_hub("imouse", imouse)
    controller = await setup_hub("iclick", iclick)
    phone = registry_id(hass, kernel, next(iter(imouse.devices)))
    other = registry_id(hass, controller, next(iter(iclick.devices)))

    # Each hub answers in its own terms: iMouse has no "sendAction" function.
    response = await send(hass, [phone, other, phone], "sendAction", parameters={"action": "home"})
    assert [(result["device_id"], result["ok"]) for result in response["results"]] == [
        (phone, False),
        (other, True),
    ]
    assert response["results"][0]["code"] == "bad_command"
    assert len(iclick_requests(iclick, "sendAction")) == 1
