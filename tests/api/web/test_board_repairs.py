"""The board tells a dispatcher what fell through: a badge with the repairs that wait for them,
and the service's staffing settings beside the plan form."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments import service as assignments
from booking.models import Assignment
from booking.plans.repair import run_pending_repairs
from tests.api.web.conftest import Browser
from tests.booking.dispatch_world import World, now_for
from tests.factories import make_assignment

BADGE = re.compile(r'id="board-repairs".*?<span class="badge">(\d+)</span>', re.S)


def _gives_back_and_is_repaired(db: Session, world: World) -> int:
    """Awet gives back a confirmed session; Selam is free: the repair proposes Selam."""
    awet = world.provider(db, name="Awet")
    world.provider(db, name="Selam")
    booking = world.booking(db, hour=10, status="confirmed")
    held = make_assignment(db, booking=booking, provider=awet, status="confirmed")
    assignments.decline(
        db, actor=world.dispatcher, assignment=held, lock_hours=24, now=now_for(world)
    )
    [repair] = run_pending_repairs(db, now=now_for(world))
    return repair.id


@pytest.mark.parametrize(
    ("locale", "sentence"),
    [
        ("en", "Work fell through"),
        ("fr", "Réparation"),
        ("nl", "Herplanning"),
    ],
)
def test_a_repair_waiting_for_the_dispatcher_shows_as_a_badge_on_the_board(
    browser: Browser, world: World, db: Session, locale: str, sentence: str
) -> None:
    repair_id = _gives_back_and_is_repaired(db, world)
    html = browser.sign_in(world.dispatcher).language(locale).get("/board").text

    badge = BADGE.search(html)
    assert badge is not None and badge.group(1) == "1"
    assert f'href="/board/plans/{repair_id}"' in html and sentence in html
    assert browser.get(f"/board/plans/{repair_id}").status_code == 200


def test_once_its_proposals_are_confirmed_the_badge_goes(
    browser: Browser, world: World, db: Session
) -> None:
    repair_id = _gives_back_and_is_repaired(db, world)
    for proposal in db.scalars(select(Assignment).where(Assignment.plan_id == repair_id)):
        assignments.confirm(db, actor=world.dispatcher, assignment=proposal, now=now_for(world))
    html = browser.sign_in(world.dispatcher).language("en").get("/board").text
    assert 'id="board-repairs"' not in html


def test_the_board_shows_the_service_s_staffing_settings(
    browser: Browser, world: World, db: Session
) -> None:
    world.service.fairness_weight = 3
    world.service.auto_offer = True
    world.service.urgent_within_hours = 24
    html = browser.sign_in(world.dispatcher).language("en").get("/board").text
    line = re.search(r'id="board-staffing">([^<]*)<', html)
    assert line is not None
    assert "weight 3" in line.group(1) and "within 24 h" in line.group(1)
    assert "go out as offers at once" in line.group(1)


def test_a_dispatcher_asks_a_repair_that_staffed_nobody_again_allowing_confirmed_work_to_move(
    browser: Browser, world: World, db: Session
) -> None:
    awet = world.provider(db, name="Awet", languages=("ara",))
    bereket = world.provider(db, name="Bereket", languages=("tir", "ara"))
    world.provider(db, name="Selam", languages=("tir",))
    arabic = world.booking(db, hour=10, language_code="ara", status="confirmed")
    gave_back = make_assignment(db, booking=arabic, provider=awet, status="confirmed")
    tigrinya = world.booking(db, hour=10, status="confirmed")
    make_assignment(db, booking=tigrinya, provider=bereket, status="confirmed")
    assignments.decline(
        db, actor=world.dispatcher, assignment=gave_back, lock_hours=24, now=now_for(world)
    )
    [repair] = run_pending_repairs(db, now=now_for(world))
    dispatcher = browser.sign_in(world.dispatcher).language("fr")
    assert 'id="repair-again-allow"' in dispatcher.get(f"/board/plans/{repair.id}").text

    response = dispatcher.post(
        f"/board/plans/{repair.id}/repair-again", {"move_confirmed": "allow"}
    )

    assert response.status_code == 303
    [again] = run_pending_repairs(db, now=now_for(world))
    assert response.headers["location"] == f"/board/plans/{repair.id}?again={again.id}"
    assert again.parameters["move_confirmed"] == "allow"
    assert [m["booking_id"] for m in again.result["moved"]] == [tigrinya.id]
    page = dispatcher.get(response.headers["location"]).text
    assert 'id="repair-requested"' in page and f"{again.id}" in page


def test_asking_an_ordinary_plan_again_is_refused_on_the_page(
    browser: Browser, world: World, db: Session
) -> None:
    world.booking(db, hour=10)
    dispatcher = browser.sign_in(world.dispatcher).language("en")
    ran = dispatcher.post("/board/plans", {"start": world.day.isoformat(), "days": "1"})
    plan_url = ran.headers["location"].split("?")[0]
    assert 'id="repair-again-form"' not in dispatcher.get(plan_url).text
    refused = dispatcher.post(f"{plan_url}/repair-again", {"move_confirmed": "allow"})
    assert refused.status_code == 409
    assert "Only a solved repair can be asked again." in refused.text
