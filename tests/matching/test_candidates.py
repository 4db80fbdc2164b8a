"""Candidates: every provider, feasible ones by added cost, refusals with their rule."""

from __future__ import annotations

import time

from matching.candidates import rank_candidates
from matching.greedy import solve_greedy
from tests.matching.factories import LILLE, MONS, TOURNAI, assign, plan, problem, provider, session


def test_feasible_providers_come_first_cheapest_first() -> None:
    prob = problem(
        [
            provider("p-lille"),
            provider("p-tournai", living=TOURNAI),
            provider("p-tir", languages=("tir",)),
        ],
        [session(place=TOURNAI)],
    )
    ranked = rank_candidates(prob, plan([]), "s-1")
    assert [(c.provider, c.feasible, c.cost) for c in ranked] == [
        ("p-tournai", True, 0),
        ("p-lille", True, 74),
        ("p-tir", False, None),
    ]
    assert ranked[0].start is not None and ranked[0].start.strftime("%H:%M") == "10:00"
    assert (ranked[2].rule, ranked[2].code) == (2, "language")
    assert ranked[2].detail == "p-tir does not speak 'ara'"


def test_the_preferred_bonus_lowers_the_cost() -> None:
    prob = problem(
        [provider("p-1"), provider("p-2")],
        [session(place=None, preferred_providers=frozenset({"p-2"}))],
    )
    ranked = rank_candidates(prob, plan([]), "s-1")
    assert [(c.provider, c.cost, c.preferred) for c in ranked] == [
        ("p-2", -60, True),
        ("p-1", 0, False),
    ]


def test_the_session_is_taken_out_of_the_plan_first() -> None:
    prob = problem([provider("p-1"), provider("p-2")], [session(place=None)])
    current = plan([assign("s-1", "p-1", "2026-12-01 10:00")])
    ranked = rank_candidates(prob, current, "s-1")
    assert [(c.provider, c.feasible, c.current) for c in ranked] == [
        ("p-1", True, True),
        ("p-2", True, False),
    ]


def test_a_conflict_with_the_current_day_is_explained() -> None:
    prob = problem(
        [
            provider("p-busy"),
            provider("p-long-day", max_minutes_per_day=100),
            provider("p-far", living=MONS, max_travel_minutes=30),
        ],
        [session("s-1", place=LILLE), session("s-2", place=TOURNAI, start="2026-12-01 10:30")],
    )
    current = plan(
        [
            assign("s-1", "p-busy", "2026-12-01 10:00"),
            assign("s-1", "p-long-day", "2026-12-01 10:00"),
        ]
    )
    by_provider = {c.provider: c for c in rank_candidates(prob, current, "s-2")}
    assert (by_provider["p-busy"].rule, by_provider["p-busy"].code) == (9, "overlap")
    assert by_provider["p-busy"].detail == "p-busy already has s-1 from 10:00 to 11:00"
    assert (by_provider["p-long-day"].rule, by_provider["p-long-day"].code) == (10, "daily_minutes")
    assert (by_provider["p-far"].rule, by_provider["p-far"].code) == (8, "travel_range")


def test_a_drive_that_does_not_fit_is_rule_9() -> None:
    # Tournai at 10:30 right after Lille until 10:00 (needs 37 minutes).
    prob = problem(
        [provider()],
        [
            session("s-1", start="2026-12-01 09:00", place=LILLE),
            session("s-2", start="2026-12-01 10:30", place=TOURNAI),
        ],
    )
    current = plan([assign("s-1", "p-1", "2026-12-01 09:00")])
    (only,) = rank_candidates(prob, current, "s-2")
    assert (only.feasible, only.rule, only.code) == (False, 9, "drive")


def test_a_window_finds_the_start_that_fits() -> None:
    prob = problem(
        [provider()],
        [
            session("s-1", start="2026-12-01 09:00", place=LILLE),
            session(
                "s-2",
                start="2026-12-01 10:00",
                place=TOURNAI,
                window=("2026-12-01 09:30", "2026-12-01 12:00"),
            ),
        ],
    )
    current = plan([assign("s-1", "p-1", "2026-12-01 09:00")])
    (only,) = rank_candidates(prob, current, "s-2")
    assert only.feasible and only.start is not None
    assert only.start.strftime("%H:%M") == "10:37"  # the end of s-1 plus the drive


def test_a_pinned_session_refuses_everyone_else_with_rule_1() -> None:
    prob = problem(
        [provider("p-1"), provider("p-2")], [session(place=None)], fixed=[("s-1", "p-2")]
    )
    ranked = rank_candidates(prob, plan([assign("s-1", "p-2", "2026-12-01 10:00")]), "s-1")
    assert [(c.provider, c.feasible, c.rule, c.code) for c in ranked] == [
        ("p-2", True, None, None),
        ("p-1", False, 1, "fixed"),
    ]


def test_refusals_closest_to_feasible_come_first() -> None:
    prob = problem(
        [
            provider("p-language", languages=("tir",)),
            provider("p-country", countries=frozenset({"FR"})),
            provider("p-range", living=MONS, max_travel_minutes=30),
            provider("p-time", available=(("2026-12-02 08:00", "2026-12-02 18:00"),)),
        ],
        [session(place=TOURNAI)],
    )
    ranked = rank_candidates(prob, plan([]), "s-1")
    assert [c.code for c in ranked] == ["availability", "travel_range", "country", "language"]


def test_ranking_a_session_of_a_whole_service_is_quick() -> None:
    from matching_bench.generate import generate_problem

    prob = generate_problem("M", 2)  # 400 sessions, 120 providers
    current = solve_greedy(prob)
    began = time.perf_counter()
    for s in prob.sessions[:20]:
        ranked = rank_candidates(prob, current, s.id)
        assert len(ranked) == len(prob.providers)
    assert (time.perf_counter() - began) / 20 < 0.25
