"""The booking form for a group and for "or by video": add a language, a second interpreter."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.audit import AuditLog
from booking.models import Booking, BookingPlace
from tests.api.web.conftest import Browser
from tests.api.web.test_requester import _bookings, _error_of, _form
from tests.booking.dispatch_world import World
from tests.factories import make_language


@pytest.fixture
def requester(browser: Browser, world: World, db: Session) -> Browser:
    for code in ("tir", "ara", "pus"):
        make_language(db, code=code)
    return browser.sign_in(world.requester).language("en")


def test_the_form_offers_more_languages_and_video(requester: Browser) -> None:
    page = requester.get("/book").text
    assert "Add a language, or a second interpreter" in page
    assert 'name="place_1"' in page and 'name="or_video"' in page and 'name="video_link"' in page


def test_the_form_books_a_group_for_three_languages(
    requester: Browser, world: World, db: Session
) -> None:
    form = _form(world, session_kind="group", place_1="Pashto", place_2="ara", place_3="")
    response = requester.post("/book", form)
    assert response.status_code == 303, response.text
    [booking] = _bookings(db, world)
    assert [p.language_code for p in booking.places] == ["pus", "ara"]
    assert [p.position for p in booking.places] == [1, 2]
    assert booking.all_or_nothing is True


def test_a_second_interpreter_of_the_same_language_and_a_group_that_may_go_ahead(
    requester: Browser, world: World, db: Session
) -> None:
    form = _form(world, duration="240", place_1="tir", partial_ok="on")
    assert requester.post("/book", form).status_code == 303
    [booking] = _bookings(db, world)
    assert [p.language_code for p in booking.places] == ["tir"]
    assert booking.all_or_nothing is False


def test_an_unknown_language_of_a_place_is_shown_next_to_it(
    requester: Browser, world: World, db: Session
) -> None:
    response = requester.post("/book", _form(world, place_2="Klingon"))
    assert response.status_code == 422
    assert _error_of(response.text, "place_2")
    assert 'value="Klingon"' in response.text
    assert _bookings(db, world) == []


def test_or_by_video_with_its_link(requester: Browser, world: World, db: Session) -> None:
    link = "https://visio.example.org/r/7c1f"
    assert requester.post("/book", _form(world, or_video="on", video_link=link)).status_code == 303
    [booking] = _bookings(db, world)
    assert isinstance(booking, Booking)
    assert booking.modality == "onsite" and booking.accepted_modalities == ["video"]
    assert booking.video_link == link


def test_a_group_may_also_ask_for_video(requester: Browser, world: World, db: Session) -> None:
    link = "https://visio.example.org/r/groupe"
    response = requester.post("/book", _form(world, place_1="ara", or_video="on", video_link=link))
    assert response.status_code == 303, response.text
    [booking] = _bookings(db, world)
    assert [p.language_code for p in booking.places] == ["ara"]
    assert booking.accepted_modalities == ["video"] and booking.video_link == link


# --- what would make it staffable, on the booking's page ---------------------------------


def test_an_unfilled_booking_shows_what_would_make_it_possible_and_takes_it(
    requester: Browser, world: World, db: Session
) -> None:
    # The only Tigrinya interpreter is a woman; the request asks for a man.
    world.provider(db, name="Selam", gender="f")
    booking = world.booking(db, required_gender="m", status="unfilled")
    page = requester.get(f"/bookings/{booking.id}").text
    assert "What would make it possible" in page
    assert "Without the need &#34;gender&#34;: 1 interpreter would qualify." in page
    version = booking.version_id
    taken = requester.post(f"/bookings/{booking.id}/staffable", {"n": "0", "version": str(version)})
    assert taken.status_code == 303, taken.text
    db.refresh(booking)
    assert booking.required_gender is None
    assert booking.version_id == version + 1
    updated = db.scalars(
        select(AuditLog).where(
            AuditLog.entity_id == str(booking.id), AuditLog.action == "booking.updated"
        )
    ).all()
    assert updated


def test_a_stale_page_cannot_take_a_suggestion(
    requester: Browser, world: World, db: Session
) -> None:
    world.provider(db, name="Selam", gender="f")
    booking = world.booking(db, required_gender="m", status="unfilled")
    stale = requester.post(f"/bookings/{booking.id}/staffable", {"n": "0", "version": "99"})
    assert stale.status_code == 412
    db.refresh(booking)
    assert booking.required_gender == "m"


def test_an_unfilled_group_may_go_ahead_with_the_places_someone_can_fill(
    requester: Browser, world: World, db: Session
) -> None:
    world.provider(db, name="Awet")  # Tigrinya; nobody speaks Pashto
    booking = world.booking(db, status="unfilled", session_kind="group")
    db.add(BookingPlace(booking_id=booking.id, position=1, language_code="pus"))
    db.flush()
    db.refresh(booking)
    page = requester.get(f"/bookings/{booking.id}").text
    assert "Going ahead without every place: 1 of the 2 places could be staffed now." in page
    taken = requester.post(
        f"/bookings/{booking.id}/staffable", {"n": "0", "version": str(booking.version_id)}
    )
    assert taken.status_code == 303, taken.text
    db.refresh(booking)
    assert booking.all_or_nothing is False and booking.status == "requested"
