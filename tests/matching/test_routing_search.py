"""Dense days take the route path; sparse ones keep their proven paths."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence

import pytest

import matching.strategy as strategy
from matching.greedy import solve_greedy
from matching.model import prepare
from matching.route_pool import Route, best_combination, routes_of, timed
from matching.route_scope import RouteScope
from matching.routing_search import (
    CHILD_SEARCHES,
    Elsewhere,
    combine_routes,
    dense_enough,
    improve_routes,
    library_routes,
    price_around,
    recombine,
    route_with_library,
    settle,
    solve_dense,
)
from matching.run import Run
from matching.search import _new_search, piece_of_day
from matching.solve import solve
from matching.tuning import DEFAULT_TUNING
from matching.validate import validate
from matching_bench.generate import dense_spec, generate_problem
from tests.matching import factories
from tests.matching.dense_runs import broken_rules, greedy_run


def test_a_dense_day_is_routed_and_its_plan_is_valid_and_no_worse_than_the_greedy() -> None:
    problem = generate_problem("dense", 5)
    plan = solve(problem, time_limit=10, workers=1)
    verdict = validate(problem, plan)
    assert verdict.ok and verdict.score == plan.score
    assert plan.stats.extra["parts_routed"] == 1
    # Routes were priced; whether the combination and the polish get their turn within 10 s
    # depends on the machine's load (each has its own tests below).
    assert plan.stats.extra["priced_routes"] > 0
    greedy = solve_greedy(problem).score
    assert (plan.score.medium, plan.score.soft) >= (greedy.medium, greedy.soft)


def test_sparse_instances_are_not_dense() -> None:
    for scale in ("S", "M"):
        prepared = prepare(generate_problem(scale, 1))
        assert dense_enough(prepared.options, sorted(prepared.options)) < 1.5
    dense = prepare(generate_problem("dense", 1))
    assert dense_enough(dense.options, sorted(dense.options)) > 3


def test_the_small_model_stays_on_its_proven_path() -> None:
    plan = solve(generate_problem("S", 2), time_limit=10, workers=1)
    assert plan.stats.status == "OPTIMAL"
    assert "parts_routed" not in plan.stats.extra


def _small_dense_run(workers: int = 1) -> tuple[Run, list[int], dict[int, tuple[int, int]]]:
    """A dense day of 60 sessions, its run, its sessions and the greedy's placement."""
    return greedy_run(generate_problem(dense_spec(0.6), 4), workers)


_broken_rules = broken_rules


def test_each_route_step_keeps_the_better_plan_and_a_valid_one() -> None:
    run, sessions, start = _small_dense_run()
    routed = route_with_library(run, sessions, RouteScope.of(run, sessions, start), start, 2.0)
    assert not run.better(start, routed)
    improved = improve_routes(run, sessions, routed, 2.0)
    assert not run.better(routed, improved)
    assert _broken_rules(run, improved) == []


def test_the_dense_search_with_two_workers_is_valid_and_never_worse_than_its_start() -> None:
    run, sessions, start = _small_dense_run(workers=2)
    placement = solve_dense(run, sessions, start, 5.0)
    assert _broken_rules(run, placement) == []
    assert not run.better(start, placement)
    assert set(placement) <= set(sessions)
    assert run.stats["routed"] > 0  # both routing searches came back (here and the child's)


def test_the_routing_library_pools_the_routes_of_every_plan_it_reports() -> None:
    run, sessions, _ = _small_dense_run()
    prepared = run.prepared
    options = {s: prepared.options[s] for s in sessions}
    for idle_as_span in (False, True):
        pool: set[Route] = set()
        routed = library_routes(
            run.problem,
            prepared.timeline,
            prepared.travel,
            options,
            2.0,
            pool=pool,
            idle_as_span=idle_as_span,
        )
        assert routed, "the library routed the day"
        assert routes_of(run.problem, prepared.timeline, options, routed) <= pool
        assert all(timed(run.problem, prepared.travel, key[0], route) for key, route in pool)
        combined = best_combination(run.problem, prepared.travel, pool, set(), 5, 1)
        assert run.staffed(combined) >= run.staffed(routed)
        placed, _ = settle(run.problem, prepared.timeline, prepared.travel, options, combined)
        assert _broken_rules(run, placed) == []


def test_combining_the_pooled_routes_never_makes_the_plan_worse() -> None:
    run, sessions, start = _small_dense_run()
    prepared = run.prepared
    options = {s: prepared.options[s] for s in sessions}
    pool: set[Route] = set()
    library_routes(run.problem, prepared.timeline, prepared.travel, options, 1.0, pool=pool)
    scope = RouteScope.of(run, sessions, start)
    combined = combine_routes(run, sessions, scope, pool, start, 5.0)
    assert not run.better(start, combined)
    assert _broken_rules(run, combined) == []
    assert run.stats["pooled_routes"] >= len(pool)
    assert combine_routes(run, sessions, scope, set(), start, 5.0) == start


def test_pricing_around_a_plan_finds_routes_that_run_and_the_combination_keeps_it_valid() -> None:
    run, sessions, start = _small_dense_run()
    prepared = run.prepared
    scope = RouteScope.of(run, sessions, start)
    own = routes_of(run.problem, prepared.timeline, prepared.options, start)
    found = price_around(run, scope, set(own), start, 3.0, random.Random(0))
    assert run.stats["priced_around"] >= 1
    assert found - own, "rounds around the plan price days it does not have"
    for route in found:
        (p_idx, _), stops = route
        assert scope.admits(route)
        assert timed(run.problem, prepared.travel, p_idx, stops) is not None
    combined = combine_routes(run, sessions, scope, own | found, start, 5.0)
    assert not run.better(start, combined)
    assert _broken_rules(run, combined) == []


def test_routes_priced_again_around_a_plan_never_make_it_worse() -> None:
    run, sessions, start = _small_dense_run()
    prepared = run.prepared
    pool: set[Route] = set()
    improved = recombine(run, sessions, pool, start, 5.0)
    assert not run.better(start, improved)
    assert _broken_rules(run, improved) == []
    own = routes_of(run.problem, prepared.timeline, prepared.options, start)
    assert own <= pool, "the plan's own days are in the pool the combination chose from"
    assert run.stats["priced_routes"] > 0
    assert len(pool) == len(own) + run.stats["priced_routes"]


def test_the_child_process_routes_the_onsite_sessions_like_the_library_here() -> None:
    run, sessions, _ = _small_dense_run(workers=2)
    elsewhere = Elsewhere.start(run, RouteScope.of(run, sessions, {}), 1.5)
    assert elsewhere is not None
    searches, pool = elsewhere.result(timeout=60)
    assert len(searches) == len(CHILD_SEARCHES), "each of the child's searches sent its routes"
    prepared = run.prepared
    options = {s: prepared.options[s] for s in sessions}
    for routed in searches:
        assert routed
        assert routes_of(run.problem, prepared.timeline, prepared.options, routed) <= pool
        assert all(run.problem.sessions[s].is_onsite for s in routed)
        placed, _ = settle(run.problem, prepared.timeline, prepared.travel, options, routed)
        assert _broken_rules(run, placed) == []


def test_a_child_that_is_not_done_in_time_is_stopped_and_its_plan_not_used() -> None:
    run, sessions, _ = _small_dense_run(workers=2)
    elsewhere = Elsewhere.start(run, RouteScope.of(run, sessions, {}), 20.0)
    assert elsewhere is not None
    assert elsewhere.result(timeout=0.01) == ([], set())
    assert elsewhere.process.returncode is not None  # killed, not left running


def test_a_piece_of_one_day_holds_its_sessions_and_keeps_what_is_outside() -> None:
    run, sessions, start = _small_dense_run()
    search = _new_search(run, sessions, start)
    (provider, day), held = next((key, held) for key, held in search.booked.items() if held)
    piece = piece_of_day(run, search, {provider}, held, day)
    assert piece.providers == {provider} and piece.sessions == held
    assert piece.before == {s: start[s] for s in held}
    assert set(piece.scope.sessions) == held


def test_sessions_the_routes_leave_out_but_the_bound_allows_are_put_back_by_the_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = generate_problem("dense", 5)
    greedy = solve_greedy(problem).score

    def routes_that_drop_one(
        run: Run,
        sessions: Sequence[int],
        start: Mapping[int, tuple[int, int]],
        budget: float,
        meanwhile: Callable[[], object],
        pool: set[Route],
    ) -> dict[int, tuple[int, int]]:
        meanwhile()  # the caller's bound, as the real routing computes it
        kept = dict(start)
        kept.pop(next(iter(kept)))  # one session the greedy staffs, left out
        return kept

    monkeypatch.setattr(strategy, "solve_dense", routes_that_drop_one)
    plan = solve(problem, time_limit=10, workers=1)
    assert validate(problem, plan).ok
    assert plan.stats.extra["routes_then_searched"] == 1
    assert plan.score.medium >= greedy.medium


def test_a_call_left_to_settle_is_held_in_a_salaried_providers_wait_between_two_places() -> None:
    problem = factories.problem(
        [
            factories.provider("p-salaried", living=factories.TOURNAI, counts_idle=True),
            factories.provider("p-free", living=factories.LILLE),
        ],
        [
            factories.session("lille-1", start="2026-12-01 09:00"),
            factories.session("lille-2", start="2026-12-01 14:00"),
            factories.session("call", place=None, window=("2026-12-01 08:00", "2026-12-01 16:00")),
        ],
    )
    prepared = prepare(problem)
    ids = {s.id: i for i, s in enumerate(prepared.problem.sessions)}
    salaried = 0
    routed = {
        ids["lille-1"]: (salaried, prepared.timeline.minute(factories.at("2026-12-01 09:00"))),
        ids["lille-2"]: (salaried, prepared.timeline.minute(factories.at("2026-12-01 14:00"))),
    }
    placed, left = settle(
        prepared.problem, prepared.timeline, prepared.travel, prepared.options, routed
    )
    # The greedy would give the call to the idle freelance provider, the least loaded day;
    # held in Lille between the two sessions, it shortens the salaried day's four-hour wait.
    assert left == []
    provider_of_call, start = placed[ids["call"]]
    assert provider_of_call == salaried
    assert routed[ids["lille-1"]][1] + 60 <= start <= routed[ids["lille-2"]][1] - 60
    run = Run(problem, prepared, DEFAULT_TUNING, time.monotonic() + 30, 1, 0, None)
    assert _broken_rules(run, placed) == []
    elsewhere = {**placed, ids["call"]: (1, start)}
    assert run.score_of(placed)[1] == run.score_of(elsewhere)[1] + 60


def test_a_call_the_combination_placed_keeps_its_provider_when_settled() -> None:
    problem = factories.problem(
        [factories.provider("p-busy"), factories.provider("p-free")],
        [
            factories.session("lille-1", start="2026-12-01 09:00"),
            factories.session("call", place=None, window=("2026-12-01 08:00", "2026-12-01 16:00")),
        ],
    )
    prepared = prepare(problem)
    at = prepared.timeline.minute
    # Left to itself, a call goes to the least loaded day (the free provider's); the
    # combination gave it to the busy one, which left it room after the session.
    alone, _ = settle(
        problem,
        prepared.timeline,
        prepared.travel,
        prepared.options,
        {0: (0, at(factories.at("2026-12-01 09:00")))},
    )
    assert alone[1][0] == 1
    routed = {
        0: (0, at(factories.at("2026-12-01 09:00"))),
        1: (0, at(factories.at("2026-12-01 10:00"))),
    }
    placed, left = settle(problem, prepared.timeline, prepared.travel, prepared.options, routed)
    assert left == []
    assert placed[1][0] == 0
    run = Run(problem, prepared, DEFAULT_TUNING, time.monotonic() + 30, 1, 0, None)
    assert _broken_rules(run, placed) == []
