"""Static rules per pair, and the reason each stage gives a session nobody can take."""

from __future__ import annotations

import pytest

from matching.eligibility import (
    STAGE_AVAILABILITY,
    STAGE_CAPACITY,
    STAGE_LANGUAGE,
    STAGE_PROFILE,
    STAGE_TRAVEL,
    check_pair,
    check_profile,
    compute_eligibility,
    start_ranges,
)
from matching.problem import Requirements
from matching.timeline import Timeline
from matching.travel import Travel
from matching.why import Why, english
from tests.matching.factories import MONS, TOURNAI, at, problem, provider, session

PROFILE_CASES = [
    ("language", {"language": "tir"}, {}, 2, STAGE_LANGUAGE),
    ("certification", {"requires": Requirements(certified=True)}, {}, 2, STAGE_PROFILE),
    ("kind", {"provider_kind": "ambassador"}, {}, 3, STAGE_PROFILE),
    ("gender", {"requires": Requirements(gender="m")}, {}, 4, STAGE_PROFILE),
    ("skills", {"requires": Requirements(skills=frozenset({"minors"}))}, {}, 4, STAGE_PROFILE),
    ("excluded", {"excluded_providers": frozenset({"p-1"})}, {}, 4, STAGE_PROFILE),
    (
        "modality",
        {"place": None, "modality": "video"},
        {"modalities": frozenset({"onsite"})},
        5,
        STAGE_PROFILE,
    ),
    ("country", {"place": TOURNAI}, {"countries": frozenset({"FR"})}, 6, STAGE_PROFILE),
]


@pytest.mark.parametrize(
    ("code", "session_fields", "provider_fields", "rule", "stage"),
    PROFILE_CASES,
    ids=[case[0] for case in PROFILE_CASES],
)
def test_each_profile_rule_refuses_with_its_code(
    code: str, session_fields: dict, provider_fields: dict, rule: int, stage: int
) -> None:
    rejection = check_profile(session(**session_fields), provider(**provider_fields))
    assert rejection is not None
    assert (rejection.code, rejection.rule, rejection.stage) == (code, rule, stage)


def test_a_fitting_profile_passes() -> None:
    assert check_profile(session(place=TOURNAI), provider()) is None


def _pair(s, p):  # type: ignore[no-untyped-def]
    prob = problem([p], [s])
    return check_pair(s, p, Timeline.for_problem(prob), Travel(prob.travel))


def test_travel_range_refuses_with_rule_8() -> None:
    option, rejection = _pair(session(place=MONS), provider())
    assert option is None and rejection is not None
    assert (rejection.rule, rejection.code, rejection.stage) == (8, "travel_range", STAGE_TRAVEL)


def test_availability_refuses_with_rule_7() -> None:
    option, rejection = _pair(session(start="2026-12-01 17:30"), provider())
    assert option is None and rejection is not None
    assert (rejection.rule, rejection.stage) == (7, STAGE_AVAILABILITY)


def test_a_round_trip_over_the_daily_limit_refuses_with_rule_10() -> None:
    # 60 minutes in Tournai and 2 x 37 minutes of driving: 134 > 120.
    option, rejection = _pair(session(place=TOURNAI), provider(max_minutes_per_day=120))
    assert option is None and rejection is not None
    assert (rejection.rule, rejection.stage) == (10, STAGE_CAPACITY)


def test_an_option_carries_its_starts_and_the_drive_from_home() -> None:
    option, _ = _pair(
        session(place=TOURNAI, window=("2026-12-01 07:00", "2026-12-01 11:00")), provider()
    )
    assert option is not None and option.home_minutes == 37
    (only,) = option.ranges
    tl = Timeline.for_problem(problem([provider()], [session()]))
    assert (only.lo, only.hi) == (
        tl.minute(at("2026-12-01 08:00")),
        tl.minute(at("2026-12-01 11:00")),
    )


def test_start_ranges_keep_one_availability_interval_and_split_at_midnight() -> None:
    s = session(minutes=60, window=("2026-12-01 20:00", "2026-12-02 02:00"))
    p = provider(available=(("2026-12-01 18:00", "2026-12-02 06:00"),))
    tl = Timeline.for_problem(problem([p], [s]))
    ranges = start_ranges(s, p, tl)
    assert [
        (tl.instant(r.lo).strftime("%d %H:%M"), tl.instant(r.hi).strftime("%d %H:%M"))
        for r in ranges
    ] == [
        ("01 20:00", "01 23:59"),
        ("02 00:00", "02 02:00"),
    ]
    assert ranges[0].day + 1 == ranges[1].day


REASON_CASES = [
    ("no_provider_speaks_language", {"language": "som"}, {}),
    ("no_eligible_provider", {"requires": Requirements(gender="m")}, {}),
    ("out_of_travel_range", {"place": MONS}, {}),
    ("no_availability", {"start": "2026-12-01 19:00"}, {}),
    ("capacity", {"place": TOURNAI}, {"max_minutes_per_day": 120}),
]


@pytest.mark.parametrize(
    ("reason", "session_fields", "provider_fields"), REASON_CASES, ids=[c[0] for c in REASON_CASES]
)
def test_each_stage_names_the_reason_a_session_stays_unassigned(
    reason: str, session_fields: dict, provider_fields: dict
) -> None:
    prob = problem([provider(**provider_fields)], [session(**session_fields)])
    eligibility = compute_eligibility(prob)
    assert eligibility.options == {}
    assert eligibility.unplaceable[0].reason == reason


def test_the_furthest_provider_names_the_reason() -> None:
    # One provider lacks the language, one is too far, one is simply busy elsewhere.
    prob = problem(
        [
            provider("p-1", languages=("tir",)),
            provider("p-2", living=MONS, max_travel_minutes=10),
            provider("p-3", available=(("2026-12-02 08:00", "2026-12-02 18:00"),)),
        ],
        [session()],
    )
    assert compute_eligibility(prob).unplaceable[0].reason == "no_availability"


def test_the_detail_counts_the_providers_who_got_furthest_and_gives_an_example() -> None:
    far = problem(
        [provider("p-1", max_travel_minutes=60), provider("p-2", max_travel_minutes=45)],
        [session(place=MONS)],
    )
    [why] = [u.why for u in compute_eligibility(far).unplaceable.values()]
    assert why == Why(
        "all_too_far",
        {"count": 2},
        Why("travel_range", {"provider": "p-1", "minutes": 92, "limit": 60}),
    )
    assert english(why) == (
        "2 providers fit the request; all live too far "
        "(e.g. p-1 lives 92 min away, beyond their 60 min limit)"
    )
    busy = problem(
        [provider("p-1"), provider("p-2", living=MONS, max_travel_minutes=10)],
        [session(start="2026-12-01 19:00")],
    )
    [detail] = [u.detail for u in compute_eligibility(busy).unplaceable.values()]
    assert detail == "1 provider fits the request and could get there, none at that time"


def test_eligible_providers_become_options() -> None:
    prob = problem(
        [provider("p-1"), provider("p-2", languages=("tir",)), provider("p-3")], [session()]
    )
    options = compute_eligibility(prob).options[0]
    assert [o.provider for o in options] == [0, 2]
