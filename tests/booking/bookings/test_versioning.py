"""Optimistic locking: the booking's version_id is its ETag and catches lost updates."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from booking.models import Booking
from tests.factories import make_booking


def test_version_starts_at_one_and_increments_on_each_update(db: Session) -> None:
    booking = make_booking(db)
    assert booking.version_id == 1
    created_at, updated_at = booking.created_at, booking.updated_at

    booking.priority = 3
    db.flush()
    assert booking.version_id == 2
    assert booking.updated_at >= updated_at
    assert booking.created_at == created_at

    booking.notes = "Bring the consent form in Tigrinya."
    db.flush()
    assert booking.version_id == 3


def test_a_stale_update_raises(db: Session) -> None:
    booking = make_booking(db)
    # Someone else changes the booking behind this session's back.
    db.execute(
        update(Booking)
        .where(Booking.id == booking.id)
        .values(priority=5, version_id=Booking.version_id + 1)
        .execution_options(synchronize_session=False)
    )
    booking.priority = 2
    with pytest.raises(StaleDataError):
        db.flush()


def test_a_stale_update_raises_across_sessions(
    committing_session_factory: sessionmaker[Session],
) -> None:
    factory = committing_session_factory
    with factory() as setup:
        booking_id = make_booking(setup).id
        setup.commit()

    with factory() as alice, factory() as bob:
        mine = alice.get(Booking, booking_id)
        theirs = bob.get(Booking, booking_id)
        assert mine is not None and theirs is not None
        # End both read transactions without expiring what was read (a
        # client holding an ETag): SQLite lets one writer in at a time.
        alice.commit()
        bob.commit()

        mine.priority = 2
        alice.commit()
        assert mine.version_id == 2

        theirs.priority = 4
        with pytest.raises(StaleDataError):
            bob.commit()
