"""Dense days: routes priced against the combination's duals find the days no search drove."""

from __future__ import annotations

import math

import pytest

from matching.model import Prepared, prepare
from matching.problem import Plan, Problem
from matching.route_bound import relaxation_bound
from matching.route_pool import Route, Stop, best_combination, routes_of, timed
from matching.route_pricing import priced_routes, residual
from matching.solve import solve
from matching.validate import provider_days, validate
from matching_bench.dense import generate_dense
from tests.matching.factories import LILLE, TOURNAI, problem, provider, session
from tests.matching.test_route_pool import by_id, stops, two_towns

LOCAL = {
    "lille-1": "p-lille",
    "lille-2": "p-lille",
    "tournai-1": "p-tournai",
    "tournai-2": "p-tournai",
}


def test_pricing_finds_the_local_days_when_the_searches_only_met_crossed_ones() -> None:
    prepared = prepare(two_towns())
    # Both searches sent each provider to the other town: every session staffed, far away.
    crossed = {
        stops(prepared, "p-lille", "tournai-1", "tournai-2"),
        stops(prepared, "p-tournai", "lille-1", "lille-2"),
    }
    priced = priced_routes(prepared.problem, prepared.travel, prepared.options, crossed, 10)
    assert stops(prepared, "p-lille", "lille-1", "lille-2") in priced
    assert stops(prepared, "p-tournai", "tournai-1", "tournai-2") in priced
    placement = best_combination(
        prepared.problem, prepared.travel, crossed | priced, crossed, seconds=5, workers=1
    )
    assert by_id(prepared, placement) == LOCAL


def test_what_a_fixed_day_leaves_is_priced_into_the_days_that_complete_the_plan() -> None:
    prepared = prepare(two_towns())
    fixed = stops(prepared, "p-lille", "lille-1", "lille-2")
    crossed = stops(prepared, "p-tournai", "lille-1", "lille-2")
    single = stops(prepared, "p-tournai", "tournai-1")
    taken = {s for s, _, _ in fixed[1]}
    options, routes = residual(prepared.options, {fixed, crossed, single}, taken, {fixed[0]})
    assert set(options) == set(range(len(prepared.problem.sessions))) - taken
    assert all(o.provider != fixed[0][0] for ways in options.values() for o in ways)
    assert routes == {single}, "a route through a fixed day or a taken session is left out"
    priced = priced_routes(prepared.problem, prepared.travel, options, routes, 10)
    assert stops(prepared, "p-tournai", "tournai-1", "tournai-2") in priced


def test_a_salaried_day_fills_its_wait_with_a_session_the_pricing_found() -> None:
    prepared = prepare(two_towns(salaried=True))
    crossed = {
        stops(prepared, "p-lille", "tournai-1", "tournai-2"),
        stops(prepared, "p-tournai", "lille-1", "lille-2"),
    }
    priced = priced_routes(prepared.problem, prepared.travel, prepared.options, crossed, 10)
    placement = best_combination(
        prepared.problem, prepared.travel, crossed | priced, crossed, seconds=5, workers=1
    )
    # Each at home both days would wait an hour over lunch (60 + 60 minutes); the Tournai
    # provider drives to Lille for the morning session instead of waiting for the
    # afternoon one at home, and the Lille provider, living at the place, takes the other.
    assert by_id(prepared, placement) == {
        "tournai-1": "p-tournai",
        "lille-1": "p-tournai",
        "tournai-2": "p-tournai",
        "lille-2": "p-lille",
    }
    local = [
        stops(prepared, "p-lille", "lille-1", "lille-2"),
        stops(prepared, "p-tournai", "tournai-1", "tournai-2"),
    ]
    chosen = [
        stops(prepared, "p-tournai", "tournai-1", "lille-1", "tournai-2"),
        stops(prepared, "p-lille", "lille-2"),
    ]
    assert cost(prepared, chosen) < cost(prepared, local)


def cost(prepared: Prepared, routes: list[Route]) -> int:
    """Drives plus waiting of these days, each timed to wait least."""
    total = 0
    for (p_idx, _), route in routes:
        found = timed(prepared.problem, prepared.travel, p_idx, route)
        assert found is not None
        total += found[1]
    return total


def test_pricing_staffs_a_session_no_pooled_route_holds() -> None:
    prepared = prepare(two_towns())
    pool = {stops(prepared, "p-lille", "lille-1"), stops(prepared, "p-tournai", "tournai-1")}
    priced = priced_routes(prepared.problem, prepared.travel, prepared.options, pool, 10)
    placement = best_combination(
        prepared.problem, prepared.travel, pool | priced, pool, seconds=5, workers=1
    )
    assert by_id(prepared, placement) == LOCAL


def test_a_salaried_day_is_priced_with_its_waiting() -> None:
    # One provider, two sessions at the same place: the morning one may start 08:00-11:00,
    # the afternoon one is at 14:00. A salaried day takes both only if the morning one
    # starts late; pricing must find the pair (no pooled route holds it) and the
    # combination must time it to wait least.
    salaried = prepare(
        problem(
            [provider("p", living=LILLE, counts_idle=True)],
            [
                session("morning", window=("2026-12-01 08:00", "2026-12-01 12:00")),
                session("afternoon", start="2026-12-01 14:00"),
            ],
        )
    )
    pool = {stops(salaried, "p", "morning"), stops(salaried, "p", "afternoon")}
    priced = priced_routes(salaried.problem, salaried.travel, salaried.options, pool, 10)
    pair = stops(salaried, "p", "morning", "afternoon")
    assert pair in priced
    found = timed(salaried.problem, salaried.travel, 0, pair[1])
    assert found is not None
    assert found[0][0] == pair[1][0][2]  # the morning session starts as late as it may


def test_pricing_moves_a_salaried_day_s_wait_to_where_a_call_fills_it() -> None:
    prepared = prepare(waits_for_a_call(salaried=True))
    pool = {stops(prepared, "p", name) for name in ("first", "second", "third")}
    calls = {3: prepared.options[3]}
    priced = priced_routes(prepared.problem, prepared.travel, prepared.options, pool, 10)
    # Timed to wait least, the second session starts at noon: two hours' wait before it,
    # none after, and no room for the call. The pool's routes are onsite, so the one the
    # pricing found with the call in it comes with the second session before 11:00.
    key, (first, (second, lo, _), third) = stops(prepared, "p", "first", "second", "third")
    assert (key, (first, (second, lo, lo + 60), third)) in priced
    placement = best_combination(
        prepared.problem, prepared.travel, pool | priced, pool, 5, 1, calls
    )
    assert set(by_id(prepared, placement)) == {"first", "second", "third", "call"}
    assert placement[1][1] + 60 <= placement[3][1] <= placement[2][1] - 30
    # Without calls in the pricing, the day leaves one of the four out.
    onsite = priced_routes(
        prepared.problem, prepared.travel, prepared.options, pool, 10, with_calls=False
    )
    placement = best_combination(
        prepared.problem, prepared.travel, pool | onsite, pool, 5, 1, calls
    )
    assert len(placement) == 3


def waits_for_a_call(salaried: bool) -> Problem:
    """Lille at 09:00, 10:00-12:00 and 13:00 for a provider from Tournai, and a call at noon."""
    return problem(
        [provider("p", living=TOURNAI, counts_idle=salaried)],
        [
            session("first", start="2026-12-01 09:00"),
            session("second", window=("2026-12-01 10:00", "2026-12-01 12:00")),
            session("third", start="2026-12-01 13:00"),
            session("call", place=None, start="2026-12-01 12:00", minutes=30),
        ],
    )


def test_a_freelance_day_is_priced_without_calls() -> None:
    # The same day, freelance: its waiting costs nothing, so no route is narrowed for a call.
    prepared = prepare(waits_for_a_call(salaried=False))
    pool = {stops(prepared, "p", name) for name in ("first", "second", "third")}
    priced = priced_routes(prepared.problem, prepared.travel, prepared.options, pool, 10)
    assert stops(prepared, "p", "first", "second", "third") in priced
    assert all(stop in pool_stops(prepared) for _, route in priced for stop in route)


def pool_stops(prepared: Prepared) -> set[Stop]:
    """Every onsite session with each of its start ranges, whole."""
    return {
        (s, r.lo, r.hi)
        for s, options in prepared.options.items()
        for option in options
        for r in option.ranges
    }


def test_every_priced_route_keeps_its_windows_and_daily_minutes() -> None:
    prepared = prepare(generate_dense(3, density=0.4))
    pool: set[Route] = set()
    priced = priced_routes(prepared.problem, prepared.travel, prepared.options, pool, 5)
    assert priced == set()  # nothing to price against
    singles = {
        ((option.provider, r.day), ((s, r.lo, r.hi),))
        for s, options in prepared.options.items()
        if prepared.problem.sessions[s].is_onsite
        for option in options
        for r in option.ranges
    }
    priced = priced_routes(prepared.problem, prepared.travel, prepared.options, singles, 10)
    assert any(len(route) >= 3 for _, route in priced)
    for (p_idx, _day), route in priced:
        assert timed(prepared.problem, prepared.travel, p_idx, route) is not None
        assert len({s for s, _, _ in route}) == len(route)  # no session twice


def test_the_relaxation_bound_is_the_best_days_cost_when_the_relaxation_is_whole() -> None:
    prepared = prepare(two_towns())
    crossed = {
        stops(prepared, "p-lille", "tournai-1", "tournai-2"),
        stops(prepared, "p-tournai", "lille-1", "lille-2"),
    }
    local = [
        stops(prepared, "p-lille", "lille-1", "lille-2"),
        stops(prepared, "p-tournai", "tournai-1", "tournai-2"),
    ]
    bound, proven = relaxation_bound(
        prepared.problem, prepared.travel, prepared.options, crossed, 4, 30
    )
    assert proven
    assert bound == pytest.approx(cost(prepared, local))
    # Asking for more points than the days can staff has no solution: no finite bound.
    assert relaxation_bound(
        prepared.problem, prepared.travel, prepared.options, crossed, 5, 30
    ) == (math.inf, False)


def test_the_relaxation_bound_is_never_above_a_plan_that_staffs_as_much() -> None:
    prepared = prepare(generate_dense(3, density=0.4))
    problem = prepared.problem
    singles = {
        ((option.provider, r.day), ((s, r.lo, r.hi),))
        for s, options in prepared.options.items()
        if problem.sessions[s].is_onsite
        for option in options
        for r in option.ranges
    }
    priced = priced_routes(problem, prepared.travel, prepared.options, singles, 10)
    placement = best_combination(problem, prepared.travel, singles | priced, set(), 10, 1)
    days = routes_of(problem, prepared.timeline, prepared.options, placement)
    points = sum(problem.sessions[s].priority for s in placement)
    rounds: list[tuple[float, float]] = []
    bound, proven = relaxation_bound(
        problem,
        prepared.travel,
        prepared.options,
        days,
        points,
        60,
        progress=lambda value, proven_so_far: rounds.append((value, proven_so_far)),
    )
    assert proven
    assert 0 < bound <= cost(prepared, list(days)) + 1e-6
    # Each round's bound (the relaxation less every day's best reduced gain) is below the
    # relaxation's value then, and the last one is its value: the pricing converged.
    assert all(proven_so_far <= value + 1e-6 for value, proven_so_far in rounds)
    assert all(proven_so_far <= bound + 1e-6 for _, proven_so_far in rounds)
    assert rounds[-1][1] == pytest.approx(bound)


def test_the_bound_with_calls_sees_a_call_held_after_the_drive() -> None:
    prepared = prepare(call_after_the_drive())
    problem = prepared.problem
    day = stops(prepared, "p", "tournai", "lille")
    leg = prepared.travel.minutes(problem.sessions[0].location, problem.sessions[1].location)  # type: ignore[arg-type]
    # Out to Tournai and on to Lille (home): two drives, and the wait in Lille until 11:00.
    onsite, proven = relaxation_bound(problem, prepared.travel, prepared.options, {day}, 2, 30)
    assert proven and onsite == pytest.approx(2 * leg + 60 - leg)
    # The call at 10:45 fits only after the drive: it takes 15 minutes of that wait.
    whole, proven = relaxation_bound(
        problem, prepared.travel, prepared.options, {day}, 3, 30, calls=True
    )
    assert proven and whole == pytest.approx(onsite - 15)
    # The matcher holds it there, and the validator scores that day at the bound.
    plan = solve(problem, time_limit=5, workers=1)
    assert validate(problem, plan).ok and len(plan.assignments) == 3
    days = provider_days(
        problem, plan.assignments, travel=prepared.travel, timeline=prepared.timeline
    )
    assert sum(d.travel_minutes + d.idle_minutes for d in days) == round(whole)


def call_after_the_drive() -> Problem:
    """Tournai at 09:00 and Lille at 11:00 for a salaried provider from Lille, a call at 10:45."""
    return problem(
        [provider("p", living=LILLE, counts_idle=True)],
        [
            session("tournai", start="2026-12-01 09:00", place=TOURNAI),
            session("lille", start="2026-12-01 11:00"),
            session("call", place=None, start="2026-12-01 10:45", minutes=15),
        ],
    )


def test_the_bound_with_calls_is_never_above_a_whole_plan_that_staffs_as_much() -> None:
    problem = generate_dense(3, density=0.4)
    prepared = prepare(problem)
    plan = solve(problem, time_limit=5, workers=1)
    assert any(not problem.sessions[s].is_onsite for s in placement_of(prepared, plan))
    points, minutes, days = scored_days(prepared, plan)
    bound, proven = relaxation_bound(
        problem, prepared.travel, prepared.options, days, points, 60, calls=True
    )
    assert proven
    assert 0 < bound <= minutes + 1e-6


def placement_of(prepared: Prepared, plan: Plan) -> dict[int, tuple[int, int]]:
    """A plan as session -> (provider, start minute), by index."""
    problem = prepared.problem
    session_index = {s.id: i for i, s in enumerate(problem.sessions)}
    provider_index = {p.id: i for i, p in enumerate(problem.providers)}
    return {
        session_index[a.session]: (provider_index[a.provider], prepared.timeline.minute(a.start))
        for a in plan.assignments
    }


def scored_days(prepared: Prepared, plan: Plan) -> tuple[int, int, set[Route]]:
    """A valid plan's priority points, its travel plus idle (the validator's) and its days."""
    problem = prepared.problem
    assert validate(problem, plan).ok
    staffed = {a.session for a in plan.assignments}
    points = sum(s.priority for s in problem.sessions if s.id in staffed)
    scored = provider_days(
        problem, plan.assignments, travel=prepared.travel, timeline=prepared.timeline
    )
    minutes = sum(d.travel_minutes + d.idle_minutes for d in scored)
    days = routes_of(problem, prepared.timeline, prepared.options, placement_of(prepared, plan))
    return points, minutes, days


def test_a_priced_day_drives_before_its_call_where_only_that_fits() -> None:
    prepared = prepare(call_after_the_drive())
    problem = prepared.problem
    key, (tournai, lille) = stops(prepared, "p", "tournai", "lille")
    window = prepared.options[2][0].ranges[0]
    call = (2, window.lo, window.hi)
    found = timed(problem, prepared.travel, key[0], (tournai, call, lille))
    # Held in Tournai before the drive, the 10:45 call would make the 11:00 session late;
    # after the drive, in Lille, it takes 15 minutes of the wait there.
    onsite = timed(problem, prepared.travel, key[0], (tournai, lille))
    assert found is not None and onsite is not None
    starts, minutes = found
    assert starts == [tournai[1], call[1], lille[1]]
    assert minutes == onsite[1] - 15
