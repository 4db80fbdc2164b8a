"""Assignments: a provider on a booking, from proposal to confirmation, and who may move it.

The state machine (docs/api.md): ``proposed -> offered -> accepted -> confirmed``,
or ``declined`` (the booking goes back to ``requested``), or ``cancelled``;
an offer nobody answered in time becomes ``expired``. A provider accepts or
declines only their own offers and work, and cannot give back accepted or
confirmed work within ``decline_lock_hours`` of its start (a dispatcher can).
A dispatcher proposes, offers, confirms and cancels for the providers of
their service; an admin for everyone.

Accepted work is a commitment as much as confirmed work: every path that
gives a provider work (a manual assignment, an offer, accepting, confirming,
applying a plan) checks it against the provider's accepted and confirmed
work, overlaps and the time to drive between the places alike
(``assert_fits_commitments``). Accepting and confirming lock the booking
and then the provider row (``SELECT ... FOR NO KEY UPDATE`` on PostgreSQL)
before checking, so two commitments of one provider serialise; PostgreSQL's
exclusion constraint (no overlapping accepted or confirmed work) and the
"one accepted or confirmed assignment per booking" index are the last
guards; their violations become ``Conflict`` (409), never a 500.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, false, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.access import dispatcher_can_manage_provider, get_visible_booking
from booking.assignments.models import (
    ACTIVE_ASSIGNMENT_INDEX,
    HELD_OVERLAP_CONSTRAINT,
    Assignment,
)
from booking.audit import record_audit
from booking.bookings.models import Booking
from booking.db import violated_constraint
from booking.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from booking.outbox import events
from booking.plans.problem_builder import (
    DEFAULT_TIMEZONE,
    ProblemIndex,
    assignment_session,
    build_problem,
    provider_key,
    session_key,
)
from booking.policies import provider_may_decline
from booking.providers.links import LinkHolder
from booking.providers.models import Provider
from booking.settings import get_settings
from booking.types import ensure_aware, utc_now
from booking.users.models import User
from booking.vocabulary import (
    CHANGEABLE_BOOKING_STATUSES,
    HELD_ASSIGNMENT_STATUSES,
    LIVE_ASSIGNMENT_STATUSES,
    MANUAL_ASSIGNMENT_STATUSES,
    PENDING_ASSIGNMENT_STATUSES,
    PROVIDER_VISIBLE_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    BookingStatus,
    UserRole,
)
from matching.candidates import rank_candidates
from matching.eligibility import check_pair
from matching.problem import Assignment as MatchAssignment
from matching.problem import Plan as MatchPlan
from matching.problem import Problem as MatchProblem
from matching.problem import Score, Stats, Unassigned
from matching.timeline import Timeline
from matching.travel import Travel
from matching.validate import check


def assert_fits_commitments(
    db: Session,
    *,
    assignment: Assignment,
    booking: Booking,
    now: dt.datetime,
    timezone: str | None = None,
) -> None:
    """Refuse (409) work that clashes with the provider's accepted or confirmed work.

    An overlap is ``provider_double_booked``; work that leaves no free time to
    drive between two places (rule 9 of docs/problem.md, read as the matcher reads
    it, with the days before and after) is ``no_time_to_drive``. Only the
    clashes this assignment brings count: the rest of the provider's rules
    (availability, daily minutes) were checked when the work was proposed.
    The caller holds the provider's lock when it is about to commit them.
    """
    assert_no_confirmed_overlap(
        db,
        assignment.provider_id,
        assignment.starts_at,
        assignment.ends_at,
        exclude_assignment_id=assignment.id,
        statuses=HELD_ASSIGNMENT_STATUSES,
    )
    timezone = timezone or get_settings().timezone
    zone = ZoneInfo(timezone)
    first = assignment.starts_at.astimezone(zone).date() - dt.timedelta(days=1)
    last = assignment.ends_at.astimezone(zone).date() + dt.timedelta(days=2)
    problem, index = build_problem(
        db,
        horizon_start=dt.datetime.combine(first, dt.time(0), tzinfo=zone),
        horizon_end=dt.datetime.combine(last, dt.time(0), tzinfo=zone),
        booking_ids=[],
        now=now,
        provider_ids=[assignment.provider_id],
        timezone=timezone,
    )
    provider = provider_key(assignment.provider_id)
    if provider not in index.providers:
        return  # an inactive provider: nothing to route, the overlap check stands
    key = session_key(booking.id)
    index.pinned.pop(key, None)
    index.bookings[key] = booking
    session = assignment_session(booking, assignment, index)
    problem = dataclasses.replace(
        problem,
        sessions=(*(s for s in problem.sessions if s.id != key), session),
        fixed=tuple(f for f in problem.fixed if f.session != key),
    )
    held = [
        MatchAssignment(session=k, provider=provider_key(a.provider_id), start=a.starts_at)
        for k, a in index.pinned.items()
    ]
    mine = MatchAssignment(session=key, provider=provider, start=assignment.starts_at)
    before = check(problem, held, [Unassigned(session=key, reason="not_solved", detail="")])
    known = {(v.rule, v.session, v.message) for v in before.violations}
    clashes = [
        v
        for v in check(problem, [*held, mine]).violations
        if v.rule == 9 and (v.rule, v.session, v.message) not in known
    ]
    if clashes:
        # "2026-12-14: no free time for the drive 62 min from ... (ends 12:00) to ..."
        day, _, leg = index.humanise(clashes[0].message).partition(": ")
        raise Conflict(
            f"{index.provider(provider).display_name} would have {leg} on {day}.",
            code="no_time_to_drive",
            extra={
                "rule": 9,
                "rule_code": clashes[0].code,
                "provider_id": assignment.provider_id,
            },
        )


def assert_no_confirmed_overlap(
    session: Session,
    provider_id: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    exclude_assignment_id: int | None = None,
    statuses: Collection[AssignmentStatus] = (AssignmentStatus.CONFIRMED,),
) -> None:
    """Raise ``Conflict`` if the provider has work overlapping ``[starts_at, ends_at)``.

    PostgreSQL also enforces this (for accepted and confirmed work) with an
    exclusion constraint, which is what holds under concurrent dispatchers;
    this guard gives the same answer on SQLite (where one writer at a time
    and our explicit BEGIN make the check and the write atomic) and a
    readable error on both. Touching intervals (one ends when the next
    starts) do not overlap. ``statuses`` says which work counts (confirmed
    only by default; ``assert_fits_commitments`` asks for accepted too).
    """
    ensure_aware(starts_at)
    ensure_aware(ends_at)
    if ends_at <= starts_at:
        raise ValueError("ends_at must be after starts_at")
    query = (
        select(
            Assignment.id,
            Assignment.booking_id,
            Assignment.status,
            Assignment.starts_at,
            Assignment.ends_at,
        )
        .where(
            Assignment.provider_id == provider_id,
            Assignment.status.in_(list(statuses)),
            Assignment.starts_at < ends_at,
            Assignment.ends_at > starts_at,
        )
        .order_by(Assignment.starts_at)
        .limit(1)
    )
    if exclude_assignment_id is not None:
        query = query.where(Assignment.id != exclude_assignment_id)
    clash = session.execute(query).first()
    if clash is not None:
        raise Conflict(
            f"provider {provider_id} already holds work ({clash.status}) from "
            f"{clash.starts_at.isoformat()} to {clash.ends_at.isoformat()} "
            f"(booking {clash.booking_id})",
            code="provider_double_booked",
            extra={
                "assignment_id": clash.id,
                "booking_id": clash.booking_id,
                "starts_at": clash.starts_at.isoformat(),
                "ends_at": clash.ends_at.isoformat(),
            },
        )


# --- who sees what -----------------------------------------------------------------------


def assignment_query_for(db: Session, user: User) -> Select[tuple[Assignment]]:
    """The assignments ``user`` may read: their service's (dispatcher), their own (provider).

    A provider does not see proposals nobody has sent them yet. Requesters
    read the confirmed provider on the booking itself, not here.
    """
    query = select(Assignment)
    match user.role:
        case UserRole.ADMIN:
            return query
        case UserRole.DISPATCHER:
            mine = select(Provider.id).where(Provider.organisation_id == user.organisation_id)
            return query.where(Assignment.provider_id.in_(mine))
        case UserRole.PROVIDER:
            mine = select(Provider.id).where(Provider.user_id == user.id)
            return query.where(
                Assignment.provider_id.in_(mine), Assignment.status != AssignmentStatus.PROPOSED
            )
    return query.where(false())


def get_visible_assignment(db: Session, user: User, assignment_id: int) -> Assignment:
    """The assignment if ``user`` may read it; ``NotFound`` if missing or hidden."""
    found = db.scalars(assignment_query_for(db, user).where(Assignment.id == assignment_id)).first()
    if found is None:
        raise NotFound(entity="assignment", entity_id=assignment_id)
    return found


Answerer = User | LinkHolder
"""Who may answer an offer: a signed-in user, or the provider through a signed link."""


def _is_own(db: Session, user: Answerer, assignment: Assignment) -> bool:
    if isinstance(user, LinkHolder):
        # A link answers for its own assignment and provider, nothing else.
        return (user.assignment_id, user.provider_id) == (assignment.id, assignment.provider_id)
    provider = db.get_one(Provider, assignment.provider_id)
    return provider.user_id is not None and provider.user_id == user.id


def _signed_in(actor: Answerer) -> User | None:
    """The user to record as the actor; ``None`` for a signed link (audited as such)."""
    return actor if isinstance(actor, User) else None


def _via(actor: Answerer) -> dict[str, object]:
    """What the audit adds about an answer given through a signed link."""
    return {"via": "signed_link"} if isinstance(actor, LinkHolder) else {}


def _manages(db: Session, user: Answerer, assignment: Assignment) -> bool:
    if isinstance(user, LinkHolder) or user.role not in (UserRole.DISPATCHER, UserRole.ADMIN):
        return False
    return dispatcher_can_manage_provider(db, user, db.get_one(Provider, assignment.provider_id))


def _require_dispatch(db: Session, user: User, assignment: Assignment) -> None:
    if not _manages(db, user, assignment):
        raise Forbidden("Only the provider's dispatchers or an admin may do this.")


def require_staffing_right(db: Session, user: User, assignment: Assignment) -> None:
    """What every path that offers or confirms checks, whoever calls it (endpoint or plan).

    The actor dispatches the provider (else ``Forbidden``) and may see the
    booking (else ``NotFound``, as ``GET /bookings/{id}`` answers).
    """
    _require_dispatch(db, user, assignment)
    get_visible_booking(db, user, assignment.booking_id)


def _require_answer_right(db: Session, user: Answerer, assignment: Assignment) -> None:
    if _is_own(db, user, assignment) or _manages(db, user, assignment):
        return
    raise Forbidden("Only the provider themself or their dispatchers may answer.")


# --- locks and guards --------------------------------------------------------------------


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


def _fresh(db: Session, assignment: Assignment) -> Assignment:
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


def _holder(db: Session, booking_id: int, *, besides: int | None = None) -> Assignment | None:
    query = select(Assignment).where(
        Assignment.booking_id == booking_id,
        Assignment.status.in_(HELD_ASSIGNMENT_STATUSES),
    )
    if besides is not None:
        query = query.where(Assignment.id != besides)
    return db.scalars(query.execution_options(populate_existing=True)).first()


def ensure_not_held(db: Session, booking: Booking, *, besides: int | None = None) -> None:
    holder = _holder(db, booking.id, besides=besides)
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
) -> Assignment:
    """A new ``proposed`` assignment of the booking as it stands now, and its audit row.

    ``explanation`` says where it comes from (``source``: ``manual``, ``plan``) and why;
    the audit row names the plan it belongs to, or else its source.
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
        changes={"status": [None, assignment.status], **origin, "starts_at": starts_at},
    )
    return assignment


def _audit_status_change(
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
    changes: dict[str, object] = {"status": [before, assignment.status], **_via(actor)}
    if reason:
        changes["reason"] = reason
    audit_assignment(
        db,
        actor=_signed_in(actor),
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


def _live_others(db: Session, booking_id: int, besides: int) -> list[Assignment]:
    return list(
        db.scalars(
            select(Assignment)
            .where(
                Assignment.booking_id == booking_id,
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

    Each provider whose offer is withdrawn is told the session was filled.
    """
    closed = _live_others(db, booking.id, winner.id)
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


def _release_booking(
    db: Session, *, actor: User | None, booking: Booking, now: dt.datetime
) -> None:
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


# --- the current picture of a day, and the candidates ------------------------------------


def booking_days(booking: Booking, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """Local midnight before the booking's earliest start to local midnight after its latest end."""
    zone = ZoneInfo(timezone)
    earliest = (booking.window_earliest or booking.starts_at).astimezone(zone).date()
    latest_start = booking.window_latest or booking.starts_at
    latest = (latest_start + dt.timedelta(minutes=booking.duration_minutes)).astimezone(zone)
    last = latest.date() if latest.time() != dt.time(0) else latest.date() - dt.timedelta(days=1)
    start = dt.datetime.combine(earliest, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start, end


def current_plan(index: ProblemIndex) -> MatchPlan:
    """The work the index knows (pinned, and proposals when asked) as a matcher plan."""
    held = [*index.pinned.items(), *index.proposed.items()]
    return MatchPlan(
        assignments=tuple(
            MatchAssignment(session=key, provider=provider_key(a.provider_id), start=a.starts_at)
            for key, a in held
        ),
        unassigned=(),
        score=Score(),
        stats=Stats(status="current", solve_seconds=0.0),
    )


@dataclass(frozen=True)
class CandidateView:
    """One provider for one booking, ranked: best start and cost, or the rule that says no."""

    provider: Provider
    feasible: bool
    starts_at: dt.datetime | None
    cost: int | None
    travel_minutes: int | None
    preferred: bool
    current: bool
    rule: int | None
    code: str | None
    detail: str


def _providing_scope(user: User) -> int | None:
    return None if user.role == UserRole.ADMIN else user.organisation_id


def candidates_for(
    db: Session,
    *,
    actor: User,
    booking: Booking,
    now: dt.datetime | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> list[CandidateView]:
    """Every provider of the actor's service who speaks the language, ranked for ``booking``.

    The day is built as it stands: confirmed and accepted work pinned, the
    current proposals of that day in place. Feasible providers come first,
    cheapest first; the others carry the rule and the sentence that rule
    them out.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    ensure_booking_open(booking)
    horizon_start, horizon_end = booking_days(booking, timezone)
    problem, index = build_problem(
        db,
        horizon_start=horizon_start,
        horizon_end=horizon_end,
        booking_ids=[booking.id],
        now=now,
        providing_org_id=_providing_scope(actor),
        language_code=booking.language_code,
        with_proposals=True,
        timezone=timezone,
    )
    key = session_key(booking.id)
    if key not in index.planned:
        raise Conflict(
            "The booking is already held by a provider or its session has started.",
            code="booking_not_plannable",
            extra={"booking_id": booking.id},
        )
    ranked = rank_candidates(problem, current_plan(index), key)
    return [
        CandidateView(
            provider=index.provider(c.provider),
            feasible=c.feasible,
            starts_at=c.start,
            cost=c.cost,
            travel_minutes=c.travel_delta,
            preferred=c.preferred,
            current=c.current,
            rule=c.rule,
            code=c.code,
            detail=index.humanise(c.detail),
        )
        for c in ranked
    ]


# --- manual assignment -------------------------------------------------------------------


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
        raise _broken(
            rejection.rule, rejection.code, index.humanise(f"{provider} {rejection.detail}")
        )
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
) -> Assignment:
    """A dispatcher puts ``provider`` on ``booking`` by hand, under the matcher's own rules.

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
    ensure_not_held(db, booking)
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
    check_manual_pair(problem, index, key, provider_key(provider.id), start)

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
    )
    if status == AssignmentStatus.OFFERED:
        send_offer(
            db,
            actor=actor,
            assignment=assignment,
            booking=booking,
            expires_at=now + dt.timedelta(minutes=offer_minutes),
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


# --- the transitions ---------------------------------------------------------------------


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
    _require_answer_right(db, actor, assignment)
    user = _signed_in(actor)
    booking = lock_booking(db, assignment.booking_id)
    assignment = _fresh(db, assignment)
    if assignment.status != AssignmentStatus.OFFERED:
        raise Conflict(
            f"Only an offer can be accepted; this one is {assignment.status}.",
            code="not_offered",
            extra={"assignment_status": assignment.status},
        )
    if assignment.offer_expires_at is not None and assignment.offer_expires_at <= now:
        raise Conflict("The offer has expired.", code="offer_expired")
    ensure_booking_open(booking)
    ensure_not_held(db, booking, besides=assignment.id)
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
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The offer was answered meanwhile.", code="not_offered")
    assignment = _fresh(db, assignment)
    audit_assignment(
        db,
        actor=user,
        action="assignment.accepted",
        assignment=assignment,
        booking=booking,
        changes={"status": ["offered", "accepted"], **_via(actor)},
    )
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
    _require_answer_right(db, actor, assignment)
    booking = lock_booking(db, assignment.booking_id)
    assignment = _fresh(db, assignment)
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
    as_dispatcher = _manages(db, actor, assignment)
    if not as_dispatcher and not provider_may_decline(assignment, now, lock_hours=lock_hours):
        locked_from = assignment.starts_at - dt.timedelta(hours=lock_hours)
        raise Conflict(
            f"Work starting within {lock_hours} h can no longer be given back by the provider; "
            "call the dispatcher.",
            code="decline_locked",
            extra={"locked_from": locked_from.isoformat()},
        )
    before = assignment.status
    user = _signed_in(actor)
    assignment.status = AssignmentStatus.DECLINED
    assignment.responded_at = now
    assignment.decided_by_id = user.id if user is not None else None
    db.flush()
    _audit_status_change(
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
    _release_booking(db, actor=user, booking=booking, now=now)
    db.flush()
    if before == AssignmentStatus.OFFERED and booking.status == BookingStatus.REQUESTED:
        events.offer_unanswered(db, booking=booking, now=now)
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
    assignment = _fresh(db, assignment)
    confirmable = (AssignmentStatus.PROPOSED, AssignmentStatus.OFFERED, AssignmentStatus.ACCEPTED)
    if assignment.status not in confirmable:
        raise Conflict(
            f"A {assignment.status} assignment cannot be confirmed.",
            code="not_confirmable",
            extra={"assignment_status": assignment.status},
        )
    ensure_booking_open(booking)
    ensure_not_held(db, booking, besides=assignment.id)
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
    if booking.starts_at != assignment.starts_at:
        booking.starts_at = assignment.starts_at
    set_booking_status(db, actor=actor, booking=booking, status=BookingStatus.CONFIRMED)
    flush_guarded(db)
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
    _require_dispatch(db, actor, assignment)
    booking = lock_booking(db, assignment.booking_id)
    assignment = _fresh(db, assignment)
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
    _audit_status_change(
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
    _release_booking(db, actor=actor, booking=booking, now=now)
    db.flush()
    return assignment
