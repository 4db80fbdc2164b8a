"""What the accessibility audit (WCAG 2.1 AA) found in the pages' markup, kept fixed.

The browser checks (axe-core, 320 px, the focus trail, the progress announcer)
are in ``tests/api/web/browser``; these read the rendered HTML.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from api.web.i18n import catalogue
from tests.api.web.conftest import Browser
from tests.api.web.test_requester import _error_of, _form
from tests.booking.dispatch_world import World
from tests.factories import make_assignment, make_language


@pytest.fixture
def requester(browser: Browser, world: World, db: Session) -> Browser:
    make_language(db, code="tir")
    return browser.sign_in(world.requester).language("en")


def _errors_shown(html: str) -> dict[str, str]:
    """Field -> its message, for every field the refused form marks."""
    found = re.findall(r'<p class="field-error" id="f-([a-z_]+)-error">(.*?)</p>', html, re.S)
    return {name: re.sub(r"\s+|<[^>]+>", " ", text).strip() for name, text in found}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # The form's own error (the language) used to hide the service's (the length).
        (
            {"language": "Klingon", "duration": "5"},
            {"language": "No language by this name", "duration": "from 15 minutes to 8 hours"},
        ),
        (
            {"session_kind": "", "time": "", "window_start": "12:00", "window_end": "09:00"},
            {"session_kind": "required", "window_end": "The end comes before the start"},
        ),
        # A field that does not parse used to hide every other one.
        (
            {"time": "25:99", "duration": "5", "language": ""},
            {
                "time": "Give a time",
                "duration": "from 15 minutes to 8 hours",
                "language": "required",
            },
        ),
    ],
)
def test_the_booking_form_reports_every_error_at_the_first_submit(
    requester: Browser, world: World, changes: dict[str, Any], expected: dict[str, str]
) -> None:
    response = requester.post("/book", _form(world, **changes))
    assert response.status_code == 422
    shown = _errors_shown(response.text)
    assert set(shown) == set(expected), shown
    for field, message in expected.items():
        assert message.lower() in _error_of(response.text, field).lower()
    # A field that did not parse says so, once: not also "required".
    assert "required" not in shown.get("time", "").lower()


def test_the_service_still_reports_the_length_when_the_form_is_otherwise_right(
    requester: Browser, world: World
) -> None:
    response = requester.post("/book", _form(world, duration="5", beneficiary_ref="Jean Dupont"))
    assert response.status_code == 422
    shown = _errors_shown(response.text)
    assert set(shown) == {"duration", "beneficiary_ref"}
    assert shown["duration"].count("from 15 minutes") == 1


def test_the_confirmation_s_heading_comes_after_the_page_s_title(
    requester: Browser, world: World
) -> None:
    created = requester.post("/book", _form(world))
    html = requester.get(created.headers["location"]).text
    headings = re.findall(r"<h([1-6])\b", html)
    assert headings[0] == "1" and "2" in headings
    assert html.index("<h1") < html.index('id="confirmation"')


def _focused_on_load(html: str, element_id: str) -> bool:
    tag = re.search(rf'<[a-z]+\b[^>]*\bid="{element_id}"[^>]*>', html)
    assert tag is not None, f"no #{element_id}"
    return "autofocus" in tag.group(0) and 'tabindex="-1"' in tag.group(0)


def test_a_refused_sign_in_puts_the_focus_on_its_message(browser: Browser, world: World) -> None:
    response = browser.post("/sign-in", {"email": world.requester.email, "password": "wrong"})
    assert response.status_code == 401
    assert _focused_on_load(response.text, "sign-in-error")
    assert 'aria-describedby="sign-in-error"' in response.text


def test_the_plan_page_gives_each_proposal_a_row_header_and_focuses_the_result(
    browser: Browser, db: Session, world: World, solve_queued: Callable[[], list[int]]
) -> None:
    world.provider(db, name="Yonas Tesfaye")
    world.booking(db, hour=10)
    world.booking(db, hour=14)
    browser.sign_in(world.dispatcher).language("en")
    run = browser.post("/board/plans", {"start": world.day.isoformat(), "days": "1"})
    solve_queued()
    html = browser.get(run.headers["location"]).text
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    rows = re.findall(r"<tr\b.*?</tr>", body, re.S)
    assert len(rows) == 2
    for row in rows:
        assert re.search(r'<th scope="row"[^>]*>\s*<a href="/board/bookings/\d+"', row), row
    # "Select all": a visible, labelled control outside the table head (which 320 px hides),
    # shown by the script that makes it work.
    head = html[html.index("<thead>") : html.index("</thead>")]
    assert "<input" not in head
    assert '<div class="choice select-all" data-needs-script hidden>' in html
    assert '<label for="select-all">Select all proposals</label>' in html
    picked = re.search(r'name="assignment_id" value="(\d+)"', html)
    assert picked is not None
    applied = browser.post(
        f"{run.headers['location']}/apply",
        {"mode": "offer", "scope": "chosen", "assignment_id": picked.group(1)},
    )
    assert _focused_on_load(browser.get(applied.headers["location"]).text, "apply-result")


def test_the_availability_table_has_a_name(browser: Browser, db: Session, world: World) -> None:
    provider = world.provider(db, name="Yonas Tesfaye")
    browser.sign_in(world.login(db, provider)).language("en")
    html = browser.get("/schedule/availability").text
    table = re.search(r"<table\b[^>]*>", html)
    assert table is not None
    named = re.search(r'aria-labelledby="([^"]+)"', table.group(0))
    assert named is not None
    title = re.search(rf'id="{named.group(1)}"[^>]*>([^<]+)<', html)
    assert title is not None
    assert title.group(1).strip() == catalogue("en")["availability.rules_title"]


def test_the_day_view_legend_is_drawn_like_the_chart_and_left_to_sighted_readers(
    browser: Browser, db: Session, world: World
) -> None:
    provider = world.provider(db, name="Yonas Tesfaye")
    make_assignment(db, booking=world.booking(db, hour=9), provider=provider, status="confirmed")
    make_assignment(db, booking=world.booking(db, hour=14), provider=provider, status="offered")
    browser.sign_in(world.dispatcher).language("en")
    html = browser.get(f"/board/day?date={world.day.isoformat()}").text
    legend = re.search(r'<ul class="legend"([^>]*)>(.*?)</ul>', html, re.S)
    assert legend is not None
    assert 'aria-hidden="true"' in legend.group(1)
    swatch = r'<rect [^>]*class="chart-([a-z]+)"></rect></svg>([^<]+)</li>'
    keys = re.findall(swatch, legend.group(2))
    english = catalogue("en")
    assert keys == [(kind, english[f"day.legend_{kind}"]) for kind in ("held", "pending", "travel")]
    # Every kind of shape the chart draws is one the legend shows.
    chart = html[legend.end() :]
    assert {"held", "pending"} <= set(re.findall(r'class="chart-([a-z]+)"', chart))
    assert set(re.findall(r'<rect [^>]*class="chart-(held|pending|travel)"', chart)) <= {
        "held",
        "pending",
        "travel",
    }


@pytest.mark.parametrize("locale", ["en", "fr", "nl"])
def test_the_people_to_avoid_hint_says_how_to_choose_several_by_keyboard(locale: str) -> None:
    hint = catalogue(locale)["book.avoid_hint"]
    assert "Ctrl" in hint
    assert {"en": "Ctrl+Space", "fr": "Ctrl+Espace", "nl": "Ctrl+Spatie"}[locale] in hint
