"""The dispatcher's page of a group booking: one session, its places, who holds which."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import Assignment, Booking, BookingPlace, Provider
from booking.plans.models import Plan
from booking.plans.result import PlanResult
from tests.api.web.conftest import Browser
from tests.booking.dispatch_world import World, at
from tests.factories import make_assignment, make_language, make_plan


@pytest.fixture
def dispatcher(browser: Browser, world: World) -> Browser:
    return browser.sign_in(world.dispatcher).language("en")


LANGUAGES = {"pus": "Pashto", "ara": "Arabic"}


def group_of(world: World, db: Session, *codes: str, **fields: Any) -> Booking:
    """A group at 10:00: Tigrinya (its own place), then a place per code (default: Pashto)."""
    codes = codes or ("pus",)
    for code in dict.fromkeys(codes):
        make_language(db, code=code, name_en=LANGUAGES[code])
    booking = world.booking(db, hour=10, session_kind="group", **fields)
    for position, code in enumerate(codes, start=1):
        db.add(BookingPlace(booking_id=booking.id, position=position, language_code=code))
    db.flush()
    db.refresh(booking)
    return booking


def gul_on_place_2(world: World, db: Session, booking: Booking, status: str) -> Provider:
    """Gul Ahmadi, a Pashto speaker, on the group's second place."""
    gul = world.provider(db, name="Gul Ahmadi", languages=("pus",))
    make_assignment(db, booking=booking, provider=gul, status=status, place=1)
    return gul


@pytest.fixture
def proposed_group(world: World, db: Session) -> Booking:
    """A Tigrinya and Pashto group, Gul proposed for the Pashto place."""
    booking = group_of(world, db, status="proposed")
    gul_on_place_2(world, db, booking, "proposed")
    return booking


def test_a_group_booking_shows_its_places_and_who_holds_each(
    dispatcher: Browser, proposed_group: Booking
) -> None:
    html = dispatcher.get(f"/board/bookings/{proposed_group.id}").text
    assert "2 places: Tigrinya + Pashto; every place or none" in html
    assert "Place 2: Pashto" in html


def test_a_booking_that_accepts_video_says_so(
    dispatcher: Browser, world: World, db: Session
) -> None:
    booking = world.booking(db, hour=10, accepted_modalities=["video"])
    html = dispatcher.get(f"/board/bookings/{booking.id}").text
    assert "On site, or by video" in html


def test_a_provider_s_schedule_shows_their_own_place_of_a_group(
    browser: Browser, world: World, db: Session
) -> None:
    booking = group_of(world, db, status="confirmed")
    gul = gul_on_place_2(world, db, booking, "confirmed")
    html = browser.sign_in(world.login(db, gul)).language("en").get("/schedule").text
    assert "Pashto" in html
    assert "a group session for 2 providers" in html


# --- the board's day list and the plan page ---------------------------------------------


def test_the_board_lists_a_group_as_one_session_with_who_holds_each_place(
    dispatcher: Browser, world: World, proposed_group: Booking
) -> None:
    html = dispatcher.get(f"/board?start={world.day.isoformat()}&days=1").text
    assert html.count(proposed_group.reference) == 1
    assert "Tigrinya + Pashto" in html and "2 places" in html
    assert "Place 2: Pashto</span> Gul Ahmadi (Proposed)" in html


def _plan_with(
    world: World, db: Session, proposals: list[dict[str, Any]], unassigned: list[dict[str, Any]]
) -> Plan:
    return make_plan(
        db,
        created_by=world.dispatcher,
        horizon_start=at(world.day, 0),
        horizon_end=at(world.day, 23),
        status="done",
        result=PlanResult.model_validate(
            {"proposals": proposals, "unassigned": unassigned}
        ).to_json(),
    )


def test_the_plan_page_shows_each_proposal_s_place_and_a_lower_step_of_the_ladder(
    dispatcher: Browser, world: World, db: Session
) -> None:
    group = group_of(world, db, "pus", "ara")
    by_video = world.booking(db, hour=14, accepted_modalities=["video"])
    gul = world.provider(db, name="Gul Ahmadi", languages=("pus",))
    amina = world.provider(db, name="Amina Haddad")
    session = {"starts_at": at(world.day, 10), "ends_at": at(world.day, 11)}
    plan = _plan_with(
        world,
        db,
        [
            {
                "assignment_id": 0,
                "booking_id": group.id,
                "booking_reference": group.reference,
                "provider_id": gul.id,
                "provider_name": "Gul Ahmadi",
                "place": 1,
                "modality": "onsite",
                **session,
            },
            {
                "assignment_id": 0,
                "booking_id": by_video.id,
                "booking_reference": by_video.reference,
                "provider_id": amina.id,
                "provider_name": "Amina Haddad",
                "modality": "video",
                **session,
            },
        ],
        [],
    )
    html = dispatcher.get(f"/board/plans/{plan.id}").text
    assert "Pashto, " in html
    assert "Place 2 of 3" in html
    assert "by video, the second choice asked for" in html
    french = dispatcher.language("fr").get(f"/board/plans/{plan.id}").text
    assert "Place 2 sur 3" in french
    assert "en visioconférence, le second choix de la demande" in french


def test_the_plan_page_says_what_would_make_an_unstaffed_session_staffable(
    dispatcher: Browser, world: World, db: Session
) -> None:
    group = group_of(world, db, all_or_nothing=True)
    amina = world.provider(db, name="Amina Haddad")
    plan = _plan_with(
        world,
        db,
        [],
        [
            {
                "booking_id": group.id,
                "booking_reference": group.reference,
                "reason": "no_provider_available",
                "staffable": [
                    {
                        "kind": "modality",
                        "change": {"modality": "video"},
                        "provider_ids": [amina.id],
                        "starts_at": at(world.day, 10).isoformat(),
                    },
                    {
                        "kind": "travel_limit",
                        "change": {"provider": amina.id, "extra_minutes": 12},
                        "provider_ids": [amina.id],
                        "starts_at": at(world.day, 10).isoformat(),
                    },
                ],
            }
        ],
    )
    html = dispatcher.get(f"/board/plans/{plan.id}").text
    assert "(Tigrinya + Pashto)" in html
    assert "2 places; every place or none" in html
    assert "What would make it possible" in html
    assert "By video: 1 interpreter could take it." in html
    assert "lives 12 min beyond their travel limit" in html
    for locale, sentence in (
        ("fr", "En visioconférence\u202f: 1 interprète pourrait assurer la séance."),
        ("nl", "Via video: 1 tolk zou het kunnen doen."),
    ):
        assert sentence in dispatcher.language(locale).get(f"/board/plans/{plan.id}").text


# --- assigning and offering one place of a group ----------------------------------------


def _held(db: Session, booking: Booking) -> list[Assignment]:
    return list(
        db.scalars(
            select(Assignment).where(Assignment.booking_id == booking.id).order_by(Assignment.id)
        )
    )


def assign(dispatcher: Browser, booking: Booking, provider: Provider, place: int) -> Any:
    """The board's form that proposes ``provider`` for one place of ``booking``."""
    return dispatcher.post(
        f"/board/bookings/{booking.id}/assign",
        {"provider_id": str(provider.id), "status": "proposed", "place": str(place)},
    )


def amina_and_gul(world: World, db: Session) -> Provider:
    """Amina (Tigrinya, the group's own place) and Gul (Pashto, its second); Gul."""
    world.provider(db, name="Amina Haddad")
    return world.provider(db, name="Gul Ahmadi", languages=("pus",))


def test_the_candidates_of_a_chosen_place_speak_its_language_and_one_is_put_on_it(
    dispatcher: Browser, world: World, db: Session
) -> None:
    booking = group_of(world, db)
    gul = amina_and_gul(world, db)
    own = dispatcher.get(f"/board/bookings/{booking.id}").text
    assert "Amina Haddad" in own and "Gul Ahmadi" not in own
    second = dispatcher.get(f"/board/bookings/{booking.id}?place=1").text
    assert "Gul Ahmadi" in second and "Amina Haddad" not in second
    assert "Place 2: Pashto" in second
    response = assign(dispatcher, booking, gul, 1)
    assert response.headers["location"] == f"/board/bookings/{booking.id}?done=assigned&place=1"
    [held] = _held(db, booking)
    assert (held.provider_id, held.place, held.status) == (gul.id, 1, "proposed")


def test_a_provider_who_lacks_the_place_s_language_is_refused_for_it(
    dispatcher: Browser, world: World, db: Session
) -> None:
    booking = group_of(world, db)
    amina = world.provider(db, name="Amina Haddad")
    response = assign(dispatcher, booking, amina, 1)
    assert response.status_code == 422
    assert _held(db, booking) == []


def test_nobody_holds_two_places_of_one_session(
    dispatcher: Browser, world: World, db: Session
) -> None:
    booking = group_of(world, db)
    both = world.provider(db, name="Samir Both", languages=("tir", "pus"))
    assert assign(dispatcher, booking, both, 0).status_code == 303
    again = assign(dispatcher, booking, both, 1)
    assert again.status_code == 409
    assert [a.place for a in _held(db, booking)] == [0]


def test_offering_a_place_asks_the_best_for_that_place(
    dispatcher: Browser, world: World, db: Session
) -> None:
    booking = group_of(world, db)
    gul = amina_and_gul(world, db)
    response = dispatcher.post(f"/board/bookings/{booking.id}/offers", {"count": "3", "place": "1"})
    assert response.headers["location"] == f"/board/bookings/{booking.id}?done=offered&place=1"
    [offer] = _held(db, booking)
    assert (offer.provider_id, offer.place, offer.status) == (gul.id, 1, "offered")
