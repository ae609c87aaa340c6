"""Screenshots a phone takes on demand: the image a hub sends, checked and bounded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from .errors import CommandCode, CommandFailed

MAX_SCREENSHOT_BYTES: Final = 4 * 1024 * 1024
"""A phone's screenshot is a few hundred KiB; anything beyond this is refused, never kept."""
SCREENSHOT_TIMEOUT: Final = 30.0
"""Seconds a hub may take to capture and send a screenshot."""

_SIGNATURES: Final = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


class ScreenshotTooLarge(CommandFailed):
    """The hub's screenshot is larger than FleetPush keeps."""

    def __init__(self, size: int | None = None) -> None:
        """Say how large it was, where known."""
        said = f" ({size} bytes)" if size is not None else ""
        super().__init__(
            f"the screenshot is larger than {MAX_SCREENSHOT_BYTES} bytes{said}",
            code=CommandCode.TOO_LARGE,
        )


@dataclass(frozen=True, slots=True)
class Screenshot:
    """One screenshot: the image's bytes and their type."""

    content: bytes
    content_type: str
    taken: datetime = field(default_factory=lambda: datetime.now(UTC))


def screenshot_of(payload: bytes) -> Screenshot:
    """The screenshot in a hub's payload: a JPEG or PNG image, at most MAX_SCREENSHOT_BYTES.

    Anything else is a bad reply, never an image shown.
    """
    if len(payload) > MAX_SCREENSHOT_BYTES:
        raise ScreenshotTooLarge(len(payload))
    for signature, content_type in _SIGNATURES:
        if payload.startswith(signature):
            return Screenshot(bytes(payload), content_type)
    raise CommandFailed("the hub sent no JPEG or PNG image", code=CommandCode.BAD_REPLY)
