"""Plans are jobs: queued by the API and the board, taken by solver processes.

A plan request is checked and stored ``pending`` at once (``queue_plans``);
the caller answers without waiting for the solve. Solver processes
(``booking.plans.solver``, ``truchement solver``) share the queue through the
database: ``claim_next`` takes the oldest pending plan, or a running one whose
solver stopped renewing its lease, and marks it ``running`` under a lease in
the solver's name. On PostgreSQL the candidate row is locked with ``FOR UPDATE
SKIP LOCKED``, so solvers never wait on each other; on both databases the
claim itself is a conditional ``UPDATE`` on the plan's ``attempts`` counter,
so two solvers that saw the same row cannot both take it. Each take counts
one attempt; a plan taken ``max_attempts`` times without an end becomes
``failed`` with the reason. Nothing here commits: the solver does, after
each step.

The plans of an admin's every-service run are queued together, each after
the one before (``after_plan_id``): a plan is taken only once the plan it
waits for has ended, and leaves out the bookings that earlier plans of the
run proposed someone for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from booking.audit import record_audit
from booking.db import rows_matched
from booking.errors import Conflict
from booking.plans.failures import PlanFailure
from booking.plans.models import Plan
from booking.plans.problem_builder import DEFAULT_TIMEZONE
from booking.plans.service import (
    batch_plan_ids,
    every_service_share,
    open_plan,
    services_to_plan,
)
from booking.types import to_jsonable, utc_now
from booking.users.models import User
from booking.vocabulary import PlanStatus, UserRole

ENDED = (PlanStatus.DONE, PlanStatus.FAILED)


def queue_plans(
    db: Session,
    *,
    actor: User,
    horizon_start: dt.datetime,
    horizon_end: dt.datetime,
    booking_ids: Collection[int] | None = None,
    providing_org_id: int | None = None,
    time_limit: float,
    timezone: str = DEFAULT_TIMEZONE,
) -> list[Plan]:
    """Check a plan request and queue it: one service's plan, or, for an admin who names
    no service, one per service, each waiting for the one before. Never empty."""
    if actor.role != UserRole.ADMIN or providing_org_id is not None:
        plan = open_plan(
            db,
            actor=actor,
            horizon_start=horizon_start,
            horizon_end=horizon_end,
            booking_ids=booking_ids,
            providing_org_id=providing_org_id,
            time_limit=time_limit,
            timezone=timezone,
            status=PlanStatus.PENDING,
        )
        _audit_queued(db, actor, plan)
        return [plan]
    services = services_to_plan(db, actor, booking_ids)
    share = every_service_share(time_limit, len(services))
    plans: list[Plan] = []
    for service_id, ids in services:
        plan = open_plan(
            db,
            actor=actor,
            horizon_start=horizon_start,
            horizon_end=horizon_end,
            booking_ids=ids,
            providing_org_id=service_id,
            time_limit=share,
            timezone=timezone,
            status=PlanStatus.PENDING,
        )
        plan.after_plan_id = plans[-1].id if plans else None
        plans.append(plan)
    batch = [plan.id for plan in plans]
    for plan in plans:
        plan.parameters = {**plan.parameters, "batch_plan_ids": batch}
        _audit_queued(db, actor, plan)
    db.flush()
    return plans


def _audit_queued(db: Session, actor: User, plan: Plan) -> None:
    record_audit(
        db,
        actor=actor,
        action="plan.queued",
        entity=plan,
        organisation_id=plan.providing_org_id,
        changes={"horizon": [plan.horizon_start, plan.horizon_end]},
    )


@dataclass(frozen=True)
class Claim:
    """A plan a solver holds: the lease is its while ``attempts`` is still ``attempt``."""

    plan_id: int
    solver: str
    attempt: int


def _claimable(now: dt.datetime, kinds: Collection[str] | None = None) -> Any:
    earlier = aliased(Plan)
    waiting_done = or_(
        Plan.after_plan_id.is_(None),
        exists().where(earlier.id == Plan.after_plan_id, earlier.status.in_(ENDED)),
    )
    taken_up = or_(
        Plan.status == PlanStatus.PENDING,
        and_(Plan.status == PlanStatus.RUNNING, Plan.lease_until < now),
    )
    if kinds is None:
        return and_(taken_up, waiting_done)
    return and_(taken_up, waiting_done, Plan.kind.in_(kinds))


def claim_next(
    db: Session,
    *,
    solver: str,
    lease_seconds: float,
    max_attempts: int,
    now: dt.datetime | None = None,
    kinds: Collection[str] | None = None,
) -> Claim | None:
    """Take the oldest plan a solver may take, under a lease in ``solver``'s name; or None.

    ``kinds`` narrows the queue (the outbox worker takes only repairs, so that
    work that fell through is re-staffed at its next tick even where no
    solver process runs); a solver takes every kind.

    A running plan whose lease ran out was left by a solver that died (or
    hung): it is taken again, unless it was taken ``max_attempts`` times
    already, or a dispatcher asked to stop it; then it fails with the reason.
    """
    while True:
        now = utc_now() if now is None else now
        query = (
            select(Plan).where(_claimable(now, kinds)).order_by(Plan.created_at, Plan.id).limit(1)
        )
        if db.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=Plan)
        plan = db.scalars(query).first()
        if plan is None:
            return None
        seen = plan.attempts
        if plan.status == PlanStatus.RUNNING and (seen >= max_attempts or plan.stop_requested):
            if plan.stop_requested:
                code = PlanFailure.STOPPED_UNSTORED
                reason = "Stopped by a dispatcher; its solver stopped before storing a plan."
            else:
                code = PlanFailure.GIVEN_UP
                reason = (
                    f"Given up after {seen} attempts: the solver stopped each time "
                    "before the plan was stored (its lease ran out)."
                )
            _end_unsolved(db, plan, seen, reason, code)
            continue
        taken = db.execute(
            update(Plan)
            .where(Plan.id == plan.id, Plan.attempts == seen, Plan.status == plan.status)
            .values(
                status=PlanStatus.RUNNING,
                claimed_by=solver,
                lease_until=now + dt.timedelta(seconds=lease_seconds),
                attempts=seen + 1,
            )
            .execution_options(synchronize_session=False)
        )
        db.expire(plan)
        if rows_matched(taken) == 1:
            return Claim(plan_id=plan.id, solver=solver, attempt=seen + 1)


def _end_unsolved(db: Session, plan: Plan, seen: int, reason: str, code: PlanFailure) -> None:
    ended = db.execute(
        update(Plan)
        .where(Plan.id == plan.id, Plan.attempts == seen)
        .values(
            status=PlanStatus.FAILED,
            error=reason,
            error_code=code,
            finished_at=utc_now(),
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.expire(plan)
    if rows_matched(ended) == 1:
        record_audit(
            db,
            actor=None,
            action="plan.failed",
            entity=plan,
            organisation_id=plan.providing_org_id,
            changes={"error": reason},
        )


@dataclass(frozen=True)
class Lease:
    """What a heartbeat learnt: whether the plan is still the solver's, and a stop request."""

    held: bool
    stop_requested: bool


def renew_lease(
    db: Session,
    claim: Claim,
    *,
    lease_seconds: float,
    progress: dict[str, Any] | None = None,
) -> Lease:
    """Extend the lease of a plan being solved and store its progress; read a stop request."""
    values: dict[str, Any] = {"lease_until": utc_now() + dt.timedelta(seconds=lease_seconds)}
    if progress is not None:
        values["progress"] = to_jsonable(progress)
    renewed = db.execute(
        update(Plan)
        .where(_held(claim), Plan.status == PlanStatus.RUNNING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if rows_matched(renewed) != 1:
        return Lease(held=False, stop_requested=False)
    stop = db.scalar(select(Plan.stop_requested).where(Plan.id == claim.plan_id))
    return Lease(held=True, stop_requested=bool(stop))


def _held(claim: Claim) -> Any:
    """The plan is still this claim's: no other solver took it since (which counts an
    attempt). Its status is not asked: the solve's own transaction has marked it ended."""
    return and_(
        Plan.id == claim.plan_id,
        Plan.claimed_by == claim.solver,
        Plan.attempts == claim.attempt,
    )


def still_held(db: Session, claim: Claim) -> bool:
    """Whether the plan is still this solver's (locked on PostgreSQL until the commit)."""
    query = select(Plan.id).where(_held(claim))
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return db.scalar(query) is not None


def release(
    db: Session,
    claim: Claim,
    *,
    error: str,
    max_attempts: int,
    code: PlanFailure = PlanFailure.CRASHED,
) -> None:
    """Give a plan back after its solve broke: pending again, or failed after the last try."""
    plan = db.get(Plan, claim.plan_id)
    if plan is None or not still_held(db, claim):
        return
    if claim.attempt >= max_attempts or plan.stop_requested:
        plan.status = PlanStatus.FAILED
        plan.error = error
        plan.error_code = code
        plan.finished_at = utc_now()
        record_audit(
            db,
            actor=None,
            action="plan.failed",
            entity=plan,
            organisation_id=plan.providing_org_id,
            changes={"error": error, "attempts": claim.attempt},
        )
    else:
        plan.status = PlanStatus.PENDING
        plan.progress = {**(plan.progress or {}), "last_error": error}
    plan.claimed_by = None
    plan.lease_until = None
    db.flush()


def taken_by_earlier(db: Session, plan: Plan) -> set[int]:
    """The bookings earlier plans of the same every-service run proposed someone for."""
    earlier = [i for i in batch_plan_ids(plan) if i < plan.id]
    if not earlier:
        return set()
    taken: set[int] = set()
    for result in db.scalars(select(Plan.result).where(Plan.id.in_(earlier))):
        taken |= {int(p["booking_id"]) for p in (result or {}).get("proposals", [])}
    return taken


def request_stop(db: Session, *, actor: User, plan: Plan) -> Plan:
    """A dispatcher stops a plan: a pending one never runs; a running one stops its search
    at the next solution and keeps the best plan found. ``Conflict`` once it has ended."""
    if plan.status in ENDED:
        raise Conflict(f"The plan is {plan.status} already.", code="plan_ended")
    if plan.status == PlanStatus.PENDING:
        stopped = db.execute(
            update(Plan)
            .where(Plan.id == plan.id, Plan.status == PlanStatus.PENDING)
            .values(
                status=PlanStatus.FAILED,
                stop_requested=True,
                error="Stopped by a dispatcher before it ran.",
                error_code=PlanFailure.STOPPED_BEFORE_RUN,
                finished_at=utc_now(),
            )
            .execution_options(synchronize_session=False)
        )
        if rows_matched(stopped) != 1:
            # A solver took it meanwhile: ask that solver to stop instead.
            db.expire(plan)
            return request_stop(db, actor=actor, plan=plan)
    else:
        db.execute(
            update(Plan)
            .where(Plan.id == plan.id)
            .values(stop_requested=True)
            .execution_options(synchronize_session=False)
        )
    db.expire(plan)
    record_audit(db, actor=actor, action="plan.stop_requested", entity=plan)
    db.flush()
    return plan
