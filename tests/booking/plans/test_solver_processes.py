"""Two real `truchement solver` processes on PostgreSQL share the plan queue.

Four plans of the demo (four stretches of its two weeks, so no two plans
touch the same booking) are queued; both solvers run with short leases.
Every plan is solved exactly once; and when one solver is killed (SIGKILL)
in the middle of a plan, its lease runs out and the other solver takes the
plan again: no plan is lost.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from booking.audit import AuditLog
from booking.bookings.models import Booking
from booking.demo import ZONE, next_monday, seed_demo_data
from booking.plans.jobs import queue_plans
from booking.plans.models import Plan
from booking.users.models import User
from booking.vocabulary import PlanStatus

pytestmark = pytest.mark.postgres

LEASE_SECONDS = 3
TIME_LIMIT = 6.0
STRETCHES = ((0, 2), (2, 5), (7, 9), (9, 12))
"""Days after the demo's first Monday: four horizons with no day in common."""


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), ZONE)


def queue_four_plans(factory: sessionmaker[Session]) -> list[int]:
    with factory() as db:
        seed_demo_data(db, seed=7)
        db.commit()
        dispatcher = db.scalars(
            select(User).where(User.email == "dispatcher@demo.truchement.eu")
        ).one()
        monday = next_monday(dt.datetime.now(ZONE).date())
        ids = []
        for first, last in STRETCHES:
            [plan] = queue_plans(
                db,
                actor=dispatcher,
                horizon_start=dt.datetime.combine(
                    monday + dt.timedelta(days=first), dt.time(), ZONE
                ),
                horizon_end=dt.datetime.combine(monday + dt.timedelta(days=last), dt.time(), ZONE),
                time_limit=TIME_LIMIT,
            )
            ids.append(plan.id)
        db.commit()
        return ids


@pytest.fixture
def start_solver(
    database_url: str, tmp_path: Path
) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    env.update(
        TRUCHEMENT_DATABASE_URL=database_url,
        TRUCHEMENT_ENVIRONMENT="development",
        TRUCHEMENT_PLAN_LEASE_SECONDS=str(LEASE_SECONDS),
        TRUCHEMENT_PLAN_HEARTBEAT_SECONDS="0.5",
        TRUCHEMENT_SOLVER_POLL_SECONDS="0.2",
        TRUCHEMENT_SOLVER_THREADS="1",
        TRUCHEMENT_PLAN_MAX_ATTEMPTS="3",
    )
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "truchement.cli", "solver", "--name", name],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def plans(factory: sessionmaker[Session], ids: list[int]) -> list[Plan]:
    with factory() as db:
        return list(db.scalars(select(Plan).where(Plan.id.in_(ids)).order_by(Plan.id)))


def wait_until(condition: Callable[[], bool], what: Callable[[], str], timeout: float) -> None:
    limit = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < limit, f"timed out: {what()}"
        time.sleep(0.2)


def state(factory: sessionmaker[Session], ids: list[int]) -> str:
    return str([(p.id, p.status, p.claimed_by, p.attempts) for p in plans(factory, ids)])


def created_audits(factory: sessionmaker[Session], plan_id: int) -> int:
    with factory() as db:
        return int(
            db.scalar(
                select(func.count())
                .select_from(AuditLog)
                .where(AuditLog.action == "plan.created", AuditLog.entity_id == str(plan_id))
            )
            or 0
        )


def test_two_solver_processes_solve_four_plans_each_exactly_once(
    committing_session_factory: sessionmaker[Session],
    start_solver: Callable[[str], subprocess.Popen[bytes]],
) -> None:
    factory = committing_session_factory
    ids = queue_four_plans(factory)
    solvers = [start_solver("solver-a"), start_solver("solver-b")]
    wait_until(
        lambda: all(p.status == PlanStatus.DONE for p in plans(factory, ids)),
        lambda: state(factory, ids),
        timeout=300,  # four plans of 6 s each and two process starts, on a busy machine too
    )
    assert all(s.poll() is None for s in solvers)
    done = plans(factory, ids)
    assert [p.attempts for p in done] == [1, 1, 1, 1], state(factory, ids)
    assert {p.claimed_by for p in done} == {"solver-a", "solver-b"}
    assert [created_audits(factory, p.id) for p in done] == [1, 1, 1, 1]
    assert all(p.result and p.result["proposals"] for p in done)


def test_a_solver_killed_mid_plan_loses_no_plan(
    committing_session_factory: sessionmaker[Session],
    start_solver: Callable[[str], subprocess.Popen[bytes]],
) -> None:
    factory = committing_session_factory
    ids = queue_four_plans(factory)
    # The demo solves in a fraction of a second: to kill a solver in the middle of a plan
    # for sure, hold every booking locked, so its solve stops at storing the proposals.
    with factory() as blocker:
        blocker.execute(select(Booking.id).with_for_update()).all()
        doomed = start_solver("solver-a")
        wait_until(
            lambda: _progress_after_claim(factory, ids, "solver-a"),
            lambda: state(factory, ids),
            timeout=60,
        )
        # Its heartbeat renews the lease while it waits: no other solver may take the plan.
        time.sleep(LEASE_SECONDS + 1)
        [orphan] = [p for p in plans(factory, ids) if p.status == PlanStatus.RUNNING]
        assert orphan.claimed_by == "solver-a" and orphan.attempts == 1
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        blocker.rollback()
    survivor = start_solver("solver-b")
    wait_until(
        lambda: all(p.status == PlanStatus.DONE for p in plans(factory, ids)),
        lambda: state(factory, ids),
        timeout=300,
    )
    assert survivor.poll() is None
    by_id = {p.id: p for p in plans(factory, ids)}
    retaken = by_id[orphan.id]
    assert (retaken.claimed_by, retaken.attempts) == ("solver-b", 2)
    assert all(by_id[i].attempts == 1 for i in ids if i != orphan.id)
    assert [created_audits(factory, plan_id) for plan_id in ids] == [1, 1, 1, 1]
    assert all(p.result and p.result["proposals"] for p in by_id.values())


def _progress_after_claim(factory: sessionmaker[Session], ids: list[int], solver: str) -> bool:
    """A plan of ``solver`` is running and its heartbeat has stored progress."""
    return any(
        p.status == PlanStatus.RUNNING and p.claimed_by == solver and p.progress is not None
        for p in plans(factory, ids)
    )
