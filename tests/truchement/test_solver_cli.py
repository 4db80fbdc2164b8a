"""`truchement solver --once`: solves what is queued in the database it is given, then exits."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from booking.plans.jobs import queue_plans
from booking.plans.models import Plan
from booking.vocabulary import PlanStatus
from tests.booking.dispatch_world import at, make_world
from tests.conftest import migrate


def test_solver_once_solves_the_queue_and_exits(scratch_engine: Engine) -> None:
    migrate(scratch_engine, "head")
    with Session(scratch_engine, expire_on_commit=False) as db:
        world = make_world(db)
        world.provider(db, name="Awet")
        world.booking(db, hour=10)
        [plan] = queue_plans(
            db,
            actor=world.dispatcher,
            horizon_start=at(world.day, 0),
            horizon_end=at(world.day + dt.timedelta(days=1), 0),
            time_limit=5.0,
        )
        db.commit()
    env = {
        **os.environ,
        "TRUCHEMENT_DATABASE_URL": scratch_engine.url.render_as_string(hide_password=False),
        "TRUCHEMENT_SOLVER_THREADS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "truchement.cli", "solver", "--once", "--name", "cli-test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"plans solved: 1 [{plan.id}]"
    with Session(scratch_engine) as db:
        solved = db.get_one(Plan, plan.id)
        assert (solved.status, solved.claimed_by, solved.attempts) == (
            PlanStatus.DONE,
            "cli-test",
            1,
        )
        assert len((solved.result or {})["proposals"]) == 1
