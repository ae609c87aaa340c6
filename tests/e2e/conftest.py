"""Fixtures of the end-to-end test: Home Assistant in its own process, a hub, a headless browser.

Nothing here uses the `hass` fixture: Home Assistant runs as a separate `hass` process with a
temporary configuration, and the browser is Debian's Chromium driven by Playwright.

Every test that starts Home Assistant runs twice: against the `pinned` Home Assistant of this
environment (requirements_test.txt) and against the `latest` one of requirements_e2e_latest.txt,
which scripts/setup installs in a second virtual environment next to this one (this one's path
with "-latest": /opt/venv-latest beside /opt/venv). The tests themselves always run here; only
the `hass` process comes from the chosen environment. Where the second one did not install,
its tests fail with what scripts/setup recorded: a Home Assistant release FleetPush cannot be
tested on is something to act on, not to skip.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from dataclasses import dataclass
import hashlib
import os
from pathlib import Path
import re
import shutil
import sys
from typing import Any

from homeassistant.const import __version__ as pinned_version
import pytest

from custom_components.fleet_push.const import DOMAIN
from tests.simulator import simulator_class

from .demo import HUB_PORTS, add_dashboard, add_hubs, demo_simulators, hub_form
from .homeassistant import (
    CHECKOUT,
    HomeAssistantClient,
    HomeAssistantProcess,
    User,
    free_port,
    hass_command,
    link_integration,
)
from .phone_farm import add_phone_farm_dashboard

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    # As root in a container: no sandbox, no GPU. No network but loopback: nothing in the
    # background that would reach out (and fail, many times over).
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    # The browser resolves no name but 127.0.0.1's: nothing it loads leaves this machine.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
PROXIED = re.compile(r"/api/(map_tiles/|brands/(?!integration/fleet_push/))")
"""Home Assistant fetches these from the internet for the browser (map tiles, brand icons)."""
ONBOARDING_INTEGRATIONS = ("google_translate", "met", "radio_browser", "shopping_list")
"""Set up by the onboarding's core config step; some would reach out to the internet."""
STUB_MANIFEST = """{{"domain": "{domain}", "name": "{domain} (left out of the end-to-end test)",
"codeowners": [], "config_flow": true, "documentation": "https://example.invalid",
"iot_class": "local_push", "requirements": [], "version": "0.0.0"}}
"""
STUB_FLOW = """\"\"\"Stands in for {domain}: the onboarding adds nothing.\"\"\"
from homeassistant.config_entries import ConfigFlow


class StubFlow(ConfigFlow, domain="{domain}"):
    async def async_step_onboarding(self, data=None):
        return self.async_abort(reason="left_out")
"""
ARTIFACTS = CHECKOUT / "artifacts"
LATEST_REQUIREMENTS = CHECKOUT / "requirements_e2e_latest.txt"
REQUIREMENTS_STAMP = ".fleetpush-requirements"
"""In a virtual environment scripts/setup made: the SHA-256 of the requirements it installed."""
INSTALL_FAILED = ".fleetpush-install-failed"
"""In the second environment where scripts/setup could not install it: what went wrong."""
LOG_RECORD = re.compile(
    r"^\S+ \S+ (?P<level>[A-Z]+) \([^)]*\) \[(?P<logger>[^\]]+)\] (?P<message>.*)"
)
"""A record of Home Assistant's log: date, time, level, (thread), [logger], message."""
UNTESTED_NOTE = re.compile(r"We found a custom integration \w+ which has not been tested")
"""The warning Home Assistant logs for every custom integration."""
USER = User(name="E2E Owner", username="owner", password="e2e-fleetpush")
CONFIGURATION = """\
# Beyond what Home Assistant always sets up, only the frontend (with auth, config, onboarding,
# lovelace and its map dashboard), person, and automation for the blueprint; not default_config.
homeassistant:
  name: FleetPush e2e
frontend:
person:
automation: !include automations.yaml
http:
  server_host: 127.0.0.1
  server_port: {port}
logger:
  default: warning
  logs:
    custom_components.fleet_push: debug
"""


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Replaces the suite's autouse fixture of this name, which starts an in-process `hass`."""


def e2e_or_skip() -> None:
    """Skip where the end-to-end tests are turned off (FLEETPUSH_E2E=0)."""
    if os.environ.get("FLEETPUSH_E2E") == "0":
        pytest.skip("end-to-end tests turned off with FLEETPUSH_E2E=0")


def chromium_or_skip() -> Path:
    """Debian's Chromium, or skip the test saying why it is missing."""
    e2e_or_skip()
    if not CHROMIUM.exists():
        found = shutil.which("chromium")
        if found is None:
            pytest.skip(
                f"no Chromium at {CHROMIUM}: scripts/setup installs Debian's chromium in its "
                "Python root; with a native Python install it yourself (apt-get install chromium)"
            )
        return Path(found)
    return CHROMIUM


@dataclass(frozen=True)
class Environment:
    """A Home Assistant installation the end-to-end tests start `hass` from."""

    name: str
    """pinned or latest: the test id's suffix and the artefacts' (e2e-map-latest.png)."""
    hass: list[str]
    version: str
    """The version that must answer: the one its requirements pin."""


def latest_venv() -> Path:
    """Where scripts/setup installs requirements_e2e_latest.txt: next to this environment."""
    prefix = Path(sys.prefix)
    return prefix.with_name(f"{prefix.name}-latest")


def pinned(requirements: Path, package: str) -> str:
    """The version a requirements file pins a package at (package==version)."""
    for line in requirements.read_text("utf-8").splitlines():
        name, equals, version = line.partition("#")[0].partition("==")
        if equals and name.strip().lower() == package:
            return version.strip()
    raise ValueError(f"{requirements.name} pins no {package}")


def latest_environment(venv: Path, requirements: Path) -> Environment:
    """The second Home Assistant, installed by scripts/setup; the test fails if it is not."""
    failed = venv / INSTALL_FAILED
    if failed.exists():
        pytest.fail(
            f"The Home Assistant of {requirements.name} did not install in {venv}, so FleetPush "
            f"is not tested on it. scripts/setup recorded:\n{failed.read_text('utf-8')}",
            pytrace=False,
        )
    stamp = venv / REQUIREMENTS_STAMP
    wanted = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text("utf-8").strip() != wanted:
        pytest.fail(
            f"{venv} is missing or was not installed from this {requirements.name}: "
            "run scripts/setup (scripts/test does it first)",
            pytrace=False,
        )
    return Environment("latest", hass_command(venv), pinned(requirements, "homeassistant"))


@pytest.fixture(params=["pinned", "latest"])
def environment(request: pytest.FixtureRequest) -> Environment:
    """Which Home Assistant the test runs against: this environment's, then the newest."""
    e2e_or_skip()
    if request.param == "pinned":
        return Environment("pinned", hass_command(), pinned_version)
    return latest_environment(latest_venv(), LATEST_REQUIREMENTS)


@pytest.fixture
async def navixy_hub(socket_enabled: None) -> AsyncIterator[Any]:
    """A Navixy account with three parked vehicles, on loopback."""
    async with simulator_class("navixy")(devices=3) as hub:
        yield hub


@pytest.fixture
async def home_assistant(
    socket_enabled: None, tmp_path: Path, request: pytest.FixtureRequest, environment: Environment
) -> AsyncIterator[HomeAssistantProcess]:
    """The environment's `hass` in its own process with a fresh, minimal configuration.

    The configuration has FleetPush linked in and the repository's blueprints copied in; Home
    Assistant's log is kept as artifacts/<test>-<environment>-home-assistant.log. Stopped at
    the end, when its log must show no problem (log_problems).
    """
    config = tmp_path / "config"
    config.mkdir()
    port = free_port()
    (config / "configuration.yaml").write_text(CONFIGURATION.format(port=port), "utf-8")
    (config / "automations.yaml").write_text("[]\n", "utf-8")
    shutil.copytree(CHECKOUT / "blueprints", config / "blueprints")
    link_integration(config)
    for domain in ONBOARDING_INTEGRATIONS:
        stub = config / "custom_components" / domain
        stub.mkdir()
        (stub / "manifest.json").write_text(STUB_MANIFEST.format(domain=domain), "utf-8")
        (stub / "__init__.py").write_text(f'"""Stub of {domain}."""\n', "utf-8")
        (stub / "config_flow.py").write_text(STUB_FLOW.format(domain=domain), "utf-8")
    with (tmp_path / "hass-output.log").open("wb") as output:
        process = HomeAssistantProcess(
            config, port, skip_pip=True, output=output, command=environment.hass
        )
        await process.start(timeout=90)
        try:
            yield process
        finally:
            await process.stop()
            ARTIFACTS.mkdir(exist_ok=True)
            with contextlib.suppress(OSError):
                name = f"{request.node.originalname}-{environment.name}-home-assistant.log"
                shutil.copy(process.log_file, ARTIFACTS / name)
    problems = log_problems(process.log_file.read_text("utf-8", errors="replace"))
    assert not problems, "Home Assistant logged:\n" + "\n".join(problems)


def log_problems(log: str) -> list[str]:
    """The records of a Home Assistant log that an end-to-end test must not leave.

    An integration that failed to set up (in the second environment: a requirement that
    requirements_e2e_latest.txt lacks), and any warning or error from FleetPush or naming it:
    an exception in FleetPush, or Home Assistant reporting that FleetPush uses something
    deprecated, which the next release may remove. Not the note every custom integration gets.
    """
    problems = []
    for line in log.splitlines():
        record = LOG_RECORD.match(line)
        if record is None or record["level"] not in {"WARNING", "ERROR", "CRITICAL"}:
            continue
        message = record["message"]
        if message.startswith("Setup failed for") or (
            (record["logger"].startswith(f"custom_components.{DOMAIN}") or DOMAIN in message)
            and not UNTESTED_NOTE.match(message)
        ):
            problems.append(line)
    return problems


@dataclass
class Fleet:
    """A Home Assistant, onboarded, with a Navixy hub added through the config flow."""

    environment: Environment
    client: HomeAssistantClient
    hub: Any
    entry: dict[str, Any]
    trackers: list[dict[str, Any]]
    devices: list[dict[str, Any]]
    entities: list[dict[str, Any]]


@pytest.fixture
async def fleet(
    environment: Environment, home_assistant: HomeAssistantProcess, navixy_hub: Any
) -> AsyncIterator[Fleet]:
    """Onboarding done, the HTTP settings confirmed, a Navixy hub with three vehicles added."""
    async with HomeAssistantClient(home_assistant.url) as client:
        await client.onboard(USER)
        assert await client.version() == environment.version, environment
        assert (await client.confirm_http_config())["server_port"] == home_assistant.port
        await client.wait_until_running()
        result = await client.add_hub("navixy", hub_form(navixy_hub))
        assert result["type"] == "create_entry", home_assistant.log_tail()
        assert result["result"]["state"] == "loaded", home_assistant.log_tail()
        trackers = await wait_for_trackers(client, count=3)
        yield Fleet(
            environment=environment,
            client=client,
            hub=navixy_hub,
            entry=result,
            trackers=trackers,
            devices=await client.fleet_devices(),
            entities=await client.fleet_entities(),
        )


async def wait_for_trackers(client: HomeAssistantClient, count: int) -> list[dict[str, Any]]:
    """The FleetPush device trackers' states, once `count` of them have a position."""
    async with asyncio.timeout(30):
        while True:
            ours = {entity["entity_id"] for entity in await client.fleet_entities()}
            trackers = [
                state
                for state in await client.states()
                if state["entity_id"] in ours
                and state["entity_id"].startswith("device_tracker.")
                and "latitude" in state["attributes"]
            ]
            if len(trackers) >= count:
                return trackers
            await asyncio.sleep(0.2)


@dataclass
class Demo:
    """A Home Assistant, onboarded, set up as scripts/develop sets it up: the five demo hubs
    (their simulators at the demo pace, on free ports) and the Fleet dashboard."""

    environment: Environment
    client: HomeAssistantClient
    simulators: dict[str, Any]
    dashboard: dict[str, Any]
    """The Fleet dashboard's configuration."""
    devices: list[dict[str, Any]]
    entities: list[dict[str, Any]]
    phone_farm: dict[str, Any] | None = None
    """The Phone farm dashboard's configuration."""


@pytest.fixture
async def demo(
    socket_enabled: None, environment: Environment, home_assistant: HomeAssistantProcess
) -> AsyncIterator[Demo]:
    """What a newcomer finds after scripts/develop: every hub and the Fleet dashboard."""
    simulators = demo_simulators(ports=dict.fromkeys(HUB_PORTS, 0))
    async with contextlib.AsyncExitStack() as stack:
        for simulator in simulators.values():
            await stack.enter_async_context(simulator)
        client = await stack.enter_async_context(HomeAssistantClient(home_assistant.url))
        await client.onboard(USER)
        assert await client.version() == environment.version, environment
        await client.confirm_http_config()
        await client.wait_until_running()
        assert set((await add_hubs(client, simulators)).values()) == {"added"}
        dashboard = await add_dashboard(client, simulators)
        assert dashboard is not None, home_assistant.log_tail()
        phone_farm = await add_phone_farm_dashboard(client)
        assert phone_farm is not None, home_assistant.log_tail()
        yield Demo(
            environment=environment,
            client=client,
            simulators=simulators,
            dashboard=dashboard,
            devices=await client.fleet_devices(),
            entities=await client.fleet_entities(),
            phone_farm=phone_farm,
        )


@pytest.fixture
async def browser(socket_enabled: None) -> AsyncIterator[Any]:
    """A browser context of headless Chromium under Playwright; closed at the end."""
    executable = chromium_or_skip()
    async_api = pytest.importorskip("playwright.async_api", reason="Playwright is not installed")
    async with async_api.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        context = await chromium.new_context(viewport={"width": 1280, "height": 800})
        await context.route(PROXIED, lambda route: route.abort())
        try:
            yield context
        finally:
            await context.close()
            await chromium.close()
