"""The enqueue side of the outbox, and the operations dispatchers run on it.

Booking services call ``booking.outbox.events``, which builds the messages and
inserts them here, in the caller's transaction: the message exists if and only
if the change that caused it is committed. Nothing here sends anything; the
worker (``notify.delivery``) does, in its own process.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from sqlalchemy import Select, and_, false, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.audit import record_audit
from booking.bookings.models import Booking
from booking.db import rows_matched
from booking.errors import Conflict, NotFound
from booking.organisations.models import Organisation, ServiceAgreement
from booking.outbox.models import OutboxMessage
from booking.outbox.settings import get_outbox_settings
from booking.outbox.timing import sms_not_before
from booking.phones import mobile_e164
from booking.providers.models import Provider
from booking.types import ensure_aware, to_jsonable, utc_now
from booking.users.models import User
from booking.vocabulary import (
    RETRYABLE_OUTBOX_STATUSES,
    UNSENT_OUTBOX_STATUSES,
    Channel,
    MessageChannels,
    OutboxStatus,
    UserRole,
)


class Whose(TypedDict, total=False):
    """Whose messages, as ``void_unsent`` and ``has_live_message`` take it: one of the two."""

    recipient_user_id: int
    recipient_provider_id: int


GONE_OUT_STATUSES: tuple[OutboxStatus, ...] = (OutboxStatus.SENT, OutboxStatus.SENDING)
"""Messages the recipient has (or is about to have: a worker holds it, past stopping)."""


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person to notify, with what decides how: addresses, language, time zone.

    A provider is written to at their own contact (``provider_id`` set), with
    or without a sign-in (``user_id``); everyone else at their user's.
    """

    user_id: int | None
    role: str
    full_name: str
    email: str | None
    phone: str | None
    locale: str
    timezone: str
    organisation_id: int
    organisation_name: str
    provider_id: int | None = None
    channels: MessageChannels = MessageChannels.BOTH
    signed_in: bool = True
    """Whether they can sign in: links then go to their pages, else to a signed one."""

    @property
    def key(self) -> str:
        """Who, in a deduplication key: ``p12`` for a provider, ``u7`` for anyone else."""
        return f"p{self.provider_id}" if self.provider_id is not None else f"u{self.user_id}"

    @property
    def whose(self) -> Whose:
        """The filter that finds this person's messages (``void_unsent``, ``has_live_message``)."""
        if self.provider_id is not None:
            return {"recipient_provider_id": self.provider_id}
        assert self.user_id is not None
        return {"recipient_user_id": self.user_id}


def recipient_for(db: Session, user_id: int | None) -> Recipient | None:
    """The active user ``user_id`` as a recipient; ``None`` if missing or deactivated."""
    if user_id is None:
        return None
    row = db.execute(
        select(User, Organisation)
        .join(Organisation, Organisation.id == User.organisation_id)
        .where(User.id == user_id)
    ).first()
    if row is None:
        return None
    user, organisation = row
    if not user.is_active:
        return None
    region = organisation.country or get_outbox_settings().sms_default_region
    return Recipient(
        user_id=user.id,
        role=user.role,
        full_name=user.full_name,
        email=user.email,
        phone=mobile_e164(user.phone_e164, default_region=region),
        locale=user.locale,
        timezone=organisation.timezone,
        organisation_id=organisation.id,
        organisation_name=organisation.name,
    )


def recipient_for_provider(db: Session, provider_id: int) -> Recipient | None:
    """The active provider ``provider_id`` at their own contact; ``None`` if missing or inactive.

    A linked login changes only where links lead (their schedule rather than
    a signed page), never where messages go.
    """
    row = db.execute(
        select(Provider, Organisation)
        .join(Organisation, Organisation.id == Provider.organisation_id)
        .where(Provider.id == provider_id)
    ).first()
    if row is None:
        return None
    provider, organisation = row
    if not provider.is_active:
        return None
    signed_in = False
    if provider.user_id is not None:
        signed_in = bool(
            db.scalar(select(User.is_active).where(User.id == provider.user_id)) or False
        )
    region = organisation.country or get_outbox_settings().sms_default_region
    return Recipient(
        user_id=provider.user_id,
        role=UserRole.PROVIDER,
        full_name=provider.display_name,
        email=provider.email,
        phone=mobile_e164(provider.phone_e164, default_region=region),
        locale=provider.locale,
        timezone=organisation.timezone,
        organisation_id=organisation.id,
        organisation_name=organisation.name,
        provider_id=provider.id,
        channels=MessageChannels(provider.message_channels),
        signed_in=signed_in,
    )


def provider_channels(person: Recipient, *, has_sms: bool) -> tuple[Channel, ...]:
    """The channels a message to ``person`` goes by: their preference, where it can be met.

    ``has_sms``: the message has an SMS form (offers, confirmations, changes,
    cancellations, reminders). When nothing they chose can reach them (no
    address for it, no SMS gateway, no SMS form), the message takes whatever
    channel does: a preference never leaves a provider uninformed.
    """
    can_email = person.email is not None
    can_sms = has_sms and person.phone is not None and get_outbox_settings().sms_backend != "none"
    chosen: list[Channel] = []
    if can_email and person.channels in (MessageChannels.BOTH, MessageChannels.EMAIL):
        chosen.append(Channel.EMAIL)
    if can_sms and person.channels in (MessageChannels.BOTH, MessageChannels.SMS):
        chosen.append(Channel.SMS)
    if not chosen:
        chosen = [Channel.EMAIL] if can_email else [Channel.SMS] if can_sms else []
    return tuple(chosen)


def dispatchers_serving(db: Session, requesting_org_id: int) -> list[int]:
    """Ids of the active dispatchers of every providing service that serves an organisation."""
    providing = select(ServiceAgreement.providing_org_id).where(
        ServiceAgreement.requesting_org_id == requesting_org_id
    )
    return list(
        db.scalars(
            select(User.id)
            .where(
                User.role == UserRole.DISPATCHER,
                User.is_active.is_(True),
                User.organisation_id.in_(providing),
            )
            .order_by(User.id)
        )
    )


def dedup_key(event: str, *parts: object) -> str:
    """``event:part:part...`` with instants in ISO 8601 UTC, e.g.
    ``assignment_confirmed:a42:u7:email:2026-12-01T09:00:00+00:00``."""
    rendered = [event]
    for part in parts:
        if isinstance(part, dt.datetime):
            rendered.append(ensure_aware(part).astimezone(dt.UTC).isoformat())
        else:
            rendered.append(str(part))
    return ":".join(rendered)


def enqueue(
    db: Session,
    *,
    key: str,
    event: str,
    template: str,
    channel: Channel,
    recipient: Recipient,
    context: dict[str, Any],
    due_at: dt.datetime,
    booking_id: int | None = None,
    session_start: dt.datetime | None = None,
) -> bool:
    """Insert one message unless its ``key`` is already there; ``True`` if it was inserted.

    An existing key is skipped, not an error, and leaves the caller's
    transaction intact (``ON CONFLICT DO NOTHING``). SMS go to the recipient's
    E.164 number and wait for the morning when due in the quiet hours (see
    ``booking.outbox.timing.sms_not_before``); a channel the recipient cannot receive,
    or SMS while no gateway is configured, inserts nothing.
    """
    settings = get_outbox_settings()
    ensure_aware(due_at)
    if channel == Channel.SMS:
        if recipient.phone is None or settings.sms_backend == "none":
            return False
        address = recipient.phone
        due_at = sms_not_before(
            due_at,
            timezone=recipient.timezone,
            session_start=session_start,
            quiet_start=settings.sms_quiet_start,
            quiet_end=settings.sms_quiet_end,
            urgent_within=dt.timedelta(hours=settings.sms_urgent_within_hours),
        )
    else:
        if recipient.email is None:
            return False
        address = recipient.email
    values = {
        "dedup_key": key,
        "event": event,
        "channel": str(channel),
        "recipient": address,
        "recipient_user_id": recipient.user_id,
        "recipient_provider_id": recipient.provider_id,
        "locale": recipient.locale,
        "template": template,
        "context": to_jsonable(context),
        "booking_id": booking_id,
        "due_at": due_at,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "max_attempts": settings.outbox_max_attempts,
        "created_at": utc_now(),
    }
    # Rows waiting in the session (the booking this message is about) go first.
    db.flush()
    dialect = db.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(OutboxMessage)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(OutboxMessage.id)
        )
        return db.execute(statement).first() is not None
    try:  # pragma: no cover - other databases: a SAVEPOINT keeps the outer transaction
        with db.begin_nested():
            db.add(OutboxMessage(**values))
        return True
    except IntegrityError:  # pragma: no cover
        return False


def void_unsent(
    db: Session,
    *,
    booking_id: int,
    reason: str,
    events: Iterable[str] | None = None,
    event_prefixes: Iterable[str] = (),
    recipient_user_id: int | None = None,
    recipient_provider_id: int | None = None,
) -> int:
    """Mark the booking's messages that have not gone out as ``void``; returns how many.

    ``events`` (exact names) and ``event_prefixes`` narrow it; with neither,
    every unsent message of the booking is voided; ``recipient_user_id`` or
    ``recipient_provider_id`` keeps it to one person's. A message a worker
    is sending right now (``sending``) is past stopping.
    """
    conditions = [
        OutboxMessage.booking_id == booking_id,
        OutboxMessage.status.in_(UNSENT_OUTBOX_STATUSES),
    ]
    names = list(events or [])
    prefixes = list(event_prefixes)
    if names or prefixes:
        conditions.append(
            or_(
                OutboxMessage.event.in_(names) if names else false(),
                *(OutboxMessage.event.startswith(prefix, autoescape=True) for prefix in prefixes),
            )
        )
    if recipient_user_id is not None:
        conditions.append(OutboxMessage.recipient_user_id == recipient_user_id)
    if recipient_provider_id is not None:
        conditions.append(OutboxMessage.recipient_provider_id == recipient_provider_id)
    db.flush()
    result = db.execute(
        update(OutboxMessage)
        .where(*conditions)
        .values(status=OutboxStatus.VOID.value, last_error=reason, lease_until=None)
        .execution_options(synchronize_session="fetch")
    )
    return rows_matched(result)


def has_live_message(
    db: Session,
    *,
    booking_id: int,
    events: Sequence[str],
    recipient_user_id: int | None = None,
    recipient_provider_id: int | None = None,
) -> bool:
    """Whether a message of one of ``events`` to this user (or provider) may have gone or may
    still go out."""
    if recipient_provider_id is not None:
        whom = OutboxMessage.recipient_provider_id == recipient_provider_id
    else:
        whom = OutboxMessage.recipient_user_id == recipient_user_id
    return (
        db.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.booking_id == booking_id,
                OutboxMessage.event.in_(list(events)),
                whom,
                OutboxMessage.status != OutboxStatus.VOID,
            )
        )
        or 0
    ) > 0


def sent_messages(
    db: Session,
    *,
    booking_id: int,
    recipient_user_id: int | None = None,
    recipient_provider_id: int | None = None,
    events: Sequence[str] | None = None,
) -> list[OutboxMessage]:
    """The booking's messages that reached this person (or are on their way right now).

    The person is a user (``recipient_user_id``) or a provider written to at
    their own contact (``recipient_provider_id``): ``Recipient.whose`` gives either.

    What a later message may refer to: a calendar CANCEL only cancels an
    invitation that went out, a "the offer is closed" only closes an offer
    that was read. Pending, failed, dead and voided messages never arrived.
    """
    query = select(OutboxMessage).where(
        OutboxMessage.booking_id == booking_id,
        OutboxMessage.status.in_(GONE_OUT_STATUSES),
    )
    if recipient_user_id is not None:
        query = query.where(OutboxMessage.recipient_user_id == recipient_user_id)
    if recipient_provider_id is not None:
        query = query.where(OutboxMessage.recipient_provider_id == recipient_provider_id)
    if events is not None:
        query = query.where(OutboxMessage.event.in_(list(events)))
    db.flush()
    return list(db.scalars(query.order_by(OutboxMessage.id)))


def _visible_messages(db: Session, actor: User) -> Select[Any]:
    """Messages an operator may read: all for an admin; for a dispatcher, those about
    bookings of the organisations their service serves that went to people of those
    organisations or of their own service, and those to their own colleagues.

    A booking that two services serve carries messages to both services'
    providers: a dispatcher never reads another service's people's addresses.
    A message whose recipient was erased cannot be placed, so it stays hidden.
    """
    query = select(OutboxMessage)
    if actor.role == UserRole.ADMIN:
        return query
    if actor.role != UserRole.DISPATCHER:
        return query.where(false())
    served = select(ServiceAgreement.requesting_org_id).where(
        ServiceAgreement.providing_org_id == actor.organisation_id
    )
    served_bookings = select(Booking.id).where(Booking.organisation_id.in_(served))
    colleagues = select(User.id).where(User.organisation_id == actor.organisation_id)
    served_people = select(User.id).where(User.organisation_id.in_(served))
    return query.where(
        or_(
            and_(
                OutboxMessage.booking_id.in_(served_bookings),
                or_(
                    OutboxMessage.recipient_user_id.in_(served_people),
                    OutboxMessage.recipient_user_id.in_(colleagues),
                ),
            ),
            and_(
                OutboxMessage.booking_id.is_(None),
                OutboxMessage.recipient_user_id.in_(colleagues),
            ),
        )
    )


def message_query(
    db: Session,
    *,
    actor: User,
    status: OutboxStatus | None = None,
    booking_id: int | None = None,
) -> Select[Any]:
    """A ``SELECT`` of the messages ``actor`` may see (admin: all; dispatcher: those about
    the bookings their service handles sent to the people it serves or to its own people,
    and those to their colleagues; others: none)."""
    query = _visible_messages(db, actor)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if booking_id is not None:
        query = query.where(OutboxMessage.booking_id == booking_id)
    return query


def retry_message(
    db: Session, *, actor: User, message_id: int, now: dt.datetime | None = None
) -> OutboxMessage:
    """Put a ``failed`` or ``dead`` message back in the queue, due now, with fresh attempts.

    ``NotFound`` if the actor may not see it; ``Conflict`` if it is not
    failed or dead (pending, being sent, sent or voided messages are left alone).
    """
    now = now or utc_now()
    message: OutboxMessage | None = db.scalars(
        _visible_messages(db, actor).where(OutboxMessage.id == message_id)
    ).first()
    if message is None:
        raise NotFound(entity="notification", entity_id=message_id)
    if message.status not in RETRYABLE_OUTBOX_STATUSES:
        raise Conflict(
            f"notification {message_id} is {message.status}; only failed or dead ones are retried",
            code="notification_not_retryable",
        )
    previous = message.status
    result = db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status == previous)
        .values(
            status=OutboxStatus.PENDING.value,
            due_at=now,
            max_attempts=message.attempts + get_outbox_settings().outbox_max_attempts,
            lease_until=None,
        )
        .execution_options(synchronize_session="fetch")
    )
    if not rows_matched(result):
        raise Conflict(
            f"notification {message_id} changed while retrying it",
            code="notification_not_retryable",
        )
    db.refresh(message)
    record_audit(
        db,
        actor=actor,
        action="notification.retry",
        entity=message,
        changes={"status": [previous, OutboxStatus.PENDING.value], "due_at": [None, now]},
        organisation_id=actor.organisation_id,
    )
    return message
