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
