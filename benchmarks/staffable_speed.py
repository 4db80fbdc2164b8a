"""How fast "what would make it staffable" answers for the demo's two-week plan (issue 16).

    .venv/bin/python benchmarks/staffable_speed.py [--time-limit 10] [--repeat 3]

Seeds the demo into a fresh SQLite file, builds the demo dispatcher's
problem for the demo's two working weeks (`build_problem`, as a plan does),
solves it as a plan would, then times `suggest_all` over every unassigned
session of that plan. The target: under 2 s in total. Reports times, not
pass/fail: the machine is shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.db import make_engine
from booking.demo import seed_demo_data
from booking.migrate import upgrade
from booking.models import User
from booking.plans.problem_builder import build_problem
from booking.plans.service import without_pins
from matching.model import InfeasibleFixedError
from matching.solve import solve
from matching.staffable import suggest_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=10.0, help="the plan's solve")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of suggest_all")
    parser.add_argument("--verbose", action="store_true", help="print each session's list")
    args = parser.parse_args()

    today = dt.date.today()
    monday = today + dt.timedelta(days=7 - today.weekday())
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'demo.sqlite3'}"
        upgrade(url)
        engine = make_engine(url)
        with Session(engine) as db:
            seed_demo_data(db, seed=7, first_day=monday)
            db.flush()
            dispatcher = db.scalars(
                select(User).where(User.email == "dispatcher@demo.truchement.eu")
            ).one()
            start = dt.datetime.combine(monday, dt.time(0), tzinfo=dt.UTC)
            problem, _ = build_problem(
                db,
                horizon_start=start,
                horizon_end=start + dt.timedelta(days=14),
                now=start - dt.timedelta(days=3),
                providing_org_id=dispatcher.organisation_id,
            )
        engine.dispose()

    # As a plan does: held work that breaks a rule becomes busy time, not a pin.
    for _ in range(10):
        try:
            plan = solve(problem, time_limit=args.time_limit)
            break
        except InfeasibleFixedError as clash:
            problem = without_pins(problem, clash.pairs)
    else:
        raise SystemExit("the demo's held work could not be kept")
    seconds = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        lists = suggest_all(problem, plan)
        seconds.append(time.perf_counter() - began)
    kinds = Counter(s.kind for found in lists.values() for s in found)
    helped = sum(1 for found in lists.values() if found)
    if args.verbose:
        reasons = {u.session: u.reason for u in plan.unassigned}
        for session, found in sorted(lists.items()):
            print(session, reasons.get(session), [(s.kind, s.change) for s in found])
    print(
        f"demo, two weeks: {len(problem.sessions)} sessions, {len(plan.unassigned)} unassigned; "
        f"{helped} with at least one suggestion ({dict(kinds)}); "
        f"suggest_all median {statistics.median(seconds):.2f} s, slowest {max(seconds):.2f} s "
        f"over {args.repeat} runs"
    )


if __name__ == "__main__":
    main()
