"""How far the dense plans are from the best routes: a lower bound by column generation (#11).

    .venv/bin/python benchmarks/dense_relaxation.py [--seed 1 ...] [--time-limit 30]
        [--bound-seconds 300]

For each dense seed, solves it with the matcher and with the routing peer
(`--time-limit` seconds, 2 workers for the matcher, as in the bench), then
bounds the drive-and-wait minutes of the onsite days of any plan that
staffs as many priority points onsite as each of them does
(`route_pricing.relaxation_bound`: the linear relaxation of the
combination over every route, priced exactly). No plan that staffs those
points onsite drives and waits less than the bound; "not proven" means the
pricing ran out of `--bound-seconds`, and the figure is only the
relaxation's value so far (not a bound). The last column is the bound at
the matcher's points against the peer's minutes: the most any plan as
staffed as the matcher's could be below the peer. Phone sessions are left out of
all three figures: they have no drives, and the bound does not see one
held inside a salaried day's waiting.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from matching.model import Prepared, prepare
from matching.problem import Plan
from matching.route_pool import Route, routes_of, timed
from matching.route_pricing import relaxation_bound
from matching.solve import solve
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
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
