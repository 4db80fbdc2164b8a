"""Dense days: routes priced against the combination's duals (docs/problem.md, "Dense days").

The pool holds the routes the searches met, and the combination picks
the best set of them; but the best plan may need a day no search
drove. Column generation looks for those days: the linear relaxation of
the combination (GLOP) prices each session (its dual: what the pooled
routes make of it), and a labelling search over each provider-day's
eligible sessions looks for routes whose priority and minutes beat those
prices. The routes it finds join the pool and the relaxation is solved
again, until no day prices in or the time is up; a last round then adds
every day that comes within `NEAR` minutes of pricing in, so the integer
combination (`route_pool.best_combination`) has routes to choose from
around the relaxation's optimum, not only at it.

A label is a partial route from home: its last session, the sessions it
holds, its earliest start there, the minutes so far. A salaried day is
costed as its span less its sessions (drives and waiting), with a free
departure: the start at the last session is `max(A, d + B)` for a
departure `d` no later than `latest`, so a label carries `A`, `B` and
`latest`, and a day that ends there waits `max(0, A - latest - B)`. The
search keeps the labels no other label at the same session beats on every
count, at most `BEAM` of them per session (the best by reduced gain), so
it is a heuristic: it finds good days fast and proves no bound. Without
the beam it is exact, and slower (seconds to minutes a day): that is
`route_bound.relaxation_bound`, a lower bound for the benchmark, not for a solve.

A salaried day may also hold calls in its waits (`route_pool.calls_beside`),
so once the places have converged its labels may take calls between two
places, before or after the drive: a day that waits for a call may then
beat one that drives.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace

from ortools.linear_solver import pywraplp

from matching.eligibility import Option
from matching.problem import Problem
from matching.route_pool import MEDIUM_WEIGHT, Route, Stop, timed
from matching.travel import Travel

BEAM = 32
"""Labels kept per session of a provider-day: enough to find good days, few enough for Python."""
PER_DAY = 3
"""Routes a provider-day may add to the pool in one round of pricing."""
NEAR = 40.0
"""Minutes within which a day joins the pool in the last round, though it does not price in."""
NEAR_PER_DAY = 30
"""Routes a provider-day may add in that last round."""
EPSILON = 1e-6
EXACT = 1 << 30
"""A beam no day fills: the labelling keeps every label no other beats."""

# A label, as a tuple for speed: (earliest start A at the last session, minutes B from
# departure to it without waiting, latest departure, drives, work minutes (sessions and
# drives), gain (priced sessions less drives), session minutes, sessions held (bits),
# the path of node indexes, the last node).
_Label = tuple[int, int, int, int, int, float, int, int, tuple[int, ...], int]


class _Day:
    """One provider-day's sessions and the legs between them, kept across rounds."""

    def __init__(
        self,
        problem: Problem,
        travel: Travel,
        key: tuple[int, int],
        stops: Sequence[Stop],
        calls: Sequence[Stop] = (),
    ) -> None:
        person = problem.providers[key[0]]
        self.key = key
        self.salaried = person.counts_idle
        self.limit = person.max_minutes_per_day
        self.onsite = len(stops)
        sessions = [problem.sessions[s] for s, _, _ in stops]
        places = [session.location for session in sessions]
        self.sessions = [s for s, _, _ in stops]
        self.priority = [session.priority for session in sessions]
        self.duration = [session.duration_minutes for session in sessions]
        self.out = [travel.minutes(person.home, place) for place in places]  # type: ignore[arg-type]
        self.back = [travel.minutes(place, person.home) for place in places]  # type: ignore[arg-type]
        self.next: list[list[tuple[int, int]]] = []
        for i, (_, lo_i, _) in enumerate(stops):
            reachable = []
            for j, (_, _, hi_j) in enumerate(stops):
                if self.sessions[i] == self.sessions[j]:  # itself, or itself in another range
                    continue
                leg = travel.minutes(places[i], places[j])  # type: ignore[arg-type]
                if lo_i + self.duration[i] + leg <= hi_j:
                    reachable.append((j, leg))
            self.next.append(reachable)
        self.stops = list(stops)
        if self.salaried:
            self._add_calls(problem, calls)
        self.bit = [1 << s for s in self.sessions]

    def _add_calls(self, problem: Problem, calls: Sequence[Stop]) -> None:
        """Nodes for the calls a salaried day may hold between two places.

        A call held while a salaried provider waits between two places saves
        that waiting (`route_pool.calls_beside`), so a day that drives less
        and waits for a call can beat one that drives more; without calls in
        the labels the pricing never looks for such days. Between two places
        a provider may hold any number of calls, some at the place it leaves
        (before the drive) and some at the one it drives to (after it): a
        node for each call held after each place and one for each call held
        before each place. A call neither starts nor ends a day.
        """
        after: dict[int, list[int]] = defaultdict(list)  # place -> calls held after it
        before: dict[int, list[int]] = defaultdict(list)  # place -> calls held before it
        for i in range(self.onsite):
            end_i = self.stops[i][1] + self.duration[i]
            for call in calls:
                s_idx, lo, hi = call
                if max(lo, end_i) <= hi:
                    after[i].append(self._add_node(problem, call, self.back[i]))
                if lo + problem.sessions[s_idx].duration_minutes <= self.stops[i][2]:
                    before[i].append(self._add_node(problem, call, self.back[i]))
        places = self.next[: self.onsite]  # the legs between places, before any call's
        for i, nodes in after.items():
            onward = list(places[i])
            onward += [(node, leg) for j, leg in places[i] for node in before[j]]
            for node in nodes:
                self.next[node] = [(other, 0) for other in nodes if other != node] + onward
        for j, nodes in before.items():
            for node in nodes:
                self.next[node] = [(other, 0) for other in nodes if other != node] + [(j, 0)]
        for i, reachable in enumerate(places):
            self.next[i] = (
                reachable
                + [(node, 0) for node in after[i]]
                + [(node, leg) for j, leg in reachable for node in before[j]]
            )

    def _add_node(self, problem: Problem, call: Stop, back: int) -> int:
        """A call node that neither starts nor ends a day: its `next` is set by the caller."""
        s_idx = call[0]
        self.stops.append(call)
        self.sessions.append(s_idx)
        self.priority.append(problem.sessions[s_idx].priority)
        self.duration.append(problem.sessions[s_idx].duration_minutes)
        self.out.append(0)
        self.back.append(back)
        self.next.append([])
        return len(self.stops) - 1

    def best_routes(
        self,
        prices: Mapping[int, float],
        day_price: float,
        slack: float,
        most: int,
        weight: float = MEDIUM_WEIGHT,
        beam: int = BEAM,
    ) -> list[tuple[Route, int]]:
        """The day's best routes whose reduced gain is above `-slack`, at most `most` of them,
        each with its minutes (drives, and waiting on a salaried day) at its best timing.

        `weight` is what a priority point is worth. With a `beam` no day
        fills, only labels another beats are dropped: the search is exact
        (`route_bound.relaxation_bound`), and slower.
        """
        stops, duration, bit, back = self.stops, self.duration, self.bit, self.back
        salaried, limit = self.salaried, self.limit
        profit = [
            weight * priority - prices.get(s, 0.0)
            for s, priority in zip(self.sessions, self.priority, strict=True)
        ]
        # A session priced at or above what it brings (less its minutes, on a salaried day,
        # whose waiting it may fill) never makes a day better: without it the others keep
        # their starts and drive no more (the drives keep the triangle inequality).
        useful = [
            gain > (-minutes if salaried else 0)
            for gain, minutes in zip(profit, duration, strict=True)
        ]
        kept: list[list[_Label]] = [[] for _ in stops]
        gains: list[list[float]] = [[] for _ in stops]  # each kept label's gain, for the beam
        # The least gain a full beam keeps: a label below it at that session is dropped unseen.
        floors = [-math.inf] * len(stops)
        heap: list[_Label] = []
        for j, (_, lo, hi) in enumerate(stops[: self.onsite]):  # a call never starts a day
            out = self.out[j]
            work = duration[j] + out
            if useful[j] and work + back[j] <= limit:
                heap.append(
                    (lo, out, hi - out, out, work, profit[j] - out, duration[j], bit[j], (j,), j)
                )
        heapq.heapify(heap)
        finished: list[tuple[float, tuple[int, ...], int]] = []
        floor = EPSILON - slack
        while heap:
            label = heapq.heappop(heap)
            earliest, before, latest, drives, work, gain, service, held, path, i = label
            if gain <= floors[i] or not _keep(kept[i], gains[i], label, salaried, beam):
                continue
            if len(kept[i]) == beam:
                floors[i] = min(gains[i])
            idle = max(0, earliest - latest - before) if salaried else 0
            reduced = gain - back[i] - idle - day_price
            if reduced > floor and i < self.onsite:  # nor ends one
                finished.append((reduced, path, drives + back[i] + idle))
            step_base = earliest + duration[i]
            for j, leg in self.next[i]:
                if held & bit[j] or not useful[j]:
                    continue
                _, lo, hi = stops[j]
                arrive = step_base + leg
                if arrive > hi:
                    continue
                more = work + duration[j] + leg
                if more + back[j] > limit or gain + profit[j] - leg <= floors[j]:
                    continue
                b = before + duration[i] + leg
                heapq.heappush(
                    heap,
                    (
                        lo if lo > arrive else arrive,
                        b,
                        min(latest, hi - b),
                        drives + leg,
                        more,
                        gain + profit[j] - leg,
                        service + duration[j],
                        held | bit[j],
                        (*path, j),
                        j,
                    ),
                )
        finished.sort(reverse=True)
        return [
            ((self.key, tuple(stops[j] for j in path)), minutes)
            for _, path, minutes in finished[:most]
        ]


def priced_routes(
    problem: Problem,
    travel: Travel,
    options: Mapping[int, Sequence[Option]],
    pool: Iterable[Route],
    seconds: float,
    with_calls: bool = True,
) -> set[Route]:
    """Routes column generation adds to `pool` within `seconds` (none if nothing prices in).

    The places first, then the last round near pricing in; then, `with_calls`,
    the salaried days priced again with the calls they may hold in their
    waits, until nothing prices in or the time is up. Calls in the labels
    make a salaried day's labelling about four times slower, so they come
    last, when the onsite pool is whole.
    """
    deadline = time.monotonic() + seconds
    columns: dict[Route, tuple[int, int]] = {}
    for route in pool:
        _add(problem, travel, columns, route)
    provider_days = _provider_days(problem, options)
    days = [_Day(problem, travel, key, stops) for key, stops in provider_days.items()]
    elsewhere = {
        s_idx: problem.sessions[s_idx].priority
        for s_idx in options
        if not problem.sessions[s_idx].is_onsite
    }
    found, duals = _converged(problem, travel, days, columns, elsewhere, deadline)
    if duals is None or time.monotonic() >= deadline:
        return found
    # Converged (the duals stand): one last round for the routes near pricing in.
    found |= _price_round(problem, travel, days, columns, *duals, deadline, NEAR, NEAR_PER_DAY)
    calls = _provider_days(problem, options, calls=True) if with_calls else {}
    if calls:
        days = [
            _Day(problem, travel, key, stops, calls[key])
            for key, stops in provider_days.items()
            if key in calls
        ]
        found |= _converged(problem, travel, days, columns, elsewhere, deadline)[0]
    return found


def residual(
    options: Mapping[int, Sequence[Option]],
    pool: Iterable[Route],
    sessions: Collection[int],
    days: Collection[tuple[int, int]],
) -> tuple[dict[int, tuple[Option, ...]], set[Route]]:
    """The options and routes left when `sessions` and provider-`days` are taken (fixed).

    Priced on what is left, with the rest of a plan fixed, column generation
    finds the routes that complete that plan; priced on the whole, it finds
    those of the relaxation's fractional optimum, which an integer
    combination may not be able to put together.
    """
    left: dict[int, tuple[Option, ...]] = {}
    for s_idx, ways in options.items():
        if s_idx in sessions:
            continue
        kept = []
        for option in ways:
            ranges = tuple(r for r in option.ranges if (option.provider, r.day) not in days)
            if ranges:
                kept.append(replace(option, ranges=ranges))
        if kept:
            left[s_idx] = tuple(kept)
    routes = {
        (key, stops)
        for key, stops in pool
        if key not in days and not any(s_idx in sessions for s_idx, _, _ in stops)
    }
    return left, routes


def _converged(
    problem: Problem,
    travel: Travel,
    days: Sequence[_Day],
    columns: dict[Route, tuple[int, int]],
    elsewhere: Mapping[int, int],
    deadline: float,
) -> tuple[set[Route], tuple[dict[int, float], dict[tuple[int, int], float]] | None]:
    """Rounds of pricing over `days` until none prices in or `deadline`: the routes found,
    and the duals none priced in against (None if it did not get there)."""
    found: set[Route] = set()
    while time.monotonic() < deadline and columns:
        _, prices, day_prices, _ = _solved(columns, elsewhere)
        added = _price_round(problem, travel, days, columns, prices, day_prices, deadline)
        if not added:
            return found, (prices, day_prices)
        found |= added
    return found, None


def _price_round(
    problem: Problem,
    travel: Travel,
    days: Sequence[_Day],
    columns: dict[Route, tuple[int, int]],
    prices: Mapping[int, float],
    day_prices: Mapping[tuple[int, int], float],
    deadline: float,
    slack: float = 0.0,
    most: int = PER_DAY,
    weight: float = MEDIUM_WEIGHT,
    beam: int = BEAM,
) -> set[Route]:
    """One round of pricing over every day until `deadline`: the new routes, now columns."""
    added: set[Route] = set()
    for day in days:
        if time.monotonic() >= deadline:
            break
        price = day_prices.get(day.key, 0.0)
        for route, _ in day.best_routes(prices, price, slack, most, weight, beam):
            if route not in columns:
                onsite = _add(problem, travel, columns, route)
                if onsite is not None:
                    # The whole day, calls and all, and its places alone (their calls found
                    # again by the combination, or others).
                    added |= {onsite, route}
    return added


def _solved(
    columns: Mapping[Route, tuple[int, int]], elsewhere: Mapping[int, int]
) -> tuple[float, dict[int, float], dict[tuple[int, int], float], float]:
    found = _relaxation(columns, elsewhere=elsewhere)
    assert found is not None, "the combination's relaxation always has a solution (none taken)"
    return found


def _relaxation(
    columns: Mapping[Route, tuple[int, int]],
    priority: int | None = None,
    elsewhere: Mapping[int, int] | None = None,
) -> tuple[float, dict[int, float], dict[tuple[int, int], float], float] | None:
    """The combination's linear relaxation: its value, the duals and a priority point's worth.

    Without `priority` it maximises the combination's own objective (a point
    worth `MEDIUM_WEIGHT` minutes); with it, it minimises minutes with at
    least that many points staffed, and a point is worth that row's dual.
    No column has an upper bound: the day rows hold it, so the duals price
    every column alone. A call of `elsewhere` (call -> priority) may be
    staffed outside every route, as the combination may hold it on a day
    beside one: its price is then at least its points, and a route holding
    it in a wait pays for it out of the minutes it saves. None if no set of
    columns staffs `priority` points.
    """
    solver = pywraplp.Solver.CreateSolver("GLOP")
    by_session: dict[int, list[pywraplp.Variable]] = defaultdict(list)
    by_day: dict[tuple[int, int], list[pywraplp.Variable]] = defaultdict(list)
    points = []
    objective = solver.Objective()
    worth = MEDIUM_WEIGHT if priority is None else 0
    for i, ((key, stops), (points_r, cost)) in enumerate(columns.items()):
        x = solver.NumVar(0.0, solver.infinity(), f"r{i}")
        objective.SetCoefficient(x, float(worth * points_r - cost))
        by_day[key].append(x)
        points.append(points_r * x)
        for s_idx, _, _ in stops:
            by_session[s_idx].append(x)
    for s_idx, points_c in (elsewhere or {}).items():
        z = solver.NumVar(0.0, solver.infinity(), f"c{s_idx}")
        objective.SetCoefficient(z, float(worth * points_c))
        by_session[s_idx].append(z)
        points.append(points_c * z)
    objective.SetMaximization()
    session_rows = {s: solver.Add(sum(xs) <= 1) for s, xs in by_session.items()}
    day_rows = {k: solver.Add(sum(xs) <= 1) for k, xs in by_day.items()}
    staffed = solver.Add(sum(points) >= priority) if priority is not None else None
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    # A session no column holds is priced at nothing (`prices.get`): any day may take it.
    prices = {s: row.dual_value() for s, row in session_rows.items()}
    day_prices = {k: row.dual_value() for k, row in day_rows.items()}
    weight = MEDIUM_WEIGHT if staffed is None else -staffed.dual_value()
    return objective.Value(), prices, day_prices, weight


def _add(
    problem: Problem, travel: Travel, columns: dict[Route, tuple[int, int]], route: Route
) -> Route | None:
    """`route` as a column, and its places alone for the pool; None if it cannot run.

    A priced route may hold calls between its places. The pool takes it
    whole, and its places alone too: those on either side of a call keep
    the starts that leave it its wait (the combination may find that call
    there again, or hold another).
    """
    key, stops = route
    timing = timed(problem, travel, key[0], stops)
    if timing is None:
        return None
    priority = sum(problem.sessions[s].priority for s, _, _ in stops)
    columns[route] = (priority, timing[1])
    onsite = [problem.sessions[s].is_onsite for s, _, _ in stops]
    if all(onsite):
        return route
    kept: list[Stop] = []
    for k, ((s_idx, lo, hi), start) in enumerate(zip(stops, timing[0], strict=True)):
        if not onsite[k]:
            continue
        if k > 0 and not onsite[k - 1]:
            lo = start
        if k + 1 < len(stops) and not onsite[k + 1]:
            hi = start
        kept.append((s_idx, lo, hi))
    return key, tuple(kept)


def _provider_days(
    problem: Problem, options: Mapping[int, Sequence[Option]], calls: bool = False
) -> dict[tuple[int, int], list[Stop]]:
    """Each provider-day and the onsite sessions it may take, one stop per start range; with
    `calls`, each salaried provider-day and the calls it may hold instead."""
    days: dict[tuple[int, int], list[Stop]] = defaultdict(list)
    for s_idx in sorted(options):
        session = problem.sessions[s_idx]
        is_place = session.is_onsite and session.location is not None
        if is_place == calls or (calls and session.is_onsite):
            continue  # with `calls`, a phone or video session; without, a place
        for option in options[s_idx]:
            if calls and not problem.providers[option.provider].counts_idle:
                continue
            for r in option.ranges:
                days[(option.provider, r.day)].append((s_idx, r.lo, r.hi))
    return dict(sorted(days.items()))


def _keep(
    kept: list[_Label],
    gains: list[float],
    label: _Label,
    salaried: bool,
    beam: int,
    margin: float = 0.0,
) -> bool:
    """Whether `label` joins its session's labels: none kept beats it, and the beam has room.

    `gains` are the kept labels' gains, in the same order: a full beam drops
    the least of them (the first, among equals) for `label`.

    `a` beats `b` when it does at least as well on every way on: it starts
    no later, has worked no longer, holds no session `b` does not, and
    gains at least as much; for a salaried day, whose span counts, its start
    function max(A, d + B) also lies under `b`'s wherever `b` may depart, and
    the gain is compared with the drives and the sessions' minutes counted
    back in. With a `margin`, `a` must also gain more than `margin` above
    `b` (`route_bound.near_routes`, which keeps every route within it).
    """
    earliest, before, latest, drives, work, gain, service, held = label[:8]
    if salaried:
        paid = gain + drives + service + margin
        for a in kept:
            if (
                a[0] <= earliest
                and a[4] <= work
                and not a[7] & ~held
                and a[2] >= latest
                and (a[1] <= before or latest + a[1] <= earliest)
                and a[5] + a[3] + a[6] >= paid
            ):
                return False
    else:
        for a in kept:
            if a[0] <= earliest and a[4] <= work and a[5] >= gain + margin and not a[7] & ~held:
                return False
    if len(kept) < beam:
        kept.append(label)
        gains.append(gain)
    else:
        k = gains.index(min(gains))
        kept[k] = label
        gains[k] = gain
    return True
