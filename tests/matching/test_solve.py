"""The full solve: valid plans, honest bounds, no worse than the greedy, pins and hints kept.

Random problems come from `tests.matching.strategies` and stay small: CP-SAT
proves most of them in a few hundredths of a second, so the time limits below
are only a safety net on a busy machine.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings

import matching.solve as solve_module
import matching.strategy as strategy_module
from matching.decompose import Part, decompose, scarce_sessions
from matching.eligibility import Option, compute_eligibility
from matching.greedy import solve_greedy
from matching.model import InfeasibleFixedError, build_model, make_scope, prepare
from matching.phases import Levels, maximise_soft
from matching.problem import (
    UNASSIGNED_REASONS,
    Assignment,
    MatrixTravel,
    Plan,
    Problem,
    Score,
    Unassigned,
)
from matching.solve import solve
from matching.timeline import Timeline
from matching.tuning import DEFAULT_TUNING
from matching.validate import check, validate
from tests.matching.factories import (
    LILLE,
    MONS,
    ROUBAIX,
    TOURNAI,
    at,
    problem,
    provider,
    session,
)
from tests.matching.factories import (
    plan as make_plan,
)
from tests.matching.strategies import problems

FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
FEW = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))


def solved(prob: Problem, **options: Any) -> Plan:
    """The solver's plan after `validate` has found no broken rule and the same score."""
    # These small problems prove in well under a second; the limit is only a cap, wide for
    # a loaded CI machine (tests that assert OPTIMAL failed there at 3 s).
    options.setdefault("time_limit", 30.0)
    options.setdefault("workers", 1)
    plan = solve(prob, **options)
    result = validate(prob, plan)
    assert result.violations == []
    assert result.score == plan.score
    return plan


def levels(score: Score) -> tuple[int, int]:
    return (score.medium, score.soft)


def staffing(plan: Plan) -> dict[str, str]:
    return {a.session: a.provider for a in plan.assignments}


# ---------------------------------------------------------------------------
# Random problems: always valid, always complete, never worse than the greedy
# ---------------------------------------------------------------------------


@FAST
@given(problems())
def test_every_plan_passes_validate_on_random_problems(prob: Problem) -> None:
    solved(prob)


@FEW
@given(problems(matrix=True, max_providers=4, max_sessions=10))
def test_every_plan_passes_validate_with_a_travel_matrix(prob: Problem) -> None:
    solved(prob)


@FAST
@given(problems())
def test_every_session_is_either_assigned_or_has_an_unassigned_reason(prob: Problem) -> None:
    plan = solved(prob)
    assigned = [a.session for a in plan.assignments]
    left = [u.session for u in plan.unassigned]
    assert sorted(assigned + left) == sorted(s.id for s in prob.sessions)
    assert len(set(assigned + left)) == len(prob.sessions)
    for entry in plan.unassigned:
        assert entry.reason in UNASSIGNED_REASONS
        assert entry.detail


@FAST
@given(problems())
def test_pinned_pairs_are_kept_on_random_problems(prob: Problem) -> None:
    plan = solved(prob)
    given_to = staffing(plan)
    for pin in prob.fixed:
        assert given_to.get(pin.session) == pin.provider


@FAST
@given(problems())
def test_the_solver_is_at_least_as_good_as_the_greedy_medium_first_then_soft(
    prob: Problem,
) -> None:
    plan = solved(prob)
    greedy = solve_greedy(prob)
    assert validate(prob, greedy).ok
    assert plan.score.medium >= greedy.score.medium
    if plan.score.medium == greedy.score.medium:
        assert plan.score.soft >= greedy.score.soft


@FAST
@given(problems())
def test_neither_the_plan_nor_the_greedy_plan_beats_the_reported_bound(prob: Problem) -> None:
    plan = solved(prob)
    bound = plan.stats.bound
    assert bound is not None
    assert levels(plan.score) <= (bound.medium, bound.soft)
    # The bound holds for every valid plan, so for the greedy's too.
    assert levels(solve_greedy(prob).score) <= (bound.medium, bound.soft)
    if plan.stats.status == "OPTIMAL":
        assert levels(plan.score) == (bound.medium, bound.soft)


@FEW
@given(problems(max_providers=4, max_sessions=10))
def test_a_tiny_time_limit_still_returns_a_valid_plan_no_worse_than_the_greedy(
    prob: Problem,
) -> None:
    plan = solved(prob, time_limit=0.05)
    greedy = solve_greedy(prob)
    assert levels(plan.score) >= levels(greedy.score)


# ---------------------------------------------------------------------------
# Tiny problems checked against every possible plan
# ---------------------------------------------------------------------------


def without_windows(prob: Problem) -> Problem:
    """The problem with every session at its own start, so that plans can be enumerated."""
    return replace(prob, sessions=tuple(replace(s, window=None) for s in prob.sessions))


def every_valid_plan_score(prob: Problem) -> Iterator[tuple[int, int]]:
    """Medium and soft of every valid plan of a problem without windows."""
    eligibility = compute_eligibility(prob, Timeline.for_problem(prob))
    pinned = {f.session: f.provider for f in prob.fixed}
    choices: list[list[str | None]] = []
    for s_idx, s in enumerate(prob.sessions):
        if s.id in pinned:
            choices.append([pinned[s.id]])
            continue
        options: Sequence[Option] = eligibility.options.get(s_idx, ())
        choices.append([None, *(prob.providers[o.provider].id for o in options)])
    for combo in itertools.product(*choices):
        assignments = [
            Assignment(s.id, p, s.start) for s, p in zip(prob.sessions, combo, strict=True) if p
        ]
        unassigned = [
            Unassigned(s.id, "capacity", "-")
            for s, p in zip(prob.sessions, combo, strict=True)
            if p is None
        ]
        result = check(prob, assignments, unassigned)
        if result.ok:
            yield levels(result.score)


@FAST
@given(problems(max_providers=3, max_sessions=5).map(without_windows))
def test_on_tiny_problems_the_solver_finds_the_best_plan_and_no_plan_beats_its_bound(
    prob: Problem,
) -> None:
    plan = solved(prob)
    best = max(every_valid_plan_score(prob))
    assert plan.stats.bound is not None
    assert best <= (plan.stats.bound.medium, plan.stats.bound.soft)
    assert plan.stats.status == "OPTIMAL"
    assert levels(plan.score) == best


# ---------------------------------------------------------------------------
# Decomposition: independent parts add up to the whole
# ---------------------------------------------------------------------------


def two_parts() -> tuple[Problem, Problem]:
    """Arabic work around Lille and Tigrinya work around Tournai: no provider can take both."""
    arabic = problem(
        [provider("p-ara-1"), provider("p-ara-2", living=ROUBAIX)],
        [
            session("s-ara-1"),
            session("s-ara-2", start="2026-12-01 10:30", place=ROUBAIX, priority=2),
            session("s-ara-3", start="2026-12-01 11:30", place=TOURNAI),
            session("s-ara-4", start="2026-12-01 12:00", place=None),
        ],
    )
    tigrinya = problem(
        [
            provider("p-tir-1", languages=("tir",), living=TOURNAI),
            provider("p-tir-2", languages=("tir",), living=MONS, max_minutes_per_day=180),
        ],
        [
            session("s-tir-1", language="tir", place=TOURNAI),
            session("s-tir-2", language="tir", place=MONS, priority=3),
            session("s-tir-3", language="tir", start="2026-12-01 11:00", place=LILLE),
            session(
                "s-tir-4",
                language="tir",
                start="2026-12-01 13:00",
                place=None,
                window=("2026-12-01 10:00", "2026-12-01 15:00"),
                preferred_providers=frozenset({"p-tir-2"}),
            ),
        ],
    )
    return arabic, tigrinya


def union(a: Problem, b: Problem) -> Problem:
    return replace(a, providers=a.providers + b.providers, sessions=a.sessions + b.sessions)


def _everything_in_one_part(options: Mapping[int, Sequence[Option]]) -> list[Part]:
    parts = decompose(options)
    if len(parts) <= 1:
        return parts
    return [
        Part(
            tuple(sorted(s for p in parts for s in p.sessions)),
            tuple(sorted({q for p in parts for q in p.providers})),
            sum(p.size for p in parts),
        )
    ]


@contextmanager
def whole() -> Iterator[None]:
    """Solve every problem as one model, as if it had no independent parts."""
    with mock.patch.object(solve_module, "decompose", _everything_in_one_part):
        yield


APART = replace(DEFAULT_TUNING, bundle_up_to=0)
"""Solve every independent part as a model of its own (no bundling of small parts)."""


def test_the_hand_made_problem_has_two_independent_parts() -> None:
    arabic, tigrinya = two_parts()
    prob = union(arabic, tigrinya)
    parts = decompose(compute_eligibility(prob).options)
    assert len(parts) == 2


def test_independent_parts_solved_apart_add_up_to_the_whole() -> None:
    arabic, tigrinya = two_parts()
    prob = union(arabic, tigrinya)
    together = solved(prob)
    first, second = solved(arabic), solved(tigrinya)
    with whole():
        one_model = solved(prob)
    two_models = solved(prob, tuning=APART)
    total = (
        first.score.medium + second.score.medium,
        first.score.soft + second.score.soft,
    )
    assert levels(together.score) == total
    assert levels(one_model.score) == total
    assert levels(two_models.score) == total
    for plan in (together, first, second, one_model, two_models):
        assert plan.stats.status == "OPTIMAL"


@FEW
@given(problems())
def test_decomposition_gives_the_same_score_as_one_model_of_the_whole(prob: Problem) -> None:
    parts = solved(prob, tuning=APART)
    with whole():
        one = solved(prob)
    if parts.stats.status == one.stats.status == "OPTIMAL":
        assert levels(parts.score) == levels(one.score)


# ---------------------------------------------------------------------------
# Large groups: neighbourhood search, medium bounded by the scarce sessions
# ---------------------------------------------------------------------------


SEARCHED = replace(DEFAULT_TUNING, full_model_up_to=0, scarce_share=1.0, quiet_limit=20)
"""Solve every group as a large one: neighbourhood search and the scarce-session bound."""


def three_calls_for_two_hours() -> Problem:
    """Any two of the calls fit between 9:00 and 11:00; all three never do."""
    window = ("2026-12-01 09:00", "2026-12-01 10:00")
    return problem(
        [provider()],
        [session(f"s-{k}", start="2026-12-01 09:00", place=None, window=window) for k in (1, 2, 3)],
    )


def test_scarce_sessions_are_taken_a_whole_level_of_options_at_a_time() -> None:
    prob = problem(
        [provider("p-1"), provider("p-2", languages=("ara", "tir"))],
        [
            session("s-both"),
            session("s-tir", language="tir"),
            session("s-ara", excluded_providers=frozenset({"p-2"})),
        ],
    )
    options = compute_eligibility(prob).options
    one_option = [i for i, s in enumerate(prob.sessions) if s.id in ("s-tir", "s-ara")]
    assert len(options) == 3
    assert scarce_sessions(options, options, up_to=1) == one_option
    assert scarce_sessions(options, options, up_to=1_000) == [0, 1, 2]


def test_the_scarce_sessions_prove_what_the_relaxation_cannot() -> None:
    # The relaxation only knows pairs: any two calls fit, so it promises all three.
    prob = three_calls_for_two_hours()
    plan = solved(prob, tuning=SEARCHED)
    assert plan.score.medium == -1
    assert plan.stats.bound is not None
    assert plan.stats.bound.medium == -1
    assert plan.stats.extra["scarce_sessions"] == 3


def test_with_a_travel_matrix_the_scarce_sessions_give_no_bound() -> None:
    # Dropping a session from a route may lengthen it when travel is not a metric.
    prob = replace(three_calls_for_two_hours(), travel=MatrixTravel(points=(), minutes=()))
    plan = solved(prob, time_limit=2.0, tuning=SEARCHED)  # the search cannot prove it
    assert plan.score.medium == -1
    assert plan.stats.bound is not None
    assert plan.stats.bound.medium == 0
    assert "scarce_sessions" not in plan.stats.extra


def test_two_search_threads_share_the_plan_without_breaking_a_rule() -> None:
    arabic, tigrinya = two_parts()
    prob = union(arabic, tigrinya)
    best = solved(prob)
    with whole():
        plan = solved(prob, workers=2, tuning=SEARCHED)
    assert plan.stats.extra["pieces"] > 0
    assert plan.score.medium == best.score.medium


@FEW
@given(problems(max_providers=3, max_sessions=5).map(without_windows))
def test_the_search_never_reports_a_bound_that_a_plan_beats(prob: Problem) -> None:
    plan = solved(prob, tuning=SEARCHED)
    best = max(every_valid_plan_score(prob))
    assert plan.stats.bound is not None
    assert best <= (plan.stats.bound.medium, plan.stats.bound.soft)
    assert plan.stats.bound.medium >= plan.score.medium


# ---------------------------------------------------------------------------
# Hard scopes: the search cuts phase 1's travel before phase 2
# ---------------------------------------------------------------------------


POLISHED = replace(DEFAULT_TUNING, polish_after=0.0, quiet_limit=20)
"""Treat every scope as hard: phase 1's plan is polished by the search before phase 2."""


def test_an_easy_scope_goes_from_phase_1_straight_to_phase_2() -> None:
    plan = solved(union(*two_parts()))
    assert "polished" not in plan.stats.extra


def staffing_nobody(prob: Problem, **options: Any) -> Plan:
    """A greedy that leaves every session out: phase 1 starts from nothing."""
    return replace(solve_greedy(prob, **options), assignments=())


def test_a_hard_scope_is_polished_by_the_search_and_still_solved_to_the_best_plan() -> None:
    prob = union(*two_parts())
    best = solved(prob)
    with whole(), mock.patch.object(solve_module, "solve_greedy", staffing_nobody):
        plan = solved(prob, time_limit=5.0, tuning=POLISHED)
    assert plan.stats.extra["polished"] == 1
    assert plan.stats.extra["pieces"] > 0
    assert levels(plan.score) == levels(best.score)


def staffing_one_less(prob: Problem, **options: Any) -> Plan:
    """A greedy that leaves its last session out: the search has something to gain."""
    plan = solve_greedy(prob, **options)
    return replace(plan, assignments=plan.assignments[:-1])


def test_a_big_scope_is_searched_first_and_still_solved_to_the_best_plan() -> None:
    prob = union(*two_parts())
    best = solved(prob)
    with whole(), mock.patch.object(solve_module, "solve_greedy", staffing_one_less):
        plan = solved(prob, time_limit=5.0, tuning=replace(DEFAULT_TUNING, search_first_from=0))
    assert plan.stats.extra["searched_first"] == 1
    assert plan.stats.extra["pieces"] > 0
    assert levels(plan.score) == levels(best.score)
    assert plan.stats.status == "OPTIMAL"


def test_a_hint_that_reaches_the_cap_spares_phase_1() -> None:
    # The greedy staffs both sessions: its plan meets the relaxation's cap.
    prob = problem(
        [provider("p-lille")], [session("s-1"), session("s-2", start="2026-12-01 12:00")]
    )
    best = solved(prob)
    phase_1 = mock.patch.object(
        strategy_module, "maximise_medium", wraps=strategy_module.maximise_medium
    )
    phase_2 = mock.patch.object(
        strategy_module, "maximise_soft", wraps=strategy_module.maximise_soft
    )
    with phase_1 as medium, phase_2 as soft:
        plan = solved(prob)
    assert (medium.call_count, soft.call_count) == (0, 1)  # phase 2 only
    assert plan.stats.status == "OPTIMAL"
    assert (plan.score.medium, plan.score.soft) == (0, best.score.soft)


def tournai_from_lille_or_mons() -> Problem:
    return problem(
        [provider("p-lille"), provider("p-mons", living=MONS)],
        [session("s-1", place=TOURNAI)],
    )


def test_phase_2_without_time_returns_the_plan_it_starts_from() -> None:
    prob = tournai_from_lille_or_mons()
    prepared = prepare(prob)
    mm = build_model(prepared, make_scope(prepared, [0]))
    [by_mons] = [n for n in mm.scope.nodes if prob.providers[n.provider].id == "p-mons"]
    polished_plan = {0: (by_mons.provider, by_mons.lo)}
    first = Levels(polished_plan, True, 0, -184, 0, mm.soft_optimistic)
    result = maximise_soft(mm, first, time_limit=0.0, workers=1)
    assert result.placement == polished_plan
    assert (result.medium, result.soft) == (0, -184)


def test_the_polished_plan_is_what_comes_back_when_phase_2_has_no_time_left() -> None:
    prob = tournai_from_lille_or_mons()
    by_mons = {0: (1, prepare(prob).timeline.minute(at("2026-12-01 10:00")))}
    handed: list[Mapping[int, tuple[int, int]]] = []

    def polish(run: Any, sessions: Any, placement: Any, seconds: float, cap: int) -> Any:
        handed.append(placement)
        time.sleep(seconds)  # all the time left: phase 2 gets none
        return by_mons

    with (
        mock.patch.object(strategy_module, "improve", polish),
        mock.patch.object(solve_module, "solve_greedy", staffing_nobody),
    ):
        plan = solved(
            prob,
            time_limit=2.0,  # the polish sleeps through all of it
            tuning=replace(DEFAULT_TUNING, polish_share=1.0, polish_after=0.0),
        )
    assert [set(p) for p in handed] == [{0}]  # phase 1's plan, staffed
    assert staffing(plan) == {"s-1": "p-mons"}
    assert plan.stats.extra["polished"] == 1
    assert plan.score.medium == 0


# ---------------------------------------------------------------------------
# Progress and stopping
# ---------------------------------------------------------------------------


def _two_sessions_three_providers() -> Problem:
    return problem(
        [provider("p-1"), provider("p-2", living=ROUBAIX), provider("p-3", living=TOURNAI)],
        [session("s-1"), session("s-2", start="2026-12-01 14:00", place=ROUBAIX)],
    )


def test_progress_hears_of_the_fallback_first_then_of_the_solvers_solutions() -> None:
    heard: list[tuple[str, float, float]] = []
    solved(_two_sessions_three_providers(), progress=lambda *event: heard.append(event))
    assert heard[0] == ("start", 2.0, 2.0)  # the greedy staffs both sessions (priority 1 each)
    assert {phase for phase, _value, _bound in heard} <= {"start", "medium", "soft"}


def test_a_stop_asked_before_the_solve_keeps_the_fallback_and_solves_nothing() -> None:
    prob = _two_sessions_three_providers()
    heard: list[str] = []

    def stop_at_once(phase: str, value: float, bound: float) -> bool:
        heard.append(phase)
        return True

    plan = solved(prob, progress=stop_at_once)
    assert heard == ["start"]
    assert staffing(plan) == staffing(solve_greedy(prob))
    assert plan.stats.extra["parts_not_solved"] == 1


# ---------------------------------------------------------------------------
# Warm start and disruption
# ---------------------------------------------------------------------------


def twins_problem() -> Problem:
    """Two providers who are interchangeable for four calls: every split is equally good."""
    return problem(
        [provider("p-1"), provider("p-2")],
        [
            session("s-1", start="2026-12-01 09:00", place=None),
            session("s-2", start="2026-12-01 09:00", place=None),
            session("s-3", start="2026-12-01 11:00", place=None),
            session("s-4", start="2026-12-01 14:00", place=None),
        ],
    )


def swapped(plan: Plan) -> Plan:
    """The same plan with p-1 and p-2 exchanged."""
    swap = {"p-1": "p-2", "p-2": "p-1"}
    return make_plan([replace(a, provider=swap[a.provider]) for a in plan.assignments])


def test_a_hint_is_kept_when_another_plan_is_equally_good() -> None:
    prob = twins_problem()
    first = solved(prob)
    hint = swapped(first)
    again = solved(prob, hint=hint, disruption_weight=1)
    assert staffing(again) == staffing(hint)
    assert again.score == first.score


def test_disruption_costs_soft_points_only_so_it_never_costs_a_session() -> None:
    # The old plan gave p-1 a routine call; an urgent overlapping call only p-1 can take arrives.
    prob = problem(
        [provider("p-1", languages=("ara", "tir")), provider("p-2")],
        [
            session("s-old", place=None, priority=1),
            session("s-new", start="2026-12-01 10:30", place=None, language="tir", priority=3),
        ],
    )
    hint = make_plan([Assignment("s-old", "p-1", at("2026-12-01 10:00"))])
    plan = solved(prob, hint=hint, disruption_weight=1_000)
    assert staffing(plan) == {"s-new": "p-1", "s-old": "p-2"}
    assert plan.score.medium == 0


@pytest.mark.parametrize(("weight", "chosen"), [(50, "p-far"), (41, "p-near"), (0, "p-near")])
def test_disruption_weight_trades_against_travel_but_is_not_in_the_score(
    weight: int, chosen: str
) -> None:
    # The old plan sent p-far (Roubaix, 42 min there and back); p-near lives at the place.
    prob = problem(
        [provider("p-near"), provider("p-far", living=ROUBAIX)],
        [session("s-1", place=LILLE)],
    )
    hint = make_plan([Assignment("s-1", "p-far", at("2026-12-01 10:00"))])
    plan = solved(prob, hint=hint, disruption_weight=weight)
    assert staffing(plan) == {"s-1": chosen}
    assert plan.score.soft == (-42 if chosen == "p-far" else 0)


def test_a_stale_hint_that_breaks_the_rules_is_only_a_starting_point() -> None:
    prob = problem(
        [provider("p-1"), provider("p-2")],
        [session("s-1", place=None), session("s-2", start="2026-12-01 10:30", place=None)],
    )
    hint = make_plan(
        [
            Assignment("s-1", "p-1", at("2026-12-01 10:00")),
            Assignment("s-2", "p-1", at("2026-12-01 10:30")),  # overlaps s-1
            Assignment("s-gone", "p-1", at("2026-12-01 12:00")),  # no longer exists
            Assignment("s-1", "p-9", at("2026-12-01 10:00")),  # unknown provider
        ]
    )
    plan = solved(prob, hint=hint, disruption_weight=5)
    assert sorted(staffing(plan).values()) == ["p-1", "p-2"]


@FEW
@given(problems())
def test_solving_again_from_the_plan_as_a_hint_keeps_it_as_good(prob: Problem) -> None:
    first = solved(prob)
    again = solved(prob, hint=first, disruption_weight=10)
    # The hint is a valid plan with no disruption: the solver never returns worse.
    assert levels(again.score) >= levels(first.score)
    if first.stats.status == again.stats.status == "OPTIMAL":
        assert levels(again.score) == levels(first.score)
        # Nothing to gain by moving: every hinted session keeps its provider.
        assert staffing(again) == staffing(first)


# ---------------------------------------------------------------------------
# Pinned pairs
# ---------------------------------------------------------------------------


def test_pinned_pairs_are_kept_and_the_rest_is_planned_around_them() -> None:
    prob = problem(
        [provider("p-1"), provider("p-2", living=TOURNAI)],
        [
            session("s-1", place=TOURNAI),
            session("s-2", place=LILLE),
            session("s-3", start="2026-12-01 12:00", place=TOURNAI),
        ],
        fixed=[("s-1", "p-1"), ("s-2", "p-2")],
    )
    plan = solved(prob)
    assert staffing(plan)["s-1"] == "p-1"
    assert staffing(plan)["s-2"] == "p-2"
    assert "s-3" in staffing(plan)


@pytest.mark.parametrize(
    ("sessions", "fixed", "why"),
    [
        (
            [session("s-1", place=None), session("s-2", start="2026-12-01 10:30", place=None)],
            [("s-1", "p-1"), ("s-2", "p-1")],
            "clash",
        ),
        (
            [session("s-1"), session("s-2", start="2026-12-01 11:20", place=TOURNAI)],
            [("s-1", "p-1"), ("s-2", "p-1")],
            "clash",
        ),
        (
            [
                session("s-1", start="2026-12-01 08:00", minutes=240, place=None),
                session("s-2", start="2026-12-01 13:00", minutes=241, place=None),
            ],
            [("s-1", "p-1"), ("s-2", "p-1")],
            "clash",
        ),
    ],
    ids=["overlapping_calls", "no_time_to_drive", "over_the_daily_limit"],
)
def test_pinned_pairs_that_cannot_all_be_kept_raise_a_clear_error(
    sessions: list[Any], fixed: list[tuple[str, str]], why: str
) -> None:
    # A third, harmless pin on another provider is not blamed.
    prob = problem(
        [provider("p-1"), provider("p-2")],
        [*sessions, session("s-other", place=None)],
        fixed=[*fixed, ("s-other", "p-2")],
    )
    with pytest.raises(InfeasibleFixedError) as caught:
        solve(prob, time_limit=2.0, workers=1)
    error = caught.value
    assert {(p.session, p.provider) for p in error.pairs} == set(fixed)
    message = str(error)
    assert "cannot all be kept" in message
    assert why in message
    for s, p in fixed:
        assert f"{s} -> {p}" in message
    assert "s-other" not in message


def test_a_session_pinned_to_two_providers_raises_a_clear_error() -> None:
    prob = problem(
        [provider("p-1"), provider("p-2")],
        [session("s-1", place=None)],
        fixed=[("s-1", "p-1"), ("s-1", "p-2")],
    )
    with pytest.raises(InfeasibleFixedError, match="one session pinned to two providers"):
        solve(prob, time_limit=2.0, workers=1)


def test_a_pin_naming_an_unknown_provider_is_refused() -> None:
    prob = problem([provider("p-1")], [session("s-1", place=None)], fixed=[("s-1", "p-9")])
    with pytest.raises(ValueError, match="unknown id"):
        solve(prob, time_limit=2.0, workers=1)


def test_a_pin_the_static_rules_refuse_raises_naming_the_rule() -> None:
    prob = problem(
        [provider("p-1")], [session("s-1", place=None, language="tir")], fixed=[("s-1", "p-1")]
    )
    with pytest.raises(InfeasibleFixedError, match="rule 2") as caught:
        solve(prob, time_limit=2.0, workers=1)
    assert [(p.session, p.provider) for p in caught.value.pairs] == [("s-1", "p-1")]


def test_confirmed_work_outside_the_providers_availability_is_refused_by_rule_7() -> None:
    # Rule 7 applies to every assignment, pinned or not (docs/problem.md): confirmed work
    # must stay inside the availability the caller sends (the service adds it back).
    hours = (("2026-12-01 08:00", "2026-12-01 10:00"), ("2026-12-01 11:00", "2026-12-01 18:00"))
    removed = problem(
        [provider("p-1", available=hours)],
        [session("s-1", place=None)],
        fixed=[("s-1", "p-1")],
    )
    with pytest.raises(InfeasibleFixedError, match="rule 7") as caught:
        solve(removed, time_limit=2.0, workers=1)
    assert [(p.session, p.provider) for p in caught.value.pairs] == [("s-1", "p-1")]
    # Refused while preparing, before any search spends the time limit.
    with pytest.raises(InfeasibleFixedError, match="rule 7"):
        prepare(removed)
    kept = problem(
        [provider("p-1", available=(("2026-12-01 08:00", "2026-12-01 18:00"),))],
        [session("s-1", place=None)],
        fixed=[("s-1", "p-1")],
    )
    assert staffing(solved(kept)) == {"s-1": "p-1"}
