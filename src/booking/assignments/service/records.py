"""What a change of an assignment writes besides itself: its audit row, the booking's status.

A new proposal and its audit row are one call (``create_proposal``), for a
dispatcher's choice and for a plan's alike; a booking that a provider now
holds closes the other proposals and offers, and one that nobody holds goes
back to ``requested``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments.models import Assignment
from booking.assignments.service.access import Answerer, audit_via, signed_in_user
from booking.audit import record_audit
from booking.bookings.models import Booking
from booking.outbox import events
from booking.users.models import User
from booking.vocabulary import (
    HELD_ASSIGNMENT_STATUSES,
    PENDING_ASSIGNMENT_STATUSES,
    PROVIDER_VISIBLE_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    BookingStatus,
)


def audit_assignment(
    db: Session,
    *,
    actor: User | None,
    action: str,
    assignment: Assignment,
    booking: Booking,
    changes: dict[str, object],
) -> None:
    record_audit(
        db,
        actor=actor,
        action=action,
        entity=assignment,
        changes={"booking_id": booking.id, "provider_id": assignment.provider_id, **changes},
        organisation_id=booking.organisation_id,
    )


def create_proposal(
    db: Session,
    *,
    actor: User,
    booking: Booking,
    provider_id: int,
    starts_at: dt.datetime,
    explanation: dict[str, Any],
    plan_id: int | None = None,
    place: int = 0,
    modality: str | None = None,
) -> Assignment:
    """A new ``proposed`` assignment of the booking as it stands now, and its audit row.

    ``explanation`` says where it comes from (``source``: ``manual``, ``plan``) and why;
    the audit row names the plan it belongs to, or else its source. ``place`` is the
    place of a group booking it fills, ``modality`` the step of the booking's modality
    ladder used (None: the booking's own).
    """
    assignment = Assignment(
        booking_id=booking.id,
        provider_id=provider_id,
        plan_id=plan_id,
        status=AssignmentStatus.PROPOSED,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=booking.duration_minutes),
        created_by_id=actor.id,
        explanation=explanation,
        booking_version=booking.version_id,
        place=place,
        modality=modality,
    )
    db.add(assignment)
    db.flush()
    origin = {"plan_id": plan_id} if plan_id is not None else {"source": explanation["source"]}
    audit_assignment(
        db,
        actor=actor,
        action="assignment.proposed",
        assignment=assignment,
        booking=booking,
        changes={
            "status": [None, assignment.status],
            **origin,
            "starts_at": starts_at,
            **({"place": place} if place else {}),
            **({"modality": modality} if modality else {}),
        },
    )
    return assignment


def audit_status_change(
    db: Session,
    *,
    actor: Answerer,
    action: str,
    assignment: Assignment,
    booking: Booking,
    before: str,
    reason: str | None,
) -> None:
    """Audit a status change that a person gave a reason for (decline, cancel)."""
    changes: dict[str, object] = {"status": [before, assignment.status], **audit_via(actor)}
    if reason:
        changes["reason"] = reason
    audit_assignment(
        db,
        actor=signed_in_user(actor),
        action=action,
        assignment=assignment,
        booking=booking,
        changes=changes,
    )


def set_booking_status(
    db: Session,
    *,
    actor: User | None,
    booking: Booking,
    status: BookingStatus,
    reason: str | None = None,
) -> None:
    """Move the booking to ``status`` (audited when it changes)."""
    before = (booking.status, booking.unfilled_reason)
    booking.status = status
    booking.unfilled_reason = reason if status == BookingStatus.UNFILLED else None
    if before != (booking.status, booking.unfilled_reason):
        changes: dict[str, object] = {"status": [before[0], booking.status]}
        if reason is not None:
            changes["unfilled_reason"] = [before[1], booking.unfilled_reason]
        record_audit(db, actor=actor, action=f"booking.{status}", entity=booking, changes=changes)


def _live_others(db: Session, booking_id: int, besides: int, place: int) -> list[Assignment]:
    return list(
        db.scalars(
            select(Assignment)
            .where(
                Assignment.booking_id == booking_id,
                Assignment.place == place,
                Assignment.id != besides,
                Assignment.status.in_(PENDING_ASSIGNMENT_STATUSES),
            )
            .order_by(Assignment.id)
            .execution_options(populate_existing=True)
        )
    )


def close_others(
    db: Session, *, actor: User | None, winner: Assignment, booking: Booking, now: dt.datetime
) -> list[Assignment]:
    """Withdraw the other proposals and offers of the booking once ``winner`` holds it.

    Of a group booking, those of the winner's place only. Each provider whose
    offer is withdrawn is told the session was filled.
    """
    closed = _live_others(db, booking.id, winner.id, winner.place)
    for other in closed:
        before = other.status
        other.status = AssignmentStatus.CANCELLED
        audit_assignment(
            db,
            actor=actor,
            action="assignment.closed",
            assignment=other,
            booking=booking,
            changes={"status": [before, other.status], "reason": "filled", "winner": winner.id},
        )
        if before == AssignmentStatus.OFFERED:
            events.offer_closed(db, assignment=other, now=now)
    return closed


def every_place_held(db: Session, booking: Booking, *, also: Assignment) -> bool:
    """Whether, with ``also`` held, every place of the booking is (one place: its own)."""
    held = set(
        db.scalars(
            select(Assignment.place).where(
                Assignment.booking_id == booking.id,
                Assignment.status.in_(HELD_ASSIGNMENT_STATUSES),
            )
        )
    )
    return len(held | {also.place}) >= 1 + len(booking.places)


def release_booking(db: Session, *, actor: User | None, booking: Booking, now: dt.datetime) -> None:
    """The booking goes back to ``requested`` when nobody holds it and no offer is live."""
    if booking.status not in (BookingStatus.PROPOSED, BookingStatus.CONFIRMED):
        return
    live = db.scalars(
        select(Assignment.id).where(
            Assignment.booking_id == booking.id,
            Assignment.status.in_(PROVIDER_VISIBLE_ASSIGNMENT_STATUSES),
            (Assignment.status != AssignmentStatus.OFFERED) | (Assignment.offer_expires_at > now),
        )
    ).first()
    if live is None:
        set_booking_status(db, actor=actor, booking=booking, status=BookingStatus.REQUESTED)
