"""Buttons through Home Assistant: iMouse restart and iClick home, against the simulators."""

from __future__ import annotations

import json

from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_ENTITY_ID,
    STATE_UNKNOWN,
    EntityCategory,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pytest
from syrupy.assertion import SnapshotAssertion

from custom_components.fleet_push.hubs import HUB_KINDS

from .conftest import SetupHub, StartHub
from .helpers import enabled_by_default, entity_exists, entity_id, snapshot_entities, wait_for
from .kinds import setup_fleet


async def press(hass: HomeAssistant, entity: str) -> None:
    """Press a button the way the UI does."""
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: entity}, blocking=True
    )


def requests(hub: object, key: str, value: str) -> list[dict[str, object]]:
    """Every frame a simulator received whose `key` is `value`."""
    frames = [json.loads(text) for text in hub.received]  # type: ignore[attr-defined]
    return [frame for frame in frames if frame.get(key) == value]


async def test_imouse_phones_have_a_restart_button(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    entity_registry: er.EntityRegistry,
) -> None:
    hub = await start_hub("imouse", devices=2)
    entry = await setup_hub("imouse", hub)
    phone, other = hub.devices
    restart = entity_id(hass, entry, "button", phone, "restart")
    assert not entity_exists(hass, entry, "button", "", "restart")  # not the kernel
    state = hass.states.get(restart)
    assert state.state == STATE_UNKNOWN
    assert state.attributes[ATTR_DEVICE_CLASS] == "restart"
    assert state.name == "Phone 001 Restart"
    assert entity_registry.async_get(restart).entity_category is EntityCategory.CONFIG

    await press(hass, restart)
    assert [frame["data"] for frame in requests(hub, "fun", "/device/restart")] == [{"id": phone}]
    assert hass.states.get(restart).state != STATE_UNKNOWN  # the time it was pressed

    await hub.set_online(other, False)
    with pytest.raises(HomeAssistantError) as refused:
        await press(hass, entity_id(hass, entry, "button", other, "restart"))
    assert refused.value.translation_key == "command_failed"
    assert str(refused.value) == "Phone 002 did not carry out /device/restart: 设备不在线"
    assert len(requests(hub, "fun", "/device/restart")) == 2

    # A phone plugged in later gets its button too.
    added = await hub.add_device(name="New phone")
    await wait_for(lambda: entity_exists(hass, entry, "button", added, "restart"))


async def test_iclick_phones_have_a_home_button(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("iclick", devices=1)
    entry = await setup_hub("iclick", hub)
    (phone,) = hub.devices
    home = entity_id(hass, entry, "button", phone, "home")
    assert hass.states.get(home).name == "iPhone 1 Home button"

    await press(hass, home)
    (sent,) = requests(hub, "type", "sendAction")
    assert (sent["deviceId"], sent["action"]) == (phone, "home")

    await hub.set_online(phone, False)
    with pytest.raises(HomeAssistantError, match="iPhone 1 did not carry out sendAction"):
        await press(hass, home)


async def test_hubs_without_buttons_get_none(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=1)
    entry = await setup_hub("navixy", hub)
    assert not [
        entity
        for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if entity.domain == "button"
    ]


# --- every hub kind's buttons, as Home Assistant registers and shows them ---


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("kind", HUB_KINDS)
async def test_all_entities(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    snapshot: SnapshotAssertion,
    kind: str,
) -> None:
    entry = await setup_fleet(hass, start_hub, setup_hub, kind)
    snapshot_entities(hass, snapshot, entry, Platform.BUTTON)


@pytest.mark.parametrize("kind", HUB_KINDS)
async def test_which_entities_are_enabled_by_default(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    snapshot: SnapshotAssertion,
    kind: str,
) -> None:
    entry = await setup_fleet(hass, start_hub, setup_hub, kind)
    assert enabled_by_default(hass, entry, Platform.BUTTON) == snapshot
