"""validate: each hard rule has a plan it allows and one it forbids; the score is recomputed.

Travel used below (haversine defaults, from Lille): Roubaix 21 min, Tournai 37,
Mons 92. Tournai-Mouscron 31 min.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any, get_args
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.problem import (
    RULE_OF_CODE,
    Assignment,
    Place,
    Plan,
    Problem,
    Requirements,
    RuleCode,
    Score,
    Session,
    Stats,
    Unassigned,
)
from matching.timeline import Timeline
from matching.travel import Travel
from matching.validate import (
    check,
    day_routes,
    eligibility_bound,
    score_plan,
    validate,
)
from tests.matching.factories import (
    LILLE,
    MONS,
    MOUSCRON,
    ROUBAIX,
    TOURNAI,
    assign,
    at,
    plan,
    problem,
    provider,
    session,
)
from tests.matching.strategies import problems

ALL_DAY = (
    ("2026-11-30 00:00", "2026-12-01 00:00"),
    ("2026-12-01 00:00", "2026-12-02 00:00"),
    ("2026-12-02 00:00", "2026-12-03 00:00"),
)


def broken(prob: Problem, p: Plan) -> list[int]:
    """The rule numbers a plan breaks, one entry per violation."""
    return sorted(v.rule for v in validate(prob, p).violations)


# Rule 1: every session exactly once, pinned pairs kept.


def test_every_session_once_is_allowed() -> None:
    prob = problem([provider()], [session("s-1"), session("s-2", start="2026-12-01 14:00")])
    p = plan(
        [assign("s-1", "p-1", "2026-12-01 10:00")],
        [Unassigned("s-2", "capacity", "full")],
    )
    assert broken(prob, p) == []


def test_a_forgotten_session_breaks_rule_1() -> None:
    prob = problem([provider()], [session("s-1"), session("s-2", start="2026-12-01 14:00")])
    p = plan([assign("s-1", "p-1", "2026-12-01 10:00")])
    result = validate(prob, p)
    assert [(v.rule, v.session) for v in result.violations] == [(1, "s-2")]


def test_a_session_both_assigned_and_unassigned_breaks_rule_1() -> None:
    prob = problem([provider()], [session("s-1")])
    p = plan([assign("s-1", "p-1", "2026-12-01 10:00")], [Unassigned("s-1", "capacity", "")])
    assert broken(prob, p) == [1]


def test_a_session_given_to_two_providers_breaks_rule_1() -> None:
    prob = problem([provider("p-1"), provider("p-2")], [session("s-1", place=None)])
    p = plan([assign("s-1", "p-1", "2026-12-01 10:00"), assign("s-1", "p-2", "2026-12-01 10:00")])
    assert broken(prob, p) == [1]


def test_a_pinned_pair_must_be_kept() -> None:
    prob = problem(
        [provider("p-1"), provider("p-2")], [session("s-1", place=None)], fixed=[("s-1", "p-2")]
    )
    kept = plan([assign("s-1", "p-2", "2026-12-01 10:00")])
    moved = plan([assign("s-1", "p-1", "2026-12-01 10:00")])
    dropped = plan([], [Unassigned("s-1", "capacity", "")])
    assert broken(prob, kept) == []
    assert broken(prob, moved) == [1]
    assert broken(prob, dropped) == [1]


def test_unknown_ids_break_rule_1() -> None:
    prob = problem([provider()], [session("s-1")])
    p = plan([assign("s-1", "p-9", "2026-12-01 10:00"), assign("s-9", "p-1", "2026-12-01 10:00")])
    assert broken(prob, p) == [1, 1]


# Rules 2-8 and 11: one session, one provider.

PAIR_CASES = [
    # rule, what, session fields, provider fields, start, allowed
    (2, "speaks the language", {}, {}, "10:00", True),
    (2, "does not speak it", {"language": "tir"}, {}, "10:00", False),
    (
        2,
        "certified as required",
        {"requires": Requirements(certified=True)},
        {"certified": ("ara",)},
        "10:00",
        True,
    ),
    (2, "not certified", {"requires": Requirements(certified=True)}, {}, "10:00", False),
    (3, "kind any", {"provider_kind": "any"}, {"kind": "ambassador"}, "10:00", True),
    (3, "kind matches", {"provider_kind": "ambassador"}, {"kind": "ambassador"}, "10:00", True),
    (3, "kind differs", {"provider_kind": "interpreter"}, {"kind": "mediator"}, "10:00", False),
    (4, "gender met", {"requires": Requirements(gender="f")}, {"gender": "f"}, "10:00", True),
    (4, "gender not met", {"requires": Requirements(gender="m")}, {"gender": "f"}, "10:00", False),
    (
        4,
        "skills met",
        {"requires": Requirements(skills=frozenset({"trauma"}))},
        {"skills": frozenset({"trauma", "minors"})},
        "10:00",
        True,
    ),
    (
        4,
        "a skill missing",
        {"requires": Requirements(skills=frozenset({"trauma", "minors"}))},
        {"skills": frozenset({"trauma"})},
        "10:00",
        False,
    ),
    (4, "someone else excluded", {"excluded_providers": frozenset({"p-2"})}, {}, "10:00", True),
    (4, "excluded", {"excluded_providers": frozenset({"p-1"})}, {}, "10:00", False),
    (5, "offers video", {"modality": "video", "place": None}, {}, "10:00", True),
    (
        5,
        "no video",
        {"modality": "video", "place": None},
        {"modalities": frozenset({"onsite", "phone"})},
        "10:00",
        False,
    ),
    (6, "may work in Belgium", {"place": TOURNAI}, {}, "10:00", True),
    (
        6,
        "may not work in Belgium",
        {"place": TOURNAI},
        {"countries": frozenset({"FR"})},
        "10:00",
        False,
    ),
    (6, "country rule is onsite only", {"place": None}, {"countries": frozenset()}, "10:00", True),
    (
        7,
        "fills the interval exactly",
        {"minutes": 120},
        {"available": (("2026-12-01 08:00", "2026-12-01 10:00"),)},
        "08:00",
        True,
    ),
    (7, "ends after availability", {"minutes": 60}, {}, "17:30", False),
    (
        7,
        "straddles two intervals",
        {"start": "2026-12-01 11:30"},
        {
            "available": (
                ("2026-12-01 08:00", "2026-12-01 12:00"),
                ("2026-12-01 12:00", "2026-12-01 18:00"),
            )
        },
        "11:30",
        False,
    ),
    (8, "Tournai within 90 min", {"place": TOURNAI}, {}, "10:00", True),
    (8, "Mons is 92 min away", {"place": MONS}, {}, "10:00", False),
    (8, "Mons within a 120 min range", {"place": MONS}, {"max_travel_minutes": 120}, "10:00", True),
    (11, "starts at its start", {}, {}, "10:00", True),
    (11, "moved without a window", {"start": "2026-12-01 10:00"}, {}, "10:15", False),
    (
        11,
        "inside its window",
        {"window": ("2026-12-01 09:00", "2026-12-01 11:00")},
        {},
        "11:00",
        True,
    ),
    (
        11,
        "after its window",
        {"window": ("2026-12-01 09:00", "2026-12-01 11:00")},
        {},
        "11:15",
        False,
    ),
]


@pytest.mark.parametrize(
    ("rule", "session_fields", "provider_fields", "start", "allowed"),
    [pytest.param(r, s, p, t, ok, id=f"rule{r}-{what}") for r, what, s, p, t, ok in PAIR_CASES],
)
def test_rules_of_one_pair(
    rule: int,
    session_fields: dict[str, object],
    provider_fields: dict[str, object],
    start: str,
    allowed: bool,
) -> None:
    fields = {"start": f"2026-12-01 {start}"} | session_fields
    prob = problem([provider("p-1", **provider_fields)], [session("s-1", **fields)])  # type: ignore[arg-type]
    p = plan([assign("s-1", "p-1", f"2026-12-01 {start}")])
    assert broken(prob, p) == ([] if allowed else [rule])


def test_every_broken_pair_rule_is_counted() -> None:
    prob = problem(
        [provider(kind="mediator", modalities=frozenset({"phone"}), countries=frozenset())],
        [session(language="tir", provider_kind="interpreter", place=MONS)],
    )
    p = plan([assign("s-1", "p-1", "2026-12-01 17:30")])
    assert broken(prob, p) == [2, 3, 5, 6, 7, 8, 11]
    assert validate(prob, p).score.hard == -7


# Every violation carries the machine code of what it breaks.


def one_session(**fields: Any) -> Problem:
    provider_fields = fields.pop("provider", {})
    return problem([provider("p-1", **provider_fields)], [session("s-1", **fields)])


AT_TEN = [assign("s-1", "p-1", "2026-12-01 10:00")]
AT_TEN_IN_G1 = [assign("g-1", "p-1", "2026-12-01 10:00")]


def group_of_two(**fields: Any) -> Problem:
    """A group session `g-1` for two Arabic interpreters, and two of them."""
    group = session("g-1", staff=(Place("ara"), Place("ara")), **fields)
    return problem([provider("p-1"), provider("p-2")], [group])


CODE_CASES: list[tuple[RuleCode, Problem, list[Assignment], list[Unassigned]]] = [
    ("unknown_session", one_session(), [*AT_TEN, assign("s-9", "p-1", "2026-12-01 12:00")], []),
    ("unknown_provider", one_session(), [assign("s-1", "p-9", "2026-12-01 10:00")], []),
    ("missing", one_session(), [], []),
    ("duplicate", one_session(), AT_TEN, [Unassigned("s-1", "capacity", "")]),
    (
        "fixed",
        problem([provider("p-1"), provider("p-2")], [session("s-1")], fixed=[("s-1", "p-2")]),
        AT_TEN,
        [],
    ),
    ("language", one_session(language="tir"), AT_TEN, []),
    ("certification", one_session(requires=Requirements(certified=True)), AT_TEN, []),
    ("kind", one_session(provider_kind="ambassador"), AT_TEN, []),
    ("gender", one_session(requires=Requirements(gender="m")), AT_TEN, []),
    ("skills", one_session(requires=Requirements(skills=frozenset({"trauma"}))), AT_TEN, []),
    ("excluded", one_session(excluded_providers=frozenset({"p-1"})), AT_TEN, []),
    (
        "modality",
        one_session(place=None, modality="video", provider={"modalities": frozenset({"phone"})}),
        AT_TEN,
        [],
    ),
    ("country", one_session(place=TOURNAI, provider={"countries": frozenset({"FR"})}), AT_TEN, []),
    (
        "availability",
        one_session(start="2026-12-01 17:30"),
        [assign("s-1", "p-1", "2026-12-01 17:30")],
        [],
    ),
    ("travel_range", one_session(place=MONS), AT_TEN, []),
    (
        "overlap",
        problem([provider()], [session("s-1", place=None), session("s-2", place=None)]),
        [*AT_TEN, assign("s-2", "p-1", "2026-12-01 10:00")],
        [],
    ),
    (
        "drive",
        problem(
            [provider()], [session("s-1"), session("s-2", start="2026-12-01 11:20", place=TOURNAI)]
        ),
        [*AT_TEN, assign("s-2", "p-1", "2026-12-01 11:20")],
        [],
    ),
    (
        "daily_minutes",
        one_session(place=TOURNAI, provider={"max_minutes_per_day": 133}),
        AT_TEN,
        [],
    ),
    (
        "weekly_minutes",
        one_session(place=TOURNAI, provider={"max_minutes_per_week": 133}),
        AT_TEN,
        [],
    ),
    ("window", one_session(), [assign("s-1", "p-1", "2026-12-01 10:15")], []),
    ("no_offset", one_session(), [Assignment("s-1", "p-1", datetime(2026, 12, 1, 10))], []),
    (
        "place",
        group_of_two(all_or_nothing=False),
        AT_TEN_IN_G1,
        [Unassigned("g-1", "capacity", "", place=k) for k in (0, 1)],
    ),
    (
        "same_provider",
        group_of_two(place=None),
        [replace(a, place=k) for k, a in enumerate(AT_TEN_IN_G1 * 2)],
        [],
    ),
    (
        "all_or_nothing",
        group_of_two(),
        [replace(AT_TEN_IN_G1[0], place=0)],
        [Unassigned("g-1", "capacity", "", place=1)],
    ),
    (
        "common_start",
        group_of_two(window=("2026-12-01 10:00", "2026-12-01 11:00")),
        [
            Assignment("g-1", "p-1", at("2026-12-01 10:00"), place=0),
            Assignment("g-1", "p-2", at("2026-12-01 10:30"), place=1),
        ],
        [],
    ),
]


@pytest.mark.parametrize(
    ("code", "prob", "assignments", "unassigned"),
    CODE_CASES,
    ids=[case[0] for case in CODE_CASES],
)
def test_each_violation_carries_the_code_of_what_it_breaks(
    code: RuleCode, prob: Problem, assignments: list[Assignment], unassigned: list[Unassigned]
) -> None:
    violations = check(prob, assignments, unassigned).violations
    assert [(v.rule, v.code) for v in violations] == [(RULE_OF_CODE[code], code)]


def test_every_code_has_a_rule_and_a_case() -> None:
    codes = set(get_args(RuleCode))
    assert set(RULE_OF_CODE) == codes
    assert {case[0] for case in CODE_CASES} == codes
    assert set(RULE_OF_CODE.values()) == set(range(1, 12))


# Rule 9: sessions never overlap, and each drive fits in one free gap.


LONG = (("2026-11-29 00:00", "2026-12-04 00:00"),)
"""One availability interval over several days, for the long phone duties below."""


def day_problem(sessions: list[Session], **provider_fields: Any) -> Problem:
    provider_fields.setdefault("available", ALL_DAY)
    return problem([provider("p-1", **provider_fields)], sessions)


def test_sessions_back_to_back_by_phone_are_allowed() -> None:
    prob = day_problem(
        [session("s-1", place=None), session("s-2", start="2026-12-01 11:00", place=None)]
    )
    p = plan([assign("s-1", "p-1", "2026-12-01 10:00"), assign("s-2", "p-1", "2026-12-01 11:00")])
    assert broken(prob, p) == []


def test_overlapping_sessions_break_rule_9() -> None:
    prob = day_problem(
        [session("s-1", place=None), session("s-2", start="2026-12-01 10:30", place=None)]
    )
    p = plan([assign("s-1", "p-1", "2026-12-01 10:00"), assign("s-2", "p-1", "2026-12-01 10:30")])
    result = validate(prob, p)
    assert [(v.rule, v.session) for v in result.violations] == [(9, "s-2")]


@pytest.mark.parametrize(
    ("second_start", "allowed"),
    [("11:37", True), ("11:36", False)],
    ids=["37-min-gap", "36-min-gap"],
)
def test_drive_between_two_places_needs_the_travel_time(second_start: str, allowed: bool) -> None:
    prob = day_problem(
        [
            session("s-1", place=LILLE),
            session("s-2", start=f"2026-12-01 {second_start}", place=TOURNAI),
        ]
    )
    p = plan(
        [
            assign("s-1", "p-1", "2026-12-01 10:00"),
            assign("s-2", "p-1", f"2026-12-01 {second_start}"),
        ]
    )
    assert broken(prob, p) == ([] if allowed else [9])


def test_a_drive_may_not_overlap_a_phone_session_in_between() -> None:
    # 40 free minutes in all between Lille and Tournai, but cut in two by a phone call.
    prob = day_problem(
        [
            session("s-1", place=LILLE),
            session("s-2", start="2026-12-01 11:20", minutes=20, place=None),
            session("s-3", start="2026-12-01 12:00", place=TOURNAI),
        ]
    )
    p = plan(
        [
            assign("s-1", "p-1", "2026-12-01 10:00"),
            assign("s-2", "p-1", "2026-12-01 11:20"),
            assign("s-3", "p-1", "2026-12-01 12:00"),
        ]
    )
    result = validate(prob, p)
    assert [(v.rule, v.session) for v in result.violations] == [(9, "s-3")]
    assert "37 min from s-1" in result.violations[0].message


def test_a_drive_fits_in_one_gap_around_a_phone_session() -> None:
    prob = day_problem(
        [
            session("s-1", place=LILLE),
            session("s-2", start="2026-12-01 11:40", minutes=20, place=None),
            session("s-3", start="2026-12-01 12:00", place=TOURNAI),
        ]
    )
    p = plan(
        [
            assign("s-1", "p-1", "2026-12-01 10:00"),
            assign("s-2", "p-1", "2026-12-01 11:40"),
            assign("s-3", "p-1", "2026-12-01 12:00"),
        ]
    )
    assert broken(prob, p) == []


def test_the_drive_from_home_may_come_before_the_first_phone_session() -> None:
    # Phone 08:00-09:00 then Tournai at 09:00: the provider drives there before the call.
    prob = day_problem(
        [
            session("s-1", start="2026-12-01 08:00", place=None),
            session("s-2", start="2026-12-01 09:00", place=TOURNAI),
        ]
    )
    p = plan([assign("s-1", "p-1", "2026-12-01 08:00"), assign("s-2", "p-1", "2026-12-01 09:00")])
    assert broken(prob, p) == []


def test_the_drive_from_home_may_start_the_day_before() -> None:
    prob = day_problem([session("s-1", start="2026-12-01 00:10", place=TOURNAI)])
    p = plan([assign("s-1", "p-1", "2026-12-01 00:10")])
    assert broken(prob, p) == []


def test_the_drive_from_home_may_not_start_two_days_before() -> None:
    # A 32-hour phone duty from midnight of the day before leaves 20 minutes for a 37-minute drive.
    prob = day_problem(
        [
            session("s-1", start="2026-11-30 00:00", minutes=1920, place=None),
            session("s-2", start="2026-12-01 08:20", place=TOURNAI),
        ],
        available=LONG,
        max_minutes_per_day=3000,
        max_minutes_per_week=6000,
    )
    p = plan([assign("s-1", "p-1", "2026-11-30 00:00"), assign("s-2", "p-1", "2026-12-01 08:20")])
    result = validate(prob, p)
    assert [(v.rule, v.session) for v in result.violations] == [(9, "s-2")]
    assert "from home to s-2" in result.violations[0].message
    p = plan([assign("s-1", "p-1", "2026-11-30 00:00"), assign("s-2", "p-1", "2026-12-01 08:40")])
    prob = day_problem(
        [
            session("s-1", start="2026-11-30 00:00", minutes=1920, place=None),
            session("s-2", start="2026-12-01 08:40", place=TOURNAI),
        ],
        available=LONG,
        max_minutes_per_day=3000,
        max_minutes_per_week=6000,
    )
    assert broken(prob, p) == []


def test_the_drive_home_must_fit_before_the_end_of_the_next_day() -> None:
    # Tournai until 17:00, then phone duty until midnight of the next day.
    def with_duty(duty_start: str) -> tuple[Problem, Plan]:
        minutes = int((at("2026-12-03 00:00") - at(duty_start)).total_seconds() // 60)
        prob = day_problem(
            [
                session("s-1", start="2026-12-01 16:00", place=TOURNAI),
                session("s-2", start=duty_start, minutes=minutes, place=None),
            ],
            available=LONG,
            max_minutes_per_day=3000,
            max_minutes_per_week=6000,
        )
        return prob, plan(
            [assign("s-1", "p-1", "2026-12-01 16:00"), assign("s-2", "p-1", duty_start)]
        )

    assert broken(*with_duty("2026-12-01 17:37")) == []
    prob, p = with_duty("2026-12-01 17:36")
    result = validate(prob, p)
    assert [(v.rule, v.session) for v in result.violations] == [(9, "s-1")]
    assert "to home" in result.violations[0].message


def test_the_drive_home_may_run_past_midnight() -> None:
    prob = day_problem([session("s-1", start="2026-12-01 23:00", place=TOURNAI)])
    p = plan([assign("s-1", "p-1", "2026-12-01 23:00")])
    assert broken(prob, p) == []


def test_a_drive_counts_real_minutes_when_the_clocks_go_forward() -> None:
    # 29 March 2026: 02:00 becomes 03:00, so 01:30-03:05 on the wall clock is 35 minutes.
    available = (("2026-03-29 00:00", "2026-03-29 12:00"),)
    too_short = problem(
        [provider(available=available)],
        [
            session("s-1", start="2026-03-29 00:30"),
            session("s-2", start="2026-03-29 03:05", place=TOURNAI),
        ],
    )
    p = plan([assign("s-1", "p-1", "2026-03-29 00:30"), assign("s-2", "p-1", "2026-03-29 03:05")])
    assert broken(too_short, p) == [9]
    enough = problem(
        [provider(available=available)],
        [
            session("s-1", start="2026-03-29 00:30"),
            session("s-2", start="2026-03-29 03:07", place=TOURNAI),
        ],
    )
    p = plan([assign("s-1", "p-1", "2026-03-29 00:30"), assign("s-2", "p-1", "2026-03-29 03:07")])
    assert broken(enough, p) == []


# Rule 10: session plus travel minutes per day and per ISO week.


@pytest.mark.parametrize(("limit", "allowed"), [(134, True), (133, False)])
def test_daily_minutes_count_the_round_trip(limit: int, allowed: bool) -> None:
    # One hour in Tournai and 37 minutes each way: 134 minutes.
    prob = problem([provider(max_minutes_per_day=limit)], [session(place=TOURNAI)])
    p = plan([assign("s-1", "p-1", "2026-12-01 10:00")])
    assert broken(prob, p) == ([] if allowed else [10])


@pytest.mark.parametrize(("limit", "allowed"), [(268, True), (267, False)])
def test_weekly_minutes_add_up_the_days_of_the_iso_week(limit: int, allowed: bool) -> None:
    prob = problem(
        [provider(available=ALL_DAY, max_minutes_per_week=limit)],
        [session("s-1", place=TOURNAI), session("s-2", start="2026-12-02 10:00", place=TOURNAI)],
    )
    p = plan([assign("s-1", "p-1", "2026-12-01 10:00"), assign("s-2", "p-1", "2026-12-02 10:00")])
    assert broken(prob, p) == ([] if allowed else [10])


def test_sunday_and_monday_are_different_iso_weeks() -> None:
    # 29 November 2026 is a Sunday, 30 November a Monday.
    available = (("2026-11-29 08:00", "2026-11-29 18:00"), ("2026-11-30 08:00", "2026-11-30 18:00"))
    prob = problem(
        [provider(available=available, max_minutes_per_week=134)],
        [
            session("s-1", start="2026-11-29 10:00", place=TOURNAI),
            session("s-2", start="2026-11-30 10:00", place=TOURNAI),
        ],
    )
    p = plan([assign("s-1", "p-1", "2026-11-29 10:00"), assign("s-2", "p-1", "2026-11-30 10:00")])
    assert broken(prob, p) == []


# The score.


def test_score_counts_route_travel_priorities_and_preferences() -> None:
    # p-1: home Lille -> Roubaix -> Lille -> home: 21 + 21 + 0 = 42 minutes.
    prob = problem(
        [provider("p-1"), provider("p-2")],
        [
            session(
                "s-1",
                start="2026-12-01 09:00",
                place=ROUBAIX,
                preferred_providers=frozenset({"p-1"}),
            ),
            session("s-2", start="2026-12-01 11:00", place=LILLE),
            session(
                "s-3", start="2026-12-01 11:00", place=None, preferred_providers=frozenset({"p-1"})
            ),
            session("s-4", start="2026-12-01 15:00", priority=3),
        ],
    )
    assignments = [
        assign("s-1", "p-1", "2026-12-01 09:00"),
        assign("s-2", "p-1", "2026-12-01 11:00"),
        assign("s-3", "p-2", "2026-12-01 11:00"),
    ]
    unassigned = [Unassigned("s-4", "capacity", "")]
    assert score_plan(prob, assignments, unassigned) == Score(hard=0, medium=-3, soft=-42 + 60)
    assert day_routes(prob, assignments) == {
        ("p-1", date(2026, 12, 1)): 42,
        ("p-2", date(2026, 12, 1)): 0,
    }


def test_phone_work_costs_no_travel() -> None:
    prob = problem([provider()], [session(place=None)])
    assert day_routes(prob, [assign("s-1", "p-1", "2026-12-01 10:00")]) == {
        ("p-1", date(2026, 12, 1)): 0
    }


def test_validation_reports_a_score_the_plan_misstates() -> None:
    prob = problem([provider()], [session(place=TOURNAI)])
    honest = plan([assign("s-1", "p-1", "2026-12-01 10:00")], score=Score(0, 0, -74))
    boastful = plan([assign("s-1", "p-1", "2026-12-01 10:00")], score=Score(0, 0, 0))
    assert validate(prob, honest).score_matches
    assert not validate(prob, boastful).score_matches
    assert check(prob, honest.assignments).ok


# The eligibility bound.


def test_bound_counts_only_sessions_nobody_may_take() -> None:
    prob = problem(
        [provider()],
        [
            session("s-1", place=None, preferred_providers=frozenset({"p-1"})),
            session("s-2", language="som", priority=2),
        ],
    )
    assert eligibility_bound(prob) == Score(hard=0, medium=-2, soft=60)


def test_bound_charges_the_cheapest_possible_arrival() -> None:
    # Alone in Tournai, the session can only be reached from home (37 min).
    prob = problem([provider()], [session(place=TOURNAI)])
    assert eligibility_bound(prob).soft == -37
    # With a second session at the same place that day, each might be reached from the
    # other for free: the bound stays optimistic rather than guess which one comes first.
    prob = problem(
        [provider()],
        [session(place=TOURNAI), session("s-2", start="2026-12-01 14:00", place=TOURNAI)],
    )
    assert eligibility_bound(prob).soft == 0
    # Elsewhere: at least the parking overhead (5 min) from another place.
    prob = problem(
        [provider()],
        [session(place=TOURNAI), session("s-2", start="2026-12-01 14:00", place=MOUSCRON)],
    )
    assert eligibility_bound(prob).soft == -5 - 5


def _all_plans(prob: Problem) -> list[list[Assignment]]:
    """Every way to give each session to nobody or to one provider at its start."""
    plans: list[list[Assignment]] = [[]]
    for s in prob.sessions:
        plans = [
            [*chosen, *extra]
            for chosen in plans
            for extra in ([], *([Assignment(s.id, p.id, s.start)] for p in prob.providers))
        ]
    return plans


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(problems(max_providers=2, max_sessions=4))
def test_bound_is_never_beaten_by_any_valid_plan(prob: Problem) -> None:
    prob = Problem(
        providers=prob.providers,
        # The search below tries each session at its start only.
        sessions=tuple(replace(s, window=None) for s in prob.sessions),
        timezone=prob.timezone,
        travel=prob.travel,
        fixed=prob.fixed,
    )
    bound = eligibility_bound(prob)
    for assignments in _all_plans(prob):
        taken = {a.session for a in assignments}
        unassigned = [Unassigned(s.id, "capacity", "") for s in prob.sessions if s.id not in taken]
        result = check(prob, assignments, unassigned)
        if result.ok:
            assert (result.score.medium, result.score.soft) <= (bound.medium, bound.soft)


# An independent check of rule 9's drives: search the start minute of every drive.


def _brute_force_drives(prob: Problem, assignments: list[Assignment]) -> Counter[tuple[str, str]]:
    """(provider, session) of each drive that no start time can fit, found by trying them."""
    zone = ZoneInfo(prob.timezone)
    timeline = Timeline.for_problem(prob)
    travel = Travel(prob.travel)
    sessions = {s.id: s for s in prob.sessions}
    providers = {p.id: p for p in prob.providers}
    blocked: Counter[tuple[str, str]] = Counter()
    by_provider: dict[str, list[tuple[int, int, Assignment]]] = {}
    for a in assignments:
        begin = timeline.minute(a.start)
        by_provider.setdefault(a.provider, []).append(
            (begin, begin + sessions[a.session].duration_minutes, a)
        )
    for provider_id, placed in by_provider.items():
        home = providers[provider_id].home
        busy = [(b, e) for b, e, _ in placed]
        days: dict[date, list[tuple[int, int, Assignment]]] = {}
        for item in sorted(placed, key=lambda x: (x[0], x[1])):
            days.setdefault(item[2].start.astimezone(zone).date(), []).append(item)
        for day, items in days.items():
            lo = timeline.minute(datetime.combine(day - timedelta(days=1), time(0), tzinfo=zone))
            hi = timeline.minute(datetime.combine(day + timedelta(days=2), time(0), tzinfo=zone))
            stops = [(b, e, a) for b, e, a in items if sessions[a.session].is_onsite]
            if not stops:
                continue
            places = [home] + [sessions[a.session].location for _, _, a in stops] + [home]
            ends = [(None, lo)] + [(a.session, e) for _, e, a in stops]
            starts = [(a.session, b) for b, _, a in stops] + [(None, hi)]
            for k in range(len(stops) + 1):
                minutes = travel.minutes(places[k], places[k + 1])  # type: ignore[arg-type]
                earliest, latest = ends[k][1], starts[k][1]
                tries = [earliest] + [e for _, e in busy if earliest <= e]
                fits = any(
                    t + minutes <= latest and not any(b < t + minutes and t < e for b, e in busy)
                    for t in tries
                )
                if not fits:
                    blocked[(provider_id, starts[k][0] or ends[k][0] or "")] += 1
    return blocked


@st.composite
def problems_with_random_plans(draw: st.DrawFn) -> tuple[Problem, list[Assignment]]:
    prob = draw(problems(max_providers=2, max_sessions=8, pins=False))
    timeline = Timeline.for_problem(prob)
    assignments = []
    for s in prob.sessions:
        if not prob.providers or not draw(st.integers(0, 4)):
            continue
        p = draw(st.sampled_from(prob.providers))
        start = s.start
        if s.window is not None:
            lo, hi = timeline.minute(s.window.earliest), timeline.minute(s.window.latest)
            start = timeline.instant(draw(st.integers(lo, hi)))
        assignments.append(Assignment(s.id, p.id, start))
    return prob, assignments


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(problems_with_random_plans())
def test_drive_violations_match_a_brute_force_search(
    case: tuple[Problem, list[Assignment]],
) -> None:
    prob, assignments = case
    found = Counter(
        (v.provider or "", v.session or "")
        for v in check(prob, assignments).violations
        if v.code == "drive"
    )
    assert found == _brute_force_drives(prob, assignments)


def test_a_plan_object_round_trip_through_validate() -> None:
    prob = problem([provider()], [session()])
    p = Plan(
        assignments=(Assignment("s-1", "p-1", at("2026-12-01 10:00")),),
        unassigned=(),
        score=Score(0, 0, 0),
        stats=Stats("OPTIMAL", 0.1),
    )
    result = validate(prob, p)
    assert result.ok and result.score == Score(0, 0, 0) and result.rules_broken() == []
