"""Who may see what: the tenancy rules every read goes through.

A requester sees their own organisation's bookings; a dispatcher those of
the requesting organisations their providing service serves (a
``service_agreement``); a provider only the bookings they currently hold or
are offered; an admin everything. A resource outside these sets is answered
as if it did not exist (``NotFound``), so its existence is never confirmed.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, false, or_, select
from sqlalchemy.orm import Session, joinedload

from booking.assignments.models import Assignment
from booking.bookings.models import Booking
from booking.errors import NotFound
from booking.organisations.models import ServiceAgreement
from booking.outbox.models import OutboxMessage
from booking.providers.models import Provider
from booking.users.models import User
from booking.vocabulary import PROVIDER_VISIBLE_ASSIGNMENT_STATUSES, UserRole


def served_organisation_ids(db: Session, providing_org_id: int) -> set[int]:
    """The requesting organisations a providing service dispatches for."""
    rows = db.scalars(
        select(ServiceAgreement.requesting_org_id).where(
            ServiceAgreement.providing_org_id == providing_org_id
        )
    )
    return set(rows)


def visible_organisation_ids(db: Session, user: User) -> set[int] | None:
    """The organisations ``user`` may read about; ``None`` means all of them (admin)."""
    match user.role:
        case UserRole.ADMIN:
            return None
        case UserRole.DISPATCHER:
            return {user.organisation_id} | served_organisation_ids(db, user.organisation_id)
        case _:
            return {user.organisation_id}


def booking_query_for(db: Session, user: User) -> Select[Booking]:
    """A ``SELECT`` of the bookings ``user`` may see; add filters, order and limits to it."""
    query = select(Booking)
    match user.role:
        case UserRole.ADMIN:
            return query
        case UserRole.REQUESTER:
            return query.where(Booking.organisation_id == user.organisation_id)
        case UserRole.DISPATCHER:
            served = select(ServiceAgreement.requesting_org_id).where(
                ServiceAgreement.providing_org_id == user.organisation_id
            )
            return query.where(Booking.organisation_id.in_(served))
        case UserRole.PROVIDER:
            held = (
                select(Assignment.booking_id)
                .join(Provider, Provider.id == Assignment.provider_id)
                .where(
                    Provider.user_id == user.id,
                    Assignment.status.in_(PROVIDER_VISIBLE_ASSIGNMENT_STATUSES),
                )
            )
            return query.where(Booking.id.in_(held))
    # An unknown role sees nothing rather than everything.
    return query.where(false())


def outbox_condition_for(db: Session, user: User) -> ColumnElement[bool] | None:
    """Which notifications ``user`` may count: ``None`` for all (admin).

    Others see the messages about bookings they may see and those sent to
    people of their own organisation; nothing tells them how busy another
    organisation is.
    """
    if user.role == UserRole.ADMIN:
        return None
    bookings = booking_query_for(db, user).with_only_columns(Booking.id)
    colleagues = select(User.id).where(User.organisation_id == user.organisation_id)
    return or_(
        OutboxMessage.booking_id.in_(bookings),
        OutboxMessage.recipient_user_id.in_(colleagues),
    )


def get_visible_booking(db: Session, user: User, booking_id: int) -> Booking:
    """The booking ``booking_id`` if ``user`` may see it; ``NotFound`` if missing or hidden.

    Its group places come in the same query (joined), not in a second one.
    """
    query = booking_query_for(db, user).where(Booking.id == booking_id)
    booking = db.scalars(query.options(joinedload(Booking.places))).unique().first()
    if booking is None:
        raise NotFound(entity="booking", entity_id=booking_id)
    return booking


def provider_for_user(db: Session, user: User) -> Provider | None:
    """The provider record a user logs in as, if any."""
    return db.scalars(select(Provider).where(Provider.user_id == user.id)).first()


def dispatcher_can_manage_provider(db: Session, user: User, provider: Provider) -> bool:
    """Whether ``user`` dispatches ``provider``: a dispatcher of its service, or an admin.

    Role checks stay with the endpoint (``require_roles``); this answers the
    tenancy question only.
    """
    if user.role == UserRole.ADMIN:
        return True
    return user.role == UserRole.DISPATCHER and provider.organisation_id == user.organisation_id
