"""Offers: ask the N best providers at once; the first to accept gets the session."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from api.auth import require_roles
from api.deps import AppSettings, DbSession
from api.routers.assignments import assignment_out
from api.schemas.assignments import OfferCreate, OffersOut
from api.schemas.common import IdPath, error_responses
from booking.access import get_visible_booking
from booking.assignments import offers
from booking.users.models import User
from booking.vocabulary import UserRole

router = APIRouter(prefix="/api/v1", tags=["offers"])

DispatcherOrAdmin = Annotated[User, Depends(require_roles(UserRole.DISPATCHER, UserRole.ADMIN))]


@router.post(
    "/bookings/{booking_id}/offers",
    summary="Offer a booking to the N best providers at once",
    status_code=status.HTTP_201_CREATED,
    response_model=OffersOut,
    responses=error_responses(401, 403, 404, 409, 413, 422, 429),
)
def offer_booking(
    db: DbSession,
    settings: AppSettings,
    user: DispatcherOrAdmin,
    booking_id: IdPath,
    body: OfferCreate | None = None,
) -> OffersOut:
    """The `count` best feasible candidates not asked before get an offer until
    `expires_in_minutes` of the service's working hours (default: the service's offer
    timeout; the clock stops at night, at weekends and on public holidays, and the offer
    never outlives the start of the session). The first to accept gets
    the booking and the others' offers are withdrawn. If nobody accepts in time, the
    worker offers it to the next `count` candidates, and when none is left, flags it to
    the dispatchers (`unfilled`, reason `offer_unanswered`). 409 `no_candidate` when
    nobody left can take it, with `everyone_asked`: `true` when everyone who could was
    asked already, `false` when nobody can take it as it stands (see the candidates)."""
    body = body or OfferCreate()
    booking = get_visible_booking(db, user, booking_id)
    sent = offers.offer_booking(
        db,
        actor=user,
        booking=booking,
        count=body.count,
        expires_in_minutes=body.expires_in_minutes or settings.offer_timeout_minutes,
        timezone=settings.timezone,
        place=body.place,
    )
    return OffersOut(booking_id=booking.id, offers=[assignment_out(db, a) for a in sent])
