"""One snapshot per platform: every entity's registry entry and state, for both hub worlds."""

from __future__ import annotations

import json
from unittest.mock import patch

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import snapshot_platform
from syrupy.assertion import SnapshotAssertion

from .conftest import SetupHub, StartHub
from .helpers import fixture_text, wait_for


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize(
    "platform",
    [
        Platform.BINARY_SENSOR,
        Platform.BUTTON,
        Platform.DEVICE_TRACKER,
        Platform.EVENT,
        Platform.SENSOR,
        Platform.SWITCH,
    ],
)
async def test_platform_snapshot(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    navixy = await start_hub("navixy", devices=1)
    data = json.loads(fixture_text("navixy", "doc001_state_event.json"))["data"]
    (tracker,) = navixy.trackers.values()
    tracker.state = {key: value for key, value in data.items() if key != "source_id"}
    tracker.state["inputs"][1] = tracker.state["outputs"][0] = True  # input 2, output 1 in use
    imouse = await start_hub("imouse", devices=2)

    with patch("custom_components.fleet_push.PLATFORMS", [platform]):
        kernel = await setup_hub("imouse", imouse, unique_id="kernel")
        account = await setup_hub("navixy", navixy, unique_id="account")
        await wait_for(lambda: account.runtime_data.devices[str(tracker.tracker_id)].position)
        await imouse.push(fixture_text("imouse", "user_info.json"))
        await wait_for(lambda: kernel.runtime_data.devices[""].values)
        await hass.async_block_till_done()

    for entry in (kernel, account):
        if er.async_entries_for_config_entry(entity_registry, entry.entry_id):
            await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
