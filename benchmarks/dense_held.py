"""Dense days with group sessions, modality ladders and pinned pairs: routed around them, or not.

    .venv/bin/python benchmarks/dense_held.py --seed 1 --seed 2 --groups 6 --ladders 6 \\
        --time-limit 30 --workers 2

For each dense seed with `--groups` two-place discussion groups and
`--ladders` onsite-or-video sessions (the instance `truchement bench --scale
dense --groups G --ladders L` solves), two plans of the same day:

- **routed**: the route path routes around the held visits
  (`matching.route_scope`, `Tuning.route_around_held`, the default);
- **size path**: the path a group of its size takes when the route path
  is not used, which was what such a day got before (`route_around_held`
  off).

Then a re-plan, as after a provider's call: every fifth assignment of the
routed plan is pinned (`fixed`, confirmed work) and the day is solved again
from that plan, both ways. Every plan is validated; medium and soft are the
validator's. The figures are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from matching.problem import FixedAssignment, Plan, Problem
from matching.solve import solve
from matching.tuning import DEFAULT_TUNING
from matching.validate import validate
from matching_bench.generate import dense_spec, generate_problem

WAYS = {"routed": DEFAULT_TUNING, "size path": replace(DEFAULT_TUNING, route_around_held=False)}


def solved(problem: Problem, args: argparse.Namespace, way: str, hint: Plan | None) -> Plan:
    """The plan of `problem` one way, validated (the script stops on an invalid one)."""
    plan = solve(
        problem, time_limit=args.time_limit, workers=args.workers, hint=hint, tuning=WAYS[way]
    )
    verdict = validate(problem, plan)
    if not verdict.ok:
        raise SystemExit(f"{way}: invalid plan: {verdict.violations[:3]}")
    return plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seed", type=int, action="append", dest="seeds")
    parser.add_argument("--groups", type=int, default=6)
    parser.add_argument("--ladders", type=int, default=6)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    print(
        f"{args.groups} groups, {args.ladders} ladders, "
        f"{args.time_limit:g} s, {args.workers} workers"
    )
    print("| seed | routed | size path | pinned | re-plan, routed | re-plan, size path |")
    print("|---:|---:|---:|---:|---:|---:|")
    spec = dense_spec(groups=args.groups, ladders=args.ladders)
    for seed in args.seeds or [1, 2, 3, 4]:
        problem = generate_problem(spec, seed)
        routed = solved(problem, args, "routed", None)
        size = solved(problem, args, "size path", None)
        pins = tuple(
            FixedAssignment(a.session, a.provider, a.place, a.modality)
            for a in routed.assignments[::5]
        )
        pinned = replace(problem, fixed=pins)
        again = {way: solved(pinned, args, way, routed) for way in WAYS}
        print(
            f"| {seed} | {_score(routed)} {_routed(routed)} | {_score(size)} | {len(pins)} "
            f"| {_score(again['routed'])} {_routed(again['routed'])} "
            f"| {_score(again['size path'])} |",
            flush=True,
        )
    return 0


def _score(plan: Plan) -> str:
    return f"{plan.score.medium}/{plan.score.soft}"


def _routed(plan: Plan) -> str:
    return "(routed)" if plan.stats.extra.get("parts_routed") else "(not routed)"


if __name__ == "__main__":
    sys.exit(main())
