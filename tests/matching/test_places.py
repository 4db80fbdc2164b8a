"""Group sessions (`staff`): each rule with a plan it allows and one it forbids.

docs/problem.md, "Sessions that need several providers": one provider per
place, no provider twice in a session, rules 2-4 per place, one common start,
all or nothing where asked; assignments name their place. Each rule is
checked by the validator, by the CP-SAT model alone (`add_staff_places`), and
through `solve()`.

Travel from a home in Lille: Roubaix 21 min, Tournai 37.
"""

from __future__ import annotations

import time
from random import Random
from unittest import mock

import pytest

import matching.model as model_module
from matching.greedy import solve_greedy
from matching.io import (
    ProblemFormatError,
    plan_from_dict,
    plan_to_dict,
    problem_from_dict,
    problem_to_dict,
)
from matching.model import prepare
from matching.places import flatten, place_id
from matching.problem import (
    LADDER_STEP_COST,
    Assignment,
    FixedAssignment,
    Location,
    Place,
    Problem,
    Requirements,
    Unassigned,
)
from matching.run import Run
from matching.search import _cut_piece, _new_search, _solve_piece
from matching.solve import solve
from matching.tuning import DEFAULT_TUNING
from matching.validate import check, validate
from tests.matching.factories import (
    KORTRIJK,
    MONS,
    TOURNAI,
    at,
    plan,
    problem,
    provider,
    session,
)
from tests.matching.test_model_rules import admits

PASHTO_TIGRINYA_ARABIC = (
    Place("pus", provider_kind="ambassador"),
    Place("tir", requires=Requirements(certified=True)),
    Place("ara"),
)


def three_speakers() -> list:  # type: ignore[type-arg]
    return [
        provider("p-pus", languages=("pus",), kind="ambassador"),
        provider("p-tir", languages=("tir",), certified=("tir",)),
        provider("p-ara", languages=("ara",)),
    ]


def group(**fields: object) -> Problem:
    """A two-hour discussion group in Lille at 10:00 for Pashto, Tigrinya and Arabic."""
    values: dict[str, object] = {"staff": PASHTO_TIGRINYA_ARABIC, "minutes": 120, "priority": 2}
    values["language"] = "pus"  # a group session shows its first place's language
    values.update(fields)
    return problem(three_speakers(), [session("g-1", **values)])  # type: ignore[arg-type]


def two_arabic_places(*, all_or_nothing: bool = True, window: bool = False) -> Problem:
    """Two Arabic interpreters who take turns, 10:00 or up to 11:00 with a window."""
    return problem(
        [provider("p-1"), provider("p-2", available=(("2026-12-01 10:30", "2026-12-01 18:00"),))],
        [
            session(
                "g-1",
                staff=(Place("ara"), Place("ara")),
                all_or_nothing=all_or_nothing,
                window=("2026-12-01 10:00", "2026-12-01 11:00") if window else None,
            )
        ],
    )


def placed(*entries: tuple[int, str, str]) -> list[Assignment]:
    return [Assignment("g-1", p, at(f"2026-12-01 {clock}"), place=k) for k, p, clock in entries]


def codes(prob: Problem, assignments: list[Assignment], places: int) -> set[str]:
    staffed = {a.place for a in assignments}
    rest = [Unassigned("g-1", "capacity", "-", place=k) for k in range(places) if k not in staffed]
    return {v.code for v in validate(prob, plan(assignments, rest)).violations}


# --- the validator: each rule allows one plan and forbids another -------------------------


def test_every_place_filled_by_its_own_speaker_is_valid() -> None:
    prob = group()
    good = placed((0, "p-pus", "10:00"), (1, "p-tir", "10:00"), (2, "p-ara", "10:00"))
    assert codes(prob, good, 3) == set()


def test_a_place_has_at_most_one_provider() -> None:
    prob = two_arabic_places(all_or_nothing=False)
    assert codes(prob, placed((0, "p-1", "10:00")), 2) == set()
    twice = placed((0, "p-1", "10:00"), (0, "p-2", "10:00"))
    assert "duplicate" in codes(prob, twice, 2)


def test_one_provider_holds_at_most_one_place_of_a_session() -> None:
    prob = two_arabic_places(window=True)
    assert codes(prob, placed((0, "p-1", "10:30"), (1, "p-2", "10:30")), 2) == set()
    assert "same_provider" in codes(prob, placed((0, "p-1", "10:30"), (1, "p-1", "10:30")), 2)


def test_rules_two_to_four_apply_per_place() -> None:
    prob = group()
    swapped = placed((0, "p-pus", "10:00"), (1, "p-ara", "10:00"), (2, "p-tir", "10:00"))
    assert {"language"} <= codes(prob, swapped, 3)
    uncertified = problem(
        [*three_speakers()[::2], provider("p-tir", languages=("tir",))],
        [session("g-1", staff=PASHTO_TIGRINYA_ARABIC, minutes=120)],
    )
    plain = placed((0, "p-pus", "10:00"), (1, "p-tir", "10:00"), (2, "p-ara", "10:00"))
    assert codes(uncertified, plain, 3) == {"certification"}


def test_all_the_places_start_together() -> None:
    prob = two_arabic_places(window=True)
    assert codes(prob, placed((0, "p-1", "10:45"), (1, "p-2", "10:45")), 2) == set()
    apart = placed((0, "p-1", "10:00"), (1, "p-2", "10:30"))
    assert codes(prob, apart, 2) == {"common_start"}


def test_all_or_nothing_refuses_a_group_half_staffed() -> None:
    prob = two_arabic_places()
    assert codes(prob, [], 2) == set()
    assert codes(prob, placed((0, "p-1", "10:00")), 2) == {"all_or_nothing"}


def test_without_all_or_nothing_each_filled_place_counts() -> None:
    prob = two_arabic_places(all_or_nothing=False)
    one = placed((0, "p-1", "10:00"))
    rest = [Unassigned("g-1", "capacity", "-", place=1)]
    checked = validate(prob, plan(one, rest))
    assert checked.ok
    assert checked.score.medium == -1


def test_an_assignment_of_a_group_names_its_place() -> None:
    prob = two_arabic_places(all_or_nothing=False)
    nameless = [Assignment("g-1", "p-1", at("2026-12-01 10:00"))]
    assert "place" in codes(prob, nameless, 2)


def test_an_empty_place_costs_the_session_priority() -> None:
    prob = group()
    empty = [Unassigned("g-1", "capacity", "-", place=k) for k in range(3)]
    assert validate(prob, plan([], empty)).score.medium == -6


# --- the CP-SAT model: add_staff_places decides ------------------------------------------

ALLOWED_AND_FORBIDDEN = [
    (
        two_arabic_places(window=True),
        (("g-1#0", "p-1", "10:30"), ("g-1#1", "p-2", "10:30")),
        (("g-1#0", "p-1", "10:00"), ("g-1#1", "p-2", "10:30")),
    ),
    (
        two_arabic_places(window=True),
        (),
        (("g-1#0", "p-1", "10:00"),),
    ),
]


@pytest.mark.parametrize("case", ALLOWED_AND_FORBIDDEN, ids=["common_start", "all_or_nothing"])
def test_the_model_keeps_the_group_together(case: tuple) -> None:  # type: ignore[type-arg]
    prob, allowed, forbidden = case
    flat = flatten(prob)
    assert admits(flat, allowed, model_module.build_model)
    assert not admits(flat, forbidden, model_module.build_model)
    with mock.patch.object(model_module, "add_staff_places", lambda *a, **k: None):
        assert admits(flat, forbidden, model_module.build_model)


def test_the_relaxation_keeps_all_or_nothing() -> None:
    flat = flatten(two_arabic_places())
    assert not admits(flat, (("g-1#0", "p-1", "10:00"),), model_module.build_bound_model)


# --- solve() --------------------------------------------------------------------------------


def test_solve_staffs_a_three_language_group_one_provider_per_place() -> None:
    prob = group()
    result = solve(prob, time_limit=5.0, workers=1)
    assert validate(prob, result).ok
    assert {(a.place, a.provider) for a in result.assignments} == {
        (0, "p-pus"),
        (1, "p-tir"),
        (2, "p-ara"),
    }
    assert {a.session for a in result.assignments} == {"g-1"}
    assert len({a.start for a in result.assignments}) == 1
    assert result.score.medium == 0


def test_solve_chooses_one_start_every_place_can_make() -> None:
    # p-2 is free only from 10:30: the window lets both start at 10:30 or later.
    prob = two_arabic_places(window=True)
    result = solve(prob, time_limit=5.0, workers=1)
    assert validate(prob, result).ok
    starts = {a.start for a in result.assignments}
    assert len(result.assignments) == 2 and len(starts) == 1
    assert min(starts) >= at("2026-12-01 10:30")


def test_solve_leaves_an_all_or_nothing_group_empty_when_a_place_cannot_be_filled() -> None:
    # Without a window p-2 cannot start at 10:00: one interpreter is not a group.
    prob = two_arabic_places()
    result = solve(prob, time_limit=5.0, workers=1)
    assert validate(prob, result).ok
    assert result.assignments == ()
    assert sorted(u.place for u in result.unassigned if u.place is not None) == [0, 1]
    assert result.score.medium == -2


def test_solve_fills_what_it_can_without_all_or_nothing() -> None:
    prob = two_arabic_places(all_or_nothing=False)
    result = solve(prob, time_limit=5.0, workers=1)
    assert validate(prob, result).ok
    assert [(a.place, a.provider) for a in result.assignments] in ([(0, "p-1")], [(1, "p-1")])
    assert result.score.medium == -1


def test_a_place_nobody_speaks_gives_its_reason_to_the_whole_group() -> None:
    prob = problem(
        three_speakers(),
        [session("g-1", staff=(Place("ara"), Place("kat")), minutes=90)],
    )
    result = solve(prob, time_limit=5.0, workers=1)
    assert result.assignments == ()
    reasons = {u.place: u.reason for u in result.unassigned}
    assert reasons == {0: "no_provider_speaks_language", 1: "no_provider_speaks_language"}


def test_a_group_and_a_plain_session_compete_for_a_provider() -> None:
    # p-ara is needed by the group (priority 2 per place) and a call at the same time.
    prob = problem(
        three_speakers(),
        [
            session("g-1", staff=PASHTO_TIGRINYA_ARABIC, minutes=120, priority=2),
            session("s-call", start="2026-12-01 11:00", place=None),
        ],
    )
    result = solve(prob, time_limit=5.0, workers=1)
    assert validate(prob, result).ok
    assert {a.session for a in result.assignments} == {"g-1"}
    assert result.score.medium == -1


def test_a_pinned_place_keeps_its_provider() -> None:
    base = two_arabic_places(window=True)
    prob = Problem(
        providers=base.providers,
        sessions=base.sessions,
        fixed=(FixedAssignment("g-1", "p-2", place=0),),
    )
    result = solve(prob, time_limit=5.0, workers=1)
    assert validate(prob, result).ok
    assert ("g-1", 0, "p-2") in {(a.session, a.place, a.provider) for a in result.assignments}


# --- a group with a place already held: all or nothing binds the open places ----------------


def three_arabic_places_one_held(*, window: bool = False) -> Problem:
    """Three Arabic places, all or nothing, place 0 held by p-1; p-3 is free only from 10:30."""
    return Problem(
        providers=(
            provider("p-1"),
            provider("p-2"),
            provider("p-3", available=(("2026-12-01 10:30", "2026-12-01 18:00"),)),
        ),
        sessions=(
            session(
                "g-1",
                staff=(Place("ara"), Place("ara"), Place("ara")),
                window=("2026-12-01 10:00", "2026-12-01 11:00") if window else None,
            ),
        ),
        fixed=(FixedAssignment("g-1", "p-1", place=0),),
    )


def test_a_held_place_may_stay_alone_but_the_open_places_are_all_or_nothing() -> None:
    prob = three_arabic_places_one_held()
    assert codes(prob, placed((0, "p-1", "10:00")), 3) == set()
    half = placed((0, "p-1", "10:00"), (1, "p-2", "10:00"))
    assert codes(prob, half, 3) == {"all_or_nothing"}
    whole = placed((0, "p-1", "10:30"), (1, "p-2", "10:30"), (2, "p-3", "10:30"))
    assert codes(three_arabic_places_one_held(window=True), whole, 3) == set()


def test_the_model_keeps_a_held_place_and_the_open_ones_together() -> None:
    flat = flatten(three_arabic_places_one_held())
    assert admits(flat, (("g-1#0", "p-1", "10:00"),), model_module.build_model)
    half = (("g-1#0", "p-1", "10:00"), ("g-1#1", "p-2", "10:00"))
    assert not admits(flat, half, model_module.build_model)


def test_solve_keeps_the_held_place_when_the_others_cannot_all_be_filled() -> None:
    # p-3 cannot start at 10:00: the open places stay empty, the held one stays held.
    prob = three_arabic_places_one_held()
    result = solve(prob, time_limit=5.0, workers=1)
    assert validate(prob, result).ok
    assert [(a.place, a.provider) for a in result.assignments] == [(0, "p-1")]
    assert sorted(u.place for u in result.unassigned if u.place is not None) == [1, 2]
    greedy = solve_greedy(prob)
    assert validate(prob, greedy).ok
    assert [(a.place, a.provider) for a in greedy.assignments] == [(0, "p-1")]


def test_solve_fills_the_open_places_at_a_start_the_held_one_can_make() -> None:
    prob = three_arabic_places_one_held(window=True)
    result = solve(prob, time_limit=5.0, workers=1)
    assert validate(prob, result).ok
    assert (0, "p-1") in {(a.place, a.provider) for a in result.assignments}
    assert sorted(a.provider for a in result.assignments) == ["p-1", "p-2", "p-3"]
    starts = {a.start for a in result.assignments}
    assert len(starts) == 1 and min(starts) >= at("2026-12-01 10:30")


# --- the files ------------------------------------------------------------------------------


def test_a_group_reads_and_writes_back_equal() -> None:
    prob = group(all_or_nothing=False)
    assert problem_from_dict(problem_to_dict(prob)) == prob


def test_a_plan_names_its_places_in_json() -> None:
    result = solve(group(), time_limit=5.0, workers=1)
    data = plan_to_dict(result)
    assert {a["place"] for a in data["assignments"]} == {0, 1, 2}  # type: ignore[index,union-attr]
    assert plan_from_dict(data).assignments == result.assignments


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"language": "ara"}, "language: not allowed with `staff`"),
        ({"staff": []}, "staff: must list at least one place"),
        ({"staff": [{"language": "ara", "gender": "f"}]}, "staff[0]"),
    ],
)
def test_reading_a_group_is_strict(change: dict, message: str) -> None:  # type: ignore[type-arg]
    data = problem_to_dict(group())
    entry = data["sessions"][0]  # type: ignore[index]
    entry.update(change)
    with pytest.raises(ProblemFormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        problem_from_dict(data)


def test_all_or_nothing_needs_staff() -> None:
    data = problem_to_dict(problem([provider()], [session("s-1")]))
    data["sessions"][0]["all_or_nothing"] = True  # type: ignore[index]
    with pytest.raises(ProblemFormatError, match="all_or_nothing"):
        problem_from_dict(data)


def test_a_place_id_names_the_session() -> None:
    assert place_id("g-1", 2) == "g-1#2"


# --- modality ladders (`modalities`) ------------------------------------------------------


def ladder_problem(place: Location, **provider_fields: object) -> Problem:
    """One session that accepts onsite, or video if nobody can come, and one interpreter."""
    return problem(
        [provider("p-1", **provider_fields)],  # type: ignore[arg-type]
        [session("s-1", place=place, modalities=("onsite", "video"))],
    )


def test_a_ladder_stays_onsite_when_the_drive_costs_less_than_a_step() -> None:
    prob = ladder_problem(TOURNAI)  # 37 min each way: 74 < 90
    result = solve(prob, time_limit=5.0, workers=1)
    assert [(a.session, a.modality) for a in result.assignments] == [("s-1", "onsite")]
    assert result.score.soft == -74


def test_a_ladder_goes_down_a_step_when_that_saves_more_than_its_cost() -> None:
    prob = ladder_problem(MONS, max_travel_minutes=120)  # 92 min each way: 184 > 90
    result = solve(prob, time_limit=5.0, workers=1)
    assert [(a.session, a.modality) for a in result.assignments] == [("s-1", "video")]
    assert result.score == validate(prob, result).score
    assert result.score.soft == -LADDER_STEP_COST


def test_a_ladder_staffs_by_video_a_session_nobody_can_reach() -> None:
    prob = ladder_problem(MONS)  # beyond the 90 min travel limit
    result = solve(prob, time_limit=5.0, workers=1)
    assert [a.modality for a in result.assignments] == ["video"]
    assert result.score.medium == 0
    assert result.stats.bound is not None and result.stats.bound.medium == 0


def test_an_unstaffed_ladder_appears_once_with_its_furthest_reason() -> None:
    prob = ladder_problem(MONS, modalities=frozenset({"onsite"}))
    result = solve(prob, time_limit=5.0, workers=1)
    assert result.assignments == ()
    (only,) = result.unassigned
    assert only.session == "s-1" and only.reason == "out_of_travel_range"
    assert only.detail.startswith("onsite: ")
    assert result.score.medium == -1


def test_the_greedy_plan_climbs_down_the_ladder_too() -> None:
    prob = ladder_problem(MONS, max_travel_minutes=120)
    result = solve_greedy(prob)
    assert [a.modality for a in result.assignments] == ["video"]
    assert validate(prob, result).ok


def test_one_step_of_a_ladder_at_most() -> None:
    prob = problem(
        [provider("p-1"), provider("p-2")],
        [session("s-1", place=TOURNAI, modalities=("onsite", "video"))],
    )
    one = [Assignment("s-1", "p-1", at("2026-12-01 10:00"), modality="video")]
    assert validate(prob, plan(one)).ok
    both = [*one, Assignment("s-1", "p-2", at("2026-12-01 10:00"), modality="onsite")]
    assert {v.code for v in validate(prob, plan(both)).violations} == {"duplicate"}
    nameless = [Assignment("s-1", "p-1", at("2026-12-01 10:00"))]
    assert "modality" in {v.code for v in validate(prob, plan(nameless)).violations}


def test_the_model_staffs_one_step_of_a_ladder() -> None:
    flat = flatten(
        problem(
            [provider("p-1"), provider("p-2")],
            [session("s-1", place=TOURNAI, modalities=("onsite", "video"))],
        )
    )
    one = (("s-1@video", "p-1", "10:00"),)
    both = (("s-1@onsite", "p-2", "10:00"), ("s-1@video", "p-1", "10:00"))
    assert admits(flat, one, model_module.build_model)
    assert not admits(flat, both, model_module.build_model)
    assert not admits(flat, both, model_module.build_bound_model)
    with mock.patch.object(model_module, "add_modality_ladder", lambda *a, **k: None):
        assert admits(flat, both, model_module.build_model)


def test_a_ladder_reads_and_writes_back_equal() -> None:
    prob = ladder_problem(MONS)
    assert problem_from_dict(problem_to_dict(prob)) == prob
    data = plan_to_dict(solve(prob, time_limit=5.0, workers=1))
    assert data["assignments"][0]["modality"] == "video"  # type: ignore[index]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"modality": "onsite"}, "modality: not allowed with `modalities`"),
        ({"modalities": ["onsite", "onsite"]}, r"modalities\[1\]"),
        ({"modalities": []}, "at least one"),
    ],
)
def test_reading_a_ladder_is_strict(change: dict, message: str) -> None:  # type: ignore[type-arg]
    data = problem_to_dict(ladder_problem(MONS))
    data["sessions"][0].update(change)  # type: ignore[index]
    with pytest.raises(ProblemFormatError, match=message):
        problem_from_dict(data)


# --- a group whose places climb down a modality ladder ------------------------------------


def laddered_group(*, all_or_nothing: bool = True, second: tuple[str, ...] = ("ara",)) -> Problem:
    """Two places in Mons, onsite or by video: p-1 may drive that far, p-2 may not."""
    return problem(
        [provider("p-1", max_travel_minutes=240), provider("p-2", languages=second)],
        [
            session(
                "g-1",
                place=MONS,
                staff=(Place("ara"), Place("ara")),
                all_or_nothing=all_or_nothing,
                modalities=("onsite", "video"),
            )
        ],
    )


def steps(*entries: tuple[int, str, str]) -> list[Assignment]:
    """Places of g-1 at 10:00: (place, provider, modality)."""
    return [
        Assignment("g-1", p, at("2026-12-01 10:00"), place=k, modality=m) for k, p, m in entries
    ]


def test_each_place_of_a_group_takes_one_step_of_its_ladder() -> None:
    prob = laddered_group()
    mixed = steps((0, "p-1", "video"), (1, "p-2", "video"))
    assert validate(prob, plan(mixed)).ok
    twice = [*mixed, *steps((0, "p-1", "onsite"))]
    assert "duplicate" in {v.code for v in validate(prob, plan(twice)).violations}


def test_the_model_keeps_one_step_per_place_and_the_group_together() -> None:
    flat = flatten(laddered_group())
    both = (("g-1#0@onsite", "p-1", "10:00"), ("g-1#1@video", "p-2", "10:00"))
    assert admits(flat, both, model_module.build_model)
    alone = (("g-1#0@video", "p-1", "10:00"),)
    assert not admits(flat, alone, model_module.build_model)
    two_steps = (("g-1#0@onsite", "p-1", "10:00"), ("g-1#0@video", "p-2", "10:00"))
    assert not admits(flat, two_steps, model_module.build_model)


def test_solve_staffs_a_group_each_place_by_the_step_it_can() -> None:
    prob = laddered_group()
    for result in (solve(prob, time_limit=5.0, workers=1), solve_greedy(prob)):
        assert validate(prob, result).ok
        used = {(a.provider, a.modality) for a in result.assignments}
        assert ("p-2", "video") in used and len(used) == 2
        assert {a.place for a in result.assignments} == {0, 1}
        assert {a.session for a in result.assignments} == {"g-1"}
        assert len({a.start for a in result.assignments}) == 1


def test_solve_leaves_a_laddered_all_or_nothing_group_empty_when_a_place_has_nobody() -> None:
    prob = laddered_group(second=("tir",))  # one Arabic speaker for two places
    result = solve(prob, time_limit=5.0, workers=1)
    assert validate(prob, result).ok
    assert result.assignments == ()
    assert sorted(u.place for u in result.unassigned) == [0, 1]
    partial = laddered_group(all_or_nothing=False, second=("tir",))
    result = solve(partial, time_limit=5.0, workers=1)
    assert validate(partial, result).ok
    assert [(a.provider, a.modality) for a in result.assignments] in (
        [("p-1", "onsite")],
        [("p-1", "video")],
    )


def test_a_pinned_place_of_a_laddered_group_names_its_step() -> None:
    base = laddered_group()
    prob = Problem(
        providers=base.providers,
        sessions=base.sessions,
        fixed=(FixedAssignment("g-1", "p-2", place=1, modality="video"),),
    )
    result = solve(prob, time_limit=5.0, workers=1)
    assert validate(prob, result).ok
    assert ("p-2", 1, "video") in {(a.provider, a.place, a.modality) for a in result.assignments}
    assert problem_from_dict(problem_to_dict(prob)) == prob


# --- the neighbourhood search re-plans a group's places with their providers' days ----------


def test_a_piece_that_brings_in_a_siblings_provider_brings_in_that_providers_day() -> None:
    # p-ara holds a session in Kortrijk until 11:50; the group in Tournai at 12:00 needs an
    # Arabic interpreter beside the Tigrinya one, and p-ara is the only one, too far to make it.
    prob = flatten(
        problem(
            [provider("p-tir", languages=("tir",), living=TOURNAI), provider("p-ara")],
            [
                session("s-kortrijk", start="2026-12-01 10:20", minutes=90, place=KORTRIJK),
                session(
                    "g-1",
                    start="2026-12-01 12:00",
                    place=TOURNAI,
                    staff=(Place("tir"), Place("ara")),
                    all_or_nothing=False,
                ),
            ],
        )
    )
    prepared = prepare(prob)
    run = Run(prob, prepared, DEFAULT_TUNING, time.monotonic() + 30, 1, 0, None)
    index = {s.id: i for i, s in enumerate(prob.sessions)}
    noon = prepared.timeline.minute(at("2026-12-01 12:00"))
    held = {index["s-kortrijk"]: (1, prepared.timeline.minute(at("2026-12-01 10:20")))}
    search = _new_search(run, sorted(prepared.options), held)

    piece = _cut_piece(
        run, search, index[place_id("g-1", 0)], prepared.timeline.day(noon), Random(0)
    )

    assert piece is not None and 1 in piece.providers  # p-ara, for the Arabic place
    assert index["s-kortrijk"] in piece.sessions  # without it, the model saw p-ara's day empty
    after = _solve_piece(run, piece, time.monotonic() + 30)
    assert after is not None
    kept = {s: where for s, where in search.placement.items() if s not in piece.sessions}
    placed = [
        Assignment(prob.sessions[s].id, prob.providers[p].id, prepared.timeline.instant(t))
        for s, (p, t) in {**kept, **after}.items()
    ]
    assert [v for v in check(prob, placed).violations if v.code != "missing"] == []
