"""The reference baseline: the same rules as the solver, placed one session at a time.

Pinned pairs first, then the most urgent sessions, the hardest to staff first
(fewest options), earliest first. Each session goes to the provider and start
whose insertion costs the least soft score (travel added minus the preferred
bonus) while the provider's days stay within rules 9 and 10. No search, no
regret: it is fast, always valid, and the yardstick the CP-SAT plans must beat.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator
from dataclasses import dataclass

from matching.eligibility import Eligibility, Option, StartRange, compute_eligibility
from matching.problem import (
    PREFERRED_BONUS,
    Assignment,
    Bound,
    Plan,
    Problem,
    Stats,
    Unassigned,
)
from matching.routes import Conflict, Roster, Visit
from matching.timeline import Timeline
from matching.travel import Travel
from matching.validate import eligibility_bound, score_plan
from matching.why import Why

DEFAULT_STEP_MINUTES = 15


@dataclass(frozen=True)
class Insertion:
    """A feasible place for a session: provider index, start minute and soft cost."""

    provider: int
    start: int
    day: int
    cost: int
    travel_delta: int


class Placer:
    """Rosters of the providers, and the search for the cheapest feasible insertion.

    Shared with `candidates`: both place a session exactly the same way. Rosters
    are made on first use, so a caller interested in a few providers pays for those.
    """

    def __init__(
        self,
        problem: Problem,
        timeline: Timeline,
        travel: Travel,
        step: int = DEFAULT_STEP_MINUTES,
    ) -> None:
        self.problem = problem
        self.timeline = timeline
        self.travel = travel
        self.step = step
        self._rosters: dict[int, Roster] = {}

    def roster(self, p_idx: int) -> Roster:
        if p_idx not in self._rosters:
            self._rosters[p_idx] = Roster(self.problem.providers[p_idx], self.travel, self.timeline)
        return self._rosters[p_idx]

    def visit(self, s_idx: int, start: int) -> Visit:
        session = self.problem.sessions[s_idx]
        place = session.location if session.is_onsite else None
        return Visit(start, start + session.duration_minutes, place, session.id)

    def place(self, s_idx: int, p_idx: int, start: int, day: int) -> None:
        self.roster(p_idx).add(self.visit(s_idx, start), day)

    def best_for_provider(
        self, s_idx: int, option: Option
    ) -> tuple[Insertion | None, Conflict | None]:
        """The cheapest feasible insertion with one provider, or the conflict of the cheapest."""
        first_conflict: Conflict | None = None
        for cost, _, p_idx, day, delta, starts in sorted(self.insertions(s_idx, [option])):
            for start in starts:
                conflict = self.roster(p_idx).conflict(self.visit(s_idx, start), day)
                if conflict is None:
                    return Insertion(p_idx, start, day, cost, delta), None
                first_conflict = first_conflict or conflict
        return None, first_conflict

    def best(
        self, s_idx: int, options: tuple[Option, ...]
    ) -> tuple[Insertion | None, tuple[str, Conflict] | None]:
        """The cheapest feasible insertion over all options; else one conflict met, by provider."""
        first_conflict: tuple[str, Conflict] | None = None
        for cost, _, p_idx, day, delta, starts in sorted(self.insertions(s_idx, options)):
            roster = self.roster(p_idx)
            for start in starts:
                conflict = roster.conflict(self.visit(s_idx, start), day)
                if conflict is None:
                    return Insertion(p_idx, start, day, cost, delta), None
                if first_conflict is None:
                    first_conflict = (roster.provider.id, conflict)
        return None, first_conflict

    def insertions(
        self, s_idx: int, options: tuple[Option, ...] | list[Option]
    ) -> list[tuple[int, int, int, int, int, list[int]]]:
        """(cost, load, provider, day, travel delta, starts to try) per place in each day's order.

        Starts that land between the same two sessions of the provider's day cost
        the same travel, so each such slot is priced once.
        """
        session = self.problem.sessions[s_idx]
        wanted = self.timeline.minute(session.start)
        found = []
        for option in options:
            roster = self.roster(option.provider)
            preferred = roster.provider.id in session.preferred_providers
            bonus = PREFERRED_BONUS if preferred else 0
            for rng in option.ranges:
                slots: dict[int, list[int]] = {}
                starts_of_day = [v.start for v in roster.day_visits(rng.day)]
                for start in self._starts(s_idx, rng, roster):
                    slots.setdefault(bisect.bisect_right(starts_of_day, start), []).append(start)
                load = roster.day_minutes(rng.day)
                for starts in slots.values():
                    delta = roster.travel_delta(self.visit(s_idx, starts[0]), rng.day)
                    starts.sort(key=lambda t: (abs(t - wanted), t))
                    found.append((delta - bonus, load, option.provider, rng.day, delta, starts))
        return found

    def _starts(self, s_idx: int, rng: StartRange, roster: Roster) -> Iterator[int]:
        """The range's ends, the requested start, a grid, and starts that hug booked sessions."""
        if rng.lo == rng.hi:
            yield rng.lo
            return
        session = self.problem.sessions[s_idx]
        seen = {rng.lo, rng.hi}
        yield rng.lo
        yield rng.hi
        wanted = self.timeline.minute(session.start)
        if rng.lo < wanted < rng.hi:
            seen.add(wanted)
            yield wanted
        place = session.location if session.is_onsite else None
        duration = session.duration_minutes
        for v in roster.day_visits(rng.day):
            to_here = self.travel.minutes(v.place, place) if v.place is not None and place else 0
            from_here = self.travel.minutes(place, v.place) if v.place is not None and place else 0
            for start in (v.end + to_here, v.start - duration - from_here):
                if rng.lo < start < rng.hi and start not in seen:
                    seen.add(start)
                    yield start
        grid = -(-rng.lo // self.step) * self.step
        for start in range(grid, rng.hi, self.step):
            if start not in seen:
                seen.add(start)
                yield start


def solve_greedy(
    problem: Problem,
    *,
    step_minutes: int = DEFAULT_STEP_MINUTES,
    eligibility: Eligibility | None = None,
    timeline: Timeline | None = None,
    travel: Travel | None = None,
) -> Plan:
    """A valid plan without a solver: pinned pairs, then sessions by urgency, cheapest first."""
    began = time.monotonic()
    timeline = timeline or Timeline.for_problem(problem)
    travel = travel or Travel(problem.travel)
    eligibility = eligibility or compute_eligibility(problem, timeline, travel)
    placer = Placer(problem, timeline, travel, step_minutes)
    session_index = {s.id: i for i, s in enumerate(problem.sessions)}
    provider_index = {p.id: i for i, p in enumerate(problem.providers)}
    placed: dict[int, tuple[int, int]] = {}

    for pin in problem.fixed:
        s_idx, p_idx = session_index[pin.session], provider_index[pin.provider]
        option = next((o for o in eligibility.options.get(s_idx, ()) if o.provider == p_idx), None)
        insertion = placer.best_for_provider(s_idx, option)[0] if option else None
        if insertion is not None:
            start, day = insertion.start, insertion.day
        else:
            # A pinned pair is kept even when it breaks a rule: rule 1 outranks the
            # others here, and validate will name what the pin breaks.
            start = timeline.minute(problem.sessions[s_idx].start)
            day = timeline.day(start)
        placer.place(s_idx, p_idx, start, day)
        placed[s_idx] = (p_idx, start)

    unassigned: list[Unassigned] = []
    order = sorted(
        (s_idx for s_idx in eligibility.options if s_idx not in placed),
        key=lambda i: (
            -problem.sessions[i].priority,
            len(eligibility.options[i]),
            timeline.minute(problem.sessions[i].start),
            i,
        ),
    )
    for s_idx in order:
        options = eligibility.options[s_idx]
        insertion, conflict = placer.best(s_idx, options)
        if insertion is not None:
            placer.place(s_idx, insertion.provider, insertion.start, insertion.day)
            placed[s_idx] = (insertion.provider, insertion.start)
            continue
        unassigned.append(
            Unassigned.of(
                problem.sessions[s_idx].id,
                "capacity",
                Why("no_room", {"count": len(options)}, conflict[1].why if conflict else None),
            )
        )
    for s_idx, why in eligibility.unplaceable.items():
        if s_idx not in placed:
            unassigned.append(Unassigned.of(problem.sessions[s_idx].id, why.reason, why.why))

    assignments = tuple(
        Assignment(
            problem.sessions[s_idx].id,
            problem.providers[p_idx].id,
            timeline.instant(start),
        )
        for s_idx, (p_idx, start) in sorted(placed.items())
    )
    unassigned.sort(key=lambda u: session_index[u.session])
    score = score_plan(problem, assignments, unassigned)
    bound = eligibility_bound(problem, eligibility, travel=travel, timeline=timeline)
    return Plan(
        assignments=assignments,
        unassigned=tuple(unassigned),
        score=score,
        stats=Stats(
            status="FEASIBLE" if score.hard == 0 else "INFEASIBLE",
            solve_seconds=round(time.monotonic() - began, 3),
            bound=Bound(medium=bound.medium, soft=bound.soft),
            extra={"method": "greedy"},
        ),
    )
