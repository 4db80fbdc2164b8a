"""A provider's private iCalendar feed: issue the secret address, serve the feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from api.auth import require_roles
from api.deps import AppSettings, DbSession
from api.reads import log_reads
from api.schemas.common import IdPath, error_responses
from api.schemas.providers import CalendarTokenOut
from booking.privacy.read_log import feed_read
from booking.providers import calendar, service
from booking.providers.models import Provider
from booking.users.models import User
from booking.vocabulary import UserRole

router = APIRouter(prefix="/api/v1/providers", tags=["calendar"])

FeedOwner = Annotated[
    User, Depends(require_roles(UserRole.PROVIDER, UserRole.DISPATCHER, UserRole.ADMIN))
]
ICS = "text/calendar"


@router.post(
    "/{provider_id}/calendar-token",
    summary="Issue a new private calendar feed address (the old one stops working)",
    status_code=status.HTTP_201_CREATED,
    response_model=CalendarTokenOut,
    responses=error_responses(401, 403, 404, 422, 429),
)
def issue_calendar_token(
    db: DbSession, settings: AppSettings, user: FeedOwner, provider_id: IdPath
) -> CalendarTokenOut:
    """The provider themself or one of their dispatchers. The address is shown only now;
    only a hash of its token is stored."""
    provider = service.get_managed_provider(db, user, provider_id, allow_self=True)
    token = calendar.issue_calendar_token(db, actor=user, provider=provider)
    return CalendarTokenOut(
        provider_id=provider.id,
        url=calendar.feed_url(settings.base_url, provider.id, token),
        token=token,
    )


@router.get(
    "/{provider_id}/calendar.ics",
    summary="A provider's accepted and confirmed work as an iCalendar feed",
    response_class=Response,
    responses={
        200: {
            "content": {ICS: {"schema": {"type": "string"}}},
            "description": "An iCalendar document (RFC 5545).",
        },
        **error_responses(404, 422),
    },
)
def read_calendar_feed(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    provider_id: IdPath,
    token: Annotated[
        str, Query(max_length=400, description="The secret token of the feed address.")
    ] = "",
) -> Response:
    """No login: the token in the address is the credential, and a wrong or revoked one is a
    404. Times are in UTC; no beneficiary data and no notes are ever in the feed."""
    body = calendar.calendar_feed(
        db, provider_id=provider_id, token=token, base_url=settings.base_url
    )
    provider = db.get(Provider, provider_id)  # in the session already: no query
    if provider is not None:
        log_reads(request, feed_read(provider))
    return Response(
        content=body,
        media_type=f"{ICS}; charset=utf-8",
        headers={"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"},
    )
