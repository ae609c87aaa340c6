"""A checker of ICU MessageFormat syntax, the format Home Assistant's frontend renders strings in.

The frontend (formatjs) shows "Translation error: MALFORMED_ARGUMENT" instead of a string whose
braces do not form arguments. This follows the same grammar: text; `{name}`; `{name, type}` and
`{name, type, style}` for number, date, time...; `{name, plural|selectordinal|select, ...}`
with options; apostrophes quote syntax characters ('{' is a literal brace, '' an apostrophe).
"""

from __future__ import annotations

import re

_NAME = re.compile(r"\s*([A-Za-z0-9_]+)\s*")
_SIMPLE_TYPES = frozenset({"number", "date", "time", "spellout", "ordinal", "duration"})
_CHOICE_TYPES = frozenset({"plural", "selectordinal", "select"})
_SELECTOR = re.compile(r"\s*(=\d+|[A-Za-z0-9_]+)\s*")
_OFFSET = re.compile(r"\s*offset:\s*\d+")


class MessageFormatError(ValueError):
    """A string the frontend cannot render."""


def check(message: str) -> set[str]:
    """Raise MessageFormatError for invalid ICU syntax; return the argument names used."""
    names: set[str] = set()
    end = _message(message, 0, names, in_plural=False, nested=False)
    if end != len(message):
        raise MessageFormatError(f"unexpected '}}' at {end} in {message!r}")
    return names


def _message(text: str, at: int, names: set[str], *, in_plural: bool, nested: bool) -> int:
    """Parse text and arguments from `at` up to an unmatched '}' (or the end); its index."""
    while at < len(text):
        char = text[at]
        if char == "'":
            at = _apostrophe(text, at, in_plural=in_plural)
        elif char == "{":
            at = _argument(text, at + 1, names)
        elif char == "}":
            if not nested:
                raise MessageFormatError(f"unmatched '}}' at {at} in {text!r}")
            return at
        else:
            at += 1
    if nested:
        raise MessageFormatError(f"unclosed '{{' in {text!r}")
    return at


def _apostrophe(text: str, at: int, *, in_plural: bool) -> int:
    """Skip an apostrophe: '' is one, '{...' quotes until the next lone one, else literal."""
    following = text[at + 1 : at + 2]
    if following == "'":
        return at + 2
    if following in ("{", "}", "|") or (in_plural and following == "#"):
        close = at + 1
        while True:
            close = text.find("'", close + 1)
            if close == -1:
                return len(text)  # quoted to the end, as ICU does
            if text[close + 1 : close + 2] != "'":
                return close + 1
            close += 1
    return at + 1


def _argument(text: str, at: int, names: set[str]) -> int:
    """Parse an argument after its '{'; the index after its '}'."""
    name = _NAME.match(text, at)
    if name is None:
        raise MessageFormatError(f"malformed argument at {at} in {text!r}")
    names.add(name[1])
    at = name.end()
    if text[at : at + 1] == "}":
        return at + 1
    if text[at : at + 1] != ",":
        raise MessageFormatError(f"malformed argument {name[1]!r} in {text!r}")
    kind = _NAME.match(text, at + 1)
    if kind is None:
        raise MessageFormatError(f"argument {name[1]!r} without a type in {text!r}")
    at = kind.end()
    if kind[1] in _SIMPLE_TYPES:
        close = text.find("}", at)
        if close == -1 or "{" in text[at:close]:
            raise MessageFormatError(f"malformed {kind[1]} argument in {text!r}")
        return close + 1
    if kind[1] not in _CHOICE_TYPES or text[at : at + 1] != ",":
        raise MessageFormatError(f"unknown argument type {kind[1]!r} in {text!r}")
    return _options(text, at + 1, names, in_plural=kind[1] != "select")


def _options(text: str, at: int, names: set[str], *, in_plural: bool) -> int:
    """Parse `selector {message}` options up to the argument's '}'; the index after it."""
    if in_plural and (offset := _OFFSET.match(text, at)):
        at = offset.end()
    selectors: set[str] = set()
    while True:
        while text[at : at + 1].isspace():
            at += 1
        if text[at : at + 1] == "}":
            if "other" not in selectors:
                raise MessageFormatError(f"a choice without 'other' in {text!r}")
            return at + 1
        selector = _SELECTOR.match(text, at)
        if selector is None or text[selector.end() : selector.end() + 1] != "{":
            raise MessageFormatError(f"malformed option at {at} in {text!r}")
        selectors.add(selector[1])
        at = _message(text, selector.end() + 1, names, in_plural=in_plural, nested=True) + 1
