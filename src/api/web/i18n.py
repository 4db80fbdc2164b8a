"""The web pages' words in fr, nl and en, and how a page picks its language.

The catalogues are flat JSON files (``locales/<locale>.json``), one key per
sentence, with ``{name}`` placeholders and ``{count|one|other}`` for the words
that agree with a count (CLDR's plural rule of the locale, through Babel).
A page's language is, in order: the one chosen with the language switch on
this browser (a cookie), the signed-in user's own locale, the browser's
``Accept-Language``, English. A key missing from a catalogue falls back to
English at runtime and is remembered in ``MISSING``, which the tests keep
empty; a test also keeps the three catalogues in step.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from string import Formatter
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_decimal

from api.i18n import negotiate_locale
from booking.reasons import choose_plurals

LOCALES: tuple[str, ...] = ("fr", "nl", "en")
DEFAULT_LOCALE = "en"
LANGUAGE_COOKIE = "truchement_lang"

MISSING: set[tuple[str, str]] = set()
"""``(locale, key)`` pairs asked for but absent: filled at runtime, checked by the tests."""


@cache
def catalogue(locale: str) -> dict[str, str]:
    """The sentences of ``locale``, read once from the packaged JSON file."""
    text = resources.files("api.web").joinpath(f"locales/{locale}.json").read_text("utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"locales/{locale}.json must hold one JSON object")
    return {str(key): str(value) for key, value in data.items()}


class _Lenient(dict[str, Any]):
    """Leaves an unknown ``{name}`` as it is instead of raising ``KeyError``."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Translator:
    """The words and the date formats of one locale, for one page."""

    def __init__(self, locale: str, timezone: str = "Europe/Brussels") -> None:
        self.locale = locale if locale in LOCALES else DEFAULT_LOCALE
        self.zone = ZoneInfo(timezone)

    def __call__(self, key: str, **params: Any) -> str:
        """The sentence ``key`` with its ``{placeholders}`` filled in."""
        template = catalogue(self.locale).get(key)
        if template is None:
            MISSING.add((self.locale, key))
            template = catalogue(DEFAULT_LOCALE).get(key, key)
        if not params:
            return template
        template = choose_plurals(template, self.locale, params)
        return Formatter().vformat(template, (), _Lenient(params))

    def has(self, key: str) -> bool:
        """Whether the English catalogue knows ``key`` (every locale must then know it too)."""
        return key in catalogue(DEFAULT_LOCALE)

    def choice(self, prefix: str, value: str | None) -> str:
        """The label of a closed-list value (``status.requested``), or the value itself."""
        if value is None:
            return ""
        key = f"{prefix}.{value}"
        return self(key) if self.has(key) else value

    def number(self, value: float, digits: int = 1) -> str:
        """A decimal number as the locale writes it (``0,1`` in French and Dutch)."""
        return str(format_decimal(round(value, digits), locale=self.locale))

    def local(self, value: dt.datetime) -> dt.datetime:
        """An instant as wall-clock time of the service's zone."""
        return value.astimezone(self.zone)

    def date(self, value: dt.date | dt.datetime, width: str = "full") -> str:
        """A date written out the way readers of the locale expect."""
        if isinstance(value, dt.datetime):
            value = self.local(value).date()
        return str(format_date(value, format=width, locale=self.locale))

    def time(self, value: dt.datetime | dt.time) -> str:
        """A wall-clock time (24-hour in all three locales)."""
        if isinstance(value, dt.datetime):
            value = self.local(value).time()
        return str(format_time(value, format="HH:mm", locale=self.locale))

    def datetime(self, value: dt.datetime) -> str:
        """A date and time, medium length (``12 déc. 2026, 10:00``)."""
        return f"{self.date(value, 'medium')}, {self.time(value)}"


def choose_locale(
    cookies: Mapping[str, str], user_locale: str | None, accept_language: str | None
) -> str:
    """The page's locale: the switch on this browser, the user's, the browser's, English."""
    chosen = cookies.get(LANGUAGE_COOKIE)
    if chosen in LOCALES:
        return str(chosen)
    if user_locale in LOCALES:
        return str(user_locale)
    negotiated = negotiate_locale(accept_language)
    return negotiated if negotiated in LOCALES else DEFAULT_LOCALE
