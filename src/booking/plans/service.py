"""Plans: run the matcher over a horizon, store what it proposes, apply it in whole or in part.

``open_plan`` checks a plan request and stores the plan; ``solve_plan``
builds the problem (``problem_builder``), solves it within the time limit,
checks the result with the matcher's own validator, and stores the plan
(score, bound, timings, explanations) with one ``proposed`` assignment per
session it staffed; each booking becomes ``proposed`` or ``unfilled`` (with
the matcher's reason). Proposals of earlier plans for the same bookings are
superseded. ``run_plan`` does both at once; the API and the board queue the
plan instead (``booking.plans.jobs``) and a solver solves it
(``booking.plans.solver``).

``apply_plan`` turns proposals into confirmations (or offers). A proposal is
stale when its booking changed since the plan, is no longer open, is held
by someone else, or when confirming would double-book the provider: stale
proposals are refused and reported, the others are applied all the same.

Every plan staffs one providing service (``plan.providing_org_id``): its
providers, for the organisations it serves. Only that service's dispatchers
(and admins) read and apply it, and applying checks each proposal again with
the access rules of the direct endpoints. An admin plans for one service, or
for every service at once, which makes one plan per service
(``booking.plans.jobs.queue_plans``, each waiting for the one before).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, false, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from booking.access import booking_query_for, get_visible_booking, served_organisation_ids
from booking.assignments.clock import offer_expiry
from booking.assignments.models import Assignment
from booking.assignments.service import (
    audit_assignment,
    confirm,
    create_proposal,
    ensure_booking_open,
    ensure_not_held,
    lock_booking,
    lock_for_commitments,
    require_staffing_right,
    send_offer,
    set_booking_status,
)
from booking.audit import record_audit
from booking.bookings.models import Booking
from booking.dates import OUT_OF_RANGE, bounds_message, instant_in_bounds
from booking.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from booking.organisations.models import Organisation, ServiceAgreement
from booking.plans.failures import PlanFailure
from booking.plans.models import Plan
from booking.plans.problem_builder import (
    DEFAULT_TIMEZONE,
    ProblemIndex,
    booking_id_of,
    build_problem,
    provider_key,
)
from booking.plans.result import PinnedEntry, PlanResult, ProposalEntry, UnassignedEntry, whys
from booking.providers.availability import subtract
from booking.providers.models import Provider
from booking.reasons import mentioned
from booking.types import ensure_aware, to_jsonable, utc_now
from booking.users.models import User
from booking.vocabulary import (
    AssignmentStatus,
    BookingStatus,
    OrganisationKind,
    PlanStatus,
    UserRole,
)
from matching.explain import AssignmentFacts, explain_plan_facts
from matching.fairness import workload_stats
from matching.model import InfeasibleFixedError
from matching.phases import Progress
from matching.problem import Assignment as MatchAssignment
from matching.problem import FixedAssignment, Interval, Score, Stats
from matching.problem import Plan as MatchPlan
from matching.problem import Problem as MatchProblem
from matching.solve import BrokenPlanError, solve
from matching.staffable import suggest_all
from matching.timeline import Timeline
from matching.travel import Travel
from matching.validate import provider_days
from matching.why import Why

MAX_HORIZON_DAYS = 31
MAX_BOOKING_IDS = 1000

ApplyMode = Literal["confirm", "offer"]


# --- who sees which plan -----------------------------------------------------------------


def plan_query_for(db: Session, user: User) -> Select[Plan]:
    """The plans ``user`` may read: an admin all, a dispatcher those staffing their service.

    Whoever made the plan (a colleague or an admin) does not matter: the
    service it staffs does, as for bookings.
    """
    query = select(Plan)
    if user.role == UserRole.ADMIN:
        return query
    if user.role == UserRole.DISPATCHER:
        return query.where(Plan.providing_org_id == user.organisation_id)
    return query.where(false())


def get_visible_plan(db: Session, user: User, plan_id: int) -> Plan:
    """The plan if ``user`` may read it; ``NotFound`` otherwise."""
    plan = db.scalars(plan_query_for(db, user).where(Plan.id == plan_id)).first()
    if plan is None:
        raise NotFound(entity="plan", entity_id=plan_id)
    return plan


def plan_assignments(db: Session, plan: Plan) -> list[Assignment]:
    """The proposals a plan made, in start order, as they stand now."""
    return list(
        db.scalars(
            select(Assignment)
            .where(Assignment.plan_id == plan.id)
            .order_by(Assignment.starts_at, Assignment.id)
        )
    )


# --- run -------------------------------------------------------------------------------


def _check_request(
    db: Session,
    actor: User,
    providing_org_id: int,
    horizon_start: dt.datetime,
    horizon_end: dt.datetime,
    booking_ids: Collection[int] | None,
) -> None:
    errors = [
        FieldError(name, bounds_message(), OUT_OF_RANGE)
        for name, instant in (("horizon_start", horizon_start), ("horizon_end", horizon_end))
        if not instant_in_bounds(instant)
    ]
    if errors:
        pass  # a horizon outside the bounds has no length worth checking
    elif horizon_end <= horizon_start:
        errors.append(FieldError("horizon_end", "Must be after horizon_start."))
    elif horizon_end - horizon_start > dt.timedelta(days=MAX_HORIZON_DAYS):
        errors.append(
            FieldError("horizon_end", f"A plan covers at most {MAX_HORIZON_DAYS} days.", "too_long")
        )
    if booking_ids is not None:
        wanted = list(dict.fromkeys(booking_ids))
        if len(wanted) > MAX_BOOKING_IDS:
            errors.append(FieldError("booking_ids", f"At most {MAX_BOOKING_IDS} bookings."))
        else:
            served = served_organisation_ids(db, providing_org_id)
            seen = set(
                db.scalars(
                    booking_query_for(db, actor)
                    .where(Booking.id.in_(wanted), Booking.organisation_id.in_(served))
                    .with_only_columns(Booking.id)
                )
            )
            for i, booking_id in enumerate(wanted):
                if booking_id not in seen:
                    errors.append(
                        FieldError(f"booking_ids.{i}", f"Unknown booking {booking_id}.", "unknown")
                    )
    if errors:
        raise Unprocessable("The plan request breaks a rule.", errors=errors)


def planning_service(db: Session, actor: User, providing_org_id: int | None) -> int:
    """The service a plan by ``actor`` staffs: a dispatcher's own; the one an admin names.

    ``Unprocessable`` if a dispatcher names another service, an admin none
    (``booking.plans.jobs.queue_plans`` plans every service), or the id is not a providing service.
    """
    if actor.role == UserRole.DISPATCHER:
        if providing_org_id not in (None, actor.organisation_id):
            raise Unprocessable(
                "A dispatcher plans for their own service.",
                errors=[FieldError("providing_org_id", "Not your service.", "not_your_service")],
            )
        return actor.organisation_id
    if actor.role != UserRole.ADMIN:
        raise Forbidden("Only dispatchers and admins plan.", code="forbidden_role")
    if providing_org_id is None:
        raise Unprocessable(
            "Name the service to plan for.",
            errors=[FieldError("providing_org_id", "Required.", "missing")],
        )
    organisation = db.get(Organisation, providing_org_id)
    if organisation is None or organisation.kind != OrganisationKind.PROVIDING:
        raise Unprocessable(
            f"Organisation {providing_org_id} is not a providing service.",
            errors=[FieldError("providing_org_id", "Not a providing service.", "not_a_service")],
        )
    return organisation.id


def open_plan(
    db: Session,
    *,
    actor: User,
    horizon_start: dt.datetime,
    horizon_end: dt.datetime,
    booking_ids: Collection[int] | None = None,
    providing_org_id: int | None = None,
    time_limit: float,
    timezone: str = DEFAULT_TIMEZONE,
    status: PlanStatus = PlanStatus.RUNNING,
) -> Plan:
    """Check a plan request and store the plan, not solved yet (``solve_plan`` solves it).

    ``status`` is ``running`` for a plan solved at once, ``pending`` for a
    job a solver process takes (``booking.plans.jobs``).
    """
    ensure_aware(horizon_start)
    ensure_aware(horizon_end)
    providing_org_id = planning_service(db, actor, providing_org_id)
    _check_request(db, actor, providing_org_id, horizon_start, horizon_end, booking_ids)
    plan = Plan(
        created_by_id=actor.id,
        providing_org_id=providing_org_id,
        horizon_start=horizon_start,
        horizon_end=horizon_end,
        status=status,
        parameters=to_jsonable(
            {
                "booking_ids": sorted(set(booking_ids)) if booking_ids is not None else None,
                "time_limit": time_limit,
                "timezone": timezone,
                "providing_org_id": providing_org_id,
            }
        ),
    )
    db.add(plan)
    db.flush()
    return plan


def run_plan(
    db: Session,
    *,
    actor: User,
    horizon_start: dt.datetime,
    horizon_end: dt.datetime,
    booking_ids: Collection[int] | None = None,
    providing_org_id: int | None = None,
    time_limit: float,
    now: dt.datetime | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    workers: int | None = None,
    skip_booking_ids: Collection[int] = (),
) -> Plan:
    """Solve the open bookings of the horizon for one service; store the plan and its proposals.

    The plan staffs one providing service: its providers, for the bookings
    of the organisations it serves (a dispatcher's own service; the one an
    admin names, see ``planning_service``). Runs synchronously, in the
    caller's thread (the API and the board queue plans instead, for solver
    processes: ``booking.plans.jobs``). A matcher failure (pinned work that
    cannot all be kept) is stored as a ``failed`` plan with its reason, not
    raised. ``skip_booking_ids`` are left out (another service's plan of the
    same run took them).
    """
    plan = open_plan(
        db,
        actor=actor,
        horizon_start=horizon_start,
        horizon_end=horizon_end,
        booking_ids=booking_ids,
        providing_org_id=providing_org_id,
        time_limit=time_limit,
        timezone=timezone,
    )
    return solve_plan(
        db, actor=actor, plan=plan, now=now, workers=workers, skip_booking_ids=skip_booking_ids
    )


def solve_plan(
    db: Session,
    *,
    actor: User,
    plan: Plan,
    now: dt.datetime | None = None,
    workers: int | None = None,
    skip_booking_ids: Collection[int] = (),
    progress: Progress | None = None,
    after_build: Callable[[], None] | None = None,
) -> Plan:
    """Solve a stored plan with its own parameters; store its proposals and mark it done.

    ``progress`` hears of each new solution (and may stop the search, see
    ``matching.phases.Progress``); ``after_build`` runs once the problem is
    read, before the solve: a solver process commits there, so no
    transaction stays open during the solve.
    """
    began = time.perf_counter()
    now = ensure_aware(now) if now is not None else utc_now()
    parameters = plan.parameters or {}
    wanted = parameters.get("booking_ids")
    booking_ids = [int(b) for b in wanted] if wanted is not None else None
    time_limit = float(parameters["time_limit"])
    timezone = str(parameters.get("timezone") or DEFAULT_TIMEZONE)
    assert plan.providing_org_id is not None, "a new plan always staffs one service"
    problem, index = build_problem(
        db,
        horizon_start=plan.horizon_start,
        horizon_end=plan.horizon_end,
        booking_ids=booking_ids,
        now=now,
        providing_org_id=plan.providing_org_id,
        skip_booking_ids=skip_booking_ids,
        timezone=timezone,
    )
    if after_build is not None:
        after_build()
    built = time.perf_counter()
    timings: dict[str, Any] = {"build_seconds": round(built - began, 3)}
    sizes = {
        "sessions": len(problem.sessions),
        "planned": len(index.planned),
        "pinned": len(index.pinned),
        "providers": len(problem.providers),
    }
    warnings: list[str] = []
    warning_why: list[Why] = []
    solution: MatchPlan | None = None
    try:
        if index.planned:
            problem, solution = _solve_keeping_what_can_be_kept(
                problem,
                index,
                time_limit=time_limit,
                workers=workers,
                warnings=warnings,
                warning_why=warning_why,
                progress=progress,
            )
    except (ValueError, BrokenPlanError) as exc:
        return _failed(db, actor, plan, index.humanise(str(exc)), timings, sizes, began)
    solved = time.perf_counter()
    timings["solve_seconds"] = round(solved - built, 3)
    try:
        _store(db, actor, plan, problem, index, solution, now)
    except StaleDataError:
        raise Conflict(
            "A booking changed while the plan was computed; run the plan again.",
            code="plan_interrupted",
        ) from None
    except OperationalError as exc:
        # SQLite: another writer committed during the solve, so this
        # transaction's snapshot can no longer write.
        if db.get_bind().dialect.name == "sqlite" and "locked" in str(exc.orig):
            raise Conflict(
                "The database changed while the plan was computed; run the plan again.",
                code="plan_interrupted",
            ) from None
        raise
    timings["store_seconds"] = round(time.perf_counter() - solved, 3)
    timings["total_seconds"] = round(time.perf_counter() - began, 3)
    plan.timings = timings
    plan.result = {
        **(plan.result or {}),
        "sizes": sizes,
        "warnings": warnings,
        "warning_why": [why.to_json() for why in warning_why],
        "names": {
            **mentioned(warning_why, index.humanise),
            **(plan.result or {}).get("names", {}),
        },
    }
    plan.finished_at = utc_now()
    plan.status = PlanStatus.DONE
    db.flush()
    record_audit(
        db,
        actor=actor,
        action="plan.created",
        entity=plan,
        changes={
            "horizon": [plan.horizon_start, plan.horizon_end],
            "proposals": len((plan.result or {}).get("proposals", [])),
            "unassigned": len((plan.result or {}).get("unassigned", [])),
        },
    )
    return plan


def every_service_share(time_limit: float, services: int) -> float:
    """Each service's share of an every-service run's time limit (a second at least)."""
    return max(min(1.0, time_limit), time_limit / max(1, services))


def services_to_plan(
    db: Session, actor: User, booking_ids: Collection[int] | None
) -> list[tuple[int, list[int] | None]]:
    """The services an admin's every-service run plans, in id order, each with its bookings
    (``None``: all open ones); with ``booking_ids``, only the services serving one of them."""
    if actor.role != UserRole.ADMIN:
        raise Forbidden("Only an admin plans for every service.", code="forbidden_role")
    agreements = db.execute(
        select(ServiceAgreement.providing_org_id, ServiceAgreement.requesting_org_id)
        .join(Organisation, Organisation.id == ServiceAgreement.providing_org_id)
        .where(Organisation.kind == OrganisationKind.PROVIDING)
    ).all()
    served: dict[int, set[int]] = defaultdict(set)
    for providing, requesting in agreements:
        served[providing].add(requesting)
    if not served:
        raise Unprocessable(
            "No providing service serves any organisation: there is nothing to plan.",
            code="no_service",
        )
    wanted: list[int] | None = None
    if booking_ids is not None:
        wanted = list(dict.fromkeys(booking_ids))
        every = set().union(*served.values())
        _check_request_ids(db, wanted, every)
    organisation_of: dict[int, int] = {}
    if wanted is not None:
        organisation_of = {
            booking_id: organisation_id
            for booking_id, organisation_id in db.execute(
                select(Booking.id, Booking.organisation_id).where(Booking.id.in_(wanted))
            )
        }
    services: list[tuple[int, list[int] | None]] = []
    for service_id in sorted(served):
        ids = None
        if wanted is not None:
            ids = [b for b in wanted if organisation_of.get(b) in served[service_id]]
            if wanted and not ids:
                continue
        services.append((service_id, ids))
    return services


def _check_request_ids(db: Session, wanted: list[int], organisation_ids: set[int]) -> None:
    """Every wanted booking exists and some service serves its organisation."""
    if len(wanted) > MAX_BOOKING_IDS:
        raise Unprocessable(
            "The plan request breaks a rule.",
            errors=[FieldError("booking_ids", f"At most {MAX_BOOKING_IDS} bookings.")],
        )
    seen = set(
        db.scalars(
            select(Booking.id).where(
                Booking.id.in_(wanted), Booking.organisation_id.in_(organisation_ids)
            )
        )
    )
    errors = [
        FieldError(f"booking_ids.{i}", f"Unknown booking {booking_id}.", "unknown")
        for i, booking_id in enumerate(wanted)
        if booking_id not in seen
    ]
    if errors:
        raise Unprocessable("The plan request breaks a rule.", errors=errors)


def batch_plan_ids(plan: Plan) -> list[int]:
    """The plans made together with ``plan`` by one admin run (itself included), or ``[]``."""
    ids = (plan.parameters or {}).get("batch_plan_ids") or []
    return [int(i) for i in ids]


def _failed(
    db: Session,
    actor: User,
    plan: Plan,
    error: str,
    timings: dict[str, Any],
    sizes: dict[str, int],
    began: float,
) -> Plan:
    timings["total_seconds"] = round(time.perf_counter() - began, 3)
    plan.status = PlanStatus.FAILED
    plan.error = error
    plan.error_code = PlanFailure.UNSOLVABLE
    plan.timings = timings
    plan.result = {"proposals": [], "unassigned": [], "pinned": [], "sizes": sizes}
    plan.finished_at = utc_now()
    db.flush()
    record_audit(db, actor=actor, action="plan.failed", entity=plan, changes={"error": error})
    return plan


MAX_PIN_RELEASES = 5


def _solve_keeping_what_can_be_kept(
    problem: MatchProblem,
    index: ProblemIndex,
    *,
    time_limit: float,
    workers: int | None,
    warnings: list[str],
    warning_why: list[Why] | None = None,
    progress: Progress | None = None,
    disruption_weight: int = 0,
) -> tuple[MatchProblem, MatchPlan]:
    """Solve; if held work cannot all be kept together, plan around the clashing part.

    Held work that breaks a rule (a dispatcher's manual decision, a
    certification expired since) is not the new plan's to undo: its time
    becomes busy time and a warning says so (in words, and as data in
    ``warning_why``). ``disruption_weight`` is the matcher's price of moving
    a hinted session (a repair that may move held work it no longer pins).
    """
    warning_why = [] if warning_why is None else warning_why
    for _ in range(MAX_PIN_RELEASES):
        try:
            return problem, solve(
                problem,
                time_limit=time_limit,
                workers=workers,
                hint=_hint(problem, index),
                progress=progress,
                disruption_weight=disruption_weight,
            )
        except InfeasibleFixedError as clash:
            warnings.append(index.humanise(str(clash)))
            warning_why.append(clash.why)
            problem = without_pins(problem, clash.pairs)
    return problem, solve(problem, time_limit=time_limit, workers=workers, progress=progress)


def _hint(problem: MatchProblem, index: ProblemIndex) -> MatchPlan:
    """The held work, and the live offers, as a starting point for the solver."""
    sessions = {s.id for s in problem.sessions}
    providers = {p.id for p in problem.providers}
    # Held work, pinned or not (a repair may unpin it): where it is now.
    given = [
        MatchAssignment(session=key, provider=provider_key(a.provider_id), start=a.starts_at)
        for key, a in index.pinned.items()
        if key in sessions and provider_key(a.provider_id) in providers
    ]
    given += [
        MatchAssignment(
            session=key, provider=provider_key(a.provider_id), start=a.starts_at, place=place
        )
        for key, places in index.held_places.items()
        for place, a in places.items()
        if key in sessions and provider_key(a.provider_id) in providers
    ]
    given += [
        MatchAssignment(session=key, provider=provider, start=start)
        for key, (provider, start) in index.hints.items()
        if key in sessions
    ]
    return MatchPlan(
        assignments=tuple(given),
        unassigned=(),
        score=Score(),
        stats=Stats(status="hint", solve_seconds=0.0),
    )


def without_pins(problem: MatchProblem, pairs: Iterable[FixedAssignment]) -> MatchProblem:
    """The problem with these pinned sessions taken out and their time made busy instead."""
    pins = {(p.session, p.provider) for p in pairs}
    sessions = {s.id: s for s in problem.sessions}
    busy: dict[str, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for session_id, provider_id in pins:
        session = sessions[session_id]
        busy[provider_id].append(
            (session.start, session.start + dt.timedelta(minutes=session.duration_minutes))
        )
    providers = []
    for provider in problem.providers:
        if provider.id not in busy:
            providers.append(provider)
            continue
        free = subtract([(i.start, i.end) for i in provider.availability], busy[provider.id])
        zone = ZoneInfo(problem.timezone)
        providers.append(
            dataclasses.replace(
                provider,
                availability=tuple(
                    Interval(start.astimezone(zone), end.astimezone(zone)) for start, end in free
                ),
            )
        )
    removed = {session_id for session_id, _ in pins}
    return dataclasses.replace(
        problem,
        providers=tuple(providers),
        sessions=tuple(s for s in problem.sessions if s.id not in removed),
        fixed=tuple(f for f in problem.fixed if f.session not in removed),
    )


def _store(
    db: Session,
    actor: User,
    plan: Plan,
    problem: MatchProblem,
    index: ProblemIndex,
    solution: MatchPlan | None,
    now: dt.datetime,
) -> None:
    planned = set(index.planned)
    explanations = explain_plan_facts(problem, solution) if solution is not None else {}
    # A group booking's session has one assignment per place it fills.
    given_all: dict[str, list[MatchAssignment]] = defaultdict(list)
    for a in solution.assignments if solution else ():
        # A group's held places are pinned: only its open places get proposals.
        if a.session in planned and a.place not in index.held_places.get(a.session, {}):
            given_all[a.session].append(a)
    given = {key: pairs[0] for key, pairs in given_all.items()}
    left_out = {
        u.session: u for u in (solution.unassigned if solution else ()) if u.session in planned
    }

    # Earlier plans' proposals for these bookings are superseded by this one; a
    # dispatcher's own proposals stay until one of them is confirmed.
    superseded = db.scalars(
        select(Assignment).where(
            Assignment.booking_id.in_([booking_id_of(k) for k in planned]),
            Assignment.status == AssignmentStatus.PROPOSED,
            Assignment.plan_id.is_not(None),
        )
    ).all()
    for old in superseded:
        old.status = AssignmentStatus.CANCELLED
        audit_assignment(
            db,
            actor=actor,
            action="assignment.superseded",
            assignment=old,
            booking=index.booking(f"b-{old.booking_id}"),
            changes={"status": ["proposed", "cancelled"], "by_plan": plan.id},
        )

    for key in index.planned:
        booking = index.booking(key)
        if key in given:
            set_booking_status(db, actor=actor, booking=booking, status=BookingStatus.PROPOSED)
        elif key in left_out and key not in index.offered:
            set_booking_status(
                db,
                actor=actor,
                booking=booking,
                status=BookingStatus.UNFILLED,
                reason=left_out[key].reason,
            )
    db.flush()

    names: dict[str, str] = {}
    proposals: list[ProposalEntry] = []
    for key in index.planned:
        if key not in given:
            continue
        booking = index.booking(key)
        explanation = explanations.get(key)
        sentence = index.humanise(explanation.sentence) if explanation else ""
        names[key] = booking.reference
        facts = explanation.facts if explanation else None
        for pair in sorted(given_all[key], key=lambda a: a.place or 0):
            provider = index.provider(pair.provider)
            assignment = create_proposal(
                db,
                actor=actor,
                booking=booking,
                provider_id=provider.id,
                starts_at=pair.start,
                explanation={
                    "source": "plan",
                    "plan_id": plan.id,
                    "code": explanation.code if explanation else "assigned",
                    "sentence": sentence,
                    "why": [w.to_json() for w in explanation.parts] if explanation else [],
                    "names": mentioned(explanation.parts, index.humanise) if explanation else {},
                },
                plan_id=plan.id,
                place=pair.place or 0,
                modality=pair.modality,
            )
            names[pair.provider] = provider.display_name
            proposals.append(
                ProposalEntry(
                    assignment_id=assignment.id,
                    booking_id=booking.id,
                    booking_reference=booking.reference,
                    provider_id=provider.id,
                    provider_name=provider.display_name,
                    starts_at=assignment.starts_at,
                    ends_at=assignment.ends_at,
                    explanation=sentence,
                    why=whys(explanation.parts) if explanation else [],
                    travel_minutes=(
                        facts.travel_minutes if isinstance(facts, AssignmentFacts) else 0
                    ),
                    place=assignment.place,
                    modality=assignment.modality or booking.modality,
                )
            )
    unassigned: list[UnassignedEntry] = []
    staffable = _staffable_lists(problem, solution, index)
    for key in index.planned:
        if key in given:
            continue
        booking = index.booking(key)
        entry = left_out.get(key)
        explanation = explanations.get(key)
        names[key] = booking.reference
        unassigned.append(
            UnassignedEntry(
                booking_id=booking.id,
                booking_reference=booking.reference,
                reason=entry.reason if entry else "not_solved",
                detail=index.humanise(entry.detail) if entry else "",
                explanation=index.humanise(explanation.sentence) if explanation else "",
                offers_pending=key in index.offered,
                why=whys(explanation.parts) if explanation else [],
                staffable=staffable.get(key, []),
            )
        )
    every_part = [why for explanation in explanations.values() for why in explanation.parts]
    names = {**mentioned(every_part, index.humanise), **names}
    pinned = [
        PinnedEntry(
            assignment_id=a.id, booking_id=a.booking_id, provider_id=a.provider_id, status=a.status
        )
        for a in index.pinned.values()
    ]
    stats: dict[str, Any] = {}
    drive_minutes: int | None = None
    if solution is not None:
        plan.score_hard = solution.score.hard
        plan.score_medium = solution.score.medium
        plan.score_soft = solution.score.soft
        if solution.stats.bound is not None:
            plan.bound_medium = solution.stats.bound.medium
            plan.bound_soft = solution.stats.bound.soft
        stats = {
            **{k: v for k, v in solution.stats.extra.items() if _plain(v)},
            "status": solution.stats.status,
            "solve_seconds": solution.stats.solve_seconds,
        }
        days = provider_days(
            problem,
            solution.assignments,
            travel=Travel(problem.travel),
            timeline=Timeline.for_problem(problem),
        )
        drive_minutes = sum(day.travel_minutes for day in days)
    plan.result = PlanResult(
        proposals=proposals,
        unassigned=unassigned,
        pinned=pinned,
        stats=stats,
        names=names,
        drive_minutes=drive_minutes,
        sharing=sharing_of(problem, solution),
    ).to_json()


def sharing_of(problem: MatchProblem, solution: MatchPlan | None) -> dict[str, Any]:
    """How the plan shares the work (minutes per provider) beside what it drives.

    Over every provider of the problem, the held work it kept included: the
    price of fairness is read as travel against the Gini coefficient.
    """
    assignments = solution.assignments if solution is not None else ()
    figures = workload_stats(problem, assignments)
    travel = solution.stats.extra.get("travel_minutes") if solution is not None else None
    return {
        "travel_minutes": travel if isinstance(travel, int) else None,
        "fairness_weight": problem.fairness_weight,
        **figures,
    }


def _staffable_lists(
    problem: MatchProblem, solution: MatchPlan | None, index: ProblemIndex
) -> dict[str, list[dict[str, Any]]]:
    """What would make each unstaffed session staffable against this plan (issue 16)."""
    if solution is None:
        return {}
    lists = suggest_all(problem, solution)
    return {
        key: [
            {
                "kind": s.kind,
                "change": s.change,
                "provider_ids": [index.provider(p).id for p in s.providers if p in index.providers],
                "starts_at": s.start,
            }
            for s in found
        ]
        for key, found in lists.items()
    }


def _plain(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


# --- apply -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A proposal that could not be applied, and why (a stable code and a sentence)."""

    assignment_id: int
    booking_id: int
    code: str
    detail: str


@dataclass(frozen=True)
class ApplyResult:
    """What ``apply_plan`` did: the proposals applied and those refused as stale."""

    plan: Plan
    applied: list[Assignment]
    refused: list[Refusal]


def apply_plan(
    db: Session,
    *,
    actor: User,
    plan: Plan,
    assignment_ids: Collection[int] | None = None,
    mode: ApplyMode = "confirm",
    offer_minutes: int = 120,
    now: dt.datetime | None = None,
) -> ApplyResult:
    """Confirm (or offer) the plan's proposals, all or the chosen ones, each on its own.

    Each proposal is applied in its own SAVEPOINT: a stale one (booking
    changed or no longer open, held by someone else, provider already
    confirmed for overlapping work) is refused and listed, and the others
    are applied regardless. The caller commits what was applied.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    if plan.status != PlanStatus.DONE:
        raise Conflict(f"A {plan.status} plan cannot be applied.", code="plan_not_done")
    proposals = plan_assignments(db, plan)
    if assignment_ids is not None:
        known = {a.id: a for a in proposals}
        wanted = list(dict.fromkeys(assignment_ids))
        errors = [
            FieldError(
                f"assignment_ids.{i}", f"Proposal {aid} is not part of this plan.", "unknown"
            )
            for i, aid in enumerate(wanted)
            if aid not in known
        ]
        if errors:
            raise Unprocessable("Some proposals are not part of this plan.", errors=errors)
        proposals = [known[aid] for aid in wanted]
    # Every lock this apply needs, in the one order, before the first write.
    lock_for_commitments(db, [p.booking_id for p in proposals], [p.provider_id for p in proposals])
    applied: list[Assignment] = []
    refused: list[Refusal] = []
    for proposal in proposals:
        try:
            with db.begin_nested():
                applied.append(
                    _apply_one(
                        db,
                        actor=actor,
                        proposal=proposal,
                        mode=mode,
                        offer_minutes=offer_minutes,
                        now=now,
                        timezone=(plan.parameters or {}).get("timezone"),
                    )
                )
        except (Conflict, Forbidden, NotFound) as refusal:
            # Out of the actor's reach (NotFound, Forbidden) or stale (Conflict):
            # refused and listed, like a direct call of the same endpoint would be.
            refused.append(Refusal(proposal.id, proposal.booking_id, refusal.code, refusal.detail))
    record_audit(
        db,
        actor=actor,
        action="plan.applied",
        entity=plan,
        changes={
            "mode": mode,
            "applied": [a.id for a in applied],
            "refused": [{"assignment_id": r.assignment_id, "code": r.code} for r in refused],
        },
    )
    db.flush()
    return ApplyResult(plan=plan, applied=applied, refused=refused)


def _apply_one(
    db: Session,
    *,
    actor: User,
    proposal: Assignment,
    mode: ApplyMode,
    offer_minutes: int,
    now: dt.datetime,
    timezone: str | None = None,
) -> Assignment:
    _ensure_within_reach(db, actor, proposal)
    booking = lock_booking(db, proposal.booking_id)
    db.refresh(proposal)
    if proposal.status != AssignmentStatus.PROPOSED:
        raise Conflict(
            f"The proposal is {proposal.status} now (applied, superseded or withdrawn).",
            code="not_proposed",
        )
    ensure_booking_open(booking)
    if booking.version_id != proposal.booking_version:
        raise Conflict("The booking changed since the plan was made.", code="booking_changed")
    if mode == "offer":
        ensure_not_held(db, booking)
        return send_offer(
            db,
            actor=actor,
            assignment=proposal,
            booking=booking,
            expires_at=offer_expiry(
                db,
                provider_id=proposal.provider_id,
                session_start=proposal.starts_at,
                now=now,
                minutes=offer_minutes,
            ),
            now=now,
            timezone=timezone,
        )
    return confirm(db, actor=actor, assignment=proposal, now=now, timezone=timezone)


def _ensure_within_reach(db: Session, actor: User, proposal: Assignment) -> None:
    """Check a proposal as the direct endpoints would, before touching anything.

    The actor must see the booking (``NotFound``, as ``GET /bookings/{id}``)
    and dispatch the provider (``Forbidden``), and the provider's service
    must serve the booking's organisation, whoever applies (an admin too).
    ``confirm`` and ``send_offer`` check the first two again themselves.
    """
    booking = get_visible_booking(db, actor, proposal.booking_id)
    require_staffing_right(db, actor, proposal)
    provider = db.get_one(Provider, proposal.provider_id)
    if booking.organisation_id not in served_organisation_ids(db, provider.organisation_id):
        raise Forbidden(
            "The provider's service does not serve this booking's organisation.",
            code="not_served",
        )
