"""Rules 9 and 10 for one provider: the day's route, its drives and its minutes.

How rule 9 is read here (docs/problem.md, word by word):

- A provider's sessions of one local day, in start order, make a route
  home -> each onsite location in order -> home. Phone and video sessions are
  held wherever the provider is, so they add no leg but they still occupy time.
- Each leg is one uninterrupted drive of `travel(a, b)` minutes that overlaps
  no session of the provider, on any day. It starts no earlier than the end of
  the session at `a` and ends no later than the start of the session at `b`,
  so it must fit in ONE free gap of the provider's timeline between them.
- Home means "any time", within reason: the drive out may start the day
  before and the drive back may end the day after, never further (the CP-SAT
  model uses the same horizon). So a day is checked against the provider's
  sessions from the start of the previous local day to the end of the next.
- Drives are not checked against each other: the rule does not ask it (the
  model is stricter there, which only makes its plans safer).

`validate`, `solve_greedy` and `rank_candidates` all decide rule 9 with
`blocked_legs`, so the three can never disagree on it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from matching.problem import Location, Provider, RuleCode
from matching.timeline import Timeline
from matching.travel import Travel
from matching.why import Why, english


@dataclass(frozen=True, slots=True)
class Visit:
    """One session on a provider's timeline, in minutes; `place` is None for phone and video."""

    start: int
    end: int
    place: Location | None = None
    session: str = ""


@dataclass(frozen=True, slots=True)
class Leg:
    """One drive of a day's route; `origin` and `target` index the day's visits, None is home."""

    origin: int | None
    target: int | None
    minutes: int


@dataclass(frozen=True)
class Conflict:
    """Why a visit cannot join a provider's timeline: rule 9 or 10, its code and the reason."""

    rule: int
    code: RuleCode
    why: Why

    @property
    def detail(self) -> str:
        """The reason in English (the command line's words)."""
        return english(self.why)


def route_legs(
    travel: Travel, home: Location, visits: Sequence[Visit], offset: int = 0
) -> list[Leg]:
    """Home, each onsite location in start order, home; no leg at all without onsite work.

    Leg ends index `visits` plus `offset` (the day's place in a longer timeline).
    """
    legs: list[Leg] = []
    origin: int | None = None
    here = home
    for index, visit in enumerate(visits, start=offset):
        if visit.place is None:
            continue
        legs.append(Leg(origin, index, travel.minutes(here, visit.place)))
        origin, here = index, visit.place
    if origin is not None:
        legs.append(Leg(origin, None, travel.minutes(here, home)))
    return legs


def route_minutes(travel: Travel, home: Location, visits: Sequence[Visit]) -> int:
    """Travel minutes of one day's route (rules 9-10 and the soft score)."""
    return sum(leg.minutes for leg in route_legs(travel, home, visits))


def idle_minutes(travel: Travel, home: Location, visits: Sequence[Visit]) -> int:
    """Waiting of one day (docs/problem.md, "Idle time that counts"): the paid span less work.

    The span runs from the latest departure that still reaches the first
    onsite place through a free gap (a phone session just before it is held
    there, after an earlier departure) to the earliest return after the last
    onsite place. Idle is that span less the day's drives and less the session
    minutes inside it. A day without onsite work has no departure, no idle.
    """
    onsite = [i for i, v in enumerate(visits) if v.place is not None]
    if not onsite:
        return 0
    first, last = onsite[0], onsite[-1]
    first_place, last_place = visits[first].place, visits[last].place
    assert first_place is not None and last_place is not None
    out, back = travel.minutes(home, first_place), travel.minutes(last_place, home)
    gaps = free_gaps(visits)
    leave = visits[first].start - out
    for i in range(first, -1, -1):
        if gaps[i] >= out:
            leave = visits[i].start - out
            break
    reached = max(v.end for v in visits[: last + 1])
    arrive = reached + back
    for j in range(last + 1, len(visits) + 1):
        reached = max(v.end for v in visits[:j])
        if gaps[j] >= back:
            arrive = reached + back
            break
    busy, covered = 0, leave
    for visit in visits:
        lo, hi = max(visit.start, covered), min(visit.end, arrive)
        if hi > lo:
            busy += hi - lo
            covered = max(covered, hi)
    span = arrive - leave
    return max(0, span - route_minutes(travel, home, visits) - busy)


def free_gaps(
    visits: Sequence[Visit], free_from: int | None = None, free_until: int | None = None
) -> list[float]:
    """Free minutes before each visit, then after the last one (`inf` where home is open-ended).

    A gap starts at the latest end seen so far, so a session that overlaps another
    leaves no room rather than a negative amount of room.
    """
    gaps: list[float] = []
    reached = -math.inf if free_from is None else float(free_from)
    for visit in visits:
        gaps.append(visit.start - reached)
        reached = max(reached, float(visit.end))
    gaps.append(math.inf if free_until is None else free_until - reached)
    return gaps


def blocked_legs(
    legs: Sequence[Leg],
    visits: Sequence[Visit],
    free_from: int | None = None,
    free_until: int | None = None,
) -> list[Leg]:
    """The legs that fit in no single free gap between their two ends (rule 9)."""
    if not legs:
        return []
    gaps = free_gaps(visits, free_from, free_until)
    last = len(visits)
    blocked: list[Leg] = []
    for leg in legs:
        first_gap = 0 if leg.origin is None else leg.origin + 1
        last_gap = last if leg.target is None else leg.target
        if max(gaps[first_gap : last_gap + 1], default=-math.inf) < leg.minutes:
            blocked.append(leg)
    return blocked


def day_blocked_legs(
    travel: Travel,
    home: Location,
    timeline_visits: Sequence[Visit],
    first: int,
    last: int,
    window: tuple[int, int],
    longest: int,
) -> tuple[list[Leg], list[Visit]]:
    """Rule 9 for the day made of `timeline_visits[first:last]` (one provider, sorted by start).

    `window` runs from the start of the previous day to the end of the next one;
    `longest` is the longest session, to find those that began earlier and still
    run. Returns the blocked legs and the visits their indices refer to.
    """
    lo, hi = window
    begin = first
    while begin > 0 and timeline_visits[begin - 1].start >= lo - longest:
        begin -= 1
    end = last
    while end < len(timeline_visits) and timeline_visits[end].start < hi:
        end += 1
    context = list(timeline_visits[begin:end])
    legs = route_legs(travel, home, context[first - begin : last - begin], first - begin)
    return blocked_legs(legs, context, lo, hi), context


def overlapping_pairs(visits: Sequence[Visit]) -> Iterator[tuple[int, int]]:
    """Index pairs of visits (sorted by start) whose half-open intervals intersect."""
    for i, first in enumerate(visits):
        for j in range(i + 1, len(visits)):
            if visits[j].start >= first.end:
                break
            yield i, j


def leg_params(leg: Leg, visits: Sequence[Visit], clock: Timeline) -> dict[str, str | int]:
    """A drive as a reason's parameters: minutes, sessions (empty for home) and their times."""
    origin = visits[leg.origin] if leg.origin is not None else None
    target = visits[leg.target] if leg.target is not None else None
    return {
        "minutes": leg.minutes,
        "from": origin.session if origin else "",
        "from_end": clock.instant(origin.end).isoformat() if origin else "",
        "to": target.session if target else "",
        "to_start": clock.instant(target.start).isoformat() if target else "",
    }


def describe_leg(leg: Leg, visits: Sequence[Visit], clock: Timeline | None = None) -> str:
    """`35 min from s-3 (ends 10:30) to s-9 (starts 10:50)`, for a dispatcher."""

    def at(minute: int) -> str:
        return clock.instant(minute).strftime("%H:%M") if clock else f"minute {minute}"

    origin = "home"
    if leg.origin is not None:
        visit = visits[leg.origin]
        origin = f"{visit.session} (ends {at(visit.end)})"
    target = "home"
    if leg.target is not None:
        visit = visits[leg.target]
        target = f"{visit.session} (starts {at(visit.start)})"
    return f"{leg.minutes} min from {origin} to {target}"


class Roster:
    """One provider's placed sessions on every day, with the day and week totals of rule 10.

    Built for incremental use (greedy insertion, candidate ranking): a check
    only looks at the day concerned and the days whose drives it can squeeze.
    """

    def __init__(self, provider: Provider, travel: Travel, timeline: Timeline) -> None:
        self.provider = provider
        self.travel = travel
        self.timeline = timeline
        self.visits: list[Visit] = []
        self._starts: list[int] = []
        self._days: list[int] = []
        self.day_work: dict[int, int] = {}
        """Session minutes per day index."""
        self.day_travel: dict[int, int] = {}
        self.week_total: dict[tuple[int, int], int] = {}
        """Session plus travel minutes per ISO week."""
        self._longest = 0
        self._blocked: dict[int, int] = {}
        """Cached number of blocked legs per day (rosters built from a bad plan have some)."""

    def day_visits(self, day: int) -> list[Visit]:
        lo, hi = self._span(day)
        return self.visits[lo:hi]

    def day_minutes(self, day: int) -> int:
        """Session and travel minutes already booked on a day."""
        return self.day_work.get(day, 0) + self.day_travel.get(day, 0)

    def travel_delta(self, visit: Visit, day: int) -> int:
        """How many more travel minutes the day's route costs with `visit` in it."""
        if visit.place is None:
            return 0
        lo, hi = self._span(day)
        position = bisect.bisect_right(self._starts, visit.start, lo, hi)
        before = next(
            (v.place for v in reversed(self.visits[lo:position]) if v.place is not None), None
        )
        after = next((v.place for v in self.visits[position:hi] if v.place is not None), None)
        minutes = self.travel.minutes
        a = before or self.provider.home
        b = after or self.provider.home
        removed = minutes(a, b) if (before is not None or after is not None) else 0
        return minutes(a, visit.place) + minutes(visit.place, b) - removed

    def conflict(self, visit: Visit, day: int) -> Conflict | None:
        """The first rule 9 or 10 conflict if `visit` joined this roster on `day`, else None."""
        lo, hi = self._span(day)
        position = bisect.bisect_right(self._starts, visit.start, lo, hi)
        overlap = self._overlap(visit, position)
        if overlap is not None:
            return Conflict(
                9,
                "overlap",
                self._why(
                    "overlap",
                    session=overlap.session,
                    start=self.timeline.instant(overlap.start).isoformat(),
                    end=self.timeline.instant(overlap.end).isoformat(),
                ),
            )
        day_list = [*self.visits[lo:position], visit, *self.visits[position:hi]]
        new_travel = route_minutes(self.travel, self.provider.home, day_list)
        duration = visit.end - visit.start
        day_total = self.day_work.get(day, 0) + duration + new_travel
        if day_total > self.provider.max_minutes_per_day:
            return Conflict(
                10,
                "daily_minutes",
                self._why(
                    "daily_minutes", minutes=day_total, limit=self.provider.max_minutes_per_day
                ),
            )
        week = self.timeline.week(day)
        week_total = (
            self.week_total.get(week, 0) - self.day_travel.get(day, 0) + duration + new_travel
        )
        if week_total > self.provider.max_minutes_per_week:
            return Conflict(
                10,
                "weekly_minutes",
                self._why(
                    "weekly_minutes", minutes=week_total, limit=self.provider.max_minutes_per_week
                ),
            )
        return self._drive_conflict(visit, day, position)

    def add(self, visit: Visit, day: int) -> None:
        lo, hi = self._span(day)
        position = bisect.bisect_right(self._starts, visit.start, lo, hi)
        old_travel = self.day_travel.get(day, 0)
        self.visits.insert(position, visit)
        self._starts.insert(position, visit.start)
        self._days.insert(position, day)
        self._longest = max(self._longest, visit.end - visit.start)
        self._blocked.clear()
        self._retotal(day, visit.end - visit.start, old_travel)

    def remove(self, session: str) -> tuple[Visit, int] | None:
        """Take a session off the roster; returns its visit and day, or None if absent."""
        for index, visit in enumerate(self.visits):
            if visit.session == session:
                day = self._days[index]
                old_travel = self.day_travel.get(day, 0)
                del self.visits[index], self._starts[index], self._days[index]
                self._blocked.clear()
                self._retotal(day, -(visit.end - visit.start), old_travel)
                return visit, day
        return None

    def _retotal(self, day: int, work_change: int, old_travel: int) -> None:
        new_travel = route_minutes(self.travel, self.provider.home, self.day_visits(day))
        self.day_work[day] = self.day_work.get(day, 0) + work_change
        self.day_travel[day] = new_travel
        week = self.timeline.week(day)
        self.week_total[week] = self.week_total.get(week, 0) + work_change + new_travel - old_travel

    def _span(self, day: int) -> tuple[int, int]:
        first, after = self.timeline.day_bounds(day)
        return (
            bisect.bisect_left(self._starts, first),
            bisect.bisect_left(self._starts, after),
        )

    def _window(self, day: int) -> tuple[int, int]:
        """From the start of the previous day to the end of the next (see the module notes)."""
        last_day = len(self.timeline.day_starts) - 2
        return (
            self.timeline.day_bounds(max(day - 1, 0))[0],
            self.timeline.day_bounds(min(day + 1, last_day))[1],
        )

    def _day_blocked(
        self, day: int, visits: list[Visit], starts: list[int], longest: int
    ) -> tuple[list[Leg], list[Visit]]:
        first, after = self.timeline.day_bounds(day)
        lo = bisect.bisect_left(starts, first)
        hi = bisect.bisect_left(starts, after)
        return day_blocked_legs(
            self.travel, self.provider.home, visits, lo, hi, self._window(day), longest
        )

    def _drive_conflict(self, visit: Visit, day: int, position: int) -> Conflict | None:
        """Rule 9's drives on the visit's day, and on the days around whose drives it squeezes."""
        visits = [*self.visits[:position], visit, *self.visits[position:]]
        starts = [*self._starts[:position], visit.start, *self._starts[position:]]
        longest = max(self._longest, visit.end - visit.start)
        blocked, context = self._day_blocked(day, visits, starts, longest)
        if blocked:
            return Conflict(
                9, "drive", self._why("drive", **leg_params(blocked[0], context, self.timeline))
            )
        last_day = len(self.timeline.day_starts) - 2
        reaches = self.timeline.day(min(visit.end - 1, self.timeline.day_starts[-1] - 1))
        for other in range(max(day - 1, 0), min(reaches + 1, last_day) + 1):
            if other == day or not self._has_onsite(other):
                continue
            if other not in self._blocked:
                self._blocked[other] = len(
                    self._day_blocked(other, self.visits, self._starts, self._longest)[0]
                )
            squeezed, context = self._day_blocked(other, visits, starts, longest)
            if len(squeezed) > self._blocked[other]:
                return Conflict(
                    9,
                    "drive",
                    self._why(
                        "drive_elsewhere", **leg_params(squeezed[-1], context, self.timeline)
                    ),
                )
        return None

    def _has_onsite(self, day: int) -> bool:
        lo, hi = self._span(day)
        return any(v.place is not None for v in self.visits[lo:hi])

    def _overlap(self, visit: Visit, position: int) -> Visit | None:
        index = position - 1
        while index >= 0 and self.visits[index].start >= visit.start - self._longest:
            if self.visits[index].end > visit.start:
                return self.visits[index]
            index -= 1
        if position < len(self.visits) and self.visits[position].start < visit.end:
            return self.visits[position]
        return None

    def _why(self, code: str, **params: str | int) -> Why:
        return Why(code, {"provider": self.provider.id, **params})
