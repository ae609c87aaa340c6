"""Fixtures shared by every FleetPush test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any
from unittest.mock import AsyncMock, PropertyMock, patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

# Imported before any test runs: pytest-homeassistant-custom-component puts its own
# `custom_components` package on the path, and Home Assistant would not find ours otherwise.
import custom_components.fleet_push  # noqa: F401
from custom_components.fleet_push.const import CONF_HUB_KIND, DOMAIN
from custom_components.fleet_push.coordinator import FleetPushCoordinator
from custom_components.fleet_push.hubs import client_class
from custom_components.fleet_push.migration import CURRENT_VERSION

from .helpers import entity_id, wait_for
from .simulator import simulator_class
from .simulator.base import HubSimulator

type StartHub = Callable[..., Awaitable[Any]]
type SetupHub = Callable[..., Awaitable[MockConfigEntry]]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components/."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots in Home Assistant's format (ids and times replaced by placeholders)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Enable the entities that are disabled by default (inputs, outputs, altitude)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
def mock_setup_entry() -> Generator[AsyncMock]:
    """Flows end where a hub's setup would begin: it is not run (no connection, no entities)."""
    with patch("custom_components.fleet_push.async_setup_entry", return_value=True) as mocked:
        yield mocked


@pytest.fixture(autouse=True)
def fast_reconnect() -> Generator[None]:
    """Reconnect at once in tests; the back-off itself is tested on its own."""
    with patch("custom_components.fleet_push.supervisor.RECONNECT_FIRST", 0.05):
        yield


@pytest.fixture
async def start_hub(socket_enabled: None) -> AsyncIterator[StartHub]:
    """Start hub simulators on loopback; they stop when the test ends."""
    started: list[HubSimulator] = []

    async def start(kind: str, **options: Any) -> Any:
        options.setdefault("devices", 2)
        simulator = simulator_class(kind)(**options)
        await simulator.start()
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        await simulator.stop()


def entry_data(kind: str, hub: Any) -> tuple[dict[str, Any], str]:
    """A config entry's data for a running simulator, and the unique id the hub reports."""
    data = client_class(kind).normalize_config(hub.form())
    return {CONF_HUB_KIND: kind, **data}, hub.hub_unique_id


def add_hub(
    hass: HomeAssistant,
    kind: str,
    hub: Any,
    *,
    options: dict[str, Any] | None = None,
    unique_id: str | None = None,
) -> MockConfigEntry:
    """Add the config entry the flow makes for a running simulator, without setting it up."""
    data, hub_unique_id = entry_data(kind, hub)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"{kind} hub",
        data=data,
        options=options or {},
        unique_id=unique_id or hub_unique_id,
        version=CURRENT_VERSION,
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def setup_hub(hass: HomeAssistant) -> AsyncIterator[SetupHub]:
    """Add a config entry for a running simulator and set it up.

    Its entries are unloaded before the simulators stop (this fixture ends first), so no
    reconnect races a simulator's server as it closes.
    """

    async def setup(
        kind: str,
        hub: Any,
        *,
        options: dict[str, Any] | None = None,
        loaded: bool = True,
        unique_id: str | None = None,
    ) -> MockConfigEntry:
        entry = add_hub(hass, kind, hub, options=options, unique_id=unique_id)
        result = await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert result is loaded
        return entry

    yield setup
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def coordinator_of(entry: MockConfigEntry) -> FleetPushCoordinator:
    """The coordinator behind a loaded entry."""
    coordinator: FleetPushCoordinator = entry.runtime_data
    return coordinator


@dataclass(frozen=True)
class OneTracker:
    """A Navixy hub with one tracker, set up, and the entity id of the tracker's location."""

    hub: Any
    tracker_id: int
    entry: MockConfigEntry
    location: str


type SetupTracker = Callable[..., Awaitable[OneTracker]]


@pytest.fixture
def one_tracker(hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub) -> SetupTracker:
    """Set up a Navixy hub of one tracker (with options) and wait for its first position."""

    async def setup(**options: Any) -> OneTracker:
        hub = await start_hub("navixy", devices=1)
        (tracker_id,) = hub.trackers
        entry = await setup_hub("navixy", hub, options=options or None)
        location = entity_id(hass, entry, "device_tracker", str(tracker_id), "location")
        await wait_for(lambda: hass.states.get(location).attributes.get("latitude"))
        return OneTracker(hub, tracker_id, entry, location)

    return setup
