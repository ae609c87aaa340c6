"""What a simulated phone's screen shows: a small real image, drawn in code (no image files).

Each phone gets its own colour and name, its screen turned as the phone is, and the time it was
taken, so that a dashboard of screenshots tells the phones apart and shows each one fresh.
"""

from __future__ import annotations

from datetime import datetime
import hashlib
import io
from typing import Literal

from PIL import Image, ImageDraw

type ImageFormat = Literal["JPEG", "PNG"]

SHORT_SIDE = 120
"""Pixels across a portrait screenshot: small, as a dashboard tile shows it."""
_ASPECT = 2.17
"""A modern iPhone's screen: height over width."""
_ICON = 18
_GAP = 8


def phone_screen(
    name: str, *, landscape: bool = False, image_format: ImageFormat = "PNG", busy: bool = False
) -> bytes:
    """A screenshot of the phone called `name`: home screen when idle, an app when busy."""
    width, height = SHORT_SIDE, round(SHORT_SIDE * _ASPECT)
    if landscape:
        width, height = height, width
    digest = hashlib.sha256(name.encode()).digest()
    background = (digest[0] // 2, digest[1] // 2, 64 + digest[2] // 2)
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 14), fill=(0, 0, 0))
    draw.text((4, 2), datetime.now().strftime("%H:%M:%S"), fill=(255, 255, 255))  # noqa: DTZ005
    if busy:
        _app(draw, width, height, digest)
    else:
        _icons(draw, width, height, digest)
    draw.text((6, height - 22), name[:18], fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, quality=80, optimize=True)
    return buffer.getvalue()


def _icons(draw: ImageDraw.ImageDraw, width: int, height: int, digest: bytes) -> None:
    """A home screen: rows of app icons in the phone's own colours."""
    index = 0
    for top in range(24, height - 40, _ICON + _GAP):
        for left in range(_GAP, width - _ICON, _ICON + _GAP):
            shade = digest[index % len(digest)]
            colour = (128 + shade // 2, 255 - shade // 2, 96 + shade // 3)
            draw.rounded_rectangle((left, top, left + _ICON, top + _ICON), radius=4, fill=colour)
            index += 1


def _app(draw: ImageDraw.ImageDraw, width: int, height: int, digest: bytes) -> None:
    """An app at work: a white page with lines of content and a progress bar."""
    draw.rectangle((0, 16, width, height - 30), fill=(245, 245, 245))
    for row, top in enumerate(range(26, height - 60, 14)):
        length = 30 + digest[row % len(digest)] % max(width - 50, 1)
        draw.rectangle((8, top, min(8 + length, width - 8), top + 6), fill=(180, 180, 190))
    progress = digest[3] % (width - 16)
    draw.rectangle((8, height - 46, width - 8, height - 40), fill=(210, 210, 210))
    draw.rectangle((8, height - 46, 8 + progress, height - 40), fill=(30, 120, 230))
