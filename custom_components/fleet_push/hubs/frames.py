"""Decoding frames: strict JSON first, and the JavaScript-literal shape some vendors document."""

from __future__ import annotations

import re
from typing import Any

import orjson

MAX_DEPTH = 64
"""Deeper nesting than this is hostile, not data."""

_JS_TOKEN = re.compile(
    r"""
    (?P<comment>//[^\n]*|/\*.*?\*/)
    |(?P<dstring>"(?:[^"\\]|\\.)*")
    |(?P<sstring>'(?:[^'\\]|\\.)*')
    |(?P<key>(?<=[{,\s])[A-Za-z_$][\w$-]*(?=\s*:))
    |(?P<trailing>,(?=\s*[}\]]))
    """,
    re.DOTALL | re.VERBOSE,
)
_CURLY_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def decode(text: str | bytes) -> Any:
    """Decode a JSON frame; raise ValueError for anything else or anything too deep."""
    value = orjson.loads(text)
    if _depth(value) > MAX_DEPTH:
        raise ValueError("nested too deeply")
    return value


def decode_lenient(text: str) -> Any:
    """Decode JSON, or a JavaScript object literal as vendor pages print them.

    Accepts comments, unquoted keys, single-quoted strings, typographic quotes and trailing
    commas; raises ValueError when the text is neither.
    """
    try:
        return decode(text)
    except ValueError:
        pass
    return decode(_JS_TOKEN.sub(_normalize_token, text.translate(_CURLY_QUOTES)))


def _normalize_token(match: re.Match[str]) -> str:
    kind = match.lastgroup
    token = match.group()
    if kind in ("comment", "trailing"):
        return ""
    if kind == "sstring":
        inner = token[1:-1].replace("\\'", "'").replace('"', '\\"')
        return f'"{inner}"'
    if kind == "key":
        return f'"{token}"'
    return token


def _depth(value: Any, limit: int = MAX_DEPTH + 1) -> int:
    """How deeply containers nest in value, counting no further than limit."""
    depth = 0
    level: list[Any] = [value]
    while level and depth < limit:
        children: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                children.extend(item.values())
            elif isinstance(item, list):
                children.extend(item)
        if not children and not any(isinstance(item, dict | list) for item in level):
            break
        depth += 1
        level = children
    return depth
