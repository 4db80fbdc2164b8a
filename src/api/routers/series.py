"""Series: recurring sessions (weekly therapy) with the same provider throughout.

Each occurrence is an ordinary booking (read, edit and cancel it through
``/api/v1/bookings`` too). Here: create them all at once, read the series,
and cancel or move one occurrence, it and the following ones, or all.
"""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy.orm import Session

from api.deps import AppSettings, DbSession
from api.routers.bookings import Booker
from api.schemas.bookings import (
    BookingOut,
    SeriesCancel,
    SeriesCreate,
    SeriesOut,
    SeriesUpdate,
    WallTimeAdjustmentOut,
)
from api.schemas.common import IdPath, error_responses
from booking.bookings import series as series_service
from booking.bookings.models import Series
from booking.bookings.service import describe_bookings
from booking.users.models import User

router = APIRouter(prefix="/api/v1/series", tags=["series"])


def _answer(
    db: Session,
    user: User,
    series: Series,
    adjustments: list[series_service.Adjustment] | None = None,
) -> SeriesOut:
    occurrences = series_service.series_occurrences(db, actor=user, series=series)
    return SeriesOut(
        adjustments=[WallTimeAdjustmentOut.from_adjustment(a) for a in adjustments or []],
        id=series.id,
        organisation_id=series.organisation_id,
        requester_id=series.requester_id,
        language=series.language_code,
        interval_weeks=series.interval_weeks,
        count=series.occurrence_count,
        until=series.until_date,
        preferred_provider_id=series.preferred_provider_id,
        created_at=series.created_at,
        occurrences=[BookingOut.from_view(v) for v in describe_bookings(db, occurrences)],
    )


@router.post(
    "",
    summary="Book a recurring session",
    status_code=status.HTTP_201_CREATED,
    response_model=SeriesOut,
    responses=error_responses(401, 403, 413, 422, 429),
)
def create_series(db: DbSession, user: Booker, body: SeriesCreate) -> SeriesOut:
    """`starts_at` is the first session; the others follow every `interval_weeks` weeks at
    the same local time, also across daylight-saving changes, `count` times or until
    `until` (at most 52), all within the booking horizon (`TRUCHEMENT_MAX_BOOKING_AHEAD_DAYS`,
    else 422 `beyond_booking_horizon`). Each occurrence is a booking of its own. On the night
    the clocks go forward a time that does not exist moves forward by the gap (02:30 becomes
    03:30); on the night they go back, a time that occurs twice is the first one;
    `adjustments` lists the occurrences concerned."""
    adjustments: list[series_service.Adjustment] = []
    series = series_service.create_series(
        db,
        actor=user,
        data=body.to_data(),
        recurrence=body.recurrence.to_recurrence(),
        preferred_provider_id=body.preferred_provider_id,
        adjustments=adjustments,
    )
    return _answer(db, user, series, adjustments)


@router.get(
    "/{series_id}",
    summary="Read a series and its occurrences",
    response_model=SeriesOut,
    responses=error_responses(401, 403, 404, 422),
)
def read_series(db: DbSession, user: Booker, series_id: IdPath) -> SeriesOut:
    """404 unless the caller may see at least one of its occurrences. Providers read their
    work through `GET /bookings` (the provider's view), not the requester's series."""
    return _answer(db, user, series_service.get_visible_series(db, actor=user, series_id=series_id))


@router.post(
    "/{series_id}/cancel",
    summary="Cancel one occurrence, it and the following ones, or all",
    response_model=SeriesOut,
    responses=error_responses(401, 403, 404, 409, 413, 422, 429),
)
def cancel_series(
    db: DbSession, user: Booker, settings: AppSettings, series_id: IdPath, body: SeriesCancel
) -> SeriesOut:
    """Occurrences already started, done or cancelled are left alone (`occurrence` on such
    a one is a 409). Each is cancelled like a single booking, late or not."""
    series = series_service.get_visible_series(db, actor=user, series_id=series_id)
    series_service.cancel_series(
        db,
        actor=user,
        series=series,
        scope=body.scope,
        booking_id=body.booking_id,
        reason=body.reason,
        settings=settings,
    )
    return _answer(db, user, series)


@router.patch(
    "/{series_id}",
    summary="Move one occurrence, it and the following ones, or all",
    response_model=SeriesOut,
    responses=error_responses(401, 403, 404, 409, 413, 422, 429),
)
def move_series(db: DbSession, user: Booker, series_id: IdPath, body: SeriesUpdate) -> SeriesOut:
    """A new local start time, a shift to another weekday, a new length. Each occurrence is
    rescheduled like a single booking: its provider stays only if the new session lies
    inside the time they agreed to. No `If-Match` here: each occurrence's version moves on.
    A new time that does not exist or occurs twice on some occurrence's day follows the
    daylight-saving rule of `POST /series`; `adjustments` lists those occurrences."""
    series = series_service.get_visible_series(db, actor=user, series_id=series_id)
    adjustments: list[series_service.Adjustment] = []
    series_service.move_series(
        db,
        actor=user,
        series=series,
        scope=body.scope,
        booking_id=body.booking_id,
        move=body.to_move(),
        adjustments=adjustments,
    )
    return _answer(db, user, series, adjustments)
