"""Setting up, unloading and removing a hub's entry at awkward moments."""

from __future__ import annotations

import asyncio
import gc
import logging

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest

from custom_components.fleet_push.hubs import HUB_KINDS

from .conftest import SetupHub, StartHub


def never_retrieved(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Errors asyncio logs for futures whose exception nobody looked at."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.ERROR and "never retrieved" in record.getMessage()
    ]


@pytest.mark.parametrize("kind", HUB_KINDS)
@pytest.mark.parametrize("how", ["unload", "remove"])
async def test_unloading_while_a_reconnect_waits_for_the_handshake_logs_no_error(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    how: str,
) -> None:
    hub = await start_hub(kind, devices=1)
    entry = await setup_hub(kind, hub)
    accepted = hub.accepted
    hub.stop_answering()  # the next connection opens, then its handshake waits for ever
    await hub.drop_connections()
    async with asyncio.timeout(10):
        while hub.accepted == accepted:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # well into the handshake

    if how == "unload":
        assert await hass.config_entries.async_unload(entry.entry_id)
        assert entry.state is ConfigEntryState.NOT_LOADED
    else:
        assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    gc.collect()  # a forgotten future logs when it is collected
    await asyncio.sleep(0)

    assert never_retrieved(caplog) == []
    assert len(hub.connections) == 0
