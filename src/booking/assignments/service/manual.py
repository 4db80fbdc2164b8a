"""A dispatcher's own choice of provider, checked by the rules the matcher plans by.

A broken rule is a 422 that names it (``rule``, ``rule_code``, a sentence);
the pair is checked on the provider's day as it stands, and problems the
day already had are not blamed on the new session.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.access import dispatcher_can_manage_provider
from booking.assignments.clock import offer_expiry
from booking.assignments.models import Assignment
from booking.assignments.service.candidates import (
    booking_days,
    current_plan,
    for_place,
    place_language,
)
from booking.assignments.service.guards import (
    ensure_booking_open,
    ensure_not_held,
    ensure_reachable,
    lock_booking,
    lock_provider,
)
from booking.assignments.service.records import create_proposal, set_booking_status
from booking.assignments.service.transitions import confirm, send_offer
from booking.bookings.models import Booking
from booking.errors import Conflict, FieldError, NotFound, Unprocessable
from booking.plans.problem_builder import (
    DEFAULT_TIMEZONE,
    ProblemIndex,
    build_problem,
    provider_key,
    session_key,
)
from booking.providers.models import Provider
from booking.types import ensure_aware, utc_now
from booking.users.models import User
from booking.vocabulary import (
    LIVE_ASSIGNMENT_STATUSES,
    MANUAL_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    BookingStatus,
)
from matching.eligibility import check_pair
from matching.problem import Assignment as MatchAssignment
from matching.problem import Problem as MatchProblem
from matching.problem import Unassigned
from matching.timeline import Timeline
from matching.travel import Travel
from matching.validate import check


def _broken(
    rule: int, code: str, detail: str, violations: Iterable[dict[str, object]] = ()
) -> Unprocessable:
    return Unprocessable(
        f"Rule {rule} ({code}): {detail}",
        code="rule_broken",
        errors=[FieldError("provider_id", detail, code)],
        extra={"rule": rule, "rule_code": code, "violations": list(violations)},
    )


def check_manual_pair(
    problem: MatchProblem, index: ProblemIndex, key: str, provider: str, start: dt.datetime
) -> None:
    """Refuse (422, naming the rule) a pair the matcher itself would refuse.

    The static rules first (language, profile, modality, country, travel range,
    availability at that start), then the provider's day with the new session
    in it (overlaps, drives, daily and weekly minutes), by the same validator
    that checks every plan. Problems the provider's day already had without
    it are not blamed on the new session.
    """
    sessions = {s.id: s for s in problem.sessions}
    providers = {p.id: p for p in problem.providers}
    session = sessions[key]
    timeline = Timeline.for_problem(problem)
    travel = Travel(problem.travel)
    if session.window is not None and not (
        session.window.earliest <= start <= session.window.latest
    ):
        raise _broken(11, "window", "the start lies outside the booking's window")
    if session.window is None and start != session.start:
        raise _broken(11, "window", "the booking has no window: it starts at its planned time")
    at_start = dataclasses.replace(session, start=start, window=None)
    _, rejection = check_pair(at_start, providers[provider], timeline, travel)
    if rejection is not None:
        raise _broken(rejection.rule, rejection.code, index.humanise(rejection.detail))
    base = current_plan(index)
    others = [s.id for s in problem.sessions if s.id not in {a.session for a in base.assignments}]
    without = check(
        problem,
        base.assignments,
        [Unassigned(session=s, reason="not_solved", detail="") for s in others],
    )
    with_pair = check(
        problem,
        [*base.assignments, MatchAssignment(session=key, provider=provider, start=start)],
        [Unassigned(session=s, reason="not_solved", detail="") for s in others if s != key],
    )
    known = {(v.rule, v.session, v.provider, v.message) for v in without.violations}
    new = [
        v for v in with_pair.violations if (v.rule, v.session, v.provider, v.message) not in known
    ]
    # An overlap says more than the drive it also blocks: name it first.
    new.sort(key=lambda v: (v.rule, v.code != "overlap"))
    if new:
        first = new[0]
        raise _broken(
            first.rule,
            first.code,
            index.humanise(first.message),
            [{"rule": v.rule, "code": v.code, "message": index.humanise(v.message)} for v in new],
        )


def place_held_by(db: Session, booking: Booking, provider: Provider) -> bool:
    """Whether ``provider`` already holds a live place of ``booking`` (no one twice in it)."""
    if not booking.places:
        return False
    found = db.scalar(
        select(Assignment.id).where(
            Assignment.booking_id == booking.id,
            Assignment.provider_id == provider.id,
            Assignment.status.in_(LIVE_ASSIGNMENT_STATUSES),
        )
    )
    return found is not None


def assign_manually(
    db: Session,
    *,
    actor: User,
    booking: Booking,
    provider: Provider,
    starts_at: dt.datetime | None = None,
    status: AssignmentStatus = AssignmentStatus.PROPOSED,
    offer_minutes: int = 120,
    now: dt.datetime | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    confirmed_by_phone: bool = False,
    place: int = 0,
) -> Assignment:
    """A dispatcher puts ``provider`` on ``booking`` by hand, under the matcher's own rules.

    For a group booking, on its ``place`` (0: its own), checked with that
    place's language and needs; a provider holds one place of a session at most.

    ``starts_at`` defaults to the booking's planned start. The pair is checked
    on the provider's day as it stands (their accepted and confirmed work
    pinned); a broken rule is a 422 naming it. The assignment starts as
    ``proposed``, ``offered`` (sent to the provider) or ``confirmed``
    (``confirmed_by_phone`` for a provider no message can reach).
    """
    now = ensure_aware(now) if now is not None else utc_now()
    if status not in MANUAL_ASSIGNMENT_STATUSES:
        raise ValueError(f"a manual assignment cannot start as {status}")
    if not dispatcher_can_manage_provider(db, actor, provider):
        raise NotFound(entity="provider", entity_id=provider.id)
    if status != AssignmentStatus.PROPOSED:
        ensure_reachable(
            provider,
            confirmed_by_phone=confirmed_by_phone and status == AssignmentStatus.CONFIRMED,
        )
    # Both locks before any read that decides and any write (see lock_booking).
    booking = lock_booking(db, booking.id)
    lock_provider(db, provider.id)
    ensure_booking_open(booking)
    place_language(booking, place)
    ensure_not_held(db, booking, place=place)
    if place_held_by(db, booking, provider):
        raise Conflict(
            "The provider already holds another place of this session.",
            code="provider_holds_another_place",
            extra={"booking_id": booking.id, "provider_id": provider.id},
        )
    start = ensure_aware(starts_at) if starts_at is not None else booking.starts_at
    horizon_start, horizon_end = booking_days(booking, timezone)
    problem, index = build_problem(
        db,
        horizon_start=horizon_start,
        horizon_end=horizon_end,
        booking_ids=[booking.id],
        now=now,
        provider_ids=[provider.id],
        timezone=timezone,
    )
    key = session_key(booking.id)
    if key not in index.planned:
        raise Conflict(
            "The session has already started; it cannot be staffed any more.",
            code="booking_not_plannable",
            extra={"booking_id": booking.id},
        )
    if provider_key(provider.id) not in index.providers:
        raise Conflict("The provider is inactive.", code="provider_inactive")
    check_manual_pair(for_place(problem, key, place), index, key, provider_key(provider.id), start)

    if booking.status != BookingStatus.PROPOSED:
        set_booking_status(db, actor=actor, booking=booking, status=BookingStatus.PROPOSED)
    db.flush()
    assignment = create_proposal(
        db,
        actor=actor,
        booking=booking,
        provider_id=provider.id,
        starts_at=start,
        explanation={"source": "manual", "sentence": "Chosen by a dispatcher."},
        place=place,
    )
    if status == AssignmentStatus.OFFERED:
        send_offer(
            db,
            actor=actor,
            assignment=assignment,
            booking=booking,
            expires_at=offer_expiry(
                db, provider_id=provider.id, session_start=start, now=now, minutes=offer_minutes
            ),
            now=now,
            timezone=timezone,
        )
    elif status == AssignmentStatus.CONFIRMED:
        confirm(
            db,
            actor=actor,
            assignment=assignment,
            now=now,
            timezone=timezone,
            confirmed_by_phone=confirmed_by_phone,
        )
    return assignment
