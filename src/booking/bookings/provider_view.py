"""What a provider reads of a booking: the work they are asked to do, and nothing more.

A provider sees a booking while it is offered to them or theirs
(``booking.access``). They need when, where, which language and kind of
session, and what the session requires of them; they do not need who booked
it, the beneficiary's reference, the people the beneficiary refuses, or the
requester's notes while they merely have an offer. The notes are for the
provider who holds the work (accepted or confirmed), as on their schedule
page. Their history of a booking keeps the same fields only, so a value the
requester has since cleared does not linger in old entries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments.models import Assignment
from booking.bookings.models import Booking
from booking.bookings.service import (
    MATCHING_COLUMNS,
    TIME_COLUMNS,
    HistoryEntry,
    booking_history,
)
from booking.organisations.models import Organisation
from booking.providers.models import Provider
from booking.users.models import User
from booking.vocabulary import (
    HELD_ASSIGNMENT_STATUSES,
    PROVIDER_VISIBLE_ASSIGNMENT_STATUSES,
)

BOOKING_FIELDS_FOR_PROVIDERS: frozenset[str] = (
    TIME_COLUMNS
    | MATCHING_COLUMNS
    | {"status", "language_code", "session_kind", "address", "cancelled_at", "cancel_reason"}
)
"""The booking changes a provider's history shows: time, place, language, kind, needs, status."""

ASSIGNMENT_FIELDS_FOR_PROVIDERS: frozenset[str] = frozenset(
    {"status", "starts_at", "ends_at", "offer_expires_at", "reason"}
)
"""The changes of their own assignment a provider's history shows."""


@dataclass(frozen=True, slots=True)
class ProviderBookingView:
    """A booking as its provider reads it, with their own assignment on it."""

    booking: Booking
    assignment: Assignment
    organisation_name: str

    @property
    def holds(self) -> bool:
        return self.assignment.status in HELD_ASSIGNMENT_STATUSES

    @property
    def notes(self) -> str | None:
        return self.booking.notes if self.holds else None

    @property
    def language_code(self) -> str:
        """The language of the provider's own place (a group booking has one per place)."""
        return place_language(self.booking, self.assignment)

    @property
    def modality(self) -> str:
        """The modality the provider works by: the assignment's step of the ladder, or the
        booking's own."""
        return self.assignment.modality or self.booking.modality


def place_language(booking: Booking, assignment: Assignment) -> str:
    """The language of the place ``assignment`` fills on ``booking`` (place 0: the booking's)."""
    if assignment.place == 0:
        return booking.language_code
    return next(
        (p.language_code for p in booking.places if p.position == assignment.place),
        booking.language_code,
    )


def _own_assignments(db: Session, user: User, booking_ids: Sequence[int]) -> dict[int, Assignment]:
    """The provider's visible assignment per booking (the latest, if there were several)."""
    rows = db.scalars(
        select(Assignment)
        .join(Provider, Provider.id == Assignment.provider_id)
        .where(
            Provider.user_id == user.id,
            Assignment.booking_id.in_(list(booking_ids)),
            Assignment.status.in_(PROVIDER_VISIBLE_ASSIGNMENT_STATUSES),
        )
        .order_by(Assignment.id)
    )
    return {row.booking_id: row for row in rows}


def provider_booking_views(
    db: Session, user: User, bookings: Sequence[Booking]
) -> list[ProviderBookingView]:
    """The provider's view of bookings they may see (``booking_query_for`` already applied)."""
    own = _own_assignments(db, user, [b.id for b in bookings])
    names = {
        organisation_id: name
        for organisation_id, name in db.execute(
            select(Organisation.id, Organisation.name).where(
                Organisation.id.in_({b.organisation_id for b in bookings})
            )
        )
    }
    return [
        ProviderBookingView(
            booking=booking,
            assignment=own[booking.id],
            organisation_name=names[booking.organisation_id],
        )
        for booking in bookings
        if booking.id in own
    ]


def provider_history(db: Session, *, user: User, booking: Booking) -> list[HistoryEntry]:
    """The provider's history of a booking: its time, place and needs, their own assignment.

    Entries keep only the fields above; a booking entry left with nothing to
    show (only notes or the beneficiary's reference changed) is dropped. The
    people who made the changes are named only when it was the provider.
    """
    entries = []
    for entry in booking_history(db, actor=user, booking=booking):
        allowed = (
            BOOKING_FIELDS_FOR_PROVIDERS
            if entry.entity_type == "booking"
            else ASSIGNMENT_FIELDS_FOR_PROVIDERS
        )
        changes: dict[str, Any] = {k: v for k, v in entry.changes.items() if k in allowed}
        if entry.entity_type == "booking" and not changes and entry.action == "booking.updated":
            continue
        own = entry.actor_id == user.id
        entries.append(
            dataclasses.replace(
                entry,
                actor_id=entry.actor_id if own else None,
                actor_name=entry.actor_name if own else None,
                changes=changes,
            )
        )
    return entries


def work_times(view: ProviderBookingView) -> tuple[dt.datetime, dt.datetime]:
    """When the provider is asked to work: their assignment's time (a window's chosen start)."""
    return view.assignment.starts_at, view.assignment.ends_at
