"""The packaging checks HACS and hassfest make, run offline."""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import struct
from typing import Any

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
from homeassistant.core import HomeAssistant
from homeassistant.helpers.service import _SERVICES_SCHEMA
from homeassistant.setup import async_setup_component
import yaml

from custom_components.fleet_push.const import DOMAIN
from custom_components.fleet_push.hubs.model import Category

ROOT = Path(__file__).parent.parent
INTEGRATION = ROOT / "custom_components" / DOMAIN

HACS_KEYS = {
    "name",
    "content_in_root",
    "zip_release",
    "filename",
    "hide_default_branch",
    "country",
    "homeassistant",
    "hacs",
    "persistent_directory",
    "render_readme",
}
MANIFEST_REQUIRED = {"domain", "name", "codeowners", "documentation", "issue_tracker", "version"}
MANIFEST_KEYS = MANIFEST_REQUIRED | {
    "config_flow",
    "dependencies",
    "after_dependencies",
    "integration_type",
    "iot_class",
    "loggers",
    "requirements",
    "quality_scale",
    "single_config_entry",
}
TRANSLATION_SECTIONS = {
    "title",
    "config",
    "options",
    "entity",
    "exceptions",
    "issues",
    "services",
    "selector",
    "device",
    "device_automation",
    "config_subentries",
}
QUALITY_RULES = {
    "bronze": (
        "action-setup appropriate-polling brands common-modules config-flow-test-coverage "
        "config-flow dependency-transparency docs-actions docs-conditions "
        "docs-high-level-description docs-installation-instructions docs-removal-instructions "
        "docs-triggers entity-event-setup entity-unique-id has-entity-name runtime-data "
        "test-before-configure test-before-setup unique-config-entry"
    ),
    "silver": (
        "action-exceptions config-entry-unloading docs-configuration-parameters "
        "docs-installation-parameters entity-unavailable integration-owner "
        "log-when-unavailable parallel-updates reauthentication-flow test-coverage"
    ),
    "gold": (
        "devices diagnostics discovery-update-info discovery docs-data-update docs-examples "
        "docs-known-limitations docs-supported-devices docs-supported-functions "
        "docs-troubleshooting docs-use-cases dynamic-devices entity-category "
        "entity-device-class entity-disabled-by-default entity-translations "
        "exception-translations icon-translations reconfiguration-flow repair-issues "
        "stale-devices"
    ),
    "platinum": "async-dependency inject-websession strict-typing",
}


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _paths(tree: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key path to a leaf of a nested dict."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, (*prefix, key))
    else:
        yield prefix


def test_manifest_keys_are_in_hassfest_order() -> None:
    manifest = _json(INTEGRATION / "manifest.json")
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert MANIFEST_REQUIRED <= set(keys) <= MANIFEST_KEYS
    assert manifest["domain"] == INTEGRATION.name
    assert manifest["integration_type"] == "hub"
    assert manifest["config_flow"] is True
    assert manifest["documentation"].startswith("https://")
    assert "home-assistant.io/integrations" not in manifest["documentation"]
    assert manifest["codeowners"]
    assert all(requirement.count("==") == 1 for requirement in manifest["requirements"])


def test_manifest_version_is_valid() -> None:
    version = AwesomeVersion(_json(INTEGRATION / "manifest.json")["version"])
    assert version.strategy is not AwesomeVersionStrategy.UNKNOWN


def test_hacs_json_has_only_keys_hacs_accepts() -> None:
    hacs = _json(ROOT / "hacs.json")
    assert "name" in hacs
    assert set(hacs) <= HACS_KEYS
    assert AwesomeVersion(hacs["homeassistant"]) <= AwesomeVersion("2026.10.4")


def test_brand_icon_is_a_square_png() -> None:
    data = (INTEGRATION / "brand" / "icon.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == height == 256


def test_licence_is_osi_approved() -> None:
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_translation_files_have_the_structure_home_assistant_loads() -> None:
    english = _json(INTEGRATION / "translations" / "en.json")
    english_paths = set(_paths(english))
    files = sorted((INTEGRATION / "translations").glob("*.json"))
    assert [path.name for path in files] == ["en.json", "zh-Hans.json"]
    for path in files:
        strings = _json(path)
        assert set(strings) <= TRANSLATION_SECTIONS, path.name
        assert set(_paths(strings)) == english_paths, path.name
        for leaf in _paths(strings):
            value: Any = strings
            for key in leaf:
                value = value[key]
            assert isinstance(value, str), (path.name, leaf)
            assert value.strip(), (path.name, leaf)
    assert not (INTEGRATION / "strings.json").exists()


def test_every_kind_of_tracker_has_its_icon() -> None:
    """Trackers are keyed by what they are, for their icons only: their name is the device's."""
    icons = _json(INTEGRATION / "icons.json")["entity"]["device_tracker"]
    assert set(icons) == {category.value for category in Category}
    assert "device_tracker" not in _json(INTEGRATION / "translations" / "en.json")["entity"]


def test_quality_scale_lists_every_rule() -> None:
    rules = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text())["rules"]
    expected = {rule for tier in QUALITY_RULES.values() for rule in tier.split()}
    assert len(expected) == 54
    assert set(rules) == expected
    for rule, status in rules.items():
        if isinstance(status, dict):
            assert status["status"] in {"exempt", "todo"}, rule
            assert status["comment"].strip(), rule
        else:
            assert status == "done", rule


async def test_services_yaml_matches_the_registered_actions(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    registered = set(hass.services.async_services_for_domain(DOMAIN))
    services_file = INTEGRATION / "services.yaml"
    described = (
        set(yaml.safe_load(services_file.read_text()) or {}) if services_file.exists() else set()
    )
    assert registered == described
    translated = _json(INTEGRATION / "translations" / "en.json").get("services", {})
    assert set(translated) == described
    icons = _json(INTEGRATION / "icons.json").get("services", {})
    assert set(icons) == described


def test_services_yaml_has_the_structure_home_assistant_loads() -> None:
    services = yaml.safe_load((INTEGRATION / "services.yaml").read_text())
    assert set(_SERVICES_SCHEMA(services)) == set(services)  # raises if malformed
