"""Navixy's groupings of trackers: groups (``tracker/group/list``) and tags (``tag/list``).

A tracker names its group by ``group_id`` (0: the default group, which has no title and is not
listed) and its tags by ``tag_bindings``. They are shown as attributes, the group as the
tracker's suggested area, and they choose which trackers an account brings in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from .model import SERVICE_ENDS
from .values import is_int

TARIFF_END: Final = "tariff_end_date"
"""When a tracker's tariff ends (or is next charged): its service ends then."""


@dataclass(frozen=True, slots=True)
class Grouping:
    """The account's groups and tags, by id."""

    groups: Mapping[int, tuple[str, str | None]] = field(default_factory=dict)
    """Group id -> (title, colour as RRGGBB)."""
    tags: Mapping[int, str] = field(default_factory=dict)

    def names(self) -> frozenset[str]:
        """Every group title and tag name (what the import option offers)."""
        return frozenset({title for title, _ in self.groups.values()} | set(self.tags.values()))

    def group_of(self, item: Mapping[str, Any]) -> tuple[str, str | None] | None:
        """A tracker/list item's group (title, colour); None for the default group."""
        group_id = item.get("group_id")
        return self.groups.get(group_id) if is_int(group_id) else None

    def title_of(self, item: Mapping[str, Any]) -> str | None:
        """A tracker/list item's group title (its suggested area); None for the default group."""
        group = self.group_of(item)
        return group[0] if group is not None else None

    def tags_of(self, item: Mapping[str, Any]) -> list[str]:
        """A tracker/list item's tag names, as the account lists them."""
        bindings = item.get("tag_bindings")
        if not isinstance(bindings, list):
            return []
        return [self.tags[tag] for tag in bindings if is_int(tag) and tag in self.tags]

    def chosen(self, item: Mapping[str, Any], names: Collection[str]) -> bool:
        """Whether a tracker is in one of the chosen groups or has one of the chosen tags."""
        if not names:
            return True
        return self.title_of(item) in names or any(tag in names for tag in self.tags_of(item))

    def extras(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The attributes of a tracker's groupings (and when its service ends)."""
        extras: dict[str, Any] = {}
        if self.groups:  # None once a tracker leaves its group: the old one must not stay
            extras["group"], extras["group_color"] = self.group_of(item) or (None, None)
        if self.tags:
            extras["tags"] = self.tags_of(item)
        source = item.get("source")
        if isinstance(source, dict) and (ends := service_end(source.get(TARIFF_END))):
            extras[SERVICE_ENDS] = ends.isoformat()
        return extras


def read_groups(items: Iterable[Any]) -> dict[int, tuple[str, str | None]]:
    """tracker/group/list items: id -> (title, colour); untitled or malformed ones are left out."""
    groups: dict[int, tuple[str, str | None]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        group_id, title, colour = item.get("id"), item.get("title"), item.get("color")
        if is_int(group_id) and isinstance(title, str) and title.strip():
            groups[group_id] = (title.strip(), colour if isinstance(colour, str) else None)
    return groups


def service_end(value: Any) -> date | None:
    """A ``tariff_end_date`` ("yyyy-MM-dd", or a date and time); None when absent or junk."""
    if not isinstance(value, str) or len(value) < len("yyyy-mm-dd"):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
