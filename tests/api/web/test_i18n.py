"""Complete catalogues, no untranslated text in the templates, the language chosen well."""

from __future__ import annotations

import re
from pathlib import Path
from string import Formatter

import pytest
from jinja2 import Environment

from api.web.board import DONE_MESSAGES as BOARD_DONE
from api.web.i18n import LOCALES, MISSING, Translator, catalogue, choose_locale
from api.web.link import DONE_MESSAGES as LINK_DONE
from api.web.schedule import DONE_MESSAGES as SCHEDULE_DONE
from booking.assignments.offers import UNANSWERED_REASON
from booking.vocabulary import (
    MANUAL_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    AvailabilityExceptionKind,
    BookingStatus,
    Gender,
    MessageChannels,
    Modality,
    PlanStatus,
    ProviderKindRequirement,
    SessionKind,
    UserRole,
)
from matching.problem import RULE_OF_CODE, UNASSIGNED_REASONS

WEB = Path(__file__).resolve().parents[3] / "src" / "api" / "web"
TEMPLATES = sorted((WEB / "templates").glob("*.html"))
KEY = r"[a-z_]+(?:\.[a-z0-9_]+)+"


SAME_WORDS = frozenset(
    {
        # The names of the languages are written in their own language everywhere.
        "language_name.fr",
        "language_name.nl",
        "language_name.en",
        # Words French or Dutch share with English.
        "availability.kind_absence",
        "board.organisation",
        "field.date",
        "field.status",
        "form.pages",
        "gender.m",
        "plan.batch_link",
        "plan.score",
        "plan.seconds",
        "plan.service",
        "plan.title",
        # A region's own name.
        "region.Hauts-de-France",
    }
)


def _placeholders(text: str) -> set[str]:
    """The parameters a sentence uses; a plural slot `{count|one|other}` uses `count`."""
    return {name.split("|")[0] for _, name, _, _ in Formatter().parse(text) if name}


@pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != "en"])
def test_every_locale_has_exactly_the_english_keys(locale: str) -> None:
    english, other = catalogue("en"), catalogue(locale)
    assert sorted(set(english) - set(other)) == [], "missing"
    assert sorted(set(other) - set(english)) == [], "unknown"


@pytest.mark.parametrize("locale", LOCALES)
def test_no_sentence_is_empty_and_placeholders_match_english(locale: str) -> None:
    english = catalogue("en")
    for key, text in catalogue(locale).items():
        assert text.strip(), key
        assert _placeholders(text) == _placeholders(english[key]), key


def test_french_and_dutch_are_translations_not_copies() -> None:
    english = catalogue("en")
    for locale in ("fr", "nl"):
        same = [k for k, v in catalogue(locale).items() if v == english[k]]
        assert set(same) <= SAME_WORDS, sorted(set(same) - SAME_WORDS)


def _literal_keys() -> set[str]:
    """Keys named literally in the templates and the page modules (``t("nav.book")``)."""
    found: set[str] = set()
    call = re.compile(r"""\bt\(\s*["'](""" + KEY + r""")["']""")
    quoted = re.compile(
        r"""["']((?:error|problem|board|schedule|availability|booking)\.[a-z0-9_.]+)["']"""
    )
    for path in [*TEMPLATES, *WEB.glob("*.py")]:
        text = path.read_text("utf-8")
        found |= set(call.findall(text))
        found |= {k for k in quoted.findall(text) if not k.endswith((".", ".html"))}
    return found


def test_every_key_the_pages_name_is_in_the_catalogue() -> None:
    known = set(catalogue("en"))
    # A prefix completed at runtime ("board.done" + "." + code) is checked by the next test.
    prefixes = {
        k
        for k in _literal_keys()
        if k.endswith("_") or any(other.startswith(k + ".") for other in known)
    }
    keys = _literal_keys() - prefixes
    assert len(keys) > 150
    assert sorted(keys - known) == []


def test_every_value_of_the_closed_lists_has_a_label() -> None:
    wanted = {f"status.{s}" for s in (*BookingStatus, *AssignmentStatus, *PlanStatus)}
    wanted |= {f"session_kind.{k}" for k in SessionKind}
    wanted |= {f"modality.{m}" for m in Modality}
    wanted |= {f"provider_kind.{k}" for k in ProviderKindRequirement}
    wanted |= {f"gender.{g}" for g in Gender}
    wanted |= {f"role.{r}" for r in UserRole}
    wanted |= {f"urgency.{u}" for u in ("normal", "high", "urgent")}
    wanted |= {f"weekday.{d}" for d in range(7)}
    wanted |= {f"language_name.{loc}" for loc in LOCALES}
    wanted |= {f"reason.{r}" for r in (*UNASSIGNED_REASONS, UNANSWERED_REASON)}
    wanted |= {f"reason_short.{r}" for r in (*UNASSIGNED_REASONS, UNANSWERED_REASON)}
    # Every rule code but those only a plan file can break (a page never builds one).
    plan_file_only = {"unknown_session", "unknown_provider", "missing", "duplicate", "no_offset"}
    codes = set(RULE_OF_CODE) - plan_file_only
    wanted |= {f"rule.{code}" for code in (*codes, "weekly_minutes", "other")}
    wanted |= {f"board.assign_status.{s}" for s in MANUAL_ASSIGNMENT_STATUSES}
    wanted |= {f"board.done.{d}" for d in BOARD_DONE}
    wanted |= {f"schedule.done.{d}" for d in SCHEDULE_DONE}
    wanted |= {f"availability.kind_{k}" for k in AvailabilityExceptionKind}
    wanted |= {f"contact.channels_{c}" for c in MessageChannels}
    wanted |= {f"schedule.done.{d}" for d in LINK_DONE}
    assert sorted(wanted - set(catalogue("en"))) == []


def _text_outside_tags(source: str) -> str:
    """The literal text of a template: outside Jinja blocks, HTML tags and entities."""
    data = "".join(value for _, kind, value in Environment().lex(source) if kind == "data")
    data = re.sub(r"<!--.*?-->", " ", data, flags=re.S)
    data = re.sub(r"<[^>]*>", " ", data)
    # Attributes a macro writes into a tag opened elsewhere (aria-invalid="true").
    data = re.sub(r'[\w:-]+="[^"<>{}]*"?', " ", data)
    return re.sub(r"&[a-z]+;", " ", data)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_templates_hold_no_literal_words(path: Path) -> None:
    """Every word a person reads comes from the catalogues (the brand name aside)."""
    text = _text_outside_tags(path.read_text("utf-8"))
    words = set(re.findall(r"[^\W\d_]{2,}", text)) - {"Truchement"}
    assert words == set()


def test_templates_put_no_literal_words_in_attributes_people_read() -> None:
    readable = re.compile(r"""\b(?:aria-label|title|placeholder|alt)="([^"{]*)\"""")
    for path in TEMPLATES:
        for value in readable.findall(path.read_text("utf-8")):
            assert not re.search(r"[^\W\d_]{2,}", value), (path.name, value)


def test_a_missing_key_falls_back_to_english_and_is_remembered() -> None:
    t = Translator("nl")
    assert t("no.such.key") == "no.such.key"
    assert ("nl", "no.such.key") in MISSING
    MISSING.clear()


def test_placeholders_are_filled_and_unknown_ones_left_alone() -> None:
    t = Translator("fr")
    assert t("booking.title", reference="TR-7K4Q-X2M9") == "Réservation TR-7K4Q-X2M9"
    assert "{reference}" in t("booking.title")


def test_the_switch_beats_the_user_locale_which_beats_the_browser() -> None:
    assert choose_locale({"truchement_lang": "nl"}, "fr", "en-GB") == "nl"
    assert choose_locale({}, "fr", "nl-BE,nl;q=0.9") == "fr"
    assert choose_locale({}, None, "nl-BE,nl;q=0.9,en;q=0.5") == "nl"
    assert choose_locale({"truchement_lang": "de"}, None, "de-DE") == "en"
    assert choose_locale({}, None, ";;;q=x,,*") == "en"


def test_dates_are_written_the_locale_s_way() -> None:
    import datetime as dt

    day = dt.date(2026, 12, 1)
    assert Translator("fr").date(day) == "mardi 1 décembre 2026"
    assert Translator("nl").date(day) == "dinsdag 1 december 2026"
    assert Translator("en").date(day) == "Tuesday, December 1, 2026"
    instant = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
    assert Translator("en").time(instant) == "10:30"
