"""Who else could take a session: every provider, ranked, with the reason for each refusal.

The dispatcher's override screen. The session is taken out of the current
plan, then each provider is tried: the static rules first (`check_pair`), then
the provider's days as the plan leaves them (rules 9 and 10, exactly as
`solve_greedy` inserts a session). Only the rosters of the providers that pass
the static rules are built, so the answer is quick on a whole plan.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from matching.eligibility import STAGE_CAPACITY, Option, check_pair
from matching.greedy import Placer
from matching.problem import Assignment, Plan, Problem, RuleCode
from matching.timeline import Timeline
from matching.travel import Travel
from matching.why import Why, english

STAGE_PINNED = STAGE_CAPACITY + 1
"""Refused because the session is pinned to someone else: listed first among refusals."""
STAGE_FEASIBLE = STAGE_PINNED + 1


@dataclass(frozen=True)
class Candidate:
    """One provider for one session: where and at what cost, or which rule says no."""

    provider: str
    feasible: bool
    start: datetime | None
    """Best start when feasible."""
    cost: int | None
    """Change of the soft score's cost: travel minutes added minus 60 if preferred."""
    travel_delta: int | None
    preferred: bool
    current: bool
    """This provider has the session in the plan now."""
    rule: int | None
    """The hard rule that refuses the provider (1-10), None when feasible."""
    code: RuleCode | None
    """Machine-readable refusal (docs/problem.md, "Hard rules"): language, certification, kind,
    gender, skills, excluded, modality, country, travel_range, availability, daily_minutes,
    weekly_minutes, overlap, drive, fixed."""
    why: Why
    """The refusal or `can_take`, as data (matching.why)."""
    stage: int
    """How far the provider got through the checks (eligibility's STAGE_*); higher is closer."""

    @property
    def detail(self) -> str:
        """`why` in English (the command line's words)."""
        return english(self.why)


def rank_candidates(
    problem: Problem,
    plan: Plan,
    session_id: str,
    *,
    timeline: Timeline | None = None,
    travel: Travel | None = None,
) -> list[Candidate]:
    """Every provider, the feasible ones first by added cost, then the refused ones with why."""
    s_idx = next((i for i, s in enumerate(problem.sessions) if s.id == session_id), None)
    if s_idx is None:
        raise ValueError(f"unknown session {session_id!r}")
    session = problem.sessions[s_idx]
    timeline = timeline or Timeline.for_problem(problem)
    travel = travel or Travel(problem.travel)
    placer = Placer(problem, timeline, travel)
    by_provider: dict[str, list[Assignment]] = defaultdict(list)
    for a in plan.assignments:
        if a.session != session_id:
            by_provider[a.provider].append(a)
    current = {a.provider for a in plan.assignments if a.session == session_id}
    pinned_to = next((f.provider for f in problem.fixed if f.session == session_id), None)
    sessions = {s.id: i for i, s in enumerate(problem.sessions)}
    wanted = timeline.minute(session.start)

    ranked: list[Candidate] = []
    for p_idx, provider in enumerate(problem.providers):
        preferred = provider.id in session.preferred_providers
        if pinned_to is not None and provider.id != pinned_to:
            ranked.append(
                _refused(
                    provider.id,
                    preferred,
                    current,
                    (
                        1,
                        "fixed",
                        Why("fixed", {"provider": provider.id, "pinned_to": pinned_to}),
                        STAGE_PINNED,
                    ),
                )
            )
            continue
        option, rejection = check_pair(session, provider, timeline, travel)
        if option is None:
            assert rejection is not None
            why = (rejection.rule, rejection.code, rejection.why, rejection.stage)
            ranked.append(_refused(provider.id, preferred, current, why))
            continue
        for a in by_provider.get(provider.id, []):
            other = sessions.get(a.session)
            if other is not None:
                begin = timeline.minute(a.start)
                placer.place(other, p_idx, begin, timeline.day(begin))
        insertion, conflict = placer.best_for_provider(
            s_idx, Option(s_idx, p_idx, option.ranges, option.home_minutes)
        )
        if insertion is None:
            assert conflict is not None
            why = (conflict.rule, conflict.code, conflict.why, STAGE_CAPACITY)
            ranked.append(_refused(provider.id, preferred, current, why))
            continue
        start = timeline.instant(insertion.start)
        ranked.append(
            Candidate(
                provider=provider.id,
                feasible=True,
                start=start,
                cost=insertion.cost,
                travel_delta=insertion.travel_delta,
                preferred=preferred,
                current=provider.id in current,
                rule=None,
                code=None,
                why=Why(
                    "can_take",
                    {
                        "provider": provider.id,
                        "start": start.isoformat(),
                        "minutes": insertion.travel_delta,
                        "preferred": preferred,
                    },
                ),
                stage=STAGE_FEASIBLE,
            )
        )
    ranked.sort(key=lambda c: _order(c, wanted, timeline))
    return ranked


def _order(c: Candidate, wanted: int, timeline: Timeline) -> tuple[int, int, int, bool, int, str]:
    """Feasible by added cost (the current provider first among equals), then refusals."""
    if c.feasible:
        assert c.cost is not None and c.start is not None and c.travel_delta is not None
        distance = abs(timeline.minute(c.start) - wanted)
        return (0, c.cost, c.travel_delta, not c.current, distance, c.provider)
    return (1, -c.stage, c.rule or 0, False, 0, c.provider)


def _refused(
    provider: str, preferred: bool, current: set[str], why: tuple[int, RuleCode, Why, int]
) -> Candidate:
    rule, code, reason, stage = why
    return Candidate(
        provider=provider,
        feasible=False,
        start=None,
        cost=None,
        travel_delta=None,
        preferred=preferred,
        current=provider in current,
        rule=rule,
        code=code,
        why=reason,
        stage=stage,
    )
