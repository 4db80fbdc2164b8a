"""Travel against fairness: one bench instance solved with several `fairness_weight`s.

    .venv/bin/python benchmarks/fairness_bench.py --scale M --seed 1 \\
        --weights 0,1,5,20 --time-limit 20 --workers 2

For each weight: medium (the priority left unstaffed), soft, the plan's
driving minutes, and the minutes per provider (min, median, max, Gini) over
the providers who may take at least one session (the others can never be
balanced). Each plan is validated; the figures are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from matching.eligibility import compute_eligibility
from matching.fairness import loads, share
from matching.solve import solve
from matching.timeline import Timeline
from matching.travel import Travel
from matching.validate import validate
from matching_bench.generate import generate_problem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="M")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--weights", default="0,1,5,20")
    parser.add_argument("--time-limit", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    base = generate_problem(args.scale, args.seed)
    eligibility = compute_eligibility(base, Timeline.for_problem(base), Travel(base.travel))
    able = {base.providers[o.provider].id for opts in eligibility.options.values() for o in opts}
    print(
        f"{args.scale} seed {args.seed}: {len(base.sessions)} sessions, "
        f"{len(base.providers)} providers ({len(able)} may take a session)"
    )
    print("| weight | medium | soft | travel min | min | median | max | Gini |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for weight in (int(w) for w in args.weights.split(",")):
        problem = dataclasses.replace(base, fairness_weight=weight)
        plan = solve(problem, time_limit=args.time_limit, workers=args.workers)
        verdict = validate(problem, plan)
        if not verdict.ok:
            print(f"weight {weight}: invalid plan", file=sys.stderr)
            return 1
        minutes = {p: m for p, m in loads(problem, plan.assignments).items() if p in able}
        figures = share(minutes)
        print(
            f"| {weight} | {plan.score.medium} | {plan.score.soft} "
            f"| {plan.stats.extra['travel_minutes']} | {figures.min} | {figures.median:g} "
            f"| {figures.max} | {figures.gini} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
