"""Re-staffing: when held work falls through, a repair plan re-plans only what fell.

A trigger (a provider gives back accepted or confirmed work, records an
absence over it, is marked unavailable by a dispatcher or deactivated; a new
urgent request) releases the work that can no longer be done and calls
``request_repair``, which stores a ``pending`` plan of kind ``repair`` for
exactly those bookings, in the trigger's transaction. It waits in the plans'
queue: a solver process, or the outbox worker's next tick
(``run_pending_repairs``, which takes repairs only), claims and solves it the
way plans are solved: every other
accepted or confirmed session of the service is pinned (``fixed`` in the
problem), so a repair never moves confirmed work, only staffs what fell.
Its proposals then go out as offers at once when the service has
``auto_offer``, or wait on the board; either way the dispatchers get an
email naming what fell through and what is proposed (``repair_proposed``),
and the board shows the repair with a badge. See docs/operations.md,
"Re-staffing".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments.models import Assignment
from booking.assignments.service.records import audit_assignment, release_booking
from booking.audit import record_audit
from booking.bookings.models import Booking
from booking.organisations.models import Organisation, ServiceAgreement
from booking.outbox import events
from booking.plans import service
from booking.plans.models import Plan
from booking.plans.problem_builder import (
    DEFAULT_TIMEZONE,
    booking_id_of,
    build_problem,
    provider_key,
)
from booking.providers.models import AvailabilityException, Provider
from booking.settings import get_settings
from booking.types import ensure_aware, to_jsonable, utc_now
from booking.users.models import User
from booking.vocabulary import (
    HELD_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    AvailabilityExceptionKind,
    BookingStatus,
    PlanKind,
    PlanStatus,
    UserRole,
)
from matching.phases import Progress
from matching.problem import Problem as MatchProblem

REPAIR_TIME_LIMIT = 10.0
"""Seconds a repair may solve: it plans a handful of sessions around pinned work."""

Trigger = str
"""`gave_back`, `absence`, `unavailable`, `urgent_request`, `deactivated`."""


# --- triggers ---------------------------------------------------------------------------


def held_work_in(
    db: Session,
    provider_id: int,
    spans: Iterable[tuple[dt.datetime, dt.datetime]],
    *,
    now: dt.datetime,
) -> list[Assignment]:
    """The provider's accepted or confirmed work not yet started that overlaps the spans."""
    found: dict[int, Assignment] = {}
    for start, end in spans:
        for assignment in db.scalars(
            select(Assignment).where(
                Assignment.provider_id == provider_id,
                Assignment.status.in_(HELD_ASSIGNMENT_STATUSES),
                Assignment.starts_at < end,
                Assignment.ends_at > start,
                Assignment.starts_at > now,
            )
        ):
            found[assignment.id] = assignment
    return sorted(found.values(), key=lambda a: (a.starts_at, a.id))


def absence_recorded(
    db: Session, *, actor: User, provider: Provider, now: dt.datetime | None = None
) -> Plan | None:
    """After the provider's availability changed: release held work inside an absence, repair.

    Called by the availability service for the provider's own absence and
    for a dispatcher who marks them unavailable for a period.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    spans = [
        (e.starts_at, e.ends_at)
        for e in db.scalars(
            select(AvailabilityException).where(
                AvailabilityException.provider_id == provider.id,
                AvailabilityException.kind == AvailabilityExceptionKind.ABSENCE,
                AvailabilityException.ends_at > now,
            )
        )
    ]
    trigger = "absence" if actor.id == provider.user_id else "unavailable"
    return work_fell_through(
        db,
        actor=actor,
        assignments=held_work_in(db, provider.id, spans, now=now),
        trigger=trigger,
        now=now,
    )


def provider_deactivated(
    db: Session, *, actor: User, provider: Provider, now: dt.datetime | None = None
) -> Plan | None:
    """A provider set inactive: all their held work still to come falls through."""
    now = ensure_aware(now) if now is not None else utc_now()
    far = now + dt.timedelta(days=3650)
    return work_fell_through(
        db,
        actor=actor,
        assignments=held_work_in(db, provider.id, [(now, far)], now=now),
        trigger="deactivated",
        now=now,
    )


def work_fell_through(
    db: Session,
    *,
    actor: User | None,
    assignments: Sequence[Assignment],
    trigger: Trigger,
    now: dt.datetime,
) -> Plan | None:
    """Release held work that can no longer be done (audited, everyone told), then repair.

    An assignment already given back (``declined``) is only repaired.
    Returns the last repair plan requested (one per providing service).
    """
    by_service: dict[int, list[int]] = defaultdict(list)
    who: dict[int, str] = {}
    dropped: dict[int, int] = {}
    for assignment in assignments:
        booking = db.get_one(Booking, assignment.booking_id)
        provider = db.get_one(Provider, assignment.provider_id)
        if assignment.status in HELD_ASSIGNMENT_STATUSES:
            before = assignment.status
            assignment.status = AssignmentStatus.DECLINED
            assignment.responded_at = now
            db.flush()
            audit_assignment(
                db,
                actor=actor,
                action="assignment.fell_through",
                assignment=assignment,
                booking=booking,
                changes={"status": [before, assignment.status], "reason": trigger},
            )
            if before == AssignmentStatus.CONFIRMED:
                events.assignment_cancelled(db, assignment=assignment, now=now)
            else:
                events.offer_closed(db, assignment=assignment, now=now)
            release_booking(db, actor=actor, booking=booking, now=now)
        by_service[provider.organisation_id].append(booking.id)
        who[booking.id] = provider.display_name or f"#{provider.id}"
        dropped[booking.id] = provider.id
    db.flush()
    plan = None
    for org_id, booking_ids in by_service.items():
        plan = request_repair(
            db,
            actor=actor,
            providing_org_id=org_id,
            booking_ids=booking_ids,
            trigger=trigger,
            fell_through=who,
            dropped=dropped,
            now=now,
        )
    return plan


def urgent_request(db: Session, *, booking: Booking, now: dt.datetime | None = None) -> Plan | None:
    """A new request starting within its service's ``urgent_within_hours`` is repaired at once."""
    now = ensure_aware(now) if now is not None else utc_now()
    for org_id in db.scalars(
        select(ServiceAgreement.providing_org_id)
        .where(ServiceAgreement.requesting_org_id == booking.organisation_id)
        .order_by(ServiceAgreement.providing_org_id)
    ):
        organisation = db.get_one(Organisation, org_id)
        if booking.starts_at - now <= dt.timedelta(hours=organisation.urgent_within_hours):
            return request_repair(
                db,
                actor=None,
                providing_org_id=org_id,
                booking_ids=[booking.id],
                trigger="urgent_request",
                fell_through={},
                now=now,
            )
    return None


# --- the repair plan --------------------------------------------------------------------


def _dispatcher_of(db: Session, org_id: int) -> User | None:
    return db.scalars(
        select(User)
        .where(
            User.organisation_id == org_id,
            User.role == UserRole.DISPATCHER,
            User.is_active,
        )
        .order_by(User.id)
    ).first()


def request_repair(
    db: Session,
    *,
    actor: User | None,
    providing_org_id: int,
    booking_ids: Sequence[int],
    trigger: Trigger,
    fell_through: dict[int, str],
    now: dt.datetime,
    dropped: dict[int, int] | None = None,
) -> Plan | None:
    """Store a pending repair plan for these bookings; the worker's tick solves it.

    The plan is made in the name of the acting dispatcher, else of the
    service's first dispatcher (a provider or the system triggered it); a
    service without a dispatcher gets no repair (nobody could act on it).
    """
    owner = actor if actor is not None and actor.role == UserRole.DISPATCHER else None
    owner = owner or _dispatcher_of(db, providing_org_id)
    bookings = [db.get_one(Booking, b) for b in sorted(set(booking_ids))]
    if owner is None or not bookings:
        return None
    earliest = min((b.window_earliest or b.starts_at) for b in bookings)
    latest = max(b.ends_at for b in bookings)
    plan = Plan(
        created_by_id=owner.id,
        providing_org_id=providing_org_id,
        kind=PlanKind.REPAIR,
        status=PlanStatus.PENDING,
        horizon_start=earliest - dt.timedelta(minutes=1),
        horizon_end=latest + dt.timedelta(minutes=1),
        parameters=to_jsonable(
            {
                "booking_ids": [b.id for b in bookings],
                "trigger": trigger,
                "fell_through": {str(k): v for k, v in fell_through.items()},
                # Who dropped each booking: never proposed for it again.
                "dropped": {str(k): v for k, v in (dropped or {}).items()},
                "time_limit": REPAIR_TIME_LIMIT,
                "timezone": DEFAULT_TIMEZONE,
                "providing_org_id": providing_org_id,
                "move_confirmed": False,
            }
        ),
    )
    db.add(plan)
    db.flush()
    record_audit(
        db,
        actor=actor,
        action="plan.repair_requested",
        entity=plan,
        changes={"trigger": trigger, "booking_ids": [b.id for b in bookings]},
    )
    return plan


def run_pending_repairs(db: Session, *, now: dt.datetime | None = None) -> list[Plan]:
    """The worker's tick: take the pending repairs from the plans' queue, oldest first.

    The same claim as the solver processes' (``booking.plans.jobs``), so a
    repair is solved once whichever takes it first; solved in ``db``'s
    transaction, committed plan by plan.
    """
    from booking.plans.solver import Solver  # the solver solves repairs with this module

    clock = (lambda: ensure_aware(now)) if now is not None else utc_now
    solver = Solver(lambda: nullcontext(db), kinds={PlanKind.REPAIR}, heartbeat=False, clock=clock)
    return [db.get_one(Plan, plan_id) for plan_id in solver.run_pending()]


def solve_repair(
    db: Session,
    plan: Plan,
    *,
    now: dt.datetime,
    workers: int | None = 1,
    progress: Progress | None = None,
) -> Plan:
    """Solve a pending repair as plans are solved, then offer its proposals or alert.

    Everything but the plan's bookings is held work of the service, pinned
    by the problem builder: a repair staffs what fell and moves nothing
    else (``move_confirmed`` false, the only mode).
    """
    began = time.perf_counter()
    params: dict[str, Any] = dict(plan.parameters)
    actor = db.get_one(User, plan.created_by_id)
    plan.status = PlanStatus.RUNNING
    db.flush()
    open_ids = [
        b.id
        for b in db.scalars(select(Booking).where(Booking.id.in_(params["booking_ids"])))
        if b.status in (BookingStatus.REQUESTED, BookingStatus.UNFILLED, BookingStatus.PROPOSED)
    ]
    problem, index = build_problem(
        db,
        horizon_start=plan.horizon_start,
        horizon_end=plan.horizon_end,
        booking_ids=open_ids,
        now=now,
        providing_org_id=plan.providing_org_id,
        timezone=str(params.get("timezone", DEFAULT_TIMEZONE)),
    )
    problem = _without_who_dropped(problem, dict(params.get("dropped", {})))
    warnings: list[str] = []
    solution = None
    try:
        if index.planned:
            # Taken from the plans' queue by a solver or the worker's tick.
            problem, solution = service._solve_keeping_what_can_be_kept(
                problem,
                index,
                time_limit=float(params.get("time_limit", REPAIR_TIME_LIMIT)),
                workers=workers,
                warnings=warnings,
                progress=progress,
            )
    except ValueError as exc:
        plan.status = PlanStatus.FAILED
        plan.error = index.humanise(str(exc))
        plan.finished_at = utc_now()
        db.flush()
        return plan
    service._store(db, actor, plan, problem, index, solution, now)
    plan.result = {**(plan.result or {}), "warnings": warnings, "trigger": params.get("trigger")}
    plan.timings = {"total_seconds": round(time.perf_counter() - began, 3)}
    plan.status = PlanStatus.DONE
    plan.finished_at = utc_now()
    db.flush()
    organisation = db.get(Organisation, plan.providing_org_id or 0)
    offered = organisation is not None and organisation.auto_offer
    if offered:
        service.apply_plan(
            db,
            actor=actor,
            plan=plan,
            mode="offer",
            offer_minutes=get_settings().offer_timeout_minutes,
            now=now,
        )
    record_audit(
        db,
        actor=actor,
        action="plan.repaired",
        entity=plan,
        changes={
            "trigger": params.get("trigger"),
            "proposals": len((plan.result or {}).get("proposals", [])),
            "unassigned": len((plan.result or {}).get("unassigned", [])),
            "offered": offered,
        },
    )
    _alert(db, plan, params, offered=offered, now=now)
    return plan


def _without_who_dropped(problem: MatchProblem, dropped: dict[str, int]) -> MatchProblem:
    """The problem with each booking's dropped provider in its ``excluded_providers``."""
    if not dropped:
        return problem
    sessions = tuple(
        dataclasses.replace(
            s,
            excluded_providers=s.excluded_providers
            | {provider_key(dropped[str(booking_id_of(s.id))])},
        )
        if str(booking_id_of(s.id)) in dropped
        else s
        for s in problem.sessions
    )
    return dataclasses.replace(problem, sessions=sessions)


def _alert(
    db: Session, plan: Plan, params: dict[str, Any], *, offered: bool, now: dt.datetime
) -> None:
    """One email per booking to the dispatchers serving it; unstaffed ones go back on the board."""
    result = plan.result or {}
    proposed = {int(p["booking_id"]): str(p["provider_name"]) for p in result.get("proposals", [])}
    fell = {int(k): str(v) for k, v in dict(params.get("fell_through", {})).items()}
    for booking_id in params["booking_ids"]:
        booking = db.get(Booking, int(booking_id))
        if booking is None:
            continue
        events.repair_proposed(
            db,
            booking=booking,
            plan_id=plan.id,
            fell_through=fell.get(booking.id, str(params.get("trigger", ""))),
            proposed=proposed.get(booking.id),
            offered=offered and booking.id in proposed,
            now=now,
        )


def open_repairs(db: Session, providing_org_id: int | None) -> list[Plan]:
    """Repairs whose proposals still wait for a dispatcher: the board's badge."""
    query = select(Plan).where(Plan.kind == PlanKind.REPAIR, Plan.status == PlanStatus.DONE)
    if providing_org_id is not None:
        query = query.where(Plan.providing_org_id == providing_org_id)
    waiting = []
    for plan in db.scalars(query.order_by(Plan.id.desc()).limit(50)):
        ids = [int(p["assignment_id"]) for p in (plan.result or {}).get("proposals", [])]
        if (
            ids
            and db.scalars(
                select(Assignment.id).where(
                    Assignment.id.in_(ids), Assignment.status == AssignmentStatus.PROPOSED
                )
            ).first()
        ):
            waiting.append(plan)
    return waiting
