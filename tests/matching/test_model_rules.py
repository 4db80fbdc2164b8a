"""Each `add_*` rule of the CP-SAT model on `build_model` alone, then through `solve()`.

A case is a tiny problem and a plan the rule allows, and a problem and a plan
it forbids (each plan a list of session, provider, start). The plan is
imposed on the model built by `build_model` (or `build_bound_model`, the
relaxation), and CP-SAT says whether the model admits it: no greedy, no
fallback and no validator stand between the rule and the answer. Then:

- without that one `add_*` function the forbidden plan would pass, so the
  rule is what forbids it (except where the variables' own domains do);
- the validator agrees with the model on both plans;
- `solve()` on each problem returns a valid, proven plan no worse than the
  allowed one, and never the forbidden one.

`add_route_variables` and `add_leg_blocks` only make the legs and drive
blocks that the rules below constrain; `add_session_variables` makes the
start variables, whose domains are the start ranges of rule 11.

Travel from a home in Lille: Roubaix 21 min, Tournai 37; Roubaix to Tournai 28.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from unittest import mock

import pytest
from ortools.sat.python import cp_model

import matching.model as model_module
from matching.model import (
    MatchModel,
    Prepared,
    Scope,
    build_bound_model,
    build_model,
    make_scope,
    prepare,
)
from matching.problem import Assignment, Plan, Problem, Unassigned
from matching.solve import solve
from matching.validate import validate
from tests.matching.factories import ROUBAIX, TOURNAI, at, problem, provider, session
from tests.matching.factories import plan as make_plan

PHONE = None
Placed = tuple[tuple[str, str, str], ...]
"""(session, provider, local start on 1 December 2026 or `YYYY-MM-DD HH:MM`)."""
Builder = Callable[[Prepared, Scope], MatchModel]

TWO_DAYS = (("2026-12-01 08:00", "2026-12-01 18:00"), ("2026-12-03 08:00", "2026-12-03 18:00"))


@dataclass(frozen=True)
class Case:
    """A rule, a plan it allows and a plan it forbids."""

    rule: str
    """The `add_*` function of `matching.model` that decides."""
    allows: Problem
    allowed: Placed
    forbids: Problem
    forbidden: Placed
    build: Builder = build_model
    alone: bool = True
    """Whether removing the rule alone lets the forbidden plan through."""


def when(clock: str) -> str:
    return clock if " " in clock else f"2026-12-01 {clock}"


def three_calls_and_tournai(limit: int) -> Problem:
    # Two calls (60 each) and Tournai (60 + 37 + 37): any two fit in 194, all three need 254.
    return problem(
        [provider(max_minutes_per_day=limit)],
        [
            session("s-1", start="2026-12-01 08:00", place=PHONE),
            session("s-2", start="2026-12-01 09:30", place=PHONE),
            session("s-3", start="2026-12-01 12:00", place=TOURNAI),
        ],
    )


def roubaix_tournai_and_a_call(limit: int) -> Problem:
    # One round trip Roubaix -> Tournai: 180 session minutes and 21 + 28 + 37 of driving.
    return problem(
        [provider(max_minutes_per_day=limit)],
        [
            session("s-1", place=ROUBAIX),
            session("s-2", start="2026-12-01 12:00", place=TOURNAI),
            session("s-3", start="2026-12-01 14:00", place=PHONE),
        ],
    )


def tournai_a_call_and_lille(lille: str) -> Problem:
    return problem(
        [provider()],
        [
            session("s-1", place=TOURNAI),
            session("s-2", start="2026-12-01 11:00", place=PHONE),
            session("s-3", start=f"2026-12-01 {lille}"),
        ],
    )


def calls_on_tuesday_and_thursday(week_limit: int) -> Problem:
    return problem(
        [provider(available=TWO_DAYS, max_minutes_per_week=week_limit)],
        [
            session("s-tue", start="2026-12-01 10:00", place=PHONE),
            session("s-thu", start="2026-12-03 10:00", place=PHONE),
        ],
    )


ONE_CALL_TWO_PROVIDERS = problem([provider("p-1"), provider("p-2")], [session("s-1", place=PHONE)])
PINNED_CALL = problem([provider()], [session("s-1", place=PHONE)], fixed=[("s-1", "p-1")])
CALL_WITH_A_WINDOW = problem(
    [provider()], [session("s-1", place=PHONE, window=("2026-12-01 10:00", "2026-12-01 11:00"))]
)
A_CALL_AND_A_MOVABLE_CALL = problem(
    [provider()],
    [
        session("s-1", place=PHONE),
        session("s-2", place=PHONE, window=("2026-12-01 10:00", "2026-12-01 11:00")),
    ],
)
TWO_OVERLAPPING_CALLS = problem(
    [provider()],
    [session("s-1", place=PHONE), session("s-2", start="2026-12-01 10:30", place=PHONE)],
)
LILLE_THEN_TOURNAI_IN_A_WINDOW = problem(
    [provider()],
    [
        session("s-1"),
        session("s-2", place=TOURNAI, window=("2026-12-01 11:00", "2026-12-01 12:00")),
    ],
)
TOURNAI_A_MOVABLE_CALL_AND_LILLE = problem(
    [provider()],
    [
        session("s-1", place=TOURNAI),
        session("s-2", place=PHONE, window=("2026-12-01 11:00", "2026-12-01 12:00")),
        session("s-3", start="2026-12-01 12:40"),
    ],
)

EVERY_SESSION = (("s-1", "p-1", "08:00"), ("s-2", "p-1", "09:30"), ("s-3", "p-1", "12:00"))
ROUND_TRIP = (("s-1", "p-1", "10:00"), ("s-2", "p-1", "12:00"), ("s-3", "p-1", "14:00"))
TOURNAI_CALL_LILLE = (("s-1", "p-1", "10:00"), ("s-2", "p-1", "11:00"))

CASES = [
    Case(
        "add_one_provider_per_session",
        ONE_CALL_TWO_PROVIDERS,
        (("s-1", "p-2", "10:00"),),
        ONE_CALL_TWO_PROVIDERS,
        (("s-1", "p-1", "10:00"), ("s-1", "p-2", "10:00")),
    ),
    Case("add_pinned_pairs", PINNED_CALL, (("s-1", "p-1", "10:00"),), PINNED_CALL, ()),
    Case(
        "add_session_variables",
        CALL_WITH_A_WINDOW,
        (("s-1", "p-1", "11:00"),),
        CALL_WITH_A_WINDOW,
        (("s-1", "p-1", "11:15"),),
        alone=False,
    ),
    Case(
        "add_no_overlap_per_provider",
        A_CALL_AND_A_MOVABLE_CALL,
        (("s-1", "p-1", "10:00"), ("s-2", "p-1", "11:00")),
        A_CALL_AND_A_MOVABLE_CALL,
        (("s-1", "p-1", "10:00"), ("s-2", "p-1", "10:30")),
    ),
    Case(
        "add_incompatible_sessions",
        TWO_OVERLAPPING_CALLS,
        (("s-2", "p-1", "10:30"),),
        TWO_OVERLAPPING_CALLS,
        (("s-1", "p-1", "10:00"), ("s-2", "p-1", "10:30")),
        build=build_bound_model,
    ),
    Case(
        "add_day_circuit",
        roubaix_tournai_and_a_call(266),
        ROUND_TRIP,
        roubaix_tournai_and_a_call(265),
        ROUND_TRIP,
    ),
    Case(
        "add_leg_order",
        LILLE_THEN_TOURNAI_IN_A_WINDOW,
        (("s-1", "p-1", "10:00"), ("s-2", "p-1", "11:37")),
        LILLE_THEN_TOURNAI_IN_A_WINDOW,
        (("s-1", "p-1", "10:00"), ("s-2", "p-1", "11:36")),
    ),
    Case(
        "add_leg_clear_of_other_work",
        tournai_a_call_and_lille("12:37"),
        (*TOURNAI_CALL_LILLE, ("s-3", "p-1", "12:37")),
        tournai_a_call_and_lille("12:20"),
        (*TOURNAI_CALL_LILLE, ("s-3", "p-1", "12:20")),
    ),
    Case(
        # A movable call: the drive gets a block of its own, kept between its two ends.
        "add_leg_clear_of_other_work",
        TOURNAI_A_MOVABLE_CALL_AND_LILLE,
        (("s-1", "p-1", "10:00"), ("s-2", "p-1", "11:40"), ("s-3", "p-1", "12:40")),
        TOURNAI_A_MOVABLE_CALL_AND_LILLE,
        (("s-1", "p-1", "10:00"), ("s-2", "p-1", "11:20"), ("s-3", "p-1", "12:40")),
        alone=False,
    ),
    Case(
        "add_daily_minutes",
        three_calls_and_tournai(254),
        EVERY_SESSION,
        three_calls_and_tournai(253),
        EVERY_SESSION,
    ),
    Case(
        "add_weekly_minutes",
        calls_on_tuesday_and_thursday(120),
        (("s-tue", "p-1", "10:00"), ("s-thu", "p-1", "2026-12-03 10:00")),
        calls_on_tuesday_and_thursday(119),
        (("s-tue", "p-1", "10:00"), ("s-thu", "p-1", "2026-12-03 10:00")),
    ),
    Case(
        # The relaxation charges Tournai its cheapest leg in and out: 2 x 254 > 2 x 200,
        # while every pair fits in 200 (so no clique of incompatible sessions says no).
        "add_least_minutes",
        three_calls_and_tournai(200),
        (("s-1", "p-1", "08:00"), ("s-3", "p-1", "12:00")),
        three_calls_and_tournai(200),
        EVERY_SESSION,
        build=build_bound_model,
    ),
]
IDS = [f"{c.rule}-{k}" for k, c in enumerate(CASES)]


def admits(prob: Problem, placed: Placed, build: Builder) -> bool:
    """Whether the model of the whole problem admits exactly this plan (nothing else staffed)."""
    prepared = prepare(prob)
    mm = build(prepared, make_scope(prepared, range(len(prob.sessions))))
    sessions = {s.id: i for i, s in enumerate(prob.sessions)}
    providers = {p.id: i for i, p in enumerate(prob.providers)}
    wanted: dict[int, dict[int, int]] = defaultdict(dict)
    for s_id, p_id, clock in placed:
        wanted[sessions[s_id]][providers[p_id]] = prepared.timeline.minute(at(when(clock)))
    for s_idx in range(len(prob.sessions)):
        nodes = mm.by_session.get(s_idx, [])
        for p_idx, minute in wanted[s_idx].items():
            mine = [n for n in nodes if n.provider == p_idx]
            if not mine:
                return False
            mm.model.add(sum(mm.presence[n.index] for n in mine) == 1)
            for n in mine:
                if n.index in mm.start:
                    start = mm.start[n.index]
                    mm.model.add(start == minute).only_enforce_if(mm.presence[n.index])
                elif not n.lo <= minute <= n.hi:
                    mm.model.add(mm.presence[n.index] == 0)
        for n in nodes:
            if n.provider not in wanted[s_idx]:
                mm.model.add(mm.presence[n.index] == 0)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = 20.0
    solver.parameters.num_workers = 1
    status = solver.solve(mm.model)
    assert status != cp_model.UNKNOWN, "the tiny model should be decided at once"
    return status in (cp_model.OPTIMAL, cp_model.FEASIBLE)


def as_plan(prob: Problem, placed: Placed) -> Plan:
    staffed = {s for s, _, _ in placed}
    return make_plan(
        [Assignment(s, p, at(when(clock))) for s, p, clock in placed],
        [Unassigned(s.id, "capacity", "-") for s in prob.sessions if s.id not in staffed],
    )


def placements(placed: Placed) -> set[tuple[str, str, datetime]]:
    return {(s, p, at(when(clock))) for s, p, clock in placed}


ALONE = [c for c in CASES if c.alone]
ALONE_IDS = [i for i, c in zip(IDS, CASES, strict=True) if c.alone]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_model_admits_the_plan_the_rule_allows(case: Case) -> None:
    assert admits(case.allows, case.allowed, case.build)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_model_refuses_the_plan_the_rule_forbids(case: Case) -> None:
    assert not admits(case.forbids, case.forbidden, case.build)


@pytest.mark.parametrize("case", ALONE, ids=ALONE_IDS)
def test_without_the_rule_the_forbidden_plan_would_pass(case: Case) -> None:
    with mock.patch.object(model_module, case.rule, lambda *args, **kwargs: None):
        assert admits(case.forbids, case.forbidden, case.build)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_validator_agrees_with_the_model(case: Case) -> None:
    assert validate(case.allows, as_plan(case.allows, case.allowed)).ok
    assert not validate(case.forbids, as_plan(case.forbids, case.forbidden)).ok


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_solve_keeps_the_rule(case: Case) -> None:
    for prob, placed, allowed in (
        (case.allows, case.allowed, True),
        (case.forbids, case.forbidden, False),
    ):
        # Proven in milliseconds; the limit is only a cap (a loaded CI machine once hit 3 s).
        plan = solve(prob, time_limit=30.0, workers=1)
        checked = validate(prob, plan)
        assert checked.ok and checked.score == plan.score
        assert plan.stats.status == "OPTIMAL"
        if allowed:
            assert plan.score >= validate(prob, as_plan(prob, placed)).score
        elif placed:
            given = {(a.session, a.provider, a.start) for a in plan.assignments}
            assert not placements(placed) <= given
