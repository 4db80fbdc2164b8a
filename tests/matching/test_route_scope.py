"""Dense days with group sessions, ladders and pins: the routes work around what they hold."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

import matching.strategy as strategy
from matching.greedy import solve_greedy
from matching.model import prepare
from matching.places import flatten, fold_plan, groups_kept, ladders_kept
from matching.problem import FixedAssignment, Place, Problem
from matching.route_pool import routes_of
from matching.route_scope import RouteScope, _step_in_reach
from matching.routing_search import library_routes, recombine, settle, solve_dense
from matching.run import Run
from matching.solve import solve
from matching.tuning import DEFAULT_TUNING
from matching.validate import validate
from matching_bench.dense import generate_dense, with_group_work
from tests.matching.dense_runs import broken_rules, greedy_run

Placement = dict[int, tuple[int, int]]


def _dense_with_group_work(pinned: int = 0) -> Problem:
    """Dense day 1 with six two-place groups and six onsite-or-video ladders."""
    problem = with_group_work(generate_dense(1), 1, groups=6, ladders=6)
    if not pinned:
        return problem
    flat = flatten(problem)
    greedy = fold_plan(flat, solve_greedy(flat)).assignments
    pins = tuple(
        FixedAssignment(a.session, a.provider, a.place, a.modality)
        for a in greedy[:: max(1, len(greedy) // pinned)][:pinned]
    )
    return replace(problem, fixed=pins)


def _flat_run(problem: Problem, workers: int = 1) -> tuple[Run, list[int], Placement]:
    return greedy_run(flatten(problem), workers)


_broken_rules = broken_rules


def test_a_staffed_group_is_held_where_it_is_and_an_open_one_is_out_of_the_library_s_reach() -> (
    None
):
    run, sessions, start = _flat_run(_dense_with_group_work())
    scope = RouteScope.of(run, sessions, start)
    groups = run.prepared.groups
    assert groups
    for s_idx in groups:
        if s_idx in start:
            p_idx, at = start[s_idx]
            assert scope.held[s_idx] == (p_idx, at)
            (option,) = scope.options[s_idx]
            assert option.provider == p_idx
            assert [(r.lo, r.hi) for r in option.ranges] == [(at, at)]
        else:
            assert s_idx not in scope.options and s_idx not in scope.held
    assert any(s in start for s in groups), "the greedy staffs some group"


def test_the_combination_may_start_a_group_elsewhere_its_places_together() -> None:
    run, sessions, start = _flat_run(_dense_with_group_work())
    scope = RouteScope.of(run, sessions, start)
    groups = run.prepared.groups
    assert any(places[0] in start for places in scope.together)
    assert any(places[0] not in start for places in scope.together), "an open group moves too"
    for places in scope.together:
        assert set(places) == set(groups[places[0]])
        ranges = [r for m in places for option in scope.moving[m] for r in option.ranges]
        assert all(r.lo == r.hi for r in ranges)  # each start a stop of its own
        if places[0] in start:
            # A held group keeps its providers, and its own start is one of a few.
            for m in places:
                (option,) = scope.moving[m]
                assert option.provider == start[m][0]
                assert start[m][1] in {r.lo for r in option.ranges}
                assert len(option.ranges) > 1
        else:
            # An open group's places share their starts, on any provider each may have.
            first, second = ({r.lo for o in scope.moving[m] for r in o.ranges} for m in places)
            assert first & second
            assert all(m not in scope.options for m in places)  # out of the library's reach
    places = next(p for p in scope.together if p[0] in start)
    (option,) = scope.moving[places[0]]
    other = next(r.lo for r in option.ranges if r.lo != start[places[0]][1])
    moved = {**start, **{m: (start[m][0], other) for m in places}}
    assert scope.keeps(run, sessions, moved)
    assert not scope.keeps(run, sessions, {**start, places[0]: (start[places[0]][0], other)})
    own = routes_of(run.problem, run.prepared.timeline, scope.retimed(), moved)
    assert all(scope.admits(route) for route in own)
    (key, stops) = next(route for route in own if any(s == places[0] for s, _, _ in route[1]))
    off = tuple((s, lo + 1, hi + 1) if s == places[0] else (s, lo, hi) for s, lo, hi in stops)
    assert not scope.admits((key, off))  # not a start the group was offered


def test_a_ladder_keeps_one_step_in_reach_the_staffed_one_else_the_best() -> None:
    run, sessions, start = _flat_run(_dense_with_group_work())
    scope = RouteScope.of(run, sessions, start)
    ladders = run.prepared.ladders
    assert ladders
    for steps in set(ladders.values()):
        in_reach = [s for s in steps if s in scope.options]
        staffed = [s for s in steps if s in start]
        assert in_reach == (staffed or [steps[0]])
        assert not any(s in scope.held for s in steps)  # a ladder's step is routed freely


def test_a_pinned_session_is_held_and_the_routes_must_keep_it() -> None:
    run, sessions, start = _flat_run(_dense_with_group_work(pinned=12))
    scope = RouteScope.of(run, sessions, start)
    fixed = run.prepared.fixed
    assert fixed
    for s_idx, p_idx in fixed.items():
        assert scope.held[s_idx] == start[s_idx]
        assert start[s_idx][0] == p_idx
    own = routes_of(run.problem, run.prepared.timeline, scope.options, start)
    assert all(scope.admits(route) for route in own)
    assert scope.keeps(run, sessions, start)
    s_idx = next(iter(fixed))
    p_idx, at = start[s_idx]
    moved = {**start, s_idx: (p_idx, at + 15)}
    assert not scope.keeps(run, sessions, moved)
    assert not scope.keeps(run, sessions, {s: w for s, w in start.items() if s != s_idx})
    (key, stops) = next(route for route in own if any(s == s_idx for s, _, _ in route[1]))
    shifted = tuple((s, lo + 15, hi + 15) if s == s_idx else (s, lo, hi) for s, lo, hi in stops)
    assert not scope.admits((key, shifted))


def test_the_routing_library_routes_around_the_held_visits() -> None:
    run, sessions, start = _flat_run(_dense_with_group_work())
    scope = RouteScope.of(run, sessions, start)
    prepared = run.prepared
    routed = library_routes(
        run.problem,
        prepared.timeline,
        prepared.travel,
        scope.options,
        3.0,
        held=scope.held.keys(),
    )
    onsite_held = {s: at for s, at in scope.held.items() if run.problem.sessions[s].is_onsite}
    assert onsite_held
    assert {s: routed.get(s) for s in onsite_held} == onsite_held
    placed, _ = settle(
        run.problem, prepared.timeline, prepared.travel, scope.options, routed, scope.held
    )
    assert _broken_rules(run, placed) == []
    assert scope.keeps(run, sessions, placed)


def test_the_dense_search_keeps_groups_ladders_and_pins_and_never_does_worse() -> None:
    run, sessions, start = _flat_run(_dense_with_group_work(pinned=12), workers=2)
    pool: set = set()
    placement = solve_dense(run, sessions, start, 8.0, pool=pool)
    assert _broken_rules(run, placement) == []
    prepared = run.prepared
    assert groups_kept(run.problem, prepared.groups, placement, sessions)
    assert ladders_kept(prepared.ladders, placement, sessions)
    assert all(placement[s][0] == p for s, p in prepared.fixed.items())
    assert not run.better(start, placement)
    again = recombine(run, sessions, pool, placement, 3.0)
    assert _broken_rules(run, again) == []
    assert groups_kept(run.problem, prepared.groups, again, sessions)
    assert not run.better(placement, again)


def test_a_dense_day_with_group_work_is_routed_unless_the_tuning_says_not() -> None:
    for problem in (_dense_with_group_work(), _dense_with_group_work(pinned=12)):
        flat = flatten(problem)
        prepared = prepare(flat)
        sessions = sorted(prepared.options)
        run = Run(flat, prepared, DEFAULT_TUNING, time.monotonic() + 30, 1, 0, None)
        assert strategy._is_dense(run, sessions)
        off = replace(DEFAULT_TUNING, route_around_held=False)
        run = Run(flat, prepared, off, time.monotonic() + 30, 1, 0, None)
        assert not strategy._is_dense(run, sessions)
    plain = prepare(generate_dense(1))
    run = Run(plain.problem, plain, off, time.monotonic() + 30, 1, 0, None)
    assert strategy._is_dense(run, sorted(plain.options))  # nothing held: routed anyway


def test_a_dense_day_with_group_work_and_pins_gets_a_valid_routed_plan() -> None:
    problem = _dense_with_group_work(pinned=12)
    plan = solve(problem, time_limit=10, workers=2)
    verdict = validate(problem, plan)
    assert verdict.ok and verdict.score == plan.score
    assert plan.stats.extra["parts_routed"] == 1
    pinned = {(f.session, f.place) for f in problem.fixed}
    kept = {(a.session, a.place) for a in plan.assignments}
    assert pinned <= kept


def _mixed(problem: Problem, variant: str) -> Problem:
    """Dense day 1 with four of its onsite sessions made into one kind of held work."""
    sessions = list(problem.sessions)
    onsite = [i for i, s in enumerate(sessions) if s.is_onsite][5:25:5]
    for i in onsite:
        s = sessions[i]
        pair = (Place(s.language), Place(s.language))
        if variant == "group by phone":
            sessions[i] = replace(s, staff=pair, modality="phone", location=None)
        elif variant == "group, some places enough":
            sessions[i] = replace(s, staff=pair, all_or_nothing=False)
        elif variant == "group that may go to video":
            sessions[i] = replace(s, staff=pair, modalities=("onsite", "video"))
        else:  # a ladder down to the phone
            sessions[i] = replace(s, modalities=("onsite", "phone"))
    return replace(problem, sessions=tuple(sessions))


@pytest.mark.parametrize(
    "variant",
    ["group by phone", "group, some places enough", "group that may go to video", "phone ladder"],
)
def test_every_kind_of_held_work_gets_a_valid_routed_plan(variant: str) -> None:
    problem = _mixed(generate_dense(1), variant)
    plan = solve(problem, time_limit=8, workers=2)
    verdict = validate(problem, plan)
    assert verdict.ok, verdict.violations[:3]
    assert verdict.score == plan.score
    assert plan.stats.extra["parts_routed"] == 1


def test_an_unstaffed_ladder_keeps_in_reach_its_best_step_someone_may_take() -> None:
    steps = (10, 11, 12)
    assert _step_in_reach(steps, {11: (0, 600)}, {10: (), 11: (), 12: ()}) == 11
    assert _step_in_reach(steps, {}, {10: (), 11: (), 12: ()}) == 10
    # Nobody may take the onsite step: the video step is the one the routes may staff.
    assert _step_in_reach(steps, {}, {11: (), 12: ()}) == 11
