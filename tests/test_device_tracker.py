"""Device trackers of every hub kind: where each tracker is, and what it is."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
import pytest
from syrupy.assertion import SnapshotAssertion

from custom_components.fleet_push.hubs import HUB_KINDS

from .conftest import SetupHub, StartHub
from .helpers import enabled_by_default, snapshot_entities
from .kinds import setup_fleet

# --- every hub kind's trackers, as Home Assistant registers and shows them ---


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
    snapshot_entities(hass, snapshot, entry, Platform.DEVICE_TRACKER)


@pytest.mark.parametrize("kind", HUB_KINDS)
async def test_which_entities_are_enabled_by_default(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    snapshot: SnapshotAssertion,
    kind: str,
) -> None:
    entry = await setup_fleet(hass, start_hub, setup_hub, kind)
    assert enabled_by_default(hass, entry, Platform.DEVICE_TRACKER) == snapshot
