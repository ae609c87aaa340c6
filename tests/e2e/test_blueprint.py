"""The automation blueprint shipped in blueprints/ is one Home Assistant accepts.

The end-to-end test also runs it in a real Home Assistant; these check it against Home
Assistant's own blueprint and automation schemas, quickly.
"""

from __future__ import annotations

from homeassistant.components.automation.config import (
    AUTOMATION_BLUEPRINT_SCHEMA,
    ValidationStatus,
    async_validate_config_item,
)
from homeassistant.components.blueprint import Blueprint, BlueprintInputs
from homeassistant.core import HomeAssistant
from homeassistant.util.yaml import load_yaml_dict

from .homeassistant import CHECKOUT

BLUEPRINT = CHECKOUT / "blueprints" / "automation" / "fleet_push" / "device_offline.yaml"


def load() -> Blueprint:
    return Blueprint(
        load_yaml_dict(BLUEPRINT),
        path="fleet_push/device_offline.yaml",
        expected_domain="automation",
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )


def test_blueprint_matches_home_assistants_schema() -> None:
    blueprint = load()
    assert blueprint.validate() is None  # this Home Assistant is recent enough
    assert blueprint.name == "FleetPush device offline"
    assert set(blueprint.inputs) == {"notify_action", "duration"}
    assert blueprint.inputs["notify_action"]["default"] == "notify.persistent_notification"
    assert blueprint.inputs["duration"]["default"] == {"hours": 0, "minutes": 5, "seconds": 0}


async def test_automation_from_the_blueprint_is_valid(hass: HomeAssistant) -> None:
    blueprint = load()
    config = {"alias": "Fleet offline", "use_blueprint": {"path": "x", "input": {}}}
    substituted = BlueprintInputs(blueprint, config).async_substitute()

    validated = await async_validate_config_item(hass, "automation", substituted)

    assert validated is not None
    assert validated.validation_status == ValidationStatus.OK
    assert validated["triggers"][0]["platform"] == "event"
    assert validated["actions"][-1]["action"] == "notify.persistent_notification"
