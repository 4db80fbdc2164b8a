"""Bookings: ask for a session, read, reschedule or edit it (If-Match), cancel it, its history.

Idempotency: ``POST /api/v1/bookings`` accepts an ``Idempotency-Key`` header
(scoped to the caller). The first request answers 201; repeating it with the
same key and the same body answers 200 with the booking made the first time
(as it is now) and ``Idempotent-Replayed: true``; the same key with another
body is a 409. Bodies are compared by the hash of their canonical JSON, so
key order, white space and the offset an instant is written in do not count.

Optimistic locking: every booking answer carries ``ETag: "<version>"``. A
``PATCH`` must send it back as ``If-Match``: without it 428, with an older
one 412 (read again, then retry). The comparison is strong: a weak tag
(``W/"3"``) never matches.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import joinedload

from api.auth import CurrentUser, require_roles
from api.deps import AppSettings, DbSession
from api.reads import log_reads
from api.schemas.bookings import (
    BookingCreate,
    BookingOut,
    BookingUpdate,
    CancelIn,
    HistoryEntryOut,
    ProviderBookingOut,
    StaffableOut,
)
from api.schemas.common import (
    MAX_ID,
    IdPath,
    Page,
    PageParams,
    PageQuery,
    encode_cursor,
    error_responses,
)
from booking.access import get_visible_booking
from booking.bookings import service
from booking.bookings.models import Booking
from booking.bookings.provider_view import provider_booking_views, provider_history
from booking.errors import DomainError, FieldError, PreconditionFailed, Unprocessable
from booking.plans.staffable import staffable_suggestions
from booking.privacy.models import ReadVia
from booking.privacy.read_log import booking_reads
from booking.providers.service import sees_private_data
from booking.users.models import User
from booking.vocabulary import BookingStatus, UserRole

router = APIRouter(prefix="/api/v1/bookings", tags=["bookings"])

Booker = Annotated[
    User, Depends(require_roles(UserRole.REQUESTER, UserRole.DISPATCHER, UserRole.ADMIN))
]
"""Who books, edits and cancels: requesters, and dispatchers or admins on their behalf."""

IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
MAX_IF_MATCH_LENGTH = 100
_ENTITY_TAG = re.compile(r'^(?P<weak>W/)?"(?P<opaque>[\x21\x23-\x7e]*)"$')
"""One ``entity-tag`` of RFC 9110 §8.8.3: an optional ``W/`` and a quoted opaque tag."""

REPLAY_HEADER = "Idempotent-Replayed"
EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(9000, 1, 1)
"""``from``/``to`` beyond these are clamped, so that no time-zone conversion overflows."""
ETAG_HEADER = {
    "ETag": {"description": 'The booking\'s version, e.g. `"3"`.', "schema": {"type": "string"}}
}


class PreconditionRequired(DomainError):
    """A change of a versioned resource came without ``If-Match``."""

    status = 428
    default_code = "precondition_required"
    default_title = "Precondition required"


def etag(booking: Booking) -> str:
    """The strong entity tag of a booking: its version, quoted."""
    return f'"{booking.version_id}"'


def if_match_versions(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='The `ETag` of the booking as you read it, e.g. `"3"` (compared '
            'strongly: a weak tag such as `W/"3"` never matches).',
        ),
    ] = None,
) -> frozenset[int]:
    """The versions the client would accept; 428 without ``If-Match``, 412 if none can match.

    ``If-Match`` uses the strong comparison (RFC 9110 §13.1.1): a weak tag
    (``W/"3"``) never matches, even the current version. It may list several
    tags; ``*`` is refused, since it would skip the very check it stands for.
    """
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            'Send the booking\'s ETag as If-Match (e.g. If-Match: "3"), so that a change '
            "made meanwhile by someone else is not overwritten."
        )
    versions: set[int] = set()
    for item in if_match[:MAX_IF_MATCH_LENGTH].split(","):
        match = _ENTITY_TAG.match(item.strip())
        if match is None or match["weak"]:
            continue
        opaque = match["opaque"]
        if opaque.isascii() and opaque.isdigit() and len(opaque) <= 10:
            versions.add(int(opaque))
    if not versions:
        raise PreconditionFailed(
            f"If-Match {if_match[:40]!r} names no version of this booking: send the ETag "
            'exactly as read (e.g. "3"; a weak tag such as W/"3" never matches).'
        )
    return frozenset(versions)


IfMatch = Annotated[frozenset[int], Depends(if_match_versions)]


def expected_version(booking: Booking, versions: frozenset[int]) -> int:
    """The version a change may apply to: the current one if listed, else one that fails."""
    return booking.version_id if booking.version_id in versions else min(versions)


def _answer(db: DbSession, response: Response, booking: Booking) -> BookingOut:
    response.headers["ETag"] = etag(booking)
    return BookingOut.from_view(service.describe_booking(db, booking))


AnyBookingOut = BookingOut | ProviderBookingOut
"""A booking as the caller's role reads it: providers get their own, narrower view."""


def _views(db: DbSession, user: User, bookings: list[Booking]) -> list[AnyBookingOut]:
    """Bookings as ``user`` may read them: the provider view for providers, else in full."""
    if user.role == UserRole.PROVIDER:
        return [ProviderBookingOut.from_view(v) for v in provider_booking_views(db, user, bookings)]
    return [BookingOut.from_view(view) for view in service.describe_bookings(db, bookings)]


@router.post(
    "",
    summary="Ask for a session",
    status_code=status.HTTP_201_CREATED,
    response_model=BookingOut,
    responses={
        201: {"description": "Booked (status `requested`).", "headers": ETAG_HEADER},
        200: {
            "model": BookingOut,
            "description": "A repeat of an earlier request with the same `Idempotency-Key`: "
            "the booking made then, as it is now (`Idempotent-Replayed: true`).",
        },
        **error_responses(401, 403, 409, 413, 422, 429),
    },
)
def create_booking(
    db: DbSession,
    user: Booker,
    body: BookingCreate,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="Any unique string (a UUID) so that a retried request books once.",
        ),
    ] = None,
) -> BookingOut:
    """A requester books for their own organisation; a dispatcher or admin gives
    `organisation_id`. The answer is acknowledged by email to whoever booked.

    Never put a name in `beneficiary_ref` or `notes`: a pseudonymous reference only.
    """
    created = service.create_booking(
        db, actor=user, data=body.to_data(), idempotency_key=idempotency_key
    )
    if created.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers[REPLAY_HEADER] = "true"
    else:
        response.headers["Location"] = f"{router.prefix}/{created.booking.id}"
    return _answer(db, response, created.booking)


@router.get(
    "",
    summary="List the bookings the caller may see",
    response_model=Page[AnyBookingOut],
    responses=error_responses(401, 422),
)
def list_bookings(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    settings: AppSettings,
    page: PageQuery,
    status_: Annotated[
        list[BookingStatus] | None,
        Query(alias="status", description="One or more statuses (repeat the parameter)."),
    ] = None,
    language: Annotated[
        str | None, Query(pattern=r"^[a-z]{3}$", description="ISO 639-3 code.")
    ] = None,
    date_from: Annotated[
        dt.date | None,
        Query(alias="from", description="Sessions starting on this local date or later."),
    ] = None,
    date_to: Annotated[
        dt.date | None,
        Query(alias="to", description="Sessions starting on this local date or earlier."),
    ] = None,
    site_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    series_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    organisation_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Page[AnyBookingOut]:
    """Soonest first. A requester sees their organisation's bookings, a dispatcher those
    of the organisations their service serves, a provider those offered to or held by
    them, an admin all. Dates are local days in the service's time zone. A provider gets
    the provider's view (`view: "provider"`): the work, not who booked it."""
    if date_from is not None and date_to is not None and date_to < date_from:
        raise Unprocessable(
            "The date range ends before it starts.",
            errors=[FieldError("to", "Before `from`.", "end_before_start")],
        )
    zone = ZoneInfo(settings.timezone)
    filters = service.BookingFilters(
        statuses=tuple(status_ or ()),
        language_code=language,
        starts_from=_local_midnight(date_from, zone) if date_from is not None else None,
        starts_before=(
            _local_midnight(min(date_to, LATEST_DAY) + dt.timedelta(days=1), zone)
            if date_to is not None
            else None
        ),
        site_id=site_id,
        series_id=series_id,
        organisation_id=organisation_id,
    )
    query = service.booking_list_query(db, actor=user, filters=filters)
    rows, next_cursor = _keyset_page(db, query, page)
    log_reads(request, booking_reads(user, rows, via=ReadVia.API))
    return Page[AnyBookingOut](items=_views(db, user, rows), next_cursor=next_cursor)


def _keyset_page(
    db: DbSession, query: Select[Booking], page: PageParams
) -> tuple[list[Booking], str | None]:
    """One page in (starts_at, id) order, with the cursor format of ``api.schemas.common``.

    ``paginate`` cannot decode a cursor on ``starts_at`` yet (its column type,
    ``UTCDateTime``, does not tell it holds datetimes), hence this pager.
    """
    if page.cursor:
        starts_at, booking_id = _decode_booking_cursor(page.cursor)
        query = query.where(
            or_(
                Booking.starts_at > starts_at,
                and_(Booking.starts_at == starts_at, Booking.id > booking_id),
            )
        )
    ordered = query.order_by(Booking.starts_at, Booking.id).limit(page.limit + 1)
    # The group places in the same query (the page is limited first, then joined).
    rows = list(db.scalars(ordered.options(joinedload(Booking.places))).unique())
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    last = rows[-1]
    return rows, encode_cursor([last.starts_at.astimezone(dt.UTC), last.id])


def _decode_booking_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(values, list) or len(values) != 2:
            raise ValueError("wrong length")
        instant, booking_id = values
        if not isinstance(instant, str) or type(booking_id) is not int:
            raise ValueError("wrong types")
        starts_at = dt.datetime.fromisoformat(instant)
        if starts_at.tzinfo is None or not 0 <= booking_id <= MAX_ID:
            raise ValueError("naive instant or id out of range")
        return starts_at.astimezone(dt.UTC), booking_id
    except (ValueError, TypeError, UnicodeError, binascii.Error, RecursionError, OverflowError):
        raise Unprocessable(
            "The cursor is unknown or damaged.",
            errors=[FieldError("cursor", "Unknown or damaged cursor.", "cursor_invalid")],
        ) from None


def _local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """Midnight of a local day; absurd years are clamped so that no conversion overflows."""
    day = min(max(day, EARLIEST_DAY), LATEST_DAY)
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone)


@router.get(
    "/{booking_id}",
    summary="Read one booking",
    response_model=AnyBookingOut,
    responses={200: {"headers": ETAG_HEADER}, **error_responses(401, 404, 422)},
)
def read_booking(
    request: Request, db: DbSession, user: CurrentUser, booking_id: IdPath, response: Response
) -> AnyBookingOut:
    """404 when it does not exist or is not the caller's to see. A provider gets the
    provider's view (`view: "provider"`): time, place, language, kind and needs, their own
    offer or work, and the notes once they hold it; never the beneficiary's reference,
    the requester or the people excluded."""
    booking = get_visible_booking(db, user, booking_id)
    log_reads(request, booking_reads(user, [booking], via=ReadVia.API))
    response.headers["ETag"] = etag(booking)
    [view] = _views(db, user, [booking])
    return view


@router.patch(
    "/{booking_id}",
    summary="Reschedule or edit a booking",
    response_model=BookingOut,
    responses={
        200: {"headers": ETAG_HEADER},
        **error_responses(401, 403, 404, 409, 412, 413, 422, 428, 429),
    },
)
def update_booking(
    db: DbSession,
    user: Booker,
    booking_id: IdPath,
    versions: IfMatch,
    body: BookingUpdate,
    response: Response,
) -> BookingOut:
    """Send `If-Match` with the `ETag` you read. A change of time keeps the provider only
    if the new session lies inside the time they had agreed to (started later or
    shortened); a change of what they were chosen for (place, modality, kind, gender,
    certification, skills, variety, or excluding them) releases them. A released
    provider is told, and the booking goes back to `requested`."""
    booking = get_visible_booking(db, user, booking_id)
    updated = service.update_booking(
        db,
        actor=user,
        booking=booking,
        data=body.to_patch(),
        expected_version=expected_version(booking, versions),
    )
    return _answer(db, response, updated)


@router.post(
    "/{booking_id}/cancel",
    summary="Cancel a booking",
    response_model=BookingOut,
    responses={
        200: {"headers": ETAG_HEADER},
        **error_responses(401, 403, 404, 409, 413, 422, 429),
    },
)
def cancel_booking(
    db: DbSession,
    user: Booker,
    settings: AppSettings,
    booking_id: IdPath,
    body: CancelIn,
    response: Response,
) -> BookingOut:
    """Free until `late_cancellation_hour` (10:00 by default) local time on the working
    day before the session; later, `late_cancellation` is true. Weekends, the public
    holidays of the session's country and the organisation's closure days are not
    working days. Providers holding or offered the session are told."""
    booking = get_visible_booking(db, user, booking_id)
    cancelled = service.cancel_booking(
        db, actor=user, booking=booking, reason=body.reason, settings=settings
    )
    return _answer(db, response, cancelled)


@router.get(
    "/{booking_id}/staffable",
    summary="What would make an unstaffed booking staffable",
    response_model=list[StaffableOut],
    responses=error_responses(401, 403, 404, 422),
    dependencies=[Depends(require_roles(UserRole.REQUESTER, UserRole.DISPATCHER, UserRole.ADMIN))],
)
def booking_staffable(
    db: DbSession, user: CurrentUser, settings: AppSettings, booking_id: IdPath
) -> list[StaffableOut]:
    """Up to three of the smallest changes that would let a provider take the booking, best
    first, each checked by the matcher's rules against current availability and held work:
    another start, another modality, one need less (the requester's, with the update that
    makes it), a provider allowed across the border or a longer drive (a provider's or a
    dispatcher's: their dispatchers get the `PATCH /providers/{id}` that takes it). Empty for
    a booking that already has someone or has started."""
    booking = get_visible_booking(db, user, booking_id)
    return [
        StaffableOut.of(
            view,
            # The provider's own dispatchers (or an admin) get the update that takes it.
            dispatcher=view.provider_change is not None
            and user.role in (UserRole.DISPATCHER, UserRole.ADMIN)
            and sees_private_data(user, view.provider_change.provider),
        )
        for view in staffable_suggestions(db, booking=booking, timezone=settings.timezone)
    ]


@router.get(
    "/{booking_id}/history",
    summary="Who changed a booking, what and when",
    response_model=list[HistoryEntryOut],
    responses=error_responses(401, 404, 422),
)
def booking_history(
    request: Request, db: DbSession, user: CurrentUser, booking_id: IdPath
) -> list[HistoryEntryOut]:
    """The audit entries of the booking and of its assignments, oldest first. A provider
    sees the entries of their own assignments only, and of every entry only the fields
    of the provider's view (no beneficiary reference, notes, requester or exclusions),
    naming nobody but themself."""
    booking = get_visible_booking(db, user, booking_id)
    log_reads(request, booking_reads(user, [booking], via=ReadVia.API))
    if user.role == UserRole.PROVIDER:
        entries = provider_history(db, user=user, booking=booking)
    else:
        entries = service.booking_history(db, actor=user, booking=booking)
    return [HistoryEntryOut.from_entry(entry) for entry in entries]
