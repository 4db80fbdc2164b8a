"""Integer minutes from an origin, local calendar days and ISO weeks.

CP-SAT works on integers, and rules 9-10 talk about calendar days and ISO
weeks in the problem's time zone, which are not multiples of 1440 minutes
across a daylight-saving change. Everything is converted once, here.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from matching.problem import Problem


@dataclass(frozen=True)
class Timeline:
    """Maps instants to minutes since `origin` (local midnight of the first day) and back."""

    origin: datetime
    zone: ZoneInfo
    first_day: date
    day_starts: tuple[int, ...]
    """Minute at which each local day begins; index 0 is `first_day`."""
    _minutes: dict[datetime, int] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    """Memo of `minute`: eligibility converts the same availability bounds for every session."""

    @classmethod
    def for_problem(cls, problem: Problem) -> Timeline:
        zone = ZoneInfo(problem.timezone)
        instants: list[datetime] = []
        for s in problem.sessions:
            instants.append(s.start)
            if s.window is not None:
                instants.extend((s.window.earliest, s.window.latest))
        for p in problem.providers:
            for a in p.availability:
                instants.extend((a.start, a.end))
        if not instants:
            instants.append(datetime.now(zone))
        first = min(instants).astimezone(zone).date() - timedelta(days=1)
        last = max(instants).astimezone(zone).date() + timedelta(days=2)
        origin = datetime.combine(first, time(0), tzinfo=zone)
        starts = []
        day = first
        while day <= last:
            local_midnight = datetime.combine(day, time(0), tzinfo=zone)
            starts.append(_minutes_between(origin, local_midnight))
            day += timedelta(days=1)
        return cls(origin=origin, zone=zone, first_day=first, day_starts=tuple(starts))

    def minute(self, instant: datetime) -> int:
        """Whole minutes since the origin; seconds are rounded down."""
        found = self._minutes.get(instant)
        if found is None:
            found = self._minutes[instant] = _minutes_between(self.origin, instant)
        return found

    def instant(self, minute: int) -> datetime:
        """The instant at `minute`, expressed in the problem's time zone."""
        utc_origin = self.origin.astimezone(UTC)
        return (utc_origin + timedelta(minutes=minute)).astimezone(self.zone)

    def day(self, minute: int) -> int:
        """Index of the local calendar day that contains `minute`."""
        index = bisect.bisect_right(self.day_starts, minute) - 1
        if index < 0 or index >= len(self.day_starts) - 1:
            raise ValueError(f"minute {minute} lies outside the problem's horizon")
        return index

    def date_of_day(self, day: int) -> date:
        return self.first_day + timedelta(days=day)

    def week(self, day: int) -> tuple[int, int]:
        """ISO (year, week) of a day index."""
        iso = self.date_of_day(day).isocalendar()
        return (iso.year, iso.week)

    def day_bounds(self, day: int) -> tuple[int, int]:
        """First minute of the day and first minute of the next."""
        return self.day_starts[day], self.day_starts[day + 1]


def _minutes_between(a: datetime, b: datetime) -> int:
    # Subtracting two datetimes that share a tzinfo ignores DST; UTC never does.
    if a.tzinfo is None or b.tzinfo is None:
        raise ValueError("every time in a problem must carry an offset")
    delta = b.astimezone(UTC) - a.astimezone(UTC)
    return int(delta.total_seconds() // 60)
