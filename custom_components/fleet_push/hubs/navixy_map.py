"""What a Navixy map shows beside the position: each tracker's picture and group.

The tracker's own avatar (tracker/list ``avatar_file_name``), else the avatar of the vehicle it
is fitted to (vehicle/list), served under the API base's ``static`` path; the group's title
from ``tracker/group/list`` (group 0 is "no group"). Both are read with the fleet at connect
and at each reload, never per report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import quote

from .values import is_int

NO_GROUP: Final = 0
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


def group_titles(items: Iterable[Any]) -> dict[int, str]:
    """Group id -> its title (tracker/group/list)."""
    return {
        item["id"]: item["title"].strip()
        for item in items
        if isinstance(item, dict)
        and is_int(item.get("id"))
        and isinstance(item.get("title"), str)
        and item["title"].strip()
    }


def group_of(item: Mapping[str, Any], titles: Mapping[int, str]) -> str | None:
    """The title of a tracker/list item's group; None for no group or an unknown one."""
    group = item.get("group_id")
    return titles.get(group) if is_int(group) and group != NO_GROUP else None
