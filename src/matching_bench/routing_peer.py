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
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from matching.eligibility import Eligibility, compute_eligibility
from matching.greedy import Placer
from matching.problem import Assignment, Plan, Problem, Stats, Unassigned
from matching.timeline import Timeline
from matching.travel import Travel
from matching.validate import score_plan

MEDIUM_WEIGHT = 100_000
"""Cost of leaving one priority point unstaffed: more than any day's driving and waiting."""


@dataclass(frozen=True)
class _Node:
    session: int
    lo: int
    hi: int
    vehicles: tuple[int, ...]


def solve_routing(
    problem: Problem,
    *,
    time_limit: float = 30.0,
    eligibility: Eligibility | None = None,
) -> Plan:
    """The routing library's plan of `problem` within `time_limit` seconds (one thread)."""
    from ortools.constraint_solver import (  # type: ignore[import-untyped]
        pywrapcp,
        routing_enums_pb2,
    )

    began = time.monotonic()
    timeline = Timeline.for_problem(problem)
    travel = Travel(problem.travel)
    eligibility = eligibility or compute_eligibility(problem, timeline, travel)

    vehicles: list[tuple[int, int]] = sorted(
        {
            (option.provider, r.day)
            for options in eligibility.options.values()
            for option in options
            for r in option.ranges
        }
    )
    vehicle_of = {key: v for v, key in enumerate(vehicles)}
    nodes: list[_Node] = []
    for s_idx, options in sorted(eligibility.options.items()):
        session = problem.sessions[s_idx]
        if not session.is_onsite or session.location is None:
            continue
        by_range: dict[tuple[int, int], list[int]] = defaultdict(list)
        for option in options:
            for r in option.ranges:
                by_range[(r.lo, r.hi)].append(vehicle_of[(option.provider, r.day)])
        for (lo, hi), allowed in sorted(by_range.items()):
            nodes.append(_Node(s_idx, lo, hi, tuple(sorted(allowed))))

    count = len(vehicles)
    if count == 0:
        routed: dict[int, tuple[int, int]] = {}
    else:
        # Node k < count is vehicle k's home; then the session nodes.
        places = [problem.providers[p].home for p, _ in vehicles] + [
            problem.sessions[n.session].location for n in nodes
        ]
        service = [0] * count + [problem.sessions[n.session].duration_minutes for n in nodes]
        manager = pywrapcp.RoutingIndexManager(
            count + len(nodes), count, list(range(count)), list(range(count))
        )
        routing = pywrapcp.RoutingModel(manager)
        size = len(places)
        drive = [
            [0 if a == b else travel.minutes(places[a], places[b]) for b in range(size)]  # type: ignore[arg-type]
            for a in range(size)
        ]

        def drive_cb(i: int, j: int) -> int:
            a: int = manager.IndexToNode(i)
            b: int = manager.IndexToNode(j)
            return drive[a][b]

        def time_cb(i: int, j: int) -> int:
            a: int = manager.IndexToNode(i)
            b: int = manager.IndexToNode(j)
            return service[a] + drive[a][b]

        drive_index = routing.RegisterTransitCallback(drive_cb)
        time_index = routing.RegisterTransitCallback(time_cb)
        routing.SetArcCostEvaluatorOfAllVehicles(drive_index)
        horizon = timeline.day_starts[-1]
        routing.AddDimension(time_index, horizon, horizon, False, "time")
        clock = routing.GetDimensionOrDie("time")
        caps = [problem.providers[p].max_minutes_per_day for p, _ in vehicles]
        routing.AddDimensionWithVehicleCapacity(time_index, 0, caps, True, "work")
        for v, (p_idx, day) in enumerate(vehicles):
            lo = timeline.day_starts[max(day - 1, 0)]
            hi = timeline.day_starts[min(day + 2, len(timeline.day_starts) - 1)]
            clock.CumulVar(routing.Start(v)).SetRange(lo, hi)
            clock.CumulVar(routing.End(v)).SetRange(lo, hi)
            if problem.providers[p_idx].counts_idle:
                clock.SetSlackCostCoefficientForVehicle(1, v)
        by_session: dict[int, list[int]] = defaultdict(list)
        for k, node in enumerate(nodes):
            index = manager.NodeToIndex(count + k)
            clock.CumulVar(index).SetRange(node.lo, node.hi)
            routing.VehicleVar(index).SetValues([-1, *node.vehicles])
            by_session[node.session].append(index)
        for s_idx, indices in by_session.items():
            routing.AddDisjunction(indices, MEDIUM_WEIGHT * problem.sessions[s_idx].priority)
        for v in range(count):
            routing.AddVariableMinimizedByFinalizer(clock.CumulVar(routing.End(v)))
            routing.AddVariableMaximizedByFinalizer(clock.CumulVar(routing.Start(v)))

        params = pywrapcp.DefaultRoutingSearchParameters()
        params.first_solution_strategy = (
            routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
        )
        params.local_search_metaheuristic = (
            routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        )
        left = max(1.0, time_limit - (time.monotonic() - began))
        params.time_limit.FromMilliseconds(int(left * 1000))
        solution = routing.SolveWithParameters(params)
        routed = {}
        if solution is not None:
            for v, (p_idx, _day) in enumerate(vehicles):
                index = solution.Value(routing.NextVar(routing.Start(v)))
                while not routing.IsEnd(index):
                    node = nodes[manager.IndexToNode(index) - count]
                    routed[node.session] = (p_idx, solution.Value(clock.CumulVar(index)))
                    index = solution.Value(routing.NextVar(index))
    return _plan(problem, eligibility, timeline, travel, routed, time.monotonic() - began)


def _plan(
    problem: Problem,
    eligibility: Eligibility,
    timeline: Timeline,
    travel: Travel,
    routed: dict[int, tuple[int, int]],
    seconds: float,
) -> Plan:
    """The routed visits re-checked in start order, the remote sessions inserted, the rest why."""
    placer = Placer(problem, timeline, travel)
    placed: dict[int, tuple[int, int]] = {}
    dropped: list[int] = []
    for s_idx, (p_idx, start) in sorted(routed.items(), key=lambda item: item[1][1]):
        day = timeline.day(start)
        if placer.roster(p_idx).conflict(placer.visit(s_idx, start), day) is None:
            placer.place(s_idx, p_idx, start, day)
            placed[s_idx] = (p_idx, start)
        else:
            dropped.append(s_idx)
    rest = sorted(
        (s for s in eligibility.options if s not in placed),
        key=lambda s: (-problem.sessions[s].priority, s),
    )
    unassigned: list[Unassigned] = []
    for s_idx in rest:
        insertion, _ = placer.best(s_idx, eligibility.options[s_idx])
        if insertion is not None:
            placer.place(s_idx, insertion.provider, insertion.start, insertion.day)
            placed[s_idx] = (insertion.provider, insertion.start)
            continue
        unassigned.append(
            Unassigned(problem.sessions[s_idx].id, "capacity", "the routing left it out")
        )
    for s_idx, why in eligibility.unplaceable.items():
        unassigned.append(Unassigned(problem.sessions[s_idx].id, why.reason, why.detail))
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
            solve_seconds=round(seconds, 3),
            bound=None,
            extra={"method": "routing", "routed": len(routed), "dropped": len(dropped)},
        ),
    )
