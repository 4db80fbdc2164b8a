"""The greedy baseline: always valid, urgent work first, cheapest insertion."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from matching.greedy import solve_greedy
from matching.problem import Problem
from matching.validate import eligibility_bound, validate
from tests.matching.factories import LILLE, TOURNAI, problem, provider, session
from tests.matching.strategies import problems


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(problems())
def test_greedy_plans_always_pass_validate(prob: Problem) -> None:
    plan = solve_greedy(prob)
    result = validate(prob, plan)
    assert result.violations == []
    assert result.score == plan.score
    listed = [a.session for a in plan.assignments] + [u.session for u in plan.unassigned]
    assert sorted(listed) == sorted(s.id for s in prob.sessions)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(problems(matrix=True, max_providers=3, max_sessions=10))
def test_greedy_plans_pass_validate_with_a_travel_matrix(prob: Problem) -> None:
    assert validate(prob, solve_greedy(prob)).ok


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(problems())
def test_the_eligibility_bound_is_never_below_the_greedy_score(prob: Problem) -> None:
    plan = solve_greedy(prob)
    bound = eligibility_bound(prob)
    assert (bound.medium, bound.soft) >= (plan.score.medium, plan.score.soft)
    assert plan.stats.bound is not None and plan.stats.bound.medium == bound.medium


def test_pinned_pairs_come_first_and_are_kept() -> None:
    # p-1 lives at the place and would cost nothing, but s-1 is pinned to p-2.
    prob = problem(
        [provider("p-1"), provider("p-2", living=TOURNAI)],
        [session("s-1", place=LILLE)],
        fixed=[("s-1", "p-2")],
    )
    plan = solve_greedy(prob)
    assert [(a.session, a.provider) for a in plan.assignments] == [("s-1", "p-2")]
    assert validate(prob, plan).ok


def test_the_more_urgent_session_wins_a_contested_slot() -> None:
    prob = problem(
        [provider()],
        [session("s-1", place=None, priority=1), session("s-2", place=None, priority=3)],
    )
    plan = solve_greedy(prob)
    assert [a.session for a in plan.assignments] == ["s-2"]
    assert [(u.session, u.reason) for u in plan.unassigned] == [("s-1", "capacity")]
    assert "p-1" in plan.unassigned[0].detail


def test_the_nearest_provider_gets_the_onsite_session() -> None:
    prob = problem([provider("p-1"), provider("p-2", living=TOURNAI)], [session(place=TOURNAI)])
    plan = solve_greedy(prob)
    assert plan.assignments[0].provider == "p-2"
    assert plan.score.soft == 0


def test_a_preferred_provider_is_worth_up_to_an_hour_of_driving() -> None:
    # p-1 drives 2 x 37 = 74 minutes, 14 more than the 60-point bonus: p-2 still wins.
    far = session(place=TOURNAI, preferred_providers=frozenset({"p-1"}))
    prob = problem([provider("p-1"), provider("p-2", living=TOURNAI)], [far])
    assert solve_greedy(prob).assignments[0].provider == "p-2"
    # By phone there is no drive, and the preference decides.
    near = session(place=None, preferred_providers=frozenset({"p-2"}))
    prob = problem([provider("p-1"), provider("p-2")], [near])
    assert solve_greedy(prob).assignments[0].provider == "p-2"


def test_a_window_lets_a_session_move_after_a_busy_slot() -> None:
    prob = problem(
        [provider()],
        [
            session("s-1", place=None, priority=3),
            session("s-2", place=None, window=("2026-12-01 10:00", "2026-12-01 12:00")),
        ],
    )
    plan = solve_greedy(prob)
    starts = {a.session: a.start.strftime("%H:%M") for a in plan.assignments}
    assert starts == {"s-1": "10:00", "s-2": "11:00"}
    assert validate(prob, plan).ok


def test_unplaceable_sessions_keep_their_eligibility_reason() -> None:
    prob = problem([provider()], [session(language="som")])
    plan = solve_greedy(prob)
    assert [(u.reason, u.detail) for u in plan.unassigned] == [
        ("no_provider_speaks_language", "nobody speaks 'som'")
    ]
    assert plan.score.medium == -1


def test_a_generated_service_day_stays_valid() -> None:
    from matching_bench.generate import generate_problem

    prob = generate_problem("S", 7)
    plan = solve_greedy(prob)
    assert validate(prob, plan).ok
    assert plan.assignments
