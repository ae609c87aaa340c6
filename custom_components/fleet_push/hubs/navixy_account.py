"""What Navixy's trip and alarm readers need of the client: its REST calls, dates and memory."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from datetime import datetime
from typing import Any, Protocol

from .connection import Drop, cancel_and_wait
from .memory import HubMemory
from .model import HubMessage


class NavixyAccount(Protocol):
    """The signed-in account, as the client offers it to its readers."""

    memory: HubMemory

    async def rest(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One REST call's reply; HubError (NavixyApiError for a refusal) otherwise."""

    def parse_date(self, value: Any) -> datetime | None:
        """A Navixy date (the user's local time) as an aware UTC datetime."""

    def format_date(self, when: datetime) -> str:
        """A datetime as Navixy reads dates (the user's local time)."""

    def emit(self, message: HubMessage) -> None:
        """Hand a message to the integration."""

    def drop(self, reason: Drop, detail: object = None) -> None:
        """Count (and debug-log) something skipped or failed."""


class Background:
    """Tasks a reader runs beside the connection; all cancelled when it closes."""

    def __init__(self, name: str) -> None:
        """Tasks named after what runs them."""
        self._name = name
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        """Run work in the background until it ends or cancel() is called."""
        task = asyncio.get_running_loop().create_task(work, name=self._name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def running(self) -> bool:
        """Whether a task is still at work."""
        return bool(self._tasks)

    async def cancel(self) -> None:
        """Cancel every task and wait for each to end."""
        while self._tasks:
            await cancel_and_wait(self._tasks.pop())
