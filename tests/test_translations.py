"""Every user-facing string renders in the frontend, in every language FleetPush ships."""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
from typing import Any

import pytest

from .icu import MessageFormatError, check

TRANSLATIONS = Path(__file__).parents[1] / "custom_components/fleet_push/translations"
LANGUAGES = ("en", "zh-Hans")


def strings(language: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((TRANSLATIONS / f"{language}.json").read_text("utf-8"))
    return loaded


def leaves(tree: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every string of a translation file, with its path."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from leaves(value, (*path, key))
    else:
        assert isinstance(tree, str), path
        yield path, tree


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_valid_icu_message_format(language: str) -> None:
    broken = []
    for path, text in leaves(strings(language)):
        try:
            check(text)
        except MessageFormatError as err:
            broken.append(f"{'.'.join(path)}: {err}")
    assert broken == []


def test_every_language_has_the_same_strings_with_the_same_placeholders() -> None:
    english = dict(leaves(strings("en")))
    for language in LANGUAGES[1:]:
        other = dict(leaves(strings(language)))
        assert set(other) == set(english), language
        for path, text in english.items():
            assert check(other[path]) == check(text), (language, path)


@pytest.mark.parametrize(
    "text",
    [
        "{",
        "}",
        'for example {"key": "home"}',
        "{name",
        "{name, plural, one {x}}",  # no "other"
        "{name, select, a {x} other {y}",
        "{name, nonsense}",
        "{na me}",
    ],
)
def test_the_checker_refuses_what_the_frontend_cannot_render(text: str) -> None:
    with pytest.raises(MessageFormatError):
        check(text)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("plain text, with 'apostrophes' and it's fine", set()),
        ("{device} did not answer {command}", {"device", "command"}),
        ('for example \'{"key": "home"}\'', set()),
        ("a literal '' apostrophe", set()),
        ("{count, plural, =0 {none} one {# device} other {# devices}}", {"count"}),
        ("{count, plural, offset:1 other {'#' {name}}}", {"count", "name"}),
        ("{kind, select, car {Car} other {{kind}}}", {"kind"}),
        ("{when, date, short}", {"when"}),
    ],
)
def test_the_checker_accepts_valid_messages(text: str, names: set[str]) -> None:
    assert check(text) == names
