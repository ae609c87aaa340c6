"""Redaction of secrets by key, for every frame or value a client logs or counts.

Hubs echo frames, put tokens in error texts and name their secrets in many spellings
(``md5-password``, ``accessToken``, ``hash``, ``pass``). Whatever a client logs goes through
``redact`` first, so no hub kind can leak a credential by forgetting a key of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import Any, Final

REDACTED: Final = "**REDACTED**"
_SECRET_WORDS: Final = ("password", "passwd", "secret", "token", "hash", "md5", "apikey", "session")
_SECRET_KEYS: Final = frozenset({"pass", "pwd", "key", "auth", "authorization", "cookie", "sid"})
_SECRET_IN_TEXT: Final = re.compile(
    # A name is a whole run of name characters, taken at once (possessive): a long run is
    # scanned once, not again from each of its characters (minutes for a 70 kB frame).
    r"""(?P<key>["']?(?<![\w.-])(?P<name>[\w.-]++)["']?\s*[:=]\s*)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|[^\s,;&}\]]+)"""
)
_BEARER: Final = re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+")


def is_secret_key(key: object) -> bool:
    """Whether a key names a credential, in any of the spellings hubs use."""
    if not isinstance(key, str):
        return False
    plain = re.sub(r"[^a-z0-9]", "", key.casefold())
    return plain in _SECRET_KEYS or any(word in plain for word in _SECRET_WORDS)


def redact(value: Any) -> Any:
    """A copy of value with every secret replaced: by key in containers, by pattern in text."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED if is_secret_key(key) else redact(item) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_text(text: str) -> str:
    """Text with the value after every secret key (JSON, JS literal, query or header) hidden."""
    text = _BEARER.sub(lambda match: f"{match[1]} {REDACTED}", text)
    return _SECRET_IN_TEXT.sub(_hide_secret_value, text)


def _hide_secret_value(match: re.Match[str]) -> str:
    if not is_secret_key(match["name"]):
        return match[0]
    return f"{match['key']}{REDACTED}"
