"""Who saw what through the API: reads are logged, the log is scoped and cannot be edited."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from booking.models import AuditLog, Booking, User
from booking.privacy.models import ReadLog
from tests.api.conftest import Border
from tests.factories import make_booking

Login = Callable[[User], dict[str, str]]


def logged(app: FastAPI, db: Session) -> list[tuple[str, int, int | None, int | None]]:
    """(subject type, subject id, reader user, reader provider) of every row, once flushed."""
    app.state.read_log.flush()
    return [
        (row.subject_type, row.subject_id, row.reader_user_id, row.reader_provider_id)
        for row in db.scalars(select(ReadLog).order_by(ReadLog.id))
    ]


@pytest.fixture
def booking(db: Session, border: Border) -> Booking:
    return make_booking(db, organisation=border.centre, requester=border.requester)


def test_reading_a_booking_is_logged_after_the_answer_not_during_it(
    app: FastAPI, client: TestClient, db: Session, border: Border, booking: Booking, login: Login
) -> None:
    answer = client.get(f"/api/v1/bookings/{booking.id}", headers=login(border.requester))
    assert answer.status_code == 200
    assert app.state.read_log.pending == 1
    assert db.scalar(select(func.count()).select_from(ReadLog)) == 0
    assert logged(app, db) == [("booking", booking.id, border.requester.id, None)]


def test_a_list_logs_every_booking_it_shows_and_the_history_counts_as_a_read(
    app: FastAPI, client: TestClient, db: Session, border: Border, booking: Booking, login: Login
) -> None:
    second = make_booking(db, organisation=border.centre, requester=border.requester)
    headers = login(border.dispatcher)
    assert client.get("/api/v1/bookings", headers=headers).status_code == 200
    assert client.get(f"/api/v1/bookings/{booking.id}/history", headers=headers).status_code == 200
    reads = logged(app, db)
    assert sorted(read[1] for read in reads) == sorted([booking.id, second.id, booking.id])
    assert {read[2] for read in reads} == {border.dispatcher.id}


def test_a_booking_out_of_scope_is_a_404_and_no_read(
    app: FastAPI, client: TestClient, db: Session, border: Border, booking: Booking, login: Login
) -> None:
    answer = client.get(f"/api/v1/bookings/{booking.id}", headers=login(border.stranger))
    assert answer.status_code == 404
    assert logged(app, db) == []


def test_a_providers_personal_data_is_logged_their_public_face_is_not(
    app: FastAPI, client: TestClient, db: Session, border: Border, login: Login
) -> None:
    path = f"/api/v1/providers/{border.provider.id}"
    assert "home" not in client.get(path, headers=login(border.requester)).json()
    assert "home" in client.get(path, headers=login(border.dispatcher)).json()
    assert client.get("/api/v1/providers", headers=login(border.admin)).status_code == 200
    assert client.get(path, headers=login(border.provider_user)).status_code == 200  # themself
    assert logged(app, db) == [
        ("provider", border.provider.id, border.dispatcher.id, None),
        ("provider", border.provider.id, border.admin.id, None),
    ]


def test_a_calendar_feed_read_names_the_provider_whose_token_was_used(
    app: FastAPI, client: TestClient, db: Session, border: Border, login: Login
) -> None:
    provider_id = border.provider.id
    issued = client.post(
        f"/api/v1/providers/{provider_id}/calendar-token", headers=login(border.provider_user)
    )
    token = issued.json()["token"]
    feed = f"/api/v1/providers/{provider_id}/calendar.ics"
    assert client.get(feed, params={"token": token}).status_code == 200
    assert client.get(feed, params={"token": "cal_wrong"}).status_code == 404
    assert logged(app, db) == [("calendar_feed", provider_id, None, provider_id)]


def test_the_read_log_is_for_admins_and_dispatchers_of_the_data(
    app: FastAPI, client: TestClient, db: Session, border: Border, booking: Booking, login: Login
) -> None:
    client.get(f"/api/v1/bookings/{booking.id}", headers=login(border.requester))
    client.get(f"/api/v1/providers/{border.provider.id}", headers=login(border.dispatcher))

    as_admin = client.get("/api/v1/privacy/read-log", headers=login(border.admin))
    assert as_admin.status_code == 200
    items = as_admin.json()["items"]
    assert [(i["subject_type"], i["reader_user_id"]) for i in items] == [
        ("provider", border.dispatcher.id),
        ("booking", border.requester.id),
    ]
    assert items[1]["subject_organisation_id"] == border.centre.id
    assert items[1]["reader_organisation_id"] == border.centre.id

    filtered = client.get(
        "/api/v1/privacy/read-log",
        params={"subject_type": "booking", "subject_id": booking.id},
        headers=login(border.admin),
    )
    assert [i["subject_id"] for i in filtered.json()["items"]] == [booking.id]

    as_dispatcher = client.get("/api/v1/privacy/read-log", headers=login(border.dispatcher))
    # SéTIS's data (its provider) and its people's reads; not the centre's own reads.
    assert [i["subject_type"] for i in as_dispatcher.json()["items"]] == ["provider"]

    refused = client.get("/api/v1/privacy/read-log", headers=login(border.requester))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
def test_the_read_log_cannot_be_edited_through_the_api(
    client: TestClient, border: Border, login: Login, method: str
) -> None:
    answer = client.request(method, "/api/v1/privacy/read-log", headers=login(border.admin))
    assert answer.status_code == 405


@pytest.mark.postgres
def test_postgresql_refuses_to_update_a_read_log_row(
    app: FastAPI, client: TestClient, db: Session, border: Border, booking: Booking, login: Login
) -> None:
    client.get(f"/api/v1/bookings/{booking.id}", headers=login(border.requester))
    app.state.read_log.flush()
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text("UPDATE read_log SET reader_user_id = NULL"))


def test_retention_periods_are_set_by_an_admin_and_audited(
    client: TestClient, db: Session, border: Border, login: Login
) -> None:
    path = f"/api/v1/privacy/retention/{border.centre.id}"
    assert client.get(path, headers=login(border.admin)).json() == {
        "organisation_id": border.centre.id,
        "months": 12,
    }
    assert client.put(path, json={"months": 6}, headers=login(border.admin)).status_code == 200
    assert client.get(path, headers=login(border.admin)).json()["months"] == 6
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "privacy.retention_set")).one()
    assert (audit.actor_user_id, audit.organisation_id, audit.changes) == (
        border.admin.id,
        border.centre.id,
        {"months": [12, 6]},
    )
    assert client.put(path, json={"months": 0}, headers=login(border.admin)).status_code == 422
    assert client.put(path, json={"months": 6}, headers=login(border.dispatcher)).status_code == 403
    assert (
        client.get("/api/v1/privacy/retention/999999", headers=login(border.admin)).status_code
        == 404
    )
    preview = client.get("/api/v1/privacy/retention/preview", headers=login(border.admin))
    assert preview.status_code == 200 and preview.json()["bookings"] == []
