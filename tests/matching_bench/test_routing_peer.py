"""The routing peer: the OR-Tools routing library's plan, in the matcher's format, judged alike."""

from __future__ import annotations

from matching.validate import validate
from matching_bench.generate import dense_spec, generate_problem
from matching_bench.routing_peer import solve_routing
from tests.matching.factories import LILLE, ROUBAIX, problem, provider, session


def test_its_plan_of_a_dense_day_passes_the_validator_and_lists_every_session() -> None:
    prob = generate_problem(dense_spec(0.4), 2)
    plan = solve_routing(prob, time_limit=2)
    verdict = validate(prob, plan)
    assert verdict.ok, verdict.violations[:3]
    assert verdict.score == plan.score
    listed = [a.session for a in plan.assignments] + [u.session for u in plan.unassigned]
    assert sorted(listed) == sorted(s.id for s in prob.sessions)
    assert plan.stats.extra["method"] == "routing"


def test_only_an_eligible_provider_gets_a_session_and_calls_go_where_there_is_room() -> None:
    prob = problem(
        [
            provider("p-near", languages=("ara",), living=LILLE),
            provider("p-tir", languages=("tir",), living=ROUBAIX),
        ],
        [
            session("s-tir", language="tir", start="2026-12-01 10:00"),
            session("s-ara", language="ara", start="2026-12-01 10:00"),
            session("s-call", language="tir", place=None, start="2026-12-01 14:00", minutes=30),
        ],
    )
    plan = solve_routing(prob, time_limit=1)
    assert validate(prob, plan).ok
    assert {a.session: a.provider for a in plan.assignments} == {
        "s-tir": "p-tir",
        "s-ara": "p-near",
        "s-call": "p-tir",
    }
