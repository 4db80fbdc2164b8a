"""Dense days: how few minutes any plan could drive and wait (for the benchmark, not a solve).

Two figures, both over every route of every provider-day, for the plans
that staff at least a given number of priority points:

- `relaxation_bound`: the linear relaxation of the combination, priced
  exactly by column generation (`route_pricing`'s labelling without its
  beam). No plan drives and waits less; the best plans may need more.
- `integer_check`: whether any plan needs at most `at_most` minutes.
  At the relaxation's converged duals every route's reduced cost is at
  least zero, and a plan's minutes are the relaxation's value plus the
  reduced costs of its routes (and of the slack it leaves), so a plan of
  at most `at_most` minutes holds only routes whose reduced cost is at
  most `at_most` less that value. Every such route is enumerated (the
  labelling keeps a label unless another beats it by more than that gap),
  and CP-SAT looks for the best set of them: what it proves holds for
  every plan.

Both see calls held in salaried waits when asked (`calls`): a call is
then staffed anywhere for nothing or held in a wait, which no real plan
beats, so both stay bounds for whole plans.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

from matching.eligibility import Option
from matching.problem import Problem
from matching.route_pool import Route
from matching.route_pricing import (
    EXACT,
    NEAR_PER_DAY,
    _add,
    _Day,
    _keep,
    _Label,
    _provider_days,
    _relaxation,
)
from matching.travel import Travel

EPSILON = 1e-6


@dataclass
class Relaxation:
    """The exact relaxation where its pricing stopped: its value and the duals it stood on."""

    priority: int
    """The priority points the relaxation staffs at least: its duals hold for those."""
    minutes: float
    bound: float
    """The best proven lower bound (`minutes` itself once converged); -inf if none yet."""
    converged: bool
    """No route prices in against the duals: `minutes` is the relaxation's optimum."""
    prices: dict[int, float]
    day_prices: dict[tuple[int, int], float]
    weight: float
    """What a priority point is worth: the dual of the row that asks for the points."""
    days: list[_Day]
    columns: dict[Route, tuple[int, int]]
    elsewhere: dict[int, int]
    """The calls staffed outside every route for nothing (call -> priority)."""


@dataclass(frozen=True)
class IntegerCheck:
    """What `integer_check` found among the routes within reach of `at_most`."""

    minutes: int | None
    """The fewest minutes of a set of those routes staffing the points; None if none does
    within `at_most` (or none was found in time)."""
    proven: bool
    """`minutes` is the least of every plan, or, when None, no plan needs at most `at_most`."""
    relaxation: float
    routes: int
    """Routes within reach: reduced cost at most `at_most` less the relaxation's value."""


def relaxation_bound(
    problem: Problem,
    travel: Travel,
    options: Mapping[int, Sequence[Option]],
    routes: Iterable[Route],
    priority: int,
    seconds: float,
    calls: bool = False,
    progress: Callable[[float, float], None] | None = None,
) -> tuple[float, bool]:
    """The fewest drive-and-wait minutes of onsite days staffing `priority` points; proven?

    The linear relaxation of the combination, with every session at most
    once, every provider-day at most once and at least `priority` points
    staffed, minimising minutes, over every route of every provider-day,
    priced in exactly (no beam) by column generation. `routes` must already
    staff `priority` points (a plan's own days), or the relaxation has no
    solution and the bound is infinite.

    Every round that prices every day gives a lower bound for every plan
    that staffs those points, before the pricing converges: the relaxation's
    minutes less each day's best reduced gain (a day is taken at most once,
    so no solution gains more from it). When no route prices in any more,
    that is the relaxation's own value. The result is the best such bound
    and True, or, if no round priced every day within `seconds`, the
    relaxation's value so far and False (not a bound). `progress` hears
    both after each round.

    Without `calls`, phone sessions are left out: one held inside a salaried
    day's waiting would shorten it, which the bound does not see. With
    `calls`, `priority` counts every session staffed: a call is staffed
    anywhere for nothing or held in a salaried day's waiting (any number
    between two places, on either side of the drive), and the bound holds
    for every plan, whatever it staffs onsite. The pricing leaves out
    sessions priced above what they bring, which is exact when the drives
    keep the triangle inequality (the haversine model does; a matrix may
    not).
    """
    found = exact_relaxation(problem, travel, options, routes, priority, seconds, calls, progress)
    if found is None:
        return math.inf, False
    if found.bound > -math.inf:
        return found.bound, True
    return found.minutes, False


def exact_relaxation(
    problem: Problem,
    travel: Travel,
    options: Mapping[int, Sequence[Option]],
    routes: Iterable[Route],
    priority: int,
    seconds: float,
    calls: bool = False,
    progress: Callable[[float, float], None] | None = None,
) -> Relaxation | None:
    """`relaxation_bound`'s column generation, where it stopped; None if it has no solution."""
    deadline = time.monotonic() + seconds
    columns: dict[Route, tuple[int, int]] = {}
    for route in routes:
        _add(problem, travel, columns, route)
    held = _provider_days(problem, options, calls=True) if calls else {}
    days = [
        _Day(problem, travel, key, stops, held.get(key, ()))
        for key, stops in _provider_days(problem, options).items()
    ]
    elsewhere = (
        {
            s_idx: problem.sessions[s_idx].priority
            for s_idx, ways in options.items()
            if ways and not problem.sessions[s_idx].is_onsite
        }
        if calls
        else {}
    )
    bound = -math.inf
    while True:
        found = _relaxation(columns, priority, elsewhere)
        if found is None:
            return None
        value, prices, day_prices, weight = found
        minutes = -value
        state = Relaxation(
            priority, minutes, bound, False, prices, day_prices, weight, days, columns, elsewhere
        )
        if time.monotonic() >= deadline:
            return state
        gains, whole, added = 0.0, True, False
        for day in days:
            if time.monotonic() >= deadline:
                whole = False
                break
            day_price = day_prices.get(day.key, 0.0)
            best = 0.0
            for route, cost in day.best_routes(prices, day_price, 0.0, NEAR_PER_DAY, weight, EXACT):
                points = sum(problem.sessions[s].priority for s, _, _ in route[1])
                paid = sum(prices.get(s, 0.0) for s, _, _ in route[1])
                best = max(best, weight * points - paid - cost - day_price)
                # The label's own timing (its drives and least waiting), as `timed` finds it.
                if route not in columns or cost < columns[route][1]:
                    columns[route] = (points, cost)
                    added = True
            gains += best
        if whole:
            bound = max(bound, minutes - gains)
            state.bound = bound
        if progress is not None:
            progress(minutes, bound)
        if whole and not added:
            state.bound, state.converged = minutes, True
            return state
        if not whole:
            return state


def integer_check(
    problem: Problem,
    relaxation: Relaxation,
    at_most: int,
    seconds: float,
    workers: int = 2,
    max_labels: int = 5_000_000,
    progress: Callable[[int, int, int], None] | None = None,
) -> IntegerCheck:
    """Whether any plan staffing the relaxation's points drives and waits at most `at_most`
    minutes.

    `relaxation` must have converged (`exact_relaxation`).
    Every route whose reduced cost is within `at_most` less its value is
    enumerated (`near_routes`), then CP-SAT minimises the minutes of a set
    of them (at most one per provider-day, each session once, the calls
    elsewhere for nothing) with the points staffed, for `seconds`; their
    reduced costs together stay within the gap too, which the relaxation
    implies and which lets CP-SAT cut sooner.
    `progress` hears each day enumerated (days done, of, routes so far).
    Raises RuntimeError when a day's labels pass `max_labels`.
    """
    assert relaxation.converged, "the reduced costs bound a plan only at converged duals"
    gap = at_most - relaxation.minutes
    if gap < 0:
        return IntegerCheck(None, True, relaxation.minutes, 0)
    near: dict[Route, int] = {}
    for done, day in enumerate(relaxation.days, 1):
        day_price = relaxation.day_prices.get(day.key, 0.0)
        for route, minutes in near_routes(
            day, relaxation.prices, day_price, relaxation.weight, gap, max_labels
        ):
            if route not in near or minutes < near[route]:
                near[route] = minutes
        if progress is not None:
            progress(done, len(relaxation.days), len(near))
    model = cp_model.CpModel()
    by_session: dict[int, list[cp_model.IntVar]] = {}
    by_day: dict[tuple[int, int], list[cp_model.IntVar]] = {}
    points: list[cp_model.LinearExprT] = []
    minutes_of: list[cp_model.LinearExprT] = []
    # Each route's reduced cost, in hundredths rounded down: what a plan's routes spend of
    # the gap (the relaxation implies it, but CP-SAT propagates it as a knapsack).
    spent: list[cp_model.LinearExprT] = []
    for n, ((key, stops), minutes) in enumerate(near.items()):
        x = model.new_bool_var(f"r{n}")
        by_day.setdefault(key, []).append(x)
        for s_idx, _, _ in stops:
            by_session.setdefault(s_idx, []).append(x)
        worth = sum(problem.sessions[s].priority for s, _, _ in stops)
        points.append(worth * x)
        minutes_of.append(minutes * x)
        paid = sum(relaxation.prices.get(s, 0.0) for s, _, _ in stops)
        reduced = minutes + paid + relaxation.day_prices.get(key, 0.0)
        reduced -= relaxation.weight * worth
        spent.append(max(0, math.floor(100 * reduced)) * x)
    for s_idx, worth in relaxation.elsewhere.items():
        z = model.new_bool_var(f"c{s_idx}")
        by_session.setdefault(s_idx, []).append(z)
        points.append(worth * z)
    for held in (*by_session.values(), *by_day.values()):
        model.add_at_most_one(held)
    model.add(sum(points) >= relaxation.priority)
    model.add(sum(minutes_of) <= at_most)
    model.add(sum(spent) <= math.ceil(100 * gap) + 1)
    model.minimize(sum(minutes_of))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    if status == cp_model.INFEASIBLE:
        return IntegerCheck(None, True, relaxation.minutes, len(near))
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        found = round(solver.objective_value)
        return IntegerCheck(found, status == cp_model.OPTIMAL, relaxation.minutes, len(near))
    return IntegerCheck(None, False, relaxation.minutes, len(near))


def near_routes(
    day: _Day,
    prices: Mapping[int, float],
    day_price: float,
    weight: float,
    gap: float,
    max_labels: int = 5_000_000,
) -> list[tuple[Route, int]]:
    """Every route of `day` whose reduced gain is at least `-gap`, with its minutes.

    The labelling of `_Day.best_routes` without its beam and without leaving
    out the sessions priced above what they bring (a route within the gap
    may hold one), a label dropped only when another at the same session
    beats it on every count by more than `gap` (then every way on from it
    is more than `gap` below that label's same way on, which prices in at
    most at zero), or when even the most its unheld sessions could add
    leaves it below `-gap`.
    """
    stops, duration, bit, back = day.stops, day.duration, day.bit, day.back
    salaried, limit = day.salaried, day.limit
    profit = [
        weight * priority - prices.get(s, 0.0)
        for s, priority in zip(day.sessions, day.priority, strict=True)
    ]
    # The most a session could add to a label: its profit less the shortest leg into it.
    into = [math.inf] * len(stops)
    for j, leg in enumerate(day.out[: day.onsite]):
        into[j] = leg
    for reachable in day.next:
        for j, leg in reachable:
            into[j] = min(into[j], leg)
    most: dict[int, float] = {}
    for j, s_idx in enumerate(day.sessions):
        if into[j] < math.inf:
            most[s_idx] = max(most.get(s_idx, 0.0), profit[j] - into[j])
    potential = sum(most.values())
    # A way on whose gain, with every unheld session's most, stays under this cannot price
    # within the gap: it still drives home and pays the day's price.
    floor = -gap - EPSILON + day_price + min(back[: day.onsite], default=0)
    kept: list[list[_Label]] = [[] for _ in stops]
    gains: list[list[float]] = [[] for _ in stops]
    heap: list[tuple[_Label, float]] = []
    for j, (s_idx, lo, hi) in enumerate(stops[: day.onsite]):
        out = day.out[j]
        work = duration[j] + out
        if work + back[j] <= limit:
            label: _Label = (
                lo,
                out,
                hi - out,
                out,
                work,
                profit[j] - out,
                duration[j],
                bit[j],
                (j,),
                j,
            )
            heap.append((label, potential - most.get(s_idx, 0.0)))
    heapq.heapify(heap)
    found: list[tuple[Route, int]] = []
    labels = 0
    while heap:
        label, left = heapq.heappop(heap)
        earliest, before, latest, drives, work, gain, service, held, path, i = label
        if not _keep(kept[i], gains[i], label, salaried, EXACT, gap + EPSILON):
            continue
        labels += 1
        if labels > max_labels:
            raise RuntimeError(f"provider-day {day.key} passed {max_labels} labels")
        idle = max(0, earliest - latest - before) if salaried else 0
        if i < day.onsite and gain - back[i] - idle - day_price >= -gap - EPSILON:
            found.append(((day.key, tuple(stops[j] for j in path)), drives + back[i] + idle))
        step_base = earliest + duration[i]
        for j, leg in day.next[i]:
            if held & bit[j]:
                continue
            _, lo, hi = stops[j]
            arrive = step_base + leg
            more = work + duration[j] + leg
            on = gain + profit[j] - leg
            rest = left - most.get(day.sessions[j], 0.0)
            if arrive > hi or more + back[j] > limit or on + rest < floor:
                continue
            b = before + duration[i] + leg
            heapq.heappush(
                heap,
                (
                    (
                        lo if lo > arrive else arrive,
                        b,
                        min(latest, hi - b),
                        drives + leg,
                        more,
                        on,
                        service + duration[j],
                        held | bit[j],
                        (*path, j),
                        j,
                    ),
                    rest,
                ),
            )
    return found
