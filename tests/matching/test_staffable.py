"""What would make an unstaffed session staffable: each kind of change, and that it really works.

Every suggestion is taken back to the matcher: the problem with the change
made is solved, and the session is staffed.

Travel from a home in Lille: Tournai 37 min, Mons 92.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from matching.problem import Place, Problem, Requirements
from matching.solve import solve
from matching.staffable import Suggestion, suggest, suggest_all, suggest_group
from tests.matching.factories import MONS, TOURNAI, assign, at, plan, problem, provider, session


def unstaffed(prob: Problem, *assignments: tuple[str, str, str]) -> list[Suggestion]:
    """The suggestions for `s-1`, the others held as given."""
    held = plan([assign(s, p, when) for s, p, when in assignments])
    return suggest(prob, held, "s-1")


def taken(prob: Problem, suggestion: Suggestion) -> Problem:
    """The problem with the suggested change made."""
    change = suggestion.change
    if suggestion.kind in ("cross_border", "travel_limit"):
        providers = []
        for p in prob.providers:
            if p.id == change["provider"]:
                if suggestion.kind == "cross_border":
                    p = replace(p, countries=p.countries | {str(change["country"])})
                else:
                    extra = int(change["extra_minutes"])
                    p = replace(p, max_travel_minutes=p.max_travel_minutes + extra)
            providers.append(p)
        return replace(prob, providers=tuple(providers))
    sessions = []
    for s in prob.sessions:
        if s.id == suggestion.session:
            if suggestion.kind == "start":
                s = replace(s, start=datetime.fromisoformat(str(change["start"])), window=None)
            elif suggestion.kind == "modality":
                s = replace(s, modality=change["modality"], modalities=())  # type: ignore[arg-type]
            elif suggestion.kind == "all_or_nothing":
                s = replace(s, all_or_nothing=False)
            elif change["need"] == "gender":
                s = replace(s, requires=replace(s.requires, gender=None))
            elif change["need"] == "certified":
                s = replace(s, requires=replace(s.requires, certified=False))
        sessions.append(s)
    return replace(prob, sessions=tuple(sessions))


def staffs(prob: Problem, suggestion: Suggestion) -> bool:
    """Whether the matcher staffs the session once the change is made (pins kept)."""
    result = solve(taken(prob, suggestion), time_limit=5.0, workers=1)
    return suggestion.session in {a.session for a in result.assignments}


def test_a_busy_provider_suggests_the_nearest_free_start_the_same_day() -> None:
    prob = problem(
        [provider()],
        [session("s-1"), session("s-2", start="2026-12-01 10:00")],
        fixed=[("s-2", "p-1")],
    )
    (first, *_) = unstaffed(prob, ("s-2", "p-1", "2026-12-01 10:00"))
    assert first.kind == "start" and first.changes_booking
    assert first.start in (at("2026-12-01 09:00"), at("2026-12-01 11:00"))
    assert first.providers == ("p-1",)
    assert staffs(prob, first)


def test_too_far_suggests_another_modality_and_a_longer_drive() -> None:
    prob = problem([provider(modalities=frozenset({"onsite", "video"}))], [session(place=MONS)])
    found = unstaffed(prob)
    assert [s.kind for s in found] == ["modality", "travel_limit"]
    modality, travel = found
    assert modality.change == {"modality": "video"}
    assert travel.change == {"provider": "p-1", "extra_minutes": 2}
    assert not travel.changes_booking
    for suggestion in found:
        assert staffs(prob, suggestion)


def test_a_need_nobody_meets_names_who_would_qualify_without_it() -> None:
    prob = problem(
        [provider("p-1"), provider("p-2")],
        [session(requires=Requirements(gender="m"), place=None)],
    )
    (need,) = [s for s in unstaffed(prob) if s.kind == "drop_need"]
    assert need.change == {"need": "gender"}
    assert need.providers == ("p-1", "p-2")
    assert staffs(prob, need)


def test_a_provider_kept_on_one_side_of_the_border_is_suggested() -> None:
    prob = problem([provider(countries=frozenset({"FR"}))], [session(place=TOURNAI)])
    (border,) = [s for s in unstaffed(prob) if s.kind == "cross_border"]
    assert border.change == {"provider": "p-1", "country": "BE"}
    assert staffs(prob, border)


def test_at_most_three_one_per_kind_best_first() -> None:
    # Certified, female, by nobody who can come: many kinds of change would do.
    prob = problem(
        [provider(countries=frozenset({"FR"}), gender="m", modalities=frozenset({"phone"}))],
        [session(place=TOURNAI, requires=Requirements(gender="f"))],
    )
    found = unstaffed(prob)
    assert len(found) <= 3
    assert len({s.kind for s in found}) == len(found)
    assert [s.rank for s in found] == sorted(s.rank for s in found)


def test_nothing_to_suggest_when_nobody_speaks_the_language() -> None:
    prob = problem([provider()], [session(language="kat")])
    assert unstaffed(prob) == []


def test_every_unassigned_session_of_a_plan_gets_its_list() -> None:
    prob = problem(
        [provider()],
        [session("s-1"), session("s-2", start="2026-12-01 10:00"), session("s-3", language="kat")],
    )
    result = solve(prob, time_limit=5.0, workers=1)
    lists = suggest_all(prob, result)
    assert set(lists) == {u.session for u in result.unassigned}
    assert lists["s-3"] == []


def test_nothing_to_change_when_someone_can_take_it_as_it_is() -> None:
    prob = problem([provider()], [session("s-1")])
    assert unstaffed(prob) == []


# --- a group session as a whole -------------------------------------------------------------


def two_places(free: tuple[str, str] = ("2026-12-01 14:00", "2026-12-01 18:00")) -> Problem:
    """Two Arabic places at 10:00 for 90 minutes; p-2 is free only in `free`."""
    return problem(
        [provider("p-1"), provider("p-2", available=(free,))],
        [session("g-1", staff=(Place("ara"), Place("ara")), minutes=90)],
    )


def test_a_group_is_told_the_start_every_place_can_make_and_to_go_ahead_without_all() -> None:
    prob = two_places()
    found = suggest_group(prob, plan([]), "g-1")
    assert [s.kind for s in found] == ["start", "all_or_nothing"]
    start, partial = found
    assert datetime.fromisoformat(str(start.change["start"])) >= at("2026-12-01 14:00")
    assert set(start.providers) == {"p-1", "p-2"} and start.changes_booking
    assert partial.change == {"places": 1, "of": 2} and partial.providers == ("p-1",)
    for suggestion in found:
        result = solve(taken(prob, suggestion), time_limit=5.0, workers=1)
        filled = [a for a in result.assignments if a.session == "g-1"]
        assert len(filled) == (2 if suggestion.kind == "start" else 1)


def test_a_group_that_can_be_staffed_as_it_is_needs_no_change() -> None:
    assert (
        suggest_group(two_places(("2026-12-01 08:00", "2026-12-01 18:00")), plan([]), "g-1") == []
    )


def test_a_group_with_one_speaker_for_two_places_may_only_go_ahead_without_all() -> None:
    prob = two_places(("2026-12-02 08:00", "2026-12-02 09:00"))  # p-2 never free long enough
    found = suggest_group(prob, plan([]), "g-1")
    assert [s.kind for s in found] == ["all_or_nothing"]
    without = replace(prob, sessions=(replace(prob.sessions[0], all_or_nothing=False),))
    assert [s.kind for s in suggest_group(without, plan([]), "g-1")] == []


def test_a_plan_s_suggestions_name_the_group_as_a_whole_too() -> None:
    prob = two_places()
    every = suggest_all(prob, solve(prob, time_limit=5.0, workers=1))
    assert [s.kind for s in every["g-1"]] == ["start", "all_or_nothing"]
