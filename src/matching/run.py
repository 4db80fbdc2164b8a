"""What one call of `solve` shares between its steps, and how it compares two plans.

The strategy and the neighbourhood search both keep the better of two
placements (session index -> provider index, start minute) of the same
sessions; both use `Run.better`, which scores them by docs/problem.md's
levels, plus the disruption penalty of a re-plan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from matching.model import Prepared
from matching.phases import Progress
from matching.problem import LADDER_STEP_COST, PREFERRED_BONUS, Problem, Unassigned
from matching.routes import Visit, idle_minutes, route_minutes
from matching.tuning import Tuning


@dataclass
class Run:
    """Everything one call of `solve` shares between its groups of parts."""

    problem: Problem
    prepared: Prepared
    tuning: Tuning
    deadline: float
    """`time.monotonic()` by which every group is done (the plan's assembly comes after)."""
    workers: int
    disruption_weight: int
    progress: Progress | None
    hint: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Where the solver starts from: the caller's plan, else the greedy's."""
    previous: dict[int, int] = field(default_factory=dict)
    """The caller's plan, session -> provider: moving a session away costs disruption."""
    fallback: dict[int, tuple[int, int]] = field(default_factory=dict)
    """A valid plan kept where the solver finds nothing better: the greedy's, or the caller's."""
    fallback_reasons: dict[int, Unassigned] = field(default_factory=dict)
    pins: dict[int, tuple[int, int]] = field(default_factory=dict)
    """A placement of the pinned sessions alone, the fallback of the fallback."""
    stats: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """Counters reported in the plan's `stats`."""
    stopped: bool = False
    """The caller asked to stop (its `progress` said so): every group not yet solved keeps
    its fallback."""

    def report(self, phase: str, value: float, bound: float) -> bool:
        """Tell the caller of a new solution; True, from then on, once it asked to stop."""
        if self.progress is not None and self.progress(phase, value, bound):
            self.stopped = True
        return self.stopped

    def staffed(self, sessions: Iterable[int]) -> int:
        """The priority summed over these sessions (a placement's keys: the ones it staffs)."""
        return sum(self.problem.sessions[s].priority for s in sessions)

    def score_of(self, placement: Mapping[int, tuple[int, int]]) -> tuple[int, int]:
        """Priority staffed (medium up to a constant) and soft of a placement."""
        problem = self.problem
        travel = 0
        days: dict[tuple[int, int], list[Visit]] = defaultdict(list)
        bonus = 0
        for s_idx, (p_idx, start) in placement.items():
            session = problem.sessions[s_idx]
            place = session.location if session.is_onsite else None
            day = self.prepared.timeline.day(start)
            visit = Visit(start, start + session.duration_minutes, place, session.id)
            days[(p_idx, day)].append(visit)
            if problem.providers[p_idx].id in session.preferred_providers:
                bonus += PREFERRED_BONUS
            if session.step_of is not None:
                bonus -= LADDER_STEP_COST * session.step_of.step
        for (p_idx, _day), visits in days.items():
            visits.sort(key=lambda v: v.start)
            provider = problem.providers[p_idx]
            travel += route_minutes(self.prepared.travel, provider.home, visits)
            if provider.counts_idle:
                travel += idle_minutes(self.prepared.travel, provider.home, visits)
        return self.staffed(placement), bonus - travel

    def better(
        self,
        a: Mapping[int, tuple[int, int]],
        b: Mapping[int, tuple[int, int]],
        outside: Mapping[int, int] | None = None,
    ) -> bool:
        """Whether `a` beats `b` on the same sessions: medium, then soft less the penalties.

        The penalties are the disruption of a re-plan and the fairness term;
        `outside` is the providers' load committed outside these sessions.
        """
        if self.disruption_weight or self.problem.fairness_weight:
            w = self.disruption_weight
            staffed_a, soft_a = self.score_of(a)
            staffed_b, soft_b = self.score_of(b)
            moved_a, moved_b = self._disruption(a, b), self._disruption(b, a)
            soft_a -= w * moved_a + self.fairness_of(a, outside or {})
            soft_b -= w * moved_b + self.fairness_of(b, outside or {})
            return (staffed_a, soft_a) > (staffed_b, soft_b)
        return self.score_of(a) > self.score_of(b)

    def fairness_of(
        self, placement: Mapping[int, tuple[int, int]], outside: Mapping[int, int]
    ) -> int:
        """The fairness term of a placement: the weight times its busiest provider's minutes."""
        weight = self.problem.fairness_weight
        if not weight:
            return 0
        minutes = dict(outside)
        for s_idx, (p_idx, _start) in placement.items():
            minutes[p_idx] = minutes.get(p_idx, 0) + self.problem.sessions[s_idx].duration_minutes
        return weight * max(minutes.values(), default=0)

    def _disruption(
        self, placement: Mapping[int, tuple[int, int]], other: Mapping[int, tuple[int, int]]
    ) -> int:
        """Sessions (of either placement) that the previous plan gave to another provider."""
        return sum(
            1
            for s in set(placement) | set(other)
            if s in self.previous and placement.get(s, (None, 0))[0] != self.previous[s]
        )
