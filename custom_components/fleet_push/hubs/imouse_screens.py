"""What an iMouse XP phone record says about its screen, and the kernel's screenshot replies.

A phone is driven through its screen cast to the kernel's computer over AirPlay: the record's
`air_handle` is that cast (0: none), read as the kernel gives it whatever the phone's `state`
(Online shows that), so that a phone going offline writes Online alone. `rotate` is how the
screen is turned ("旋转角度": quarter turns in what the kernel sends; degrees are read too).
`/pic/screenshot` with `binary: true` answers with the image itself as the HTTP body, and with
the JSON reply envelope when it refuses (a phone offline, say); without `binary` the
envelope's data carries the image in base64 (`image`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Final

from .errors import CommandCode, CommandFailed
from .model import Field, Orientation, Value
from .screenshots import MAX_SCREENSHOT_BYTES, Screenshot, ScreenshotTooLarge, screenshot_of
from .values import is_int

_ORIENTATIONS: Final[Mapping[int, Orientation]] = {
    0: Orientation.PORTRAIT,
    1: Orientation.LANDSCAPE,
    2: Orientation.PORTRAIT,
    3: Orientation.LANDSCAPE,
    90: Orientation.LANDSCAPE,
    180: Orientation.PORTRAIT,
    270: Orientation.LANDSCAPE,
}
"""`rotate` as quarter turns (0-3) or degrees."""
_BASE64_LIMIT: Final = MAX_SCREENSHOT_BYTES * 4 // 3 + 4
_ENVELOPE_TYPES: Final = ("json", "text")


def screen_values(record: Mapping[str, Any]) -> dict[Field, Value]:
    """Orientation and screen casting, for the keys a record has (junk: unknown)."""
    values: dict[Field, Value] = {}
    if "rotate" in record:
        rotate = record["rotate"]
        values[Field.ORIENTATION] = _ORIENTATIONS.get(rotate) if is_int(rotate) else None
    if "air_handle" in record:
        handle = record["air_handle"]
        values[Field.SCREEN_CASTING] = handle != 0 if is_int(handle) else None
    return values


def is_envelope(content_type: str, body: bytes) -> bool:
    """Whether an HTTP body is the JSON reply envelope rather than an image."""
    if any(kind in content_type.lower() for kind in _ENVELOPE_TYPES):
        return True
    return body.lstrip()[:1] == b"{"


def screenshot_in(data: Mapping[str, Any]) -> Screenshot:
    """The screenshot of a reply's data, its image in base64 (a kernel that ignored binary)."""
    image = data.get("image")
    if not isinstance(image, str) or not image:
        raise CommandFailed("the iMouse kernel sent no image", code=CommandCode.BAD_REPLY)
    if len(image) > _BASE64_LIMIT:
        raise ScreenshotTooLarge
    try:
        payload = base64.b64decode(image.partition("base64,")[2] or image, validate=True)
    except (binascii.Error, ValueError) as err:
        raise CommandFailed(
            "the iMouse kernel's image is not base64", code=CommandCode.BAD_REPLY
        ) from err
    return screenshot_of(payload)
