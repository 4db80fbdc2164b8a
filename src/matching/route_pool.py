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

Phone and video sessions have no place and no route, but a salaried
provider who waits between two places may hold a call meanwhile: the
combination may place each call in one such wait of a route it takes
(worth the waiting it saves, within the day's minutes of rule 10). The
caller settles the other calls afterwards, as after the routing library.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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
    calls: Mapping[int, Sequence[Option]] | None = None,
) -> Placement:
    """The pool's best set of routes as session -> (provider, start); {} if none could be timed.

    At most one route per provider-day, each session in at most one route;
    the hint's routes are candidates too, and start as chosen. `calls` are
    the phone and video sessions to hold while a salaried provider waits
    between two places (`calls_in_waits`): each is worth its minutes of
    waiting saved, and comes back placed with the routes; the others are
    left to settle.
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
    held: list[tuple[cp_model.IntVar, Call]] = []
    for literal, (key, stops, starts, _cost) in zip(chosen, columns, strict=True):
        in_route: list[tuple[cp_model.IntVar, int]] = []
        by_wait: dict[int, list[cp_model.IntVar]] = defaultdict(list)
        for call in calls_in_waits(problem, travel, key, stops, starts, calls or {}):
            y = model.new_bool_var("")
            model.add_implication(y, literal)
            held.append((y, call))
            by_session[call.session].append(y)
            by_wait[call.wait].append(y)
            in_route.append((y, problem.sessions[call.session].duration_minutes))
        for group in by_wait.values():
            model.add_at_most_one(group)
        if in_route:
            limit = problem.providers[key[0]].max_minutes_per_day
            room = limit - _work(problem, travel, key[0], stops)
            model.add(sum(minutes * y for y, minutes in in_route) <= room)
    for group in (*by_day.values(), *by_session.values()):
        if len(group) > 1:
            model.add_at_most_one(group)
    saved = [problem.sessions[call.session].duration_minutes for _, call in held]
    model.maximize(
        cp_model.LinearExpr.weighted_sum(chosen, gains)
        + cp_model.LinearExpr.weighted_sum([y for y, _ in held], saved)
    )
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
    for y, call in held:
        if solver.boolean_value(y):
            placement[call.session] = (call.provider, call.start)
    return placement


@dataclass(frozen=True, slots=True)
class Call:
    """A phone or video session held in one wait of a route: after stop `wait`, at `start`."""

    session: int
    provider: int
    wait: int
    start: int


def calls_in_waits(
    problem: Problem,
    travel: Travel,
    key: tuple[int, int],
    stops: Sequence[Stop],
    starts: Sequence[int],
    calls: Mapping[int, Sequence[Option]],
) -> list[Call]:
    """The calls that fit whole in a salaried route's waits, one per call and wait that fits.

    Between two places the provider drives and waits; a call held at the
    first place before the drive, or at the next after it, fills that
    waiting, and only a salaried provider's waiting costs anything.
    """
    provider, day = key
    if not calls or not problem.providers[provider].counts_idle:
        return []
    sessions = [problem.sessions[s] for s, _, _ in stops]
    found: list[Call] = []
    for i in range(len(stops) - 1):
        end = starts[i] + sessions[i].duration_minutes
        leg = travel.minutes(sessions[i].location, sessions[i + 1].location)  # type: ignore[arg-type]
        after = starts[i + 1]
        if after - end - leg <= 0:
            continue
        for s_idx, options in calls.items():
            minutes = problem.sessions[s_idx].duration_minutes
            ranges = [
                r for o in options if o.provider == provider for r in o.ranges if r.day == day
            ]
            for r in ranges:
                before_drive = max(r.lo, end)
                after_drive = max(r.lo, end + leg)
                if before_drive <= r.hi and before_drive + minutes <= after - leg:
                    found.append(Call(s_idx, provider, i, before_drive))
                    break
                if after_drive <= r.hi and after_drive + minutes <= after:
                    found.append(Call(s_idx, provider, i, after_drive))
                    break
    return found


def _work(problem: Problem, travel: Travel, provider: int, stops: Sequence[Stop]) -> int:
    """Rule 10's minutes of a route: its sessions, and its drives from home and back."""
    sessions = [problem.sessions[s] for s, _, _ in stops]
    home = problem.providers[provider].home
    places = [home, *(s.location for s in sessions if s.location is not None), home]
    drives = sum(travel.minutes(a, b) for a, b in pairwise(places))
    return drives + sum(session.duration_minutes for session in sessions)
