"""Errors a hub client raises; the integration maps each to Home Assistant's own."""

from __future__ import annotations


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


class CommandFailed(HubError):
    """The hub refused or failed a command."""

    def __init__(self, message: str, *, code: int | str | None = None) -> None:
        """Keep the hub's own code beside its message."""
        super().__init__(message)
        self.code = code
