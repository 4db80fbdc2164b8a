"""Security review, finding 1: an admin's plan must not hand other services' bookings around.

The story: the admin plans every service; the dispatcher of another service
reads the plans and tries to apply them (offers and confirmations), through
the API and the board. Every door answers 404 or 403, nothing is offered or
confirmed, no message is queued.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.models import Assignment, Booking, OutboxMessage, Plan, Provider, User
from booking.settings import Settings
from booking.vocabulary import AssignmentStatus, BookingStatus
from tests.api.web.conftest import Browser
from tests.booking.dispatch_world import World, at, make_world
from tests.factories import make_language, make_user

Solve = Callable[[], list[int]]
Headers = Callable[[User], dict[str, str]]


@dataclass
class TwoServices:
    """SéTIS serves Tournai; the Kortrijk service serves Kortrijk; one admin over both."""

    setis: World
    kortrijk: World
    admin: User
    setis_provider: Provider
    kortrijk_provider: Provider
    tournai_booking: Booking
    kortrijk_booking: Booking


@pytest.fixture
def two(db: Session) -> TwoServices:
    setis = make_world(db)
    kortrijk = make_world(db, day=setis.day)
    kortrijk.service.name = "Tolkendienst Kortrijk"
    kortrijk.centre.name = "OCMW Kortrijk"
    return TwoServices(
        setis=setis,
        kortrijk=kortrijk,
        admin=make_user(db, organisation=setis.service, role="admin"),
        setis_provider=setis.provider(db, name="Awet (SéTIS)"),
        kortrijk_provider=kortrijk.provider(db, name="Lemlem (Kortrijk)"),
        tournai_booking=setis.booking(db, hour=10),
        kortrijk_booking=kortrijk.booking(db, hour=10),
    )


@pytest.fixture
def browser(client: TestClient, settings: Settings, db: Session) -> Browser:
    return Browser(client, settings, db)


def horizon(world: World) -> dict[str, object]:
    return {
        "horizon_start": at(world.day, 0).isoformat(),
        "horizon_end": at(world.day + dt.timedelta(days=1), 0).isoformat(),
        "time_limit": 5,
    }


def plan_proposing(db: Session, booking: Booking) -> Plan:
    """The plan whose proposal names ``booking``."""
    assignment = db.scalars(
        select(Assignment).where(
            Assignment.booking_id == booking.id, Assignment.plan_id.is_not(None)
        )
    ).one()
    return db.get_one(Plan, assignment.plan_id)


def messages_about(db: Session, booking: Booking) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.booking_id == booking.id)
        )
        or 0
    )


def test_an_admin_plan_of_every_service_cannot_be_read_or_applied_by_another_service(
    client: TestClient, db: Session, two: TwoServices, login: Headers, solve_queued: Solve
) -> None:
    admin = login(two.admin)
    created = client.post("/api/v1/plans", json=horizon(two.setis), headers=admin)
    assert created.status_code == 202, created.text
    assert len(solve_queued()) == 2
    theirs, ours = plan_proposing(db, two.kortrijk_booking), plan_proposing(db, two.tournai_booking)

    dispatcher = login(two.setis.dispatcher)
    # The booking itself was already hidden; now the plan that names it is too.
    assert (
        client.get(f"/api/v1/bookings/{two.kortrijk_booking.id}", headers=dispatcher).status_code
        == 404
    )
    assert client.get(f"/api/v1/plans/{theirs.id}", headers=dispatcher).status_code == 404
    before = messages_about(db, two.kortrijk_booking)
    for mode in ("offer", "confirm"):
        applied = client.post(
            f"/api/v1/plans/{theirs.id}/apply", json={"mode": mode}, headers=dispatcher
        )
        assert applied.status_code == 404, applied.text

    # One plan per service, each staffing its own bookings with its own people.
    assert theirs.id != ours.id
    assert created.json()["batch_plan_ids"] == sorted([ours.id, theirs.id])
    assert theirs.providing_org_id == two.kortrijk.service.id
    assert ours.providing_org_id == two.setis.service.id
    assert [(p["booking_id"], p["provider_id"]) for p in theirs.result["proposals"]] == [
        (two.kortrijk_booking.id, two.kortrijk_provider.id)
    ]
    assert [(p["booking_id"], p["provider_id"]) for p in ours.result["proposals"]] == [
        (two.tournai_booking.id, two.setis_provider.id)
    ]
    before = messages_about(db, two.kortrijk_booking)

    dispatcher = login(two.setis.dispatcher)
    # The booking itself was already hidden; now the plan that names it is too.
    assert (
        client.get(f"/api/v1/bookings/{two.kortrijk_booking.id}", headers=dispatcher).status_code
        == 404
    )
    assert client.get(f"/api/v1/plans/{theirs.id}", headers=dispatcher).status_code == 404
    listed = client.get("/api/v1/plans", headers=dispatcher).json()["items"]
    assert [p["id"] for p in listed] == [ours.id]
    assert listed[0]["providing_org_id"] == two.setis.service.id
    mine = client.get(f"/api/v1/plans/{ours.id}", headers=dispatcher).json()
    assert mine["batch_plan_ids"] == []  # the other services' plans are not named to them
    [proposal] = theirs.result["proposals"]
    assert (
        client.post(
            f"/api/v1/assignments/{proposal['assignment_id']}/confirm", headers=dispatcher
        ).status_code
        == 404
    )
    db.expire_all()
    assert db.get_one(Assignment, proposal["assignment_id"]).status == AssignmentStatus.PROPOSED
    assert db.get_one(Booking, two.kortrijk_booking.id).status == BookingStatus.PROPOSED
    assert messages_about(db, two.kortrijk_booking) == before

    # Their own dispatcher reads and applies it.
    own = login(two.kortrijk.dispatcher)
    assert client.get(f"/api/v1/plans/{theirs.id}", headers=own).status_code == 200
    done = client.post(f"/api/v1/plans/{theirs.id}/apply", json={"mode": "confirm"}, headers=own)
    assert done.status_code == 200, done.text
    assert [a["status"] for a in done.json()["applied"]] == ["confirmed"]


def test_the_board_hides_another_services_plan_page_and_apply(
    client: TestClient,
    db: Session,
    two: TwoServices,
    login: Headers,
    browser: Browser,
    solve_queued: Solve,
) -> None:
    client.post("/api/v1/plans", json=horizon(two.setis), headers=login(two.admin))
    solve_queued()
    theirs = plan_proposing(db, two.kortrijk_booking)
    browser.sign_in(two.setis.dispatcher).language("en")
    assert browser.get(f"/board/plans/{theirs.id}").status_code == 404
    for mode in ("offer", "confirm"):
        answer = browser.post(f"/board/plans/{theirs.id}/apply", {"mode": mode, "scope": "all"})
        assert answer.status_code == 404
    board = browser.get("/board")
    assert f"/board/plans/{theirs.id}" not in board.text
    db.expire_all()
    assert db.get_one(Booking, two.kortrijk_booking.id).status == BookingStatus.PROPOSED


def test_an_admin_plan_respects_service_agreements(
    client: TestClient, db: Session, two: TwoServices, login: Headers, solve_queued: Solve
) -> None:
    # Only SéTIS has a Somali speaker; Kortrijk's centre is not SéTIS's to serve.
    make_language(db, code="som")
    two.setis.provider(db, name="Ayaan (SéTIS)", languages=("som",))
    somali = two.kortrijk.booking(db, hour=14, language_code="som")
    created = client.post("/api/v1/plans", json=horizon(two.setis), headers=login(two.admin))
    assert created.status_code == 202, created.text
    solve_queued()
    plans = db.scalars(select(Plan)).all()
    proposed = {p["booking_id"] for plan in plans for p in plan.result["proposals"]}
    assert somali.id not in proposed
    left = {u["booking_id"]: plan for plan in plans for u in plan.result["unassigned"]}
    assert left[somali.id].providing_org_id == two.kortrijk.service.id


def test_an_admin_plans_one_service_by_naming_it(
    client: TestClient, db: Session, two: TwoServices, login: Headers, solve_queued: Solve
) -> None:
    body = {**horizon(two.setis), "providing_org_id": two.kortrijk.service.id}
    admin = login(two.admin)
    created = client.post("/api/v1/plans", json=body, headers=admin)
    assert created.status_code == 202, created.text
    assert solve_queued() == [created.json()["id"]]
    plan = client.get(created.headers["location"], headers=admin).json()
    assert plan["providing_org_id"] == two.kortrijk.service.id
    assert plan["batch_plan_ids"] == []
    assert [p["booking_id"] for p in plan["proposals"]] == [two.kortrijk_booking.id]


@pytest.mark.parametrize("whose", ["other service", "requesting organisation", "unknown"])
def test_a_plan_for_a_service_one_may_not_plan_is_422(
    client: TestClient, two: TwoServices, login: Headers, whose: str
) -> None:
    target = {
        "other service": two.kortrijk.service.id,
        "requesting organisation": two.setis.centre.id,
        "unknown": 987654,
    }[whose]
    caller = two.setis.dispatcher if whose == "other service" else two.admin
    body = {**horizon(two.setis), "providing_org_id": target}
    answer = client.post("/api/v1/plans", json=body, headers=login(caller))
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "providing_org_id"


def test_an_admin_plans_every_service_from_the_board_and_sees_the_whole_run(
    db: Session, two: TwoServices, browser: Browser
) -> None:
    browser.sign_in(two.admin).language("en")
    answer = browser.post(
        "/board/plans", {"start": two.setis.day.isoformat(), "days": "1", "time_limit": "5"}
    )
    assert answer.status_code == 303, answer.text
    first = browser.get(answer.headers["location"])
    assert first.status_code == 200
    plans = db.scalars(select(Plan).order_by(Plan.id)).all()
    assert [p.providing_org_id for p in plans] == [two.setis.service.id, two.kortrijk.service.id]
    assert "Planned together, one plan per service:" in first.text
    assert f'href="/board/plans/{plans[1].id}"' in first.text
    assert two.kortrijk.service.name in first.text
    # A dispatcher's own plan page names the service and nothing of the others.
    browser.sign_in(two.kortrijk.dispatcher)
    theirs = browser.get(f"/board/plans/{plans[1].id}")
    assert theirs.status_code == 200
    assert "Planned together" not in theirs.text
