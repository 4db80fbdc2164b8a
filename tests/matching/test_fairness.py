"""The fairness term: the busiest provider's minutes, weighed against travel when asked."""

from __future__ import annotations

from collections import Counter

from matching.fairness import fairness_penalty, loads, share
from matching.io import problem_from_dict, problem_to_dict
from matching.problem import Problem
from matching.solve import solve
from matching.validate import check, validate
from tests.matching.factories import assign, problem, provider, session

DAYS = (("2026-12-01 08:00", "2026-12-01 18:00"), ("2026-12-02 08:00", "2026-12-02 18:00"))
SLOTS = [f"2026-12-0{day} {hour:02d}:00" for day in (1, 2) for hour in (9, 11, 13, 15, 17)]


def two_equal_providers(weight: int) -> Problem:
    """Ten one-hour phone sessions over two days and two providers who could take any of them."""
    return problem(
        [provider("p-a", available=DAYS), provider("p-b", available=DAYS)],
        [session(f"s-{i}", start=slot, place=None) for i, slot in enumerate(SLOTS)],
        fairness_weight=weight,
    )


def split(plan_assignments: object) -> list[int]:
    counts = Counter(a.provider for a in plan_assignments)  # type: ignore[attr-defined]
    return sorted(counts.values())


def test_with_the_term_on_two_equal_providers_share_ten_sessions_five_and_five() -> None:
    plan = solve(two_equal_providers(1), time_limit=10, workers=1)
    assert len(plan.assignments) == 10
    assert split(plan.assignments) == [5, 5]
    assert plan.stats.extra["fairness"] == {"weight": 1, "largest_load": 300, "penalty": 300}
    assert plan.stats.extra["workload"] == {
        "providers": 2,
        "min": 300,
        "median": 300.0,
        "max": 300,
        "gini": 0.0,
    }


def test_with_the_term_off_any_split_scores_the_same() -> None:
    problem_off = two_equal_providers(0)
    all_to_a = [assign(f"s-{i}", "p-a", slot) for i, slot in enumerate(SLOTS)]
    even = [assign(f"s-{i}", "p-a" if i % 2 else "p-b", slot) for i, slot in enumerate(SLOTS)]
    lopsided, balanced = check(problem_off, all_to_a), check(problem_off, even)
    assert lopsided.ok and balanced.ok
    assert lopsided.score == balanced.score
    assert lopsided.fairness == balanced.fairness == 0

    plan = solve(problem_off, time_limit=10, workers=1)
    assert len(plan.assignments) == 10
    assert plan.score == balanced.score
    assert "fairness" not in plan.stats.extra


def test_the_validator_computes_the_penalty_the_plan_reports() -> None:
    weighted = two_equal_providers(3)
    lopsided = [assign(f"s-{i}", "p-a", slot) for i, slot in enumerate(SLOTS[:7])]
    lopsided += [assign(f"s-{i}", "p-b", slot) for i, slot in enumerate(SLOTS) if i >= 7]
    assert loads(weighted, lopsided) == {"p-a": 420, "p-b": 180}
    assert fairness_penalty(weighted, lopsided) == 3 * 420

    plan = solve(weighted, time_limit=10, workers=1)
    verdict = validate(weighted, plan)
    assert verdict.ok
    assert plan.stats.extra["fairness"]["penalty"] == verdict.fairness == 3 * 300  # type: ignore[index]


def test_the_term_never_costs_a_session_nor_changes_the_score_levels() -> None:
    """Fairness lives beside soft: a lone provider still takes everything they can."""
    lone = problem(
        [provider("p-a", available=DAYS), provider("p-b", languages=("tir",), available=DAYS)],
        [session(f"s-{i}", start=slot, place=None) for i, slot in enumerate(SLOTS)],
        fairness_weight=50,
    )
    plan = solve(lone, time_limit=10, workers=1)
    assert split(plan.assignments) == [10]
    assert plan.score.medium == 0
    assert plan.score.soft == 0


def test_share_figures_min_median_max_and_gini() -> None:
    assert share([0, 0, 0, 600]).as_dict() == {
        "providers": 4,
        "min": 0,
        "median": 0.0,
        "max": 600,
        "gini": 0.75,
    }
    assert share({"a": 120, "b": 60}).gini == round(60 / (2 * 2 * 90), 3)
    assert share([]).providers == 0


def test_the_weight_round_trips_through_the_problem_file() -> None:
    weighted = two_equal_providers(4)
    data = problem_to_dict(weighted)
    assert data["fairness_weight"] == 4
    assert problem_from_dict(data) == weighted
    assert "fairness_weight" not in problem_to_dict(two_equal_providers(0))
