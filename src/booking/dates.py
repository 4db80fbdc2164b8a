"""Which dates the service takes, and what a local wall-clock time means across DST.

Bounds. Every date and instant a client sends lies between ``EARLIEST_DAY``
and ``LATEST_DAY`` (2000-01-01 to 2199-12-31): far wider than any session,
absence or token needs, and far enough from the ends of Python's calendar
(years 1 and 9999) that no "next day" or time-zone conversion can overflow.
Sessions are further bounded by the booking horizon (a setting,
``TRUCHEMENT_MAX_BOOKING_AHEAD_DAYS``, two years by default).

Daylight saving. Times of day (a series' start, an availability rule, the
booking form) are local wall-clock times in the organisation's zone, and one
rule, RFC 5545's (§3.3.5), decides what they mean on the two days a year the
clock jumps:

- a wall time that does not exist (02:30 on the last Sunday of March in
  Brussels or Paris, when 02:00 becomes 03:00) is shifted forward by the
  length of the gap: 02:30 means 03:30 summer time, as a clock would show it;
- a wall time that occurs twice (02:30 on the last Sunday of October) means
  the first of the two: 02:30 summer time, before the clocks go back.

``wall_time`` applies the rule and says which case it met, so that an answer
can tell the person.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

UTC = dt.UTC

EARLIEST_DAY = dt.date(2000, 1, 1)
LATEST_DAY = dt.date(2199, 12, 31)
EARLIEST_INSTANT = dt.datetime(2000, 1, 1, tzinfo=UTC)
LATEST_INSTANT = dt.datetime(2200, 1, 1, tzinfo=UTC)
"""The first instant after ``LATEST_DAY`` (in UTC): instants must come before it."""
OUT_OF_RANGE = "date_out_of_range"
"""The code of a field error about a date outside the bounds."""


def day_in_bounds(day: dt.date) -> bool:
    """Whether ``day`` lies between ``EARLIEST_DAY`` and ``LATEST_DAY`` (both included)."""
    return EARLIEST_DAY <= day <= LATEST_DAY


def instant_in_bounds(instant: dt.datetime) -> bool:
    """Whether an aware ``instant`` lies in ``[EARLIEST_INSTANT, LATEST_INSTANT)``."""
    return EARLIEST_INSTANT <= instant < LATEST_INSTANT


def bounds_message() -> str:
    return f"Give a date between {EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}."


def booking_horizon(now: dt.datetime, days: int) -> dt.datetime:
    """The latest instant a session may start: ``days`` days after ``now``."""
    return now + dt.timedelta(days=days)


class WallTimeKind(StrEnum):
    """What a local wall-clock time met on its day."""

    EXACT = "exact"
    SHIFTED = "shifted"
    """It does not exist (the spring gap): moved forward by the gap's length."""
    AMBIGUOUS = "ambiguous"
    """It occurs twice (the autumn hour): the first occurrence was taken."""


@dataclass(frozen=True, slots=True)
class WallTime:
    """A local date and time of day, resolved to one instant by the daylight-saving rule."""

    day: dt.date
    asked: dt.time
    instant: dt.datetime
    """In UTC."""
    local: dt.datetime
    """The same instant in the zone, as a clock there shows it (03:30 for a shifted 02:30)."""
    kind: WallTimeKind

    @property
    def adjusted(self) -> bool:
        return self.kind != WallTimeKind.EXACT

    def describe(self) -> str:
        """What the rule did, for a person: empty for an exact time."""
        asked = self.asked.strftime("%H:%M")
        day = self.day.isoformat()
        offset = self.local.strftime("%z")
        utc = f"UTC{offset[:3]}:{offset[3:]}"
        if self.kind == WallTimeKind.SHIFTED:
            return (
                f"{asked} does not exist on {day} (the clocks go forward): "
                f"it is taken as {self.local.strftime('%H:%M')} ({utc}), just after the change."
            )
        if self.kind == WallTimeKind.AMBIGUOUS:
            return (
                f"{asked} occurs twice on {day} (the clocks go back): "
                f"it is taken as the first one ({utc}), before the change."
            )
        return ""


def wall_time(day: dt.date, time: dt.time, zone: ZoneInfo) -> WallTime:
    """``time`` on ``day`` in ``zone`` by the module's rule: gaps forward, overlaps first."""
    naive = dt.datetime.combine(day, time.replace(tzinfo=None, fold=0))
    first = naive.replace(tzinfo=zone)
    # fold=0 reads a time in the gap with the offset before it (so it lands
    # after the gap) and an ambiguous time as its first occurrence: RFC 5545.
    instant = first.astimezone(UTC)
    local = instant.astimezone(zone)
    if local.replace(tzinfo=None) != naive:
        kind = WallTimeKind.SHIFTED
    elif first.utcoffset() != naive.replace(tzinfo=zone, fold=1).utcoffset():
        kind = WallTimeKind.AMBIGUOUS
    else:
        kind = WallTimeKind.EXACT
    return WallTime(day=day, asked=time, instant=instant, local=local, kind=kind)
