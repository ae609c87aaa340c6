"""What a Navixy map shows beside the position: each tracker's picture.

The tracker's own avatar (tracker/list ``avatar_file_name``), else the avatar of the vehicle it
is fitted to (vehicle/list), served under the API base's ``static`` path, read with the fleet
at connect and at each reload, never per report. Its group comes from navixy_groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import quote

from .values import is_int

MAX_FILE_NAME: Final = 255


def avatar_url(base_url: str, owner: str, file_name: Any) -> str | None:
    """The URL of a tracker's or vehicle's avatar (owner: "tracker" or "vehicle"), if it has one."""
    if not isinstance(file_name, str) or not file_name.strip() or len(file_name) > MAX_FILE_NAME:
        return None
    return f"{base_url}/static/{owner}/avatars/{quote(file_name.strip(), safe='')}"


def vehicle_avatars(items: Iterable[Any]) -> dict[int, str]:
    """Tracker id -> the avatar file name of the vehicle it is fitted to (vehicle/list)."""
    return {
        item["tracker_id"]: item["avatar_file_name"]
        for item in items
        if isinstance(item, dict)
        and is_int(item.get("tracker_id"))
        and isinstance(item.get("avatar_file_name"), str)
    }
