"""A hub kind is one module: a test-only sixth kind gets everything from its declaration."""

from __future__ import annotations

from collections.abc import Iterator
import logging
import sys

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.fleet_push import hubs
from custom_components.fleet_push.const import DOMAIN

from . import simulator
from .conftest import StartHub
from .echo_hub import EchoClient
from .helpers import entity_id, registry_id, send, state_of, wait_for


@pytest.fixture
def echo_kind() -> Iterator[None]:
    """The echo hub joins FleetPush's kinds (and its simulator the simulators) for a test."""
    hubs.register(EchoClient)
    simulator.register("echo", sys.modules["tests.echo_hub"])
    yield
    hubs.unregister("echo")
    simulator.unregister("echo")


@pytest.mark.usefixtures("echo_kind", "entity_registry_enabled_by_default")
async def test_a_kind_declared_in_its_own_module_gets_a_flow_entities_events_and_a_button(
    hass: HomeAssistant, start_hub: StartHub, caplog: pytest.LogCaptureFixture
) -> None:
    hub = await start_hub("echo", devices=2)

    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert "echo" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "echo"}
    )
    assert result["step_id"] == "echo"
    assert [str(key) for key in result["data_schema"].schema] == ["host", "port"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], hub.form())
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entry = hass.config_entries.async_entries(DOMAIN)[0]

    # Entities from its fields, an event entity from its channel, a button from its press.
    assert state_of(hass, entry, "binary_sensor", "e1", "online").state == STATE_ON
    assert state_of(hass, entry, "sensor", "e1", "battery").state == "50"
    await hub.update("e1", online=False, battery=40)
    await wait_for(lambda: state_of(hass, entry, "sensor", "e1", "battery").state == "40")
    assert state_of(hass, entry, "binary_sensor", "e1", "online").state == STATE_OFF

    chime = entity_id(hass, entry, "event", "e2", "chime")
    await hub.notice("e2", "beep")
    await wait_for(lambda: hass.states.get(chime).attributes.get("event_type") == "beep")

    ring = entity_id(hass, entry, "button", "e2", "ring")
    await hass.services.async_call("button", "press", {"entity_id": ring}, blocking=True)
    assert hub.commands[-1]["command"] == "ring"
    assert hub.commands[-1]["times"] == 2
    answer = await send(hass, registry_id(hass, entry, "e2"), "ring", parameters={"times": 5})
    assert answer == {
        "results": [
            {"device_id": registry_id(hass, entry, "e2"), "ok": True, "result": {"rang": 5}}
        ]
    }

    # What its declaration does not name is counted and said once, never dropped silently.
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        await hub.notice("e2", "clang")
    await wait_for(lambda: entry.runtime_data.unknown["event type chime/clang"] == 3)
    assert hass.states.get(chime).attributes["event_type"] == "beep"
    said = [r for r in caplog.records if "chime/clang" in r.getMessage()]
    assert len(said) == 1
