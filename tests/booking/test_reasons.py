"""Every reason the matcher can give is written out in fr, nl and en, with no English left."""

from __future__ import annotations

import re

import pytest

from booking.reasons import CATALOGUE, LOCALES, Reasons, choose_plurals, stored_explanation
from matching.why import ALL_CODES, ENGLISH, Why, english

ENGLISH_MARKERS = re.compile(
    r"\b(the|and|not|nobody|provider|providers|session|sessions|drive|would|their|"
    r"limit|available|speaks|takes|from|home|with|travel|other|none|fits?)\b"
)
"""Words that give an English sentence away; none of them is French or Dutch."""

WHEN = "2026-12-07T10:00:00+01:00"
SAMPLE: dict[str, str | int | float | bool] = {
    "provider": "p-1",
    "providers": "p-1,p-2,p-3",
    "session": "b-2",
    "previous": "b-1",
    "from": "b-1",
    "to": "",
    "pinned_to": "p-2",
    "language": "tir",
    "country": "FR",
    "kind": "ambassador",
    "wanted": "interpreter",
    "modality": "video",
    "gender": "f",
    "skills": "trauma",
    "count": 2,
    "more": 4,
    "sessions": 3,
    "minutes": 95,
    "limit": 480,
    "home_minutes": 40,
    "certified": True,
    "preferred": True,
    "when": WHEN,
    "start": WHEN,
    "end": "2026-12-07T11:00:00+01:00",
    "from_end": "2026-12-07T09:00:00+01:00",
    "to_start": "",
    "text": "a detail read from a plan file",
    "pairs": "b-1>p-1,b-2>p-2",
}
NAMES = {
    "p-1": "Nadia Haddad",
    "p-2": "Awet Tesfay",
    "p-3": "Lina Maes",
    "b-1": "TR-1",
    "b-2": "TR-2",
}


def sample(code: str) -> Why:
    return Why(code, {name: SAMPLE[name] for name in ALL_CODES[code]})


def test_every_code_has_words_in_every_locale_and_in_the_command_line() -> None:
    for locale in LOCALES:
        missing = sorted(set(ALL_CODES) - set(CATALOGUE[locale]))
        assert not missing, (locale, missing)
    assert not sorted(set(ALL_CODES) - set(ENGLISH))


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("code", sorted(ALL_CODES))
def test_each_code_is_written_out_whole(locale: str, code: str) -> None:
    reasons = Reasons(locale, names=NAMES, languages={"tir": "Tigrinya"})
    text = reasons.why(sample(code))
    assert text and "{" not in text and "|" not in text, text
    assert "p-1" not in text and "b-2" not in text  # names, not ids
    assert "(s)" not in text and "(en)" not in text
    if locale != "en" and code != "text":
        assert not ENGLISH_MARKERS.search(text.lower()), text


@pytest.mark.parametrize("locale", ["fr", "nl"])
def test_french_and_dutch_use_no_english_word_for_a_whole_explanation(locale: str) -> None:
    reasons = Reasons(locale, names=NAMES)
    parts = [
        sample("takes"),
        sample("drive_from_previous"),
        sample("preferred"),
        sample("continuity"),
        sample("day_load"),
        sample("others_could"),
    ]
    text = reasons.explanation(parts)
    assert not ENGLISH_MARKERS.search(text.lower()), text
    refusal = Why("none_fits", {"language": "tir"}, sample("certification"))
    assert not ENGLISH_MARKERS.search(
        reasons.explanation([sample("no_eligible_provider"), refusal])
    )


def test_counts_pick_their_words_by_the_locales_plural_rule() -> None:
    def day(locale: str, sessions: int) -> str:
        return Reasons(locale).why(
            Why("day_load", {"sessions": sessions, "minutes": 60, "limit": 480})
        )

    assert day("en", 1).startswith("their day: 1 session, 1 hr of 8 hr")
    assert day("en", 2).startswith("their day: 2 sessions")
    # CLDR's units keep the number and its unit together (no-break spaces).
    assert day("fr", 1).startswith("sa journée\u202f: 1 séance, 1\u202fh sur 8\u202fh")
    assert day("fr", 0).startswith("sa journée\u202f: 0 séance,")  # French: 0 is singular
    assert day("fr", 3).startswith("sa journée\u202f: 3 séances")
    assert day("nl", 1).startswith("de dag: 1 sessie,")
    assert day("nl", 0).startswith("de dag: 0 sessies,")  # Dutch: 0 is plural
    assert choose_plurals("{n} {n|item|items}", "en", {"n": 1}) == "{n} item"


def test_times_dates_durations_and_names_follow_the_locale() -> None:
    takes = sample("takes")
    assert "lundi 7 décembre à 10:00" in Reasons("fr").why(takes)
    assert "maandag 7 december om 10:00" in Reasons("nl").why(takes)
    assert "Monday 7 December at 10:00" in Reasons("en").why(takes)
    assert Reasons("fr").duration(95) == "1\u202fh 35\xa0min"
    assert Reasons("nl").country("FR") == "Frankrijk" and Reasons("fr").country("BE") == "Belgique"
    # The project's catalogue names the language; CLDR does when the catalogue does not.
    assert Reasons("fr", languages={"tir": "tigrigna"}).language("tir") == "tigrigna"
    assert Reasons("nl").language("ar") == "Arabisch"


def test_a_stored_explanation_is_written_in_the_readers_language() -> None:
    data = {
        "sentence": "p-1 is not available at that time",
        "why": {"code": "availability", "params": {"provider": "p-1"}},
        "names": {"p-1": "Nadia Haddad"},
    }
    assert stored_explanation(data, "nl") == "Nadia Haddad is op dat moment niet beschikbaar"
    older = {"sentence": "Nadia Haddad can take it"}
    assert stored_explanation(older, "fr") == "Nadia Haddad can take it"
    assert stored_explanation(None, "fr") == ""


def test_a_plan_warning_names_the_held_work_and_the_rule_it_breaks() -> None:
    cause = Why("travel_range", {"provider": "p-1", "minutes": 168, "limit": 120})
    warning = Why("pins_dropped", {"pairs": "b-2>p-1"}, cause)
    assert Reasons("fr", names=NAMES).why(warning) == (
        "TR-2 → Nadia Haddad, du travail déjà attribué qui ne peut pas être gardé tel "
        "quel\u202f: Nadia Haddad habite à 2\u202fh 48\xa0min de route, au-delà de sa limite "
        "de 2\u202fh"
    )
    assert english(warning) == (
        "these pinned assignments cannot all be kept: b-2 -> p-1: "
        "p-1 lives 168 min away, beyond their 120 min limit"
    )
