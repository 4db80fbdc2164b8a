"""The dispatcher's page of a group booking: one session, its places, who holds which."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from booking.models import BookingPlace
from tests.api.web.conftest import Browser
from tests.booking.dispatch_world import World
from tests.factories import make_assignment, make_language


@pytest.fixture
def dispatcher(browser: Browser, world: World) -> Browser:
    return browser.sign_in(world.dispatcher).language("en")


def test_a_group_booking_shows_its_places_and_who_holds_each(
    dispatcher: Browser, world: World, db: Session
) -> None:
    make_language(db, code="pus")
    booking = world.booking(db, hour=10, session_kind="group", status="proposed")
    db.add(BookingPlace(booking_id=booking.id, position=1, language_code="pus"))
    db.flush()
    gul = world.provider(db, name="Gul Ahmadi", languages=("pus",))
    make_assignment(db, booking=booking, provider=gul, status="proposed", place=1)
    html = dispatcher.get(f"/board/bookings/{booking.id}").text
    assert "2 places: tir + pus; every place or none" in html
    assert "Place 2: pus" in html


def test_a_booking_that_accepts_video_says_so(
    dispatcher: Browser, world: World, db: Session
) -> None:
    booking = world.booking(db, hour=10, accepted_modalities=["video"])
    html = dispatcher.get(f"/board/bookings/{booking.id}").text
    assert "On site, or by video" in html


def test_a_provider_s_schedule_shows_their_own_place_of_a_group(
    browser: Browser, world: World, db: Session
) -> None:
    make_language(db, code="pus", name_en="Pashto")
    booking = world.booking(db, hour=10, session_kind="group", status="confirmed")
    db.add(BookingPlace(booking_id=booking.id, position=1, language_code="pus"))
    db.flush()
    gul = world.provider(db, name="Gul Ahmadi", languages=("pus",))
    make_assignment(db, booking=booking, provider=gul, status="confirmed", place=1)
    html = browser.sign_in(world.login(db, gul)).language("en").get("/schedule").text
    assert "Pashto" in html
    assert "a group session for 2 providers" in html
