"""The benchmark's harness: the tests' Home Assistant fixtures, with production loop settings."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import logging
from unittest.mock import patch

import pytest

# Imported before any test runs: pytest-homeassistant-custom-component puts its own
# `custom_components` package on the path, and Home Assistant would not find ours otherwise.
import custom_components.fleet_push  # noqa: F401

from .report import RESULTS, table


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components/."""


@pytest.fixture(autouse=True)
async def enable_event_loop_debug() -> None:
    """Keep the event loop's debug mode off, as in production (the harness turns it on).

    Debug mode records a traceback for every scheduled callback and would multiply every
    figure; this fixture replaces the harness's fixture of the same name.
    """
    asyncio.get_running_loop().set_debug(False)


@pytest.fixture(autouse=True)
def production_log_level() -> Iterator[None]:
    """Log at WARNING, as a production configuration does (the harness logs at INFO).

    At INFO every new entity is logged, which would add a log line per entity to setup times.
    """
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)
    yield
    root.setLevel(level)


ENTITY_LIMIT = "homeassistant.helpers.entity_platform.MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY"


@pytest.fixture(autouse=True)
def no_entity_limit() -> Iterator[None]:
    """Lift Home Assistant's limit of 10,000 enabled entities per config entry.

    A hub of 10,000 devices with more than one enabled entity per device is over it; the
    benchmark measures the cost of the whole fleet, and the table says how many enabled
    entities each device has.
    """
    with patch(ENTITY_LIMIT, 10**9):
        yield


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the table of whatever cases ran in this process."""
    if RESULTS:
        terminalreporter.write_line("")
        for line in table(RESULTS):
            terminalreporter.write_line(line)
