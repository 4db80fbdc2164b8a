"""The booking horizon, the date bounds, and the one daylight-saving rule (#7 items 4 and 6)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from booking.bookings.series import (
    Adjustment,
    Recurrence,
    Scope,
    SeriesMove,
    create_series,
    move_series,
    series_occurrences,
)
from booking.bookings.service import create_booking, update_booking
from booking.bookings.validation import BookingData
from booking.dates import LATEST_DAY, WallTimeKind, wall_time
from booking.errors import Unprocessable
from booking.plans.service import run_plan
from booking.providers.availability import RuleData, rule_adjustments, weekly_spans
from booking.settings import get_settings
from booking.users.service import create_token
from tests.booking.dispatch_world import World, make_world
from tests.factories import BRUSSELS, PARIS, make_language

# The clocks go forward on Sunday 28 March 2027 (02:00 -> 03:00) and back on
# Sunday 31 October 2027 (03:00 -> 02:00), in Brussels and in Paris alike.
SPRING = dt.date(2027, 3, 28)
AUTUMN = dt.date(2027, 10, 31)
NOW = dt.datetime(2027, 1, 4, 9, 0, tzinfo=BRUSSELS)


@pytest.fixture
def world(db: Session) -> World:
    make_language(db, code="tir")
    return make_world(db, day=dt.date(2027, 3, 22))


@pytest.fixture
def horizon_of_30_days(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TRUCHEMENT_MAX_BOOKING_AHEAD_DAYS", "30")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def session(world: World, starts_at: dt.datetime, **changes: object) -> BookingData:
    data = BookingData(
        language_code="tir",
        session_kind="psychological",
        modality="onsite",
        starts_at=starts_at,
        duration_minutes=60,
        site_id=world.site.id,
        beneficiary_ref="b-7c1f",
    )
    return dataclasses.replace(data, **changes)  # type: ignore[arg-type]


def field_codes(error: Unprocessable) -> dict[str, str]:
    return {e.field: e.code for e in error.errors}


# --- the daylight-saving rule ------------------------------------------------------------


class TestWallTime:
    @pytest.mark.parametrize("zone", [BRUSSELS, PARIS])
    def test_a_time_the_spring_change_skips_moves_forward_by_the_gap(self, zone: object) -> None:
        when = wall_time(SPRING, dt.time(2, 30), zone)  # type: ignore[arg-type]
        assert when.kind == WallTimeKind.SHIFTED
        assert when.local.isoformat() == "2027-03-28T03:30:00+02:00"
        assert when.instant == dt.datetime(2027, 3, 28, 1, 30, tzinfo=dt.UTC)
        assert "02:30 does not exist on 2027-03-28" in when.describe()
        assert "03:30 (UTC+02:00)" in when.describe()

    def test_an_hour_the_autumn_change_repeats_is_the_first_one(self) -> None:
        when = wall_time(AUTUMN, dt.time(2, 30), BRUSSELS)
        assert when.kind == WallTimeKind.AMBIGUOUS
        assert when.local.isoformat() == "2027-10-31T02:30:00+02:00"
        assert when.instant == dt.datetime(2027, 10, 31, 0, 30, tzinfo=dt.UTC)
        assert "first one (UTC+02:00)" in when.describe()

    @pytest.mark.parametrize(
        ("day", "clock"),
        [
            (SPRING, dt.time(1, 59)),
            (SPRING, dt.time(3)),
            (AUTUMN, dt.time(3)),
            (NOW.date(), dt.time(2, 30)),
        ],
    )
    def test_every_other_time_is_exact(self, day: dt.date, clock: dt.time) -> None:
        when = wall_time(day, clock, BRUSSELS)
        assert when.kind == WallTimeKind.EXACT and not when.adjusted and when.describe() == ""
        assert when.local.time() == clock


class TestAvailabilityAcrossTheChange:
    def test_a_sunday_night_slot_follows_the_rule_and_says_where(self) -> None:
        rules = [RuleData(weekday=6, start_time=dt.time(2, 30), end_time=dt.time(4))]
        spans = weekly_spans(rules, first_day=SPRING, last_day=SPRING, zone=BRUSSELS)
        # 02:30 is read as 03:30: the slot is 03:30-04:00 summer time that night.
        assert spans == [
            (
                dt.datetime(2027, 3, 28, 1, 30, tzinfo=dt.UTC),
                dt.datetime(2027, 3, 28, 2, tzinfo=dt.UTC),
            )
        ]
        adjustments = rule_adjustments(
            rules, first_day=dt.date(2027, 1, 1), last_day=dt.date(2027, 12, 31), zone=BRUSSELS
        )
        assert [(a.field, a.wall_time.day, a.wall_time.kind) for a in adjustments] == [
            ("start_time", SPRING, WallTimeKind.SHIFTED),
            ("start_time", AUTUMN, WallTimeKind.AMBIGUOUS),
        ]

    def test_an_autumn_slot_counts_from_the_first_of_the_two_hours(self) -> None:
        rules = [RuleData(weekday=6, start_time=dt.time(2, 30), end_time=dt.time(3, 30))]
        [(start, end)] = weekly_spans(rules, first_day=AUTUMN, last_day=AUTUMN, zone=BRUSSELS)
        assert start == dt.datetime(2027, 10, 31, 0, 30, tzinfo=dt.UTC)  # 02:30 summer time
        assert end == dt.datetime(2027, 10, 31, 2, 30, tzinfo=dt.UTC)  # 03:30 winter time

    def test_a_rule_outside_its_validity_or_on_another_day_is_not_reported(self) -> None:
        rules = [
            RuleData(weekday=5, start_time=dt.time(2, 30), end_time=dt.time(4)),
            RuleData(6, dt.time(2, 30), dt.time(4), valid_from=dt.date(2027, 4, 1)),
            RuleData(6, dt.time(9), dt.time(12)),
        ]
        found = rule_adjustments(rules, first_day=SPRING, last_day=SPRING, zone=BRUSSELS)
        assert found == []


class TestSeriesAcrossTheChange:
    def test_a_series_at_half_past_two_reports_the_shifted_and_the_ambiguous_sunday(
        self, db: Session, world: World
    ) -> None:
        adjustments: list[Adjustment] = []
        first = dt.datetime.combine(dt.date(2027, 3, 21), dt.time(2, 30), tzinfo=BRUSSELS)
        series = create_series(
            db,
            actor=world.requester,
            data=session(world, first),
            recurrence=Recurrence(interval_weeks=1, until=AUTUMN),
            now=NOW,
            adjustments=adjustments,
        )
        occurrences = series_occurrences(db, actor=world.requester, series=series)
        clocks = [o.starts_at.astimezone(BRUSSELS).strftime("%m-%d %H:%M %z") for o in occurrences]
        assert clocks[:3] == ["03-21 02:30 +0100", "03-28 03:30 +0200", "04-04 02:30 +0200"]
        assert clocks[-1] == "10-31 02:30 +0200"
        assert [(a.booking_id, a.series_index, a.wall_time.kind) for a in adjustments] == [
            (occurrences[1].id, 1, WallTimeKind.SHIFTED),
            (occurrences[-1].id, len(occurrences) - 1, WallTimeKind.AMBIGUOUS),
        ]

        moved: list[Adjustment] = []
        move_series(
            db,
            actor=world.requester,
            series=series,
            scope=Scope.ALL,
            move=SeriesMove(start_time=dt.time(2, 15)),
            now=NOW,
            adjustments=moved,
        )
        assert [(a.series_index, a.wall_time.local.strftime("%H:%M %z")) for a in moved] == [
            (1, "03:15 +0200"),
            (len(occurrences) - 1, "02:15 +0200"),
        ]


# --- the booking horizon and the bounds --------------------------------------------------


class TestBookingHorizon:
    def test_a_session_beyond_the_horizon_is_refused_with_the_limit(
        self, db: Session, world: World, horizon_of_30_days: None
    ) -> None:
        with pytest.raises(Unprocessable) as refused:
            create_booking(
                db, actor=world.requester, data=session(world, NOW + dt.timedelta(days=31)), now=NOW
            )
        assert field_codes(refused.value) == {"starts_at": "beyond_booking_horizon"}
        assert "at most 30 days ahead" in refused.value.errors[0].message
        assert refused.value.extra()["max_booking_ahead_days"] == 30
        inside = create_booking(
            db, actor=world.requester, data=session(world, NOW + dt.timedelta(days=29)), now=NOW
        )
        assert inside.booking.id is not None

    def test_a_window_reaching_past_the_horizon_is_refused_too(
        self, db: Session, world: World, horizon_of_30_days: None
    ) -> None:
        from booking.bookings.validation import Window

        start = NOW + dt.timedelta(days=29, hours=23)
        data = session(world, start, window=Window(start, start + dt.timedelta(days=2)))
        with pytest.raises(Unprocessable) as refused:
            create_booking(db, actor=world.requester, data=data, now=NOW)
        assert field_codes(refused.value) == {"window.latest": "beyond_booking_horizon"}

    def test_moving_a_booking_past_the_horizon_is_refused(
        self, db: Session, world: World, horizon_of_30_days: None
    ) -> None:
        booking = create_booking(
            db, actor=world.requester, data=session(world, NOW + dt.timedelta(days=3)), now=NOW
        ).booking
        with pytest.raises(Unprocessable) as refused:
            update_booking(
                db,
                actor=world.requester,
                booking=booking,
                data={"starts_at": NOW + dt.timedelta(days=40)},
                expected_version=booking.version_id,
                now=NOW,
            )
        assert field_codes(refused.value) == {"starts_at": "beyond_booking_horizon"}

    def test_a_series_whose_later_occurrences_pass_the_horizon_is_refused(
        self, db: Session, world: World, horizon_of_30_days: None
    ) -> None:
        with pytest.raises(Unprocessable) as refused:
            create_series(
                db,
                actor=world.requester,
                data=session(world, NOW + dt.timedelta(days=7)),
                recurrence=Recurrence(interval_weeks=1, count=5),
                now=NOW,
            )
        assert field_codes(refused.value) == {"recurrence": "beyond_booking_horizon"}
        assert "Occurrence 5 (2027-02-08)" in refused.value.detail
        assert "at most 30 days ahead" in refused.value.errors[0].message

    def test_the_default_horizon_is_two_years(self, db: Session, world: World) -> None:
        assert get_settings().max_booking_ahead_days == 730
        with pytest.raises(Unprocessable):
            create_booking(
                db,
                actor=world.requester,
                data=session(world, NOW + dt.timedelta(days=731)),
                now=NOW,
            )


def test_plans_and_tokens_out_of_the_bounds_are_refused_not_overflowed(
    db: Session, world: World
) -> None:
    """For callers without the API's schema (the web pages, the CLI)."""
    far = dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.timezone(-dt.timedelta(hours=5)))
    with pytest.raises(Unprocessable) as plan:
        run_plan(
            db,
            actor=world.dispatcher,
            horizon_start=far - dt.timedelta(days=1),
            horizon_end=far,
            time_limit=1,
            now=NOW,
        )
    assert field_codes(plan.value) == {
        "horizon_start": "date_out_of_range",
        "horizon_end": "date_out_of_range",
    }
    with pytest.raises(Unprocessable) as token:
        create_token(db, actor=None, user=world.requester, expires_at=far)
    assert field_codes(token.value) == {"expires_at": "date_out_of_range"}
    assert str(LATEST_DAY) in token.value.errors[0].message
