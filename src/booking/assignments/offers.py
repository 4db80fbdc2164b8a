"""Offers, the agencies' way: ask the N best providers at once, the first to accept wins.

``offer_booking`` sends the booking to the ``count`` best feasible candidates
(the same ranking as the dispatcher's candidate list) that a message can
reach (an email or a phone). Accepting is
``assignments.service.accept``: exactly one winner, the other offers are
withdrawn. ``expire_offers`` is the job the worker runs every minute: an
offer nobody accepted in time expires, and when a booking has no live offer
left it goes to the next ``count`` candidates, or, when nobody is left, is
flagged to the dispatchers (``unfilled``, reason ``offer_unanswered``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from booking.assignments.clock import offer_expiry
from booking.assignments.models import Assignment
from booking.assignments.service import (
    CandidateView,
    audit_assignment,
    candidates_for,
    ensure_booking_open,
    ensure_not_held,
    lock_booking,
    set_booking_status,
)
from booking.bookings.models import Booking
from booking.db import rows_matched
from booking.errors import Conflict
from booking.outbox import events
from booking.plans.problem_builder import DEFAULT_TIMEZONE
from booking.settings import get_settings
from booking.types import ensure_aware, utc_now
from booking.users.models import User
from booking.vocabulary import HELD_ASSIGNMENT_STATUSES, AssignmentStatus, BookingStatus

MAX_OFFER_COUNT = 20
UNANSWERED_REASON = "offer_unanswered"

ALREADY_ASKED: tuple[AssignmentStatus, ...] = (
    AssignmentStatus.OFFERED,
    AssignmentStatus.ACCEPTED,
    AssignmentStatus.CONFIRMED,
    AssignmentStatus.DECLINED,
    AssignmentStatus.EXPIRED,
)
"""Providers who had this booking offered (or hold it) are not asked again."""


@dataclass(frozen=True)
class ExpiryReport:
    """What one run of ``expire_offers`` did."""

    expired: int
    widened: int
    flagged: int


def asked_providers(db: Session, booking_id: int) -> set[int]:
    """The providers who had this booking offered (or hold it): offers never ask them again."""
    return set(
        db.scalars(
            select(Assignment.provider_id).where(
                Assignment.booking_id == booking_id, Assignment.status.in_(ALREADY_ASKED)
            )
        )
    )


def _next_candidates(
    db: Session,
    *,
    actor: User,
    booking: Booking,
    count: int,
    now: dt.datetime,
    timezone: str,
    place: int = 0,
) -> tuple[list[CandidateView], bool]:
    """The ``count`` best candidates one may offer to (feasible, reachable) not asked yet, and
    whether there is anyone one may offer to at all. Of a group booking, for its ``place``
    (a provider asked for one place is not asked for another: nobody twice in a session)."""
    asked = asked_providers(db, booking.id)
    ranked = candidates_for(
        db, actor=actor, booking=booking, now=now, timezone=timezone, place=place
    )
    # Nobody would see an offer sent to a provider without email or phone.
    offerable = [c for c in ranked if c.feasible and c.provider.reachable]
    return [c for c in offerable if c.provider.id not in asked][:count], bool(offerable)


def _send_round(
    db: Session,
    *,
    actor: User,
    audit_actor: User | None,
    booking: Booking,
    chosen: list[CandidateView],
    count: int,
    expires_in_minutes: int,
    round_number: int,
    now: dt.datetime,
    place: int = 0,
) -> list[Assignment]:
    if booking.status != BookingStatus.PROPOSED:
        set_booking_status(db, actor=audit_actor, booking=booking, status=BookingStatus.PROPOSED)
    db.flush()
    offers: list[Assignment] = []
    for rank, candidate in enumerate(chosen, start=1):
        assert candidate.starts_at is not None
        expires_at = offer_expiry(
            db,
            provider_id=candidate.provider.id,
            session_start=candidate.starts_at,
            now=now,
            minutes=expires_in_minutes,
        )
        offer = Assignment(
            booking_id=booking.id,
            provider_id=candidate.provider.id,
            status=AssignmentStatus.OFFERED,
            starts_at=candidate.starts_at,
            ends_at=candidate.starts_at + dt.timedelta(minutes=booking.duration_minutes),
            created_by_id=actor.id,
            offer_expires_at=expires_at,
            booking_version=booking.version_id,
            place=place,
            explanation={
                "source": "offer",
                "round": round_number,
                "rank": rank,
                "count": count,
                "expires_in_minutes": expires_in_minutes,
                "cost": candidate.cost,
                "travel_minutes": candidate.travel_minutes,
                "sentence": candidate.detail,
                "why": candidate.why.to_json(),
                "names": dict(candidate.names),
            },
        )
        db.add(offer)
        db.flush()
        audit_assignment(
            db,
            actor=audit_actor,
            action="assignment.offered",
            assignment=offer,
            booking=booking,
            changes={
                "status": [None, offer.status],
                "offer_expires_at": expires_at,
                "round": round_number,
                "rank": rank,
            },
        )
        events.offer_sent(db, assignment=offer, now=now)
        offers.append(offer)
    return offers


def offer_booking(
    db: Session,
    *,
    actor: User,
    booking: Booking,
    count: int,
    expires_in_minutes: int,
    now: dt.datetime | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    place: int = 0,
) -> list[Assignment]:
    """Offer ``booking`` to its ``count`` best feasible candidates not asked before.

    Of a group booking, its ``place`` (0: its own), to the best for that place.
    409 if the booking is not open, already held, or nobody is left to ask.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    if not 1 <= count <= MAX_OFFER_COUNT:
        raise ValueError(f"count must be 1..{MAX_OFFER_COUNT}")
    if expires_in_minutes < 1:
        raise ValueError("expires_in_minutes must be positive")
    booking = lock_booking(db, booking.id)
    ensure_booking_open(booking)
    ensure_not_held(db, booking, place=place)
    chosen, everyone_asked = _next_candidates(
        db, actor=actor, booking=booking, count=count, now=now, timezone=timezone, place=place
    )
    if not chosen:
        raise Conflict(
            "Everyone who can take this session has been asked already."
            if everyone_asked
            else "Nobody can take this session as it stands; see the candidates for the reasons.",
            code="no_candidate",
            extra={"booking_id": booking.id, "everyone_asked": everyone_asked},
        )
    previous = db.scalars(
        select(Assignment.explanation).where(
            Assignment.booking_id == booking.id, Assignment.status.in_(ALREADY_ASKED)
        )
    ).all()
    round_number = 1 + max(
        (int(e.get("round", 0)) for e in previous if isinstance(e, dict)), default=0
    )
    return _send_round(
        db,
        actor=actor,
        audit_actor=actor,
        booking=booking,
        chosen=chosen,
        count=count,
        expires_in_minutes=expires_in_minutes,
        round_number=round_number,
        now=now,
        place=place,
    )


def expire_offers(
    db: Session,
    *,
    now: dt.datetime,
    timezone: str | None = None,
    offer_timeout_minutes: int | None = None,
) -> ExpiryReport:
    """Expire the offers past their time; widen each booking left without one, or flag it.

    ``timezone`` (the local days of the candidates' rules) and
    ``offer_timeout_minutes`` (the lifetime of a widened offer when the expired
    one does not say its own, as offers sent from a plan or by hand do not)
    default to ``TRUCHEMENT_TIMEZONE`` and ``TRUCHEMENT_OFFER_TIMEOUT_MINUTES``.

    Safe to run concurrently with accepts: each booking is locked, and an
    offer expires only if it is still ``offered`` at that moment.
    """
    now = ensure_aware(now)
    if timezone is None or offer_timeout_minutes is None:
        settings = get_settings()
        timezone = timezone or settings.timezone
        offer_timeout_minutes = offer_timeout_minutes or settings.offer_timeout_minutes
    due = db.execute(
        select(Assignment.booking_id, Assignment.id).where(
            Assignment.status == AssignmentStatus.OFFERED,
            Assignment.offer_expires_at <= now,
        )
    ).all()
    by_booking: dict[int, list[int]] = defaultdict(list)
    for booking_id, assignment_id in due:
        by_booking[booking_id].append(assignment_id)
    expired = widened = flagged = 0
    for booking_id in sorted(by_booking):
        booking = lock_booking(db, booking_id)
        rows = db.scalars(
            select(Assignment)
            .where(
                Assignment.id.in_(by_booking[booking_id]),
                Assignment.status == AssignmentStatus.OFFERED,
                Assignment.offer_expires_at <= now,
            )
            .order_by(Assignment.id)
            .execution_options(populate_existing=True)
        ).all()
        for offer in rows:
            result = db.execute(
                update(Assignment)
                .where(Assignment.id == offer.id, Assignment.status == AssignmentStatus.OFFERED)
                .values(status=AssignmentStatus.EXPIRED, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if rows_matched(result) != 1:
                continue
            db.refresh(offer)
            expired += 1
            events.offer_settled(db, assignment=offer, reason="offer expired before it was sent")
            audit_assignment(
                db,
                actor=None,
                action="assignment.expired",
                assignment=offer,
                booking=booking,
                changes={
                    "status": ["offered", "expired"],
                    "offer_expires_at": offer.offer_expires_at,
                },
            )
        outcome = _widen_or_flag(
            db,
            booking=booking,
            expired=rows,
            now=now,
            timezone=timezone,
            default_minutes=offer_timeout_minutes,
        )
        widened += outcome == "widened"
        flagged += outcome == "flagged"
    db.flush()
    return ExpiryReport(expired=expired, widened=widened, flagged=flagged)


def _widen_or_flag(
    db: Session,
    *,
    booking: Booking,
    expired: Sequence[Assignment],
    now: dt.datetime,
    timezone: str,
    default_minutes: int,
) -> str | None:
    if not expired or booking.status not in (BookingStatus.REQUESTED, BookingStatus.PROPOSED):
        return None
    still_live = db.scalars(
        select(Assignment.id).where(
            Assignment.booking_id == booking.id,
            (
                Assignment.status.in_(HELD_ASSIGNMENT_STATUSES)
                | (
                    (Assignment.status == AssignmentStatus.OFFERED)
                    & (Assignment.offer_expires_at > now)
                )
            ),
        )
    ).first()
    if still_live is not None:
        return None
    last = max(expired, key=lambda a: (a.created_at, a.id))
    details = last.explanation if isinstance(last.explanation, dict) else {}
    count = int(details.get("count", 1))
    minutes = int(details.get("expires_in_minutes", default_minutes))
    round_number = int(details.get("round", 1)) + 1
    sender = db.get_one(User, last.created_by_id)
    chosen: list[CandidateView] = []
    try:
        ensure_booking_open(booking)
        ensure_not_held(db, booking, place=last.place)
        chosen, _ = _next_candidates(
            db,
            actor=sender,
            booking=booking,
            count=count,
            now=now,
            timezone=timezone,
            place=last.place,
        )
    except Conflict:
        # The session has started or is held: nobody left to ask.
        chosen = []
    if chosen:
        _send_round(
            db,
            actor=sender,
            audit_actor=None,
            booking=booking,
            chosen=chosen,
            count=count,
            expires_in_minutes=minutes,
            round_number=round_number,
            now=now,
            place=last.place,
        )
        return "widened"
    set_booking_status(
        db,
        actor=None,
        booking=booking,
        status=BookingStatus.UNFILLED,
        reason=UNANSWERED_REASON,
    )
    db.flush()
    events.offer_unanswered(db, booking=booking, now=now)
    return "flagged"
