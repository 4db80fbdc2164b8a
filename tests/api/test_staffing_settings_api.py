"""A providing service's staffing settings: read by its people, changed by an admin, audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import AuditLog, Organisation, User
from tests.factories import make_organisation, make_user

Headers = dict[str, str]


@pytest.fixture
def setis(db: Session) -> Organisation:
    return make_organisation(db, name="SéTIS wallon", kind="providing")


@pytest.fixture
def as_admin(db: Session, setis: Organisation, auth_headers: Callable[[User], Headers]) -> Headers:
    headers = auth_headers(make_user(db, organisation=setis, role="admin", locale="en"))
    db.commit()
    return headers


def _patch(client: TestClient, org: Organisation, headers: Headers, **body: Any) -> Any:
    return client.patch(f"/api/v1/organisations/{org.id}", json=body, headers=headers)


def test_a_service_shows_its_staffing_settings_with_their_defaults(
    client: TestClient, db: Session, setis: Organisation, auth_headers: Callable[[User], Headers]
) -> None:
    headers = auth_headers(make_user(db, organisation=setis, role="dispatcher"))
    db.commit()
    body = client.get(f"/api/v1/organisations/{setis.id}", headers=headers).json()
    assert (body["fairness_weight"], body["auto_offer"], body["urgent_within_hours"]) == (
        0,
        False,
        48,
    )


def test_an_admin_changes_the_staffing_settings_and_the_change_is_audited(
    client: TestClient, db: Session, setis: Organisation, as_admin: Headers
) -> None:
    response = _patch(
        client, setis, as_admin, fairness_weight=5, auto_offer=True, urgent_within_hours=24
    )
    assert response.status_code == 200, response.text
    assert response.json()["fairness_weight"] == 5
    assert response.json()["auto_offer"] is True
    assert response.json()["urgent_within_hours"] == 24
    [entry] = db.scalars(
        select(AuditLog).where(
            AuditLog.action == "organisation.updated", AuditLog.entity_id == str(setis.id)
        )
    ).all()
    assert entry.changes["fairness_weight"] == [0, 5]
    assert entry.changes["auto_offer"] == [False, True]
    assert entry.changes["urgent_within_hours"] == [48, 24]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fairness_weight", -1),
        ("fairness_weight", 1001),
        ("urgent_within_hours", -2),
        ("urgent_within_hours", 10_000),
        ("auto_offer", "perhaps"),
    ],
)
def test_a_setting_out_of_range_is_refused_as_a_problem(
    client: TestClient, setis: Organisation, as_admin: Headers, field: str, value: object
) -> None:
    response = _patch(client, setis, as_admin, **{field: value})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_a_requesting_organisation_has_no_staffing_settings(
    client: TestClient, db: Session, as_admin: Headers
) -> None:
    centre = make_organisation(db, kind="requesting")
    db.commit()
    response = _patch(client, centre, as_admin, auto_offer=True)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {e["field"]: e["type"] for e in response.json()["errors"]} == {
        "auto_offer": "not_providing"
    }


def test_a_dispatcher_cannot_change_their_service_s_settings(
    client: TestClient, db: Session, setis: Organisation, auth_headers: Callable[[User], Headers]
) -> None:
    headers = auth_headers(make_user(db, organisation=setis, role="dispatcher"))
    db.commit()
    assert _patch(client, setis, headers, auto_offer=True).status_code == 403
    db.refresh(setis)
    assert setis.auto_offer is False
