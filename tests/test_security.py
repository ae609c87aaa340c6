"""Security: no secret in any log, TLS verified, URLs validated (diagnostics: test_diagnostics).

The secret watch below also runs in every test of tests/test_reliability.py, so the faults there
(restarts, silence, revoked credentials, hostile frames, reloads) are all scanned too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
import hashlib
import ipaddress
import logging
from pathlib import Path
import re
import ssl
from typing import Any
from unittest.mock import patch

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fleet_push.const import DOMAIN
from custom_components.fleet_push.hubs import HUB_KINDS, client_class
from custom_components.fleet_push.hubs.redact import redact_text
from custom_components.fleet_push.migration import CURRENT_VERSION

from .conftest import SetupHub, StartHub, coordinator_of, entry_data
from .helpers import wait_for
from .simulator import simulator_class

URL_KINDS = [kind for kind in HUB_KINDS if client_class(kind).declaration.url_schemes]
SERVER_LOGGERS = ("aiohttp.access", "aiohttp.server", "aiohttp.web")
"""The simulators' own loggers: what the hub logs about its clients is not FleetPush's log."""
JWT = re.compile(r"eyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]+")
WRONG_PASSWORD = "wr0ng-Passw0rd"
WRONG_KEY = "fedcba9876543210" * 2


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class _Recorded(set[str]):
    """A simulator's set of live sessions that remembers every one it ever held."""

    def __init__(self, seen: set[str]) -> None:
        super().__init__()
        self.seen = seen

    def add(self, item: str) -> None:
        self.seen.add(item)
        super().add(item)


class _RecordedTokens(dict[str, str]):
    """A simulator's token table that remembers every token it ever issued."""

    def __init__(self, seen: set[str]) -> None:
        super().__init__()
        self.seen = seen

    def __setitem__(self, key: str, value: str) -> None:
        self.seen.add(key)
        super().__setitem__(key, value)


class SecretWatch:
    """Turns debug logging on and fails if any secret a test used reaches a log record."""

    def __init__(self, caplog: pytest.LogCaptureFixture, *loggers: str) -> None:
        """Debug logging for FleetPush and aiohttp (and any other logger named)."""
        for name in ("custom_components.fleet_push", "aiohttp", *loggers):
            caplog.set_level(logging.DEBUG, logger=name)
        self._caplog = caplog
        self._secrets: set[str] = set()
        self._hubs: list[Any] = []

    def add(self, *secrets: str) -> None:
        """Secrets the test typed or made up; their MD5 counts as a secret too."""
        for secret in secrets:
            self._secrets |= {secret, md5(secret)}

    def add_hub(self, hub: Any) -> None:
        """Watch a simulator's credentials, and every session or token it hands out."""
        self._hubs.append(hub)
        match hub.kind:
            case "navixy":
                hub.sessions = _Recorded(self._secrets)
            case "tftiot":
                hub.tokens = _RecordedTokens(self._secrets)
            case "devicehive":
                issue = hub.issue_token

                def recorded(*args: Any, **kwargs: Any) -> str:
                    token: str = issue(*args, **kwargs)
                    self._secrets.add(token)
                    return token

                hub.issue_token = recorded
        self._note(hub)

    def _note(self, hub: Any) -> None:
        for name in ("api_key", "password", "secret"):
            if isinstance(value := getattr(hub, name, None), str):
                self.add(value)

    def secrets(self) -> set[str]:
        """Every secret known now."""
        for hub in self._hubs:
            self._note(hub)
        return {secret for secret in self._secrets if len(secret) >= 6}

    def leaks(self) -> list[str]:
        """Log records that show a secret, or anything shaped like a JWT."""
        secrets = self.secrets()
        formatter = logging.Formatter()
        found = []
        for phase in ("setup", "call"):
            for record in self._caplog.get_records(phase):
                if record.name.startswith(SERVER_LOGGERS):
                    continue
                text = record.getMessage()
                if record.exc_info:
                    text += formatter.formatException(record.exc_info)
                if record.stack_info:
                    text += record.stack_info
                if JWT.search(text) or any(secret in text for secret in secrets):
                    found.append(f"{record.name} {record.levelname}: {text[:300]}")
        return found

    def assert_clean(self) -> None:
        """Fail with the records that leak."""
        assert not self.leaks()


async def start_flow(hass: HomeAssistant, kind: str) -> Any:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": kind})


async def submit(hass: HomeAssistant, result: Any, data: dict[str, Any]) -> Any:
    return await hass.config_entries.flow.async_configure(result["flow_id"], data)


async def start_reauth(hass: HomeAssistant, entry: ConfigEntry) -> Any:
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_REAUTH, "entry_id": entry.entry_id}, data=entry.data
    )


# --- secrets never logged ---


def test_the_watch_catches_a_leak(caplog: pytest.LogCaptureFixture) -> None:
    watch = SecretWatch(caplog)
    watch.add("s3cret-value")
    logging.getLogger("custom_components.fleet_push").debug("hash %s", md5("s3cret-value"))
    logging.getLogger("aiohttp.client").debug("token eyJhbGciOi.eyJzdWIiOjF9.c2ln")
    assert len(watch.leaks()) == 2


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('{"password": "x", "name": "y"}', '{"password": **REDACTED**, "name": "y"}'),
        ("login=a&md5-password=b", "login=a&md5-password=**REDACTED**"),
        ("9password=z&-hash: q", "9password=**REDACTED**&-hash: **REDACTED**"),
        ("user.pass: 1, 12345: 6", "user.pass: 1, 12345: 6"),
        ("a" * 70_000 + "=1", "a" * 70_000 + "=1"),
        ("a1" * 35_000 + ":1", "a1" * 35_000 + ":1"),
        ("x" * 70_000 + "password=y", "x" * 70_000 + "password=**REDACTED**"),
    ],
)
def test_a_key_in_text_is_a_whole_run_of_name_characters(text: str, shown: str) -> None:
    """Read once: a 70 kB run was once tried again from each of its characters (minutes)."""
    assert redact_text(text) == shown


CREDENTIAL_INPUT: dict[str, Callable[[Any], dict[str, Any]]] = {
    "navixy": lambda hub: {"username": hub.login, "password": hub.password},
    "devicehive": lambda hub: {"username": hub.login, "password": hub.password},
    "tftiot": lambda hub: {"username": hub.user_id, "password": hub.password},
}
WRONG_INPUT: dict[str, dict[str, Any]] = {
    "navixy": {"api_key": WRONG_KEY},
    "devicehive": {"username": "dhadmin", "password": WRONG_PASSWORD},
    "tftiot": {"username": "100861", "password": WRONG_PASSWORD},
}
BAD_URL = {"navixy": "ftp://127.0.0.1/v2", "devicehive": "https://h/ws", "tftiot": "http://h/ws"}


def reauth_input(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The part of the input the reauthentication form asks for."""
    credentials = client_class(kind).declaration.credentials
    return {key: value for key, value in data.items() if key in credentials}


def hub_url(kind: str, hub: Any) -> str:
    return hub.api_url if kind == "navixy" else hub.url


@pytest.mark.parametrize("kind", URL_KINDS)
async def test_config_flows_log_no_secret(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    """Every step and error of adding and re-authenticating a hub, at debug level."""
    watch = SecretWatch(caplog, "homeassistant")
    watch.add(WRONG_PASSWORD, WRONG_KEY)
    down = await start_hub(kind, devices=1)
    watch.add_hub(down)
    unreachable = hub_url(kind, down)
    await down.stop()
    hub = await start_hub(kind, devices=1)
    watch.add_hub(hub)
    url, good = hub_url(kind, hub), CREDENTIAL_INPUT[kind](hub)

    result = await start_flow(hass, kind)
    result = await submit(hass, result, {"url": BAD_URL[kind], **good})
    assert result["errors"] == {"url": "invalid_url"}
    result = await submit(hass, result, {"url": unreachable, **good})
    assert result["errors"] == {"base": "cannot_connect"}
    result = await submit(hass, result, {"url": url, **WRONG_INPUT[kind]})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await submit(hass, result, {"url": url, **good})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entry = hass.config_entries.async_entries(DOMAIN)[0]

    result = await start_reauth(hass, entry)
    result = await submit(hass, result, reauth_input(kind, WRONG_INPUT[kind]))
    assert result["errors"] == {"base": "invalid_auth"}
    result = await submit(hass, result, reauth_input(kind, good))
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    await wait_for(lambda: hub.connections)
    assert len(watch.secrets()) >= 6
    watch.assert_clean()


# --- TLS ---


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server context with a self-signed certificate for 127.0.0.1 (trusted by no one)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


def _hub_side(message: str) -> bool:
    """The simulator's half of a handshake that FleetPush refused (its error, not ours)."""
    return message.startswith("Error on transport creation for incoming connection")


@pytest.fixture
async def tls_hub(
    hass: HomeAssistant, socket_enabled: None, tls_context: ssl.SSLContext
) -> AsyncIterator[Callable[[str], Any]]:
    """Start simulators behind TLS with the self-signed certificate."""
    started: list[Any] = []
    loop = asyncio.get_running_loop()
    handler = loop.get_exception_handler()
    assert handler is not None

    def ignore_hub_side(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not _hub_side(str(context.get("message", ""))):
            handler(loop, context)

    loop.set_exception_handler(ignore_hub_side)

    async def start(kind: str) -> Any:
        hub = simulator_class(kind)(devices=1)
        site = partial(web.TCPSite, ssl_context=tls_context)
        with patch("tests.simulator.base.web.TCPSite", site):
            await hub.start()
        started.append(hub)
        return hub

    yield start
    for hub in started:
        await hub.stop()
    loop.set_exception_handler(handler)


def tls_url(kind: str, hub: Any) -> str:
    url = hub_url(kind, hub)
    return url.replace("http://", "https://", 1).replace("ws://", "wss://", 1)


@pytest.mark.parametrize("kind", URL_KINDS)
async def test_certificates_are_verified_unless_the_user_turns_it_off(
    hass: HomeAssistant, tls_hub: Callable[[str], Any], kind: str
) -> None:
    hub = await tls_hub(kind)
    data = {"url": tls_url(kind, hub), **CREDENTIAL_INPUT[kind](hub)}

    result = await start_flow(hass, kind)
    result = await submit(hass, result, data)  # verify_ssl left at its default
    assert result["errors"] == {"base": "cannot_connect"}
    assert not hub.connections

    result = await submit(hass, result, {**data, "verify_ssl": False})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["verify_ssl"] is False
    await hass.async_block_till_done()
    assert result["result"].state is ConfigEntryState.LOADED
    await wait_for(lambda: hub.connections)  # the hub with the untrusted certificate


@pytest.mark.parametrize("kind", URL_KINDS)
async def test_tls_verification_is_the_default(
    hass: HomeAssistant, start_hub: StartHub, tls_hub: Callable[[str], Any], kind: str
) -> None:
    hub = await start_hub(kind, devices=1)
    result = await start_flow(hass, kind)
    result = await submit(hass, result, {"url": hub_url(kind, hub), **CREDENTIAL_INPUT[kind](hub)})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["verify_ssl"] is True

    # An entry stored without the setting (by an earlier FleetPush) verifies too: it does not
    # connect to a hub whose certificate nobody trusts.
    untrusted = await tls_hub(kind)
    data, unique_id = entry_data(kind, untrusted)
    older = MockConfigEntry(
        domain=DOMAIN,
        data={
            **{key: value for key, value in data.items() if key != "verify_ssl"},
            "url": tls_url(kind, untrusted),
        },
        unique_id=unique_id,
        version=CURRENT_VERSION,
    )
    older.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(older.entry_id)
    assert older.state is ConfigEntryState.SETUP_RETRY
    assert not untrusted.connections


# --- URLs and hosts checked in the flow ---


@pytest.mark.parametrize(
    ("kind", "field", "value", "error"),
    [
        ("navixy", "url", "ftp://api.example.com/v2", "invalid_url"),
        ("navixy", "url", "wss://api.example.com/v2", "invalid_url"),
        ("navixy", "url", "api.example.com/v2", "invalid_url"),
        ("navixy", "url", "https://", "invalid_url"),
        ("navixy", "url", "https:///v2", "invalid_url"),
        ("devicehive", "url", "https://dh.example.com/api/websocket", "invalid_url"),
        ("devicehive", "url", "dh.example.com/api/websocket", "invalid_url"),
        ("devicehive", "url", "wss://", "invalid_url"),
        ("tftiot", "url", "http://openapi.example.com:8443/websocket", "invalid_url"),
        ("tftiot", "url", "wss:///websocket", "invalid_url"),
        ("imouse", "host", "http://192.168.1.5/", "invalid_host"),
        ("imouse", "host", "192.168.1.5:9911", "invalid_host"),
        ("imouse", "host", "user@192.168.1.5", "invalid_host"),
        ("iclick", "host", "ws://127.0.0.1", "invalid_host"),
        ("iclick", "host", " ", "invalid_host"),
    ],
)
async def test_a_wrong_url_or_host_is_named_in_the_form(
    hass: HomeAssistant, kind: str, field: str, value: str, error: str
) -> None:
    others = {
        "navixy": {"api_key": "k" * 32},
        "devicehive": {"token": "t"},
        "tftiot": {"username": "u", "password": "p"},
        "imouse": {"port": 9911},
        "iclick": {"port": 23188},
    }[kind]
    result = await start_flow(hass, kind)
    result = await submit(hass, result, {field: value, **others})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}


_FLOW_CRASH = (
    "config_flow.py: _input_errors (line 100) lets through URLs that urlsplit cannot parse "
    "or whose port is out of range, and an empty (hence dropped) host or URL, and "
    "_async_validate (line 251) builds the client outside its try, so the client's "
    "ValueError/KeyError escapes the flow (a 500 error) instead of invalid_url/invalid_host"
)


@pytest.mark.parametrize(
    ("kind", "field", "value", "others"),
    [
        ("devicehive", "url", "wss://[::1/api/websocket", {"token": "t"}),
        ("navixy", "url", "https://[::1/v2", {"api_key": "k" * 32}),
        ("devicehive", "url", "wss://127.0.0.1:99999/api/websocket", {"token": "t"}),
        ("tftiot", "url", "wss://127.0.0.1:99999/websocket", {"username": "u", "password": "p"}),
        ("devicehive", "url", "", {"token": "t"}),
        ("imouse", "host", "", {"port": 9911}),
    ],
)
async def test_an_unparsable_url_or_empty_host_is_named_in_the_form(
    hass: HomeAssistant, kind: str, field: str, value: str, others: dict[str, Any]
) -> None:
    result = await start_flow(hass, kind)
    result = await submit(hass, result, {field: value, **others})
    assert result["errors"] == {field: "invalid_host" if field == "host" else "invalid_url"}


@pytest.mark.parametrize("kind", ["imouse", "iclick", "navixy", "devicehive", "tftiot"])
async def test_sign_in_and_auth_frames_echoed_back_leave_no_secret_in_the_log(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    watch = SecretWatch(caplog)
    hub = await start_hub(kind)
    watch.add_hub(hub)
    entry = await setup_hub(kind, hub)
    client = coordinator_of(entry).client
    sent = list(hub.received)
    assert sent  # sign-in, authentication, subscriptions, requests
    frames, dropped = client.stats.frames, sum(client.stats.dropped.values())

    for frame in sent:  # as they were, inside an error, and as unparsable text
        await hub.push(frame)
        await hub.push({"status": "error", "error": frame})
        await hub.push(f"#{frame}")
    await wait_for(lambda: client.stats.frames >= frames + 3 * len(sent))

    assert sum(client.stats.dropped.values()) >= dropped + len(sent)  # logged as skipped
    watch.assert_clean()
