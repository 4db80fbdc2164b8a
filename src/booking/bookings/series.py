"""Recurring sessions (weekly therapy): a series and its occurrences, kept with one provider.

Each occurrence is an ordinary ``Booking`` (``series_id``, ``series_index``).
Occurrences keep the same local wall-clock time across daylight-saving
changes: each start is built from a local date and time in the
organisation's time zone, never by adding 7 x 24 hours to an instant. On the
two days a year that wall time may not exist or may occur twice, the rule of
``booking.dates`` decides (forward across the gap, the first of the two), and
the occurrences it touched are reported as ``Adjustment``s. Every occurrence
lies within the booking horizon.

Continuity: the series' ``preferred_provider_id`` (given at creation, or set
by ``remember_series_provider`` when an occurrence is first confirmed) is a
preferred provider of every open occurrence, so the matcher keeps the same
interpreter through the therapy episode.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.access import booking_query_for
from booking.audit import record_audit
from booking.bookings.models import Booking, BookingProviderPreference, Series
from booking.bookings.service import (
    booking_organisation,
    cancel_booking,
    insert_booking,
    update_booking,
)
from booking.bookings.validation import (
    BEYOND_HORIZON,
    BookingData,
    BookingPatch,
    Window,
    beyond_horizon_message,
    check_booking,
    horizon_members,
    providers_serving,
)
from booking.dates import WallTime, WallTimeKind, booking_horizon, wall_time
from booking.errors import FieldError, NotFound, Unprocessable
from booking.organisations.models import Organisation
from booking.settings import Settings, get_settings
from booking.types import UTC, ensure_aware, utc_now
from booking.users.models import User
from booking.vocabulary import CHANGEABLE_BOOKING_STATUSES, PreferenceKind

MAX_OCCURRENCES = 52
"""A year of weekly sessions; a longer episode is booked again, with a review."""

MAX_INTERVAL_WEEKS = 8
MAX_SHIFT_DAYS = 6


class Scope(StrEnum):
    """Which occurrences a change of a series touches."""

    OCCURRENCE = "occurrence"
    FOLLOWING = "following"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class Recurrence:
    """Every ``interval_weeks`` weeks, ``count`` times or until ``until`` (inclusive)."""

    interval_weeks: int = 1
    count: int | None = None
    until: dt.date | None = None


@dataclass(frozen=True, slots=True)
class SeriesMove:
    """How to move occurrences: a new local start time, a shift in days, a new length."""

    start_time: dt.time | None = None
    shift_days: int = 0
    duration_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class Adjustment:
    """An occurrence whose local wall-clock time the daylight-saving rule moved or chose."""

    booking_id: int
    series_index: int | None
    wall_time: WallTime


def occurrence_times(
    first_start: dt.datetime, *, timezone: ZoneInfo, recurrence: Recurrence
) -> list[WallTime]:
    """The occurrences' local dates at the first one's wall-clock time, resolved to instants.

    Stops after ``count`` occurrences or after the local date ``until``, and
    never makes more than ``MAX_OCCURRENCES + 1`` (so the caller can tell the
    recurrence is too long). The first occurrence is the instant given.
    """
    local = ensure_aware(first_start).astimezone(timezone)
    clock = local.time()
    times: list[WallTime] = []
    index = 0
    while len(times) <= MAX_OCCURRENCES:
        if recurrence.count is not None and index >= recurrence.count:
            break
        day = local.date() + dt.timedelta(weeks=recurrence.interval_weeks * index)
        if recurrence.until is not None and day > recurrence.until:
            break
        if index == 0:
            instant = local.astimezone(UTC)
            times.append(WallTime(day, clock, instant, local, WallTimeKind.EXACT))
        else:
            times.append(wall_time(day, clock, timezone))
        index += 1
    return times


def occurrence_starts(
    first_start: dt.datetime, *, timezone: ZoneInfo, recurrence: Recurrence
) -> list[dt.datetime]:
    """The starts of ``occurrence_times``, in UTC."""
    return [
        t.instant for t in occurrence_times(first_start, timezone=timezone, recurrence=recurrence)
    ]


def create_series(
    db: Session,
    *,
    actor: User,
    data: BookingData,
    recurrence: Recurrence,
    preferred_provider_id: int | None = None,
    now: dt.datetime | None = None,
    adjustments: list[Adjustment] | None = None,
) -> Series:
    """Create a series and all its occurrences as ``requested`` bookings.

    ``data`` describes the first occurrence; the others repeat it at the same
    local time (and the same window around it). Each occurrence is audited
    and acknowledged like a single booking. Occurrences whose wall-clock time
    the daylight-saving rule moved or chose are appended to ``adjustments``
    when it is given (for the answer to say so).
    """
    now = ensure_aware(now) if now is not None else utc_now()
    organisation = booking_organisation(db, actor=actor, organisation_id=data.organisation_id)
    _check_recurrence(recurrence)
    if preferred_provider_id is not None and not providers_serving(
        db, {preferred_provider_id}, organisation.id
    ):
        raise Unprocessable(
            "Unknown provider.",
            errors=[
                FieldError(
                    "preferred_provider_id",
                    f"No provider {preferred_provider_id} serving this organisation.",
                    "unknown_provider",
                )
            ],
        )
    if preferred_provider_id is not None and preferred_provider_id in data.excluded_provider_ids:
        raise Unprocessable(
            "A provider cannot be both preferred and excluded.",
            errors=[
                FieldError(
                    "preferred_provider_id",
                    "This provider is also excluded.",
                    "preferred_and_excluded",
                )
            ],
        )
    if preferred_provider_id is not None:
        data = dataclasses.replace(
            data,
            preferred_provider_ids=tuple(
                sorted({*data.preferred_provider_ids, preferred_provider_id})
            ),
        )
    checked = check_booking(db, data=data, organisation_id=organisation.id, now=now)
    timezone = ZoneInfo(organisation.timezone)
    times = occurrence_times(data.starts_at, timezone=timezone, recurrence=recurrence)
    starts = [t.instant for t in times]
    if not starts:
        raise Unprocessable(
            "The series ends before its first session.",
            errors=[
                FieldError("recurrence.until", "Before the first session.", "end_before_start")
            ],
        )
    if len(starts) > MAX_OCCURRENCES:
        raise Unprocessable(
            "The series is too long.",
            errors=[
                FieldError(
                    "recurrence",
                    f"At most {MAX_OCCURRENCES} occurrences; book a longer episode again later.",
                    "too_many_occurrences",
                )
            ],
        )
    _check_horizon(starts, now)
    series = Series(
        organisation_id=organisation.id,
        requester_id=actor.id,
        language_code=data.language_code,
        interval_weeks=recurrence.interval_weeks,
        occurrence_count=recurrence.count,
        until_date=recurrence.until,
        preferred_provider_id=preferred_provider_id,
    )
    db.add(series)
    db.flush()
    record_audit(
        db,
        actor=actor,
        action="series.created",
        entity=series,
        changes={
            "interval_weeks": recurrence.interval_weeks,
            "occurrence_count": recurrence.count,
            "until_date": recurrence.until,
            "occurrences": len(starts),
            "preferred_provider_id": preferred_provider_id,
        },
    )
    first = data.starts_at
    for index, (start, when) in enumerate(zip(starts, times, strict=True)):
        occurrence = dataclasses.replace(
            data,
            starts_at=start,
            ends_at=None,
            duration_minutes=checked.duration_minutes,
            window=_shifted(data.window, first=first, start=start),
        )
        booking = insert_booking(
            db,
            actor=actor,
            data=occurrence,
            checked=checked,
            organisation_id=organisation.id,
            now=now,
            series_id=series.id,
            series_index=index,
        )
        if adjustments is not None and when.adjusted:
            adjustments.append(Adjustment(booking.id, index, when))
    return series


def _check_horizon(starts: list[dt.datetime], now: dt.datetime) -> None:
    """Every occurrence within the booking horizon, or a 422 that names the first beyond it."""
    days = get_settings().max_booking_ahead_days
    horizon = booking_horizon(now, days)
    beyond = next((i for i, start in enumerate(starts) if start > horizon), None)
    if beyond is None:
        return
    raise Unprocessable(
        f"Occurrence {beyond + 1} ({starts[beyond].date().isoformat()}) lies beyond the "
        "booking horizon.",
        errors=[
            FieldError(
                "recurrence",
                f"{beyond_horizon_message(now, days)} Make the series shorter (count or until) "
                "and book the rest later.",
                BEYOND_HORIZON,
            )
        ],
        extra=horizon_members(now, days),
    )


def _check_recurrence(recurrence: Recurrence) -> None:
    errors: list[FieldError] = []
    if not 1 <= recurrence.interval_weeks <= MAX_INTERVAL_WEEKS:
        errors.append(
            FieldError(
                "recurrence.interval_weeks", f"Between 1 and {MAX_INTERVAL_WEEKS} weeks.", "range"
            )
        )
    if (recurrence.count is None) == (recurrence.until is None):
        errors.append(FieldError("recurrence", "Give either count or until.", "count_xor_until"))
    elif recurrence.count is not None and not 1 <= recurrence.count <= MAX_OCCURRENCES:
        errors.append(FieldError("recurrence.count", f"Between 1 and {MAX_OCCURRENCES}.", "range"))
    if errors:
        raise Unprocessable("The recurrence is not valid.", errors=errors)


def _shifted(window: Window | None, *, first: dt.datetime, start: dt.datetime) -> Window | None:
    """The first occurrence's window, around ``start`` (absolute offsets, so DST-proof)."""
    if window is None:
        return None
    return Window(start - (first - window.earliest), start + (window.latest - first))


# --- read -----------------------------------------------------------------------------


def get_visible_series(db: Session, *, actor: User, series_id: int) -> Series:
    """The series if ``actor`` may see one of its occurrences; ``NotFound`` otherwise."""
    series = db.get(Series, series_id)
    if series is not None:
        visible = db.scalars(
            booking_query_for(db, actor).where(Booking.series_id == series.id).limit(1)
        ).first()
        if visible is not None:
            return series
    raise NotFound(entity="series", entity_id=series_id)


def series_occurrences(db: Session, *, actor: User, series: Series) -> list[Booking]:
    """The occurrences of ``series`` that ``actor`` may see, in order."""
    return list(
        db.scalars(
            booking_query_for(db, actor)
            .where(Booking.series_id == series.id)
            .order_by(Booking.series_index)
        )
    )


# --- change ---------------------------------------------------------------------------


def cancel_series(
    db: Session,
    *,
    actor: User,
    series: Series,
    scope: Scope,
    reason: str,
    booking_id: int | None = None,
    now: dt.datetime | None = None,
    settings: Settings | None = None,
) -> list[Booking]:
    """Cancel one occurrence, it and the following ones, or all that are still to come.

    Each is cancelled like a single booking (late or not, providers told).
    Returns the cancelled bookings.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    targets = _targets(db, series=series, scope=scope, booking_id=booking_id, now=now)
    for booking in targets:
        cancel_booking(db, actor=actor, booking=booking, reason=reason, now=now, settings=settings)
    record_audit(
        db,
        actor=actor,
        action="series.cancelled",
        entity=series,
        changes={"scope": scope, "booking_ids": [b.id for b in targets], "reason": reason},
    )
    return targets


def move_series(
    db: Session,
    *,
    actor: User,
    series: Series,
    scope: Scope,
    move: SeriesMove,
    booking_id: int | None = None,
    now: dt.datetime | None = None,
    adjustments: list[Adjustment] | None = None,
) -> list[Booking]:
    """Move occurrences to another local time, shift them by days, or change their length.

    Each occurrence is rescheduled like a single booking: its provider stays
    only if the new session lies inside the time they agreed to. Returns the
    moved bookings; those whose new wall-clock time the daylight-saving rule
    moved or chose are appended to ``adjustments`` when it is given.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    _check_move(move)
    organisation = db.get(Organisation, series.organisation_id)
    timezone = ZoneInfo(organisation.timezone if organisation else "Europe/Brussels")
    targets = _targets(db, series=series, scope=scope, booking_id=booking_id, now=now)
    for booking in targets:
        local = booking.starts_at.astimezone(timezone)
        when = wall_time(
            local.date() + dt.timedelta(days=move.shift_days),
            move.start_time or local.time(),
            timezone,
        )
        start = when.instant
        if adjustments is not None and when.adjusted:
            adjustments.append(Adjustment(booking.id, booking.series_index, when))
        patch: BookingPatch = {"starts_at": start}
        if booking.window_earliest is not None and booking.window_latest is not None:
            delta = start - booking.starts_at
            patch["window"] = Window(booking.window_earliest + delta, booking.window_latest + delta)
        if move.duration_minutes is not None:
            patch["duration_minutes"] = move.duration_minutes
        update_booking(
            db,
            actor=actor,
            booking=booking,
            data=patch,
            expected_version=booking.version_id,
            now=now,
        )
    record_audit(
        db,
        actor=actor,
        action="series.moved",
        entity=series,
        changes={
            "scope": scope,
            "booking_ids": [b.id for b in targets],
            "start_time": move.start_time,
            "shift_days": move.shift_days,
            "duration_minutes": move.duration_minutes,
        },
    )
    return targets


def _check_move(move: SeriesMove) -> None:
    if move.start_time is None and move.shift_days == 0 and move.duration_minutes is None:
        raise Unprocessable(
            "Nothing to change.",
            errors=[
                FieldError(
                    "start_time", "Give start_time, shift_days or duration_minutes.", "missing"
                )
            ],
        )
    if not -MAX_SHIFT_DAYS <= move.shift_days <= MAX_SHIFT_DAYS:
        raise Unprocessable(
            "A series moves by less than a week.",
            errors=[
                FieldError(
                    "shift_days", f"Between -{MAX_SHIFT_DAYS} and {MAX_SHIFT_DAYS}.", "range"
                )
            ],
        )


def _targets(
    db: Session, *, series: Series, scope: Scope, booking_id: int | None, now: dt.datetime
) -> list[Booking]:
    """The occurrences a scope designates, among those not yet started, done or cancelled."""
    anchor: Booking | None = None
    if scope in (Scope.OCCURRENCE, Scope.FOLLOWING):
        if booking_id is None:
            raise Unprocessable(
                f"Say which occurrence the scope {scope.value!r} starts from.",
                errors=[FieldError("booking_id", "Required for this scope.", "missing")],
            )
        anchor = db.get(Booking, booking_id)
        if anchor is None or anchor.series_id != series.id:
            raise Unprocessable(
                "Not an occurrence of this series.",
                errors=[
                    FieldError(
                        "booking_id",
                        f"Booking {booking_id} is not an occurrence of series {series.id}.",
                        "not_in_series",
                    )
                ],
            )
    if scope == Scope.OCCURRENCE:
        assert anchor is not None
        # The single-booking services say why a closed or started one cannot change.
        return [anchor]
    query = (
        select(Booking)
        .where(
            Booking.series_id == series.id,
            Booking.status.in_(CHANGEABLE_BOOKING_STATUSES),
            Booking.starts_at > now,
        )
        .order_by(Booking.series_index)
    )
    if anchor is not None and anchor.series_index is not None:
        query = query.where(Booking.series_index >= anchor.series_index)
    return list(db.scalars(query))


# --- continuity -----------------------------------------------------------------------


def remember_series_provider(
    db: Session, *, actor: User | None, booking: Booking, provider_id: int
) -> bool:
    """After a series occurrence is confirmed, keep its provider for the rest of the series.

    The dispatch service calls this when it confirms an assignment. Sets the
    series' preferred provider if it has none yet, and makes that provider a
    preferred one of every open occurrence still to come that does not exclude
    them. Returns whether the series took this provider.
    """
    if booking.series_id is None:
        return False
    series = db.get(Series, booking.series_id)
    if series is None or series.preferred_provider_id is not None:
        return False
    series.preferred_provider_id = provider_id
    record_audit(
        db,
        actor=actor,
        action="series.provider_kept",
        entity=series,
        changes={"preferred_provider_id": [None, provider_id], "from_booking_id": booking.id},
    )
    _prefer_on_open_occurrences(db, series=series, provider_id=provider_id, now=utc_now())
    return True


def _prefer_on_open_occurrences(
    db: Session, *, series: Series, provider_id: int, now: dt.datetime
) -> None:
    open_ids = list(
        db.scalars(
            select(Booking.id).where(
                Booking.series_id == series.id,
                Booking.status.in_(CHANGEABLE_BOOKING_STATUSES),
                Booking.starts_at > now,
            )
        )
    )
    if not open_ids:
        return
    existing = db.execute(
        select(BookingProviderPreference.booking_id, BookingProviderPreference.kind).where(
            BookingProviderPreference.booking_id.in_(open_ids),
            BookingProviderPreference.provider_id == provider_id,
        )
    ).all()
    # A booking that excludes this provider (they know the person) keeps excluding them.
    skip = {booking_id for booking_id, _kind in existing}
    for booking_id in open_ids:
        if booking_id not in skip:
            db.add(
                BookingProviderPreference(
                    booking_id=booking_id, provider_id=provider_id, kind=PreferenceKind.PREFERRED
                )
            )
    db.flush()
