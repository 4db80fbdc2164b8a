"""How far the dense plans are from the best routes: a lower bound by column generation (#11).

    .venv/bin/python benchmarks/dense_relaxation.py [--seed 1 ...] [--time-limit 30]
        [--bound-seconds 300] [--calls]

For each dense seed, solves it with the matcher and with the routing peer
(`--time-limit` seconds, 2 workers for the matcher, as in the bench), then
bounds the drive-and-wait minutes of the onsite days of any plan that
staffs as many priority points onsite as each of them does
(`route_bound.relaxation_bound`: the linear relaxation of the
combination over every route, priced exactly). No plan that staffs those
points onsite drives and waits less than the bound; "not proven" means the
pricing ran out of `--bound-seconds`, and the figure is only the
relaxation's value so far (not a bound). The last column is the bound at
the matcher's points against the peer's minutes: the most any plan as
staffed as the matcher's could be below the peer. Phone sessions are left out of
all three figures: they have no drives, and the bound does not see one
held inside a salaried day's waiting.

With `--calls`, the figures are the whole plan's: every priority point it
staffs, its travel plus idle as the validator scores it, and a bound that
sees calls held in salaried waits (any number between two places, on
either side of the drive; a call staffed elsewhere for nothing). No plan
that staffs as many points drives and waits less than that bound.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from matching.model import Prepared, prepare
from matching.problem import Plan
from matching.route_bound import relaxation_bound
from matching.route_pool import Route, routes_of, timed
from matching.solve import solve
from matching.validate import provider_days, validate
from matching_bench.dense import generate_dense
from matching_bench.routing_peer import solve_routing


def onsite_days(prepared: Prepared, plan: Plan) -> set[Route]:
    """The plan's onsite days as routes, each start in its range."""
    problem = prepared.problem
    sessions = {s.id: i for i, s in enumerate(problem.sessions)}
    providers = {p.id: i for i, p in enumerate(problem.providers)}
    placement = {
        sessions[a.session]: (providers[a.provider], prepared.timeline.minute(a.start))
        for a in plan.assignments
    }
    return routes_of(problem, prepared.timeline, prepared.options, placement)


def points_and_minutes(prepared: Prepared, days: set[Route]) -> tuple[int, int]:
    """Onsite priority points staffed, and drive-and-wait minutes of the days, each timed."""
    problem = prepared.problem
    points = minutes = 0
    for (p_idx, _), stops in days:
        found = timed(problem, prepared.travel, p_idx, stops)
        assert found is not None, "a valid plan's day keeps its windows"
        points += sum(problem.sessions[s].priority for s, _, _ in stops)
        minutes += found[1]
    return points, minutes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, action="append", help="dense seeds (default 1-8)")
    parser.add_argument("--time-limit", type=float, default=30.0, help="each solve's seconds")
    parser.add_argument("--bound-seconds", type=float, default=300.0, help="each bound's")
    parser.add_argument(
        "--calls", action="store_true", help="whole plans, calls held in waits in the bound"
    )
    args = parser.parse_args()
    if args.calls:
        with_calls(args)
        return
    table = Table(title="Dense days: onsite drive-and-wait minutes against a lower bound")
    for column in (
        "seed",
        "matcher points / min",
        "bound at its points",
        "peer points / min",
        "bound at peer's points",
        "bound / peer",
    ):
        table.add_column(column, justify="right")
    console = Console()
    for seed in args.seed or range(1, 9):
        problem = generate_dense(seed)
        prepared = prepare(problem)
        matcher = onsite_days(prepared, solve(problem, time_limit=args.time_limit, workers=2))
        peer = onsite_days(prepared, solve_routing(problem, time_limit=args.time_limit))
        cells = [str(seed)]
        bounds: dict[int, tuple[float, bool]] = {}
        for days in (matcher, peer):
            points, minutes = points_and_minutes(prepared, days)
            if points not in bounds:
                bounds[points] = relaxation_bound(
                    problem, prepared.travel, prepared.options, days, points, args.bound_seconds
                )
            bound, proven = bounds[points]
            cells.append(f"{points} / {minutes}")
            cells.append(f"{bound:.1f}" + ("" if proven else " (not proven)"))
        at_matcher, proven = bounds[points_and_minutes(prepared, matcher)[0]]
        peer_minutes = points_and_minutes(prepared, peer)[1]
        cells.append(f"{at_matcher / peer_minutes - 1:+.1%}" if proven else "-")
        table.add_row(*cells)
        console.print("  ".join(cells))
    console.print(table)


def whole_plan(prepared: Prepared, plan: Plan) -> tuple[int, int]:
    """Every priority point the plan staffs, and its travel plus idle (the validator's)."""
    problem = prepared.problem
    assert validate(problem, plan).ok, "the bench's plans are valid"
    staffed = {a.session for a in plan.assignments}
    points = sum(s.priority for s in problem.sessions if s.id in staffed)
    days = provider_days(
        problem, plan.assignments, travel=prepared.travel, timeline=prepared.timeline
    )
    return points, sum(pd.travel_minutes + pd.idle_minutes for pd in days)


def with_calls(args: argparse.Namespace) -> None:
    """The `--calls` table: whole plans against the bound that sees calls in waits."""
    table = Table(title="Dense days: travel plus idle against a lower bound with calls")
    for column in ("seed", "matcher points / min", "bound at its points", "peer points / min"):
        table.add_column(column, justify="right")
    table.add_column("bound / peer", justify="right")
    console = Console()
    for seed in args.seed or range(1, 9):
        problem = generate_dense(seed)
        prepared = prepare(problem)
        plan = solve(problem, time_limit=args.time_limit, workers=2)
        points, minutes = whole_plan(prepared, plan)
        peer_points, peer_minutes = whole_plan(
            prepared, solve_routing(problem, time_limit=args.time_limit)
        )
        bound, proven = relaxation_bound(
            problem,
            prepared.travel,
            prepared.options,
            onsite_days(prepared, plan),
            points,
            args.bound_seconds,
            calls=True,
            progress=lambda value, bound, seed=seed: console.print(
                f"  seed {seed}: relaxation {value:.1f}, proven bound {bound:.1f}"
            ),
        )
        cells = [
            str(seed),
            f"{points} / {minutes}",
            f"{bound:.1f}" + ("" if proven else " (not proven)"),
            f"{peer_points} / {peer_minutes}",
            f"{bound / peer_minutes - 1:+.1%}" if proven else "-",
        ]
        table.add_row(*cells)
        console.print("  ".join(cells))
    console.print(table)


if __name__ == "__main__":
    main()
