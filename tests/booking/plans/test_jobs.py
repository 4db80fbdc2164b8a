"""Plans as jobs: queued, claimed under a lease, taken again when the lease runs out, given up
after the last attempt, stopped by a dispatcher with the best plan kept."""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext

import pytest
from sqlalchemy.orm import Session

from booking.errors import Conflict
from booking.plans import jobs, solver
from booking.plans.failures import PlanFailure
from booking.plans.models import Plan
from booking.settings import Settings
from booking.types import utc_now
from booking.vocabulary import PlanStatus
from tests.booking.dispatch_world import World, at
from tests.factories import make_organisation, make_service_agreement, make_user

LEASE = 30.0


def settings(**values: object) -> Settings:
    return Settings(
        environment="test",
        secret_key="test-secret-key-not-for-production",
        **values,  # type: ignore[arg-type]
    )


def queue(db: Session, world: World, **kwargs: object) -> Plan:
    kwargs.setdefault("actor", world.dispatcher)
    [plan, *_] = jobs.queue_plans(
        db,
        horizon_start=at(world.day, 0),
        horizon_end=at(world.day + dt.timedelta(days=1), 0),
        time_limit=5.0,
        **kwargs,  # type: ignore[arg-type]
    )
    return plan


def claim(db: Session, name: str, *, now: dt.datetime | None = None) -> jobs.Claim | None:
    return jobs.claim_next(db, solver=name, lease_seconds=LEASE, max_attempts=2, now=now)


def test_a_queued_plan_is_pending_until_one_solver_claims_it(db: Session, world: World) -> None:
    world.booking(db, hour=10)
    plan = queue(db, world)
    assert plan.status == PlanStatus.PENDING and plan.attempts == 0
    taken = claim(db, "solver-a")
    assert taken == jobs.Claim(plan_id=plan.id, solver="solver-a", attempt=1)
    db.refresh(plan)
    assert plan.status == PlanStatus.RUNNING and plan.claimed_by == "solver-a"
    assert plan.lease_until is not None and plan.lease_until > utc_now()
    # Held under a live lease: nobody else takes it.
    assert claim(db, "solver-b") is None


def test_a_plan_whose_lease_ran_out_is_taken_again_and_the_first_solver_loses_it(
    db: Session, world: World
) -> None:
    plan = queue(db, world)
    first = claim(db, "solver-a")
    assert first is not None
    later = utc_now() + dt.timedelta(seconds=LEASE + 1)
    second = claim(db, "solver-b", now=later)
    assert second == jobs.Claim(plan_id=plan.id, solver="solver-b", attempt=2)
    assert not jobs.still_held(db, first) and jobs.still_held(db, second)
    assert not jobs.renew_lease(db, first, lease_seconds=LEASE).held
    assert jobs.renew_lease(db, second, lease_seconds=LEASE, progress={"solutions": 3}).held
    db.refresh(plan)
    assert plan.progress == {"solutions": 3}


def test_a_plan_taken_as_often_as_allowed_fails_with_the_reason(db: Session, world: World) -> None:
    plan = queue(db, world)
    now = utc_now()
    for attempt in range(2):
        assert claim(db, f"solver-{attempt}", now=now) is not None
        now += dt.timedelta(seconds=LEASE + 1)
    assert claim(db, "solver-last", now=now) is None
    db.refresh(plan)
    assert plan.status == PlanStatus.FAILED and plan.attempts == 2
    assert plan.error is not None and "Given up after 2 attempts" in plan.error
    assert plan.error_code == PlanFailure.GIVEN_UP


def test_a_broken_solve_gives_the_plan_back_then_fails_it_after_the_last_attempt(
    db: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = queue(db, world)

    def interrupted(*_args: object, **_kwargs: object) -> Plan:
        raise Conflict("A booking changed while the plan was computed.", code="plan_interrupted")

    monkeypatch.setattr(solver, "solve_plan", interrupted)
    one = solver.Solver(lambda: nullcontext(db), settings(plan_max_attempts=2), heartbeat=False)
    assert one.run_one() == plan.id
    db.refresh(plan)
    assert plan.status == PlanStatus.PENDING and plan.attempts == 1
    assert plan.progress == {"last_error": "A booking changed while the plan was computed."}
    assert one.run_one() == plan.id
    db.refresh(plan)
    assert plan.status == PlanStatus.FAILED and plan.attempts == 2
    assert plan.error == "A booking changed while the plan was computed."
    assert plan.error_code == PlanFailure.INTERRUPTED
    assert one.run_one() is None


def test_the_solver_solves_the_queue_and_stores_how_it_ended(db: Session, world: World) -> None:
    world.provider(db, name="Awet")
    world.booking(db, hour=10)
    plan = queue(db, world)
    assert solver.run_pending_plans(lambda: nullcontext(db), settings()) == [plan.id]
    db.refresh(plan)
    assert plan.status == PlanStatus.DONE and plan.lease_until is None
    assert len(plan.result["proposals"]) == 1  # type: ignore[index]
    progress = plan.progress or {}
    assert progress["time_limit"] == 5.0 and progress["stopped"] is False
    assert progress["proven"] is (plan.result["stats"]["status"] == "OPTIMAL")  # type: ignore[index]


def test_stopping_a_pending_plan_means_it_never_runs(db: Session, world: World) -> None:
    plan = queue(db, world)
    jobs.request_stop(db, actor=world.dispatcher, plan=plan)
    db.refresh(plan)
    assert plan.status == PlanStatus.FAILED and plan.stop_requested
    assert plan.error == "Stopped by a dispatcher before it ran."
    assert plan.error_code == PlanFailure.STOPPED_BEFORE_RUN
    assert claim(db, "solver-a") is None
    with pytest.raises(Conflict) as ended:
        jobs.request_stop(db, actor=world.dispatcher, plan=plan)
    assert ended.value.code == "plan_ended"


def test_stopping_a_running_plan_keeps_the_best_plan_found(db: Session, world: World) -> None:
    world.provider(db, name="Awet")
    world.provider(db, name="Selam")
    for hour in (9, 11, 14):
        world.booking(db, hour=hour)
    plan = queue(db, world)
    taken = claim(db, "solver-a")
    assert taken is not None
    jobs.request_stop(db, actor=world.dispatcher, plan=plan)
    # The solver reads the request (here, when it starts: the heartbeat does it later on).
    solving = solver.Solver(lambda: nullcontext(db), settings(), heartbeat=False)
    solving._solve(taken)
    db.refresh(plan)
    assert plan.status == PlanStatus.DONE
    assert plan.progress is not None and plan.progress["stopped"] is True
    assert plan.result is not None and len(plan.result["proposals"]) == 3
    assert plan.result["warnings"][-1].startswith("Stopped by a dispatcher")


def test_an_every_service_run_is_solved_one_plan_after_the_other(db: Session, world: World) -> None:
    other = make_organisation(db, kind="providing", name="Tolkendienst West-Vlaanderen")
    make_service_agreement(db, providing=other, requesting=world.centre)
    admin = make_user(db, organisation=world.service, role="admin")
    first, second = jobs.queue_plans(
        db,
        actor=admin,
        horizon_start=at(world.day, 0),
        horizon_end=at(world.day + dt.timedelta(days=1), 0),
        time_limit=5.0,
    )
    assert second.after_plan_id == first.id
    assert first.parameters["batch_plan_ids"] == [first.id, second.id]
    assert claim(db, "solver-a") == jobs.Claim(first.id, "solver-a", 1)
    # The second waits for the first to end, even with a solver free.
    assert claim(db, "solver-b") is None
    first.status = PlanStatus.DONE
    db.flush()
    assert claim(db, "solver-b") == jobs.Claim(second.id, "solver-b", 1)
