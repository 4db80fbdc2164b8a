"""Extreme dates, the booking horizon and clock changes on the web pages (#7 items 4, 6; #15 8)."""

from __future__ import annotations

import datetime as dt
import html as html_text
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import Booking, Provider
from tests.api.web.conftest import Browser
from tests.api.web.test_requester import _error_of, _form
from tests.booking.dispatch_world import World
from tests.factories import BRUSSELS, make_availability_rule, make_language


def next_last_sunday(month: int) -> dt.date:
    """The next last Sunday of ``month`` at least two weeks away (a clock change in Europe)."""
    today = dt.datetime.now(BRUSSELS).date()
    year = today.year
    while True:
        last = dt.date(year, month + 1, 1) - dt.timedelta(days=1)
        last -= dt.timedelta(days=(last.weekday() - 6) % 7)
        if last - today > dt.timedelta(days=14):
            return last
        year += 1


SPRING = next_last_sunday(3)
AUTUMN = next_last_sunday(10)


@pytest.fixture
def dispatcher(browser: Browser, world: World) -> Browser:
    return browser.sign_in(world.dispatcher).language("fr")


@pytest.fixture
def requester(browser: Browser, world: World, db: Session) -> Browser:
    make_language(db, code="tir")
    return browser.sign_in(world.requester).language("en")


def _text(html: str) -> str:
    return html_text.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


# --- #15 item 8: every date a page takes is bounded -----------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/board/day?date=0001-01-01",
        "/board/day?date=9999-12-31",
        "/board?start=9999-12-31",
        "/board?start=0001-01-01&days=31",
        "/board?start=2200-01-01",
    ],
)
def test_a_board_date_out_of_range_is_a_clear_400_page(dispatcher: Browser, path: str) -> None:
    response = dispatcher.get(path)
    assert response.status_code == 400
    assert "Choisissez une date entre 2000 et 2199." in response.text


@pytest.mark.parametrize("path", ["/board/day?date=2199-12-31", "/board?start=2199-12-31&days=31"])
def test_the_last_day_in_range_is_still_a_page(dispatcher: Browser, path: str) -> None:
    assert dispatcher.get(path).status_code == 200


def test_a_plan_started_from_the_board_in_year_9999_is_refused(dispatcher: Browser) -> None:
    response = dispatcher.post("/board/plans", {"start": "9999-12-31", "days": "7"})
    # Refused next to its field, as every value of the plan form out of range.
    assert response.status_code == 422
    assert "Choisissez une date entre 2000 et 2199." in response.text


def test_the_booking_form_bounds_its_date_and_states_the_horizon(
    requester: Browser, world: World, db: Session
) -> None:
    response = requester.post("/book", _form(world, date="9999-12-31"))
    assert response.status_code == 422
    assert "Choose a date between 2000 and 2199." in _error_of(response.text, "date")
    far = (dt.datetime.now(BRUSSELS) + dt.timedelta(days=800)).date().isoformat()
    response = requester.post("/book", _form(world, date=far))
    assert response.status_code == 422
    assert "at most 730 days in advance" in _error_of(response.text, "date")
    assert db.scalars(select(Booking)).all() == []


def test_an_absence_in_year_9999_is_refused_by_its_field(
    browser: Browser, world: World, db: Session
) -> None:
    provider = world.provider(db)
    me = browser.sign_in(world.login(db, provider)).language("en")
    form = {
        "exc-0-kind": "absence",
        "exc-0-start_date": "9999-12-31",
        "exc-0-start_time": "",
        "exc-0-end_date": "9999-12-31",
        "exc-0-end_time": "",
        "exc-0-note": "",
    }
    response = me.post("/schedule/availability", form)
    assert response.status_code == 422
    found = re.search(
        r'<span class="field-error" id="exc-0-end_date-error">(.*?)</span>', response.text
    )
    assert found is not None and "between 2000 and 2199" in found.group(1)


# --- #7 item 6: the web form follows the same daylight-saving rule, and says so ----------------


@pytest.mark.parametrize(
    ("day", "kind", "booked_utc", "sentence"),
    [
        (SPRING, "shifted", dt.datetime.combine(SPRING, dt.time(1, 30), dt.UTC), "does not exist"),
        (AUTUMN, "ambiguous", dt.datetime.combine(AUTUMN, dt.time(0, 30), dt.UTC), "occurs twice"),
    ],
)
def test_a_half_past_two_booked_in_the_night_of_a_change_follows_the_rule_and_says_it(
    requester: Browser,
    world: World,
    db: Session,
    day: dt.date,
    kind: str,
    booked_utc: dt.datetime,
    sentence: str,
) -> None:
    response = requester.post("/book", _form(world, date=day.isoformat(), time="02:30"))
    assert response.status_code == 303, _text(response.text)[:500]
    [booking] = db.scalars(select(Booking)).all()
    assert booking.starts_at == booked_utc
    assert response.headers["location"].endswith(f"&dst={kind}&asked=02:30")
    page = _text(requester.get(response.headers["location"]).text)
    assert f"02:30 {sentence}" in page
    if kind == "shifted":
        assert "booked at 03:30" in page
    else:
        assert "the first 02:30, summer time" in page


def test_a_tampered_clock_change_notice_is_ignored(
    requester: Browser, world: World, db: Session
) -> None:
    requester.post("/book", _form(world))
    [booking] = db.scalars(select(Booking)).all()
    page = requester.get(f"/bookings/{booking.id}?created=1&dst=shifted&asked=<b>x</b>").text
    assert 'id="clock-change"' not in page


def test_the_availability_page_says_how_a_night_slot_counts_on_the_change(
    browser: Browser, world: World, db: Session
) -> None:
    provider: Provider = world.provider(db, hours=None)
    make_availability_rule(
        db, provider=provider, weekday=6, start_time=dt.time(2, 30), end_time=dt.time(4)
    )
    me = browser.sign_in(world.login(db, provider)).language("fr")
    page = _text(me.get("/schedule/availability").text)
    assert "Changement d’heure" in page
    assert "02:30 n’existe pas, cela compte comme 03:30." in page
    assert "02:30 existe deux fois, c’est le premier (heure d’été) qui compte." in page
