"""Fixtures shared by every FleetPush test."""

from __future__ import annotations

import pytest

# Imported before any test runs: pytest-homeassistant-custom-component puts its own
# `custom_components` package on the path, and Home Assistant would not find ours otherwise.
import custom_components.fleet_push  # noqa: F401


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components/."""
