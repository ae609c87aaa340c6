"""Sensors: what History and statistics need from every numeric sensor."""

from __future__ import annotations

import json
from pathlib import Path

from homeassistant.components.sensor import (
    ATTR_STATE_CLASS,
    SensorDeviceClass,
    SensorStateClass,
)
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, Platform
from homeassistant.core import HomeAssistant
import pytest
from syrupy.assertion import SnapshotAssertion

from custom_components.fleet_push.hubs import HUB_KINDS
from custom_components.fleet_push.sensor import SENSORS

from .conftest import SetupHub, StartHub
from .helpers import enabled_by_default, snapshot_entities, state_of, wait_for, wait_for_entity
from .kinds import setup_fleet

TRANSLATIONS = Path(__file__).parents[1] / "custom_components/fleet_push/translations"
NUMERIC = [
    d
    for d in SENSORS
    if d.device_class not in (SensorDeviceClass.TIMESTAMP, SensorDeviceClass.ENUM) and not d.text
]
TEXT = [d for d in SENSORS if d.device_class is SensorDeviceClass.ENUM or d.text]


@pytest.mark.parametrize("description", TEXT, ids=lambda d: d.key)
def test_text_and_enum_sensors_keep_no_statistics(description: object) -> None:
    """A name or an orientation has no mean: History shows it as a timeline."""
    assert description.state_class is None  # type: ignore[attr-defined]
    assert description.native_unit_of_measurement is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("description", NUMERIC, ids=lambda d: d.key)
def test_every_numeric_sensor_keeps_statistics_with_a_unit_and_a_precision(
    description: object,
) -> None:
    assert description.state_class in (  # type: ignore[attr-defined]
        SensorStateClass.MEASUREMENT,
        SensorStateClass.TOTAL_INCREASING,
    )
    assert description.suggested_display_precision is not None  # type: ignore[attr-defined]
    if description.native_unit_of_measurement is None:  # type: ignore[attr-defined]
        # A count: its unit comes from the translations, in every language.
        for language in ("en", "zh-Hans"):
            strings = json.loads((TRANSLATIONS / f"{language}.json").read_text("utf-8"))
            entity = strings["entity"]["sensor"][description.translation_key]  # type: ignore[attr-defined]
            assert entity["unit_of_measurement"], (language, description)


async def test_kernel_counts_draw_lines_in_history(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("imouse", devices=3)
    entry = await setup_hub("imouse", hub)
    devices = await wait_for_entity(hass, entry, "sensor", "", "devices")
    await wait_for(lambda: hass.states.get(devices).state == "3")
    for key, unit in (
        ("devices", "devices"),
        ("devices_online", "devices"),
        ("licences_total", "licences"),
    ):
        state = state_of(hass, entry, "sensor", "", key)
        assert state.attributes[ATTR_STATE_CLASS] == SensorStateClass.MEASUREMENT
        assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == unit
    assert state_of(hass, entry, "sensor", "", "devices").state == "3"


# --- every hub kind's sensors, as Home Assistant registers and shows them ---


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
    snapshot_entities(hass, snapshot, entry, Platform.SENSOR)


@pytest.mark.parametrize("kind", HUB_KINDS)
async def test_which_entities_are_enabled_by_default(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    snapshot: SnapshotAssertion,
    kind: str,
) -> None:
    entry = await setup_fleet(hass, start_hub, setup_hub, kind)
    assert enabled_by_default(hass, entry, Platform.SENSOR) == snapshot
