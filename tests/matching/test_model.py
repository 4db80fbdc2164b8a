"""The CP-SAT model, one rule at a time: a tiny problem it allows and a twin it forbids.

Every problem goes through the public entry point (`matching.solve.solve`) and
every plan it returns is checked by `validate`. Tiny problems are proven
optimal in milliseconds, so each test can say exactly which plan is best.
`test_model_rules.py` checks each `add_*` function on the model alone.

Travel (haversine defaults, from a home in Lille): Roubaix 21 min, Mouscron 28,
Tournai 37, Mons 92. Every provider speaks Arabic and lives in Lille unless a
test says otherwise; every session is a one-hour onsite session in Lille at
10:00 on Tuesday 1 December 2026 unless a test says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from matching.problem import Plan, Problem, Requirements
from matching.solve import solve
from matching.validate import validate
from tests.matching.factories import (
    LILLE,
    MONS,
    MOUSCRON,
    ROUBAIX,
    TOURNAI,
    at,
    problem,
    provider,
    session,
)

PHONE = None
"""`place=PHONE` makes a session a phone call."""


def solved(prob: Problem, **options: Any) -> Plan:
    """The solver's plan, checked: valid, honestly scored, proven on these tiny problems."""
    # They prove in milliseconds; the limit is only a cap, wide for a loaded CI machine.
    options.setdefault("time_limit", 30.0)
    options.setdefault("workers", 1)
    plan = solve(prob, **options)
    result = validate(prob, plan)
    assert result.violations == []
    assert result.score == plan.score
    listed = [a.session for a in plan.assignments] + [u.session for u in plan.unassigned]
    assert sorted(listed) == sorted(s.id for s in prob.sessions)
    assert all(u.detail for u in plan.unassigned)
    assert plan.stats.status == "OPTIMAL"
    assert plan.stats.bound is not None
    assert (plan.stats.bound.medium, plan.stats.bound.soft) == (plan.score.medium, plan.score.soft)
    return plan


def staffing(plan: Plan) -> dict[str, str]:
    return {a.session: a.provider for a in plan.assignments}


def reasons(plan: Plan) -> dict[str, str]:
    return {u.session: u.reason for u in plan.unassigned}


def starts(plan: Plan) -> dict[str, datetime]:
    return {a.session: a.start for a in plan.assignments}


# ---------------------------------------------------------------------------
# Rule 1: one provider per session
# ---------------------------------------------------------------------------


def test_a_session_gets_exactly_one_provider_even_when_several_could_take_it() -> None:
    prob = problem([provider("p-1"), provider("p-2"), provider("p-3")], [session("s-1")])
    plan = solved(prob)
    assert [a.session for a in plan.assignments] == ["s-1"]
    assert plan.unassigned == ()


def test_two_sessions_at_the_same_time_go_to_two_different_providers() -> None:
    prob = problem(
        [provider("p-1"), provider("p-2")],
        [session("s-1", place=PHONE), session("s-2", place=PHONE)],
    )
    plan = solved(prob)
    assert sorted(staffing(plan).values()) == ["p-1", "p-2"]


# ---------------------------------------------------------------------------
# Rule 9: no overlap per provider
# ---------------------------------------------------------------------------


def test_a_provider_takes_two_calls_back_to_back() -> None:
    prob = problem(
        [provider()],
        [session("s-1", place=PHONE), session("s-2", start="2026-12-01 11:00", place=PHONE)],
    )
    assert staffing(solved(prob)) == {"s-1": "p-1", "s-2": "p-1"}


def test_a_provider_cannot_take_two_calls_that_overlap_by_one_minute() -> None:
    prob = problem(
        [provider()],
        [session("s-1", place=PHONE), session("s-2", start="2026-12-01 10:59", place=PHONE)],
    )
    plan = solved(prob)
    assert len(plan.assignments) == 1
    [left] = plan.unassigned
    assert left.reason == "capacity"
    assert "p-1" in left.detail


def test_overlapping_calls_are_split_between_two_providers() -> None:
    prob = problem(
        [provider("p-1"), provider("p-2")],
        [session("s-1", place=PHONE), session("s-2", start="2026-12-01 10:30", place=PHONE)],
    )
    plan = solved(prob)
    assert sorted(staffing(plan).values()) == ["p-1", "p-2"]


# ---------------------------------------------------------------------------
# Rule 9: travel between consecutive onsite sessions, and the day's circuit
# ---------------------------------------------------------------------------


def test_a_provider_can_drive_to_the_next_session_when_the_gap_equals_the_drive() -> None:
    # Lille 10:00-11:00, then Tournai (37 min away) at 11:37.
    prob = problem(
        [provider()],
        [session("s-1"), session("s-2", start="2026-12-01 11:37", place=TOURNAI)],
    )
    plan = solved(prob)
    assert staffing(plan) == {"s-1": "p-1", "s-2": "p-1"}
    assert plan.score.soft == -(37 + 37)


def test_a_provider_cannot_drive_from_one_session_to_the_next_in_too_little_time() -> None:
    # The same, one minute short: the cheaper Lille session is kept.
    prob = problem(
        [provider()],
        [session("s-1"), session("s-2", start="2026-12-01 11:36", place=TOURNAI)],
    )
    plan = solved(prob)
    assert staffing(plan) == {"s-1": "p-1"}
    assert reasons(plan) == {"s-2": "capacity"}


def test_the_next_session_goes_to_another_provider_when_the_first_cannot_get_there() -> None:
    prob = problem(
        [provider("p-1"), provider("p-2", living=TOURNAI)],
        [session("s-1"), session("s-2", start="2026-12-01 11:20", place=TOURNAI)],
    )
    plan = solved(prob)
    assert staffing(plan) == {"s-1": "p-1", "s-2": "p-2"}
    assert plan.score.soft == 0


def test_a_drive_between_two_onsite_sessions_cannot_overlap_a_call() -> None:
    # Tournai 10-11, a call 11-12, Lille at 12:20: no 37-minute block is free.
    # Dropping Tournai (74 min of driving) is the best of the three pairs.
    prob = problem(
        [provider()],
        [
            session("s-1", place=TOURNAI),
            session("s-2", start="2026-12-01 11:00", place=PHONE),
            session("s-3", start="2026-12-01 12:20", place=LILLE),
        ],
    )
    plan = solved(prob)
    assert staffing(plan) == {"s-2": "p-1", "s-3": "p-1"}
    assert reasons(plan) == {"s-1": "capacity"}


def test_a_drive_between_two_onsite_sessions_may_follow_a_call_when_the_gap_is_long_enough() -> (
    None
):
    prob = problem(
        [provider()],
        [
            session("s-1", place=TOURNAI),
            session("s-2", start="2026-12-01 11:00", place=PHONE),
            session("s-3", start="2026-12-01 12:37", place=LILLE),
        ],
    )
    plan = solved(prob)
    assert staffing(plan) == {"s-1": "p-1", "s-2": "p-1", "s-3": "p-1"}
    assert plan.score.soft == -(37 + 37)


@pytest.mark.parametrize(
    ("window", "staffed"),
    [
        (("2026-12-01 11:00", "2026-12-01 12:00"), {"s-1", "s-2", "s-3"}),
        (("2026-12-01 11:10", "2026-12-01 11:30"), {"s-2", "s-3"}),
    ],
    ids=["call_can_move_to_an_end_of_the_gap", "call_splits_the_gap_wherever_it_goes"],
)
def test_a_movable_call_is_placed_to_leave_one_block_for_the_drive(
    window: tuple[str, str], staffed: set[str]
) -> None:
    # Tournai 10-11, Lille at 12:40: 100 minutes for a 60-minute call and a 37-minute drive.
    prob = problem(
        [provider()],
        [
            session("s-1", place=TOURNAI),
            session("s-2", start=window[0], place=PHONE, window=window),
            session("s-3", start="2026-12-01 12:40", place=LILLE),
        ],
    )
    plan = solved(prob)
    assert set(staffing(plan)) == staffed


def test_a_provider_may_drive_out_before_a_morning_call_and_take_it_on_site() -> None:
    # The drive from home may happen at any time: before the 9:00 call, not
    # in the zero minutes between the call and the Tournai session.
    prob = problem(
        [provider()],
        [
            session("s-1", start="2026-12-01 09:00", place=PHONE),
            session("s-2", start="2026-12-01 10:00", place=TOURNAI),
        ],
    )
    plan = solved(prob)
    assert staffing(plan) == {"s-1": "p-1", "s-2": "p-1"}
    assert plan.score.soft == -(37 + 37)


def test_a_day_is_one_round_trip_from_home_through_every_onsite_session() -> None:
    # Home (Lille) -> Roubaix -> Tournai -> home: 21 + 28 + 37, not two round trips.
    prob = problem(
        [provider()],
        [
            session("s-1", place=ROUBAIX),
            session("s-2", start="2026-12-01 12:00", place=TOURNAI),
        ],
    )
    plan = solved(prob)
    assert staffing(plan) == {"s-1": "p-1", "s-2": "p-1"}
    assert plan.score.soft == -(21 + 28 + 37)


def test_a_call_between_two_sessions_at_the_same_place_costs_no_extra_travel() -> None:
    prob = problem(
        [provider()],
        [
            session("s-1", place=TOURNAI),
            session("s-2", start="2026-12-01 11:00", place=PHONE),
            session("s-3", start="2026-12-01 12:00", place=TOURNAI),
        ],
    )
    plan = solved(prob)
    assert len(plan.assignments) == 3
    assert plan.score.soft == -(37 + 37)


def test_the_round_trip_from_home_is_the_travel_cost() -> None:
    prob = problem([provider(living=TOURNAI)], [session("s-1", place=LILLE)])
    assert solved(prob).score.soft == -(37 + 37)


def test_the_provider_living_nearer_is_chosen_for_less_travel() -> None:
    prob = problem(
        [provider("p-far", living=TOURNAI), provider("p-near", living=MOUSCRON)],
        [session("s-1", place=ROUBAIX)],
    )
    plan = solved(prob)
    assert staffing(plan) == {"s-1": "p-near"}
    assert plan.score.soft == -(14 + 14)


# ---------------------------------------------------------------------------
# Rule 10: daily and weekly minutes, travel included
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("limit", "both"), [(194, True), (193, False)])
def test_the_daily_limit_counts_the_drives_from_and_to_home(limit: int, both: bool) -> None:
    # A call (60) and a session in Tournai (60 + 37 + 37): 194 minutes in all.
    # Each fits alone, so eligibility lets both through: the model decides.
    prob = problem(
        [provider(max_minutes_per_day=limit)],
        [
            session("s-1", start="2026-12-01 08:00", place=PHONE),
            session("s-2", start="2026-12-01 12:00", place=TOURNAI),
        ],
    )
    plan = solved(prob)
    if both:
        assert staffing(plan) == {"s-1": "p-1", "s-2": "p-1"}
    else:
        assert staffing(plan) == {"s-1": "p-1"}
        assert reasons(plan) == {"s-2": "capacity"}


@pytest.mark.parametrize(("limit", "both"), [(206, True), (205, False)])
def test_the_daily_limit_counts_the_drive_between_sessions(limit: int, both: bool) -> None:
    # Roubaix then Tournai: 120 session minutes and 21 + 28 + 37 of driving.
    prob = problem(
        [provider(max_minutes_per_day=limit)],
        [session("s-1", place=ROUBAIX), session("s-2", start="2026-12-01 12:00", place=TOURNAI)],
    )
    plan = solved(prob)
    assert len(plan.assignments) == (2 if both else 1)
    assert set(reasons(plan).values()) <= {"capacity"}


@pytest.mark.parametrize(("limit", "staffed"), [(254, 3), (253, 2)])
def test_the_daily_limit_caps_the_whole_day_not_just_each_pair(limit: int, staffed: int) -> None:
    # Two calls (60 each) and Tournai (60 + 37 + 37): any two fit, all three need 254.
    prob = problem(
        [provider(max_minutes_per_day=limit)],
        [
            session("s-1", start="2026-12-01 08:00", place=PHONE),
            session("s-2", start="2026-12-01 09:30", place=PHONE),
            session("s-3", start="2026-12-01 12:00", place=TOURNAI),
        ],
    )
    plan = solved(prob)
    assert len(plan.assignments) == staffed
    if staffed == 2:
        assert reasons(plan) == {"s-3": "capacity"}


TWO_DAYS = (("2026-12-01 08:00", "2026-12-01 18:00"), ("2026-12-03 08:00", "2026-12-03 18:00"))
SUNDAY_MONDAY = (("2026-12-06 08:00", "2026-12-06 18:00"), ("2026-12-07 08:00", "2026-12-07 18:00"))


@pytest.mark.parametrize(("limit", "both"), [(120, True), (119, False)])
def test_the_weekly_limit_sums_the_days_of_one_iso_week(limit: int, both: bool) -> None:
    prob = problem(
        [provider(available=TWO_DAYS, max_minutes_per_week=limit)],
        [
            session("s-tue", start="2026-12-01 10:00", place=PHONE),
            session("s-thu", start="2026-12-03 10:00", place=PHONE),
        ],
    )
    plan = solved(prob)
    assert len(plan.assignments) == (2 if both else 1)
    assert set(reasons(plan).values()) <= {"capacity"}


def test_the_weekly_limit_counts_travel_too() -> None:
    # Tournai on Tuesday costs 60 + 74; a Thursday call (60) no longer fits in 193.
    prob = problem(
        [provider(available=TWO_DAYS, max_minutes_per_week=193)],
        [
            session("s-tue", start="2026-12-01 10:00", place=TOURNAI, priority=2),
            session("s-thu", start="2026-12-03 10:00", place=PHONE),
        ],
    )
    plan = solved(prob)
    assert staffing(plan) == {"s-tue": "p-1"}
    assert reasons(plan) == {"s-thu": "capacity"}


def test_sunday_and_monday_fall_in_two_iso_weeks_with_a_limit_each() -> None:
    prob = problem(
        [provider(available=SUNDAY_MONDAY, max_minutes_per_week=60)],
        [
            session("s-sun", start="2026-12-06 10:00", place=PHONE),
            session("s-mon", start="2026-12-07 10:00", place=PHONE),
        ],
    )
    assert staffing(solved(prob)) == {"s-sun": "p-1", "s-mon": "p-1"}


# ---------------------------------------------------------------------------
# Rule 11: windows become start ranges
# ---------------------------------------------------------------------------


def test_a_session_without_a_window_starts_at_its_start() -> None:
    plan = solved(problem([provider()], [session("s-1", start="2026-12-01 10:15")]))
    assert starts(plan) == {"s-1": at("2026-12-01 10:15")}


def test_a_windowed_session_moves_inside_its_window_to_fit_the_providers_hours() -> None:
    prob = problem(
        [provider(available=(("2026-12-01 10:30", "2026-12-01 12:00"),))],
        [session("s-1", place=PHONE, window=("2026-12-01 09:00", "2026-12-01 11:00"))],
    )
    plan = solved(prob)
    assert at("2026-12-01 10:30") <= starts(plan)["s-1"] <= at("2026-12-01 11:00")


@pytest.mark.parametrize(
    "window",
    [None, ("2026-12-01 09:00", "2026-12-01 10:29")],
    ids=["no_window", "window_closes_before_the_provider_starts"],
)
def test_a_session_that_cannot_start_inside_the_providers_hours_has_no_availability(
    window: tuple[str, str] | None,
) -> None:
    prob = problem(
        [provider(available=(("2026-12-01 10:30", "2026-12-01 12:00"),))],
        [session("s-1", place=PHONE, window=window)],
    )
    assert reasons(solved(prob)) == {"s-1": "no_availability"}


def test_a_window_lets_a_second_call_start_when_the_first_ends() -> None:
    prob = problem(
        [provider()],
        [
            session("s-1", place=PHONE),
            session("s-2", place=PHONE, window=("2026-12-01 10:00", "2026-12-01 11:00")),
        ],
    )
    plan = solved(prob)
    assert starts(plan) == {"s-1": at("2026-12-01 10:00"), "s-2": at("2026-12-01 11:00")}


def test_a_window_that_closes_a_minute_too_early_leaves_the_second_call_out() -> None:
    prob = problem(
        [provider()],
        [
            session("s-1", place=PHONE),
            session("s-2", place=PHONE, window=("2026-12-01 10:00", "2026-12-01 10:59")),
        ],
    )
    plan = solved(prob)
    assert len(plan.assignments) == 1
    assert set(reasons(plan).values()) == {"capacity"}


def test_a_windowed_session_starts_late_enough_for_the_drive() -> None:
    prob = problem(
        [provider()],
        [
            session("s-1"),
            session("s-2", place=TOURNAI, window=("2026-12-01 11:00", "2026-12-01 12:00")),
        ],
    )
    plan = solved(prob)
    assert staffing(plan) == {"s-1": "p-1", "s-2": "p-1"}
    assert at("2026-12-01 11:37") <= starts(plan)["s-2"] <= at("2026-12-01 12:00")


def test_a_windowed_session_that_cannot_start_late_enough_for_the_drive_is_left_out() -> None:
    prob = problem(
        [provider()],
        [
            session("s-1"),
            session("s-2", place=TOURNAI, window=("2026-12-01 11:00", "2026-12-01 11:36")),
        ],
    )
    plan = solved(prob)
    assert staffing(plan) == {"s-1": "p-1"}
    assert reasons(plan) == {"s-2": "capacity"}


# ---------------------------------------------------------------------------
# Rule 1: pinned pairs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("pinned", "chosen"), [(False, "p-near"), (True, "p-far")])
def test_a_pinned_pair_is_kept_even_when_another_provider_is_cheaper(
    pinned: bool, chosen: str
) -> None:
    prob = problem(
        [provider("p-near"), provider("p-far", living=TOURNAI)],
        [session("s-1")],
        fixed=[("s-1", "p-far")] if pinned else [],
    )
    assert staffing(solved(prob)) == {"s-1": chosen}


@pytest.mark.parametrize("pinned", [False, True])
def test_pinned_work_is_kept_even_when_it_pushes_out_a_more_urgent_session(pinned: bool) -> None:
    prob = problem(
        [provider()],
        [
            session("s-routine", place=PHONE, priority=1),
            session("s-urgent", start="2026-12-01 10:30", place=PHONE, priority=4),
        ],
        fixed=[("s-routine", "p-1")] if pinned else [],
    )
    plan = solved(prob)
    kept, dropped = ("s-routine", "s-urgent") if pinned else ("s-urgent", "s-routine")
    assert staffing(plan) == {kept: "p-1"}
    assert reasons(plan) == {dropped: "capacity"}


@pytest.mark.parametrize(
    ("start", "staffed"), [("2026-12-01 11:37", True), ("2026-12-01 11:36", False)]
)
def test_the_model_routes_around_pinned_onsite_work(start: str, staffed: bool) -> None:
    # Pinned: Tournai 10-11. A Lille session needs 37 minutes of driving after it.
    prob = problem(
        [provider()],
        [session("s-pinned", place=TOURNAI), session("s-new", start=start, place=LILLE)],
        fixed=[("s-pinned", "p-1")],
    )
    plan = solved(prob)
    assert staffing(plan)["s-pinned"] == "p-1"
    assert ("s-new" in staffing(plan)) is staffed


# ---------------------------------------------------------------------------
# Rules 2-8: the static rules, applied by eligibility before the model
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A session, a provider the rule allows (`yes`) and one it forbids (`no`)."""

    id: str
    reason: str
    session: dict[str, Any] = field(default_factory=dict)
    yes: dict[str, Any] = field(default_factory=dict)
    no: dict[str, Any] = field(default_factory=dict)


RULES = [
    Rule(
        "2_language",
        "no_provider_speaks_language",
        session={"language": "tir"},
        yes={"languages": ("tir",)},
        no={"languages": ("ara", "prs")},
    ),
    Rule(
        "2_certification",
        "no_eligible_provider",
        session={"requires": Requirements(certified=True)},
        yes={"certified": ("ara",)},
    ),
    Rule(
        "3_provider_kind",
        "no_eligible_provider",
        session={"provider_kind": "ambassador"},
        yes={"kind": "ambassador"},
        no={"kind": "interpreter"},
    ),
    Rule(
        "4_gender",
        "no_eligible_provider",
        session={"requires": Requirements(gender="m")},
        yes={"gender": "m"},
        no={"gender": "f"},
    ),
    Rule(
        "4_skills",
        "no_eligible_provider",
        session={"requires": Requirements(skills=frozenset({"trauma"}))},
        yes={"skills": frozenset({"trauma", "minors"})},
        no={"skills": frozenset({"minors"})},
    ),
    Rule("4_excluded", "no_eligible_provider", session={"excluded_providers": frozenset({"p-no"})}),
    Rule(
        "5_modality",
        "no_eligible_provider",
        session={"place": None, "modality": "video"},
        yes={"modalities": frozenset({"video"})},
        no={"modalities": frozenset({"onsite", "phone"})},
    ),
    Rule(
        "6_country",
        "no_eligible_provider",
        session={"place": MOUSCRON},
        yes={"countries": frozenset({"BE"})},
        no={"countries": frozenset({"FR"})},
    ),
    Rule(
        "8_travel_range",
        "out_of_travel_range",
        session={"place": TOURNAI},
        yes={"max_travel_minutes": 37},
        no={"max_travel_minutes": 36},
    ),
    Rule(
        "7_availability",
        "no_availability",
        yes={"available": (("2026-12-01 10:00", "2026-12-01 11:00"),)},
        no={"available": (("2026-12-01 10:01", "2026-12-01 18:00"),)},
    ),
    Rule(
        "10_daily_minutes_of_the_round_trip",
        "capacity",
        session={"place": TOURNAI},
        yes={"max_minutes_per_day": 60 + 37 + 37},
        no={"max_minutes_per_day": 60 + 37 + 37 - 1},
    ),
    Rule(
        "10_weekly_minutes_of_the_round_trip",
        "capacity",
        session={"place": TOURNAI},
        yes={"max_minutes_per_week": 60 + 37 + 37},
        no={"max_minutes_per_week": 60 + 37 + 37 - 1},
    ),
]


def rule_session(rule: Rule, **extra: Any) -> Any:
    return session("s-1", **{**rule.session, **extra})


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_the_only_provider_takes_the_session_when_the_rule_allows_it(rule: Rule) -> None:
    prob = problem([provider("p-yes", **rule.yes)], [rule_session(rule)])
    assert staffing(solved(prob)) == {"s-1": "p-yes"}


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_the_session_stays_unassigned_with_the_rules_reason_when_it_forbids_the_only_provider(
    rule: Rule,
) -> None:
    prob = problem([provider("p-no", **rule.no)], [rule_session(rule)])
    plan = solved(prob)
    assert plan.assignments == ()
    assert reasons(plan) == {"s-1": rule.reason}
    assert plan.score.medium == -1


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_a_preferred_provider_the_rule_forbids_loses_to_one_it_allows(rule: Rule) -> None:
    # p-no is preferred (+60) and lives no farther: only the rule stops it.
    prob = problem(
        [provider("p-no", **rule.no), provider("p-yes", **rule.yes)],
        [rule_session(rule, preferred_providers=frozenset({"p-no"}))],
    )
    assert staffing(solved(prob)) == {"s-1": "p-yes"}


# ---------------------------------------------------------------------------
# The objective: medium (priority staffed) first, then soft (travel, preferences)
# ---------------------------------------------------------------------------


def test_a_far_session_is_staffed_although_leaving_it_out_would_save_travel() -> None:
    prob = problem([provider(max_travel_minutes=120)], [session("s-1", place=MONS)])
    plan = solved(prob)
    assert staffing(plan) == {"s-1": "p-1"}
    assert plan.score.soft == -(92 + 92)
    assert plan.score.medium == 0


@pytest.mark.parametrize(
    ("far_priority", "kept"), [(2, "s-far"), (1, "s-near")], ids=["urgent_far", "equal"]
)
def test_a_more_urgent_session_wins_the_slot_and_equal_ones_go_by_travel(
    far_priority: int, kept: str
) -> None:
    prob = problem(
        [provider()],
        [session("s-near", place=LILLE), session("s-far", place=TOURNAI, priority=far_priority)],
    )
    plan = solved(prob)
    assert staffing(plan) == {kept: "p-1"}
    assert set(reasons(plan).values()) == {"capacity"}


@pytest.mark.parametrize(
    ("long_priority", "kept"),
    [(3, {"s-long"}), (1, {"s-first-half", "s-second-half"})],
    ids=["priority_3_beats_two_of_1", "two_of_1_beat_one_of_1"],
)
def test_medium_sums_the_priorities_of_the_sessions_left_out(
    long_priority: int, kept: set[str]
) -> None:
    prob = problem(
        [provider()],
        [
            session("s-long", place=PHONE, minutes=60, priority=long_priority),
            session("s-first-half", place=PHONE, minutes=30),
            session("s-second-half", start="2026-12-01 10:30", place=PHONE, minutes=30),
        ],
    )
    plan = solved(prob)
    assert set(staffing(plan)) == kept
    everything = long_priority + 2
    staffed = long_priority if kept == {"s-long"} else 2
    assert plan.score.medium == staffed - everything


def test_the_preferred_bonus_never_outweighs_a_priority_point() -> None:
    prob = problem(
        [provider()],
        [
            session("s-liked", place=PHONE, preferred_providers=frozenset({"p-1"})),
            session("s-urgent", start="2026-12-01 10:30", place=PHONE, priority=2),
        ],
    )
    plan = solved(prob)
    assert staffing(plan) == {"s-urgent": "p-1"}


@pytest.mark.parametrize(
    ("preferred_home", "chosen", "soft"),
    [(ROUBAIX, "p-preferred", 60 - 2 * 21), (TOURNAI, "p-local", 0)],
    ids=["bonus_60_beats_42_min_of_driving", "74_min_of_driving_beat_the_bonus"],
)
def test_a_preferred_provider_is_worth_sixty_minutes_of_driving(
    preferred_home: Any, chosen: str, soft: int
) -> None:
    prob = problem(
        [provider("p-local"), provider("p-preferred", living=preferred_home)],
        [session("s-1", place=LILLE, preferred_providers=frozenset({"p-preferred"}))],
    )
    plan = solved(prob)
    assert staffing(plan) == {"s-1": chosen}
    assert plan.score.soft == soft


# ---------------------------------------------------------------------------
# Rule 9 around midnight: "for home, any time"
# ---------------------------------------------------------------------------


def test_the_drive_home_after_a_late_session_may_wait_until_a_night_call_is_over() -> None:
    # Valid best plan: call 22:00-23:00 (taken in Tournai after driving out at 21:23),
    # Tournai 23:00-23:30, the night call 00:00-00:15 there, then the drive home.
    prob = problem(
        [provider(available=(("2026-12-01 18:00", "2026-12-02 01:00"),))],
        [
            session(
                "s-late",
                start="2026-12-01 22:00",
                minutes=30,
                place=TOURNAI,
                window=("2026-12-01 22:00", "2026-12-01 23:00"),
            ),
            session("s-call", start="2026-12-01 22:00", place=PHONE),
            session("s-night", start="2026-12-02 00:00", minutes=15, place=PHONE),
        ],
    )
    plan = solve(prob, time_limit=3.0, workers=1)
    assert validate(prob, plan).ok
    assert plan.stats.bound is not None
    assert (plan.stats.bound.medium, plan.stats.bound.soft) >= (0, -74)
    assert (plan.score.medium, plan.score.soft) == (0, -74)


def test_a_pinned_late_session_is_kept_although_the_provider_could_take_a_call_after_midnight() -> (
    None
):
    # The pin alone is valid, and the night call may simply stay unassigned.
    prob = problem(
        [provider(available=(("2026-12-01 18:00", "2026-12-02 06:00"),))],
        [
            session("s-late", start="2026-12-01 22:30", place=TOURNAI),
            session("s-night", start="2026-12-02 00:00", minutes=30, place=PHONE),
        ],
        fixed=[("s-late", "p-1")],
    )
    plan = solved(prob)
    assert staffing(plan)["s-late"] == "p-1"


def test_a_pinned_session_just_after_midnight_may_be_reached_by_driving_out_the_night_before() -> (
    None
):
    prob = problem(
        [provider(available=(("2026-12-01 00:00", "2026-12-01 06:00"),))],
        [session("s-1", start="2026-12-01 00:20", place=TOURNAI)],
        fixed=[("s-1", "p-1")],
    )
    assert staffing(solved(prob)) == {"s-1": "p-1"}


def test_a_session_just_after_midnight_is_staffed_with_the_drive_out_the_evening_before() -> None:
    # Unpinned, the greedy fallback finds it, but the model cannot prove the plan.
    prob = problem(
        [provider(available=(("2026-12-01 00:00", "2026-12-01 06:00"),))],
        [session("s-1", start="2026-12-01 00:20", place=TOURNAI)],
    )
    plan = solve(prob, time_limit=3.0, workers=1)
    assert validate(prob, plan).ok
    assert staffing(plan) == {"s-1": "p-1"}
    assert plan.stats.bound is not None
    assert (plan.stats.bound.medium, plan.stats.bound.soft) >= (0, -74)


def test_the_drive_out_may_leave_before_a_call_of_the_evening_before() -> None:
    # Drive to Tournai at 22:00, take the call there at 23:00, the session at 00:10.
    prob = problem(
        [provider(available=(("2026-12-01 18:00", "2026-12-02 06:00"),))],
        [
            session("s-call", start="2026-12-01 23:00", minutes=45, place=PHONE),
            session("s-night", start="2026-12-02 00:10", minutes=30, place=TOURNAI),
        ],
    )
    plan = solve(prob, time_limit=30.0, workers=1)
    assert validate(prob, plan).ok
    assert staffing(plan) == {"s-call": "p-1", "s-night": "p-1"}
    assert plan.stats.status == "OPTIMAL"
