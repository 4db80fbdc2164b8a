"""Quiet hours for SMS and the retry backoff."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from booking.outbox.timing import in_quiet_hours, sms_not_before
from notify.timing import backoff_delay

BRUSSELS = ZoneInfo("Europe/Brussels")
QUIET = {"quiet_start": dt.time(21), "quiet_end": dt.time(8)}


def wait(due: dt.datetime, session_start: dt.datetime | None) -> dt.datetime:
    return sms_not_before(
        due,
        timezone="Europe/Brussels",
        session_start=session_start,
        urgent_within=dt.timedelta(hours=12),
        **QUIET,
    )


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BRUSSELS)


@pytest.mark.parametrize(
    ("clock", "quiet"),
    [
        (dt.time(20, 59), False),
        (dt.time(21), True),
        (dt.time(3), True),
        (dt.time(7, 59), True),
        (dt.time(8), False),
    ],
)
def test_quiet_hours_run_from_21_00_to_08_00(clock: dt.time, quiet: bool) -> None:
    assert in_quiet_hours(clock, **QUIET) is quiet


def test_an_evening_sms_about_a_session_in_three_days_waits_for_the_morning() -> None:
    assert wait(local(2031, 3, 10, 22, 30), local(2031, 3, 13, 10)) == local(2031, 3, 11, 8)


def test_an_early_morning_sms_waits_until_eight_the_same_day() -> None:
    assert wait(local(2031, 3, 10, 6, 15), local(2031, 3, 13, 10)) == local(2031, 3, 10, 8)


def test_an_sms_about_a_session_within_12_hours_goes_at_once_even_at_night() -> None:
    due = local(2031, 3, 10, 22, 30)
    assert wait(due, local(2031, 3, 11, 9)) == due


def test_a_daytime_sms_is_not_delayed() -> None:
    due = local(2031, 3, 10, 14)
    assert wait(due, local(2031, 3, 13, 10)) == due


def test_the_morning_is_eight_local_time_across_the_spring_change() -> None:
    # 29 March 2031 to 30 March: Brussels moves from UTC+1 to UTC+2 at 02:00.
    morning = wait(local(2031, 3, 29, 23), local(2031, 4, 2, 10))
    assert morning == local(2031, 3, 30, 8)
    assert morning.astimezone(dt.UTC).hour == 6


def test_backoff_doubles_from_the_base_and_stays_between_half_and_full_value() -> None:
    rng = random.Random(7)
    for attempts, nominal in ((1, 60), (2, 120), (3, 240), (4, 480)):
        delay = backoff_delay(attempts, base_seconds=60, max_seconds=3600, rng=rng).total_seconds()
        assert nominal / 2 <= delay <= nominal


def test_backoff_is_capped() -> None:
    delay = backoff_delay(30, base_seconds=60, max_seconds=3600, rng=random.Random(1))
    assert delay <= dt.timedelta(hours=1)


def test_backoff_jitter_spreads_workers_that_failed_together() -> None:
    rng = random.Random(3)
    delays = {backoff_delay(3, base_seconds=60, max_seconds=3600, rng=rng) for _ in range(20)}
    assert len(delays) > 10
