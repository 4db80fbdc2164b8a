"""Dense days: the best combination of the routes the searches met (docs/problem.md, "Dense days").

A routing search passes through hundreds of plans on its way, and a day's
route that came with one plan may fit beside another plan's routes better
than the ones it came with. So the searches pool the routes of every plan
they report (one provider-day, its onsite sessions in order, each with its
start range; a priced day may hold calls between its places too), and at
the end CP-SAT picks at most one route per provider-day and each session
at most once: the most priority points
first, the fewest travel-plus-idle minutes second (a set-partitioning
model over the pool). Two searches on two trajectories give the
combination more to choose from than either plan alone; the plan's own
routes are in the pool and in the hint, so the combination is never worse
on the routes' own terms, and `Run.better` still judges the settled plan.

Phone and video sessions have no place and no route, but they need room
in a day: the combination places each call beside a route it takes (in a
wait between two places, or before it leaves or after it is back) or on
a day without one, so a set of routes that leaves a call no room is
charged its priority; a salaried provider who waits between two places
may hold a call meanwhile, which saves that waiting. The caller settles
whatever is left, as after the routing library.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise, product

from ortools.sat.python import cp_model

from matching.eligibility import Option
from matching.phases import new_solver
from matching.problem import Problem, Session
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
    provider's idle time counts. Calls between two places (the pricing's,
    `route_pricing`) drive nothing and their minutes are work, not waiting;
    the drive between the places comes before or after any of them,
    wherever the route costs least.
    """
    if not stops:
        return None
    sessions = [problem.sessions[s] for s, _, _ in stops]
    if not (sessions[0].is_onsite and sessions[-1].is_onsite):
        return None
    if any(session.is_onsite and session.location is None for session in sessions):
        return None
    best: tuple[list[int], int] | None = None
    for legs in _leg_choices(travel, sessions):
        found = _timed_with(problem, travel, provider, stops, sessions, legs)
        if found is not None and (best is None or found[1] < best[1]):
            best = found
    return best


def _leg_choices(travel: Travel, sessions: Sequence[Session]) -> Iterator[list[int]]:
    """Each way to place the drives: the minutes between consecutive stops.

    Between two places with calls between them, the drive may come after
    any number of those calls; without calls there is one way.
    """
    places = [k for k, session in enumerate(sessions) if session.is_onsite]
    spans = []
    for a, b in pairwise(places):
        leg = travel.minutes(sessions[a].location, sessions[b].location)  # type: ignore[arg-type]
        spans.append([(a + p, leg) for p in range(b - a)])  # the drive after stop a + p
    for chosen in product(*spans):
        legs = [0] * (len(sessions) - 1)
        for k, leg in chosen:
            legs[k] = leg
        yield legs


def _timed_with(
    problem: Problem,
    travel: Travel,
    provider: int,
    stops: Sequence[Stop],
    sessions: Sequence[Session],
    legs: Sequence[int],
) -> tuple[list[int], int] | None:
    """`timed` with the drives between consecutive stops given."""
    durations = [session.duration_minutes for session in sessions]
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
        Visit(start, start + duration, session.location if session.is_onsite else None, "")
        for start, duration, session in zip(starts, durations, sessions, strict=True)
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
    held_calls: Mapping[int, tuple[int, int]] | None = None,
    required: Collection[int] = (),
    together: Sequence[Sequence[int]] = (),
) -> Placement:
    """The pool's best set of routes as session -> (provider, start); {} if none could be timed.

    At most one route per provider-day, each session in at most one route;
    the hint's routes are candidates too, and start as chosen. A route that
    holds calls between its places (`route_pricing`) is taken whole, its
    calls at the starts `timed` gives them, and only if they are among
    `calls`. `calls` are
    the phone and video sessions (`_add_calls`): the combination leaves
    each room on some day, and may hold it in a salaried provider's wait;
    those held in a wait come back placed, the others are left to settle.
    `held_calls` (call -> provider, start) are the hint's calls, hinted
    beside the hint's routes. Every `required` session (a held visit,
    `route_scope`) is in the combination; {} if no set of routes has them all.
    The sessions of each of `together` (a group's places) start together.
    """
    hinted = set(hint)
    calls = calls or {}
    columns: list[tuple[tuple[int, int], tuple[Stop, ...], list[int], int]] = []
    for key, stops in set(pool) | hinted:
        if any(not problem.sessions[s].is_onsite and s not in calls for s, _, _ in stops):
            continue  # a priced day holding a call not asked for
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
    held, beside, worth = _add_calls(model, problem, travel, chosen, columns, by_session, calls)
    _hint_calls(model, held, beside, held_calls or {})
    if any(s_idx not in by_session for s_idx in required):
        return {}
    _start_together(model, chosen, columns, together)
    for group in by_day.values():
        if len(group) > 1:
            model.add_at_most_one(group)
    for s_idx, group in by_session.items():
        if s_idx in required:
            model.add_exactly_one(group)
        elif len(group) > 1:
            model.add_at_most_one(group)
    model.maximize(
        cp_model.LinearExpr.weighted_sum(chosen, gains)
        + cp_model.LinearExpr.weighted_sum([y for y, _ in worth], [w for _, w in worth])
    )
    # Choosing routes is set partitioning, whose linear relaxation is tight: with it at every
    # node (`new_solver`'s `max_lp`) CP-SAT proves a dense day's combination of 1,500-1,800
    # routes in 0.4 to 3 seconds, where its default workers left 150-240 minutes unproven
    # after five (benchmarks/README.md).
    solver = new_solver(max(0.1, seconds), max(1, workers))
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
    for y, (s_idx, p_idx, _, free_start), starts_by_route in beside:
        if solver.boolean_value(y):
            start = next(
                (at for literal, at in starts_by_route if solver.boolean_value(literal)),
                free_start,
            )
            placement[s_idx] = (p_idx, start)
    return placement


def _start_together(
    model: cp_model.CpModel,
    chosen: Sequence[cp_model.IntVar],
    columns: Sequence[tuple[tuple[int, int], tuple[Stop, ...], list[int], int]],
    together: Sequence[Sequence[int]],
) -> None:
    """Each group's places start together: at each start, as many of one as of another.

    A moving group's places are stops of a single start each, so the start a
    route gives one place is the start of its stop.
    """
    for places in together:
        at: dict[int, dict[int, list[cp_model.IntVar]]] = defaultdict(lambda: defaultdict(list))
        for literal, (_key, stops, starts, _cost) in zip(chosen, columns, strict=True):
            for (s_idx, _, _), start in zip(stops, starts, strict=True):
                if s_idx in places:
                    at[start][s_idx].append(literal)
        for by_place in at.values():
            counts = [cp_model.LinearExpr.sum(by_place.get(s_idx, [])) for s_idx in places]
            for first, second in pairwise(counts):
                model.add(first == second)


def _hint_calls(
    model: cp_model.CpModel,
    held: Sequence[tuple[cp_model.IntVar, Call]],
    beside: Sequence[tuple[cp_model.IntVar, tuple[int, int, int, int], object]],
    where: Mapping[int, tuple[int, int]],
) -> None:
    """Each of the hint's calls (call -> provider, start) where the hint has it.

    In the wait it fills when that wait's call starts there too, else on
    its provider's day (the day whose first start is the latest at or
    before it); every other place of the call is hinted off.
    """
    in_wait: set[int] = set()
    for y, call in held:
        hit = where.get(call.session) == (call.provider, call.start) and call.session not in in_wait
        if hit:
            in_wait.add(call.session)
        model.add_hint(y, hit)
    days: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    for y, (s_idx, p_idx, _day, first), _ in beside:
        days[(s_idx, p_idx)].append((first, y))
    for (s_idx, p_idx), entries in days.items():
        at = where.get(s_idx)
        on: cp_model.IntVar | None = None
        if at is not None and at[0] == p_idx and s_idx not in in_wait:
            earlier = [(first, y) for first, y in entries if first <= at[1]]
            on = max(earlier, key=lambda entry: entry[0])[1] if earlier else None
        for _, y in entries:
            model.add_hint(y, y is on)


def _add_calls(
    model: cp_model.CpModel,
    problem: Problem,
    travel: Travel,
    chosen: Sequence[cp_model.IntVar],
    columns: Sequence[tuple[tuple[int, int], tuple[Stop, ...], list[int], int]],
    by_session: dict[int, list[cp_model.IntVar]],
    calls: Mapping[int, Sequence[Option]],
) -> tuple[
    list[tuple[cp_model.IntVar, Call]],
    list[tuple[cp_model.IntVar, tuple[int, int, int, int], list[tuple[cp_model.IntVar, int]]]],
    list[tuple[cp_model.IntVar, int]],
]:
    """Calls in the combination: the ones held in waits, and every call term's worth.

    A call is staffed (worth its priority) on a provider-day that takes no
    route or one it fits beside whole (`calls_beside`), so a route that
    leaves it no room on that day rules that day out for it; without this
    the combination would pick routes that leave a call nowhere, and lose
    its priority when the plan is settled. Held in a salaried provider's
    wait between two places, a call is worth the minutes it saves too (one
    call per wait, within rule 10's minutes). Returns the calls held in
    waits, the calls held beside, each with (call, provider, day, start on a
    free day) and its start beside each route it fits, and every term's
    worth.
    """
    held: list[tuple[cp_model.IntVar, Call]] = []
    worth: list[tuple[cp_model.IntVar, int]] = []
    if not calls:
        return held, [], worth
    beside: dict[tuple[int, int, int], cp_model.IntVar] = {}
    free_start: dict[tuple[int, int, int], int] = {}
    starts_beside: dict[tuple[int, int, int], list[tuple[cp_model.IntVar, int]]] = defaultdict(list)
    spans: dict[tuple[int, int], list[tuple[int, int, int, cp_model.IntVar]]] = defaultdict(list)
    for s_idx, options in calls.items():
        minutes = problem.sessions[s_idx].duration_minutes
        for option in options:
            for day in {r.day for r in option.ranges}:
                y = model.new_bool_var("")
                beside[(s_idx, option.provider, day)] = y
                by_session[s_idx].append(y)
                worth.append((y, MEDIUM_WEIGHT * problem.sessions[s_idx].priority))
                lo = min(r.lo for r in option.ranges if r.day == day)
                hi = max(r.hi for r in option.ranges if r.day == day)
                free_start[(s_idx, option.provider, day)] = lo
                spans[(option.provider, day)].append((lo, hi + minutes, minutes, y))
    # Two calls that overlap wherever they start cannot both be held on one day, and a day's
    # calls keep rule 10's minutes (with a route, below).
    for (p_idx, _), held_that_day in spans.items():
        limit = problem.providers[p_idx].max_minutes_per_day
        model.add(sum(minutes * y for _, _, minutes, y in held_that_day) <= limit)
        for i, (lo_a, end_a, minutes_a, a) in enumerate(held_that_day):
            for lo_b, end_b, minutes_b, b in held_that_day[i + 1 :]:
                if lo_a + minutes_a > end_b - minutes_b and lo_b + minutes_b > end_a - minutes_a:
                    model.add_at_most_one([a, b])
    blocked: dict[tuple[int, int, int], list[cp_model.IntVar]] = defaultdict(list)
    for literal, (key, stops, starts, _cost) in zip(chosen, columns, strict=True):
        waits, room, clashes = calls_beside(problem, travel, key, stops, starts, calls)
        for s_idx in calls:
            if (s_idx, *key) not in beside:
                continue
            if s_idx in room:
                starts_beside[(s_idx, *key)].append((literal, room[s_idx]))
            else:
                blocked[(s_idx, *key)].append(literal)
        for first, second in clashes:
            model.add_bool_or([~beside[(first, *key)], ~beside[(second, *key)], ~literal])
        in_route: list[tuple[cp_model.IntVar, int]] = []
        by_wait: dict[int, list[cp_model.IntVar]] = defaultdict(list)
        for call in waits:
            y = model.new_bool_var("")
            model.add_implication(y, literal)
            held.append((y, call))
            by_session[call.session].append(y)
            by_wait[call.slot].append(y)
            minutes = problem.sessions[call.session].duration_minutes
            in_route.append((y, minutes))
            worth.append((y, MEDIUM_WEIGHT * problem.sessions[call.session].priority + minutes))
        for group in by_wait.values():
            model.add_at_most_one(group)
        # Rule 10: the calls held that day, in its waits or beside, within the minutes left.
        in_route += [
            (beside[(s_idx, *key)], problem.sessions[s_idx].duration_minutes)
            for s_idx in room
            if (s_idx, *key) in beside
        ]
        if in_route:
            limit = problem.providers[key[0]].max_minutes_per_day
            left = limit - _work(problem, travel, key[0], stops)
            model.add(sum(minutes * y for y, minutes in in_route) <= left).only_enforce_if(literal)
    for where, y in beside.items():
        model.add_at_most_one([y, *blocked[where]])
    placed_beside = [
        (y, (*where, free_start[where]), starts_beside[where]) for where, y in beside.items()
    ]
    return held, placed_beside, worth


@dataclass(frozen=True, slots=True)
class Call:
    """A phone or video session held in a route's wait after its stop `slot`, at `start`."""

    session: int
    provider: int
    slot: int
    start: int


def calls_beside(
    problem: Problem,
    travel: Travel,
    key: tuple[int, int],
    stops: Sequence[Stop],
    starts: Sequence[int],
    calls: Mapping[int, Sequence[Option]],
) -> tuple[list[Call], dict[int, int], list[tuple[int, int]]]:
    """The calls a salaried route's waits may hold, and the calls that fit whole beside it.

    Between two places the provider drives and waits; a call held at the
    first place before the drive, or at the next after it, fills that
    waiting, which saves its minutes when the provider is salaried. Before
    the route leaves home or after it is back, a call saves nothing but is
    staffed. The second value is the calls that fit whole beside the route,
    each with the first start that does, the third the pairs of them that
    do not fit there together. A route that holds calls between its places
    already (`route_pricing`) has no wait to spare: others fit only before
    it leaves or after it is back.
    """
    provider, day = key
    if not calls:
        return [], {}, []
    person = problem.providers[provider]
    # A priced day may hold calls between its places already (`route_pricing`): its waits
    # are theirs, and other calls fit only before it leaves or after it is back.
    left = person.max_minutes_per_day - _work(problem, travel, provider, stops)
    at_places = [k for k, (s, _, _) in enumerate(stops) if problem.sessions[s].is_onsite]
    between = len(at_places) < len(stops)
    stops = [stops[k] for k in at_places]
    starts = [starts[k] for k in at_places]
    sessions = [problem.sessions[s] for s, _, _ in stops]
    places = [session.location for session in sessions]
    out = travel.minutes(person.home, places[0])  # type: ignore[arg-type]
    back = travel.minutes(places[-1], person.home)  # type: ignore[arg-type]
    ends = [t + session.duration_minutes for t, session in zip(starts, sessions, strict=True)]
    # (the stop it follows, or -1, earliest start, latest end): a wait twice, drive last or first.
    # Held at the first place after an earlier drive, or at the last before the drive home,
    # a call waits no more on a freelance day, and on a salaried one stretches the day (its
    # idle is not counted here, the settled plan's score sees it): medium comes first.
    gaps: list[tuple[int, float, float]] = [
        (-1, -math.inf, starts[0] - out),
        (-1, -math.inf, starts[0]),
    ]
    for i in range(0 if between else len(stops) - 1):
        leg = travel.minutes(places[i], places[i + 1])  # type: ignore[arg-type]
        gaps.append((i, ends[i], starts[i + 1] - leg))
        gaps.append((i, ends[i] + leg, starts[i + 1]))
    gaps.append((len(stops), ends[-1] + back, math.inf))
    gaps.append((len(stops), ends[-1], math.inf))
    wanted: dict[int, _Wanted] = {}
    for s_idx, options in calls.items():
        minutes = problem.sessions[s_idx].duration_minutes
        ranges = sorted(
            (r.lo, r.hi)
            for o in options
            if o.provider == provider
            for r in o.ranges
            if r.day == day
        )
        if minutes <= left and ranges:
            wanted[s_idx] = (minutes, ranges)
    fits: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    first: dict[int, int] = {}
    waits: dict[int, Call] = {}
    for s_idx, call in wanted.items():
        for slot, earliest, latest in gaps:
            at = _first_start(call, earliest, latest)
            if at is None:
                continue
            first.setdefault(s_idx, at)
            if person.counts_idle and 0 <= slot < len(stops):
                waits.setdefault(s_idx, Call(s_idx, provider, slot, at))
            fits[s_idx].append((slot, earliest, latest))
    held = list(fits)
    clashes = [
        (a, b)
        for i, a in enumerate(held)
        for b in held[i + 1 :]
        if not _both_fit(wanted[a], wanted[b], fits[a], fits[b])
    ]
    return list(waits.values()), first, clashes


_Wanted = tuple[int, list[tuple[int, int]]]
"""A call's minutes and its start ranges on a provider-day."""


def _first_start(call: _Wanted, earliest: float, latest: float) -> int | None:
    """The earliest start of a call inside [earliest, latest], whole; None if it does not fit."""
    minutes, ranges = call
    for lo, hi in ranges:
        at = max(lo, earliest)
        if at <= hi and at + minutes <= latest:
            return int(at)
    return None


def _both_fit(
    a: _Wanted,
    b: _Wanted,
    a_fits: Sequence[tuple[int, float, float]],
    b_fits: Sequence[tuple[int, float, float]],
) -> bool:
    """Whether two calls fit beside one route together: in two gaps, or one after the other."""
    for slot_a, earliest, latest in a_fits:
        for slot_b, earliest_b, latest_b in b_fits:
            if slot_a != slot_b:
                return True
            if (earliest, latest) == (earliest_b, latest_b):
                for first, second in ((a, b), (b, a)):
                    at = _first_start(first, earliest, latest)
                    if at is not None and _first_start(second, at + first[0], latest) is not None:
                        return True
    return False


def _work(problem: Problem, travel: Travel, provider: int, stops: Sequence[Stop]) -> int:
    """Rule 10's minutes of a route: its sessions, and its drives from home and back."""
    sessions = [problem.sessions[s] for s, _, _ in stops]
    home = problem.providers[provider].home
    places = [home, *(s.location for s in sessions if s.location is not None), home]
    drives = sum(travel.minutes(a, b) for a, b in pairwise(places))
    return drives + sum(session.duration_minutes for session in sessions)
