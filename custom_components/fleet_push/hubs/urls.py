"""Where hubs are: a host and port as a URL writes them, a WebSocket URL beside an HTTP one."""

from __future__ import annotations

from typing import Final

from yarl import URL

_WEBSOCKET_SCHEMES: Final = {"http": "ws", "https": "wss"}


def authority(host: str, port: int | None = None) -> str:
    """host[:port] as a URL writes it: an IPv6 literal in brackets."""
    bracketed = f"[{host}]" if ":" in host else host
    return bracketed if port is None else f"{bracketed}:{port}"


def as_websocket(url: URL) -> URL:
    """The URL with http and https as ws and wss (any other scheme as it is)."""
    return url.with_scheme(_WEBSOCKET_SCHEMES.get(url.scheme, url.scheme))
