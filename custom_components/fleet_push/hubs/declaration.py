"""What a hub kind is, said once, in the protocol layer's own terms.

Each client class declares its kind here: the settings it is built from (and which of them are
credentials), how the hub is identified, the notices it emits, the commands it offers and the
fields it reports. Everything else is derived from these declarations: the setup, reconfigure
and reauthentication forms, the options, the event entities, buttons and switches, what
diagnostics redact, the simulators' registry and the tests' list of kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from .model import Field

GROUPS_OPTION: Final = "import_groups"
"""The option of a kind that can bring in part of a hub: the hub's groups (their names) whose
devices it brings in; none chosen, every device."""


class SettingType(StrEnum):
    """What kind of value a setting holds (and so how a form asks for it)."""

    HOST = "host"
    """A host name or an IP address, nothing else."""
    PORT = "port"
    """A TCP port."""
    URL = "url"
    """A URL with one of the kind's schemes and a host."""
    TEXT = "text"
    """Plain text: a login, a user id."""
    SECRET = "secret"  # noqa: S105 - the name of a kind of setting, not a password
    """A password, a key, a token: never shown again, never logged."""
    FLAG = "flag"
    """On or off."""
    MINUTES = "minutes"
    """A duration, in whole minutes."""
    NAMES = "names"
    """A list of names."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One value a client is built from, as a config entry stores it."""

    key: str
    type: SettingType
    default: Any = None
    required: bool = False
    credential: bool = False
    """Asked for again when the hub refuses the stored credentials."""
    identity: bool = False
    """Names the account or the hub (redacted wherever data is shown)."""


class Identity(StrEnum):
    """How a hub is told apart from another of its kind."""

    ADDRESS = "address"
    """Only by where it is: moving it to another address keeps its identity."""
    ACCOUNT = "account"
    """By the account or server it names when connecting."""


@dataclass(frozen=True, slots=True)
class Channel:
    """Notices of one kind (HubNotice.channel) and the event types they come in."""

    key: str
    event_types: tuple[str, ...] = ()
    chosen_by: str | None = None
    """For a channel whose event types the hub names as they come (a DeviceHive
    notification's name): the option (a NAMES setting) listing the types the user chose."""


@dataclass(frozen=True, slots=True)
class Press:
    """A command a device takes without parameters worth asking for (a restart, "home")."""

    key: str
    command: str
    parameters: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class HubDeclaration:
    """Everything about a hub kind that is not its wire protocol."""

    kind: str
    name: str
    """What its vendor calls it ("iMouse XP")."""
    settings: tuple[Setting, ...]
    identity: Identity = Identity.ACCOUNT
    url_schemes: tuple[str, ...] = ()
    sign_in: tuple[tuple[str, ...], ...] = ()
    """Ways to sign in, each the settings it needs; one of them must be given in full."""
    options: tuple[Setting, ...] = ()
    """What a user may change at any time, beyond what every hub has."""
    channels: tuple[Channel, ...] = ()
    presses: tuple[Press, ...] = ()
    output_command: str | None = None
    """The command that sets a device's output n: parameters {"output": n from 1, "enable"}."""
    fields: frozenset[Field] = frozenset()
    """The values its devices (and the hub itself) report."""
    positions: bool = False
    """Whether its devices report where they are."""
    screenshots: bool = False
    """Whether its devices take screenshots on demand (HubClient.take_screenshot)."""

    def setting(self, key: str) -> Setting:
        """A setting by its key."""
        return next(setting for setting in (*self.settings, *self.options) if setting.key == key)

    @property
    def credentials(self) -> tuple[str, ...]:
        """The settings asked for again at reauthentication (none: never reauthenticated)."""
        return tuple(setting.key for setting in self.settings if setting.credential)

    @property
    def secrets(self) -> frozenset[str]:
        """The settings never shown again and never logged."""
        return frozenset(
            setting.key
            for setting in (*self.settings, *self.options)
            if setting.type is SettingType.SECRET
        )

    @property
    def event_types(self) -> Mapping[str, tuple[str, ...]]:
        """Each channel's event types."""
        return {channel.key: channel.event_types for channel in self.channels}
