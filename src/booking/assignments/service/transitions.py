"""The life of an assignment: offered, accepted, declined, confirmed, cancelled.

``proposed -> offered -> accepted -> confirmed``, or ``declined`` (the
booking goes back to ``requested``), or ``cancelled``; an offer nobody
answered in time becomes ``expired`` (``booking.assignments.offers``).
Accepting and confirming lock the booking and then the provider before
checking, so two commitments of one provider serialise.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.assignments.models import Assignment
from booking.assignments.service.access import (
    Answerer,
    audit_via,
    manages,
    require_answer_right,
    require_dispatch,
    require_staffing_right,
    signed_in_user,
)
from booking.assignments.service.commitments import assert_fits_commitments
from booking.assignments.service.guards import (
    ensure_booking_open,
    ensure_not_held,
    ensure_reachable,
    fits_booking,
    flush_guarded,
    guard_conflict,
    lock_booking,
    lock_provider,
    reread,
)
from booking.assignments.service.records import (
    audit_assignment,
    audit_status_change,
    close_others,
    every_place_held,
    release_booking,
    set_booking_status,
)
from booking.bookings.models import Booking
from booking.db import rows_matched
from booking.errors import Conflict
from booking.outbox import events
from booking.policies import provider_may_decline
from booking.providers.links import LinkHolder
from booking.providers.models import Provider
from booking.types import ensure_aware, utc_now
from booking.users.models import User
from booking.vocabulary import (
    HELD_ASSIGNMENT_STATUSES,
    LIVE_ASSIGNMENT_STATUSES,
    PROVIDER_VISIBLE_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    BookingStatus,
)


def send_offer(
    db: Session,
    *,
    actor: User | None,
    assignment: Assignment,
    booking: Booking,
    expires_at: dt.datetime,
    now: dt.datetime,
    timezone: str | None = None,
) -> Assignment:
    """A proposal goes out to its provider as an offer until ``expires_at``.

    ``actor`` must dispatch the provider and see the booking; ``None`` is the
    system (an offer round the actor's own earlier request started). Refused
    (409) if it clashes with the provider's accepted or confirmed work, and
    (409 ``provider_unreachable``) for a provider no message can reach:
    nobody would ever see the offer; call them and confirm instead.
    """
    if actor is not None:
        require_staffing_right(db, actor, assignment)
    if assignment.status != AssignmentStatus.PROPOSED:
        raise Conflict(
            f"Only a proposal can be offered; this one is {assignment.status}.",
            code="not_proposed",
        )
    ensure_reachable(db.get_one(Provider, assignment.provider_id), confirmed_by_phone=False)
    # No point asking a provider for time they already gave to other work.
    assert_fits_commitments(db, assignment=assignment, booking=booking, now=now, timezone=timezone)
    assignment.status = AssignmentStatus.OFFERED
    assignment.offer_expires_at = expires_at
    db.flush()
    audit_assignment(
        db,
        actor=actor,
        action="assignment.offered",
        assignment=assignment,
        booking=booking,
        changes={"status": ["proposed", "offered"], "offer_expires_at": expires_at},
    )
    events.offer_sent(db, assignment=assignment, now=now)
    return assignment


def accept(
    db: Session,
    *,
    actor: Answerer,
    assignment: Assignment,
    now: dt.datetime | None = None,
    timezone: str | None = None,
) -> Assignment:
    """The provider (or their dispatcher, on the phone) takes an offer: first to accept wins.

    The booking row is locked, the offer re-read, and the change made by a
    conditional UPDATE (``WHERE status = 'offered'``); the unique index "one
    accepted or confirmed assignment per booking" is the last guard. The
    other offers of the booking are withdrawn and their providers told.
    ``actor`` is a user, or a ``LinkHolder`` for a provider answering from
    the signed link of that one offer.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    require_answer_right(db, actor, assignment)
    user = signed_in_user(actor)
    booking = lock_booking(db, assignment.booking_id)
    assignment = reread(db, assignment)
    if assignment.status != AssignmentStatus.OFFERED:
        raise Conflict(
            f"Only an offer can be accepted; this one is {assignment.status}.",
            code="not_offered",
            extra={"assignment_status": assignment.status},
        )
    if assignment.offer_expires_at is not None and assignment.offer_expires_at <= now:
        raise Conflict("The offer has expired.", code="offer_expired")
    ensure_booking_open(booking)
    ensure_not_held(db, booking, besides=assignment.id, place=assignment.place)
    if not fits_booking(assignment, booking):
        raise Conflict("The booking changed since the offer was made.", code="stale_assignment")
    lock_provider(db, assignment.provider_id)
    assert_fits_commitments(db, assignment=assignment, booking=booking, now=now, timezone=timezone)
    try:
        with db.begin_nested():
            won = db.execute(
                update(Assignment)
                .where(
                    Assignment.id == assignment.id, Assignment.status == AssignmentStatus.OFFERED
                )
                .values(
                    status=AssignmentStatus.ACCEPTED,
                    responded_at=now,
                    decided_by_id=user.id if user is not None else None,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
    except IntegrityError as error:
        conflict = guard_conflict(error)
        if conflict is not None:
            raise conflict from None
        raise
    if rows_matched(won) != 1:
        raise Conflict("The offer was answered meanwhile.", code="not_offered")
    assignment = reread(db, assignment)
    audit_assignment(
        db,
        actor=user,
        action="assignment.accepted",
        assignment=assignment,
        booking=booking,
        changes={"status": ["offered", "accepted"], **audit_via(actor)},
    )
    events.offer_settled(db, assignment=assignment, reason="offer accepted before it was sent")
    close_others(db, actor=user, winner=assignment, booking=booking, now=now)
    if booking.status != BookingStatus.PROPOSED:
        set_booking_status(db, actor=user, booking=booking, status=BookingStatus.PROPOSED)
    db.flush()
    return assignment


def decline(
    db: Session,
    *,
    actor: Answerer,
    assignment: Assignment,
    lock_hours: int,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> Assignment:
    """The provider says no (or gives work back); their dispatcher may do it for them.

    A provider may always decline an offer, but accepted or confirmed work
    only until ``lock_hours`` before it starts; a dispatcher at any time.
    The booking goes back to ``requested`` unless another provider holds it
    or still has a live offer; when the last offer is declined, the
    dispatchers are told nobody took it.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    require_answer_right(db, actor, assignment)
    booking = lock_booking(db, assignment.booking_id)
    assignment = reread(db, assignment)
    if assignment.status not in PROVIDER_VISIBLE_ASSIGNMENT_STATUSES:
        raise Conflict(
            f"Only an offer or held work can be declined; this one is {assignment.status}.",
            code="not_declinable",
            extra={"assignment_status": assignment.status},
        )
    if isinstance(actor, LinkHolder) and assignment.status != AssignmentStatus.OFFERED:
        # The signed link of an offer answers the offer; giving work back is a call.
        raise Conflict(
            "Only an offer can be declined from its link; call the dispatcher.",
            code="not_offered",
            extra={"assignment_status": assignment.status},
        )
    as_dispatcher = manages(db, actor, assignment)
    if not as_dispatcher and not provider_may_decline(assignment, now, lock_hours=lock_hours):
        locked_from = assignment.starts_at - dt.timedelta(hours=lock_hours)
        raise Conflict(
            f"Work starting within {lock_hours} h can no longer be given back by the provider; "
            "call the dispatcher.",
            code="decline_locked",
            extra={"locked_from": locked_from.isoformat()},
        )
    before = assignment.status
    user = signed_in_user(actor)
    assignment.status = AssignmentStatus.DECLINED
    assignment.responded_at = now
    assignment.decided_by_id = user.id if user is not None else None
    db.flush()
    audit_status_change(
        db,
        actor=actor,
        action="assignment.declined",
        assignment=assignment,
        booking=booking,
        before=before,
        reason=reason,
    )
    if before == AssignmentStatus.CONFIRMED:
        events.assignment_cancelled(db, assignment=assignment, now=now)
    elif before == AssignmentStatus.OFFERED:
        events.offer_settled(db, assignment=assignment, reason="offer declined before it was sent")
    release_booking(db, actor=user, booking=booking, now=now)
    db.flush()
    if before == AssignmentStatus.OFFERED and booking.status == BookingStatus.REQUESTED:
        events.offer_unanswered(db, booking=booking, now=now)
    if before in HELD_ASSIGNMENT_STATUSES:
        # Given back: a repair re-staffs it (imported here: plans build on assignments).
        from booking.plans.repair import work_fell_through

        work_fell_through(db, actor=user, assignments=[assignment], trigger="gave_back", now=now)
    return assignment


def confirm(
    db: Session,
    *,
    actor: User,
    assignment: Assignment,
    now: dt.datetime | None = None,
    timezone: str | None = None,
    confirmed_by_phone: bool = False,
) -> Assignment:
    """The dispatcher confirms: the provider is booked, the booking ``confirmed``, both told.

    From a proposal, an offer or an accepted offer. Refused (409) if the
    booking is no longer open or is held by someone else, if it changed
    since, or if it clashes with the provider's accepted or confirmed work
    (an overlap, or no time to drive between the places). A provider no
    message can reach (no email, no phone) is confirmed only with
    ``confirmed_by_phone``: the dispatcher says they agreed it on the phone,
    and the assignment keeps that (audited).
    """
    now = ensure_aware(now) if now is not None else utc_now()
    require_staffing_right(db, actor, assignment)
    ensure_reachable(
        db.get_one(Provider, assignment.provider_id), confirmed_by_phone=confirmed_by_phone
    )
    booking = lock_booking(db, assignment.booking_id)
    assignment = reread(db, assignment)
    confirmable = (AssignmentStatus.PROPOSED, AssignmentStatus.OFFERED, AssignmentStatus.ACCEPTED)
    if assignment.status not in confirmable:
        raise Conflict(
            f"A {assignment.status} assignment cannot be confirmed.",
            code="not_confirmable",
            extra={"assignment_status": assignment.status},
        )
    ensure_booking_open(booking)
    ensure_not_held(db, booking, besides=assignment.id, place=assignment.place)
    if not fits_booking(assignment, booking):
        raise Conflict(
            "The booking changed since this assignment was made.", code="stale_assignment"
        )
    lock_provider(db, assignment.provider_id)
    assert_fits_commitments(db, assignment=assignment, booking=booking, now=now, timezone=timezone)
    before = assignment.status
    assignment.status = AssignmentStatus.CONFIRMED
    assignment.decided_by_id = actor.id
    assignment.confirmed_by_phone = confirmed_by_phone
    # A windowed booking now happens at the time the provider was given.
    seen_version = booking.version_id
    moved = booking.starts_at != assignment.starts_at
    if moved:
        booking.starts_at = assignment.starts_at
    # A group booking is confirmed once every place is; until then it stays proposed.
    whole = every_place_held(db, booking, also=assignment)
    status = BookingStatus.CONFIRMED if whole else BookingStatus.PROPOSED
    set_booking_status(db, actor=actor, booking=booking, status=status)
    flush_guarded(db)
    if moved:
        keep_places_at_that_start_current(db, booking, assignment, seen_version)
    audit_assignment(
        db,
        actor=actor,
        action="assignment.confirmed",
        assignment=assignment,
        booking=booking,
        changes={
            "status": [before, assignment.status],
            **({"confirmed_by_phone": True} if confirmed_by_phone else {}),
        },
    )
    close_others(db, actor=actor, winner=assignment, booking=booking, now=now)
    if before == AssignmentStatus.OFFERED:
        events.offer_settled(db, assignment=assignment, reason="offer confirmed before it was sent")
    events.assignment_confirmed(db, assignment=assignment, now=now)
    db.flush()
    return assignment


def cancel_assignment(
    db: Session,
    *,
    actor: User,
    assignment: Assignment,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> Assignment:
    """The dispatcher withdraws a proposal, an offer or held work; the provider is told.

    The booking goes back to ``requested`` unless someone else holds it or
    has a live offer.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    require_dispatch(db, actor, assignment)
    booking = lock_booking(db, assignment.booking_id)
    assignment = reread(db, assignment)
    if assignment.status not in LIVE_ASSIGNMENT_STATUSES:
        raise Conflict(
            f"A {assignment.status} assignment cannot be cancelled.",
            code="not_cancellable",
            extra={"assignment_status": assignment.status},
        )
    before = assignment.status
    assignment.status = AssignmentStatus.CANCELLED
    assignment.decided_by_id = actor.id
    db.flush()
    audit_status_change(
        db,
        actor=actor,
        action="assignment.cancelled",
        assignment=assignment,
        booking=booking,
        before=before,
        reason=reason,
    )
    if before == AssignmentStatus.CONFIRMED:
        events.assignment_cancelled(db, assignment=assignment, now=now)
    elif before in (AssignmentStatus.OFFERED, AssignmentStatus.ACCEPTED):
        events.offer_closed(db, assignment=assignment, now=now)
    release_booking(db, actor=actor, booking=booking, now=now)
    db.flush()
    return assignment


def keep_places_at_that_start_current(
    db: Session, booking: Booking, confirmed: Assignment, seen_version: int
) -> None:
    """A group's other proposals at the start just confirmed stay current.

    Confirming a place of a windowed group moves the booking to that place's
    start: a new version, which would make the same plan's proposals for the
    other places look stale although the booking moved *to* their start.
    Proposals made for the version just replaced, at that very start, follow
    it; those at another start are stale, as they should be.
    """
    db.execute(
        update(Assignment)
        .where(
            Assignment.booking_id == booking.id,
            Assignment.id != confirmed.id,
            Assignment.status == AssignmentStatus.PROPOSED,
            Assignment.starts_at == confirmed.starts_at,
            Assignment.booking_version == seen_version,
        )
        .values(booking_version=booking.version_id)
        .execution_options(synchronize_session=False)
    )
