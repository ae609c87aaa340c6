"""A listener for client tests: keeps every message and waits for the next one of a kind."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from custom_components.fleet_push.hubs.model import HubMessage


class Recorder(list[HubMessage]):
    """A listener that keeps every message, with a way to wait for the next one of a kind."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    async def next[T](
        self, kind: type[T], timeout: float = 5.0, where: Callable[[T], bool] | None = None
    ) -> T:
        """The next message of a kind (that `where` accepts), waiting up to `timeout`."""
        async with asyncio.timeout(timeout):
            while True:
                while self.seen < len(self):
                    message = self[self.seen]
                    self.seen += 1
                    if isinstance(message, kind) and (where is None or where(message)):
                        return message
                await asyncio.sleep(0.005)

    def of[T](self, kind: type[T]) -> list[T]:
        """Every message of a kind so far."""
        return [message for message in self if isinstance(message, kind)]

    def skip(self) -> None:
        """Forget what came so far."""
        self.seen = len(self)
