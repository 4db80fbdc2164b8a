"""Could any plan of a dense seed drive and wait at most so many minutes? (#11, an integer check)

    .venv/bin/python benchmarks/dense_integer.py --seed 3 --at-most 2048 \
        [--time-limit 30] [--bound-seconds 3600] [--check-seconds 600]

Solves the seed with the matcher (`--time-limit` seconds, 2 workers) for
its priority points and its days, converges the exact relaxation with
calls held in salaried waits at those points (`route_bound.exact_relaxation`,
the figure `dense_relaxation.py --calls` prints), then enumerates every
route whose reduced cost is within `--at-most` less the relaxation's value
and lets CP-SAT find the best set of them (`route_bound.integer_check`).
Its answer holds for every plan that staffs as many points (calls staffed
anywhere for nothing, which no real plan beats): "none" proven means no
such plan needs `--at-most` minutes or fewer; a proven figure is the
fewest any such plan could need.
"""

from __future__ import annotations

import argparse
import time

from dense_relaxation import onsite_days, whole_plan
from rich.console import Console
from rich.progress import Progress

from matching.model import prepare
from matching.route_bound import exact_relaxation, integer_check
from matching.solve import solve
from matching_bench.dense import generate_dense


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True, help="the dense seed")
    parser.add_argument("--at-most", type=int, required=True, help="minutes of travel and idle")
    parser.add_argument("--time-limit", type=float, default=30.0, help="the matcher's seconds")
    parser.add_argument("--bound-seconds", type=float, default=3600.0, help="the relaxation's")
    parser.add_argument("--check-seconds", type=float, default=600.0, help="CP-SAT's")
    args = parser.parse_args()
    console = Console()
    problem = generate_dense(args.seed)
    prepared = prepare(problem)
    plan = solve(problem, time_limit=args.time_limit, workers=2)
    points, minutes = whole_plan(prepared, plan)
    console.print(f"seed {args.seed}: the matcher's plan staffs {points} points in {minutes} min")
    began = time.monotonic()
    relaxation = exact_relaxation(
        problem,
        prepared.travel,
        prepared.options,
        onsite_days(prepared, plan),
        points,
        args.bound_seconds,
        calls=True,
        progress=lambda value, bound: console.print(
            f"  relaxation {value:.1f}, proven bound {bound:.1f} ({time.monotonic() - began:.0f} s)"
        ),
    )
    if relaxation is None or not relaxation.converged:
        console.print("[red]the relaxation did not converge in --bound-seconds: no check[/red]")
        raise SystemExit(1)
    console.print(f"relaxation at {points} points: {relaxation.minutes:.1f} min, converged")
    with Progress(console=console) as bar:
        task = bar.add_task("routes within reach", total=len(relaxation.days))
        check = integer_check(
            problem,
            relaxation,
            args.at_most,
            args.check_seconds,
            progress=lambda done, days, routes: bar.update(
                task, completed=done, description=f"{routes} routes within reach"
            ),
        )
    if check.minutes is None:
        verdict = (
            f"no plan staffing {points} points needs {args.at_most} min or fewer (proven)"
            if check.proven
            else f"none found within {args.at_most} min, none proven impossible"
        )
    else:
        verdict = f"the best set of routes needs {check.minutes} min" + (
            " (proven the fewest of any plan)" if check.proven else " (not proven the fewest)"
        )
    console.print(f"{check.routes} routes within reach; {verdict}")


if __name__ == "__main__":
    main()
