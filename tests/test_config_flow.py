"""Adding, re-authenticating and reconfiguring hubs from the UI, against the simulators.

Each flow checks the hub (it connects and signs in to a simulator) and ends with the entry;
the entry's setup is not run (mock_setup_entry). What a loaded hub does with a flow's result
(options applied at once, a reconfigure swapped in place) is tested in test_init.py.
"""

from __future__ import annotations

from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fleet_push.config_flow import FleetPushConfigFlow
from custom_components.fleet_push.const import (
    CONF_GRACE_PERIOD,
    CONF_HUB_KIND,
    CONF_MIN_POSITION_INTERVAL,
    CONF_STALE_AFTER,
    DOMAIN,
)
from custom_components.fleet_push.hubs import HUB_KINDS, client_class
from custom_components.fleet_push.hubs.declaration import GROUPS_OPTION
from custom_components.fleet_push.hubs.devicehive import EVENTS_OPTION, OFFLINE_AFTER_OPTION
from custom_components.fleet_push.hubs.navixy import ALARM_INTERVAL_OPTION, ALARMS_OPTION
from custom_components.fleet_push.hubs.tftiot import md5_password
from custom_components.fleet_push.migration import CURRENT_VERSION

from .conftest import StartHub, add_hub
from .helpers import wait_for

pytestmark = pytest.mark.usefixtures("mock_setup_entry")


async def start_flow(hass: HomeAssistant, kind: str) -> dict[str, Any]:
    """Open the add-hub flow and pick a kind from the menu."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": kind}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == kind
    return result


async def submit(hass: HomeAssistant, result: dict[str, Any], data: dict[str, Any]) -> Any:
    return await hass.config_entries.flow.async_configure(result["flow_id"], data)


async def unused_port(start_hub: StartHub) -> int:
    """A loopback port where nothing listens."""
    hub = await start_hub("imouse", devices=0)
    port: int = hub.port
    await hub.stop()
    return port


def kind_entry(hass: HomeAssistant, kind: str, options: dict[str, Any]) -> MockConfigEntry:
    """An entry of a kind whose hub is nowhere: its options are all a form needs."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"{kind} hub",
        data={CONF_HUB_KIND: kind},
        options=options,
        version=CURRENT_VERSION,
    )
    entry.add_to_hass(hass)
    return entry


async def test_first_step_is_a_menu_of_hub_kinds(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "user"
    assert result["menu_options"] == list(HUB_KINDS)
    assert set(HUB_KINDS) == {"imouse", "navixy", "iclick", "devicehive", "tftiot"}


@pytest.mark.parametrize("kind", ["imouse", "iclick"])
async def test_local_hub_recovers_from_each_error(
    hass: HomeAssistant, start_hub: StartHub, mock_setup_entry: AsyncMock, kind: str
) -> None:
    port = await unused_port(start_hub)
    result = await start_flow(hass, kind)

    result = await submit(hass, result, {"host": "http://127.0.0.1/", "port": port})
    assert result["errors"] == {"host": "invalid_host"}

    result = await submit(hass, result, {"host": "127.0.0.1", "port": port})
    assert result["errors"] == {"base": "cannot_connect"}

    hub = await start_hub(kind, devices=1)
    with patch.object(client_class(kind), "connect", side_effect=RuntimeError):
        result = await submit(hass, result, {"host": "127.0.0.1", "port": hub.port})
    assert result["errors"] == {"base": "unknown"}

    result = await submit(hass, result, {"host": " 127.0.0.1 ", "port": hub.port})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == f"127.0.0.1:{hub.port}"
    assert result["data"] == {CONF_HUB_KIND: kind, "host": "127.0.0.1", "port": hub.port}
    await hass.async_block_till_done()
    mock_setup_entry.assert_called_once()
    await wait_for(lambda: not hub.connections)  # the flow's check closed its connection

    again = await start_flow(hass, kind)
    again = await submit(hass, again, {"host": "127.0.0.1", "port": hub.port})
    assert again["type"] is FlowResultType.ABORT
    assert again["reason"] == "already_configured"


async def test_navixy_recovers_from_each_error(
    hass: HomeAssistant, start_hub: StartHub, mock_setup_entry: AsyncMock
) -> None:
    hub = await start_hub("navixy", devices=1)
    result = await start_flow(hass, "navixy")

    result = await submit(hass, result, {"url": "ftp://example.com", "api_key": "x"})
    assert result["errors"] == {"url": "invalid_url"}

    result = await submit(hass, result, {"url": hub.api_url, "username": hub.login})
    assert result["errors"] == {"base": "navixy_sign_in_required"}

    result = await submit(hass, result, {"url": hub.api_url, "api_key": "0" * 32})
    assert result["errors"] == {"base": "invalid_auth"}

    result = await submit(
        hass, result, {"url": hub.api_url, "username": hub.login, "password": hub.password}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Navixy Fleet Push Test"  # the account's name, not the login
    assert result["result"].unique_id == f"127.0.0.1:{hub.user_id}"
    assert result["data"] == {
        CONF_HUB_KIND: "navixy",
        "url": hub.api_url,
        "username": hub.login,
        "password": hub.password,
        "verify_ssl": True,
    }
    await hass.async_block_till_done()
    mock_setup_entry.assert_called_once()

    again = await start_flow(hass, "navixy")
    again = await submit(hass, again, {"url": hub.api_url, "api_key": hub.api_key})
    assert again["type"] is FlowResultType.ABORT
    assert again["reason"] == "already_configured"


async def test_tftiot_stores_only_the_password_hash(
    hass: HomeAssistant, start_hub: StartHub
) -> None:
    hub = await start_hub("tftiot", devices=1)
    result = await start_flow(hass, "tftiot")
    result = await submit(
        hass,
        result,
        {"url": hub.url, "username": hub.user_id, "password": hub.password, "verify_ssl": True},
    )
    assert result.get("errors") is None, result.get("errors")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["password"] == md5_password(hub.password)
    assert hub.password not in str(result["data"])


async def test_devicehive_signs_in_with_a_login(hass: HomeAssistant, start_hub: StartHub) -> None:
    hub = await start_hub("devicehive", devices=1)
    result = await start_flow(hass, "devicehive")
    result = await submit(hass, result, {"url": "https://example.com", "token": "x"})
    assert result["errors"] == {"url": "invalid_url"}
    result = await submit(
        hass, result, {"url": hub.url, "username": hub.login, "password": hub.password}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_devicehive_asks_for_a_token_or_a_login(hass: HomeAssistant) -> None:
    result = await start_flow(hass, "devicehive")
    result = await submit(hass, result, {"url": "wss://dh.example.com/api/websocket"})
    assert result["errors"] == {"base": "devicehive_sign_in_required"}


async def test_reauth_recovers_and_keeps_the_account(
    hass: HomeAssistant, start_hub: StartHub, mock_setup_entry: AsyncMock
) -> None:
    hub = await start_hub("navixy", devices=1)
    entry = add_hub(hass, "navixy", hub)

    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_navixy"
    assert result["description_placeholders"]["hub"] == entry.title

    result = await submit(hass, result, {"api_key": "0" * 32})
    assert result["errors"] == {"base": "invalid_auth"}

    result = await submit(hass, result, {"username": hub.login, "password": hub.password})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert "api_key" not in entry.data
    assert entry.data["username"] == hub.login
    await hass.async_block_till_done()
    mock_setup_entry.assert_called_once()  # a hub that was not loaded is loaded now

    hub.user_id = 4242  # the same server now says these credentials are another account
    result = await entry.start_reauth_flow(hass)
    result = await submit(hass, result, {"api_key": hub.api_key})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"


async def test_reconfigure_moves_a_local_hub(
    hass: HomeAssistant, start_hub: StartHub, mock_setup_entry: AsyncMock
) -> None:
    old = await start_hub("imouse", devices=1)
    entry = add_hub(hass, "imouse", old)
    new = await start_hub("imouse", devices=1)

    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure_imouse"
    result = await submit(hass, result, {"host": "127.0.0.1", "port": new.port})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["port"] == new.port
    assert entry.unique_id == f"127.0.0.1:{old.port}"  # entities keep their ids
    await hass.async_block_till_done()
    mock_setup_entry.assert_called_once()  # set up at the new address


async def test_reconfigure_refuses_an_address_already_added(
    hass: HomeAssistant, start_hub: StartHub
) -> None:
    first = await start_hub("iclick", devices=1)
    second = await start_hub("iclick", devices=1)
    entry = add_hub(hass, "iclick", first)
    add_hub(hass, "iclick", second)

    result = await entry.start_reconfigure_flow(hass)
    result = await submit(hass, result, {"host": "127.0.0.1", "port": second.port})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_keeps_secrets_left_empty(
    hass: HomeAssistant, start_hub: StartHub, mock_setup_entry: AsyncMock
) -> None:
    hub = await start_hub("navixy", devices=1)
    entry = add_hub(hass, "navixy", hub)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED

    result = await entry.start_reconfigure_flow(hass)
    assert "api_key" not in str(result["data_schema"]({"url": hub.api_url}))
    result = await submit(hass, result, {"url": "http://127.0.0.1:1/v2", "api_key": ""})
    assert result["errors"] == {"base": "cannot_connect"}
    result = await submit(hass, result, {"url": hub.api_url, "verify_ssl": False})
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["api_key"] == hub.api_key
    assert entry.data["verify_ssl"] is False
    await hass.async_block_till_done()
    mock_setup_entry.assert_called_once()  # a loaded hub takes the change without a reload

    other = await start_hub("navixy", devices=1, seed=2)
    other.user_id = 777
    result = await entry.start_reconfigure_flow(hass)
    result = await submit(hass, result, {"url": other.api_url})
    assert result["reason"] == "wrong_account"


def test_only_hub_kinds_have_steps_of_their_own() -> None:
    flow = FleetPushConfigFlow()
    for kind in HUB_KINDS:
        assert callable(getattr(flow, f"async_step_reconfigure_{kind}"))
        assert callable(getattr(flow, f"async_step_{kind}"))
    with pytest.raises(AttributeError):
        _ = flow.async_step_nonsense
    with pytest.raises(AttributeError):
        _ = flow.async_step_reauth_imouse  # a hub without credentials is never reauthenticated


# --- options ---


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("imouse", [CONF_GRACE_PERIOD, GROUPS_OPTION]),  # phones have no positions
        ("iclick", [CONF_GRACE_PERIOD]),
        (
            "navixy",
            [
                CONF_GRACE_PERIOD,
                CONF_MIN_POSITION_INTERVAL,
                CONF_STALE_AFTER,
                ALARMS_OPTION,
                ALARM_INTERVAL_OPTION,
                "geofence_zones",
                GROUPS_OPTION,
            ],
        ),
        ("tftiot", [CONF_GRACE_PERIOD, CONF_MIN_POSITION_INTERVAL, CONF_STALE_AFTER]),
        (
            "devicehive",
            [
                CONF_GRACE_PERIOD,
                CONF_MIN_POSITION_INTERVAL,
                CONF_STALE_AFTER,
                OFFLINE_AFTER_OPTION,
                EVENTS_OPTION,
                GROUPS_OPTION,
            ],
        ),
    ],
)
async def test_each_kind_is_offered_only_the_options_that_apply_to_it(
    hass: HomeAssistant, kind: str, options: list[str]
) -> None:
    entry = kind_entry(hass, kind, {})
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert list(result["data_schema"].schema) == options
    assert result["description_placeholders"] == {"hub": entry.title}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_GRACE_PERIOD: 5}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_GRACE_PERIOD] == 5
    assert set(entry.options) == set(options)  # the others at their defaults


async def test_devicehive_options_offer_the_chosen_names_while_the_server_is_away(
    hass: HomeAssistant,
) -> None:
    entry = kind_entry(hass, "devicehive", {EVENTS_OPTION: ["door"]})
    assert entry.state is ConfigEntryState.NOT_LOADED

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    names = result["data_schema"].schema[EVENTS_OPTION].config["options"]
    assert names == ["door"]

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_GRACE_PERIOD: 60, OFFLINE_AFTER_OPTION: 30, EVENTS_OPTION: [" door", "bell", ""]},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[OFFLINE_AFTER_OPTION] == 30
    assert entry.options[EVENTS_OPTION] == ["bell", "door"]  # trimmed, each once, sorted
