"""Dense days: a search that routes (docs/problem.md, "How it solves", the route path).

When providers hold four to six windowed sessions a day, a good plan is a
good set of routes, and cutting pieces by eligibility alone (`search`) moves
sessions between providers without looking at where they are. The steps:

1. **The routing library** (`library_routes`): OR-Tools' vehicle-routing
   solver, from scratch or from a plan. A
   vehicle is one provider's day from home to home; a node one onsite
   session and one of its start ranges; eligibility restricts each node's
   vehicle variable (`VehicleVar(index).SetValues`: in ortools 9.15
   `SetAllowedVehiclesForIndex` raises a TypeError from Python); a time
   dimension holds the windows, a work dimension the daily minutes (rule
   10); visits are optional at a penalty per priority point above any
   travel; the cost is travel plus, for providers whose idle time counts,
   the waiting. Its routes are then re-checked against rules 9-10 with the
   greedy's rosters, and phone and video sessions (no place, no node) go
   where there is room and they leave the least waiting (`settle`). Kept
   only if better (`Run.better`).
   Its Python binding holds the interpreter while it searches (no other
   thread of the process runs meanwhile), so the searches from scratch
   that run beside this process's own work run in a child process
   (`Elsewhere`): the peer's own, then one from another first solution.
2. **Route neighbourhoods** (`improve_routes`): pieces of one to six
   provider-days that lie near each other (their places a short drive
   apart), with the unstaffed sessions they could take, re-planned exactly
   by the CP-SAT model on both levels. One provider's day re-sequences its
   route and slides its windowed starts; several days near each other
   move and exchange sessions between them. A piece replaces the plan's
   part when better. One search thread per worker, on disjoint pieces.
3. **Column generation** (`route_pricing`): the days no search drove,
   found by pricing routes against the duals of the combination's linear
   relaxation; then around the plan (`price_around`): with most of its
   days fixed, the rest priced again, for the days that complete it.
4. **The best combination** (`route_pool`): both routing searches pool the
   routes of every plan they report, the pricing adds its own, and CP-SAT
   picks the best set of them (at most one per provider-day, each session
   once).

`solve_dense` puts them together: with two workers, two library searches
from scratch one after the other in the child, while this process runs
the library from scratch on another trajectory (idle as span, another
lambda), prices routes against its own, combines them and prices around
that combination; when the child is back, the pricing goes on with every
search's routes, all of them are combined, the pricing goes around that
plan and the combination again, and route neighbourhoods polish the
result on both workers.

`matching_bench.routing_peer` runs step 1 alone for the whole time: the
reference the bench compares the matcher with on dense days.
"""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from matching.eligibility import Option
from matching.greedy import Placer
from matching.problem import Location, Problem
from matching.route_pool import MEDIUM_WEIGHT, Route, Stop, best_combination, routes_of
from matching.route_pricing import priced_routes, residual
from matching.route_scope import RouteScope
from matching.routes import idle_minutes
from matching.run import Run
from matching.search import (
    _keeps_groups,
    _new_search,
    _Piece,
    _Search,
    _solve_piece,
    _with_group_places,
    piece_of_day,
)
from matching.timeline import Timeline
from matching.travel import Travel

Placement = dict[int, tuple[int, int]]

EXTRA_SESSIONS = 6
"""Unstaffed sessions a route piece takes in at most."""
PIECE_DAYS = (1, 2, 3, 4, 6)
PIECE_WEIGHTS = (1, 3, 3, 2, 2)
"""How many provider-days a route piece holds, and how often each size is drawn."""
STOP_MARGIN = 1.0
"""Seconds a dense group sets aside for the last piece's model and the plan's assembly."""
OWN_PENALTY_FACTOR = 0.3
"""Guided local search's lambda in this process, beside the child's 0.1 (the library's
default, the peer's): on dense seeds 4 and 7 at equal time it routed as well or better, and the
combination draws on two trajectories more than on two alike."""
CHILD_MARGIN = 0.5
"""Seconds a child process's search ends before the group's time to polish does: for the
routes to come back and be settled."""
CHILD_GRACE = 2.0
"""Seconds a child process may run past its time limit before its plan is given up."""
CHILD_SEARCHES = (
    ("PARALLEL_CHEAPEST_INSERTION", 0.1, 0.5),
    ("LOCAL_CHEAPEST_INSERTION", 0.2, 0.5),
)
"""The child's routing searches from scratch, one after the other: (first solution strategy,
guided local search's lambda, share of the child's time). The first is the peer's own; a
second trajectory from another first solution meets days the first never drives, and the
combination draws on both: on dense seeds 1-8, three runs with two half-time searches summed
14,014 to 14,088 minutes, the seven runs before them with the peer's alone for the whole time
14,082 to 14,164 (benchmarks/README.md, "Two searches in the child")."""
RECOMBINE_PRICING = 0.7
"""Share of `recombine`'s time that goes to pricing, the rest to the combination."""
HELD_POINTS = 1_000
"""Priority points a held visit (`route_scope`) weighs in the routing library: above any day's."""
SECONDS_PER_DAY = 0.6
"""Time limit of a route piece's exact model, per provider-day it holds."""
AROUND_SHARE = 0.4
"""Share of the plan's days a round of pricing around it frees: the nearest to a day drawn."""
AROUND_ROUND = 1.5
"""Seconds one round of pricing around the plan takes at most."""
AROUND_LAST = 0.7
"""Share of the time after the last combination that goes to pricing around its plan, the
rest to combining again and the polish."""


def dense_enough(
    prepared_options: Mapping[int, Sequence[Option]], sessions: Sequence[int]
) -> float:
    """Sessions per provider-day the group's options open: about 4 on a dense day, under 1 on M."""
    days = {
        (option.provider, r.day)
        for s_idx in sessions
        for option in prepared_options.get(s_idx, ())
        for r in option.ranges
    }
    return len(sessions) / max(1, len(days))


def library_routes(
    problem: Problem,
    timeline: Timeline,
    travel: Travel,
    options: Mapping[int, Sequence[Option]],
    time_limit: float,
    hint: Mapping[int, tuple[int, int]] | None = None,
    penalty_factor: float = 0.1,
    pool: set[Route] | None = None,
    idle_as_span: bool = False,
    held: Collection[int] = (),
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION",
) -> Placement:
    """Onsite sessions routed by OR-Tools' routing library: session -> (provider, start).

    `penalty_factor` is guided local search's lambda coefficient (0.1, the
    library's default, is the peer's); a larger one leaves a valley sooner.
    With `pool`, the routes of every plan the search reports are added to it
    (`route_pool`). With `idle_as_span`, a salaried provider's day costs
    its span (departure to return) and everyone else's its drives plus its
    session minutes, which are paid back in each visit's penalty: the same
    objective up to a constant, searched on another trajectory than with the
    peer's waiting (slack) cost. A `held` session (`route_scope`) is
    left out only at a penalty no other visit outweighs. `first_solution` names
    the library's first solution strategy (the peer's by default).
    """
    from ortools.constraint_solver import (  # type: ignore[import-untyped]
        pywrapcp,
        routing_enums_pb2,
    )

    began = time.monotonic()
    vehicles = sorted(
        {(o.provider, r.day) for opts in options.values() for o in opts for r in o.ranges}
    )
    vehicle_of = {key: v for v, key in enumerate(vehicles)}
    nodes: list[tuple[int, int, int, tuple[int, ...]]] = []
    """(session, lo, hi, vehicles allowed)."""
    for s_idx, opts in sorted(options.items()):
        session = problem.sessions[s_idx]
        if not session.is_onsite or session.location is None:
            continue
        by_range: dict[tuple[int, int], list[int]] = defaultdict(list)
        for option in opts:
            for r in option.ranges:
                by_range[(r.lo, r.hi)].append(vehicle_of[(option.provider, r.day)])
        for (lo, hi), allowed in sorted(by_range.items()):
            nodes.append((s_idx, lo, hi, tuple(sorted(allowed))))
    count = len(vehicles)
    if count == 0 or not nodes:
        return {}

    places: list[Location] = [problem.providers[p].home for p, _ in vehicles]
    for s_idx, *_ in nodes:
        location = problem.sessions[s_idx].location
        assert location is not None
        places.append(location)
    service = [0] * count + [problem.sessions[n[0]].duration_minutes for n in nodes]
    size = len(places)
    drive = [
        [0 if a == b else travel.minutes(places[a], places[b]) for b in range(size)]
        for a in range(size)
    ]
    manager = pywrapcp.RoutingIndexManager(size, count, list(range(count)), list(range(count)))
    routing = pywrapcp.RoutingModel(manager)

    # Matrices rather than Python callbacks: the search then never waits for the interpreter.
    elapsed = [[service[a] + drive[a][b] for b in range(size)] for a in range(size)]
    time_index = routing.RegisterTransitMatrix(elapsed)
    if idle_as_span:
        nothing = routing.RegisterTransitMatrix([[0] * size for _ in range(size)])
        for v, (p_idx, _day) in enumerate(vehicles):
            paid = nothing if problem.providers[p_idx].counts_idle else time_index
            routing.SetArcCostEvaluatorOfVehicle(paid, v)
    else:
        routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(drive))
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
        if problem.providers[p_idx].counts_idle and idle_as_span:
            clock.SetSpanCostCoefficientForVehicle(1, v)
        elif problem.providers[p_idx].counts_idle:
            clock.SetSlackCostCoefficientForVehicle(1, v)
    by_session: dict[int, list[int]] = defaultdict(list)
    nodes_of: dict[tuple[int, int], list[int]] = defaultdict(list)
    for k, (s_idx, lo, hi, may) in enumerate(nodes):
        index = manager.NodeToIndex(count + k)
        clock.CumulVar(index).SetRange(lo, hi)
        routing.VehicleVar(index).SetValues([-1, *may])
        by_session[s_idx].append(index)
        for v in may:
            nodes_of[(s_idx, v)].append(k)
    for s_idx, indices in by_session.items():
        session = problem.sessions[s_idx]
        paid_back = session.duration_minutes if idle_as_span else 0
        points = HELD_POINTS if s_idx in held else session.priority
        routing.AddDisjunction(indices, MEDIUM_WEIGHT * points + paid_back)
    for v in range(count):
        routing.AddVariableMinimizedByFinalizer(clock.CumulVar(routing.End(v)))
        routing.AddVariableMaximizedByFinalizer(clock.CumulVar(routing.Start(v)))
    if pool is not None:

        def report() -> None:
            for v in range(count):
                stops: list[Stop] = []
                index = routing.NextVar(routing.Start(v)).Value()
                while not routing.IsEnd(index):
                    stops.append(nodes[manager.IndexToNode(index) - count][:3])
                    index = routing.NextVar(index).Value()
                if stops:
                    pool.add((vehicles[v], tuple(stops)))

        routing.AddAtSolutionCallback(report)

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(
        routing_enums_pb2.FirstSolutionStrategy, first_solution
    )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.guided_local_search_lambda_coefficient = penalty_factor
    left = max(0.5, time_limit - (time.monotonic() - began))
    params.time_limit.FromMilliseconds(int(left * 1000))

    solution = None
    if hint:
        routes: list[list[tuple[int, int]]] = [[] for _ in range(count)]
        for s_idx, (p_idx, start) in hint.items():
            vehicle = vehicle_of.get((p_idx, timeline.day(start)), -1)
            for k in nodes_of.get((s_idx, vehicle), []):
                if nodes[k][1] <= start <= nodes[k][2]:
                    routes[vehicle].append((start, count + k))
                    break
        ordered = [[manager.NodeToIndex(node) for _, node in sorted(route)] for route in routes]
        routing.CloseModelWithParameters(params)
        initial = routing.ReadAssignmentFromRoutes(ordered, True)
        if initial is not None:
            solution = routing.SolveFromAssignmentWithParameters(initial, params)
    if solution is None:
        solution = routing.SolveWithParameters(params)
    routed: Placement = {}
    if solution is None:
        return routed
    for v, (p_idx, _day) in enumerate(vehicles):
        index = solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(index):
            s_idx = nodes[manager.IndexToNode(index) - count][0]
            routed[s_idx] = (p_idx, solution.Value(clock.CumulVar(index)))
            index = solution.Value(routing.NextVar(index))
    return routed


def settle(
    problem: Problem,
    timeline: Timeline,
    travel: Travel,
    options: Mapping[int, Sequence[Option]],
    routed: Mapping[int, tuple[int, int]],
    held: Mapping[int, tuple[int, int]] | None = None,
) -> tuple[Placement, list[int]]:
    """Routed visits kept where rules 9-10 allow, then the others inserted where there is room.

    `held` visits (`route_scope`) come first, where they are. A routed call
    (phone or video) keeps its provider and takes the start that waits
    least there. Returns the placement and the sessions left out, most
    urgent (then least free) first tried.
    """
    placer = Placer(problem, timeline, travel)
    placed: Placement = {}
    for s_idx, (p_idx, start) in sorted((held or {}).items(), key=lambda item: item[1][1]):
        day = timeline.day(start)
        if placer.roster(p_idx).conflict(placer.visit(s_idx, start), day) is None:
            placer.place(s_idx, p_idx, start, day)
            placed[s_idx] = (p_idx, start)
    for s_idx, (p_idx, start) in sorted(routed.items(), key=lambda item: item[1][1]):
        if not problem.sessions[s_idx].is_onsite or s_idx in placed:
            continue
        day = timeline.day(start)
        if placer.roster(p_idx).conflict(placer.visit(s_idx, start), day) is None:
            placer.place(s_idx, p_idx, start, day)
            placed[s_idx] = (p_idx, start)

    def urgency(s_idx: int) -> tuple[int, int, int]:
        # The most urgent first, and among equals the least free (the fewest starts over all
        # its providers): a call held at a fixed hour is not crowded out by one that can move.
        free = sum(r.hi - r.lo + 1 for option in options[s_idx] for r in option.ranges)
        return -problem.sessions[s_idx].priority, free, s_idx

    # A call the routes came with keeps its provider (the combination left it room there),
    # at the start that waits least, else the one it came with.
    for s_idx in sorted((s for s in routed if s not in placed and s in options), key=urgency):
        p_idx, start = routed[s_idx]
        own = tuple(option for option in options[s_idx] if option.provider == p_idx)
        found = _least_idle(placer, travel, s_idx, own)
        day = timeline.day(start)
        if found is None and placer.roster(p_idx).conflict(placer.visit(s_idx, start), day) is None:
            found = (p_idx, start)
        if found is not None:
            placer.place(s_idx, found[0], found[1], timeline.day(found[1]))
            placed[s_idx] = found
    left: list[int] = []
    for s_idx in sorted((s for s in options if s not in placed), key=urgency):
        if problem.sessions[s_idx].is_onsite:
            insertion, _ = placer.best(s_idx, tuple(options[s_idx]))
            found = None if insertion is None else (insertion.provider, insertion.start)
        else:
            found = _least_idle(placer, travel, s_idx, tuple(options[s_idx]))
        if found is None:
            left.append(s_idx)
            continue
        placer.place(s_idx, found[0], found[1], timeline.day(found[1]))
        placed[s_idx] = found
    return placed, left


def _least_idle(
    placer: Placer, travel: Travel, s_idx: int, options: tuple[Option, ...]
) -> tuple[int, int] | None:
    """A phone or video session's (provider, start) that leaves the least waiting; None if none.

    The greedy's cheapest insertion drives nothing and goes to the least
    loaded day; on a salaried day, a call held while the provider waits
    between two places shortens the waiting by its length. Ties keep the
    greedy's order.
    """
    best: tuple[tuple[int, int], int, int] | None = None
    for rank, (cost, _, p_idx, day, _, starts) in enumerate(
        sorted(placer.insertions(s_idx, options))
    ):
        roster = placer.roster(p_idx)
        person = roster.provider
        visits = roster.day_visits(day)
        before = idle_minutes(travel, person.home, visits) if person.counts_idle else 0
        for start in starts:
            visit = placer.visit(s_idx, start)
            if roster.conflict(visit, day) is not None:
                continue
            after = (
                idle_minutes(travel, person.home, sorted((*visits, visit), key=lambda v: v.start))
                if person.counts_idle
                else 0
            )
            key = (cost + after - before, rank)
            if best is None or key < best[0]:
                best = (key, p_idx, start)
            if not person.counts_idle:
                break  # every start of the slot costs the same: the greedy's first that fits
    return None if best is None else (best[1], best[2])


def solve_dense(
    run: Run,
    sessions: Sequence[int],
    start: Mapping[int, tuple[int, int]],
    budget: float,
    meanwhile: Callable[[], object] | None = None,
    pool: set[Route] | None = None,
) -> Placement:
    """A dense group's plan: three routing searches, routes priced against their combination,
    the best combination of all, then route neighbourhoods.

    The routing library holds the interpreter while it searches (its Python
    binding does not let go of it), so with two workers the searches from
    scratch with the peer's parameters, then from another first solution
    (`CHILD_SEARCHES`), run in a child process (`Elsewhere`) for
    `route_child_share` of the time. Meanwhile this process runs
    `meanwhile` (the caller's bound), the library from scratch on another
    trajectory (idle as span, another lambda) for `route_share` of the time,
    then column generation on the routes it met (`route_pricing`), their
    best combination and pricing around it (`price_around`) until the child
    is due; then column generation again with the child's routes too.
    CP-SAT picks the best combination of every route met or priced and the
    current plan's (`route_pool`) for `route_combine_share` of the time, or
    more. What is left then (at least `route_polish_share` of the time) goes
    to pricing around that plan (`AROUND_LAST` of it), the combination
    again, and route neighbourhoods on every worker for what the
    combination leaves when it is proven early. Without a child process
    (one worker, or none could be started) the library runs here, then the
    pricing, the combination, the pricing around it and the polish. Every
    route met or priced is added to `pool` (for `recombine`).
    Group places, ladders and pins are routed around (`route_scope`).
    """
    tuning = run.tuning
    polish = tuning.route_polish_share * budget
    combine = tuning.route_combine_share * budget
    child = min(tuning.route_child_share * budget, budget - polish - combine - CHILD_MARGIN)
    scope = RouteScope.of(run, sessions, start)
    elsewhere = Elsewhere.start(run, scope, child) if run.workers >= 2 else None
    # Building a piece's model and CP-SAT's wind-down come on top of its time limit.
    budget = max(0.1, budget - STOP_MARGIN)
    began = time.monotonic()
    deadline = began + budget
    best = dict(start)
    pool = set() if pool is None else pool
    rng = random.Random(len(sessions))
    if meanwhile is not None:
        meanwhile()
    seconds = max(0.5, tuning.route_share * budget - (time.monotonic() - began))
    if elsewhere is None:
        best = route_with_library(
            run, sessions, scope, best, seconds, from_start=bool(run.previous), pool=pool
        )
    else:
        try:
            best = route_with_library(
                run,
                sessions,
                scope,
                best,
                seconds,
                penalty_factor=OWN_PENALTY_FACTOR,
                pool=pool,
                idle_as_span=True,
            )
            # Until the child is due, price routes against this process's own, combine
            # them and price around the combination on this core.
            # (Without the calls' rounds here: the time left before the child is due is the
            # combination's and the pricing around it's.)
            pool |= price_routes(
                run, scope, pool, best, began + child - time.monotonic(), with_calls=False
            )
            best = combine_routes(
                run, sessions, scope, pool, best, began + child - time.monotonic()
            )
            pool |= price_around(run, scope, pool, best, began + child - time.monotonic(), rng)
            routed, met = elsewhere.result(max(0.1, began + child - time.monotonic()) + CHILD_GRACE)
        finally:
            elsewhere.close()
        pool |= met
        for placement in routed:
            best = _settled_if_better(run, sessions, scope, placement, best)
    # The route neighbourhoods may have moved held visits meanwhile: route around them there.
    scope = RouteScope.of(run, sessions, best)
    # Pricing converges in a second or two on a quiet machine; on a busy one it takes at most
    # half of what is left. The combination with calls is not always proven in its share:
    # it takes up to half of what is left then, and the polish has the rest.
    left = deadline - time.monotonic() - polish
    pool |= price_routes(run, scope, pool, best, min(left - combine, left / 2))
    left = deadline - time.monotonic() - polish
    best = combine_routes(run, sessions, scope, pool, best, min(left, max(combine, left / 2)))
    left = deadline - time.monotonic()
    pool |= price_around(run, scope, pool, best, AROUND_LAST * left, rng)
    best = combine_routes(run, sessions, scope, pool, best, deadline - time.monotonic() - 0.3)
    return improve_routes(run, sessions, best, deadline - time.monotonic() - 0.1)


def recombine(
    run: Run,
    sessions: Sequence[int],
    pool: set[Route],
    best: Mapping[int, tuple[int, int]],
    seconds: float,
) -> Placement:
    """`best` after more pricing and the best combination, with its own routes in the pool.

    After the search's insertions have put sessions back, the plan's days are
    no longer the routes the pricing saw: priced again around them, a day
    that drives far for an inserted session finds its better order or owner.
    The held visits are where `best` has them now.
    """
    began = time.monotonic()
    scope = RouteScope.of(run, sessions, best)
    pool |= price_routes(run, scope, pool, best, RECOMBINE_PRICING * seconds)
    return combine_routes(run, sessions, scope, pool, best, seconds - (time.monotonic() - began))


def price_routes(
    run: Run,
    scope: RouteScope,
    pool: set[Route],
    best: Mapping[int, tuple[int, int]],
    seconds: float,
    with_calls: bool = True,
) -> set[Route]:
    """Routes column generation adds to the pool and `best`'s own within `seconds`.

    `with_calls`: salaried days are priced with the calls their waits may
    hold too, once the places have converged (`priced_routes`).
    """
    if seconds < 0.2 or run.stopped:
        return set()
    prepared = run.prepared
    own = routes_of(run.problem, prepared.timeline, scope.options, best)
    pooled = {route for route in pool | own if scope.admits(route)}
    priced = priced_routes(
        run.problem, prepared.travel, scope.retimed(), pooled, seconds, with_calls
    )
    run.stats["priced_routes"] += len(priced)
    return priced | own


def price_around(
    run: Run,
    scope: RouteScope,
    pool: set[Route],
    best: Mapping[int, tuple[int, int]],
    seconds: float,
    rng: random.Random,
) -> set[Route]:
    """Routes priced around `best` within `seconds`: rounds that each free its days nearest one
    of them drawn at random (`AROUND_SHARE`), fix the others and price the rest.

    The pricing over the whole plan finds the routes of the relaxation's
    optimum, where a day is often taken in halves by two routes; the best
    combination of them then lacks the days that would complete its own
    plan. With most of the plan fixed, the duals of what is left price
    exactly those: on dense seeds 1-8, five runs with rounds while the child
    searches and after the last combination summed 14,039 to 14,049
    minutes, two runs without them 14,069 and 14,134 (benchmarks/README.md,
    "Pricing around the plan").
    """
    deadline = time.monotonic() + seconds
    problem, prepared = run.problem, run.prepared
    days = sorted(routes_of(problem, prepared.timeline, scope.options, best))
    found: set[Route] = set()
    if len(days) < 3:
        return found
    freed = max(2, round(AROUND_SHARE * len(days)))
    day_of, retimed = prepared.timeline.day, scope.retimed()
    pooled = {route for route in pool if scope.admits(route)}
    while time.monotonic() < deadline - 0.2 and not run.stopped:
        near = _nearest_first(run, days, rng.choice(days), rng)
        fixed = {key for key, _ in near[freed:]}
        taken = {s_idx for s_idx, (p_idx, at) in best.items() if (p_idx, day_of(at)) in fixed}
        options, routes = residual(retimed, pooled, taken, fixed)
        seconds = min(AROUND_ROUND, deadline - time.monotonic())
        priced = priced_routes(problem, prepared.travel, options, routes, seconds)
        found |= priced
        pooled |= {route for route in priced if scope.admits(route)}
        run.stats["priced_around"] += 1
    run.stats["priced_routes"] += len(found)
    return found


def _nearest_first(run: Run, days: Sequence[Route], seed: Route, rng: random.Random) -> list[Route]:
    """`days` by the shortest drive from a place of `seed`'s to one of theirs, ties at random."""
    problem, minutes = run.problem, run.prepared.travel.minutes
    places = [problem.sessions[s].location for s, _, _ in seed[1]]

    def drive(day: Route) -> int:
        theirs = [problem.sessions[s].location for s, _, _ in day[1]]
        return min(
            (minutes(a, b) for a in places for b in theirs if a is not None and b is not None),
            default=0,
        )

    return sorted(days, key=lambda day: (drive(day), rng.random()))


def combine_routes(
    run: Run,
    sessions: Sequence[int],
    scope: RouteScope,
    pool: set[Route],
    best: Mapping[int, tuple[int, int]],
    seconds: float,
) -> Placement:
    """The best combination of the pooled routes and `best`'s own, settled; `best` if not better."""
    if not pool or seconds < 0.2 or run.stopped:
        return dict(best)
    prepared = run.prepared
    options = scope.options
    # Routes met around other held visits (before an insertion moved them) are out of reach.
    own = {r for r in routes_of(run.problem, prepared.timeline, options, best) if scope.admits(r)}
    pooled = {route for route in pool if scope.admits(route)}
    calls = {s: held for s, held in options.items() if not run.problem.sessions[s].is_onsite}
    held = {s: at for s, at in best.items() if s in calls}
    combined = best_combination(
        run.problem,
        prepared.travel,
        pooled,
        own,
        seconds,
        run.workers,
        calls,
        held,
        required=scope.held.keys(),
        together=scope.together,
    )
    run.stats["pooled_routes"] += len(pooled | own)
    improved = _settled_if_better(run, sessions, scope, combined, best)
    if improved == best:
        # Where the calls the combination held do not settle as it thought, the same routes
        # with every call settled afresh may still be better.
        onsite = {s: at for s, at in combined.items() if run.problem.sessions[s].is_onsite}
        improved = _settled_if_better(run, sessions, scope, onsite, best)
    run.stats["routes_combined"] += int(improved != best)
    # A group the combination started elsewhere, or staffed where it was open.
    if improved != best:
        run.stats["groups_retimed"] += sum(
            improved.get(places[0]) != scope.held.get(places[0]) for places in scope.together
        )
    return improved


class Elsewhere:
    """`library_routes` in a child process, beside this one's search (`CHILD_SEARCHES`).

    A plain `python -m matching.routing_search` child, not `multiprocessing`:
    a spawned worker would import the caller's main script again, and run it
    if it has no `__main__` guard. The problem goes in through a file, the
    routes come back pickled on its output; both are ours.
    """

    def __init__(self, process: subprocess.Popen[bytes], payload: str) -> None:
        self.process = process
        self.payload = payload

    @classmethod
    def start(cls, run: Run, scope: RouteScope, seconds: float) -> Elsewhere | None:
        """The child started from scratch on the group for `seconds`; None if it cannot be."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        payload = (run.problem, scope.options, set(scope.held), time.time() + seconds)
        try:
            with tempfile.NamedTemporaryFile("wb", suffix=".pickle", delete=False) as handle:
                pickle.dump(payload, handle)
        except OSError:
            return None
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "matching.routing_search", handle.name],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        except OSError:
            os.unlink(handle.name)
            return None
        return cls(process, handle.name)

    def result(self, timeout: float) -> tuple[list[Placement], set[Route]]:
        """Each of the child's searches' routes and the pool they met; nothing if it failed
        or is late."""
        try:
            out, _ = self.process.communicate(timeout=timeout)
            if self.process.returncode != 0:
                return [], set()
            routed, pool = pickle.loads(out)
            return routed, pool
        except (subprocess.TimeoutExpired, pickle.UnpicklingError, EOFError, ValueError):
            return [], set()
        finally:
            self.close()

    def close(self) -> None:
        """Stop the child if it still runs and remove its problem file; safe to repeat."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
        if os.path.exists(self.payload):
            os.unlink(self.payload)


def _route_elsewhere(payload: str) -> None:
    """The child's side of `Elsewhere`: read the problem, route it (`CHILD_SEARCHES`), write
    each search's routes and the pool they met."""
    with open(payload, "rb") as handle:
        problem, options, held, until = pickle.load(handle)
    timeline, travel = Timeline.for_problem(problem), Travel(problem.travel)
    pool: set[Route] = set()
    routed: list[Placement] = []
    total = until - time.time()
    for k, (strategy, penalty_factor, share) in enumerate(CHILD_SEARCHES):
        last = k == len(CHILD_SEARCHES) - 1
        seconds = until - time.time() if last else share * total
        routed.append(
            library_routes(
                problem,
                timeline,
                travel,
                options,
                seconds,
                penalty_factor=penalty_factor,
                pool=pool,
                held=held,
                first_solution=strategy,
            )
        )
    sys.stdout.buffer.write(pickle.dumps((routed, pool)))


def _settled_if_better(
    run: Run,
    sessions: Sequence[int],
    scope: RouteScope,
    routed: Mapping[int, tuple[int, int]],
    best: Mapping[int, tuple[int, int]],
) -> Placement:
    """The routed visits settled with the phone and video sessions, if better than `best`.

    A plan that moves or drops a held visit is not kept (`route_scope`).
    """
    if not routed:
        return dict(best)
    prepared = run.prepared
    # A moving group's places come where the routes start it (`RouteScope.moving`).
    held = {s_idx: routed.get(s_idx, at) for s_idx, at in scope.held.items()}
    placement, _ = settle(
        run.problem, prepared.timeline, prepared.travel, scope.options, routed, held
    )
    run.stats["routed"] += len(routed)
    if not scope.keeps(run, sessions, placement):
        run.stats["routes_not_keeping_held"] += 1
        return dict(best)
    if run.better(placement, best):
        run.stats["routing_improved"] += 1
        return placement
    return dict(best)


def route_with_library(
    run: Run,
    sessions: Sequence[int],
    scope: RouteScope,
    start: Mapping[int, tuple[int, int]],
    seconds: float,
    from_start: bool = False,
    penalty_factor: float = 0.1,
    pool: set[Route] | None = None,
    idle_as_span: bool = False,
) -> Placement:
    """The routing library's plan of the group; `start` if that is not better.

    Without `from_start` it searches from scratch, like the peer: started
    from a greedy plan, its local search stays in that plan's valley. The
    routes it meets go to `pool`, and `idle_as_span` is `library_routes`'.
    """
    prepared = run.prepared
    hint = start if from_start else None
    routed = library_routes(
        run.problem,
        prepared.timeline,
        prepared.travel,
        scope.options,
        seconds,
        hint=hint,
        penalty_factor=penalty_factor,
        pool=pool,
        idle_as_span=idle_as_span,
        held=scope.held.keys(),
    )
    return _settled_if_better(run, sessions, scope, routed, start)


def improve_routes(
    run: Run,
    sessions: Sequence[int],
    start: Mapping[int, tuple[int, int]],
    budget: float,
    threads: int | None = None,
) -> Placement:
    """The plan after `budget` seconds of route neighbourhoods from `start`, never worse."""
    deadline = time.monotonic() + budget
    search = _new_search(run, sessions, start)
    anchors = _Anchors(run)
    threads = threads or max(1, min(run.workers, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        loops = [
            pool.submit(
                _route_loop, run, search, anchors, random.Random(len(sessions) + k), deadline
            )
            for k in range(threads)
        ]
        for loop in loops:
            loop.result()
    return dict(search.placement)


class _Anchors:
    """Where a provider's day happens: its onsite places, else home; drives between days."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.lock = threading.Lock()

    def places(self, search: _Search, p_idx: int, day: int) -> list[Location]:
        problem = self.run.problem
        found = [
            location
            for s in search.booked.get((p_idx, day), ())
            if (location := problem.sessions[s].location) is not None
            and problem.sessions[s].is_onsite
        ]
        return found or [problem.providers[p_idx].home]

    def distance(self, search: _Search, a: tuple[int, int], b: tuple[int, int]) -> int:
        """The shortest drive between a place of one day and a place of the other."""
        minutes = self.run.prepared.travel.minutes
        return min(minutes(x, y) for x in self.places(search, *a) for y in self.places(search, *b))


def _route_loop(
    run: Run, search: _Search, anchors: _Anchors, rng: random.Random, deadline: float
) -> None:
    while time.monotonic() < deadline - 0.05:
        with search.lock:
            piece = _cut_route_piece(run, search, anchors, rng)
            if piece is not None:
                search.reserved_providers |= piece.providers
                search.reserved_sessions |= piece.sessions
        if piece is None:
            time.sleep(0.005)
            continue
        after = _solve_piece(run, piece, deadline, SECONDS_PER_DAY * len(piece.providers))
        with search.lock:
            improved = (
                after is not None
                and run.better(after, piece.before)
                and _keeps_groups(search, piece, after)
            )
            if improved:
                assert after is not None
                for s_idx in piece.sessions:
                    search.place(s_idx, after.get(s_idx))
            search.reserved_providers -= piece.providers
            search.reserved_sessions -= piece.sessions
            run.stats["route_pieces"] += 1
            run.stats["route_pieces_improved"] += int(improved)


def _cut_route_piece(
    run: Run, search: _Search, anchors: _Anchors, rng: random.Random
) -> _Piece | None:
    """One, two or three provider-days near each other, and unstaffed work they could take."""
    days = [
        key
        for key, held in search.booked.items()
        if held and key[0] not in search.reserved_providers
    ]
    waiting_days = [d for d, group in search.waiting.items() if group - search.reserved_sessions]
    if not days and not waiting_days:
        return None
    if days:
        seed = rng.choice(days)
    else:
        day = rng.choice(waiting_days)
        s_idx = rng.choice(sorted(search.waiting[day] - search.reserved_sessions))
        free = [p for p in search.providers_on[(s_idx, day)] if p not in search.reserved_providers]
        if not free:
            return None
        seed = (rng.choice(free), day)
    day = seed[1]
    size = rng.choices(PIECE_DAYS, weights=PIECE_WEIGHTS)[0]
    chosen = [seed]
    others = [
        (p, day)
        for p in _providers_of_day(search, day)
        if p != seed[0] and p not in search.reserved_providers
    ]
    if size > 1 and others:
        scored = sorted(others, key=lambda key: anchors.distance(search, seed, key))
        near = scored[: max(3, size * 2)]
        rng.shuffle(near)
        chosen.extend(near[: size - 1])
    providers = {p for p, _ in chosen}
    free_sessions: set[int] = set()
    for p_idx in providers:
        free_sessions |= search.booked.get((p_idx, day), set())
    extra = [
        s
        for s in search.waiting.get(day, ())
        if s not in search.reserved_sessions
        and any(p in providers for p in search.providers_on[(s, day)])
    ]
    extra.sort(key=lambda s: (-run.problem.sessions[s].priority, rng.random()))
    free_sessions.update(extra[:EXTRA_SESSIONS])
    if not free_sessions:
        return None
    # A group's places move together, and a ladder changes step as a whole.
    siblings = _with_group_places(search, free_sessions, providers, day)
    return piece_of_day(run, search, providers, free_sessions, day, siblings)


def _providers_of_day(search: _Search, day: int) -> list[int]:
    """Providers who hold work that day or may take some of its unstaffed sessions."""
    found: dict[int, None] = {}
    for (p_idx, d), held in search.booked.items():
        if d == day and held:
            found[p_idx] = None
    for s_idx in search.waiting.get(day, ()):
        for p_idx in search.providers_on[(s_idx, day)]:
            found[p_idx] = None
    return list(found)


if __name__ == "__main__":
    _route_elsewhere(sys.argv[1])
