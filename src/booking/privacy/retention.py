"""Retention: what past sessions, old notifications and old read logs lose, and when.

A session's beneficiary reference and free text are kept for its
organisation's retention period after it started (``RetentionPolicy``, 12
months by default), then erased: the reference, the notes, the cancellation
reason, the address, the people the beneficiary wanted or refused, and the
same values in the booking's audit trail. What statistics and the providers'
records need stays: language, kind, modality, dates, minutes, status, the
organisation, who did the work, and the place to about a kilometre (two
decimals of latitude and longitude). The booking is never deleted.

Closed notifications (sent, dead or void) lose their body (the template's
context) 90 days after they were sent or written, and the read log forgets
rows older than 12 months.

``retention_plan`` says what a run would erase (the dry run);
``apply_retention`` erases it and audits every erased booking and the run.
Both take ``now``: the clock is the caller's, so tests freeze it.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, cast, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from booking.assignments.models import Assignment
from booking.audit import AuditLog, record_audit
from booking.bookings.models import Booking, BookingProviderPreference
from booking.errors import FieldError, NotFound, Unprocessable
from booking.organisations.models import Organisation
from booking.outbox.models import OutboxMessage
from booking.privacy.models import (
    DEFAULT_RETENTION_MONTHS,
    MAX_RETENTION_MONTHS,
    ReadLog,
    RetentionPolicy,
)
from booking.users.models import User
from booking.vocabulary import OutboxStatus

NOTIFICATION_BODY_DAYS = 90
"""Closed notifications keep their body this long after they were sent (or written)."""
READ_LOG_MONTHS = 12
"""The read log keeps a row this long."""
COORDINATE_DECIMALS = 2
"""Places of erased sessions are kept to two decimals (about 1 km): travel stays countable."""
ERASED = "[erased]"
"""What an erased value reads as in the audit trail."""

BOOKING_FIELDS = ("beneficiary_ref", "notes", "cancel_reason", "address")
"""The booking's columns that hold beneficiary data or free text, erased to NULL."""
AUDIT_KEYS = frozenset(
    {
        *BOOKING_FIELDS,
        "reason",
        "location_lat",
        "location_lon",
        "preferred_provider_ids",
        "excluded_provider_ids",
    }
)
"""Keys of the audit trail's ``changes`` whose values are erased with the booking's."""
CLOSED_STATUSES = (OutboxStatus.SENT, OutboxStatus.DEAD, OutboxStatus.VOID)


def months_before(instant: dt.datetime, months: int) -> dt.datetime:
    """The same wall-clock instant ``months`` calendar months earlier (31 March - 1 = 28 Feb)."""
    index = instant.year * 12 + instant.month - 1 - months
    year, month = divmod(index, 12)
    day = min(instant.day, calendar.monthrange(year, month + 1)[1])
    return instant.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True, slots=True)
class ErasableBooking:
    """One past session whose beneficiary data is due for erasure."""

    id: int
    reference: str
    organisation_id: int
    starts_at: dt.datetime
    fields: tuple[str, ...]


@dataclass(slots=True)
class RetentionPlan:
    """What a run erases (or, in a dry run, would erase)."""

    now: dt.datetime
    bookings: list[ErasableBooking] = field(default_factory=list)
    notification_ids: list[int] = field(default_factory=list)
    read_log_rows: int = 0
    skipped: bool = False
    """Another run was erasing at the same time: this one left it to that one."""

    def summary(self) -> dict[str, int]:
        return {
            "bookings": len(self.bookings),
            "notifications": len(self.notification_ids),
            "read_log_rows": self.read_log_rows,
        }


def retention_months(db: Session) -> dict[int, int]:
    """``{organisation id: months}`` for the organisations that set their own period."""
    return {row.organisation_id: row.months for row in db.scalars(select(RetentionPolicy))}


def retention_months_of(db: Session, organisation_id: int) -> int:
    policy = db.get(RetentionPolicy, organisation_id)
    return policy.months if policy is not None else DEFAULT_RETENTION_MONTHS


def _has_preferences() -> Any:
    return exists().where(BookingProviderPreference.booking_id == Booking.id)


def _erasable_fields(booking: Booking, has_preferences: bool) -> tuple[str, ...]:
    names = [name for name in BOOKING_FIELDS if getattr(booking, name) is not None]
    if has_preferences:
        names.append("preferences")
    return tuple(names)


def _due_bookings(db: Session, *, now: dt.datetime) -> list[tuple[Booking, bool]]:
    """Past bookings of every organisation, beyond its period, that still hold something."""
    months = retention_months(db)
    organisations = db.scalars(select(Booking.organisation_id).distinct()).all()
    due: list[tuple[Booking, bool]] = []
    for organisation_id in sorted(organisations):
        cutoff = months_before(now, months.get(organisation_id, DEFAULT_RETENTION_MONTHS))
        query = (
            select(Booking, _has_preferences().label("has_preferences"))
            .where(
                Booking.organisation_id == organisation_id,
                Booking.starts_at < cutoff,
                or_(
                    *(getattr(Booking, name).is_not(None) for name in BOOKING_FIELDS),
                    _has_preferences(),
                ),
            )
            .order_by(Booking.starts_at, Booking.id)
        )
        due.extend((booking, bool(flag)) for booking, flag in db.execute(query))
    return due


def _closed_notifications(db: Session, *, now: dt.datetime) -> list[int]:
    cutoff = now - dt.timedelta(days=NOTIFICATION_BODY_DAYS)
    return list(
        db.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status.in_(CLOSED_STATUSES),
                func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at) < cutoff,
                cast(OutboxMessage.context, Text) != "{}",
            )
            .order_by(OutboxMessage.id)
        )
    )


def retention_plan(db: Session, *, now: dt.datetime) -> RetentionPlan:
    """What ``apply_retention`` would erase at ``now``; changes nothing (the dry run)."""
    plan = RetentionPlan(now=now)
    plan.bookings = [
        ErasableBooking(
            id=booking.id,
            reference=booking.reference,
            organisation_id=booking.organisation_id,
            starts_at=booking.starts_at,
            fields=_erasable_fields(booking, has_preferences),
        )
        for booking, has_preferences in _due_bookings(db, now=now)
    ]
    plan.notification_ids = _closed_notifications(db, now=now)
    plan.read_log_rows = (
        db.scalar(
            select(func.count())
            .select_from(ReadLog)
            .where(ReadLog.at < months_before(now, READ_LOG_MONTHS))
        )
        or 0
    )
    return plan


def scrub_changes(changes: Mapping[str, Any], keys: Iterable[str] = AUDIT_KEYS) -> dict[str, Any]:
    """``changes`` with the values of ``keys`` replaced by ``"[erased]"`` (``None`` stays)."""
    wanted = frozenset(keys)

    def erase(value: Any) -> Any:
        if isinstance(value, list):
            return [None if item is None else ERASED for item in value]
        return None if value is None else ERASED

    return {key: erase(value) if key in wanted else value for key, value in changes.items()}


def scrub_booking_trail(db: Session, booking_id: int) -> int:
    """Erase the beneficiary data from the audit rows of a booking and its assignments."""
    assignment_ids = [
        str(i) for i in db.scalars(select(Assignment.id).where(Assignment.booking_id == booking_id))
    ]
    rows = db.scalars(
        select(AuditLog).where(
            or_(
                (AuditLog.entity_type == "booking") & (AuditLog.entity_id == str(booking_id)),
                (AuditLog.entity_type == "assignment") & AuditLog.entity_id.in_(assignment_ids),
            )
        )
    )
    scrubbed = 0
    for row in rows:
        changes = dict(row.changes or {})
        clean = scrub_changes(changes)
        if clean != changes:
            row.changes = clean
            scrubbed += 1
    return scrubbed


def erase_booking(db: Session, booking: Booking) -> tuple[str, ...]:
    """Erase one booking's beneficiary data and free text, and the same in its trail.

    Returns the names of what was erased; the caller audits it. The booking
    keeps everything statistics and the providers' records need.
    """
    has_preferences = bool(
        db.scalar(
            select(func.count())
            .select_from(BookingProviderPreference)
            .where(BookingProviderPreference.booking_id == booking.id)
        )
    )
    erased = _erasable_fields(booking, has_preferences)
    for name in BOOKING_FIELDS:
        setattr(booking, name, None)
    if booking.location_lat is not None and booking.location_lon is not None:
        booking.location_lat = round(booking.location_lat, COORDINATE_DECIMALS)
        booking.location_lon = round(booking.location_lon, COORDINATE_DECIMALS)
    if has_preferences:
        db.execute(
            delete(BookingProviderPreference).where(
                BookingProviderPreference.booking_id == booking.id
            )
        )
    db.flush()
    scrub_booking_trail(db, booking.id)
    return erased


RUN_LOCK_KEY = 0x7472_7563_1801
"""PostgreSQL advisory lock of the run: two workers' nightly jobs never erase side by side."""


def _run_lock(db: Session) -> bool:
    """Take the run's lock until the transaction ends (PostgreSQL); ``False`` if another has it.

    SQLite serialises writers by itself, and one process writes it.
    """
    if db.get_bind().dialect.name != "postgresql":
        return True
    return bool(db.scalar(select(func.pg_try_advisory_xact_lock(RUN_LOCK_KEY))))


def apply_retention(db: Session, *, now: dt.datetime) -> RetentionPlan:
    """Erase what ``retention_plan`` lists; audited per booking and once for the run.

    When another run holds the lock (a second worker at the same minute), this
    one does nothing and says so (``skipped``). Flushes, never commits: the job
    that calls it owns the transaction, and the lock lasts as long as it.
    """
    plan = RetentionPlan(now=now)
    if not _run_lock(db):
        plan.skipped = True
        return plan
    for booking, _ in _due_bookings(db, now=now):
        erased = erase_booking(db, booking)
        plan.bookings.append(
            ErasableBooking(
                id=booking.id,
                reference=booking.reference,
                organisation_id=booking.organisation_id,
                starts_at=booking.starts_at,
                fields=erased,
            )
        )
        record_audit(
            db,
            actor=None,
            action="booking.retention_erased",
            entity=booking,
            changes={"erased": list(erased)},
        )
    plan.notification_ids = _closed_notifications(db, now=now)
    if plan.notification_ids:
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(plan.notification_ids))
            .values(context={}),
            execution_options={"synchronize_session": False},
        )
    result = db.execute(
        delete(ReadLog).where(ReadLog.at < months_before(now, READ_LOG_MONTHS)),
        execution_options={"synchronize_session": False},
    )
    plan.read_log_rows = int(getattr(result, "rowcount", 0) or 0)
    db.add(
        AuditLog(
            at=now,
            actor_user_id=None,
            organisation_id=None,
            action="privacy.retention_run",
            entity_type="retention",
            entity_id=now.isoformat(timespec="seconds"),
            changes=plan.summary(),
        )
    )
    db.flush()
    return plan


def set_retention_months(
    db: Session, *, actor: User, organisation_id: int, months: int
) -> RetentionPolicy:
    """Set an organisation's retention period (audited); the next run applies it."""
    if db.get(Organisation, organisation_id) is None:
        raise NotFound(entity="organisation", entity_id=organisation_id)
    if not 1 <= months <= MAX_RETENTION_MONTHS:
        raise Unprocessable(
            f"The retention period is 1 to {MAX_RETENTION_MONTHS} months.",
            errors=[FieldError("months", "Out of range.", "out_of_range")],
        )
    policy = db.get(RetentionPolicy, organisation_id)
    previous = policy.months if policy is not None else DEFAULT_RETENTION_MONTHS
    if policy is None:
        policy = RetentionPolicy(organisation_id=organisation_id, months=months)
        db.add(policy)
    policy.months = months
    db.flush()
    record_audit(
        db,
        actor=actor,
        action="privacy.retention_set",
        entity=policy,
        changes={"months": [previous, months]},
        organisation_id=organisation_id,
    )
    return policy
