"""Why each session got its provider, or why it got none, as data a dispatcher's words are made of.

Each explanation is a sequence of `Why` parts (codes and parameters,
matching.why) and the facts they were built from; the service renders the
parts in French, Dutch or English, the command line in English
(`Explanation.sentence`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from matching.eligibility import Eligibility, compute_eligibility
from matching.problem import Plan, Problem
from matching.timeline import Timeline
from matching.travel import Travel
from matching.validate import provider_days
from matching.why import Why, english_explanation


@dataclass(frozen=True)
class AssignmentFacts:
    """What made this provider a good choice for this session."""

    session: str
    provider: str
    provider_kind: str
    language: str
    certified: bool
    certification_required: bool
    modality: str
    start: datetime
    pinned: bool
    travel_from: str | None
    """`home`, `previous_session`, or None for phone and video."""
    previous_session: str | None
    travel_minutes: int
    """The drive that brings the provider to this session (0 for phone and video)."""
    home_minutes: int
    """The drive from the provider's home, for comparison."""
    preferred: bool
    continuity: bool
    """The provider also has this beneficiary's other sessions in the plan."""
    day_sessions: int
    day_minutes: int
    """Session and travel minutes of the provider's day."""
    max_minutes_per_day: int
    other_eligible: int
    """Other providers who pass the static rules (language, profile, range, availability)."""


@dataclass(frozen=True)
class UnassignedFacts:
    session: str
    reason: str
    detail: Why | None
    language: str
    eligible: int
    """Providers who pass the static rules; nonzero only for `capacity` and `not_solved`."""


@dataclass(frozen=True)
class Explanation:
    session: str
    code: str
    """`assigned`, `pinned`, an unassigned reason, or `missing` (the plan forgot it)."""
    parts: tuple[Why, ...]
    """For an assigned session `takes` (or `takes_pinned`) and what made it a good choice;
    for another, the reason (matching.why.REASON_CODES) and its detail."""
    facts: AssignmentFacts | UnassignedFacts | None

    @property
    def sentence(self) -> str:
        """The explanation in English (the command line's words)."""
        return english_explanation(self.parts)


class Explainer:
    """Explanations for one plan; indexes the plan once, then answers per session."""

    def __init__(
        self,
        problem: Problem,
        plan: Plan,
        *,
        eligibility: Eligibility | None = None,
        timeline: Timeline | None = None,
        travel: Travel | None = None,
    ) -> None:
        self.problem = problem
        self.plan = plan
        self.zone = ZoneInfo(problem.timezone)
        self.timeline = timeline or Timeline.for_problem(problem)
        self.travel = travel or Travel(problem.travel)
        self.eligibility = eligibility or compute_eligibility(problem, self.timeline, self.travel)
        self.sessions = {s.id: s for s in problem.sessions}
        self.session_index = {s.id: i for i, s in enumerate(problem.sessions)}
        self.providers = {p.id: p for p in problem.providers}
        self.provider_index = {p.id: i for i, p in enumerate(problem.providers)}
        self.pinned = {(f.session, f.provider) for f in problem.fixed}
        self.assignment = {a.session: a for a in plan.assignments}
        self.unassigned = {u.session: u for u in plan.unassigned}
        self.beneficiary_load = Counter(
            (self.sessions[a.session].beneficiary, a.provider)
            for a in plan.assignments
            if a.session in self.sessions and self.sessions[a.session].beneficiary
        )
        # Per session: the drive into it, where from, and the load of its day.
        self.arrival: dict[str, tuple[str | None, str | None, int]] = {}
        self.day_load: dict[str, tuple[int, int]] = {}
        for pd in provider_days(
            problem, plan.assignments, travel=self.travel, timeline=self.timeline
        ):
            load = (len(pd.visits), pd.session_minutes + pd.travel_minutes)
            here = pd.provider.home
            came_from: str | None = None
            for visit in pd.visits:
                self.day_load[visit.session] = load
                if visit.place is None:
                    self.arrival[visit.session] = (None, None, 0)
                    continue
                drive = self.travel.minutes(here, visit.place)
                origin = "home" if came_from is None else "previous_session"
                self.arrival[visit.session] = (origin, came_from, drive)
                here, came_from = visit.place, visit.session

    def explain(self, session_id: str) -> Explanation:
        session = self.sessions.get(session_id)
        if session is None:
            raise ValueError(f"unknown session {session_id!r}")
        s_idx = self.session_index[session_id]
        eligible = {o.provider for o in self.eligibility.options.get(s_idx, ())}
        assignment = self.assignment.get(session_id)
        if assignment is None or assignment.provider not in self.providers:
            return self._unassigned(session_id, len(eligible))
        provider = self.providers[assignment.provider]
        p_idx = self.provider_index[provider.id]
        skill = provider.language(session.language)
        origin, previous, drive = self.arrival.get(session_id, (None, None, 0))
        sessions_that_day, minutes_that_day = self.day_load.get(session_id, (1, 0))
        facts = AssignmentFacts(
            session=session_id,
            provider=provider.id,
            provider_kind=provider.kind,
            language=session.language,
            certified=bool(skill and skill.certified),
            certification_required=session.requires.certified,
            modality=session.modality,
            start=assignment.start.astimezone(self.zone),
            pinned=(session_id, provider.id) in self.pinned,
            travel_from=origin,
            previous_session=previous,
            travel_minutes=drive,
            home_minutes=(
                self.travel.minutes(provider.home, session.location)
                if session.is_onsite and session.location is not None
                else 0
            ),
            preferred=provider.id in session.preferred_providers,
            continuity=bool(session.beneficiary)
            and self.beneficiary_load[(session.beneficiary, provider.id)] > 1,
            day_sessions=sessions_that_day,
            day_minutes=minutes_that_day,
            max_minutes_per_day=provider.max_minutes_per_day,
            other_eligible=len(eligible - {p_idx}),
        )
        return Explanation(
            session_id, "pinned" if facts.pinned else "assigned", _assigned_parts(facts), facts
        )

    def _unassigned(self, session_id: str, eligible: int) -> Explanation:
        session = self.sessions[session_id]
        entry = self.unassigned.get(session_id)
        if entry is None:
            return Explanation(session_id, "missing", (Why("missing"),), None)
        reason = Why(entry.reason, {"language": session.language})
        detail = entry.why or (Why("text", {"text": entry.detail}) if entry.detail else None)
        parts = (reason, detail) if detail is not None else (reason,)
        facts = UnassignedFacts(session_id, entry.reason, detail, session.language, eligible)
        return Explanation(session_id, entry.reason, parts, facts)


def explain_session(problem: Problem, plan: Plan, session_id: str) -> Explanation:
    """The sentence and the facts for one session of a plan."""
    return Explainer(problem, plan).explain(session_id)


def explain_assignment(problem: Problem, plan: Plan, session_id: str) -> str:
    """Why this session has this provider (or none), in one plain-English paragraph."""
    return explain_session(problem, plan, session_id).sentence


def explain_plan(problem: Problem, plan: Plan) -> dict[str, str]:
    """A sentence for every session of the problem, by session id."""
    return {k: e.sentence for k, e in explain_plan_facts(problem, plan).items()}


def explain_plan_facts(problem: Problem, plan: Plan) -> dict[str, Explanation]:
    """An `Explanation` for every session of the problem, by session id."""
    explainer = Explainer(problem, plan)
    return {s.id: explainer.explain(s.id) for s in problem.sessions}


def _assigned_parts(f: AssignmentFacts) -> tuple[Why, ...]:
    parts = [
        Why(
            "takes_pinned" if f.pinned else "takes",
            {
                "provider": f.provider,
                "kind": f.provider_kind,
                "language": f.language,
                "certified": f.certified,
                "session": f.session,
                "when": f.start.isoformat(),
            },
        )
    ]
    if f.travel_from is None:
        parts.append(Why("remote", {"modality": f.modality}))
    elif f.travel_from == "home":
        parts.append(Why("drive_from_home", {"minutes": f.travel_minutes}))
    else:
        parts.append(
            Why(
                "drive_from_previous",
                {
                    "minutes": f.travel_minutes,
                    "previous": f.previous_session or "",
                    "home_minutes": f.home_minutes,
                },
            )
        )
    if f.preferred:
        parts.append(Why("preferred"))
    if f.continuity:
        parts.append(Why("continuity"))
    parts.append(
        Why(
            "day_load",
            {"sessions": f.day_sessions, "minutes": f.day_minutes, "limit": f.max_minutes_per_day},
        )
    )
    if f.other_eligible == 0:
        parts.append(Why("nobody_else"))
    else:
        parts.append(Why("others_could", {"count": f.other_eligible}))
    return tuple(parts)
