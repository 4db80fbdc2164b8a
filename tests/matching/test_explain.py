"""Explanations: a sentence a dispatcher reads, and the facts behind it."""

from __future__ import annotations

import pytest

from matching.explain import (
    AssignmentFacts,
    UnassignedFacts,
    explain_assignment,
    explain_plan,
    explain_plan_facts,
    explain_session,
)
from matching.greedy import solve_greedy
from matching.problem import Requirements, Unassigned
from tests.matching.factories import (
    LILLE,
    ROUBAIX,
    TOURNAI,
    assign,
    plan,
    problem,
    provider,
    session,
)


def test_an_onsite_assignment_gives_drive_load_and_alternatives() -> None:
    prob = problem(
        [provider("p-1", certified=("ara",)), provider("p-2"), provider("p-3", languages=("tir",))],
        [
            session(
                place=TOURNAI,
                requires=Requirements(certified=True),
                preferred_providers=frozenset({"p-1"}),
            )
        ],
    )
    p = plan([assign("s-1", "p-1", "2026-12-01 10:00")])
    explanation = explain_session(prob, p, "s-1")
    facts = explanation.facts
    assert isinstance(facts, AssignmentFacts)
    assert explanation.code == "assigned"
    assert (facts.certified, facts.certification_required, facts.preferred) == (True, True, True)
    assert (facts.travel_from, facts.travel_minutes) == ("home", 37)
    assert (facts.day_sessions, facts.day_minutes, facts.max_minutes_per_day) == (1, 134, 480)
    assert facts.other_eligible == 0  # p-2 is not certified, p-3 does not speak Arabic
    assert explanation.sentence == (
        "p-1 (interpreter, speaks 'ara', certified) takes s-1 on 2026-12-01 at 10:00; "
        "a 37 min drive from home; a preferred provider for this session; "
        "their day: 1 session, 134 of 480 minutes with travel; "
        "nobody else could have taken it."
    )


def test_the_drive_comes_from_the_previous_session_and_continuity_shows() -> None:
    prob = problem(
        [provider("p-1"), provider("p-2")],
        [
            session("s-1", start="2026-12-01 09:00", place=ROUBAIX, beneficiary="b-1"),
            session("s-2", start="2026-12-01 11:00", place=TOURNAI, beneficiary="b-1"),
        ],
    )
    p = plan([assign("s-1", "p-1", "2026-12-01 09:00"), assign("s-2", "p-1", "2026-12-01 11:00")])
    facts = explain_session(prob, p, "s-2").facts
    assert isinstance(facts, AssignmentFacts)
    assert (facts.travel_from, facts.previous_session) == ("previous_session", "s-1")
    assert facts.travel_minutes < facts.home_minutes == 37
    assert facts.continuity and facts.other_eligible == 1
    sentence = explain_assignment(prob, p, "s-2")
    assert "from their previous session s-1" in sentence
    assert "same provider as for this beneficiary's other sessions" in sentence


def test_phone_work_says_no_travel() -> None:
    prob = problem([provider()], [session(place=None)])
    p = plan([assign("s-1", "p-1", "2026-12-01 10:00")])
    assert "by phone, no travel" in explain_assignment(prob, p, "s-1")


def test_pinned_work_says_so() -> None:
    prob = problem([provider()], [session(place=LILLE)], fixed=[("s-1", "p-1")])
    p = plan([assign("s-1", "p-1", "2026-12-01 10:00")])
    explanation = explain_session(prob, p, "s-1")
    assert explanation.code == "pinned"
    assert "as pinned (confirmed work)" in explanation.sentence


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("no_provider_speaks_language", "Nobody in the pool speaks 'ara'."),
        ("no_eligible_provider", "nobody meets the request"),
        ("out_of_travel_range", "too far"),
        ("no_availability", "available at that time"),
        ("capacity", "their days are full"),
        ("not_solved", "ran out of time"),
    ],
)
def test_each_unassigned_reason_has_a_sentence(reason: str, words: str) -> None:
    prob = problem([provider()], [session()])
    p = plan([], [Unassigned("s-1", reason, "some detail")])  # type: ignore[arg-type]
    explanation = explain_session(prob, p, "s-1")
    assert explanation.code == reason
    assert words in explanation.sentence and explanation.sentence.endswith("(some detail)")
    assert isinstance(explanation.facts, UnassignedFacts)
    assert explanation.facts.eligible == 1


def test_a_detail_that_only_repeats_the_sentence_is_left_out() -> None:
    prob = problem([provider()], [session(language="tir")])
    p = plan([], [Unassigned("s-1", "no_provider_speaks_language", "nobody speaks 'tir'")])
    assert explain_session(prob, p, "s-1").sentence == "Nobody in the pool speaks 'tir'."


def test_a_session_the_plan_forgot_is_called_missing() -> None:
    prob = problem([provider()], [session()])
    assert explain_session(prob, plan([]), "s-1").code == "missing"


def test_a_whole_plan_is_explained_session_by_session() -> None:
    prob = problem(
        [provider("p-1"), provider("p-2", living=TOURNAI)],
        [session("s-1", place=TOURNAI), session("s-2", place=None), session("s-3", language="som")],
    )
    p = solve_greedy(prob)
    sentences = explain_plan(prob, p)
    assert list(sentences) == ["s-1", "s-2", "s-3"]
    assert sentences["s-3"].startswith("Nobody in the pool speaks 'som'.")
    assert {k: e.code for k, e in explain_plan_facts(prob, p).items()} == {
        "s-1": "assigned",
        "s-2": "assigned",
        "s-3": "no_provider_speaks_language",
    }


def test_an_unknown_session_is_refused() -> None:
    prob = problem([provider()], [session()])
    with pytest.raises(ValueError, match="unknown session"):
        explain_assignment(prob, plan([]), "s-9")
