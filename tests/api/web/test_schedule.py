"""The provider's pages: answer offers, see upcoming work, edit availability, get a feed link."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import AvailabilityException, AvailabilityRule, Provider
from booking.outbox.events import offer_links
from booking.users.tokens import hash_token
from tests.api.web.conftest import Browser
from tests.booking.dispatch_world import World, at
from tests.factories import make_assignment, make_provider, make_user


@pytest.fixture
def provider(db: Session, world: World) -> Provider:
    return world.provider(db, name="Yonas Tesfaye")


@pytest.fixture
def me(browser: Browser, world: World, db: Session, provider: Provider) -> Browser:
    return browser.sign_in(world.login(db, provider)).language("en")


def test_an_offer_is_shown_and_accepted(
    me: Browser, world: World, db: Session, provider: Provider
) -> None:
    booking = world.booking(db, hour=10)
    offer = make_assignment(
        db, booking=booking, provider=provider, status="offered", created_by=world.dispatcher
    )
    html = me.get("/schedule").text
    assert f'id="offer-{offer.id}"' in html and "Tigrinya" in html
    response = me.post(f"/schedule/assignments/{offer.id}/accept", {})
    assert response.headers["location"] == "/schedule?done=accepted"
    db.refresh(offer)
    assert offer.status == "accepted"
    after = me.get(response.headers["location"]).text
    assert "You accepted the offer." in after and f'id="work-{offer.id}"' in after


def test_an_offer_is_declined(me: Browser, world: World, db: Session, provider: Provider) -> None:
    booking = world.booking(db, hour=10)
    offer = make_assignment(
        db, booking=booking, provider=provider, status="offered", created_by=world.dispatcher
    )
    response = me.post(f"/schedule/assignments/{offer.id}/decline", {"reason": ""})
    assert response.headers["location"] == "/schedule?done=declined"
    db.refresh(offer)
    assert offer.status == "declined"


def test_an_offer_answered_twice_says_why_it_cannot(
    me: Browser, world: World, db: Session, provider: Provider
) -> None:
    booking = world.booking(db, hour=10)
    offer = make_assignment(
        db, booking=booking, provider=provider, status="offered", created_by=world.dispatcher
    )
    me.post(f"/schedule/assignments/{offer.id}/accept", {})
    again = me.post(f"/schedule/assignments/{offer.id}/accept", {})
    assert again.status_code == 409
    assert "This offer was already answered or withdrawn." in again.text


def test_someone_else_s_offer_is_not_found(me: Browser, world: World, db: Session) -> None:
    other = world.provider(db, name="Someone Else")
    offer = make_assignment(
        db, booking=world.booking(db), provider=other, status="offered", created_by=world.dispatcher
    )
    assert me.post(f"/schedule/assignments/{offer.id}/accept", {}).status_code == 404
    assert me.post("/schedule/assignments/abc/accept", {}).status_code == 404
    db.refresh(offer)
    assert offer.status == "offered"
    assert f'id="offer-{offer.id}"' not in me.get("/schedule").text


def test_confirmed_work_near_its_start_cannot_be_given_back_here(
    me: Browser, world: World, db: Session, provider: Provider
) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
    booking = world.booking(db, starts_at=soon)
    work = make_assignment(
        db, booking=booking, provider=provider, status="confirmed", created_by=world.dispatcher
    )
    html = me.get("/schedule").text
    assert f'id="work-{work.id}"' in html
    assert "call the dispatcher to give it back" in html
    refused = me.post(f"/schedule/assignments/{work.id}/decline", {})
    assert refused.status_code == 409
    db.refresh(work)
    assert work.status == "confirmed"


def test_a_user_without_a_provider_record_is_told_so(
    browser: Browser, world: World, db: Session
) -> None:
    lonely = make_user(db, organisation=world.service, role="provider")
    response = browser.sign_in(lonely).language("en").get("/schedule")
    assert response.status_code == 404
    assert "not linked to a provider record" in response.text


def _availability_form(**rows: str) -> dict[str, str]:
    form = {
        "rule-0-weekday": "0",
        "rule-0-start": "08:30",
        "rule-0-end": "12:00",
        "rule-0-valid_from": "",
        "rule-0-valid_until": "",
        "rule-1-weekday": "2",
        "rule-1-start": "13:00",
        "rule-1-end": "17:00",
        "rule-1-valid_from": "",
        "rule-1-valid_until": "",
        "rule-2-weekday": "",
        "rule-2-start": "",
        "rule-2-end": "",
        "exc-0-kind": "absence",
        "exc-0-start_date": "2026-12-24",
        "exc-0-start_time": "",
        "exc-0-end_date": "2026-12-31",
        "exc-0-end_time": "",
        "exc-0-note": "Holidays",
        "exc-1-kind": "absence",
        "exc-1-start_date": "",
        "exc-1-start_time": "",
        "exc-1-end_date": "",
        "exc-1-end_time": "",
        "exc-1-note": "",
    }
    form.update(rows)
    return form


def test_the_availability_editor_replaces_rules_and_absences(
    me: Browser, db: Session, provider: Provider
) -> None:
    html = me.get("/schedule/availability").text
    assert html.count('name="rule-') >= 5 * 4  # the five weekdays of the world, and blanks
    response = me.post("/schedule/availability", _availability_form())
    assert response.headers["location"] == "/schedule/availability?done=saved"
    rules = db.scalars(
        select(AvailabilityRule)
        .where(AvailabilityRule.provider_id == provider.id)
        .order_by(AvailabilityRule.weekday)
    ).all()
    assert [(r.weekday, r.start_time, r.end_time) for r in rules] == [
        (0, dt.time(8, 30), dt.time(12)),
        (2, dt.time(13), dt.time(17)),
    ]
    [absence] = db.scalars(
        select(AvailabilityException).where(AvailabilityException.provider_id == provider.id)
    ).all()
    brussels = at(dt.date(2026, 12, 24), 0).tzinfo
    assert absence.starts_at == dt.datetime(2026, 12, 24, tzinfo=brussels)
    assert absence.ends_at == dt.datetime(2027, 1, 1, tzinfo=brussels)
    assert absence.note == "Holidays"
    saved = me.get(response.headers["location"]).text
    assert "Your availability is saved." in saved and 'value="2026-12-24"' in saved


def test_a_removed_row_is_dropped(me: Browser, db: Session, provider: Provider) -> None:
    me.post("/schedule/availability", _availability_form(**{"rule-1-remove": "1"}))
    rules = db.scalars(
        select(AvailabilityRule).where(AvailabilityRule.provider_id == provider.id)
    ).all()
    assert [r.weekday for r in rules] == [0]


@pytest.mark.parametrize(
    ("rows", "field", "message"),
    [
        ({"rule-0-start": "8h"}, "rule-0-start", "Give a time"),
        ({"rule-0-weekday": "9"}, "rule-0-weekday", "Choose one of the options"),
        ({"rule-0-end": "07:00"}, "rule-0-end", "The end must come after the start"),
        ({"exc-0-end_date": "someday"}, "exc-0-end_date", "Give a date"),
        ({"exc-0-end_date": "2026-12-01"}, "exc-0-end_date", "The end must come after"),
    ],
)
def test_availability_mistakes_are_shown_by_their_field_and_nothing_is_saved(
    me: Browser, db: Session, provider: Provider, rows: dict[str, str], field: str, message: str
) -> None:
    before = db.scalars(
        select(AvailabilityRule.id).where(AvailabilityRule.provider_id == provider.id)
    ).all()
    response = me.post("/schedule/availability", _availability_form(**rows))
    assert response.status_code == 422
    found = re.search(rf'<span class="field-error" id="{field}-error">(.*?)</span>', response.text)
    assert found is not None and message in found.group(1)
    after = db.scalars(
        select(AvailabilityRule.id).where(AvailabilityRule.provider_id == provider.id)
    ).all()
    assert after == before


def test_the_calendar_link_is_shown_once_and_works(
    me: Browser, db: Session, provider: Provider
) -> None:
    response = me.post("/schedule/calendar", {})
    assert response.status_code == 200
    found = re.search(r'id="feed-url"[^>]*value="([^"]+)"', response.text)
    assert found is not None
    url = found.group(1)
    assert f"/api/v1/providers/{provider.id}/calendar.ics?token=" in url
    db.refresh(provider)
    assert provider.calendar_token_hash == hash_token(url.split("token=")[1])
    later = me.get("/schedule").text
    assert url not in later and "You already have a calendar link" in later


def test_a_dispatcher_s_provider_page_is_not_the_provider_s(
    browser: Browser, world: World, db: Session
) -> None:
    make_provider(db, organisation=world.service)
    response = browser.sign_in(world.dispatcher).language("en").get("/schedule/availability")
    assert response.status_code == 403


def test_an_offer_email_s_accept_link_shows_the_offer_with_its_accept_button_focused(
    me: Browser, world: World, db: Session, provider: Provider
) -> None:
    other = make_assignment(
        db,
        booking=world.booking(db, hour=9),
        provider=provider,
        status="offered",
        created_by=world.dispatcher,
    )
    offer = make_assignment(
        db,
        booking=world.booking(db, hour=14),
        provider=provider,
        status="offered",
        created_by=world.dispatcher,
    )
    links = offer_links(me.settings.base_url, offer.id)
    accept = me.get(links["accept_url"].removeprefix(me.settings.base_url))
    assert accept.status_code == 200
    card = _card(accept.text, offer.id)
    assert "offer-chosen" in card and 'aria-current="true"' in card
    assert re.search(r'data-answer="accept"\s+autofocus', card)
    assert "autofocus" not in _card(accept.text, other.id)
    assert accept.text.count("autofocus") == 1
    # Opening the link answers nothing: accepting stays a form.
    db.refresh(offer)
    assert offer.status == "offered"

    decline = me.get(links["decline_url"].removeprefix(me.settings.base_url)).text
    assert re.search(r'data-answer="decline"\s+autofocus', _card(decline, offer.id))
    assert decline.count("autofocus") == 1


def test_a_link_to_an_offer_no_longer_open_says_so(
    me: Browser, world: World, db: Session, provider: Provider
) -> None:
    offer = make_assignment(
        db,
        booking=world.booking(db, hour=10),
        provider=provider,
        status="offered",
        created_by=world.dispatcher,
    )
    me.post(f"/schedule/assignments/{offer.id}/accept", {})
    html = me.get(f"/schedule?offer={offer.id}&answer=accept").text
    assert "This offer is no longer open" in html
    assert "autofocus" not in html and "offer-chosen" not in html


def test_someone_else_s_offer_is_neither_shown_nor_focused(
    me: Browser, world: World, db: Session
) -> None:
    other = world.provider(db, name="Someone Else")
    offer = make_assignment(
        db, booking=world.booking(db), provider=other, status="offered", created_by=world.dispatcher
    )
    html = me.get(f"/schedule?offer={offer.id}&answer=accept").text
    assert f'id="offer-{offer.id}"' not in html and "autofocus" not in html


def _card(html: str, assignment_id: int) -> str:
    """The ``<li>`` of one offer on the schedule page."""
    start = html.index(f'id="offer-{assignment_id}"')
    return html[html.rindex("<li", 0, start) : html.index("</li>", start)]
