"""Subject requests: a beneficiary's data exported and erased by an admin, a provider's own data."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.audit import record_audit
from booking.models import AuditLog, Booking, BookingProviderPreference, User
from tests.api.conftest import Border
from tests.factories import (
    make_assignment,
    make_booking,
    make_outbox_message,
    make_preference,
)

Login = Callable[[User], dict[str, str]]
REF = "b-7c1f"


def beneficiary_bookings(db: Session, border: Border) -> list[Booking]:
    """Two sessions of one beneficiary, a third of someone else, one elsewhere with the same ref."""
    ours = [
        make_booking(
            db,
            organisation=border.centre,
            requester=border.requester,
            beneficiary_ref=REF,
            notes="Speaks little French",
        )
        for _ in range(2)
    ]
    make_booking(db, organisation=border.centre, requester=border.requester, beneficiary_ref="b-9")
    make_booking(db, organisation=border.elsewhere, requester=border.stranger, beneficiary_ref=REF)
    record_audit(
        db,
        actor=border.requester,
        action="booking.created",
        entity=ours[0],
        changes={"beneficiary_ref": [None, REF], "notes": [None, "Speaks little French"]},
    )
    make_preference(db, booking=ours[0], provider=border.provider, kind="excluded")
    make_assignment(db, booking=ours[1], provider=border.provider, status="confirmed")
    make_outbox_message(db, booking=ours[1], status="sent", context={"address": "Rue X"})
    return ours


def test_an_admin_exports_everything_under_one_reference_of_one_organisation(
    client: TestClient, db: Session, border: Border, login: Login
) -> None:
    ours = beneficiary_bookings(db, border)
    answer = client.post(
        "/api/v1/privacy/beneficiaries/export",
        json={"organisation_id": border.centre.id, "beneficiary_ref": REF},
        headers=login(border.admin),
    )
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith("attachment;")
    document = answer.json()
    assert document["beneficiary_ref"] == REF
    assert document["organisation"]["id"] == border.centre.id
    assert [b["booking"]["id"] for b in document["bookings"]] == [b.id for b in ours]
    first, second = document["bookings"]
    assert first["booking"]["notes"] == "Speaks little French"
    assert first["preferences"] == [{"provider_id": border.provider.id, "kind": "excluded"}]
    assert first["audit_trail"][0]["changes"]["beneficiary_ref"] == [None, REF]
    assert second["assignments"][0]["provider_id"] == border.provider.id
    assert [m["status"] for m in second["notifications"]] == ["sent"]
    audit = db.scalars(
        select(AuditLog).where(AuditLog.action == "privacy.beneficiary_exported")
    ).one()
    assert audit.actor_user_id == border.admin.id
    assert audit.changes == {"bookings": [b.id for b in ours]}
    assert REF not in json.dumps(audit.changes)


def test_an_admin_erases_a_beneficiary_their_bookings_stay_anonymous(
    client: TestClient, db: Session, border: Border, login: Login
) -> None:
    ours = beneficiary_bookings(db, border)
    answer = client.post(
        "/api/v1/privacy/beneficiaries/erase",
        json={"organisation_id": border.centre.id, "beneficiary_ref": REF},
        headers=login(border.admin),
    )
    assert answer.status_code == 200
    assert answer.json() == {"organisation_id": border.centre.id, "bookings": [b.id for b in ours]}
    db.expire_all()
    for booking in ours:
        kept = db.get(Booking, booking.id)
        assert kept is not None  # anonymised, not deleted
        assert (kept.beneficiary_ref, kept.notes) == (None, None)
        assert kept.language_code == "tir" and kept.organisation_id == border.centre.id
    assert db.scalar(select(func.count()).select_from(BookingProviderPreference)) == 0
    # The same reference in another organisation is another person.
    assert db.scalar(select(func.count()).where(Booking.beneficiary_ref == REF)) == 1
    trail = db.scalars(
        select(AuditLog).where(
            AuditLog.entity_type == "booking", AuditLog.entity_id == str(ours[0].id)
        )
    ).all()
    assert REF not in json.dumps([row.changes for row in trail])
    assert {row.action for row in trail} >= {"booking.created", "booking.subject_erased"}
    again = client.post(
        "/api/v1/privacy/beneficiaries/export",
        json={"organisation_id": border.centre.id, "beneficiary_ref": REF},
        headers=login(border.admin),
    )
    assert again.status_code == 404
    assert again.json()["type"].endswith("/unknown_beneficiary")


def test_subject_requests_are_for_admins_and_errors_are_problems(
    client: TestClient, db: Session, border: Border, login: Login
) -> None:
    beneficiary_bookings(db, border)
    body = {"organisation_id": border.centre.id, "beneficiary_ref": REF}
    for user in (border.requester, border.dispatcher, border.provider_user):
        for action in ("export", "erase"):
            refused = client.post(
                f"/api/v1/privacy/beneficiaries/{action}", json=body, headers=login(user)
            )
            assert refused.status_code == 403
            assert refused.headers["content-type"].startswith("application/problem+json")
    missing = client.post(
        "/api/v1/privacy/beneficiaries/export",
        json={"organisation_id": 999_999, "beneficiary_ref": REF},
        headers=login(border.admin),
    )
    assert missing.status_code == 404
    empty = client.post(
        "/api/v1/privacy/beneficiaries/erase",
        json={"organisation_id": border.centre.id, "beneficiary_ref": ""},
        headers=login(border.admin),
    )
    assert empty.status_code == 422


def test_a_provider_downloads_their_own_data_without_beneficiary_data(
    client: TestClient, db: Session, border: Border, login: Login
) -> None:
    beneficiary_bookings(db, border)
    path = f"/api/v1/privacy/providers/{border.provider.id}/export"
    answer = client.get(path, headers=login(border.provider_user))
    assert answer.status_code == 200
    document = answer.json()
    assert document["provider"]["display_name"] == "Selam T."
    assert "calendar_token_hash" not in document["provider"]
    assert [w["status"] for w in document["work"]] == ["confirmed"]
    assert REF not in answer.text and "Speaks little French" not in answer.text
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "privacy.provider_exported")).one()
    assert (audit.actor_user_id, audit.entity_id) == (
        border.provider_user.id,
        str(border.provider.id),
    )


def test_only_the_provider_and_an_admin_download_a_providers_data(
    client: TestClient, border: Border, login: Login
) -> None:
    path = f"/api/v1/privacy/providers/{border.provider.id}/export"
    assert client.get(path, headers=login(border.admin)).status_code == 200
    for user in (border.dispatcher, border.requester, border.stranger):
        refused = client.get(path, headers=login(user))
        assert refused.status_code == 404
        assert refused.headers["content-type"].startswith("application/problem+json")
