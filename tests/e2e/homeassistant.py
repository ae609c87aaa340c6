"""A real Home Assistant in its own process, driven over its HTTP API as the frontend drives it.

Shared by the demo (`python -m tests.e2e.demo`, run by scripts/develop) and the end-to-end
browser test: start `hass`, complete onboarding, sign in, add FleetPush hubs through the
config-flow API (the menu step, then the hub kind's form), read states and registries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
import contextlib
import ctypes
from dataclasses import dataclass
import functools
import itertools
import os
from pathlib import Path
import signal
import socket
import sys
from typing import IO, Any, Self

import aiohttp

from custom_components.fleet_push.const import DOMAIN

CHECKOUT = Path(__file__).resolve().parents[2]
INTEGRATION = CHECKOUT / "custom_components" / DOMAIN
PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)


class HomeAssistantError(Exception):
    """Home Assistant did not do what was asked."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def link_integration(config_dir: Path) -> None:
    """Make config_dir/custom_components/fleet_push point at this checkout's integration."""
    custom = config_dir / "custom_components"
    custom.mkdir(parents=True, exist_ok=True)
    link = custom / DOMAIN
    if link.is_symlink() or link.exists():
        return
    link.symlink_to(INTEGRATION, target_is_directory=True)


def hass_command(venv: Path | None = None) -> list[str]:
    """The `hass` of a virtual environment; by default of the one this Python runs in."""
    if venv is not None:
        return [str(venv / "bin" / "hass")]
    hass = Path(sys.executable).with_name("hass")
    if hass.exists():
        return [str(hass)]
    return [sys.executable, "-m", "homeassistant"]


class HomeAssistantProcess:
    """`hass --config DIR` as a child process, listening on 127.0.0.1:port."""

    def __init__(
        self,
        config_dir: Path,
        port: int,
        *,
        skip_pip: bool = False,
        output: IO[bytes] | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        """Run from config_dir, whose HTTP settings give the port; output: for its stdout.

        command: the `hass` to run (see hass_command); by default this environment's.
        """
        self.config_dir = config_dir
        self.command = list(command) if command is not None else hass_command()
        self.port = port
        self.skip_pip = skip_pip
        self.output = output
        self.log_file = config_dir / "home-assistant.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """Where the frontend is served."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 120.0) -> None:
        """Start Home Assistant and wait until its frontend answers."""
        command = [*self.command, "--config", str(self.config_dir), "--log-no-color"]
        if self.skip_pip:
            command.append("--skip-pip")
        # Its own session: a Ctrl-C meant for us reaches it only as our single SIGTERM (a
        # second signal would kill it mid-shutdown); and it gets SIGTERM if we die.
        self.process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self.output,
            stderr=asyncio.subprocess.STDOUT if self.output is not None else None,
            cwd=self.config_dir,
            start_new_session=True,
            preexec_fn=functools.partial(die_with_parent, os.getpid()),
        )
        try:
            await self._wait_until_up(timeout)
        except BaseException:
            await self.stop()
            raise

    async def _wait_until_up(self, timeout: float) -> None:
        async with aiohttp.ClientSession() as session, asyncio.timeout(timeout):
            while True:
                if self.process is None or self.process.returncode is not None:
                    raise HomeAssistantError(f"Home Assistant exited early\n{self.log_tail()}")
                # Served once the frontend (and so onboarding, its dependency) is set up.
                if await _answers(session, f"{self.url}/manifest.json"):
                    return
                await asyncio.sleep(0.5)

    async def wait(self) -> int:
        """Wait until Home Assistant exits; its exit code."""
        assert self.process is not None
        return await self.process.wait()

    @property
    def returncode(self) -> int | None:
        """The exit code, once Home Assistant has exited by itself."""
        return None if self.process is None else self.process.returncode

    async def stop(self, timeout: float = 60.0) -> None:
        """Ask Home Assistant to stop (SIGTERM); kill it if it takes longer than timeout."""
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        try:
            async with asyncio.timeout(timeout):
                # Until it has started, Home Assistant does not handle SIGTERM: it would die
                # on the spot, leaving its database and lock file behind.
                while process.returncode is None and not _catches_sigterm(process.pid):
                    await asyncio.sleep(0.1)
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    def log_tail(self, lines: int = 60) -> str:
        """The end of Home Assistant's log, for failure messages."""
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def die_with_parent(parent: int | None = None) -> None:
    """Have Linux send this process SIGTERM when its parent process ends.

    parent: the parent's pid when called between fork and exec, to catch a parent that is
    already gone.
    """
    if not sys.platform.startswith("linux"):
        return
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def _catches_sigterm(pid: int) -> bool:
    """Whether a process has a handler for SIGTERM (Linux; elsewhere: assume so)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return True
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)))


async def _answers(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
            return response.status == 200
    except aiohttp.ClientError, TimeoutError:
        return False


@dataclass(frozen=True)
class User:
    """The owner account onboarding creates."""

    name: str
    username: str
    password: str
    language: str = "en"


class HomeAssistantClient:
    """Home Assistant's HTTP and WebSocket APIs, called as the frontend calls them."""

    def __init__(self, url: str) -> None:
        """Talk to the Home Assistant at url (http://127.0.0.1:port)."""
        self.url = url.rstrip("/")
        self.client_id = f"{self.url}/"
        self.token: str | None = None
        self._session = aiohttp.ClientSession()
        self._ids = itertools.count(1)

    async def __aenter__(self) -> Self:
        """Nothing to open: the session exists already."""
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Close the HTTP session."""
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._session.close()

    # --- plain HTTP ---

    async def request(self, method: str, path: str, json: Any = None, *, auth: bool = True) -> Any:
        """Call the API; the answer, decoded if JSON (HomeAssistantError if no success)."""
        headers = {"Authorization": f"Bearer {self.token}"} if auth and self.token else {}
        async with self._session.request(
            method, f"{self.url}{path}", json=json, headers=headers
        ) as response:
            text = await response.text()
            if response.status >= 400:
                raise HomeAssistantError(f"{method} {path}: {response.status} {text[:300]}")
            if response.content_type == "application/json":
                return await response.json()
            return text or None

    async def _token(self, code: str) -> None:
        """Trade an authorization code for an access token, as the frontend does."""
        form = {"grant_type": "authorization_code", "code": code, "client_id": self.client_id}
        async with self._session.post(f"{self.url}/auth/token", data=form) as response:
            if response.status != 200:
                raise HomeAssistantError(f"/auth/token: {response.status}")
            self.token = (await response.json())["access_token"]

    # --- onboarding and signing in ---

    async def onboarding_done(self) -> set[str] | None:
        """The onboarding steps already done; None once onboarding is over."""
        async with self._session.get(f"{self.url}/api/onboarding") as response:
            if response.status == 404:  # onboarded: Home Assistant drops the onboarding API
                return None
            response.raise_for_status()
            return {step["step"] for step in await response.json() if step["done"]}

    async def onboard(self, user: User, core_config: Mapping[str, Any] | None = None) -> None:
        """Finish whatever onboarding steps are left, as the onboarding pages do.

        Idempotent: where the user step is done already, sign in as `user` instead.
        core_config (location, country, ...) is saved before the core config step, as the
        page that asks for it does.
        """
        done = await self.onboarding_done()
        if done is None:
            await self.login(user.username, user.password)
            return
        if "user" in done:
            await self.login(user.username, user.password)
        else:
            answer = await self.request(
                "POST",
                "/api/onboarding/users",
                {
                    "client_id": self.client_id,
                    "name": user.name,
                    "username": user.username,
                    "password": user.password,
                    "language": user.language,
                },
                auth=False,
            )
            await self._token(answer["auth_code"])
        if "core_config" not in done:
            if core_config:
                await self.ws_command("config/core/update", **core_config)
            await self.request("POST", "/api/onboarding/core_config", {})
        if "analytics" not in done:
            await self.request("POST", "/api/onboarding/analytics", {})
        if "integration" not in done:
            await self.request(
                "POST",
                "/api/onboarding/integration",
                {"client_id": self.client_id, "redirect_uri": f"{self.url}/?auth_callback=1"},
            )

    async def login(self, username: str, password: str) -> None:
        """Sign in through the login flow of the login page."""
        flow = await self.request(
            "POST",
            "/auth/login_flow",
            {
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.url}/?auth_callback=1",
            },
            auth=False,
        )
        result = await self.request(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            {"client_id": self.client_id, "username": username, "password": password},
            auth=False,
        )
        if result.get("type") != "create_entry":
            raise HomeAssistantError(f"sign-in refused: {result.get('errors')}")
        await self._token(result["result"])

    async def confirm_http_config(self) -> dict[str, Any]:
        """Keep the HTTP settings Home Assistant started with: its "Confirm" button.

        Home Assistant 2026.10 moves `http:` from configuration.yaml into its storage as a
        trial that it reverts (restarting) five minutes later unless confirmed. Returns the
        HTTP configuration now in force.
        """
        config = await self.ws_command("http/config")
        if config["pending"] is not None and config["active_config_type"] == "pending":
            await self.ws_command("http/config/promote")
            config = await self.ws_command("http/config")
        stable: dict[str, Any] = config["stable"]
        return stable

    async def version(self) -> str:
        """The version of the Home Assistant that answers."""
        version: str = (await self.ws_command("get_config"))["version"]
        return version

    async def wait_until_running(self, timeout: float = 120.0) -> None:
        """Wait until Home Assistant has finished starting (automations trigger only then)."""
        async with asyncio.timeout(timeout):
            while (await self.ws_command("get_config"))["state"] != "RUNNING":
                await asyncio.sleep(0.2)

    # --- FleetPush hubs ---

    async def add_hub(self, kind: str, form: Mapping[str, Any]) -> dict[str, Any]:
        """Add a FleetPush hub: open the flow, pick the kind in the menu, submit its form.

        Returns the flow's last answer: create_entry, or abort "already_configured" when the
        hub is set up already.
        """
        path = "/api/config/config_entries/flow"
        result = await self.request(
            "POST", path, {"handler": DOMAIN, "show_advanced_options": False}
        )
        if result["type"] != "menu" or kind not in result["menu_options"]:
            raise HomeAssistantError(f"unexpected first step: {result}")
        result = await self.request("POST", f"{path}/{result['flow_id']}", {"next_step_id": kind})
        if result["type"] != "form" or result["step_id"] != kind:
            raise HomeAssistantError(f"unexpected step: {result}")
        result = await self.request("POST", f"{path}/{result['flow_id']}", dict(form))
        if result["type"] == "create_entry" or (
            result["type"] == "abort" and result["reason"] == "already_configured"
        ):
            return dict(result)
        raise HomeAssistantError(f"adding the {kind} hub failed: {result}")

    async def set_options(self, entry_id: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """Change a config entry's options through its options flow (the others: defaults)."""
        path = "/api/config/config_entries/options/flow"
        result = await self.request("POST", path, {"handler": entry_id})
        result = await self.request("POST", f"{path}/{result['flow_id']}", dict(options))
        if result["type"] != "create_entry":
            raise HomeAssistantError(f"changing the options of {entry_id} failed: {result}")
        return dict(result)

    async def config_entries(self, domain: str = DOMAIN) -> list[dict[str, Any]]:
        """The config entries of a domain."""
        entries: list[dict[str, Any]] = await self.request(
            "GET", f"/api/config/config_entries/entry?domain={domain}"
        )
        return entries

    async def states(self) -> list[dict[str, Any]]:
        """Every entity's state."""
        states: list[dict[str, Any]] = await self.request("GET", "/api/states")
        return states

    async def fleet_entities(self) -> list[dict[str, Any]]:
        """FleetPush's entities in the entity registry."""
        entities = await self.ws_command("config/entity_registry/list")
        return [entity for entity in entities if entity["platform"] == DOMAIN]

    async def fleet_devices(self) -> list[dict[str, Any]]:
        """The devices of FleetPush's config entries, hubs included."""
        entry_ids = {entry["entry_id"] for entry in await self.config_entries()}
        devices = await self.ws_command("config/device_registry/list")
        return [device for device in devices if entry_ids & set(device["config_entries"])]

    # --- WebSocket ---

    async def ws_command(self, command: str, **data: Any) -> Any:
        """Run one WebSocket API command on a fresh connection; its result."""
        async with self._session.ws_connect(f"{self.url}/api/websocket") as ws:
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self.token})
            if (answer := await ws.receive_json())["type"] != "auth_ok":
                raise HomeAssistantError(f"WebSocket sign-in refused: {answer}")
            message_id = next(self._ids)
            await ws.send_json({"id": message_id, "type": command, **data})
            while (answer := await ws.receive_json()).get("id") != message_id:
                pass
        if not answer.get("success"):
            raise HomeAssistantError(f"{command}: {answer.get('error')}")
        return answer.get("result")
