"""Subject requests: everything held under one beneficiary reference, or about one provider.

A beneficiary is known here only by the pseudonymous reference their
organisation gave them, so a request names the organisation and the
reference. ``beneficiary_export`` gathers every booking under it with its
preferences, assignments, notifications, audit trail and read log;
``erase_beneficiary`` anonymises those bookings exactly as the retention run
does (``retention.erase_booking``): the reference, notes, free text and
preferences go, the bookings stay, so statistics and the providers' records
remain true. ``provider_export`` is a provider's own data.

Every call is audited. The audit rows name the bookings, never the
reference: the trail of an erasure must not keep what it erased.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, or_, select, update
from sqlalchemy.orm import Session

from booking.assignments.models import Assignment
from booking.audit import AuditLog, record_audit
from booking.bookings.models import Booking, BookingProviderPreference
from booking.db import Base
from booking.errors import NotFound
from booking.organisations.models import Organisation
from booking.outbox.models import OutboxMessage
from booking.privacy.models import ReadLog, ReadSubject
from booking.privacy.retention import CLOSED_STATUSES, erase_booking
from booking.providers.models import (
    AvailabilityException,
    AvailabilityRule,
    Provider,
    ProviderLanguage,
)
from booking.types import to_jsonable, utc_now
from booking.users.models import User

PROVIDER_SECRETS = frozenset({"calendar_token_hash"})
"""Columns never exported: a hash of a credential is nobody's personal data to download."""


def _columns(row: Base, *, leave_out: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every column of ``row`` as JSON-able values."""
    mapper = inspect(row).mapper
    return {
        attr.key: to_jsonable(getattr(row, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in leave_out
    }


def _trail(db: Session, conditions: list[Any]) -> list[dict[str, Any]]:
    rows = db.scalars(select(AuditLog).where(or_(*conditions)).order_by(AuditLog.at, AuditLog.id))
    return [
        {
            "at": to_jsonable(row.at),
            "action": row.action,
            "entity_type": row.entity_type,
            "entity_id": row.entity_id,
            "actor_user_id": row.actor_user_id,
            "changes": row.changes,
        }
        for row in rows
    ]


def _reads(db: Session, subject_type: ReadSubject, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = db.scalars(
        select(ReadLog)
        .where(ReadLog.subject_type == subject_type, ReadLog.subject_id.in_(ids))
        .order_by(ReadLog.id)
    )
    return [_columns(row, leave_out=frozenset({"id"})) for row in rows]


def _organisation(db: Session, organisation_id: int) -> Organisation:
    organisation = db.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(entity="organisation", entity_id=organisation_id)
    return organisation


def bookings_of_beneficiary(db: Session, organisation_id: int, reference: str) -> list[Booking]:
    """The organisation's bookings under ``reference``; 404 when there are none."""
    _organisation(db, organisation_id)
    bookings = list(
        db.scalars(
            select(Booking)
            .where(Booking.organisation_id == organisation_id, Booking.beneficiary_ref == reference)
            .order_by(Booking.starts_at, Booking.id)
        )
    )
    if not bookings:
        raise NotFound(
            "No booking of this organisation holds this beneficiary reference.",
            code="unknown_beneficiary",
        )
    return bookings


def _booking_record(db: Session, booking: Booking) -> dict[str, Any]:
    preferences = db.scalars(
        select(BookingProviderPreference).where(BookingProviderPreference.booking_id == booking.id)
    )
    assignments = list(
        db.scalars(
            select(Assignment).where(Assignment.booking_id == booking.id).order_by(Assignment.id)
        )
    )
    messages = db.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.booking_id == booking.id)
        .order_by(OutboxMessage.id)
    )
    return {
        "booking": _columns(booking),
        "preferences": [{"provider_id": p.provider_id, "kind": p.kind} for p in preferences],
        "assignments": [
            {
                "id": a.id,
                "provider_id": a.provider_id,
                "status": a.status,
                "starts_at": to_jsonable(a.starts_at),
                "ends_at": to_jsonable(a.ends_at),
            }
            for a in assignments
        ],
        # Who was told what and when; the addresses are the recipients', not the beneficiary's.
        "notifications": [
            {
                "event": m.event,
                "channel": m.channel,
                "status": m.status,
                "created_at": to_jsonable(m.created_at),
                "sent_at": to_jsonable(m.sent_at),
            }
            for m in messages
        ],
        "audit_trail": _trail(
            db,
            [
                (AuditLog.entity_type == "booking") & (AuditLog.entity_id == str(booking.id)),
                (AuditLog.entity_type == "assignment")
                & AuditLog.entity_id.in_([str(a.id) for a in assignments]),
            ],
        ),
    }


def beneficiary_export(
    db: Session, *, actor: User | None, organisation_id: int, reference: str
) -> dict[str, Any]:
    """Everything held under ``reference`` in ``organisation_id``, as one JSON document."""
    bookings = bookings_of_beneficiary(db, organisation_id, reference)
    organisation = _organisation(db, organisation_id)
    document = {
        "kind": "beneficiary",
        "exported_at": to_jsonable(utc_now()),
        "organisation": {"id": organisation.id, "name": organisation.name},
        "beneficiary_ref": reference,
        "bookings": [_booking_record(db, booking) for booking in bookings],
        "read_log": _reads(db, ReadSubject.BOOKING, [b.id for b in bookings]),
    }
    record_audit(
        db,
        actor=actor,
        action="privacy.beneficiary_exported",
        entity=organisation,
        changes={"bookings": [b.id for b in bookings]},
        organisation_id=organisation_id,
    )
    return document


def erase_beneficiary(
    db: Session, *, actor: User | None, organisation_id: int, reference: str
) -> list[int]:
    """Anonymise every booking under ``reference`` (never delete); the ids erased.

    Their closed notifications lose their body as well; messages still to be
    sent keep theirs (they never carry beneficiary data).
    """
    bookings = bookings_of_beneficiary(db, organisation_id, reference)
    for booking in bookings:
        erased = erase_booking(db, booking)
        record_audit(
            db,
            actor=actor,
            action="booking.subject_erased",
            entity=booking,
            changes={"erased": list(erased)},
        )
    ids = [b.id for b in bookings]
    db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.booking_id.in_(ids), OutboxMessage.status.in_(CLOSED_STATUSES))
        .values(context={}),
        execution_options={"synchronize_session": False},
    )
    record_audit(
        db,
        actor=actor,
        action="privacy.beneficiary_erased",
        entity=_organisation(db, organisation_id),
        changes={"bookings": ids},
        organisation_id=organisation_id,
    )
    db.flush()
    return ids


def provider_export(db: Session, *, actor: User | None, provider: Provider) -> dict[str, Any]:
    """A provider's own data: their record, languages, availability, work, messages, trail,
    and who read their personal data."""
    assignments = list(
        db.execute(
            select(Assignment, Booking)
            .join(Booking, Booking.id == Assignment.booking_id)
            .where(Assignment.provider_id == provider.id)
            .order_by(Assignment.starts_at, Assignment.id)
        )
    )
    recipients: list[Any] = [OutboxMessage.recipient_provider_id == provider.id]
    if provider.user_id is not None:
        recipients.append(OutboxMessage.recipient_user_id == provider.user_id)
    messages = db.scalars(select(OutboxMessage).where(or_(*recipients)).order_by(OutboxMessage.id))
    conditions: list[Any] = [
        (AuditLog.entity_type == "provider") & (AuditLog.entity_id == str(provider.id)),
        (AuditLog.entity_type == "assignment")
        & AuditLog.entity_id.in_([str(a.id) for a, _ in assignments]),
    ]
    if provider.user_id is not None:
        conditions.append(AuditLog.actor_user_id == provider.user_id)
    document = {
        "kind": "provider",
        "exported_at": to_jsonable(utc_now()),
        "provider": _columns(provider, leave_out=PROVIDER_SECRETS),
        "languages": [
            _columns(row, leave_out=frozenset({"id", "provider_id"}))
            for row in db.scalars(
                select(ProviderLanguage).where(ProviderLanguage.provider_id == provider.id)
            )
        ],
        "availability": [
            _columns(row, leave_out=frozenset({"provider_id"}))
            for row in db.scalars(
                select(AvailabilityRule).where(AvailabilityRule.provider_id == provider.id)
            )
        ],
        "availability_exceptions": [
            _columns(row, leave_out=frozenset({"provider_id"}))
            for row in db.scalars(
                select(AvailabilityException).where(
                    AvailabilityException.provider_id == provider.id
                )
            )
        ],
        # Their work, in the provider's view: never the beneficiary's reference or the notes.
        "work": [
            {
                "assignment_id": a.id,
                "status": a.status,
                "starts_at": to_jsonable(a.starts_at),
                "ends_at": to_jsonable(a.ends_at),
                "booking_reference": b.reference,
                "language_code": b.language_code,
                "session_kind": b.session_kind,
                "modality": b.modality,
                "organisation_id": b.organisation_id,
                "confirmed_by_phone": a.confirmed_by_phone,
            }
            for a, b in assignments
        ],
        "notifications": [
            {
                "event": m.event,
                "channel": m.channel,
                "recipient": m.recipient,
                "status": m.status,
                "created_at": to_jsonable(m.created_at),
                "sent_at": to_jsonable(m.sent_at),
            }
            for m in messages
        ],
        "audit_trail": _trail(db, conditions),
        "read_log": _reads(db, ReadSubject.PROVIDER, [provider.id])
        + _reads(db, ReadSubject.CALENDAR_FEED, [provider.id]),
    }
    record_audit(
        db,
        actor=actor,
        action="privacy.provider_exported",
        entity=provider,
        changes={},
    )
    return document
