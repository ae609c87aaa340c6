"""The contract of a hub kind: whatever its declaration names, Home Assistant can show.

Every setting, option, channel, event type, press and field a shipped hub kind declares has its
form labels, entity names, event type names and icons, in every language FleetPush ships (their
ICU syntax is checked by tests/test_translations.py). A new kind, or a new field, fails here
until it has them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from custom_components.fleet_push import binary_sensor, button, event, image, sensor, switch
from custom_components.fleet_push.const import (
    CONF_GRACE_PERIOD,
    CONF_MIN_POSITION_INTERVAL,
    CONF_STALE_AFTER,
)
from custom_components.fleet_push.hubs import HUB_KINDS, client_class
from custom_components.fleet_push.hubs.declaration import HubDeclaration
from custom_components.fleet_push.hubs.model import Field

INTEGRATION = Path(__file__).parents[1] / "custom_components/fleet_push"
LANGUAGES = ("en", "zh-Hans")
DESCRIBED_FIELDS: dict[Field, Any] = {
    description.field: description
    for description in (
        *binary_sensor.BINARY_SENSORS,
        binary_sensor.INPUT,
        binary_sensor.OUTPUT,
        *sensor.SENSORS,
        sensor.READING,
    )
    if description.field is not None
}
"""Every field an entity shows, and the description of that entity."""


def strings(language: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (INTEGRATION / "translations" / f"{language}.json").read_text("utf-8")
    )
    return loaded


ICONS: dict[str, Any] = json.loads((INTEGRATION / "icons.json").read_text("utf-8"))


def declaration(kind: str) -> HubDeclaration:
    return client_class(kind).declaration


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", HUB_KINDS)
def test_every_setting_has_its_label_in_every_form_of_its_kind(kind: str, language: str) -> None:
    declared = declaration(kind)
    steps = strings(language)["config"]["step"]
    assert kind in steps["user"]["menu_options"]
    keys = {setting.key for setting in declared.settings}
    for step in (kind, f"reconfigure_{kind}"):
        assert set(steps[step]["data"]) == keys, step
        assert set(steps[step]["data_description"]) == keys, step
    assert steps[f"reconfigure_{kind}"]["data"] == steps[kind]["data"]  # the same labels
    if declared.credentials:
        reauth = steps[f"reauth_{kind}"]
        assert reauth["data"] == {key: steps[kind]["data"][key] for key in declared.credentials}
        assert set(reauth["data_description"]) == set(declared.credentials)
    else:
        assert f"reauth_{kind}" not in steps  # never reauthenticated
    if declared.sign_in:
        assert strings(language)["config"]["error"][f"{kind}_sign_in_required"]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", HUB_KINDS)
def test_every_option_has_its_label(kind: str, language: str) -> None:
    declared = declaration(kind)
    init = strings(language)["options"]["step"]["init"]
    keys = {CONF_GRACE_PERIOD, *(option.key for option in declared.options)}
    if declared.positions:
        keys.add(CONF_MIN_POSITION_INTERVAL)
        keys.add(CONF_STALE_AFTER)
    assert keys <= set(init["data"])
    assert keys <= set(init["data_description"])


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", HUB_KINDS)
def test_every_channel_has_its_event_entity_and_every_event_type_its_name(
    kind: str, language: str
) -> None:
    names = strings(language)["entity"]["event"]
    for channel in declaration(kind).channels:
        described = event.describe(channel)
        assert names[described.translation_key]["name"], channel
        assert described.translation_key in ICONS["entity"]["event"], channel
        if channel.chosen_by is None:
            types = names[described.translation_key]["state_attributes"]["event_type"]["state"]
            assert set(channel.event_types) <= set(types), channel
        else:  # typed by the hub's own names, chosen in an option the kind declares
            assert channel.event_types == ()
            assert channel.chosen_by in {option.key for option in declaration(kind).options}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", HUB_KINDS)
def test_every_press_has_a_button_with_a_name(kind: str, language: str) -> None:
    names = strings(language)["entity"].get("button", {})
    for press in declaration(kind).presses:
        described = button.describe(press)
        if described.translation_key is None:  # named by its device class
            assert described.device_class is not None, press
        else:
            assert names[described.translation_key]["name"], press
            assert described.translation_key in ICONS["entity"]["button"], press


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", HUB_KINDS)
def test_a_kind_that_takes_screenshots_has_their_entity_button_and_action(
    kind: str, language: str
) -> None:
    if not declaration(kind).screenshots:
        return
    names = strings(language)
    described = (image.SCREENSHOT_IMAGE, button.TAKE_SCREENSHOT)
    for platform, description in zip(("image", "button"), described, strict=True):
        assert names["entity"][platform][description.translation_key]["name"]
        assert description.translation_key in ICONS["entity"][platform]
    assert names["services"]["take_screenshot"]["name"]
    assert "take_screenshot" in ICONS["services"]
    for key in ("screenshot_offline", "screenshot_too_large"):
        assert names["exceptions"][key]["message"]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", HUB_KINDS)
def test_every_field_has_an_entity_with_a_name(kind: str, language: str) -> None:
    names = strings(language)["entity"]
    declared = declaration(kind)
    for field in declared.fields:
        assert field in DESCRIBED_FIELDS, f"{kind} reports {field}, which no entity shows"
        described = DESCRIBED_FIELDS[field]
        platform = "sensor" if described in (*sensor.SENSORS, sensor.READING) else "binary_sensor"
        if described.translation_key is not None:
            assert names[platform][described.translation_key]["name"], field
        else:  # named by its device class
            assert described.device_class is not None, field
    if declared.output_command is not None:
        assert Field.OUTPUTS in declared.fields
        assert names["switch"][switch.OUTPUT.translation_key]["name"]


def test_what_no_kind_declares_has_no_strings_left_behind() -> None:
    english = strings("en")
    channels = {
        event.describe(channel).translation_key
        for kind in HUB_KINDS
        for channel in declaration(kind).channels
    }
    assert set(english["entity"]["event"]) == channels
    presses = {
        button.describe(press).translation_key
        for kind in HUB_KINDS
        for press in declaration(kind).presses
    }
    if any(declaration(kind).screenshots for kind in HUB_KINDS):
        presses.add(button.TAKE_SCREENSHOT.translation_key)
    assert set(english["entity"].get("button", {})) == presses - {None}
    menu = set(english["config"]["step"]["user"]["menu_options"])
    assert menu == set(HUB_KINDS)
