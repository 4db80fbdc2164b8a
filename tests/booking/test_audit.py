"""The audit trail records who did what to which row, with JSON-safe changes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from booking.audit import pending_changes, record_audit
from tests.factories import BRUSSELS, make_booking, make_organisation, make_user


def test_record_audit_for_a_change(db: Session) -> None:
    dispatcher = make_user(db, role="dispatcher")
    booking = make_booking(db, starts_at=dt.datetime(2026, 12, 1, 10, tzinfo=BRUSSELS))

    booking.starts_at = dt.datetime(2026, 12, 1, 11, tzinfo=BRUSSELS)
    booking.priority = 3
    changes = pending_changes(booking)
    entry = record_audit(
        db, actor=dispatcher, action="booking.rescheduled", entity=booking, changes=changes
    )
    db.flush()

    assert entry.id is not None
    assert entry.entity_type == "booking"
    assert entry.entity_id == str(booking.id)
    assert entry.actor_user_id == dispatcher.id
    assert entry.organisation_id == booking.organisation_id  # the entity's, not the actor's
    assert entry.at.tzinfo is not None
    assert entry.changes == {
        "starts_at": ["2026-12-01T09:00:00+00:00", "2026-12-01T10:00:00+00:00"],
        "priority": [1, 3],
    }


def test_record_audit_flushes_a_new_entity_and_falls_back_to_the_actor_org(db: Session) -> None:
    from booking.models import Language

    organisation = make_organisation(db)
    admin = make_user(db, organisation=organisation, role="admin")
    language = Language(code="kmr", name_fr="kurmandji", name_nl="Kurmanci", name_en="Kurmanji")
    db.add(language)
    entry = record_audit(db, actor=admin, action="language.created", entity=language)
    assert entry.entity_id == "kmr"
    assert entry.entity_type == "language"
    assert entry.organisation_id == organisation.id
    assert entry.changes == {}


def test_record_audit_by_the_system(db: Session) -> None:
    booking = make_booking(db)
    entry = record_audit(
        db, actor=None, action="booking.unfilled", entity=booking, changes={"reason": "capacity"}
    )
    db.flush()
    assert entry.actor_user_id is None
    assert entry.changes == {"reason": "capacity"}


def test_pending_changes_is_empty_after_flush(db: Session) -> None:
    booking = make_booking(db)
    booking.priority = 2
    assert pending_changes(booking) == {"priority": [1, 2]}
    db.flush()
    assert pending_changes(booking) == {}
