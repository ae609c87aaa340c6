"""Decoding frames: strict JSON first, and the JavaScript-literal shape some vendors document."""

from __future__ import annotations

import re
from typing import Any

import orjson

MAX_DEPTH = 64
"""Deeper nesting than this is hostile, not data."""
_ORJSON_DEPTH_LIMIT = 255
"""orjson refuses to encode containers nested this deep (its recursion limit)."""

_JS_STRING_OR_COMMENT = re.compile(
    r"""(?P<comment>//[^\n]*|/\*.*?\*/)|(?P<dstring>"(?:[^"\\]|\\.)*")|(?P<sstring>'(?:[^'\\]|\\.)*')""",
    re.DOTALL,
)
_JS_STRING_OR_SYNTAX = re.compile(
    r"""
    (?P<dstring>"(?:[^"\\]|\\.)*")
    |(?P<key>(?<=[{,\s])[A-Za-z_$][\w$-]*(?=\s*:))
    |(?P<trailing>,(?=\s*[}\]]))
    """,
    re.VERBOSE,
)
_CURLY_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def decode(text: str | bytes) -> Any:
    """Decode a JSON frame; raise ValueError for anything else or anything too deep."""
    value = orjson.loads(text)
    # Only a frame with more brackets than MAX_DEPTH can nest deeper: count them in C first.
    raw = text.encode() if isinstance(text, str) else text
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and _too_deep(value):
        raise ValueError("nested too deeply")
    return value


def _too_deep(value: Any) -> bool:
    """Whether containers nest more than MAX_DEPTH deep in value, found in C.

    Wrapped in lists up to orjson's recursion limit less MAX_DEPTH, the value encodes only if
    it nests at most MAX_DEPTH deep: a walk in C instead of one over every item in Python.
    """
    for _ in range(_ORJSON_DEPTH_LIMIT - MAX_DEPTH - 1):
        value = [value]
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError:
        return True
    return False


def decode_lenient(text: str) -> Any:
    """Decode JSON, or a JavaScript object literal as vendor pages print them.

    Accepts comments, unquoted keys, single-quoted strings, typographic quotes and trailing
    commas; raises ValueError when the text is neither.
    """
    try:
        return decode(text)
    except ValueError:
        pass
    # Two linear passes: comments and quotes first, then keys and trailing commas.
    text = _JS_STRING_OR_COMMENT.sub(_strip_comment, text.translate(_CURLY_QUOTES))
    return decode(_JS_STRING_OR_SYNTAX.sub(_quote_syntax, text))


def _strip_comment(match: re.Match[str]) -> str:
    """Drop comments; single-quoted strings become double-quoted ones."""
    kind, token = match.lastgroup, match.group()
    if kind == "comment":
        return ""
    if kind == "sstring":
        inner = token[1:-1].replace("\\'", "'").replace('"', '\\"')
        return f'"{inner}"'
    return token


def _quote_syntax(match: re.Match[str]) -> str:
    """Quote bare keys and drop trailing commas; strings pass unchanged."""
    kind, token = match.lastgroup, match.group()
    if kind == "key":
        return f'"{token}"'
    return "" if kind == "trailing" else token
