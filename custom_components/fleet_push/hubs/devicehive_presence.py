"""Whether each DeviceHive device is online, judged from what the server sends."""

from __future__ import annotations

from collections.abc import Collection, Mapping
import math
from typing import Any


class Presence:
    """Whether each device is online, judged from what the server sends (see the module doc).

    Times are this machine's wall clock (seconds since the epoch).
    """

    def __init__(self, offline_after: float) -> None:
        """Judge with this many seconds of silence before "offline"."""
        self.offline_after = offline_after
        self.listening_since: float | None = None
        """Since when FleetPush hears everything the server pushes (None: not yet)."""
        self._last_seen: dict[str, float] = {}
        self._blocked: set[str] = set()
        self._status: dict[str, bool] = {}
        self._shown: dict[str, bool | None] = {}

    def __contains__(self, device_id: object) -> bool:
        """Whether the device is known (listed, or heard from)."""
        return device_id in self._shown

    def devices(self) -> list[str]:
        """Every known device."""
        return list(self._shown)

    def record(self, device_id: str, record: Mapping[str, Any], now: float) -> bool | None:
        """Take a device record's ``isBlocked`` and ``status``; return what Online shows now."""
        status = record.get("status")
        if isinstance(status, str):
            self._status[device_id] = status.casefold() != "offline"
        else:
            self._status.pop(device_id, None)
        if record.get("isBlocked") is True:
            self._blocked.add(device_id)
        else:
            self._blocked.discard(device_id)
        value = self._judge(device_id, now)
        self._shown[device_id] = value
        return value

    def heard(self, device_id: str, when: float, now: float) -> bool:
        """Note that the device was active at `when`; True when that turns it online."""
        if when > self._last_seen.get(device_id, -math.inf):
            self._last_seen[device_id] = when
        if self._shown.get(device_id) is True or self._judge(device_id, now) is not True:
            self._shown.setdefault(device_id, None)
            return False
        self._shown[device_id] = True
        return True

    def changes(self, now: float) -> list[tuple[str, bool | None]]:
        """The devices whose Online changes now, with their new value (the timer's work)."""
        changed = [
            (device_id, value)
            for device_id, shown in self._shown.items()
            if (value := self._judge(device_id, now)) != shown
        ]
        self._shown.update(changed)
        return changed

    def forget_all_but(self, kept: Collection[str]) -> None:
        """Forget the devices the server no longer lists."""
        for device_id in [device_id for device_id in self._shown if device_id not in kept]:
            self.forget(device_id)

    def forget(self, device_id: str) -> None:
        """Forget one device (gone, or no longer brought in)."""
        self._shown.pop(device_id, None)
        self._last_seen.pop(device_id, None)
        self._status.pop(device_id, None)
        self._blocked.discard(device_id)

    def _judge(self, device_id: str, now: float) -> bool | None:
        if device_id in self._blocked:  # the server refuses it, whatever it last said
            return False
        if (status := self._status.get(device_id)) is not None:
            return status
        seen = self._last_seen.get(device_id)
        if seen is not None and now - seen < self.offline_after:
            return True
        since = self.listening_since
        if since is not None:
            quiet_since = since if seen is None else max(seen, since)
            if now - quiet_since >= self.offline_after:
                return False
        return self._shown.get(device_id)
