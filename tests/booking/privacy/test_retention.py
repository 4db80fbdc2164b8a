"""Retention on a frozen clock: what past sessions, notifications and the read log lose."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from booking.audit import AuditLog, record_audit
from booking.bookings.models import Booking, BookingProviderPreference
from booking.db import session_scope
from booking.outbox.models import OutboxMessage
from booking.privacy.models import ReadLog, RetentionPolicy
from booking.privacy.retention import (
    ERASED,
    apply_retention,
    months_before,
    retention_plan,
)
from tests.factories import (
    make_booking,
    make_organisation,
    make_outbox_message,
    make_preference,
    make_provider,
    make_user,
)

NOW = dt.datetime(2027, 6, 1, 1, 30, tzinfo=dt.UTC)
"""The frozen clock of every test here: 1 June 2027, the night of a retention run."""
OLD = dt.datetime(2026, 5, 20, 9, 0, tzinfo=dt.UTC)  # more than 12 months before NOW
RECENT = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)  # less than 12 months before NOW


def old_session(db: Session, **fields: object) -> Booking:
    booking = make_booking(
        db,
        starts_at=OLD,
        beneficiary_ref="b-7c1f",
        notes="Mother of two, afraid of men in uniform",
        status="done",
        **fields,
    )
    record_audit(
        db,
        actor=None,
        action="booking.created",
        entity=booking,
        changes={
            "beneficiary_ref": [None, "b-7c1f"],
            "notes": [None, booking.notes],
            "language_code": [None, "tir"],
        },
    )
    return booking


def test_months_before_counts_calendar_months_and_clamps_the_day() -> None:
    march_end = dt.datetime(2027, 3, 31, 12, tzinfo=dt.UTC)
    assert months_before(march_end, 1) == dt.datetime(2027, 2, 28, 12, tzinfo=dt.UTC)
    assert months_before(march_end, 12) == dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC)
    assert months_before(dt.datetime(2027, 1, 15, tzinfo=dt.UTC), 2) == dt.datetime(
        2026, 11, 15, tzinfo=dt.UTC
    )


def test_the_dry_run_lists_sessions_past_their_period_and_changes_nothing(db: Session) -> None:
    old = old_session(db)
    make_preference(db, booking=old, kind="excluded")
    recent = make_booking(db, starts_at=RECENT, beneficiary_ref="b-0001", status="done")

    plan = retention_plan(db, now=NOW)

    [listed] = plan.bookings
    assert (listed.id, listed.reference) == (old.id, old.reference)
    assert listed.fields == ("beneficiary_ref", "notes", "address", "preferences")
    db.expire_all()
    assert db.get(Booking, old.id).beneficiary_ref == "b-7c1f"  # type: ignore[union-attr]
    assert db.get(Booking, recent.id).beneficiary_ref == "b-0001"  # type: ignore[union-attr]


def test_a_run_erases_the_beneficiary_data_and_keeps_what_statistics_need(db: Session) -> None:
    old = old_session(db, cancel_reason=None)
    preference = make_preference(db, booking=old, kind="excluded")
    before = (old.language_code, old.session_kind, old.starts_at, old.duration_minutes)

    plan = apply_retention(db, now=NOW)

    assert [b.id for b in plan.bookings] == [old.id]
    db.expire_all()
    erased = db.get(Booking, old.id)
    assert erased is not None
    assert (erased.beneficiary_ref, erased.notes, erased.address) == (None, None, None)
    assert (
        erased.language_code,
        erased.session_kind,
        erased.starts_at,
        erased.duration_minutes,
    ) == before
    assert erased.organisation_id == old.organisation_id and erased.status == "done"
    # The place is kept to about a kilometre: travel statistics stay countable.
    assert (erased.location_lat, erased.location_lon) == (50.61, 3.39)
    assert db.get(BookingProviderPreference, preference.id) is None


def test_a_run_erases_the_same_values_from_the_audit_trail_and_audits_itself(
    db: Session,
) -> None:
    old = old_session(db)

    apply_retention(db, now=NOW)

    trail = {
        row.action: row.changes
        for row in db.scalars(
            select(AuditLog).where(
                AuditLog.entity_type == "booking", AuditLog.entity_id == str(old.id)
            )
        )
    }
    assert trail["booking.created"] == {
        "beneficiary_ref": [None, ERASED],
        "notes": [None, ERASED],
        "language_code": [None, "tir"],
    }
    assert trail["booking.retention_erased"] == {"erased": ["beneficiary_ref", "notes", "address"]}
    run = db.scalars(select(AuditLog).where(AuditLog.action == "privacy.retention_run")).one()
    assert run.changes == {"bookings": 1, "notifications": 0, "read_log_rows": 0}


def test_a_second_run_finds_nothing_left_to_erase(db: Session) -> None:
    old_session(db)
    apply_retention(db, now=NOW)
    assert retention_plan(db, now=NOW).summary() == {
        "bookings": 0,
        "notifications": 0,
        "read_log_rows": 0,
    }


def test_each_organisation_sets_its_own_period(db: Session) -> None:
    brief = make_organisation(db, name="Équipe mobile (3 mois)")
    db.add(RetentionPolicy(organisation_id=brief.id, months=3))
    four_months_ago = NOW - dt.timedelta(days=122)
    short = make_booking(
        db,
        requester=make_user(db, organisation=brief),
        starts_at=four_months_ago,
        status="done",
    )
    default = make_booking(db, starts_at=four_months_ago, status="done")

    plan = retention_plan(db, now=NOW)

    assert [b.id for b in plan.bookings] == [short.id]
    assert default.beneficiary_ref == "b-7c1f"


def test_a_session_is_kept_until_its_period_has_passed(db: Session) -> None:
    booking = make_booking(db, starts_at=RECENT, status="done")
    day_after_period = RECENT + dt.timedelta(days=366)
    assert retention_plan(db, now=NOW).bookings == []
    assert [b.id for b in retention_plan(db, now=day_after_period).bookings] == [booking.id]


@pytest.mark.parametrize(
    ("status", "age_days", "erased"),
    [
        ("sent", 91, True),
        ("void", 120, True),
        ("dead", 95, True),
        ("sent", 89, False),
        ("pending", 200, False),
        ("failed", 200, False),
    ],
)
def test_closed_notifications_lose_their_body_after_90_days(
    db: Session, status: str, age_days: int, erased: bool
) -> None:
    instant = NOW - dt.timedelta(days=age_days)
    message = make_outbox_message(
        db,
        status=status,
        context={"language": "Tigrinya", "address": "Rue de la Citadelle 1"},
        created_at=instant,
        due_at=instant,
        **({"sent_at": instant} if status == "sent" else {}),
    )

    plan = apply_retention(db, now=NOW)

    assert (message.id in plan.notification_ids) is erased
    db.expire_all()
    context = db.get(OutboxMessage, message.id).context  # type: ignore[union-attr]
    assert (context == {}) is erased


def test_the_read_log_forgets_rows_older_than_12_months(db: Session) -> None:
    provider = make_provider(db)
    for at in (NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=300)):
        db.add(
            ReadLog(
                at=at,
                reader_user_id=None,
                reader_provider_id=provider.id,
                reader_organisation_id=provider.organisation_id,
                subject_type="calendar_feed",
                subject_id=provider.id,
                subject_organisation_id=provider.organisation_id,
                via="feed",
            )
        )
    db.flush()

    assert retention_plan(db, now=NOW).read_log_rows == 1
    assert apply_retention(db, now=NOW).read_log_rows == 1
    assert db.scalar(select(func.count()).select_from(ReadLog)) == 1


@pytest.mark.postgres
def test_two_workers_never_run_retention_side_by_side(
    committing_session_factory: sessionmaker[Session],
) -> None:
    with session_scope(committing_session_factory) as setup:
        old = old_session(setup)
        booking_id = old.id
    first = committing_session_factory()
    second = committing_session_factory()
    try:
        assert [b.id for b in apply_retention(first, now=NOW).bookings] == [booking_id]
        late = apply_retention(second, now=NOW)  # while the first run's transaction is open
        assert late.skipped and late.bookings == []
        first.commit()
        second.rollback()
        assert apply_retention(second, now=NOW).skipped is False
    finally:
        first.close()
        second.close()
