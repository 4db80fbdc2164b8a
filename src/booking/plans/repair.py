"""Re-staffing: when held work falls through, a repair plan re-plans only what fell.

A trigger (a provider gives back accepted or confirmed work, records an
absence over it, is marked unavailable by a dispatcher or deactivated; their
certification lapses before certified work, found by the worker's tick; a new
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
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments.models import Assignment
from booking.assignments.service.records import audit_assignment, release_booking
from booking.audit import record_audit
from booking.bookings.models import Booking
from booking.errors import Conflict
from booking.organisations.models import Organisation, ServiceAgreement
from booking.outbox import events
from booking.plans import service
from booking.plans.failures import PlanFailure
from booking.plans.models import Plan
from booking.plans.problem_builder import (
    DEFAULT_TIMEZONE,
    ProblemIndex,
    booking_id_of,
    build_problem,
    provider_key,
)
from booking.policies import certification_valid
from booking.providers.models import AvailabilityException, Provider, ProviderLanguage
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
from matching.problem import Plan as MatchPlan
from matching.problem import Problem as MatchProblem

REPAIR_TIME_LIMIT = 10.0
"""Seconds a repair may solve: it plans a handful of sessions around pinned work."""

Trigger = str
MoveConfirmed = Literal["forbid", "allow"]
MOVE_CONFIRMED_MODES: tuple[MoveConfirmed, ...] = ("forbid", "allow")
"""`gave_back`, `absence`, `unavailable`, `urgent_request`, `deactivated`,
`certification_expired`."""


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


def certifications_expiring(db: Session, *, now: dt.datetime | None = None) -> list[Plan]:
    """Held work whose provider's certification expires under it, before the session's day.

    A booking that ``requires_certified`` stays with a provider whose
    certification of its language ends (``certified_until``) before the
    session only until the worker's next tick: the work falls through
    (trigger ``certification_expired``) and is repaired like any other.
    Only a certification that still held when the work was given expires
    *under* it: a dispatcher who knowingly gave certified work to someone
    uncertified, or already expired, made a manual decision that is not the
    system's to undo. The day is the session's local day in its service's
    time zone, the rule of ``policies.certification_valid``.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    # One query: only certifications with an end date can expire under work.
    rows = db.execute(
        select(Assignment, ProviderLanguage, Organisation.timezone)
        .join(Booking, Booking.id == Assignment.booking_id)
        .join(Provider, Provider.id == Assignment.provider_id)
        .join(Organisation, Organisation.id == Provider.organisation_id)
        .join(
            ProviderLanguage,
            (ProviderLanguage.provider_id == Assignment.provider_id)
            & (ProviderLanguage.language_code == Booking.language_code),
        )
        .where(
            Booking.requires_certified,
            ProviderLanguage.certified_until.is_not(None),
            Assignment.status.in_(HELD_ASSIGNMENT_STATUSES),
            Assignment.starts_at > now,
        )
        .order_by(Assignment.starts_at, Assignment.id)
    ).all()
    lapsed: list[Assignment] = []
    for assignment, certification, timezone in rows:
        zone = ZoneInfo(timezone)
        given_on = ensure_aware(assignment.created_at).astimezone(zone).date()
        day = ensure_aware(assignment.starts_at).astimezone(zone).date()
        if certification_valid(certification, given_on) and not certification_valid(
            certification, day
        ):
            lapsed.append(assignment)
    if not lapsed:
        return []
    plans = work_fell_through(
        db, actor=None, assignments=lapsed, trigger="certification_expired", now=now
    )
    return [plans] if plans is not None else []


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
    move_confirmed: MoveConfirmed = "forbid",
    again_of: int | None = None,
) -> Plan | None:
    """Store a pending repair plan for these bookings; the worker's tick solves it.

    ``move_confirmed`` is the repair's option for the held work around:
    ``forbid`` pins it, ``allow`` lets the matcher move it at a price above
    any travel saving (``move_cost``), so only to staff more sessions.

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
                "move_confirmed": move_confirmed,
                "again_of": again_of,
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
        changes={
            "trigger": trigger,
            "booking_ids": [b.id for b in bookings],
            "move_confirmed": move_confirmed,
            "again_of": again_of,
        },
    )
    return plan


def repair_again(
    db: Session,
    *,
    actor: User,
    plan: Plan,
    move_confirmed: MoveConfirmed,
    now: dt.datetime | None = None,
) -> Plan:
    """A dispatcher asks a solved repair again for what it left open, e.g. with
    ``move_confirmed`` ``allow`` after the default pinning staffed nobody.

    Its trigger, who fell through and who dropped what carry over; the
    worker's next tick solves it. ``Conflict`` if the plan is not a solved
    repair or left nothing open.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    if plan.kind != PlanKind.REPAIR or plan.status != PlanStatus.DONE:
        raise Conflict("Only a solved repair can be asked again.", code="not_a_solved_repair")
    left = [int(u["booking_id"]) for u in (plan.result or {}).get("unassigned", [])]
    still_open = [
        b.id
        for b in db.scalars(select(Booking).where(Booking.id.in_(left)).order_by(Booking.id))
        if b.status in (BookingStatus.REQUESTED, BookingStatus.UNFILLED)
    ]
    if not still_open:
        raise Conflict("The repair left no session open.", code="nothing_to_repair")
    params: dict[str, Any] = dict(plan.parameters)
    again = request_repair(
        db,
        actor=actor,
        providing_org_id=plan.providing_org_id or 0,
        booking_ids=still_open,
        trigger=str(params.get("trigger", "")),
        fell_through={int(k): str(v) for k, v in dict(params.get("fell_through", {})).items()},
        dropped={int(k): int(v) for k, v in dict(params.get("dropped", {})).items()},
        move_confirmed=move_confirmed,
        again_of=plan.id,
        now=now,
    )
    if again is None:
        raise Conflict("The service has no dispatcher to act on a repair.", code="no_dispatcher")
    return again


def run_pending_repairs(db: Session, *, now: dt.datetime | None = None) -> list[Plan]:
    """The worker's tick: release work whose certification lapsed, then take the
    pending repairs from the plans' queue, oldest first.

    The same claim as the solver processes' (``booking.plans.jobs``), so a
    repair is solved once whichever takes it first; solved in ``db``'s
    transaction, committed plan by plan.
    """
    from booking.plans.solver import Solver  # the solver solves repairs with this module

    at = ensure_aware(now) if now is not None else utc_now()
    certifications_expiring(db, now=at)
    clock = (lambda: at) if now is not None else utc_now
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
    else. With ``move_confirmed`` ``allow`` the held work is unpinned but
    hinted where it is, each move costing ``move_cost`` soft points: held
    work moves only when that staffs a session more (the medium level), and
    a moved session is released (audited, its provider told) and proposed
    again with the rest. This is the one place a repair is solved.
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
    movable = params.get("move_confirmed") == "allow"
    if movable:
        problem = dataclasses.replace(problem, fixed=())
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
                disruption_weight=move_cost(problem) if movable else 0,
            )
    except ValueError as exc:
        plan.status = PlanStatus.FAILED
        plan.error = index.humanise(str(exc))
        plan.error_code = PlanFailure.UNSOLVABLE
        plan.finished_at = utc_now()
        db.flush()
        return plan
    moved = _release_moved(db, actor, plan, index, solution, now) if movable else []
    service._store(db, actor, plan, problem, index, solution, now)
    plan.result = {
        **(plan.result or {}),
        "warnings": warnings,
        "trigger": params.get("trigger"),
        "moved": moved,
    }
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
            "moved": [m["booking_id"] for m in moved],
            "offered": offered,
        },
    )
    _alert(db, plan, params, offered=offered, now=now)
    return plan


def move_cost(problem: MatchProblem) -> int:
    """Soft points per moved held session: more than any plan's travel and bonuses.

    No provider drives more than 24 h a day, so the whole problem's travel
    is below 1440 minutes x its days (with the day before and after, rule 9)
    x its providers; the preferred bonus is 60 per session. A move costing
    more than all of that is never worth a travel saving, only a session
    more staffed, which the medium level decides first.
    """
    if not problem.sessions:
        return 1
    first = min(s.start for s in problem.sessions).date()
    last = max(s.start for s in problem.sessions).date()
    days = (last - first).days + 3
    return 1 + 1440 * days * max(1, len(problem.providers)) + 60 * len(problem.sessions)


def _release_moved(
    db: Session,
    actor: User,
    plan: Plan,
    index: ProblemIndex,
    solution: MatchPlan | None,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Release the held work the solver moved, and plan it with the repair's own sessions.

    Each moved session's assignment is cancelled (audited ``assignment.moved``,
    its provider told as for any cancellation), its booking goes back to
    requested, and its key joins ``index.planned`` so the plan proposes it to
    its new provider.
    """
    if solution is None:
        return []
    given = {a.session: a.provider for a in solution.assignments}
    moved: list[dict[str, Any]] = []
    for key, assignment in list(index.pinned.items()):
        now_with = given.get(key)
        if now_with is None or now_with == provider_key(assignment.provider_id):
            continue
        booking = index.booking(key)
        before = assignment.status
        assignment.status = AssignmentStatus.CANCELLED
        assignment.responded_at = now
        db.flush()
        audit_assignment(
            db,
            actor=actor,
            action="assignment.moved",
            assignment=assignment,
            booking=booking,
            changes={"status": [before, assignment.status], "by_plan": plan.id},
        )
        if before == AssignmentStatus.CONFIRMED:
            events.assignment_cancelled(db, assignment=assignment, now=now)
        else:
            events.offer_closed(db, assignment=assignment, now=now)
        release_booking(db, actor=actor, booking=booking, now=now)
        db.flush()
        index.booking_versions[booking.id] = booking.version_id
        del index.pinned[key]
        index.planned.append(key)
        moved.append(
            {
                "booking_id": booking.id,
                "from_provider_id": assignment.provider_id,
                "from_name": index.provider(provider_key(assignment.provider_id)).display_name,
                "to_provider_id": index.provider(now_with).id,
            }
        )
    index.planned.sort(key=lambda k: (index.booking(k).starts_at, k))
    return moved


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
    """One email per booking to the dispatchers serving it; unstaffed ones go back on the
    board, and their requesters are told the session is not staffed yet."""
    result = plan.result or {}
    proposed = {int(p["booking_id"]): str(p["provider_name"]) for p in result.get("proposals", [])}
    fell = {int(k): str(v) for k, v in dict(params.get("fell_through", {})).items()}
    # Held work the repair moved is told like what fell: whom it left, who is proposed.
    moved = {int(m["booking_id"]): str(m["from_name"]) for m in result.get("moved", [])}
    fell.update(moved)
    for booking_id in [*params["booking_ids"], *moved]:
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
        # The requester of work that fell through hears only that it is not staffed
        # yet; a new urgent request was acknowledged as being looked for already.
        if booking.id not in proposed and params.get("trigger") != "urgent_request":
            events.booking_not_yet_staffed(db, booking=booking, plan_id=plan.id, now=now)


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
