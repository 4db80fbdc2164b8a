"""The dispatcher's pages: the board, a plan run and applied, candidates, manual work, the day."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.web import board as board_module
from booking.models import Assignment, Plan
from booking.policies import next_working_day
from tests.api.web.conftest import Browser
from tests.booking.dispatch_world import World, at
from tests.factories import (
    make_assignment,
    make_booking,
    make_organisation,
    make_provider,
    make_service_agreement,
    make_user,
)


@pytest.fixture
def dispatcher(browser: Browser, world: World) -> Browser:
    return browser.sign_in(world.dispatcher).language("en")


def _assignments(db: Session, booking_id: int) -> list[Assignment]:
    return list(
        db.scalars(
            select(Assignment).where(Assignment.booking_id == booking_id).order_by(Assignment.id)
        )
    )


def test_the_board_groups_the_open_bookings_by_day_and_filters_them(
    dispatcher: Browser, world: World, db: Session
) -> None:
    tigrinya = world.booking(db, hour=10)
    arabic = world.booking(db, hour=11, language_code="ara")
    unserved = make_booking(db, starts_at=at(world.day, 12))
    html = dispatcher.get(f"/board?start={world.day.isoformat()}&days=3").text
    assert tigrinya.reference in html and arabic.reference in html
    assert unserved.reference not in html
    assert f'id="day-{world.day.isoformat()}"' in html
    only = dispatcher.get(f"/board?start={world.day.isoformat()}&language=ara").text
    assert arabic.reference in only and tigrinya.reference not in only
    none = dispatcher.get(f"/board?start={world.day.isoformat()}&status=confirmed").text
    assert tigrinya.reference not in none


def test_the_board_filters_by_region(dispatcher: Browser, world: World, db: Session) -> None:
    flanders = make_organisation(db, kind="requesting", region="Flanders")
    make_service_agreement(db, providing=world.service, requesting=flanders)
    there = make_booking(
        db, requester=make_user(db, organisation=flanders), starts_at=at(world.day, 9)
    )
    here = world.booking(db, hour=10)
    html = dispatcher.get(f"/board?start={world.day.isoformat()}&region=Flanders").text
    assert there.reference in html and here.reference not in html


def test_nonsense_in_the_board_s_address_falls_back_to_defaults(dispatcher: Browser) -> None:
    response = dispatcher.get("/board?start=yesterday&days=-4&language=%00&status=<b>")
    assert response.status_code == 200


def test_a_plan_is_run_shown_beside_its_explanation_and_applied_as_offers(
    dispatcher: Browser, world: World, db: Session, solve_queued: Callable[[], list[int]]
) -> None:
    provider = world.provider(db, name="Yonas Tesfaye")
    booking = world.booking(db, hour=10)
    nobody = world.booking(db, hour=11, language_code="som")
    response = dispatcher.post(
        "/board/plans", {"start": world.day.isoformat(), "days": "1", "time_limit": "5"}
    )
    assert response.status_code == 303
    plan = db.scalars(select(Plan).order_by(Plan.id.desc())).first()
    assert plan is not None and response.headers["location"] == f"/board/plans/{plan.id}"
    waiting = dispatcher.get(response.headers["location"]).text
    # Queued, not solved in the request: the page follows the solve until it ends.
    assert 'id="plan-progress" data-follow="5"' in waiting
    assert '<progress aria-label="Solving time used"' in waiting and 'max="5" value="0"' in waiting
    assert "Waiting its turn: the computing has not started yet." in waiting
    assert 'action="/board/plans/' + str(plan.id) + '/stop"' in waiting
    assert solve_queued() == [plan.id]
    html = dispatcher.get(response.headers["location"]).text
    assert "data-follow" not in html and "<progress" not in html
    assert "Yonas Tesfaye" in html and booking.reference in html
    assert '<p class="proposal-explanation">Yonas Tesfaye (interpreter, speaks' in html
    assert 'class="proposal-explanation" lang="en"' not in html
    assert nobody.reference in html and "Nobody in the pool speaks the language." in html
    [proposal] = _assignments(db, booking.id)
    applied = dispatcher.post(
        f"/board/plans/{plan.id}/apply",
        {"mode": "offer", "scope": "chosen", "assignment_id": str(proposal.id)},
    )
    assert applied.headers["location"] == f"/board/plans/{plan.id}?applied=1&refused=0"
    db.refresh(proposal)
    assert proposal.status == "offered" and proposal.provider_id == provider.id
    assert "1 proposal applied, 0 refused." in dispatcher.get(applied.headers["location"]).text


def _plan_field(html: str, name: str) -> str:
    found = re.search(rf'<input id="plan-{name}" name="[a-z_]+" [^>]*value="([^"]*)"', html)
    assert found is not None, f"no plan field {name}"
    return found.group(1)


def test_the_plan_form_opens_on_the_next_working_day_and_spans_the_open_requests(
    dispatcher: Browser, world: World, db: Session
) -> None:
    world.booking(db, hour=10)
    last = world.booking(db, hour=9)
    last.starts_at = at(world.day + dt.timedelta(days=9), 9)
    world.booking(db, hour=11, status="confirmed").starts_at = at(
        world.day + dt.timedelta(days=20), 11
    )
    db.flush()
    today = dt.datetime.now(ZoneInfo(dispatcher.settings.timezone)).date()
    first = next_working_day(today, country=world.service.country)
    html = dispatcher.get("/board").text
    assert _plan_field(html, "start") == first.isoformat()
    expected = min((world.day + dt.timedelta(days=9) - first).days + 1, 31)
    assert _plan_field(html, "days") == str(expected)


def test_the_next_working_day_skips_the_weekend_and_holidays(
    dispatcher: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(board_module, "_today", lambda page: dt.date(2026, 4, 3))
    html = dispatcher.get("/board").text
    # Good Friday, then the weekend and Easter Monday: the next working day is Tuesday.
    assert _plan_field(html, "start") == "2026-04-07"
    assert _plan_field(html, "days") == "7", "no open request: a week"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("days", "60", "A plan covers 1 to 31 days, not 60."),
        ("days", "0", "A plan covers 1 to 31 days, not 0."),
        ("days", "two", "A plan covers 1 to 31 days, not two."),
        ("time_limit", "100", "The time limit is 1 to 20 seconds, not 100."),
        ("start", "2026-02-31", "Give a date."),
    ],
)
def test_a_plan_value_out_of_range_is_refused_and_said_not_quietly_changed(
    dispatcher: Browser, world: World, db: Session, field: str, value: str, message: str
) -> None:
    world.provider(db)
    world.booking(db, hour=10)
    form = {"start": world.day.isoformat(), "days": "1", "time_limit": "5", field: value}
    response = dispatcher.post("/board/plans", form)
    assert response.status_code == 422
    assert db.scalars(select(Plan)).first() is None, "no plan was run"
    html = response.text
    assert "No plan was run" in html
    shown = re.search(r'<p class="field-error" id="plan-[a-z]+-error">(.*?)</p>', html, re.S)
    assert shown is not None and message in shown.group(1)
    assert _plan_field(html, {"time_limit": "limit"}.get(field, field)) == value


def test_applying_nothing_says_so(dispatcher: Browser, world: World, db: Session) -> None:
    world.provider(db)
    world.booking(db, hour=10)
    run = dispatcher.post("/board/plans", {"start": world.day.isoformat(), "days": "1"})
    plan_path = run.headers["location"]
    response = dispatcher.post(f"{plan_path}/apply", {"mode": "confirm", "scope": "chosen"})
    assert response.status_code == 422
    assert "Tick at least one proposal" in response.text


def test_a_plan_of_another_service_is_not_found(
    dispatcher: Browser, world: World, db: Session
) -> None:
    stranger = make_user(
        db, organisation=make_organisation(db, kind="providing"), role="dispatcher"
    )
    plan = Plan(
        created_by_id=stranger.id,
        horizon_start=at(world.day, 0),
        horizon_end=at(world.day, 23),
        status="done",
    )
    db.add(plan)
    db.flush()
    assert dispatcher.get(f"/board/plans/{plan.id}").status_code == 404
    assert dispatcher.post(f"/board/plans/{plan.id}/apply", {"scope": "all"}).status_code == 404


def test_the_booking_page_ranks_candidates_and_assigns_one_by_hand(
    dispatcher: Browser, world: World, db: Session
) -> None:
    fits = world.provider(db, name="Amina Haddad")
    away = world.provider(db, name="Farid Nazari", languages=("ara",))
    booking = world.booking(db, hour=10)
    html = dispatcher.get(f"/board/bookings/{booking.id}").text
    assert "Amina Haddad" in html and "Can start at 10:00" in html
    assert "Farid Nazari" not in html  # candidates speak the language
    assert away.id != fits.id
    response = dispatcher.post(
        f"/board/bookings/{booking.id}/assign",
        {"provider_id": str(fits.id), "status": "offered", "starts_at": ""},
    )
    assert response.headers["location"] == f"/board/bookings/{booking.id}?done=assigned"
    [offer] = _assignments(db, booking.id)
    assert offer.status == "offered" and offer.provider_id == fits.id
    page = dispatcher.get(response.headers["location"]).text
    assert "The provider is on the booking." in page


def test_a_manual_assignment_that_breaks_a_rule_names_it(
    dispatcher: Browser, world: World, db: Session
) -> None:
    off_duty = world.provider(db, name="Off Duty", hours=None)
    booking = world.booking(db, hour=10)
    response = dispatcher.post(
        f"/board/bookings/{booking.id}/assign", {"provider_id": str(off_duty.id), "status": "x"}
    )
    assert response.status_code == 422
    assert re.search(r"This assignment breaks a rule: not available at that time", response.text)
    assert _assignments(db, booking.id) == []


def test_a_provider_of_another_service_cannot_be_assigned(
    dispatcher: Browser, world: World, db: Session
) -> None:
    stranger = make_provider(db)
    booking = world.booking(db, hour=10)
    response = dispatcher.post(
        f"/board/bookings/{booking.id}/assign", {"provider_id": str(stranger.id)}
    )
    assert response.status_code == 404


def test_offers_go_to_the_best_candidates(dispatcher: Browser, world: World, db: Session) -> None:
    first = world.provider(db, name="First")
    second = world.provider(db, name="Second")
    booking = world.booking(db, hour=10)
    response = dispatcher.post(f"/board/bookings/{booking.id}/offers", {"count": "2"})
    assert response.headers["location"].endswith("?done=offered")
    offered = {a.provider_id for a in _assignments(db, booking.id) if a.status == "offered"}
    assert offered == {first.id, second.id}


def test_no_offer_button_when_every_candidate_is_impossible(
    dispatcher: Browser, world: World, db: Session
) -> None:
    world.provider(db, name="Never Free", hours=None)
    booking = world.booking(db, hour=10)
    html = dispatcher.get(f"/board/bookings/{booking.id}").text
    assert "Never Free" in html and 'class="candidate-refused"' in html
    assert 'id="offer-form"' not in html and "Send the offers" not in html
    assert "Nobody can take this session as it stands" in html
    assert "has been asked already" not in html


def test_offers_are_post_redirect_get_and_say_when_everyone_was_asked(
    dispatcher: Browser, world: World, db: Session
) -> None:
    world.provider(db, name="Only One")
    booking = world.booking(db, hour=10)
    assert 'id="offer-form"' in dispatcher.get(f"/board/bookings/{booking.id}").text
    sent = dispatcher.post(f"/board/bookings/{booking.id}/offers", {"count": "3"})
    assert sent.status_code == 303
    # Reloading the page after sending is a GET: nothing is sent again.
    for _ in range(2):
        page = dispatcher.get(sent.headers["location"])
        assert page.status_code == 200
    assert len(_assignments(db, booking.id)) == 1
    html = page.text
    assert 'id="offer-form"' not in html
    assert "Everyone who can take this session has been asked already." in html
    again = dispatcher.post(f"/board/bookings/{booking.id}/offers", {"count": "3"})
    assert again.status_code == 303
    assert again.headers["location"].endswith("?refused=everyone_asked")
    assert "has been asked already" in dispatcher.get(again.headers["location"]).text
    assert len(_assignments(db, booking.id)) == 1


def test_a_refusal_carried_in_the_address_shows_only_known_sentences(
    dispatcher: Browser, world: World, db: Session
) -> None:
    booking = world.booking(db, hour=10)
    html = dispatcher.get(f"/board/bookings/{booking.id}?refused=<script>").text
    assert "<script>" not in html
    assert "This clashes with the current state" in html


def test_an_assignment_is_confirmed_then_withdrawn(
    dispatcher: Browser, world: World, db: Session
) -> None:
    provider = world.provider(db)
    booking = world.booking(db, hour=10)
    proposal = make_assignment(db, booking=booking, provider=provider, created_by=world.dispatcher)
    confirmed = dispatcher.post(f"/board/assignments/{proposal.id}/confirm", {})
    assert confirmed.headers["location"].endswith("?done=confirmed")
    db.refresh(proposal)
    db.refresh(booking)
    assert proposal.status == "confirmed" and booking.status == "confirmed"
    withdrawn = dispatcher.post(f"/board/assignments/{proposal.id}/cancel", {"reason": ""})
    assert withdrawn.headers["location"].endswith("?done=withdrawn")
    db.refresh(proposal)
    assert proposal.status == "cancelled"
    again = dispatcher.post(f"/board/assignments/{proposal.id}/confirm", {})
    assert again.status_code == 409
    assert "This assignment cannot be confirmed." in again.text
    assert dispatcher.post(f"/board/assignments/{proposal.id}/delete", {}).status_code == 404


def test_the_day_view_shows_each_provider_s_sessions_and_drives(
    dispatcher: Browser, world: World, db: Session
) -> None:
    provider = world.provider(db, name="Yonas Tesfaye", home_lat=50.72, home_lon=3.16)
    booking = world.booking(db, hour=10)
    make_assignment(
        db, booking=booking, provider=provider, status="confirmed", created_by=world.dispatcher
    )
    html = dispatcher.get(f"/board/day?date={world.day.isoformat()}").text
    assert "Yonas Tesfaye" in html and booking.reference in html
    assert "drive from home" in html
    assert 'class="chart-held"' in html and 'class="chart-travel"' in html
    empty = dispatcher.get("/board/day?date=2001-01-01").text
    assert "Nobody of your service has work on this day yet." in empty


def test_a_dispatcher_stops_a_queued_plan_from_its_page(
    dispatcher: Browser, world: World, db: Session, solve_queued: Callable[[], list[int]]
) -> None:
    world.booking(db, hour=10)
    response = dispatcher.post(
        "/board/plans", {"start": world.day.isoformat(), "days": "1", "time_limit": "5"}
    )
    plan_page = response.headers["location"]
    stopped = dispatcher.post(plan_page + "/stop", {})
    assert stopped.status_code == 303 and stopped.headers["location"] == plan_page
    html = dispatcher.get(plan_page).text
    assert "<progress" not in html and "data-follow" not in html
    assert "Stopped by a dispatcher before it ran." in html
    assert "The technical message (in English)" in html
    assert solve_queued() == []
    # Stopping it again: it has ended, the page says so rather than failing.
    assert dispatcher.post(plan_page + "/stop", {}).status_code == 409
