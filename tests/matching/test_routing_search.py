"""Dense days take the route path; sparse ones keep their proven paths."""

from __future__ import annotations

import time

from matching.greedy import solve_greedy
from matching.model import prepare
from matching.problem import Assignment
from matching.routing_search import dense_enough, improve_routes, route_with_library
from matching.run import Run
from matching.solve import solve
from matching.tuning import DEFAULT_TUNING
from matching.validate import check, validate
from matching_bench.generate import dense_spec, generate_problem


def test_a_dense_day_is_routed_and_its_plan_is_valid_and_no_worse_than_the_greedy() -> None:
    problem = generate_problem("dense", 5)
    plan = solve(problem, time_limit=10, workers=1)
    verdict = validate(problem, plan)
    assert verdict.ok and verdict.score == plan.score
    assert plan.stats.extra["parts_routed"] == 1
    assert plan.stats.extra["route_pieces"] > 0
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


def test_each_route_step_keeps_the_better_plan_and_a_valid_one() -> None:
    problem = generate_problem(dense_spec(0.6), 4)
    prepared = prepare(problem)
    run = Run(problem, prepared, DEFAULT_TUNING, time.monotonic() + 30, 1, 0, None)
    index = {s.id: i for i, s in enumerate(problem.sessions)}
    providers = {p.id: i for i, p in enumerate(problem.providers)}
    start = {
        index[a.session]: (providers[a.provider], prepared.timeline.minute(a.start))
        for a in solve_greedy(problem).assignments
    }
    sessions = sorted(prepared.options)
    routed = route_with_library(run, sessions, start, 2.0)
    assert not run.better(start, routed)
    improved = improve_routes(run, sessions, routed, 2.0)
    assert not run.better(routed, improved)
    assignments = [
        Assignment(problem.sessions[s].id, problem.providers[p].id, prepared.timeline.instant(t))
        for s, (p, t) in improved.items()
    ]
    broken = [v for v in check(problem, assignments).violations if v.code != "missing"]
    assert broken == []  # the unstaffed ones are simply not listed here
