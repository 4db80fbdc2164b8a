"""Who sees an assignment, and who may move it: the provider, their dispatchers, an admin.

A dispatcher proposes, offers, confirms and cancels for the providers of
their service; an admin for everyone. A provider answers only their own
offers and work, signed in or through the signed link of one offer
(``booking.providers.links.LinkHolder``), which is audited as such.
"""

from __future__ import annotations

from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session

from booking.access import dispatcher_can_manage_provider, get_visible_booking
from booking.assignments.models import Assignment
from booking.errors import Forbidden, NotFound
from booking.providers.links import LinkHolder
from booking.providers.models import Provider
from booking.users.models import User
from booking.vocabulary import AssignmentStatus, UserRole

Answerer = User | LinkHolder
"""Who may answer an offer: a signed-in user, or the provider through a signed link."""


def assignment_query_for(db: Session, user: User) -> Select[Assignment]:
    """The assignments ``user`` may read: their service's (dispatcher), their own (provider).

    A provider does not see proposals nobody has sent them yet. Requesters
    read the confirmed provider on the booking itself, not here.
    """
    query = select(Assignment)
    match user.role:
        case UserRole.ADMIN:
            return query
        case UserRole.DISPATCHER:
            mine = select(Provider.id).where(Provider.organisation_id == user.organisation_id)
            return query.where(Assignment.provider_id.in_(mine))
        case UserRole.PROVIDER:
            mine = select(Provider.id).where(Provider.user_id == user.id)
            return query.where(
                Assignment.provider_id.in_(mine), Assignment.status != AssignmentStatus.PROPOSED
            )
    return query.where(false())


def get_visible_assignment(db: Session, user: User, assignment_id: int) -> Assignment:
    """The assignment if ``user`` may read it; ``NotFound`` if missing or hidden."""
    found = db.scalars(assignment_query_for(db, user).where(Assignment.id == assignment_id)).first()
    if found is None:
        raise NotFound(entity="assignment", entity_id=assignment_id)
    return found


def _is_own(db: Session, user: Answerer, assignment: Assignment) -> bool:
    if isinstance(user, LinkHolder):
        # A link answers for its own assignment and provider, nothing else.
        return (user.assignment_id, user.provider_id) == (assignment.id, assignment.provider_id)
    provider = db.get_one(Provider, assignment.provider_id)
    return provider.user_id is not None and provider.user_id == user.id


def signed_in_user(actor: Answerer) -> User | None:
    """The user to record as the actor; ``None`` for a signed link (audited as such)."""
    return actor if isinstance(actor, User) else None


def audit_via(actor: Answerer) -> dict[str, object]:
    """What the audit adds about an answer given through a signed link."""
    return {"via": "signed_link"} if isinstance(actor, LinkHolder) else {}


def manages(db: Session, user: Answerer, assignment: Assignment) -> bool:
    if isinstance(user, LinkHolder) or user.role not in (UserRole.DISPATCHER, UserRole.ADMIN):
        return False
    return dispatcher_can_manage_provider(db, user, db.get_one(Provider, assignment.provider_id))


def require_dispatch(db: Session, user: User, assignment: Assignment) -> None:
    if not manages(db, user, assignment):
        raise Forbidden("Only the provider's dispatchers or an admin may do this.")


def require_staffing_right(db: Session, user: User, assignment: Assignment) -> None:
    """What every path that offers or confirms checks, whoever calls it (endpoint or plan).

    The actor dispatches the provider (else ``Forbidden``) and may see the
    booking (else ``NotFound``, as ``GET /bookings/{id}`` answers).
    """
    require_dispatch(db, user, assignment)
    get_visible_booking(db, user, assignment.booking_id)


def require_answer_right(db: Session, user: Answerer, assignment: Assignment) -> None:
    if _is_own(db, user, assignment) or manages(db, user, assignment):
        return
    raise Forbidden("Only the provider themself or their dispatchers may answer.")
