"""Notifications (dispatcher, admin): follow the outbox and put dead messages back in line."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.auth import require_roles
from api.deps import DbSession
from api.schemas.common import MAX_ID, IdPath, Page, PageQuery, error_responses, paginate
from api.schemas.notifications import NotificationOut
from booking.outbox import service
from booking.outbox.models import OutboxMessage
from booking.users.models import User
from booking.vocabulary import OutboxStatus

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])

Operator = Annotated[User, Depends(require_roles("dispatcher", "admin"))]


@router.get(
    "",
    summary="List notifications (dispatcher, admin)",
    response_model=Page[NotificationOut],
    responses=error_responses(401, 403, 422),
)
def list_notifications(
    db: DbSession,
    operator: Operator,
    page: PageQuery,
    status: OutboxStatus | None = None,
    booking_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Page[NotificationOut]:
    """Newest first. A dispatcher sees the messages about bookings of the organisations
    their service serves, and those sent to their colleagues (digests); an admin sees all."""
    query = service.message_query(db, actor=operator, status=status, booking_id=booking_id)
    return paginate(
        db,
        query,
        page,
        # Newest first by id: the shared cursor cannot carry a UTCDateTime sort key yet.
        order_by=(OutboxMessage.id.desc(),),
        item=NotificationOut,
    )


@router.post(
    "/{notification_id}/retry",
    summary="Retry a failed or dead notification (dispatcher, admin)",
    response_model=NotificationOut,
    responses=error_responses(401, 403, 404, 409, 422, 429),
)
def retry_notification(
    db: DbSession, operator: Operator, notification_id: IdPath
) -> NotificationOut:
    """Due now, with a fresh set of attempts; the worker sends it on its next tick.
    409 if it is not `failed` or `dead`."""
    message = service.retry_message(db, actor=operator, message_id=notification_id)
    return NotificationOut.model_validate(message)
