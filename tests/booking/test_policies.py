"""The trade's time rules, on dates from the 2026 calendar (no database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from booking.geography import in_service_area
from booking.policies import (
    add_working_minutes,
    certification_valid,
    free_cancellation_deadline,
    is_late_cancellation,
    previous_working_day,
    provider_may_decline,
)
from booking.settings import Settings
from tests.factories import BRUSSELS, PARIS, TOURNAI


def brussels(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=BRUSSELS)


def paris(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=PARIS)


MONDAY = dt.date(2026, 11, 30)
FRIDAY_BEFORE = dt.date(2026, 11, 27)
MONDAY_SESSION = brussels(MONDAY, 10)


def late(starts_at: dt.datetime, cancelled_at: dt.datetime, **kwargs: object) -> bool:
    options: dict[str, object] = {"country": "BE", "deadline_hour": 10, "closures": ()}
    options.update(kwargs)
    return is_late_cancellation(starts_at, cancelled_at, **options)  # type: ignore[arg-type]


class TestLateCancellation:
    def test_a_monday_session_cancelled_friday_at_0959_is_free(self) -> None:
        assert not late(MONDAY_SESSION, brussels(FRIDAY_BEFORE, 9, 59))

    def test_a_monday_session_cancelled_friday_at_1100_is_late(self) -> None:
        assert late(MONDAY_SESSION, brussels(FRIDAY_BEFORE, 11))

    def test_the_deadline_itself_is_still_free_and_one_second_later_is_late(self) -> None:
        assert not late(MONDAY_SESSION, brussels(FRIDAY_BEFORE, 10))
        assert late(MONDAY_SESSION, brussels(FRIDAY_BEFORE, 10, 0, 1))

    def test_the_weekend_before_a_monday_session_is_late(self) -> None:
        assert late(MONDAY_SESSION, brussels(dt.date(2026, 11, 28), 8))

    def test_a_wednesday_session_has_its_deadline_on_tuesday(self) -> None:
        session = brussels(dt.date(2026, 12, 2), 14)
        assert not late(session, brussels(dt.date(2026, 12, 1), 9))
        assert late(session, brussels(dt.date(2026, 12, 1), 10, 30))

    def test_after_easter_monday_the_working_day_before_is_the_previous_friday(self) -> None:
        tuesday_after_easter = brussels(dt.date(2026, 4, 7), 9)
        good_friday = dt.date(2026, 4, 3)
        assert free_cancellation_deadline(
            tuesday_after_easter, country="BE", deadline_hour=10
        ) == brussels(good_friday, 10)
        assert not late(tuesday_after_easter, brussels(good_friday, 9, 30))
        assert late(tuesday_after_easter, brussels(dt.date(2026, 4, 6), 8))

    def test_the_belgian_national_day_is_not_a_working_day_in_belgium_only(self) -> None:
        # Wednesday 22 July 2026: in Belgium Tuesday 21 July is a holiday, so
        # the deadline falls on Monday 20; in France Tuesday 21 is a working day.
        session = brussels(dt.date(2026, 7, 22), 10)
        monday_late_morning = brussels(dt.date(2026, 7, 20), 11)
        assert late(session, monday_late_morning, country="BE")
        assert not late(session, monday_late_morning, country="FR")

    def test_the_french_national_day_is_not_a_working_day_in_france_only(self) -> None:
        # Wednesday 15 July 2026: 14 July is a holiday in France, not in Belgium.
        session = paris(dt.date(2026, 7, 15), 10)
        monday_late_morning = paris(dt.date(2026, 7, 13), 11)
        assert late(session, monday_late_morning, country="FR")
        assert not late(session, monday_late_morning, country="BE")

    def test_an_organisation_closure_day_is_skipped_like_a_holiday(self) -> None:
        # Belgian employers replace a holiday that falls on a Sunday (1 Nov 2026).
        closure = dt.date(2026, 11, 2)
        session = brussels(dt.date(2026, 11, 3), 10)
        friday_late_morning = brussels(dt.date(2026, 10, 30), 11)
        assert not late(session, friday_late_morning)
        assert late(session, friday_late_morning, closures={closure})

    def test_the_deadline_hour_is_a_setting(self) -> None:
        cancelled = brussels(FRIDAY_BEFORE, 11)
        assert late(MONDAY_SESSION, cancelled, deadline_hour=10)
        assert not late(MONDAY_SESSION, cancelled, deadline_hour=12)

    def test_the_deadline_is_local_wall_clock_time_whatever_the_offset_given(self) -> None:
        # 09:30 UTC on Friday is 10:30 in Brussels (CET): past the deadline.
        cancelled_utc = dt.datetime.combine(FRIDAY_BEFORE, dt.time(9, 30), tzinfo=dt.UTC)
        assert late(MONDAY_SESSION, cancelled_utc)

    def test_the_session_day_is_its_local_day(self) -> None:
        # 23:30 UTC on Sunday is already Monday 00:30 in Brussels.
        sunday_night_utc = dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.UTC)
        assert free_cancellation_deadline(
            sunday_night_utc, country="BE", deadline_hour=10
        ) == brussels(FRIDAY_BEFORE, 10)

    def test_naive_instants_are_a_programming_error(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            late(MONDAY_SESSION, dt.datetime(2026, 11, 27, 9))

    def test_christmas_closures_push_the_deadline_back_across_the_year(self) -> None:
        closures = {dt.date(2026, 12, 28), dt.date(2026, 12, 29), dt.date(2026, 12, 30)}
        # 31 Dec (Thu) is a working day; 1 Jan is a holiday; the session is Mon 4 Jan 2027.
        assert previous_working_day(
            dt.date(2027, 1, 4), country="BE", closures=closures
        ) == dt.date(2026, 12, 31)
        assert previous_working_day(
            dt.date(2026, 12, 31), country="BE", closures=closures
        ) == dt.date(2026, 12, 24)


@dataclass
class FakeAssignment:
    status: str
    starts_at: dt.datetime


SESSION_START = brussels(dt.date(2026, 12, 1), 10)


class TestDeclineLock:
    @pytest.mark.parametrize("status", ["accepted", "confirmed"])
    def test_accepted_work_can_be_given_back_before_the_lock(self, status: str) -> None:
        assignment = FakeAssignment(status, SESSION_START)
        day_and_a_minute_before = SESSION_START - dt.timedelta(hours=24, minutes=1)
        assert provider_may_decline(assignment, day_and_a_minute_before, lock_hours=24)

    @pytest.mark.parametrize("status", ["accepted", "confirmed"])
    def test_accepted_work_is_locked_within_lock_hours_of_the_start(self, status: str) -> None:
        assignment = FakeAssignment(status, SESSION_START)
        assert not provider_may_decline(
            assignment, SESSION_START - dt.timedelta(hours=24), lock_hours=24
        )
        assert not provider_may_decline(
            assignment, SESSION_START - dt.timedelta(hours=2), lock_hours=24
        )

    def test_the_lock_length_is_a_setting(self) -> None:
        assignment = FakeAssignment("confirmed", SESSION_START)
        three_hours_before = SESSION_START - dt.timedelta(hours=3)
        assert not provider_may_decline(assignment, three_hours_before, lock_hours=24)
        assert provider_may_decline(assignment, three_hours_before, lock_hours=2)

    def test_an_offer_can_always_be_declined(self) -> None:
        assignment = FakeAssignment("offered", SESSION_START)
        assert provider_may_decline(
            assignment, SESSION_START - dt.timedelta(minutes=30), lock_hours=24
        )

    @pytest.mark.parametrize("status", ["proposed", "declined", "cancelled", "expired"])
    def test_what_is_not_offered_or_held_cannot_be_declined(self, status: str) -> None:
        assignment = FakeAssignment(status, SESSION_START)
        assert not provider_may_decline(
            assignment, SESSION_START - dt.timedelta(days=7), lock_hours=24
        )


@dataclass
class FakeProviderLanguage:
    certified: bool
    certified_until: dt.date | None


class TestCertification:
    def test_a_certification_without_end_date_is_valid(self) -> None:
        assert certification_valid(FakeProviderLanguage(True, None), dt.date(2030, 1, 1))

    def test_a_certification_is_valid_up_to_and_including_its_last_day(self) -> None:
        language = FakeProviderLanguage(True, dt.date(2026, 12, 31))
        assert certification_valid(language, dt.date(2026, 12, 31))
        assert not certification_valid(language, dt.date(2027, 1, 1))

    def test_an_uncertified_language_is_never_valid(self) -> None:
        assert not certification_valid(FakeProviderLanguage(False, None), dt.date(2026, 1, 1))


class TestServiceArea:
    @pytest.mark.parametrize(
        ("place", "lat", "lon"),
        [
            ("Tournai", *TOURNAI),
            ("Calais", 50.9513, 1.8587),
            ("Ostend", 51.2154, 2.9286),
            ("Namur", 50.4674, 4.8720),
            ("Arras", 50.2910, 2.7775),
        ],
    )
    def test_places_of_the_border_area_are_inside(self, place: str, lat: float, lon: float) -> None:
        assert in_service_area(lat, lon), place

    @pytest.mark.parametrize(
        ("place", "lat", "lon"),
        [
            ("Rouen", 49.4432, 1.0999),
            ("Cologne", 50.9375, 6.9603),
            ("Amsterdam", 52.3676, 4.9041),
            ("swapped Tournai", TOURNAI[1], TOURNAI[0]),
            ("Null Island", 0.0, 0.0),
        ],
    )
    def test_places_elsewhere_are_outside(self, place: str, lat: float, lon: float) -> None:
        assert not in_service_area(lat, lon), place


def offer_ends(start: dt.datetime, minutes: int, **kwargs: object) -> dt.datetime:
    options: dict[str, object] = {
        "timezone": "Europe/Brussels",
        "country": "BE",
        "day_start": dt.time(8),
        "day_end": dt.time(19),
        "closures": (),
    }
    options.update(kwargs)
    return add_working_minutes(start, minutes, **options)  # type: ignore[arg-type]


class TestOfferClock:
    def test_an_offer_made_in_the_night_runs_from_the_morning(self) -> None:
        assert offer_ends(brussels(MONDAY, 0, 45), 120) == brussels(MONDAY, 10)

    def test_an_offer_made_in_working_hours_runs_on_the_wall_clock(self) -> None:
        assert offer_ends(brussels(MONDAY, 9, 15), 120) == brussels(MONDAY, 11, 15)

    def test_an_offer_ending_at_closing_time_ends_then_not_the_next_morning(self) -> None:
        assert offer_ends(brussels(MONDAY, 17), 120) == brussels(MONDAY, 19)

    def test_the_rest_of_a_friday_evening_offer_runs_on_monday(self) -> None:
        assert offer_ends(brussels(FRIDAY_BEFORE, 18), 120) == brussels(MONDAY, 9)

    def test_a_saturday_offer_waits_for_monday(self) -> None:
        saturday = FRIDAY_BEFORE + dt.timedelta(days=1)
        assert offer_ends(brussels(saturday, 11), 120) == brussels(MONDAY, 10)

    def test_a_long_offer_spans_several_working_days(self) -> None:
        wednesday = MONDAY + dt.timedelta(days=2)
        assert offer_ends(brussels(MONDAY, 8), 25 * 60) == brussels(wednesday, 11)

    def test_the_public_holidays_of_the_service_s_country_do_not_count(self) -> None:
        monday = dt.date(2026, 7, 13)  # the day before the French national day
        tuesday, wednesday = dt.date(2026, 7, 14), dt.date(2026, 7, 15)
        assert offer_ends(brussels(monday, 18, 30), 120) == brussels(tuesday, 9, 30)
        in_france = offer_ends(paris(monday, 18, 30), 120, timezone="Europe/Paris", country="FR")
        assert in_france == paris(wednesday, 9, 30)
        belgian_day = dt.date(2026, 7, 21)  # Belgian national day
        assert offer_ends(brussels(belgian_day, 9), 60) == brussels(dt.date(2026, 7, 22), 9)

    def test_closure_days_do_not_count(self) -> None:
        tuesday = MONDAY + dt.timedelta(days=1)
        ends = offer_ends(brussels(MONDAY, 18, 30), 120, closures={tuesday})
        assert ends == brussels(MONDAY + dt.timedelta(days=2), 9, 30)

    def test_the_working_day_keeps_its_wall_clock_across_a_change_of_time(self) -> None:
        friday, monday = dt.date(2026, 10, 23), dt.date(2026, 10, 26)  # summer time ends 25 Oct
        ends = offer_ends(brussels(friday, 18), 120)
        assert ends == brussels(monday, 9)
        assert ends == dt.datetime(2026, 10, 26, 8, 0, tzinfo=dt.UTC)  # CET again

    def test_the_hours_are_a_setting(self) -> None:
        ends = offer_ends(brussels(MONDAY, 16), 120, day_start=dt.time(9), day_end=dt.time(17))
        assert ends == brussels(MONDAY + dt.timedelta(days=1), 10)

    def test_a_working_day_without_hours_is_refused(self) -> None:
        with pytest.raises(ValueError, match="start before it ends"):
            offer_ends(brussels(MONDAY, 9), 60, day_start=dt.time(19), day_end=dt.time(8))


def test_the_working_hours_are_settings_and_must_make_a_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRUCHEMENT_WORKING_HOURS_START", "07:30")
    assert Settings().working_hours_start == dt.time(7, 30)
    assert Settings().working_hours_end == dt.time(19)
    monkeypatch.setenv("TRUCHEMENT_WORKING_HOURS_END", "07:00")
    with pytest.raises(ValidationError, match="WORKING_HOURS_START must come before"):
        Settings()
