"""A French- or Dutch-speaking dispatcher reads the plan and the candidates in their language.

The dispatcher signs in, picks fr or nl, runs a plan over the demo's week,
and reads the plan page and a booking's candidates: no sentence of the
English catalogues (the pages' words and the matcher's reasons) is left on
them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from booking.demo import DEMO_DOMAIN, DEMO_PASSWORD, next_monday
from booking.reasons import CATALOGUE as REASONS
from tests.api.web.browser.conftest import DESKTOP

pytestmark = pytest.mark.browser

LOCALES_DIR = Path(__file__).resolve().parents[4] / "src" / "api" / "web" / "locales"
PLACEHOLDER = re.compile(r"\{[^}]*\}")
SHORTEST = 14
"""Fragments shorter than this ("Score", "Email") may be the same word in every language."""


def _sentences(locale: str) -> list[str]:
    pages = json.loads((LOCALES_DIR / f"{locale}.json").read_text(encoding="utf-8"))
    return [*pages.values(), *REASONS[locale].values()]


def english_fragments(locale: str) -> set[str]:
    """Pieces of English sentences between placeholders that the locale never uses itself."""
    own = "\n".join(_sentences(locale))
    found = set()
    for sentence in _sentences("en"):
        for piece in PLACEHOLDER.split(sentence):
            piece = piece.strip(" .,;:()")
            if len(piece) >= SHORTEST and piece not in own:
                found.add(piece)
    return found


def _sign_in(page: Any, base: str, locale: str) -> None:
    page.goto(f"{base}/sign-in")
    page.get_by_label(re.compile("Email|E-mail|e-mail")).fill(f"dispatcher@{DEMO_DOMAIN}")
    page.get_by_label(re.compile("Password|Mot de passe|Wachtwoord")).fill(DEMO_PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_load_state()
    page.locator(f"form.language-switch button[value={locale}]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == locale


def _english_on(page: Any, fragments: set[str]) -> list[str]:
    text = page.inner_text("main")
    return sorted(piece for piece in fragments if piece in text)


@pytest.mark.parametrize("locale", ["fr", "nl"])
def test_the_plan_and_the_candidates_speak_the_dispatchers_language(
    server: str, chromium: Any, screenshot_dir: Path, locale: str
) -> None:
    fragments = english_fragments(locale)
    assert len(fragments) > 100  # the check has something to find
    context = chromium.new_context(viewport=DESKTOP, locale=locale)
    page = context.new_page()
    _sign_in(page, server, locale)
    first_day = next_monday(dt.datetime.now(ZoneInfo("Europe/Brussels")).date())
    page.goto(f"{server}/board?start={first_day.isoformat()}&days=5")
    page.locator("#plan-limit").fill("3")
    page.locator("#run-plan").click()
    page.wait_for_url(re.compile(r"/board/plans/\d+$"), timeout=60_000)
    # A solver takes the plan; the page follows it until the proposals are there.
    page.locator("#apply-form").wait_for(timeout=60_000)
    page.screenshot(path=str(screenshot_dir / f"20-plan-{locale}.png"), full_page=True)

    assert page.locator(".proposal-explanation").count() > 0
    assert _english_on(page, fragments) == []
    assert "(en anglais)" not in page.inner_text("main")
    assert "(s)" not in page.inner_text("main")

    # A session left unfilled: its candidates and why each cannot take it.
    unfilled = page.locator(".cards .card-title a").first
    target = unfilled if unfilled.count() else page.locator("#apply-form tbody a").first
    target.click()
    page.wait_for_load_state()
    assert page.locator(".proposal-explanation").count() > 0
    page.screenshot(path=str(screenshot_dir / f"21-candidates-{locale}.png"), full_page=True)
    assert _english_on(page, fragments) == []
    context.close()
