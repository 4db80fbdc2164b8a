"""The incremental rule 9-10 check (greedy, candidates) agrees with validate's full check.

Sessions here fall at any minute of three days around the spring clock change,
so drives cross midnight and squeeze the neighbouring days.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.problem import Assignment, Interval, Problem, Session
from matching.routes import Roster, Visit
from matching.timeline import Timeline
from matching.travel import Travel
from matching.validate import check
from tests.matching.factories import KORTRIJK, LILLE, MONS, TOURNAI, problem, provider
from tests.matching.strategies import local

FIRST = date(2026, 3, 28)
PLACES = (LILLE, TOURNAI, KORTRIJK, MONS, None)


@st.composite
def busy_provider(draw: st.DrawFn) -> Problem:
    # Either spread over the days, or packed around midnight where the drives are tight.
    packed = draw(st.booleans())
    sessions = []
    for i in range(draw(st.integers(2, 12))):
        day = FIRST + timedelta(days=draw(st.integers(0, 2)))
        place = draw(st.sampled_from(PLACES))
        minute = draw(st.integers(21 * 12, 27 * 12) if packed else st.integers(0, 287)) * 5
        durations = [15, 20, 30, 45] if packed else [30, 60, 120, 300, 900, 1400]
        sessions.append(
            Session(
                id=f"s-{i}",
                language="ara",
                start=local(day, minute),
                duration_minutes=draw(st.sampled_from(durations)),
                modality="onsite" if place else "phone",
                location=place,
            )
        )
    worker = replace(
        provider(
            max_travel_minutes=200,
            max_minutes_per_day=draw(st.sampled_from([240, 480, 900, 3000])),
            max_minutes_per_week=draw(st.sampled_from([900, 3000, 9000])),
        ),
        availability=(Interval(local(FIRST, -1440), local(FIRST, 5 * 1440)),),
    )
    return problem([worker], sessions)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(busy_provider())
def test_roster_accepts_exactly_what_validate_accepts(prob: Problem) -> None:
    timeline = Timeline.for_problem(prob)
    roster = Roster(prob.providers[0], Travel(prob.travel), timeline)
    placed: list[Assignment] = []
    for s in prob.sessions:
        start = timeline.minute(s.start)
        visit = Visit(start, start + s.duration_minutes, s.location, s.id)
        conflict = roster.conflict(visit, timeline.day(start))
        trial = [*placed, Assignment(s.id, "p-1", s.start)]
        rules = {v.rule for v in check(prob, trial).violations if v.rule in (9, 10)}
        assert (conflict is None) == (not rules), (conflict, rules)
        if conflict is None:
            roster.add(visit, timeline.day(start))
            placed = trial
        else:
            assert conflict.rule in rules
    # Taking a session off restores the totals exactly.
    for a in placed:
        roster.remove(a.session)
    assert roster.visits == [] and set(roster.day_travel.values()) <= {0}
    assert set(roster.day_work.values()) <= {0} and set(roster.week_total.values()) <= {0}


def test_a_session_can_squeeze_the_drive_of_another_day() -> None:
    # Tournai at 08:40 on 1 December needs a 37-minute drive from home that may start
    # the day before. A phone duty from midnight on 30 November leaves room for it only
    # if it ends by 08:03.
    sessions = [
        Session("s-1", "ara", local(date(2026, 12, 1), 520), 60, location=TOURNAI),
        Session("s-2", "ara", local(date(2026, 11, 30), 0), 1923, modality="phone"),
        Session("s-3", "ara", local(date(2026, 11, 30), 0), 1924, modality="phone"),
    ]
    worker = replace(
        provider(max_minutes_per_day=3000, max_minutes_per_week=9000),
        availability=(Interval(local(date(2026, 11, 29), 0), local(date(2026, 12, 3), 0)),),
    )
    prob = problem([worker], sessions)
    timeline = Timeline.for_problem(prob)
    roster = Roster(worker, Travel(prob.travel), timeline)

    def visit(s: Session) -> tuple[Visit, int]:
        start = timeline.minute(s.start)
        place = s.location if s.is_onsite else None
        return Visit(start, start + s.duration_minutes, place, s.id), timeline.day(start)

    roster.add(*visit(sessions[0]))
    assert roster.conflict(*visit(sessions[1])) is None
    conflict = roster.conflict(*visit(sessions[2]))
    assert conflict is not None and (conflict.rule, conflict.code) == (9, "drive")
    assert conflict.why.code == "drive_elsewhere"
    assert conflict.why.params["minutes"] == 37
    assert (conflict.why.params["from"], conflict.why.params["to"]) == ("", "s-1")
    assert "would leave no free time for the 37 min drive from home to s-1" in conflict.detail
