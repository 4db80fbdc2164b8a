"""Series: weekly occurrences at the same local time, scoped cancel and move, continuity."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.audit import AuditLog
from booking.bookings.series import (
    MAX_OCCURRENCES,
    Recurrence,
    Scope,
    SeriesMove,
    cancel_series,
    create_series,
    get_visible_series,
    move_series,
    occurrence_starts,
    remember_series_provider,
    series_occurrences,
)
from booking.bookings.service import describe_bookings
from booking.bookings.validation import BookingData, Window
from booking.errors import NotFound, Unprocessable
from booking.models import Booking, Series
from booking.settings import Settings
from tests.booking.bookings.conftest import World
from tests.factories import BRUSSELS, make_assignment, make_provider, make_user

SETTINGS = Settings(environment="test", secret_key="test-secret-key-not-for-production")
NOW = dt.datetime(2027, 3, 1, 9, 0, tzinfo=BRUSSELS)
# The clocks go forward on Sunday 28 March 2027 and back on Sunday 31 October 2027.
MONDAY_BEFORE_SPRING = dt.date(2027, 3, 22)
MONDAY_BEFORE_AUTUMN = dt.date(2027, 10, 25)


def brussels(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BRUSSELS)


def local_times(starts: list[dt.datetime]) -> list[tuple[str, str]]:
    return [
        (s.astimezone(BRUSSELS).strftime("%a %H:%M"), s.astimezone(BRUSSELS).strftime("%z"))
        for s in starts
    ]


class TestOccurrenceStarts:
    def test_a_weekly_series_keeps_ten_oclock_across_the_spring_change(self) -> None:
        starts = occurrence_starts(
            brussels(MONDAY_BEFORE_SPRING, 10), timezone=BRUSSELS, recurrence=Recurrence(count=3)
        )
        assert local_times(starts) == [
            ("Mon 10:00", "+0100"),
            ("Mon 10:00", "+0200"),
            ("Mon 10:00", "+0200"),
        ]
        assert [s.astimezone(dt.UTC).hour for s in starts] == [9, 8, 8]
        assert all(s.utcoffset() == dt.timedelta(0) for s in starts)

    def test_a_weekly_series_keeps_ten_oclock_across_the_autumn_change(self) -> None:
        starts = occurrence_starts(
            brussels(MONDAY_BEFORE_AUTUMN, 10), timezone=BRUSSELS, recurrence=Recurrence(count=2)
        )
        assert local_times(starts) == [("Mon 10:00", "+0200"), ("Mon 10:00", "+0100")]

    def test_every_other_week_until_a_day_included(self) -> None:
        first = brussels(dt.date(2027, 3, 1), 14)
        starts = occurrence_starts(
            first,
            timezone=BRUSSELS,
            recurrence=Recurrence(interval_weeks=2, until=dt.date(2027, 3, 29)),
        )
        assert [s.astimezone(BRUSSELS).date().day for s in starts] == [1, 15, 29]

    def test_a_wall_time_the_spring_change_skips_lands_an_hour_later(self) -> None:
        starts = occurrence_starts(
            brussels(dt.date(2027, 3, 21), 2, 30),
            timezone=BRUSSELS,
            recurrence=Recurrence(count=2),
        )
        assert local_times(starts)[1] == ("Sun 03:30", "+0200")

    def test_an_endless_recurrence_stops_just_past_the_limit(self) -> None:
        starts = occurrence_starts(
            brussels(dt.date(2027, 3, 1), 10),
            timezone=BRUSSELS,
            recurrence=Recurrence(until=dt.date(2030, 1, 1)),
        )
        assert len(starts) == MAX_OCCURRENCES + 1


def therapy(world: World, **changes: object) -> BookingData:
    data = BookingData(
        language_code="tir",
        session_kind="psychological",
        modality="onsite",
        starts_at=brussels(MONDAY_BEFORE_SPRING, 10),
        duration_minutes=60,
        site_id=world.site.id,
        beneficiary_ref="b-7c1f",
    )
    return dataclasses.replace(data, **changes)  # type: ignore[arg-type]


def weekly(
    db: Session, world: World, count: int = 4, **kwargs: object
) -> tuple[Series, list[Booking]]:
    series = create_series(
        db,
        actor=world.requester,
        data=therapy(world),
        recurrence=Recurrence(count=count),
        now=NOW,
        **kwargs,  # type: ignore[arg-type]
    )
    return series, series_occurrences(db, actor=world.requester, series=series)


class TestCreate:
    def test_each_occurrence_is_a_booking_at_ten_local_time(
        self, db: Session, world: World
    ) -> None:
        series, occurrences = weekly(db, world, count=3)
        assert [b.series_index for b in occurrences] == [0, 1, 2]
        assert {b.series_id for b in occurrences} == {series.id}
        assert {b.status for b in occurrences} == {"requested"}
        assert local_times([b.starts_at for b in occurrences]) == [
            ("Mon 10:00", "+0100"),
            ("Mon 10:00", "+0200"),
            ("Mon 10:00", "+0200"),
        ]
        assert len({b.reference for b in occurrences}) == 3
        assert series.occurrence_count == 3

    def test_the_window_moves_with_each_occurrence(self, db: Session, world: World) -> None:
        first = brussels(MONDAY_BEFORE_SPRING, 10)
        window = Window(first - dt.timedelta(minutes=30), first + dt.timedelta(hours=1))
        series = create_series(
            db,
            actor=world.requester,
            data=therapy(world, window=window),
            recurrence=Recurrence(count=2),
            now=NOW,
        )
        second = series_occurrences(db, actor=world.requester, series=series)[1]
        assert second.window_earliest is not None
        assert second.window_earliest.astimezone(BRUSSELS).time() == dt.time(9, 30)

    def test_a_given_provider_is_preferred_on_every_occurrence(
        self, db: Session, world: World
    ) -> None:
        series, occurrences = weekly(db, world, preferred_provider_id=world.provider.id)
        assert series.preferred_provider_id == world.provider.id
        views = describe_bookings(db, occurrences)
        assert all(v.preferred_provider_ids == [world.provider.id] for v in views)

    def test_creation_is_audited_once_for_the_series_and_once_per_occurrence(
        self, db: Session, world: World
    ) -> None:
        series, occurrences = weekly(db, world, count=2)
        actions = list(
            db.scalars(
                select(AuditLog.action).where(
                    AuditLog.entity_type.in_(["series", "booking"]),
                    AuditLog.entity_id.in_([str(series.id), *(str(b.id) for b in occurrences)]),
                )
            )
        )
        assert actions.count("series.created") == 1
        assert actions.count("booking.created") == 2

    @pytest.mark.parametrize(
        ("recurrence", "field"),
        [
            (Recurrence(), "recurrence"),
            (Recurrence(count=3, until=dt.date(2027, 6, 1)), "recurrence"),
            (Recurrence(count=MAX_OCCURRENCES + 1), "recurrence.count"),
            (Recurrence(interval_weeks=0, count=3), "recurrence.interval_weeks"),
            (Recurrence(until=dt.date(2029, 1, 1)), "recurrence"),
            (Recurrence(until=dt.date(2027, 3, 1)), "recurrence.until"),
        ],
    )
    def test_a_recurrence_must_end_within_a_year(
        self, db: Session, world: World, recurrence: Recurrence, field: str
    ) -> None:
        with pytest.raises(Unprocessable) as error:
            create_series(
                db, actor=world.requester, data=therapy(world), recurrence=recurrence, now=NOW
            )
        assert {e.field for e in error.value.errors} == {field}

    def test_the_first_occurrence_is_checked_like_a_booking(
        self, db: Session, world: World
    ) -> None:
        with pytest.raises(Unprocessable) as error:
            create_series(
                db,
                actor=world.requester,
                data=therapy(world, language_code="xxx"),
                recurrence=Recurrence(count=2),
                now=NOW,
            )
        assert {e.field for e in error.value.errors} == {"language"}
        assert db.scalar(select(Series).where(Series.requester_id == world.requester.id)) is None


def statuses(db: Session, world: World, series: Series) -> list[str]:
    return [b.status for b in series_occurrences(db, actor=world.requester, series=series)]


class TestCancel:
    def test_one_occurrence(self, db: Session, world: World) -> None:
        series, occurrences = weekly(db, world)
        cancelled = cancel_series(
            db,
            actor=world.requester,
            series=series,
            scope=Scope.OCCURRENCE,
            booking_id=occurrences[1].id,
            reason="Hospital appointment",
            now=NOW,
            settings=SETTINGS,
        )
        assert [b.id for b in cancelled] == [occurrences[1].id]
        assert statuses(db, world, series) == ["requested", "cancelled", "requested", "requested"]

    def test_this_and_the_following_ones(self, db: Session, world: World) -> None:
        series, occurrences = weekly(db, world)
        cancel_series(
            db,
            actor=world.requester,
            series=series,
            scope=Scope.FOLLOWING,
            booking_id=occurrences[2].id,
            reason="Therapy ends early",
            now=NOW,
            settings=SETTINGS,
        )
        assert statuses(db, world, series) == ["requested", "requested", "cancelled", "cancelled"]

    def test_all_leaves_the_past_and_the_already_cancelled_alone(
        self, db: Session, world: World
    ) -> None:
        series, occurrences = weekly(db, world)
        cancel_series(
            db,
            actor=world.requester,
            series=series,
            scope=Scope.OCCURRENCE,
            booking_id=occurrences[3].id,
            reason="Holiday",
            now=NOW,
            settings=SETTINGS,
        )
        after_the_first = occurrences[0].starts_at + dt.timedelta(hours=2)
        cancelled = cancel_series(
            db,
            actor=world.requester,
            series=series,
            scope=Scope.ALL,
            reason="Transferred to another centre",
            now=after_the_first,
            settings=SETTINGS,
        )
        assert [b.id for b in cancelled] == [occurrences[1].id, occurrences[2].id]
        assert statuses(db, world, series) == ["requested", "cancelled", "cancelled", "cancelled"]

    @pytest.mark.parametrize("scope", [Scope.OCCURRENCE, Scope.FOLLOWING])
    def test_a_scope_from_an_occurrence_needs_one_of_this_series(
        self, db: Session, world: World, scope: Scope
    ) -> None:
        series, _ = weekly(db, world, count=2)
        _, others = weekly(db, world, count=2)
        for booking_id in (None, others[0].id):
            with pytest.raises(Unprocessable) as error:
                cancel_series(
                    db,
                    actor=world.requester,
                    series=series,
                    scope=scope,
                    booking_id=booking_id,
                    reason="x",
                    now=NOW,
                )
            assert {e.field for e in error.value.errors} == {"booking_id"}


class TestMove:
    def test_a_new_time_of_day_is_local_on_both_sides_of_the_change(
        self, db: Session, world: World
    ) -> None:
        series, _ = weekly(db, world, count=3)
        move_series(
            db,
            actor=world.requester,
            series=series,
            scope=Scope.ALL,
            move=SeriesMove(start_time=dt.time(14, 0)),
            now=NOW,
        )
        occurrences = series_occurrences(db, actor=world.requester, series=series)
        assert [t for t, _ in local_times([b.starts_at for b in occurrences])] == [
            "Mon 14:00",
            "Mon 14:00",
            "Mon 14:00",
        ]

    def test_shifting_the_following_ones_to_tuesday(self, db: Session, world: World) -> None:
        series, occurrences = weekly(db, world, count=3)
        move_series(
            db,
            actor=world.requester,
            series=series,
            scope=Scope.FOLLOWING,
            booking_id=occurrences[1].id,
            move=SeriesMove(shift_days=1),
            now=NOW,
        )
        moved = series_occurrences(db, actor=world.requester, series=series)
        assert [t for t, _ in local_times([b.starts_at for b in moved])] == [
            "Mon 10:00",
            "Tue 10:00",
            "Tue 10:00",
        ]

    def test_moving_one_occurrence_releases_only_its_provider(
        self, db: Session, world: World
    ) -> None:
        series, occurrences = weekly(db, world, count=2)
        held = [
            make_assignment(db, booking=b, provider=world.provider, status="confirmed")
            for b in occurrences
        ]
        move_series(
            db,
            actor=world.requester,
            series=series,
            scope=Scope.OCCURRENCE,
            booking_id=occurrences[0].id,
            move=SeriesMove(start_time=dt.time(15, 0)),
            now=NOW,
        )
        assert [a.status for a in held] == ["cancelled", "confirmed"]

    def test_nothing_to_move_is_refused(self, db: Session, world: World) -> None:
        series, _ = weekly(db, world, count=2)
        with pytest.raises(Unprocessable):
            move_series(
                db,
                actor=world.requester,
                series=series,
                scope=Scope.ALL,
                move=SeriesMove(),
                now=NOW,
            )


class TestContinuity:
    def test_the_first_confirmed_provider_becomes_preferred_for_what_is_left(
        self, db: Session, world: World
    ) -> None:
        series, occurrences = weekly(db, world, count=3)
        assert remember_series_provider(
            db, actor=world.dispatcher, booking=occurrences[0], provider_id=world.provider.id
        )
        assert series.preferred_provider_id == world.provider.id
        views = describe_bookings(db, occurrences)
        assert all(v.preferred_provider_ids == [world.provider.id] for v in views)

    def test_an_occurrence_that_excludes_that_provider_keeps_excluding_them(
        self, db: Session, world: World
    ) -> None:
        series = create_series(
            db,
            actor=world.requester,
            data=therapy(world, excluded_provider_ids=(world.provider.id,)),
            recurrence=Recurrence(count=2),
            now=NOW,
        )
        occurrences = series_occurrences(db, actor=world.requester, series=series)
        remember_series_provider(
            db, actor=None, booking=occurrences[0], provider_id=world.provider.id
        )
        views = describe_bookings(db, occurrences)
        assert all(v.preferred_provider_ids == [] for v in views)
        assert all(v.excluded_provider_ids == [world.provider.id] for v in views)

    def test_a_series_keeps_its_first_provider(self, db: Session, world: World) -> None:
        series, occurrences = weekly(db, world, count=2, preferred_provider_id=world.provider.id)
        other = make_provider(db, organisation=world.setis)
        assert not remember_series_provider(
            db, actor=None, booking=occurrences[1], provider_id=other.id
        )
        assert series.preferred_provider_id == world.provider.id


def test_another_organisation_does_not_see_the_series(db: Session, world: World) -> None:
    series, _ = weekly(db, world, count=2)
    assert get_visible_series(db, actor=world.dispatcher, series_id=series.id) is series
    stranger = make_user(db)
    with pytest.raises(NotFound):
        get_visible_series(db, actor=stranger, series_id=series.id)
    with pytest.raises(NotFound):
        get_visible_series(db, actor=world.requester, series_id=987654321)
