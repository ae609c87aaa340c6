"""Notifications missed while away: fetching them in pages, and delivering each once.

Times are the server's clock (seconds since the epoch) unless named otherwise.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any, Final, TypeGuard

NOTIFICATION_PAGE: Final = 200
"""Notifications asked for per notification/list request."""


LIST_DEVICES: Final = 100


LIST_ID_BYTES: Final = 6000
"""Device ids per notification/list request: a request must stay under the 10 KB limit."""


CURSOR_MARGIN: Final = 10.0
"""Seconds the cursor stays behind the last frame heard: pushes still on their way."""


ODD_DELIVERED: Final = 4096
"""Future-dated or undated notifications remembered for de-duplication."""


_UNDATED: Final = datetime.max.replace(tzinfo=UTC)


type Notification = dict[str, Any]


class Delivered:
    """Notifications already delivered, to drop the copies a catch-up fetches again.

    Only what lies at or after the cursor can come again; older ones are forgotten. Future-dated
    and undated ones cannot be placed in time and are kept within a bound instead.
    """

    def __init__(self) -> None:
        """Nothing delivered yet."""
        self._recent: dict[Hashable, float] = {}
        self._odd: OrderedDict[Hashable, None] = OrderedDict()

    def first_time(self, key: Hashable, when: float | None, cursor: float, now: float) -> bool:
        """Remember a notification (server times); False when it was delivered already."""
        if key in self._recent or key in self._odd:
            return False
        if when is None or when > now + CURSOR_MARGIN:
            self._odd[key] = None
            if len(self._odd) > ODD_DELIVERED:
                self._odd.popitem(last=False)
        elif when >= cursor:
            self._recent[key] = when
        return True

    def forget_before(self, cursor: float) -> None:
        """Forget what the next catch-up cannot fetch (kept in arrival order, close to time)."""
        recent = self._recent
        while recent:
            key = next(iter(recent))
            if recent[key] >= cursor:
                return
            del recent[key]


def is_notification(item: Any) -> TypeGuard[Notification]:
    """Whether an item is a notification: an object naming its device and its name."""
    if not isinstance(item, dict):
        return False
    device_id, name = item.get("deviceId"), item.get("notification")
    return isinstance(device_id, str) and bool(device_id) and isinstance(name, str)


def time_of(item: Notification) -> datetime:
    """A notification's time for ordering; undated ones go last."""
    stamp = item.get("timestamp")
    when = parse_time(stamp) if isinstance(stamp, str) else None
    return when if when is not None else _UNDATED


def chunks(devices: list[str]) -> list[list[str]]:
    """Device ids in groups small enough for one notification/list request."""
    chunks: list[list[str]] = []
    size = 0
    for device_id in devices:
        length = len(device_id.encode()) + 3
        if length > LIST_ID_BYTES:
            continue  # no server names a device like that; it cannot be asked about
        if not chunks or len(chunks[-1]) >= LIST_DEVICES or size + length > LIST_ID_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(device_id)
        size += length
    return chunks


def list_fields(devices: list[str], start: float, end: float | None) -> dict[str, Any]:
    """notification/list for these devices between two server times, a millisecond wider.

    Some servers read start and end as inclusive, some as exclusive: the margin takes both.
    """
    ids: dict[str, Any] = {"deviceIds": devices} if len(devices) > 1 else {"deviceId": devices[0]}
    window = {"start": server_stamp(start - 0.001)}
    if end is not None:
        window["end"] = server_stamp(end + 0.001)
    bounds = {key: value for key, value in window.items() if value is not None}
    sorting = {"take": NOTIFICATION_PAGE, "sortField": "timestamp", "sortOrder": "ASC"}
    return {**ids, **bounds, **sorting}


def split_time(page: list[Notification], start: float, end: float | None) -> float | None:
    """A server time strictly inside the window that splits a full page's notifications."""
    times = sorted(when.timestamp() for when in map(time_of, page) if when is not _UNDATED)
    if not times:
        return None
    middle = times[len(times) // 2]
    inside = start + 0.001 <= middle and (end is None or middle <= end - 0.001)
    return middle if inside else None


def parse_time(stamp: str) -> datetime | None:
    """A DeviceHive timestamp (ISO 8601, UTC when it names no zone)."""
    try:
        when = datetime.fromisoformat(stamp)
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except ValueError, OverflowError:  # OverflowError: beyond year 1 or 9999 in UTC
        return None


def server_stamp(server_time: float) -> str | None:
    """A server time as DeviceHive writes it (UTC, milliseconds, no zone); None if unwritable."""
    try:
        when = datetime.fromtimestamp(server_time, UTC)
    except OverflowError, OSError, ValueError:
        return None
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
