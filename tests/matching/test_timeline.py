"""Minutes, local days and ISO weeks, across both daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from matching.timeline import Timeline
from tests.matching.factories import at, problem, provider, session


def timeline_around(day: str) -> Timeline:
    return Timeline.for_problem(problem([provider()], [session(start=f"{day} 10:00")]))


def test_the_origin_is_local_midnight_the_day_before() -> None:
    tl = timeline_around("2026-12-01")
    assert tl.first_day == date(2026, 11, 30)
    assert tl.minute(at("2026-11-30 00:00")) == 0
    assert tl.minute(at("2026-12-01 10:00")) == 1440 + 600


def test_minutes_and_instants_convert_both_ways() -> None:
    tl = timeline_around("2026-12-01")
    instant = at("2026-12-01 10:45")
    assert tl.instant(tl.minute(instant)) == instant
    assert tl.instant(tl.minute(instant)).utcoffset() == instant.utcoffset()


def test_the_spring_day_has_23_hours() -> None:
    tl = timeline_around("2026-03-29")
    day = tl.day(tl.minute(at("2026-03-29 10:00")))
    lo, hi = tl.day_bounds(day)
    assert hi - lo == 23 * 60
    # 01:30 to 03:30 on the wall clock is one real hour.
    assert tl.minute(at("2026-03-29 03:30")) - tl.minute(at("2026-03-29 01:30")) == 60


def test_the_autumn_day_has_25_hours() -> None:
    tl = timeline_around("2026-10-25")
    day = tl.day(tl.minute(at("2026-10-25 10:00")))
    lo, hi = tl.day_bounds(day)
    assert hi - lo == 25 * 60
    assert tl.day(hi - 1) == day and tl.day(hi) == day + 1
    assert tl.instant(hi - 1).strftime("%H:%M") == "23:59"


def test_late_evening_belongs_to_its_local_day_not_its_utc_day() -> None:
    tl = timeline_around("2026-12-01")
    # 23:30 in Brussels is 22:30 UTC the same day; 00:30 is 23:30 UTC the day before.
    late = tl.day(tl.minute(at("2026-12-01 23:30")))
    early = tl.day(tl.minute(datetime(2026, 12, 1, 23, 30, tzinfo=UTC)))
    assert tl.date_of_day(late) == date(2026, 12, 1)
    assert tl.date_of_day(early) == date(2026, 12, 2)


def test_iso_weeks_start_on_monday() -> None:
    tl = timeline_around("2026-11-30")
    sunday = tl.day(tl.minute(at("2026-11-29 12:00")))
    monday = tl.day(tl.minute(at("2026-11-30 12:00")))
    assert tl.week(sunday) == (2026, 48)
    assert tl.week(monday) == (2026, 49)


def test_times_without_offset_are_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        timeline_around("2026-12-01").minute(datetime(2026, 12, 1, 10, 0))


def test_days_outside_the_horizon_are_refused() -> None:
    tl = timeline_around("2026-12-01")
    with pytest.raises(ValueError, match="horizon"):
        tl.day(tl.minute(at("2027-01-15 10:00")))
