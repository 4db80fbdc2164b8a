"""The trade's rules about time: late cancellation, the decline lock, the offer clock,
certification validity.

Plain functions of plain values (no database): the services pass in what
they loaded, so each rule is tested on its own with dates from a calendar.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays

from booking.types import ensure_aware
from booking.vocabulary import HELD_ASSIGNMENT_STATUSES, AssignmentStatus, Country

COUNTRY_TIMEZONES: dict[str, str] = {
    Country.BE: "Europe/Brussels",
    Country.FR: "Europe/Paris",
}
"""Where the deadline's wall clock hangs: the country of the session."""

# A working day is never more than a few weeks away, even with a closure run
# (Christmas to New Year) in between.
_MAX_DAYS_BACK = 60
# The offer clock gives up past this many calendar days (an offer lives at most a
# week of working time: three weeks of calendar, or more across closures).
_MAX_DAYS_AHEAD = 366


class _HasTimes(Protocol):
    status: str
    starts_at: dt.datetime


class _HasCertification(Protocol):
    certified: bool
    certified_until: dt.date | None


def country_timezone(country: str) -> ZoneInfo:
    """The time zone of a country the service works in (FR or BE)."""
    try:
        return ZoneInfo(COUNTRY_TIMEZONES[country])
    except KeyError:
        raise ValueError(f"no time zone known for country {country!r}") from None


@functools.cache
def _public_holidays(country: str, year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays(country, years=year))


def is_public_holiday(day: dt.date, country: str) -> bool:
    """Whether ``day`` is a national public holiday of ``country`` (``holidays`` calendar)."""
    return day in _public_holidays(country, day.year)


def is_working_day(day: dt.date, *, country: str, closures: Collection[dt.date] = ()) -> bool:
    """Monday to Friday, not a public holiday of ``country``, not an organisation closure."""
    return day.weekday() < 5 and not is_public_holiday(day, country) and day not in closures


def previous_working_day(
    day: dt.date, *, country: str, closures: Collection[dt.date] = ()
) -> dt.date:
    """The last working day strictly before ``day``."""
    return _working_day_from(day, -1, country=country, closures=closures)


def next_working_day(day: dt.date, *, country: str, closures: Collection[dt.date] = ()) -> dt.date:
    """The first working day strictly after ``day``."""
    return _working_day_from(day, 1, country=country, closures=closures)


def _working_day_from(
    day: dt.date, step: int, *, country: str, closures: Collection[dt.date]
) -> dt.date:
    candidate = day + dt.timedelta(days=step)
    for _ in range(_MAX_DAYS_BACK):
        if is_working_day(candidate, country=country, closures=closures):
            return candidate
        candidate += dt.timedelta(days=step)
    side = "before" if step < 0 else "after"
    raise ValueError(f"no working day in the {_MAX_DAYS_BACK} days {side} {day.isoformat()}")


def free_cancellation_deadline(
    starts_at: dt.datetime,
    *,
    country: str,
    deadline_hour: int,
    closures: Collection[dt.date] = (),
) -> dt.datetime:
    """The last instant a session can be cancelled free of charge.

    ``deadline_hour``:00 local time on the working day before the session's
    local date (the Flemish rule: "until 10:00 on the working day before").
    """
    if not 0 <= deadline_hour <= 23:
        raise ValueError(f"deadline_hour must be 0..23, not {deadline_hour}")
    tz = country_timezone(country)
    session_day = ensure_aware(starts_at).astimezone(tz).date()
    day = previous_working_day(session_day, country=country, closures=closures)
    return dt.datetime.combine(day, dt.time(deadline_hour), tzinfo=tz)


def is_late_cancellation(
    starts_at: dt.datetime,
    cancelled_at: dt.datetime,
    *,
    country: str,
    deadline_hour: int,
    closures: Collection[dt.date] = (),
) -> bool:
    """Whether cancelling at ``cancelled_at`` is past the free cancellation deadline.

    Cancelling exactly at the deadline (10:00:00) is still free; one second
    later is late. Weekends, the country's public holidays and the
    organisation's closure days are not working days.
    """
    deadline = free_cancellation_deadline(
        starts_at, country=country, deadline_hour=deadline_hour, closures=closures
    )
    return ensure_aware(cancelled_at) > deadline


def add_working_minutes(
    start: dt.datetime,
    minutes: int,
    *,
    timezone: str,
    country: str,
    day_start: dt.time,
    day_end: dt.time,
    closures: Collection[dt.date] = (),
) -> dt.datetime:
    """``start`` plus ``minutes`` of working time: the offer clock.

    The clock runs only from ``day_start`` to ``day_end`` (local wall-clock
    times in ``timezone``) on working days (Monday to Friday, not a public
    holiday of ``country``, not one of ``closures``). An offer made at 00:45
    with two hours to answer expires at 10:00 (day_start 08:00), one made on
    Friday at 18:00 at 09:00 on Monday. A deadline that falls exactly at
    ``day_end`` stays there rather than moving to the next morning.
    """
    if minutes < 0:
        raise ValueError(f"minutes must not be negative, not {minutes}")
    if not day_start < day_end:
        raise ValueError(f"the working day must start before it ends ({day_start}-{day_end})")
    zone = ZoneInfo(timezone)
    cursor = ensure_aware(start).astimezone(dt.UTC)
    remaining = dt.timedelta(minutes=minutes)
    day = cursor.astimezone(zone).date()
    for _ in range(_MAX_DAYS_AHEAD):
        if is_working_day(day, country=country, closures=closures):
            opens = dt.datetime.combine(day, day_start, tzinfo=zone).astimezone(dt.UTC)
            closes = dt.datetime.combine(day, day_end, tzinfo=zone).astimezone(dt.UTC)
            cursor = max(cursor, opens)
            if cursor < closes:
                if remaining <= closes - cursor:
                    return cursor + remaining
                remaining -= closes - cursor
        day += dt.timedelta(days=1)
    raise ValueError(f"no working time in the {_MAX_DAYS_AHEAD} days after {start.isoformat()}")


def provider_may_decline(assignment: _HasTimes, now: dt.datetime, *, lock_hours: int) -> bool:
    """Whether the provider themself may still decline ``assignment`` at ``now``.

    An offer can always be declined. Work already accepted or confirmed can
    be given back only until ``lock_hours`` before it starts, so nobody is
    left without an interpreter at the last minute; after that only a
    dispatcher can release it (the dispatch service decides that). Anything
    else (a proposal not yet offered, work already declined or cancelled)
    is not the provider's to decline.
    """
    if assignment.status == AssignmentStatus.OFFERED:
        return True
    if assignment.status in HELD_ASSIGNMENT_STATUSES:
        lock_starts = ensure_aware(assignment.starts_at) - dt.timedelta(hours=lock_hours)
        return ensure_aware(now) < lock_starts
    return False


def certification_valid(provider_language: _HasCertification, on_date: dt.date) -> bool:
    """Whether a provider's language certification holds on ``on_date`` (its last day included)."""
    if not provider_language.certified:
        return False
    until = provider_language.certified_until
    return until is None or on_date <= until
