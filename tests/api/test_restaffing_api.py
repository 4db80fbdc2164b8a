"""Re-staffing through HTTP: a request starting within the service's urgent hours is repaired."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import AuditLog, Plan, User
from booking.vocabulary import PlanKind, PlanStatus
from tests.api.conftest import Border
from tests.api.test_bookings_api import URL, body, in_days

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
