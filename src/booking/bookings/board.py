"""What the dispatcher's board lists: open bookings of some days, and who holds each one.

The board's pages render these; the tenancy rules are those of every read
(``booking.access`` for bookings, ``assignment_query_for`` for the people
on them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments.models import Assignment
from booking.assignments.service import assignment_query_for
from booking.bookings.models import Booking
from booking.bookings.service import BookingFilters, booking_list_query
from booking.organisations.models import Organisation
from booking.providers.models import Provider
from booking.users.models import User
from booking.vocabulary import LIVE_ASSIGNMENT_STATUSES


@dataclass(frozen=True)
class Holder:
    """Who a booking is proposed to, offered to or held by, as the board shows it."""

    assignment_id: int
    provider_name: str
    status: str
    email: str | None = None
    phone: str | None = None
    place: int = 0
    """Which place of a group session they hold (0: the session's own, or its only one)."""

    @property
    def reachable(self) -> bool:
        """No email and no phone: no message reaches them; the dispatcher must call."""
        return bool(self.email or self.phone)


@dataclass(frozen=True)
class BoardEntry:
    """One booking of the board, with its organisation and the people on it."""

    booking: Booking
    organisation: str
    region: str
    holders: list[Holder]


@dataclass(frozen=True)
class BoardListing:
    entries: list[BoardEntry]
    truncated: bool
    """More bookings matched than the listing holds."""


def holders_of(db: Session, actor: User, booking_ids: Sequence[int]) -> dict[int, list[Holder]]:
    """The live assignments (proposed to confirmed) of each booking that ``actor`` may read."""
    found: dict[int, list[Holder]] = defaultdict(list)
    if not booking_ids:
        return found
    rows = db.execute(
        assignment_query_for(db, actor)
        .join(Provider, Provider.id == Assignment.provider_id)
        .where(
            Assignment.booking_id.in_(booking_ids),
            Assignment.status.in_(LIVE_ASSIGNMENT_STATUSES),
        )
        .with_only_columns(
            Assignment.booking_id,
            Assignment.id,
            Provider.display_name,
            Assignment.status,
            Provider.email,
            Provider.phone_e164,
            Assignment.place,
        )
        .order_by(Assignment.place, Assignment.id)
    )
    for booking_id, assignment_id, name, status, email, phone, place in rows:
        found[booking_id].append(Holder(assignment_id, name, status, email, phone, place))
    return found


def held_assignments(db: Session, holders: Sequence[Holder]) -> dict[int, Assignment]:
    """The assignments behind ``holders`` (already read through the tenancy rules), by id."""
    ids = [holder.assignment_id for holder in holders]
    if not ids:
        return {}
    rows = db.scalars(select(Assignment).where(Assignment.id.in_(ids)))
    return {assignment.id: assignment for assignment in rows}


def booking_regions(db: Session, *, actor: User) -> list[str]:
    """The regions of the organisations whose bookings ``actor`` may see, sorted."""
    rows = db.scalars(
        booking_list_query(db, actor=actor, filters=BookingFilters())
        .join(Organisation, Organisation.id == Booking.organisation_id)
        .with_only_columns(Organisation.region)
        .distinct()
    )
    return sorted({region for region in rows if region})


def board_listing(
    db: Session,
    *,
    actor: User,
    filters: BookingFilters,
    region: str | None,
    limit: int,
) -> BoardListing:
    """The bookings ``actor`` may see that match, by start, at most ``limit`` of them."""
    query = booking_list_query(db, actor=actor, filters=filters).join(
        Organisation, Organisation.id == Booking.organisation_id
    )
    if region is not None:
        query = query.where(Organisation.region == region)
    rows = db.execute(
        query.add_columns(Organisation.name, Organisation.region)
        .order_by(Booking.starts_at, Booking.id)
        .limit(limit + 1)
    ).all()
    holders = holders_of(db, actor, [row[0].id for row in rows[:limit]])
    entries = [
        BoardEntry(booking, name, region or "", holders.get(booking.id, []))
        for booking, name, region in rows[:limit]
    ]
    return BoardListing(entries=entries, truncated=len(rows) > limit)
