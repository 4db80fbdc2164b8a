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
from dataclasses import dataclass, replace

from matching.eligibility import Eligibility, Option, StartRange, compute_eligibility
from matching.places import (
    by_place,
    flatten,
    fold_plan,
    group_members,
    ladder_members,
    needs_flattening,
)
from matching.problem import (
    LADDER_STEP_COST,
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


GROUP_STARTS_TRIED = 48
"""A group session's common start is tried at most at this many times, nearest the wanted first."""


def _place_group(
    placer: Placer,
    eligibility: Eligibility,
    members: tuple[int, ...],
    placed: dict[int, tuple[int, int]],
) -> dict[int, tuple[int, int]]:
    """The places of one group session, placed at one common start with distinct providers.

    All of them or none for an all-or-nothing group (of the places no pin
    holds); otherwise as many as one start allows. Pinned places fix the
    start. A place with a modality ladder takes its cheapest step there.
    """
    problem, timeline = placer.problem, placer.timeline
    link = problem.sessions[members[0]].place_of
    whole = link is not None and link.all_or_nothing
    open_places = [
        ms for ms in by_place(problem, members).values() if not any(m in placed for m in ms)
    ]
    todo = sorted(
        (steps for ms in open_places if (steps := [m for m in ms if m in eligibility.options])),
        key=lambda steps: min(len(eligibility.options[m]) for m in steps),
    )
    if not todo or (whole and len(todo) < len(open_places)):
        return {}
    held = [placed[m] for m in members if m in placed]
    if held:
        candidates = [held[0][1]]
    else:
        seen: set[int] = set()
        for first in todo[0]:
            for option in eligibility.options[first]:
                for rng in option.ranges:
                    seen.update(placer._starts(first, rng, placer.roster(option.provider)))
        wanted = timeline.minute(problem.sessions[todo[0][0]].start)
        candidates = sorted(seen, key=lambda t: (abs(t - wanted), t))[:GROUP_STARTS_TRIED]
    best: list[tuple[int, Insertion]] = []
    for start in candidates:
        got = _try_group_at(placer, eligibility, todo, start, {p for p, _ in held}, whole)
        for m, insertion in got:
            placer.roster(insertion.provider).remove(problem.sessions[m].id)
        if len(got) > len(best):
            best = got
        if len(got) == len(todo):
            break
    if whole and len(best) < len(todo):
        return {}
    for m, insertion in best:
        placer.place(m, insertion.provider, insertion.start, insertion.day)
    return {m: (insertion.provider, insertion.start) for m, insertion in best}


def _place_on_ladder(
    placer: Placer,
    eligibility: Eligibility,
    steps: tuple[int, ...],
    placed: dict[int, tuple[int, int]],
) -> dict[int, tuple[int, int]]:
    """The cheapest step of a modality ladder, each step down costing LADDER_STEP_COST."""
    if any(m in placed for m in steps):
        return {}
    best: tuple[int, int, Insertion] | None = None
    for k, m in enumerate(steps):
        if m not in eligibility.options:
            continue
        insertion = placer.best(m, eligibility.options[m])[0]
        if insertion is None:
            continue
        cost = insertion.cost + LADDER_STEP_COST * k
        if best is None or cost < best[0]:
            best = (cost, m, insertion)
    if best is None:
        return {}
    _, m, insertion = best
    placer.place(m, insertion.provider, insertion.start, insertion.day)
    return {m: (insertion.provider, insertion.start)}


def _try_group_at(
    placer: Placer,
    eligibility: Eligibility,
    todo: list[list[int]],
    start: int,
    used: set[int],
    whole: bool,
) -> list[tuple[int, Insertion]]:
    """Places put at `start` one by one (left in the rosters), each with a provider not yet used.

    Each place is its steps (one, without a ladder): the cheapest at that
    start, each step down costing LADDER_STEP_COST.
    """
    got: list[tuple[int, Insertion]] = []
    used = set(used)
    for steps in todo:
        chosen: tuple[int, int, Insertion] | None = None
        for m in steps:
            options = tuple(
                replace(o, ranges=tuple(StartRange(r.day, start, start) for r in at))
                for o in eligibility.options[m]
                if o.provider not in used and (at := [r for r in o.ranges if r.lo <= start <= r.hi])
            )
            insertion = placer.best(m, options)[0] if options else None
            if insertion is None:
                continue
            link = placer.problem.sessions[m].step_of
            cost = insertion.cost + LADDER_STEP_COST * (link.step if link is not None else 0)
            if chosen is None or cost < chosen[0]:
                chosen = (cost, m, insertion)
        if chosen is None:
            if whole:
                break
            continue
        _, m, insertion = chosen
        placer.place(m, insertion.provider, insertion.start, insertion.day)
        used.add(insertion.provider)
        got.append((m, insertion))
    return got


def solve_greedy(
    problem: Problem,
    *,
    step_minutes: int = DEFAULT_STEP_MINUTES,
    eligibility: Eligibility | None = None,
    timeline: Timeline | None = None,
    travel: Travel | None = None,
) -> Plan:
    """A valid plan without a solver: pinned pairs, then sessions by urgency, cheapest first.

    A problem with group sessions is planned flat, one session per place
    (`eligibility`, `timeline` and `travel` are then the flat problem's), and
    the plan's assignments name their place.
    """
    if needs_flattening(problem):
        flat = flatten(problem)
        plan = solve_greedy(
            flat,
            step_minutes=step_minutes,
            eligibility=eligibility,
            timeline=timeline,
            travel=travel,
        )
        return fold_plan(flat, plan)
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
    groups = group_members(problem)
    ladders = ladder_members(problem)
    grouped: set[int] = set()
    for s_idx in order:
        options = eligibility.options[s_idx]
        if s_idx in ladders and s_idx not in groups:
            if s_idx not in grouped:
                grouped.update(ladders[s_idx])
                placed.update(_place_on_ladder(placer, eligibility, ladders[s_idx], placed))
            if not any(m in placed for m in ladders[s_idx]):
                unassigned.append(
                    Unassigned(
                        problem.sessions[s_idx].id,
                        "capacity",
                        f"{len(options)} provider(s) fit the request this way, but none has room "
                        "for it without breaking rules 9-10",
                    )
                )
            elif s_idx not in placed:
                unassigned.append(
                    Unassigned(problem.sessions[s_idx].id, "capacity", "another step is used")
                )
            continue
        if s_idx in groups:
            if s_idx not in grouped:
                grouped.update(groups[s_idx])
                placed.update(_place_group(placer, eligibility, groups[s_idx], placed))
            if s_idx in ladders and any(m in placed for m in ladders[s_idx]):
                if s_idx not in placed:
                    unassigned.append(
                        Unassigned(problem.sessions[s_idx].id, "capacity", "another step is used")
                    )
            elif s_idx not in placed:
                unassigned.append(
                    Unassigned(
                        problem.sessions[s_idx].id,
                        "capacity",
                        f"{len(options)} provider(s) fit this place, but the group's places "
                        "could not be staffed together at one start",
                    )
                )
            continue
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
