"""The whole story in a real browser, with a screenshot of every page.

A social worker books a session through the form (after a refused input
shown next to its field), a dispatcher runs a plan and applies it as
offers, the interpreter accepts. Each page is also checked at phone width.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from booking.demo import DEMO_DOMAIN, DEMO_PASSWORD, next_monday
from tests.api.web.browser.conftest import DESKTOP, PHONE, copy_for_readme

pytestmark = pytest.mark.browser

BRUSSELS = ZoneInfo("Europe/Brussels")


class Shots:
    """Names and saves screenshots, at desktop and phone width."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def take(self, page: Any, name: str) -> Path:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def both(self, page: Any, name: str) -> Path:
        """Desktop, then the same page at 390 px wide, then back to desktop."""
        desktop = self.take(page, name)
        page.set_viewport_size(PHONE)
        self.take(page, f"{name}-phone")
        page.set_viewport_size(DESKTOP)
        return desktop


def _sign_in(page: Any, base: str, role: str) -> None:
    page.goto(f"{base}/sign-in")
    page.get_by_label(re.compile("Email|E-mail|e-mail")).fill(f"{role}@{DEMO_DOMAIN}")
    page.get_by_label(re.compile("Password|Mot de passe|Wachtwoord")).fill(DEMO_PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_load_state()
    # The demo users read French or English; the screenshots are in English.
    page.locator("form.language-switch button[value=en]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"


def _sign_out(page: Any) -> None:
    page.locator("form.sign-out button").click()
    page.wait_for_url(re.compile(r"/sign-in$"))


def _no_horizontal_scroll(page: Any) -> None:
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size(DESKTOP)
    assert width <= PHONE["width"], f"the page is {width} px wide on a phone"


def test_book_plan_apply_accept(server: str, chromium: Any, screenshot_dir: Path) -> None:
    shots = Shots(screenshot_dir)
    context = chromium.new_context(viewport=DESKTOP, locale="en-GB")
    page = context.new_page()
    first_day = next_monday(dt.datetime.now(BRUSSELS).date())
    session_day = first_day + dt.timedelta(days=1)

    # Sign in, as a social worker.
    page.goto(f"{server}/book")
    assert "/sign-in?next=/book" in page.url
    shots.both(page, "01-sign-in")
    _sign_in(page, server, "requester")

    # Book an interpreter: a refused input first, shown next to its field.
    page.goto(f"{server}/book")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    copy_for_readme(shots.both(page, "02-book-form"), "booking-form.png")
    _no_horizontal_scroll(page)
    page.get_by_label("Language", exact=True).fill("Tigrinya (tir)")
    page.get_by_label("Kind of session").select_option("psychological")
    page.get_by_label("On site").check()
    page.get_by_label("Place").select_option(index=1)
    page.get_by_label("Date").fill(session_day.isoformat())
    page.get_by_label("Start time").fill("10:00")
    page.get_by_label("Duration in minutes").fill("60")
    page.get_by_label("Beneficiary reference").fill("Jean Dupont")
    page.get_by_label("Notes for the dispatcher").fill("Ask for Ms Martin at the desk.")
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_load_state()
    error = page.locator("#f-beneficiary_ref-error")
    assert "never a name" in error.inner_text()
    assert page.get_by_label("Beneficiary reference").get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.get_by_label("Notes for the dispatcher").input_value() == (
        "Ask for Ms Martin at the desk."
    )
    shots.both(page, "03-book-form-error")

    page.get_by_label("Beneficiary reference").fill("b-web-0001")
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url(re.compile(r"/bookings/\d+\?created=1$"))
    confirmation = page.locator("#confirmation").inner_text()
    reference = page.locator("#reference").inner_text().strip()
    assert re.fullmatch(r"TR-[0-9A-Z]{4}-[0-9A-Z]{4}", reference)
    assert reference in confirmation and "Requested" in confirmation
    shots.both(page, "04-booking-confirmation")

    page.goto(f"{server}/bookings")
    assert reference in page.inner_text("main")
    shots.both(page, "05-my-bookings")
    _sign_out(page)

    # The dispatcher runs a plan over the week, with a progress indicator while it solves.
    _sign_in(page, server, "dispatcher")
    page.goto(f"{server}/board?start={first_day.isoformat()}&days=5")
    assert reference in page.inner_text("main")
    copy_for_readme(shots.both(page, "06-board"), "board.png")
    page.get_by_label("First day").fill(first_day.isoformat())
    page.get_by_label("Number of days").fill("5")
    # The page's own script shows the progress and marks the button unavailable
    # on submit (it keeps the focus); a listener added after it writes what it
    # saw to sessionStorage, which outlives the navigation to the finished plan.
    page.evaluate(
        """document.getElementById('plan-form').addEventListener('submit', () =>
            setTimeout(() => sessionStorage.setItem('solving', JSON.stringify({
                shown: !document.querySelector('#plan-progress [data-progress-shown]').hidden,
                unavailable: document.getElementById('run-plan').getAttribute('aria-disabled'),
                focused: document.activeElement.id,
            })), 0))"""
    )
    page.get_by_role("button", name="Run the plan").click()
    page.wait_for_url(re.compile(r"/board/plans/\d+$"), timeout=60_000)
    solving = page.evaluate("JSON.parse(sessionStorage.getItem('solving'))")
    assert solving == {"shown": True, "unavailable": "true", "focused": "run-plan"}
    # The plan is queued for the server's solver thread: its page reloads until it ends.
    page.locator("#apply-form").wait_for(timeout=60_000)
    proposals = page.locator("#apply-form tbody tr")
    assert proposals.count() > 0
    assert page.locator(".proposal-explanation").first.inner_text()
    shots.both(page, "07-plan")

    page.get_by_label("Offers: each provider accepts or declines").check()
    page.locator("#apply-all").click()
    page.wait_for_url(re.compile(r"applied=\d+"))
    result = page.locator("#apply-result").inner_text()
    applied = int(re.search(r"(\d+) proposal", result).group(1))  # type: ignore[union-attr]
    assert applied > 0
    shots.take(page, "08-plan-applied")

    page.goto(f"{server}/board/day?date={session_day.isoformat()}")
    shots.both(page, "09-day-view")
    page.goto(f"{server}/board?start={first_day.isoformat()}&days=5&status=requested")
    booking_links = page.locator("tbody th a")
    if booking_links.count():
        booking_links.first.click()
        page.wait_for_load_state()
        assert page.locator("#candidates-title").is_visible()
        shots.both(page, "10-candidates")
    _sign_out(page)

    # The interpreter accepts an offer on their phone.
    phone = chromium.new_context(viewport=PHONE, locale="en-GB", has_touch=True)
    mobile = phone.new_page()
    _sign_in(mobile, server, "provider")
    mobile.goto(f"{server}/schedule")
    offers = mobile.locator("li.offer")
    assert offers.count() > 0, "the plan offered nothing to the demo interpreter"
    shots.take(mobile, "11-schedule-offers-phone")
    offers.first.get_by_role("button", name=re.compile("^Accept")).click()
    mobile.wait_for_url(re.compile(r"done=accepted"))
    assert "You accepted the offer" in mobile.locator("#done").inner_text()
    shots.take(mobile, "12-schedule-accepted-phone")
    mobile.goto(f"{server}/schedule/availability")
    shots.take(mobile, "13-availability-phone")
    phone.close()

    # The dispatcher sees the acceptance and confirms it.
    _sign_in(page, server, "dispatcher")
    page.goto(f"{server}/board?start={first_day.isoformat()}&days=5&status=proposed")
    assert "(Accepted)" in page.inner_text("main")
    context.close()


def test_the_pages_read_in_french_and_dutch(
    server: str, chromium: Any, screenshot_dir: Path
) -> None:
    shots = Shots(screenshot_dir)
    context = chromium.new_context(viewport=DESKTOP, locale="nl-BE")
    page = context.new_page()
    page.goto(f"{server}/sign-in")
    assert page.locator("html").get_attribute("lang") == "nl"
    assert page.locator("h1").inner_text() == "Aanmelden"
    page.locator("form.language-switch button[value=fr]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("h1").inner_text() == "Connexion"
    shots.take(page, "14-sign-in-fr")
    context.close()
