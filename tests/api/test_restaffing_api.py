"""Re-staffing through HTTP: a request starting within the service's urgent hours is repaired,
and a dispatcher asks a repair again, allowing confirmed work to move."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments.service import decline
from booking.models import AuditLog, Booking, Plan, User
from booking.plans.repair import run_pending_repairs
from booking.vocabulary import PlanKind, PlanStatus
from tests.api.conftest import Border
from tests.api.test_bookings_api import URL, body, in_days
from tests.booking.dispatch_world import World, now_for
from tests.factories import make_assignment, make_organisation, make_user

Headers = Callable[[User], dict[str, str]]


def _repairs(db: Session) -> list[Plan]:
    db.expire_all()
    return list(db.scalars(select(Plan).where(Plan.kind == PlanKind.REPAIR).order_by(Plan.id)))


def test_a_request_starting_within_48_hours_gets_a_repair_at_once(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    response = client.post(
        URL, json=body(border, starts_at=in_days(1).isoformat()), headers=login(border.requester)
    )
    assert response.status_code == 201, response.text
    booking_id = response.json()["id"]

    [repair] = _repairs(db)
    assert repair.status == PlanStatus.PENDING
    assert repair.providing_org_id == border.setis.id
    assert repair.created_by_id == border.dispatcher.id  # the service's, for the requester
    assert repair.parameters["trigger"] == "urgent_request"
    assert repair.parameters["booking_ids"] == [booking_id]
    assert db.scalars(
        select(AuditLog).where(
            AuditLog.action == "plan.repair_requested", AuditLog.entity_id == str(repair.id)
        )
    ).one()


def test_a_request_later_than_the_service_s_urgent_hours_waits_for_a_plan(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    border.setis.urgent_within_hours = 12
    db.commit()
    for days in (1, 10):
        response = client.post(
            URL,
            json=body(border, starts_at=in_days(days, hour=15).isoformat()),
            headers=login(border.requester),
        )
        assert response.status_code == 201, response.text
    assert _repairs(db) == []


def _repair_that_staffed_nobody(db: Session, world: World) -> tuple[Plan, Booking, Booking]:
    """Awet gave back an Arabic session only Bereket speaks; Bereket is confirmed for a
    Tigrinya session at the same hour, which Selam could take: pinned, nobody is free."""
    awet = world.provider(db, name="Awet", languages=("ara",))
    bereket = world.provider(db, name="Bereket", languages=("tir", "ara"))
    world.provider(db, name="Selam", languages=("tir",))
    arabic = world.booking(db, hour=10, language_code="ara", status="confirmed")
    gave_back = make_assignment(db, booking=arabic, provider=awet, status="confirmed")
    tigrinya = world.booking(db, hour=10, status="confirmed")
    make_assignment(db, booking=tigrinya, provider=bereket, status="confirmed")
    decline(db, actor=world.dispatcher, assignment=gave_back, lock_hours=24, now=now_for(world))
    [repair] = run_pending_repairs(db, now=now_for(world))
    assert repair.result["proposals"] == []
    return repair, arabic, tigrinya


def test_a_dispatcher_asks_a_repair_again_allowing_confirmed_work_to_move(
    client: TestClient, db: Session, world: World, auth_headers: Headers
) -> None:
    repair, arabic, tigrinya = _repair_that_staffed_nobody(db, world)
    headers = auth_headers(world.dispatcher)
    db.commit()

    response = client.post(
        f"/api/v1/plans/{repair.id}/repair-again",
        json={"move_confirmed": "allow"},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == "repair" and response.json()["status"] == "pending"
    again = db.get_one(Plan, response.json()["id"])
    assert again.parameters["move_confirmed"] == "allow"
    assert again.parameters["again_of"] == repair.id
    assert again.parameters["booking_ids"] == [arabic.id]

    [solved] = run_pending_repairs(db, now=now_for(world))  # the worker's next tick
    assert solved.id == again.id
    assert [m["booking_id"] for m in solved.result["moved"]] == [tigrinya.id]
    assert {p["booking_id"] for p in solved.result["proposals"]} == {arabic.id, tigrinya.id}


def test_asking_again_is_refused_for_a_plan_a_bad_mode_or_someone_else(
    client: TestClient, db: Session, world: World, auth_headers: Headers
) -> None:
    repair, _arabic, _tigrinya = _repair_that_staffed_nobody(db, world)
    url = f"/api/v1/plans/{repair.id}/repair-again"
    requester = auth_headers(world.requester)
    other_service = auth_headers(
        make_user(db, organisation=make_organisation(db, kind="providing"), role="dispatcher")
    )
    headers = auth_headers(world.dispatcher)
    db.commit()

    assert client.post(url, json={"move_confirmed": "always"}, headers=headers).status_code == 422
    assert client.post(url, json={}, headers=requester).status_code == 403
    assert client.post(url, json={}, headers=other_service).status_code == 404
    first = client.post(url, json={}, headers=headers)
    assert first.status_code == 202
    pending = client.post(
        f"/api/v1/plans/{first.json()['id']}/repair-again", json={}, headers=headers
    )
    assert pending.status_code == 409
    assert pending.headers["content-type"].startswith("application/problem+json")
    assert pending.json()["type"].endswith("/not_a_solved_repair")
