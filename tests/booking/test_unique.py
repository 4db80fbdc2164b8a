"""Unique keys hold in the database, including the partial one on active assignments."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from booking.models import ApiToken, ProviderLanguage
from tests.booking.helpers import assert_refused
from tests.factories import (
    make_api_token,
    make_assignment,
    make_booking,
    make_idempotency_record,
    make_language,
    make_organisation,
    make_outbox_message,
    make_preference,
    make_provider,
    make_series,
    make_service_agreement,
    make_user,
)


def test_email_is_unique_whatever_its_case(db: Session) -> None:
    make_user(db, email="camille.dupont@example.org")
    assert_refused(db, lambda: make_user(db, email="Camille.Dupont@Example.ORG "), "uq_user_email")


def test_email_is_stored_lower_case(db: Session) -> None:
    assert make_user(db, email="  Ana.Silva@CPAS-Mouscron.be").email == (
        "ana.silva@cpas-mouscron.be"
    )


def test_outbox_dedup_key_is_unique(db: Session) -> None:
    key = "reminder-24h:assignment:42:2026-12-01T09:00:00+00:00"
    make_outbox_message(db, dedup_key=key)
    assert_refused(
        db, lambda: make_outbox_message(db, dedup_key=key), "uq_outbox_message_dedup_key"
    )


def test_one_accepted_or_confirmed_assignment_per_booking(db: Session) -> None:
    booking = make_booking(db)
    make_assignment(db, booking=booking, status="confirmed")
    assert_refused(
        db,
        lambda: make_assignment(db, booking=booking, status="accepted"),
        "uq_assignment_booking_id_active",
    )
    assert_refused(
        db,
        lambda: make_assignment(db, booking=booking, status="confirmed"),
        "uq_assignment_booking_id_active",
    )


def test_inactive_assignments_do_not_count(db: Session) -> None:
    booking = make_booking(db)
    make_assignment(db, booking=booking, status="confirmed")
    for status in ("proposed", "offered", "declined", "cancelled", "expired", "declined"):  # twice
        make_assignment(db, booking=booking, status=status)
    db.flush()


def test_a_declined_booking_can_be_given_to_someone_else(db: Session) -> None:
    booking = make_booking(db)
    first = make_assignment(db, booking=booking, status="accepted")
    first.status = "declined"
    db.flush()
    make_assignment(db, booking=booking, status="accepted")
    db.flush()


def test_other_unique_keys(db: Session) -> None:
    booking = make_booking(db)
    assert_refused(
        db, lambda: make_booking(db, reference=booking.reference), "uq_booking_reference"
    )

    provider = make_provider(db, languages=("tir",))
    assert_refused(
        db,
        lambda: db.add(ProviderLanguage(provider_id=provider.id, language_code="tir")),
        "uq_provider_language_provider_id_language_code",
    )

    make_preference(db, booking=booking, provider=provider, kind="excluded")
    make_preference(db, booking=booking, provider=provider, kind="preferred")
    assert_refused(
        db,
        lambda: make_preference(db, booking=booking, provider=provider, kind="excluded"),
        "uq_booking_provider_preference_booking_id_provider_id_kind",
    )

    user = make_user(db)
    make_idempotency_record(db, user=user, key="k-1")
    assert_refused(
        db,
        lambda: make_idempotency_record(db, user=user, key="k-1"),
        "uq_idempotency_record_user_id_key",
    )
    make_idempotency_record(db, key="k-1")  # another user may reuse the key

    token, _ = make_api_token(db)
    assert_refused(
        db,
        lambda: db.add(ApiToken(user_id=user.id, name="copy", token_hash=token.token_hash)),
        "uq_api_token_token_hash",
    )

    providing, requesting = make_organisation(db, kind="providing"), make_organisation(db)
    make_service_agreement(db, providing=providing, requesting=requesting)
    assert_refused(
        db,
        lambda: make_service_agreement(db, providing=providing, requesting=requesting),
        "uq_service_agreement_providing_org_id_requesting_org_id",
    )

    make_language(db, code="prs")
    provider_user = make_user(db, role="provider")
    make_provider(db, user=provider_user)
    assert_refused(db, lambda: make_provider(db, user=provider_user), "uq_provider_user_id")


def test_series_index_is_unique_within_a_series(db: Session) -> None:
    series = make_series(db)
    start = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    make_booking(db, series_id=series.id, series_index=0, starts_at=start)
    assert_refused(
        db,
        lambda: make_booking(db, series_id=series.id, series_index=0, starts_at=start),
        "uq_booking_series_id_series_index",
    )
