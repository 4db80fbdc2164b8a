"""WCAG 2.1 AA in a real browser: every page of the story, in French and in Dutch.

The story of ``test_story`` (book, plan, apply, accept) is played once on a
server of its own, in French; each page it reaches (and each refused form) is
checked in French and in Dutch, at desktop width and at 320 px: axe-core finds
no WCAG 2.1 A/AA violation, the page does not scroll sideways, and Tab never
lands on a control nobody can see.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from api.web.i18n import catalogue
from booking.demo import DEMO_DOMAIN, DEMO_PASSWORD, next_monday
from tests.api.web.browser.a11y import (
    NARROW,
    axe_violations,
    invisible_focus_stops,
    sideways_scroll,
    with_axe,
)
from tests.api.web.browser.conftest import DESKTOP, demo_server

pytestmark = pytest.mark.browser

BRUSSELS = ZoneInfo("Europe/Brussels")
LOCALES = ("fr", "nl")


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server of this module's own: the story below changes the demo data."""
    yield from demo_server(tmp_path_factory, "a11y")


class Audit:
    """Checks pages and keeps every problem, so one run shows them all."""

    def __init__(self, folder: Path) -> None:
        self.problems: list[str] = []
        self.checked: list[str] = []
        self.folder = folder

    def check(self, page: Any, name: str) -> None:
        """axe-core, sideways scrolling and the focus trail, at desktop width and at 320 px."""
        name = f"{name} [{page.locator('html').get_attribute('lang')}]"
        self.checked.append(name)
        for label, viewport in (("desktop", DESKTOP), ("320 px", NARROW)):
            page.set_viewport_size(viewport)
            where = f"{name} at {label}"
            self.problems += [f"{where}: {v}" for v in axe_violations(page)]
            self.problems += [f"{where}: {s}" for s in invisible_focus_stops(page)]
        extra = sideways_scroll(page, NARROW)
        if extra:
            page.screenshot(path=str(self.folder / f"a11y-scroll-{len(self.checked)}.png"))
            self.problems.append(f"{name}: scrolls sideways by {extra} px at 320 px")
        page.set_viewport_size(DESKTOP)

    def check_in_both(self, page: Any, name: str) -> None:
        """The same page (a GET) in French, then in Dutch, then back in French."""
        for locale in LOCALES:
            switch_language(page, locale)
            self.check(page, name)
        switch_language(page, LOCALES[0])


def switch_language(page: Any, locale: str) -> None:
    if page.locator("html").get_attribute("lang") != locale:
        page.locator(f"form.language-switch button[value={locale}]").click()
        page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == locale


def sign_in(page: Any, base: str, role: str, *, password: str = DEMO_PASSWORD) -> None:
    page.locator("#email").fill(f"{role}@{DEMO_DOMAIN}")
    page.locator("#password").fill(password)
    page.locator("main button[type=submit]").click()
    page.wait_for_load_state()


def sign_out(page: Any) -> None:
    page.locator("form.sign-out button").click()
    page.wait_for_url(re.compile(r"/sign-in$"))


def test_every_page_of_the_story_meets_wcag_21_aa_in_french_and_dutch(
    own_server: str, chromium: Any, screenshot_dir: Path
) -> None:
    base = own_server
    audit = Audit(screenshot_dir)
    first_day = next_monday(dt.datetime.now(BRUSSELS).date())
    session_day = first_day + dt.timedelta(days=1)
    context = with_axe(chromium.new_context(viewport=DESKTOP, locale="fr-BE"))
    page = context.new_page()

    # Signing in: the page, then a refused password, in each language.
    for locale in LOCALES:
        page.goto(f"{base}/sign-in")
        switch_language(page, locale)
        audit.check(page, "sign-in")
        sign_in(page, base, "requester", password="not the password")
        assert page.locator("#sign-in-error").is_visible()
        # Focus goes to the message, so it is read (it was in the page before the focus was).
        assert page.evaluate("document.activeElement.id") == "sign-in-error"
        audit.check(page, "sign-in refused")
    switch_language(page, "fr")
    sign_in(page, base, "requester")

    # The booking form, empty and refused, in each language; then a booking.
    for locale in LOCALES:
        page.goto(f"{base}/book")
        switch_language(page, locale)
        audit.check(page, "booking form")
        page.locator("#f-language").fill("Klingon")
        page.locator("#f-duration").fill("5")
        page.locator("main form button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("#error-summary").is_visible()
        audit.check(page, "booking form refused")
    page.goto(f"{base}/book")
    switch_language(page, "fr")
    # Several people to avoid, by keyboard, as the hint says: Ctrl+arrows, Ctrl+Space.
    page.locator("#f-avoid").focus()
    for key in ("ArrowDown", "Control+ArrowDown", "Control+ArrowDown", "Control+Space"):
        page.keyboard.press(key)
    picked = "[...document.getElementById('f-avoid').selectedOptions].map((o) => o.index)"
    assert page.evaluate(picked) == [0, 2]
    assert "Ctrl+Espace" in page.locator("#f-avoid-hint").inner_text()
    page.locator("#f-language").fill("tir")
    page.locator("#f-session_kind").select_option("psychological")
    page.locator("#f-site").select_option(index=1)
    page.locator("#f-date").fill(session_day.isoformat())
    page.locator("#f-time").fill("10:00")
    page.locator("#f-beneficiary_ref").fill("b-a11y-0001")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/bookings/\d+\?created=1$"))
    audit.check_in_both(page, "booking confirmation")
    page.goto(f"{base}/bookings")
    audit.check_in_both(page, "my bookings")
    sign_out(page)

    # The dispatcher: the board, a plan, the plan applied, the day view, candidates.
    sign_in(page, base, "dispatcher")
    page.goto(f"{base}/board?start={first_day.isoformat()}&days=5")
    audit.check_in_both(page, "board")
    page.locator("#plan-start").fill(first_day.isoformat())
    page.locator("#plan-days").fill("5")
    page.locator("#plan-limit").fill("3")
    page.locator("#run-plan").click()
    page.wait_for_url(re.compile(r"/board/plans/\d+$"), timeout=60_000)
    # The plan is queued for the server's solver thread; its page follows the solve and
    # opens the finished plan by itself (web.js), so it is audited once it has ended.
    page.locator("#apply-form").wait_for(timeout=60_000)
    assert page.locator("#apply-form tbody tr").count() > 0
    audit.check_in_both(page, "plan")
    page.locator("#mode-offer").check()
    page.locator("#apply-all").click()
    page.wait_for_url(re.compile(r"applied=\d+"))
    assert page.evaluate("document.activeElement.id") == "apply-result"
    audit.check_in_both(page, "plan applied")
    page.goto(f"{base}/board/day?date={session_day.isoformat()}")
    audit.check_in_both(page, "day view")
    page.goto(f"{base}/board?start={first_day.isoformat()}&days=5&status=unfilled")
    page.locator("tbody th a").first.click()
    page.wait_for_load_state()
    assert page.locator("#candidates-title").is_visible()
    audit.check_in_both(page, "candidates")
    sign_out(page)

    # The interpreter: offers, one accepted, availability.
    sign_in(page, base, "provider")
    page.goto(f"{base}/schedule")
    assert page.locator("li.offer").count() > 0, "the plan offered nothing to the demo interpreter"
    audit.check_in_both(page, "schedule with offers")
    page.locator("li.offer button[data-answer=accept]").first.click()
    page.wait_for_url(re.compile(r"done=accepted"))
    audit.check_in_both(page, "schedule, offer accepted")
    page.goto(f"{base}/schedule/availability")
    audit.check_in_both(page, "availability")
    context.close()

    assert len(audit.checked) == 28, audit.checked
    assert not audit.problems, "\n".join(audit.problems)


def test_plan_progress_is_announced_at_the_start_milestones_and_end_and_keeps_the_focus(
    own_server: str, chromium: Any
) -> None:
    """The live region speaks five times in the time limit, not once a second; the button
    keeps the focus."""
    context = chromium.new_context(viewport=DESKTOP, locale="en-GB")
    page = context.new_page()
    page.clock.install()
    page.goto(f"{own_server}/sign-in")
    sign_in(page, own_server, "dispatcher")
    switch_language(page, "en")
    page.goto(f"{own_server}/board")
    # The plan never comes back, as if solving took the whole time limit and more: a
    # listener after the page's own keeps each submit from leaving, and notes whether
    # the page's script had already stopped it.
    page.evaluate(
        """() => {
          window.submits = [];
          document.getElementById("plan-form").addEventListener("submit", (event) => {
            window.submits.push(event.defaultPrevented ? "stopped" : "sent");
            event.preventDefault();
          });
          window.heard = [];
          const live = document.querySelector("#plan-progress [role=status]");
          new MutationObserver(() => window.heard.push(live.textContent))
            .observe(live, {childList: true, characterData: true, subtree: true});
        }"""
    )
    total = int(page.locator("#plan-limit").get_attribute("max") or 0)
    assert total >= 8, "the milestones below need a limit of 8 seconds or more"
    page.locator("#run-plan").focus()
    page.keyboard.press("Enter")
    shown: list[str] = []
    for _ in range(total + 5):
        page.clock.run_for(1000)
        shown.append(page.locator("#plan-progress-text").inner_text())
    page.keyboard.press("Enter")  # impatient: the button says it is unavailable
    page.clock.run_for(1000)

    assert page.evaluate("document.activeElement.id") == "run-plan"
    button = page.locator("#run-plan")
    assert button.get_attribute("aria-disabled") == "true"
    assert button.get_attribute("aria-describedby") == "plan-progress-text"
    assert page.evaluate("window.submits") == ["sent", "stopped"]
    english = catalogue("en")
    steps = [math.ceil(total * share / 100) for share in (25, 50, 75)]
    assert page.evaluate("window.heard") == [
        english["board.progress_started"].format(total=total),
        *(english["board.progress_step"].format(done=done, total=total) for done in steps),
        english["board.progress_finished"],
    ]
    # What the eye sees follows every second, up to the limit.
    assert shown[0] == english["board.progress_text"].format(done=1, total=total)
    assert shown[-1] == english["board.progress_text"].format(done=total, total=total)
    assert len(set(shown)) == total
    bar = page.locator("#plan-progress progress")
    assert bar.evaluate("(bar) => [bar.value, bar.max]") == [total, total]
    context.close()
