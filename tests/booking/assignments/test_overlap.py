"""No provider holds work in two places at once: PostgreSQL refuses it, the guard too."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from booking.assignments.models import HELD_OVERLAP_CONSTRAINT
from booking.assignments.service import assert_no_confirmed_overlap
from booking.db import violated_constraint
from booking.errors import Conflict
from booking.models import Provider
from booking.types import NaiveDateTimeError
from tests.booking.helpers import assert_refused
from tests.factories import BRUSSELS, make_assignment, make_booking, make_provider

NINE = dt.datetime(2026, 12, 1, 9, 0, tzinfo=BRUSSELS)
HOUR = dt.timedelta(hours=1)


def _confirmed(db: Session, provider: Provider, start: dt.datetime, minutes: int = 60) -> int:
    booking = make_booking(db, starts_at=start, duration_minutes=minutes)
    return make_assignment(db, booking=booking, provider=provider, status="confirmed").id


@pytest.mark.postgres
def test_postgresql_refuses_an_overlapping_confirmed_assignment(db: Session) -> None:
    provider = make_provider(db)
    _confirmed(db, provider, NINE)
    assert_refused(
        db,
        lambda: _confirmed(db, provider, NINE + dt.timedelta(minutes=30)),
        HELD_OVERLAP_CONSTRAINT,
    )


@pytest.mark.postgres
def test_postgresql_refuses_confirming_into_an_overlap(db: Session) -> None:
    provider = make_provider(db)
    _confirmed(db, provider, NINE)
    booking = make_booking(db, starts_at=NINE + dt.timedelta(minutes=45))
    proposed = make_assignment(db, booking=booking, provider=provider, status="proposed")

    def confirm() -> None:
        proposed.status = "confirmed"

    assert_refused(db, confirm, HELD_OVERLAP_CONSTRAINT)


@pytest.mark.postgres
@pytest.mark.parametrize("held", ["accepted", "confirmed"])
def test_postgresql_refuses_accepting_into_an_overlap_with_held_work(
    db: Session, held: str
) -> None:
    """Accepted work is a commitment: the constraint covers it on both sides (#7)."""
    provider = make_provider(db)
    booking = make_booking(db, starts_at=NINE)
    make_assignment(db, booking=booking, provider=provider, status=held)
    later = make_booking(db, starts_at=NINE + dt.timedelta(minutes=30))
    offered = make_assignment(db, booking=later, provider=provider, status="offered")

    def accept() -> None:
        offered.status = "accepted"

    assert_refused(db, accept, HELD_OVERLAP_CONSTRAINT)


@pytest.mark.postgres
def test_postgresql_accepts_what_does_not_clash(db: Session) -> None:
    provider = make_provider(db)
    other = make_provider(db)
    _confirmed(db, provider, NINE)
    _confirmed(db, provider, NINE + HOUR)  # back to back: [9, 10) and [10, 11) touch
    _confirmed(db, other, NINE)  # another provider
    booking = make_booking(db, starts_at=NINE)
    for status in ("proposed", "offered", "declined", "cancelled"):
        make_assignment(db, booking=booking, provider=provider, status=status)
    db.flush()


@pytest.mark.postgres
def test_postgresql_refuses_the_second_of_two_concurrent_confirmations(
    committing_session_factory: sessionmaker[Session],
) -> None:
    factory = committing_session_factory
    with factory() as setup:
        provider = make_provider(setup)
        first = make_booking(setup, starts_at=NINE)
        second = make_booking(setup, starts_at=NINE + dt.timedelta(minutes=30))
        setup.commit()

    errors: list[BaseException] = []
    started = threading.Event()

    with factory() as alice:
        # Alice inserts and holds her transaction open...
        make_assignment(alice, booking=first, provider=provider, status="confirmed")

        def bob_confirms() -> None:
            with factory() as bob:
                started.set()
                try:
                    # ...Bob's guard cannot see her uncommitted row, so only the
                    # constraint can stop him: his insert waits for her commit.
                    assert_no_confirmed_overlap(bob, provider.id, second.starts_at, second.ends_at)
                    make_assignment(bob, booking=second, provider=provider, status="confirmed")
                    bob.commit()
                except BaseException as exc:
                    errors.append(exc)

        thread = threading.Thread(target=bob_confirms)
        thread.start()
        started.wait(5)
        thread.join(0.3)
        assert thread.is_alive(), "Bob should be waiting on Alice's transaction"
        alice.commit()
        thread.join(10)

    assert len(errors) == 1
    assert isinstance(errors[0], IntegrityError)
    assert violated_constraint(errors[0]) == HELD_OVERLAP_CONSTRAINT


def test_guard_refuses_an_overlap(db: Session) -> None:
    provider = make_provider(db)
    existing = _confirmed(db, provider, NINE)
    with pytest.raises(Conflict) as info:
        assert_no_confirmed_overlap(
            db, provider.id, NINE + dt.timedelta(minutes=59), NINE + 2 * HOUR
        )
    assert info.value.code == "provider_double_booked"
    assert info.value.extra()["assignment_id"] == existing
    assert info.value.status == 409


def test_guard_refuses_an_enclosing_interval(db: Session) -> None:
    provider = make_provider(db)
    _confirmed(db, provider, NINE, minutes=30)
    with pytest.raises(Conflict):
        assert_no_confirmed_overlap(db, provider.id, NINE - HOUR, NINE + HOUR)


def test_guard_accepts_what_does_not_clash(db: Session) -> None:
    provider = make_provider(db)
    existing = _confirmed(db, provider, NINE)
    booking = make_booking(db, starts_at=NINE)
    make_assignment(db, booking=booking, provider=provider, status="proposed")
    make_assignment(db, booking=booking, provider=provider, status="cancelled")

    assert_no_confirmed_overlap(db, provider.id, NINE + HOUR, NINE + 2 * HOUR)  # touches
    assert_no_confirmed_overlap(db, provider.id, NINE - HOUR, NINE)  # touches
    assert_no_confirmed_overlap(db, make_provider(db).id, NINE, NINE + HOUR)  # someone else
    # Re-checking the confirmed assignment itself (e.g. when moving it).
    assert_no_confirmed_overlap(db, provider.id, NINE, NINE + HOUR, exclude_assignment_id=existing)


def test_guard_compares_instants_across_timezones(db: Session) -> None:
    provider = make_provider(db)
    _confirmed(db, provider, NINE)  # 08:00-09:00 UTC
    with pytest.raises(Conflict):
        assert_no_confirmed_overlap(
            db,
            provider.id,
            dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.UTC),
            dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC),
        )
    assert_no_confirmed_overlap(
        db,
        provider.id,
        dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC),
    )


def test_guard_refuses_bad_intervals(db: Session) -> None:
    with pytest.raises(NaiveDateTimeError):
        assert_no_confirmed_overlap(db, 1, dt.datetime(2026, 12, 1, 9), NINE)
    with pytest.raises(ValueError, match="after"):
        assert_no_confirmed_overlap(db, 1, NINE, NINE)
