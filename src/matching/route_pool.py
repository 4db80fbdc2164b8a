"""Dense days: the best combination of the routes the searches met (docs/problem.md, "Dense days").

A routing search passes through hundreds of plans on its way, and a day's
route that came with one plan may fit beside another plan's routes better
than the ones it came with. So the searches pool the routes of every plan
they report (one provider-day, its onsite sessions in order, each with its
start range), and at the end CP-SAT picks at most one route per
provider-day and each session at most once: the most priority points
first, the fewest travel-plus-idle minutes second (a set-partitioning
model over the pool). Two searches on two trajectories give the
combination more to choose from than either plan alone; the plan's own
routes are in the pool and in the hint, so the combination is never worse
on the routes' own terms, and `Run.better` still judges the settled plan.

Phone and video sessions have no place and no route: the caller settles
them afterwards, as after the routing library.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise

from ortools.sat.python import cp_model

from matching.eligibility import Option
from matching.problem import Problem
from matching.routes import Visit, idle_minutes, route_minutes
from matching.timeline import Timeline
from matching.travel import Travel

Stop = tuple[int, int, int]
"""One onsite session of a route and its start range: (session, first start, last start)."""
Route = tuple[tuple[int, int], tuple[Stop, ...]]
"""A provider-day, (provider, day), and its stops in the order driven."""
Placement = dict[int, tuple[int, int]]

MEDIUM_WEIGHT = 100_000
"""A priority point in the combination's objective: above any day's travel and waiting."""


def timed(
    problem: Problem, travel: Travel, provider: int, stops: Sequence[Stop]
) -> tuple[list[int], int] | None:
    """The starts that wait least on this route in this order, and its cost; None if it cannot run.

    The earliest starts from the first range's opening give the earliest
    end; walking back from there, each start as late as its range and the
    next start allow gives the shortest span for that end, and no later end
    has a shorter one (the latest first start grows at most as fast as the
    end). The cost is the route's drives, plus its waiting when the
    provider's idle time counts.
    """
    if not stops:
        return None
    sessions = [problem.sessions[s] for s, _, _ in stops]
    places = [session.location for session in sessions]
    if any(place is None for place in places):
        return None
    durations = [session.duration_minutes for session in sessions]
    legs = [travel.minutes(a, b) for a, b in pairwise(places)]  # type: ignore[arg-type]
    earliest: list[int] = []
    for i, (_s, lo, hi) in enumerate(stops):
        start = lo if i == 0 else max(lo, earliest[-1] + durations[i - 1] + legs[i - 1])
        if start > hi:
            return None
        earliest.append(start)
    starts = list(earliest)
    for i in range(len(stops) - 2, -1, -1):
        starts[i] = min(stops[i][2], starts[i + 1] - durations[i] - legs[i])
    person = problem.providers[provider]
    visits = [
        Visit(start, start + duration, place, "")
        for start, duration, place in zip(starts, durations, places, strict=True)
    ]
    drives = route_minutes(travel, person.home, visits)
    if sum(durations) + drives > person.max_minutes_per_day:
        return None
    waiting = idle_minutes(travel, person.home, visits) if person.counts_idle else 0
    return starts, drives + waiting


def routes_of(
    problem: Problem,
    timeline: Timeline,
    options: Mapping[int, Sequence[Option]],
    placement: Mapping[int, tuple[int, int]],
) -> set[Route]:
    """A placement's onsite routes, each start with the range it lies in (for the pool and hint)."""
    days: dict[tuple[int, int], list[tuple[int, Stop]]] = defaultdict(list)
    for s_idx, (p_idx, start) in placement.items():
        session = problem.sessions[s_idx]
        if not session.is_onsite or session.location is None:
            continue
        day = timeline.day(start)
        window = next(
            (
                (r.lo, r.hi)
                for option in options.get(s_idx, ())
                if option.provider == p_idx
                for r in option.ranges
                if r.day == day and r.lo <= start <= r.hi
            ),
            (start, start),
        )
        days[(p_idx, day)].append((start, (s_idx, *window)))
    return {(key, tuple(stop for _, stop in sorted(stops))) for key, stops in days.items()}


def best_combination(
    problem: Problem,
    travel: Travel,
    pool: Iterable[Route],
    hint: Iterable[Route],
    seconds: float,
    workers: int,
) -> Placement:
    """The pool's best set of routes as session -> (provider, start); {} if none could be timed.

    At most one route per provider-day, each session in at most one route;
    the hint's routes are candidates too, and start as chosen.
    """
    hinted = set(hint)
    columns: list[tuple[tuple[int, int], tuple[Stop, ...], list[int], int]] = []
    for key, stops in set(pool) | hinted:
        found = timed(problem, travel, key[0], stops)
        if found is not None:
            columns.append((key, stops, *found))
    if not columns:
        return {}
    model = cp_model.CpModel()
    chosen = [model.new_bool_var(f"r{i}") for i in range(len(columns))]
    by_day: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    by_session: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    gains: list[int] = []
    for literal, (key, stops, _starts, cost) in zip(chosen, columns, strict=True):
        by_day[key].append(literal)
        for s_idx, _, _ in stops:
            by_session[s_idx].append(literal)
        priority = sum(problem.sessions[s].priority for s, _, _ in stops)
        gains.append(MEDIUM_WEIGHT * priority - cost)
        model.add_hint(literal, (key, stops) in hinted)
    for group in (*by_day.values(), *by_session.values()):
        if len(group) > 1:
            model.add_at_most_one(group)
    model.maximize(cp_model.LinearExpr.weighted_sum(chosen, gains))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.1, seconds)
    solver.parameters.num_workers = max(1, workers)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {}
    placement: Placement = {}
    for literal, (key, stops, starts, _cost) in zip(chosen, columns, strict=True):
        if solver.boolean_value(literal):
            for (s_idx, _, _), start in zip(stops, starts, strict=True):
                placement[s_idx] = (key[0], start)
    return placement
