"""Phone screens through Home Assistant: screenshots on demand, screen casting, orientation,
the USB hardware restart and iClick's device facts, against the simulators."""

from __future__ import annotations

from http import HTTPStatus
import json
from typing import Any

from homeassistant.const import (
    ATTR_DEVICE_ID,
    ATTR_ENTITY_ID,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    EntityCategory,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.fleet_push.const import DOMAIN
from custom_components.fleet_push.hubs.screenshots import MAX_SCREENSHOT_BYTES
from custom_components.fleet_push.screenshots import SERVICE_TAKE_SCREENSHOT

from .conftest import SetupHub, StartHub
from .helpers import entity_id, registry_id, state_of, wait_for
from .kinds import KIND
from .test_button import press

PHONE_KINDS = ("imouse", "iclick")
IMAGE_TYPES = {"imouse": "image/jpeg", "iclick": "image/jpeg"}
"""iMouse XP is asked for a JPEG (jpg: true); iClick sends JPEGs (protocols.md 1.4)."""


async def take_screenshot(hass: HomeAssistant, target: dict[str, Any]) -> None:
    """Call fleet_push.take_screenshot the way an automation does."""
    await hass.services.async_call(DOMAIN, SERVICE_TAKE_SCREENSHOT, target=target, blocking=True)


async def image_of(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, entity: str
) -> tuple[str, bytes]:
    """The image the frontend gets for an image entity: its content type and bytes."""
    client = await hass_client()
    response = await client.get(f"/api/image_proxy/{entity}")
    assert response.status == HTTPStatus.OK
    return response.content_type, await response.read()


@pytest.mark.parametrize("kind", PHONE_KINDS)
async def test_a_screenshot_is_taken_only_when_asked_for(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    start_hub: StartHub,
    setup_hub: SetupHub,
    entity_registry: er.EntityRegistry,
    kind: str,
) -> None:
    hub = await start_hub(kind, devices=2)
    entry = await setup_hub(kind, hub)
    phone, other = hub.fleet_ids()
    image = entity_id(hass, entry, "image", phone, "screenshot")
    button = entity_id(hass, entry, "button", phone, "take_screenshot")
    assert hass.states.get(image).state == STATE_UNKNOWN  # none taken: never polled
    assert entity_registry.async_get(image).translation_key == "screenshot"
    assert hub.screenshots_taken == []

    await press(hass, button)
    assert hub.screenshots_taken == [phone]
    taken = hass.states.get(image).state
    assert taken != STATE_UNKNOWN
    content_type, content = await image_of(hass, hass_client, image)
    assert content_type == IMAGE_TYPES[kind]
    assert content.startswith(b"\xff\xd8\xff")

    # The action takes the targets' screenshots (here by device), and nothing else.
    await take_screenshot(hass, {ATTR_DEVICE_ID: registry_id(hass, entry, other)})
    assert hub.screenshots_taken == [phone, other]
    assert hass.states.get(image).state == taken
    other_image = entity_id(hass, entry, "image", other, "screenshot")
    assert hass.states.get(other_image).state != STATE_UNKNOWN
    await take_screenshot(hass, {ATTR_ENTITY_ID: image})
    assert hass.states.get(image).state > taken


@pytest.mark.parametrize("kind", PHONE_KINDS)
async def test_an_offline_phone_is_refused_before_anything_is_asked(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub, kind: str
) -> None:
    hub = await start_hub(kind, devices=1)
    entry = await setup_hub(kind, hub)
    (phone,) = hub.fleet_ids()
    online = entity_id(hass, entry, "binary_sensor", phone, "online")
    await KIND[kind].offline(hub, phone)
    await wait_for(lambda: hass.states.get(online).state == STATE_OFF)

    button = entity_id(hass, entry, "button", phone, "take_screenshot")
    assert hass.states.get(button).state != STATE_UNAVAILABLE  # pressable: it says why not
    image = entity_id(hass, entry, "image", phone, "screenshot")
    for call in (
        lambda: press(hass, button),
        lambda: take_screenshot(hass, {ATTR_ENTITY_ID: image}),
    ):
        with pytest.raises(HomeAssistantError) as refused:
            await call()
        assert refused.value.translation_key == "screenshot_offline"
    assert hub.screenshots_taken == []
    assert hass.states.get(image).state == STATE_UNKNOWN


@pytest.mark.parametrize("kind", PHONE_KINDS)
async def test_a_screenshot_over_the_limit_is_refused_and_not_kept(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    start_hub: StartHub,
    setup_hub: SetupHub,
    kind: str,
) -> None:
    hub = await start_hub(kind, devices=1)
    entry = await setup_hub(kind, hub)
    (phone,) = hub.fleet_ids()
    image = entity_id(hass, entry, "image", phone, "screenshot")
    await take_screenshot(hass, {ATTR_ENTITY_ID: image})
    taken = hass.states.get(image).state
    _, kept = await image_of(hass, hass_client, image)

    hub.screenshot_padding = MAX_SCREENSHOT_BYTES
    with pytest.raises(HomeAssistantError) as refused:
        await take_screenshot(hass, {ATTR_ENTITY_ID: image})
    assert refused.value.translation_key == "screenshot_too_large"
    assert refused.value.translation_placeholders["limit"] == "4"
    assert hass.states.get(image).state == taken
    assert (await image_of(hass, hass_client, image))[1] == kept
    assert hass.states.get(entity_id(hass, entry, "binary_sensor", "", "connected")).state == "on"


@pytest.mark.parametrize("reply", ["typed", "untyped", "base64"])
async def test_imouse_screenshots_however_the_kernel_sends_them(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    start_hub: StartHub,
    setup_hub: SetupHub,
    reply: str,
) -> None:
    hub = await start_hub("imouse", devices=1, screenshot_reply=reply)
    entry = await setup_hub("imouse", hub)
    (phone,) = hub.fleet_ids()
    image = entity_id(hass, entry, "image", phone, "screenshot")
    await take_screenshot(hass, {ATTR_ENTITY_ID: image})
    content_type, content = await image_of(hass, hass_client, image)
    assert (content_type, content[:3]) == ("image/jpeg", b"\xff\xd8\xff")
    (request,) = [json.loads(body) for body in hub.posted if "/pic/screenshot" in body]
    assert request == {"fun": "/pic/screenshot", "data": {"id": phone, "jpg": True, "binary": True}}


async def test_imouse_screen_casting_and_orientation(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=1)
    entry = await setup_hub("imouse", hub)
    (phone,) = hub.fleet_ids()
    casting = entity_id(hass, entry, "binary_sensor", phone, "screen_casting")
    orientation = entity_id(hass, entry, "sensor", phone, "orientation")
    assert hass.states.get(casting).state == STATE_ON
    assert hass.states.get(orientation).state == "portrait"
    assert hass.states.get(orientation).attributes["options"] == ["portrait", "landscape"]

    await hub.set_casting(phone, casting=False)
    await wait_for(lambda: hass.states.get(casting).state == STATE_OFF)
    await hub.set_casting(phone, casting=True)
    await wait_for(lambda: hass.states.get(casting).state == STATE_ON)
    await hub.rotate(phone, to=1)
    await wait_for(lambda: hass.states.get(orientation).state == "landscape")


async def test_imouse_restart_usb_hardware_button(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    entity_registry: er.EntityRegistry,
) -> None:
    hub = await start_hub("imouse", devices=3)  # the third phone is bound to no hardware
    entry = await setup_hub("imouse", hub)
    bound, _, unbound = hub.fleet_ids()
    button = entity_id(hass, entry, "button", bound, "usb_restart")
    assert hass.states.get(button).name == "Phone 001 Restart USB hardware"
    assert entity_registry.async_get(button).entity_category is EntityCategory.CONFIG

    await hub.set_online(bound, online=False)  # a hung phone is when its hardware needs it
    await wait_for(lambda: hass.states.get(button).state != STATE_UNAVAILABLE)
    await press(hass, button)
    record = hub.devices[bound]
    posted = [json.loads(body) for body in hub.posted]
    assert [body["data"] for body in posted if body["fun"] == "/device/usb/restart"] == [
        {"id": f"{record['vid']}_{record['pid']}"}
    ]
    with pytest.raises(HomeAssistantError) as refused:
        await press(hass, entity_id(hass, entry, "button", unbound, "usb_restart"))
    assert refused.value.translation_key == "command_failed"
    assert "not bound" in str(refused.value)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_iclick_device_facts_and_orientation(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    entity_registry: er.EntityRegistry,
) -> None:
    hub = await start_hub("iclick", devices=1)
    entry = await setup_hub("iclick", hub)
    (phone,) = hub.fleet_ids()
    info = hub.devices[phone]["info"]
    facts = {
        "ip_address": info["ipAddress"],
        "language": "zh-Hans-CN",
        "time_zone": "Asia/Shanghai",
        "chip": STATE_UNKNOWN,  # bound to no chip board
    }
    for key, value in facts.items():
        fact = entity_id(hass, entry, "sensor", phone, key)
        assert hass.states.get(fact).state == value, key
        assert entity_registry.async_get(fact).entity_category is EntityCategory.DIAGNOSTIC

    await hub.bindchip(phone, "CB-0042")
    chip = entity_id(hass, entry, "sensor", phone, "chip")
    await wait_for(lambda: hass.states.get(chip).state == "CB-0042")
    orientation = entity_id(hass, entry, "sensor", phone, "orientation")
    assert hass.states.get(orientation).state == "portrait"
    await hub.set_busy(phone, busy=True, turn=True)
    await wait_for(lambda: hass.states.get(orientation).state == "landscape")
    assert state_of(hass, entry, "binary_sensor", phone, "busy").state == STATE_ON


async def test_a_kernel_that_fails_the_screenshot_says_why(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=1)
    entry = await setup_hub("imouse", hub)
    (phone,) = hub.fleet_ids()
    hub.overrides["/pic/screenshot"] = {"code": 33, "id": phone, "message": "截图失败"}
    image = entity_id(hass, entry, "image", phone, "screenshot")
    with pytest.raises(HomeAssistantError) as failed:
        await take_screenshot(hass, {ATTR_ENTITY_ID: image})
    assert failed.value.translation_key == "command_failed"
    assert "截图失败" in str(failed.value)
    assert hass.states.get(image).state == STATE_UNKNOWN


@pytest.mark.parametrize("kind", ["navixy", "tftiot", "devicehive"])
async def test_trackers_have_no_screens(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub, kind: str
) -> None:
    hub = await start_hub(kind, devices=1)
    entry = await setup_hub(kind, hub)
    domains = {
        entity.domain
        for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    }
    assert "image" not in domains
    assert not hass.states.async_entity_ids("image")
