"""A reference solver for dense days: the OR-Tools routing library (`truchement bench --peer`).

The matcher's own search is judged against what a vehicle-routing solver
does with the same instance. The translation:

- a vehicle is one provider's day (a provider with availability on three
  days is three vehicles); it starts and ends at the provider's home;
- a node is one onsite session and one of its start ranges (a session with
  ranges that differ between providers gets one node per distinct range, at
  most one of which is visited); the node's time window is that range;
- eligibility restricts the node's vehicle variable to the providers the
  static rules allow (`VehicleVar(index).SetValues`: in ortools 9.15
  `SetAllowedVehiclesForIndex` raises a TypeError from Python);
- a time dimension (transit: the session's minutes plus the drive) keeps the
  sessions and drives in order, a work dimension without slack keeps each
  day's sessions plus drives within `max_minutes_per_day` (rule 10);
- every visit is optional, its penalty the session's priority times a
  weight larger than any possible travel, so medium comes first;
- the cost is the drive minutes, plus, for a provider whose idle time
  counts, the waiting at the nodes (slack cost of the time dimension), which
  with a free departure is the matcher's idle (docs/problem.md).

Phone and video sessions have no place, so no node: after the routing, each
is inserted where the greedy's placer finds room (`greedy.Placer`), which
also re-checks every routed visit against rules 9-10 (weekly minutes
included, which the routing model does not see) and drops any that breaks
one. The plan is then scored and judged by `validate`, like the matcher's.

The translation is `matching.routing_search.library_routes` and `settle`,
which the matcher also runs on dense days for a share of its time before
its own route neighbourhoods: the peer is that first step given all the time.
"""

from __future__ import annotations

import time

from matching.eligibility import Eligibility, compute_eligibility
from matching.problem import Assignment, Plan, Problem, Stats, Unassigned
from matching.routing_search import library_routes, settle
from matching.timeline import Timeline
from matching.travel import Travel
from matching.validate import score_plan


def solve_routing(
    problem: Problem,
    *,
    time_limit: float = 30.0,
    eligibility: Eligibility | None = None,
) -> Plan:
    """The routing library's plan of `problem` within `time_limit` seconds (one thread)."""
    began = time.monotonic()
    timeline = Timeline.for_problem(problem)
    travel = Travel(problem.travel)
    eligibility = eligibility or compute_eligibility(problem, timeline, travel)
    left = time_limit - (time.monotonic() - began)
    routed = library_routes(problem, timeline, travel, eligibility.options, left)
    placed, left_out = settle(problem, timeline, travel, eligibility.options, routed)
    unassigned = [
        Unassigned(problem.sessions[s].id, "capacity", "the routing left it out") for s in left_out
    ]
    unassigned.extend(
        Unassigned(problem.sessions[s].id, why.reason, why.detail)
        for s, why in eligibility.unplaceable.items()
    )
    assignments = tuple(
        Assignment(problem.sessions[s].id, problem.providers[p].id, timeline.instant(start))
        for s, (p, start) in sorted(placed.items())
    )
    score = score_plan(problem, assignments, unassigned)
    return Plan(
        assignments=assignments,
        unassigned=tuple(unassigned),
        score=score,
        stats=Stats(
            status="FEASIBLE",
            solve_seconds=round(time.monotonic() - began, 3),
            bound=None,
            extra={"method": "routing", "routed": len(routed)},
        ),
    )
