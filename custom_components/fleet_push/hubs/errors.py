"""Errors a hub client raises; the integration maps each to Home Assistant's own."""

from __future__ import annotations

from enum import StrEnum


class HubError(Exception):
    """Base class of every error a hub client raises."""


class CannotConnect(HubError):
    """The hub could not be reached, or the connection was lost."""


class InvalidAuth(HubError):
    """The hub rejected the credentials."""


class SessionClosed(HubError):
    """The hub ended the session (logout, revoked key); new credentials are needed."""


class ProtocolError(HubError):
    """The hub answered with something the protocol does not allow."""


class HubTimeout(HubError):
    """The hub did not answer a request (or a device a command) in time."""


class CommandCode(StrEnum):
    """FleetPush's own reasons for a failed command; a hub's own codes pass unchanged."""

    BAD_COMMAND = "bad_command"
    """Not a command this hub kind takes."""
    BAD_PARAMETERS = "bad_parameters"
    """Parameters the command cannot take (not JSON, missing, of the wrong type)."""
    UNKNOWN_DEVICE = "unknown_device"
    """Not a device of this hub."""
    FAILED = "failed"
    """The hub said the command failed, and gave no code of its own."""
    BAD_REPLY = "bad_reply"
    """The hub answered with something no reply may be."""
    TOO_LARGE = "too_large"
    """The request or its reply is larger than the hub or FleetPush takes."""
    TIMEOUT = "timeout"
    """No answer in time (HubTimeout)."""


class CommandFailed(HubError):
    """The hub refused or failed a command (or a request)."""

    def __init__(self, message: str, *, code: int | str | None = None) -> None:
        """Keep the hub's own code (or a CommandCode) beside its message."""
        super().__init__(message)
        self.code = code
