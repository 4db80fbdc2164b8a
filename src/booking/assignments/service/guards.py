"""Locks and guards every path that gives or takes work goes through.

The lock order: the bookings first (in id order when there are several),
then the providers (in id order), and only then any write; two transactions
that take their locks in one order never deadlock. The database's last
guards (the exclusion constraint on held work, the one-holder index) become
``Conflict`` (409), never a 500.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.assignments.models import ACTIVE_ASSIGNMENT_INDEX, HELD_OVERLAP_CONSTRAINT, Assignment
from booking.bookings.models import Booking
from booking.db import violated_constraint
from booking.errors import Conflict
from booking.providers.models import Provider
from booking.vocabulary import CHANGEABLE_BOOKING_STATUSES, HELD_ASSIGNMENT_STATUSES


def lock_booking(db: Session, booking_id: int) -> Booking:
    """The booking, freshly read and locked until the end of the transaction (PostgreSQL).

    The lock order, on every path that gives or takes work: the bookings
    first (in id order when there are several), then the providers (in id
    order), and only then any write. Two transactions that take their locks
    in one order never deadlock. ``FOR NO KEY UPDATE`` (see ``lock_provider``).
    """
    return db.scalars(
        select(Booking)
        .where(Booking.id == booking_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one()


def lock_provider(db: Session, provider_id: int) -> None:
    """Serialise the commitments of one provider until the end of the transaction.

    ``FOR NO KEY UPDATE`` on PostgreSQL: it excludes another commitment of
    the same provider, but not the key-share lock an ``INSERT`` of any of
    their assignments takes through its foreign key, so a proposal or an
    offer written meanwhile never deadlocks against it.
    """
    db.execute(
        select(Provider.id).where(Provider.id == provider_id).with_for_update(key_share=True)
    )


def lock_for_commitments(
    db: Session, booking_ids: Iterable[int], provider_ids: Iterable[int]
) -> None:
    """Lock several bookings, then several providers, each in id order (see ``lock_booking``)."""
    for column, ids in ((Booking.id, booking_ids), (Provider.id, provider_ids)):
        wanted = sorted(set(ids))
        if wanted:
            db.execute(
                select(column)
                .where(column.in_(wanted))
                .order_by(column)
                .with_for_update(key_share=True)
            )


def reread(db: Session, assignment: Assignment) -> Assignment:
    return db.scalars(
        select(Assignment)
        .where(Assignment.id == assignment.id)
        .execution_options(populate_existing=True)
    ).one()


def guard_conflict(error: IntegrityError) -> Conflict | None:
    """The ``Conflict`` one of the database's last guards stands for, if it was one of them."""
    name = violated_constraint(error)
    if name == HELD_OVERLAP_CONSTRAINT:
        return Conflict(
            "The provider already holds overlapping work (accepted or confirmed).",
            code="provider_double_booked",
        )
    if name == ACTIVE_ASSIGNMENT_INDEX:
        return Conflict("Another provider already holds this booking.", code="booking_taken")
    return None


def flush_guarded(db: Session) -> None:
    """Flush in a SAVEPOINT; the database's last guards become ``Conflict``."""
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError as error:
        conflict = guard_conflict(error)
        if conflict is not None:
            raise conflict from None
        raise


def ensure_booking_open(booking: Booking) -> None:
    if booking.status not in CHANGEABLE_BOOKING_STATUSES:
        raise Conflict(
            f"The booking is {booking.status}; only an open booking can be staffed.",
            code="booking_not_open",
            extra={"booking_id": booking.id, "booking_status": booking.status},
        )


def _holder(
    db: Session, booking_id: int, *, besides: int | None = None, place: int = 0
) -> Assignment | None:
    query = select(Assignment).where(
        Assignment.booking_id == booking_id,
        Assignment.place == place,
        Assignment.status.in_(HELD_ASSIGNMENT_STATUSES),
    )
    if besides is not None:
        query = query.where(Assignment.id != besides)
    return db.scalars(query.execution_options(populate_existing=True)).first()


def ensure_not_held(
    db: Session, booking: Booking, *, besides: int | None = None, place: int = 0
) -> None:
    """Nobody else holds the booking (for a group booking: this place of it)."""
    holder = _holder(db, booking.id, besides=besides, place=place)
    if holder is not None:
        raise Conflict(
            "Another provider already holds this booking.",
            code="booking_taken",
            extra={"booking_id": booking.id, "assignment_id": holder.id},
        )


def ensure_reachable(provider: Provider, *, confirmed_by_phone: bool) -> None:
    """Refuse to tell a provider something by messages when none can reach them.

    Without an email or a phone, an offer or a confirmation would reach
    nobody; a confirmation the dispatcher agreed on the phone may go ahead.
    """
    if provider.reachable or confirmed_by_phone:
        return
    raise Conflict(
        f"{provider.display_name} has no email and no phone: no message can reach them. "
        "Call them, then confirm saying it was agreed by phone (confirmed_by_phone).",
        code="provider_unreachable",
        extra={"provider_id": provider.id},
    )


def fits_booking(assignment: Assignment, booking: Booking) -> bool:
    """Whether the assignment's time is still the booking's (not stale after a reschedule)."""
    minutes = (assignment.ends_at - assignment.starts_at).total_seconds() / 60
    if minutes != booking.duration_minutes:
        return False
    if booking.window_earliest is not None and booking.window_latest is not None:
        return booking.window_earliest <= assignment.starts_at <= booking.window_latest
    return assignment.starts_at == booking.starts_at
