"""Every page renders in fr, nl and en: the right language, accessible landmarks, no fallback."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from api.web.i18n import LOCALES, catalogue
from booking.models import Booking, Plan, User
from tests.api.web.conftest import Browser
from tests.booking.dispatch_world import World, at
from tests.factories import make_assignment, make_plan


@dataclass
class Scene:
    """One of everything a page can show, for one world."""

    world: World
    provider_user: User
    booking: Booking
    plan: Plan


@pytest.fixture
def scene(db: Session, world: World) -> Scene:
    provider = world.provider(db, name="Yonas Tesfaye")
    booking = world.booking(db, hour=10)
    held = world.booking(db, hour=14)
    plan = make_plan(db, created_by=world.dispatcher, status="done")
    offer = make_assignment(
        db, booking=booking, provider=provider, status="offered", created_by=world.dispatcher
    )
    make_assignment(
        db, booking=held, provider=provider, status="confirmed", created_by=world.dispatcher
    )
    plan.result = {
        "proposals": [
            {
                "assignment_id": offer.id,
                "booking_id": booking.id,
                "booking_reference": booking.reference,
                "provider_id": provider.id,
                "provider_name": provider.display_name,
                "starts_at": booking.starts_at.isoformat(),
                "ends_at": booking.ends_at.isoformat(),
                "explanation": "Yonas Tesfaye takes it.",
            }
        ],
        "unassigned": [
            {
                "booking_id": held.id,
                "booking_reference": held.reference,
                "reason": "no_availability",
                "detail": "",
                "explanation": "Nobody is available.",
                "offers_pending": False,
            }
        ],
    }
    db.flush()
    return Scene(world, world.login(db, provider), booking, plan)


def _pages(scene: Scene) -> list[tuple[User | None, str, str]]:
    """(who, path, key of the page's main heading)."""
    w = scene.world
    return [
        (None, "/sign-in", "sign_in.title"),
        (w.requester, "/book", "book.title"),
        (w.requester, "/bookings", "bookings.title"),
        (w.requester, f"/bookings/{scene.booking.id}", "booking.title"),
        (w.requester, "/bookings/999999", "error.page_title"),
        (w.requester, "/board", "error.page_title"),
        (w.dispatcher, f"/board?start={w.day.isoformat()}", "board.title"),
        (w.dispatcher, f"/board/plans/{scene.plan.id}", "plan.title"),
        (w.dispatcher, f"/board/bookings/{scene.booking.id}", "booking.title"),
        (w.dispatcher, f"/board/day?date={w.day.isoformat()}", "day.title"),
        (scene.provider_user, "/schedule", "schedule.title"),
        (scene.provider_user, "/schedule/availability", "availability.title"),
    ]


def _heading(html: str) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert found is not None
    return re.sub(r"<[^>]+>|\s+", " ", found.group(1)).strip()


@pytest.mark.parametrize("locale", LOCALES)
def test_every_page_renders_in_each_language(browser: Browser, scene: Scene, locale: str) -> None:
    browser.language(locale)
    english = catalogue("en")
    for user, path, heading in _pages(scene):
        browser.client.cookies.clear()
        browser.language(locale)
        if user is not None:
            browser.sign_in(user)
        response = browser.get(path)
        assert response.status_code in (200, 403, 404), (path, response.status_code)
        html = response.text
        assert f'<html lang="{locale}">' in html, path
        assert response.headers["content-language"] == locale
        expected = catalogue(locale)[heading].split("{")[0].strip()
        assert _heading(html).startswith(expected), (path, _heading(html))
        assert 'href="#main"' in html and '<main id="main"' in html, path
        if locale != "en":
            # No long English sentence left over where this language has its own.
            text = re.sub(r'<[^>]*lang="en"[^>]*>.*?</[a-z]+>', "", html, flags=re.S)
            for key, sentence in english.items():
                if len(sentence) > 24 and sentence != catalogue(locale)[key]:
                    assert sentence not in text, (path, key)


def test_every_input_has_a_label(browser: Browser, scene: Scene) -> None:
    for user, path, _ in _pages(scene):
        browser.client.cookies.clear()
        if user is not None:
            browser.sign_in(user)
        html = browser.get(path).text
        labelled = set(re.findall(r'<label[^>]*for="([^"]+)"', html))
        labelled |= set(re.findall(r'aria-label="[^"]+"[^>]*id="([^"]+)"', html))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if re.search(r'type="(hidden|submit)"', tag):
                continue
            if "aria-label=" in tag:
                continue
            found = re.search(r'id="([^"]+)"', tag)
            assert found is not None and found.group(1) in labelled, (path, tag)


def test_pages_refuse_framing_and_inline_script(browser: Browser, scene: Scene) -> None:
    response = browser.get("/sign-in")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["cache-control"] == "no-store"
    assert "<script>" not in response.text and "style=" not in response.text


def test_static_files_are_served(browser: Browser) -> None:
    assert browser.get("/static/web.css").status_code == 200
    assert "focus-visible" in browser.get("/static/web.css").text
    assert browser.get("/static/web.js").status_code == 200


def test_pages_are_not_in_the_api_description(browser: Browser) -> None:
    paths = browser.get("/api/v1/openapi.json").json()["paths"]
    pages = ("/sign-in", "/book", "/bookings", "/board", "/schedule", "/language", "/static")
    assert [p for p in paths if p.startswith(pages)] == []


def test_a_page_shows_times_in_local_time(browser: Browser, scene: Scene) -> None:
    browser.sign_in(scene.world.requester).language("fr")
    html = browser.get(f"/bookings/{scene.booking.id}").text
    assert at(scene.world.day, 10).strftime("%H:%M") in html
