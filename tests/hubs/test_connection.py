"""What every hub client shares: keep-alive, fleet reloads, ending a session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

import aiohttp
import pytest

from custom_components.fleet_push.hubs import client_class
from custom_components.fleet_push.hubs.connection import (
    Drop,
    HubClient,
    Listener,
    Timing,
    cancel_and_wait,
)
from custom_components.fleet_push.hubs.errors import (
    CannotConnect,
    CommandFailed,
    HubError,
    HubTimeout,
    SessionClosed,
)
from custom_components.fleet_push.hubs.model import Command, FleetSnapshot, HubInfo, HubMessage
from tests.simulator.base import Connection, HubSimulator


class EchoHub(HubSimulator):
    """Answers "ping" with "pong" and echoes everything else."""

    kind = "echo"

    def build_fleet(self, devices: int) -> None:
        self.devices = devices

    async def on_text(self, conn: Connection, text: str) -> None:
        await conn.send("pong" if text == "ping" else text)


class EchoClient(HubClient):
    """A minimal client: counts its reloads, treats "boom" as a bad frame."""

    kind = "echo"
    keepalive_text: ClassVar[str | None] = "ping"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        listener: Listener,
        url: str,
        timing: Timing | None = None,
    ) -> None:
        super().__init__(session, listener, timing=timing or Timing(keepalive_interval=0.05))
        self.url = url
        self.reloads = 0
        self.reloaded_in: set[asyncio.Task[Any]] = set()
        """The tasks the reloads ran in."""
        self.texts: list[str] = []

    @classmethod
    def settings(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        return {"url": config["url"]}

    async def _establish(self) -> HubInfo:
        await self.open_websocket(self.url)
        return HubInfo("echo", "Echo", "Test", "Echo")

    def handle_text(self, text: str) -> None:
        if text == "boom":
            raise ValueError(text)
        self.texts.append(text)
        self.resolve(text, text)

    async def reload_fleet(self) -> None:
        self.reloads += 1
        if (task := asyncio.current_task()) is not None:
            self.reloaded_in.add(task)
        self.emit(FleetSnapshot(()))


@pytest.fixture
async def echo(socket_enabled: None) -> AsyncIterator[EchoHub]:
    async with EchoHub() as hub:
        yield hub


@pytest.fixture
async def client(echo: EchoHub) -> AsyncIterator[EchoClient]:
    messages: list[HubMessage] = []
    async with aiohttp.ClientSession() as session:
        client = EchoClient(session, messages.append, echo.url)
        await client.connect()
        yield client
        await client.close()


async def until(condition: Any) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.01)


async def test_keep_alive_text_is_sent_and_bad_frames_are_counted(
    client: EchoClient, echo: EchoHub
) -> None:
    await until(lambda: "pong" in client.texts)
    await client.send_text("boom")
    await until(lambda: client.stats.dropped)
    assert client.stats.dropped == {Drop.HANDLER_ERROR: 1}
    assert client.connected


async def test_requests_match_replies_and_time_out(client: EchoClient) -> None:
    assert await client.request("hello", "hello") == "hello"
    with pytest.raises(HubTimeout):
        await client.request("never", "pi", timeout=0.05)  # echoed as "pi": no match
    assert not client.resolve("nobody", 1)
    assert not client.reject("nobody", HubError())


async def test_reload_requests_made_before_it_runs_are_coalesced(
    client: EchoClient,
) -> None:
    client.schedule_fleet_reload()
    client.schedule_fleet_reload()  # not started yet: the same run covers both
    await until(lambda: client.reloads)
    (task,) = client.reloaded_in
    await task  # every reload this task was asked for is done
    assert client.reloads == 1


async def test_a_reload_requested_while_one_runs_runs_again(client: EchoClient) -> None:
    gate = asyncio.Event()
    original = client.reload_fleet

    async def slow() -> None:
        await gate.wait()
        await original()

    client.reload_fleet = slow  # type: ignore[method-assign]
    client.schedule_fleet_reload()
    await asyncio.sleep(0.01)
    client.schedule_fleet_reload()
    gate.set()
    await until(lambda: client.reloads == 2)


async def test_on_demand_reload_is_rate_limited(client: EchoClient) -> None:
    client.reload_fleet_soon()
    client.reload_fleet_soon()
    await until(lambda: client.reloads == 1)
    await asyncio.sleep(0.05)
    assert client.reloads == 1


async def test_periodic_reload(client: EchoClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EchoClient, "fleet_reload_interval", 0.05)
    await until(lambda: client.reloads >= 2)


async def test_a_failing_reload_is_counted(client: EchoClient) -> None:
    async def failing() -> None:
        raise CannotConnect("gone")

    client.reload_fleet = failing  # type: ignore[method-assign]
    client.schedule_fleet_reload()
    await until(lambda: client.stats.dropped)
    assert client.stats.dropped == {Drop.RELOAD_FAILED: 1}


async def test_ending_a_session_from_this_side(client: EchoClient) -> None:
    client.end_session(SessionClosed("token expired"))
    with pytest.raises(SessionClosed, match="token expired"):
        await client.run()
    await client.close()
    assert not client.connected
    with pytest.raises(CannotConnect):
        await client.send_text("late")


async def test_the_hub_closing_ends_run(client: EchoClient, echo: EchoHub) -> None:
    await echo.drop_connections()
    with pytest.raises(CannotConnect, match="closed"):
        await client.run()


async def test_a_hub_without_commands_says_so(client: EchoClient) -> None:
    with pytest.raises(CommandFailed, match="take no commands"):
        await client.send_command(Command("a", "b", {}, 1))


async def test_run_before_connect_and_commands_of_a_hub_without_any() -> None:
    async with aiohttp.ClientSession() as session:
        client = EchoClient(session, lambda _message: None, "ws://127.0.0.1:1/")
        with pytest.raises(CannotConnect):
            await client.run()
        with pytest.raises(CannotConnect):
            await client.send_command(Command("a", "b", {}, 1))  # not connected
        client.handle_binary(b"\x00")
        assert client.stats.dropped == {Drop.BINARY: 1}
        client.reload_fleet_soon()  # not connected: nothing happens
        await asyncio.sleep(0)  # a reload scheduled now would have started
        assert client.reloads == 0


async def test_cannot_connect_to_nothing(socket_enabled: None) -> None:
    async with aiohttp.ClientSession() as session:
        client = EchoClient.from_config(
            session, lambda _message: None, {"url": "ws://127.0.0.1:1/"}
        )
        assert client.url == "ws://127.0.0.1:1/"
        with pytest.raises(CannotConnect):
            await client.connect()


async def test_cancel_and_wait_keeps_the_callers_cancellation() -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    async def failing() -> None:
        raise ValueError

    await cancel_and_wait(None)
    done = asyncio.get_running_loop().create_task(failing())
    await asyncio.sleep(0)
    await cancel_and_wait(done)  # its error is retrieved, not raised
    inner = asyncio.get_running_loop().create_task(forever())

    async def closer() -> None:
        await cancel_and_wait(inner)
        await asyncio.Event().wait()

    outer = asyncio.get_running_loop().create_task(closer())
    await asyncio.sleep(0)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown hub kind"):
        client_class("nope")
