"""Phone screens in the clients: screenshots as the hubs send them, and what records say of the
screen (iMouse XP's rotate and cast handle, iClick's orientation), junk included."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.fleet_push.hubs.errors import (
    CannotConnect,
    CommandCode,
    CommandFailed,
)
from custom_components.fleet_push.hubs.iclick import IClickClient
from custom_components.fleet_push.hubs.iclick_facts import BinaryReply, facts
from custom_components.fleet_push.hubs.imouse import IMouseClient
from custom_components.fleet_push.hubs.imouse_screens import (
    is_envelope,
    screen_values,
    screenshot_in,
)
from custom_components.fleet_push.hubs.model import Command, Field, HubMessage, Orientation
from custom_components.fleet_push.hubs.navixy import NavixyClient
from custom_components.fleet_push.hubs.screenshots import (
    MAX_SCREENSHOT_BYTES,
    ScreenshotTooLarge,
    screenshot_of,
)
from tests.simulator.iclick import IClickSimulator
from tests.simulator.imouse import IMouseSimulator

JPEG = b"\xff\xd8\xff\xe0" + bytes(16)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(16)


# --- the image itself ---


@pytest.mark.parametrize(("payload", "content_type"), [(JPEG, "image/jpeg"), (PNG, "image/png")])
def test_a_jpeg_or_png_is_a_screenshot(payload: bytes, content_type: str) -> None:
    screenshot = screenshot_of(payload)
    assert (screenshot.content, screenshot.content_type) == (payload, content_type)
    assert screenshot.taken.tzinfo is not None


@pytest.mark.parametrize("payload", [b"", b"GIF89a", b'{"code": 0}', b"\xff\xd8"])
def test_anything_else_is_a_bad_reply(payload: bytes) -> None:
    with pytest.raises(CommandFailed) as failure:
        screenshot_of(payload)
    assert failure.value.code == CommandCode.BAD_REPLY


def test_a_screenshot_over_the_limit_is_refused() -> None:
    screenshot_of(JPEG + bytes(MAX_SCREENSHOT_BYTES - len(JPEG)))  # at the limit: kept
    with pytest.raises(ScreenshotTooLarge) as failure:
        screenshot_of(JPEG + bytes(MAX_SCREENSHOT_BYTES))
    assert failure.value.code == CommandCode.TOO_LARGE


# --- iMouse XP ---


@pytest.mark.parametrize(
    ("record", "values"),
    [
        ({"rotate": 0, "air_handle": 7, "state": 1}, (Orientation.PORTRAIT, True)),
        ({"rotate": 1, "air_handle": 0, "state": 1}, (Orientation.LANDSCAPE, False)),
        ({"rotate": 2, "air_handle": 7, "state": 0}, (Orientation.PORTRAIT, True)),
        ({"rotate": 270, "air_handle": 7, "state": 1}, (Orientation.LANDSCAPE, True)),
        ({"rotate": 180, "air_handle": 7, "state": 1}, (Orientation.PORTRAIT, True)),
        ({"rotate": 45, "air_handle": "7", "state": 1}, (None, None)),
        ({"rotate": True, "air_handle": None, "state": 1}, (None, None)),
    ],
)
def test_imouse_rotate_and_cast_handle(
    record: dict[str, Any], values: tuple[Orientation | None, bool | None]
) -> None:
    assert screen_values(record) == {
        Field.ORIENTATION: values[0],
        Field.SCREEN_CASTING: values[1],
    }


def test_imouse_records_without_screen_keys_say_nothing_of_it() -> None:
    assert screen_values({"state": 1}) == {}


@pytest.mark.parametrize(
    ("content_type", "body", "envelope"),
    [
        ("application/json", b"{}", True),
        ("text/plain; charset=utf-8", b"{}", True),
        ("", b'  {"status": 200}', True),
        ("image/jpeg", JPEG, False),
        ("application/octet-stream", JPEG, False),
        ("", PNG, False),
    ],
)
def test_imouse_body_is_the_reply_or_the_image(
    content_type: str, body: bytes, envelope: bool
) -> None:
    assert is_envelope(content_type, body) is envelope


def test_imouse_image_in_base64() -> None:
    encoded = base64.b64encode(PNG).decode()
    assert screenshot_in({"image": encoded}).content == PNG
    assert screenshot_in({"image": f"data:image/png;base64,{encoded}"}).content == PNG
    for data in ({}, {"image": ""}, {"image": 5}, {"image": "not base64!"}):
        with pytest.raises(CommandFailed) as failure:
            screenshot_in(data)
        assert failure.value.code == CommandCode.BAD_REPLY
    with pytest.raises(ScreenshotTooLarge):
        screenshot_in({"image": "A" * (MAX_SCREENSHOT_BYTES * 2)})


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_imouse_kernel_refusals_pass_with_its_code(
    session: aiohttp.ClientSession,
) -> None:
    messages: list[HubMessage] = []
    async with IMouseSimulator(devices=1, user_info_interval=None) as kernel:
        client = IMouseClient(session, messages.append, host=kernel.host, port=kernel.port)
        await client.connect()
        try:
            (phone,) = kernel.fleet_ids()
            kernel.devices[phone]["state"] = 0  # offline, and nobody told
            with pytest.raises(CommandFailed) as offline:
                await client.take_screenshot(phone, 5)
            assert offline.value.code == 25
            with pytest.raises(CommandFailed) as unknown:
                await client.take_screenshot("nope", 5)
            assert unknown.value.code == 1
            kernel.devices[phone]["state"] = 1
            asked = Command(phone, "/pic/screenshot", {"jpg": True, "binary": True}, 5)
            answer = await client.send_command(asked)
            assert answer["content_type"] == "image/jpeg"
            assert answer["size"] > 100
            asked = Command(phone, "/pic/screenshot", {"jpg": False}, 5)
            assert (await client.send_command(asked))["image"]  # in base64, in the reply
            kernel.overrides["/pic/screenshot"] = {"code": 0, "id": phone}
            with pytest.raises(CommandFailed) as no_image:
                await client.take_screenshot(phone, 5)
            assert no_image.value.code == CommandCode.BAD_REPLY
            del kernel.overrides["/pic/screenshot"]
            kernel._screenshot_response = lambda _data: web.Response(status=503)  # type: ignore[method-assign]
            with pytest.raises(CommandFailed) as http_error:
                await client.take_screenshot(phone, 5)
            assert http_error.value.code == 503
        finally:
            await client.close()
    with pytest.raises(CannotConnect):
        await client.take_screenshot(phone, 5)


# --- iClick ---


@pytest.mark.parametrize(
    ("info", "values"),
    [
        ({"orientation": 1}, {Field.ORIENTATION: Orientation.PORTRAIT}),
        ({"orientation": 4}, {Field.ORIENTATION: Orientation.LANDSCAPE}),
        ({"orientation": 0}, {Field.ORIENTATION: None}),
        ({"orientation": 6}, {Field.ORIENTATION: None}),  # face down: no screen orientation
        ({"orientation": "1"}, {Field.ORIENTATION: None}),
        ({"deviceChip": " CB-1 "}, {Field.CHIP: "CB-1"}),
        ({"deviceChip": ""}, {Field.CHIP: None}),
        ({"ipAddress": ["10.0.0.1"]}, {Field.IP_ADDRESS: None}),
        ({"timeZone": "x" * 300}, {Field.TIME_ZONE: None}),
        ({"deviceLanguage": "en-GB"}, {Field.LANGUAGE: "en-GB"}),
        ({}, {}),
    ],
)
def test_iclick_facts(info: dict[str, Any], values: dict[Field, Any]) -> None:
    assert facts(info) == values


async def test_iclick_screenshot_is_the_binary_replys_payload(
    session: aiohttp.ClientSession,
) -> None:
    async with IClickSimulator(devices=1) as controller:
        client = IClickClient(session, [].append, host=controller.host, port=controller.port)
        await client.connect()
        try:
            (phone,) = controller.fleet_ids()
            screenshot = await client.take_screenshot(phone, 5)
            assert screenshot.content_type == "image/jpeg"
            assert controller.screenshots_taken == [phone]

            async def not_binary(_request: dict[str, Any]) -> Any:
                return {"status": True}

            controller.api["getScreenShot"] = not_binary
            with pytest.raises(CommandFailed) as failure:
                await client.take_screenshot(phone, 5)
            assert failure.value.code == CommandCode.BAD_REPLY
            controller.api = controller._api()
            with pytest.raises(CommandFailed, match="device not found"):
                await client.take_screenshot("unknown", 5)
        finally:
            await client.close()


def test_iclick_binary_reply_summary() -> None:
    reply = BinaryReply({"evtid": "a", "type": "success"}, JPEG)
    assert reply.summary() == {"meta": {"evtid": "a", "type": "success"}, "size": len(JPEG)}


async def test_a_kind_without_screenshots_takes_none(session: aiohttp.ClientSession) -> None:
    client = NavixyClient(session, [].append, url="https://x.invalid/v2", api_key="k")
    assert not client.declaration.screenshots
    with pytest.raises(CannotConnect):
        await client.take_screenshot("1", 5)
    with pytest.raises(CommandFailed) as failure:
        await client._screenshot("1", 5)
    assert failure.value.code == CommandCode.BAD_COMMAND
