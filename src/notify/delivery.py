"""The sending side of the outbox: claim what is due, send it, record the outcome.

Every message goes ``pending -> sending -> sent``. Claiming is one short
transaction that sets ``sending`` with a lease (``lease_until``) and counts
the attempt; sending happens outside any transaction; the outcome is a
second short transaction. So:

- two workers never take the same row: PostgreSQL claims with ``FOR UPDATE
  SKIP LOCKED``, SQLite with one conditional ``UPDATE`` (a single writer);
- a worker killed mid-send leaves the row ``sending`` until its lease
  expires, then another worker takes it again: late, never lost;
- a send ends (delivered or failed) by a deadline counted from the claim
  (``TRUCHEMENT_SMTP_DEADLINE_SECONDS``, ``TRUCHEMENT_SMS_DEADLINE_SECONDS``),
  at most half the lease, however slowly the server answers each step: so
  no other worker takes the row while this one may still be sending;
- a worker that outlived its lease all the same (a process paused, a database
  too slow to take the outcome) cannot overwrite the row another worker took
  over: the outcome is written only if ``attempts`` is still the one it
  claimed (a fencing token), and the send is counted as ``lost``, not ``sent``.

A deadline that passes after the server stored the message (or a reply lost
on the way back) makes a second copy on the next attempt: the same
``Message-ID``, the same SMS idempotency key, so it can be recognised
downstream. The other choice, never resending an attempt whose outcome is
unknown, would lose every message whose connection dropped before it arrived.

A failure waits (exponential backoff with jitter) in ``failed`` and is tried
again, up to ``max_attempts``; then the row is ``dead`` with its last error,
visible to dispatchers, who can retry it.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from jinja2 import TemplateError
from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from booking.db import rows_matched, session_scope
from booking.outbox.models import OutboxMessage
from booking.outbox.timing import sms_not_before
from booking.types import ensure_aware, utc_now
from booking.vocabulary import UNSENT_OUTBOX_STATUSES, Channel, OutboxStatus
from notify.channels import (
    Channels,
    DeliveryError,
    OutgoingEmail,
    PermanentDeliveryError,
    message_id_for,
    sms_reference,
)
from notify.deadline import Deadline, DeadlinePassed, ensure_time_left, within
from notify.render import render_email, render_sms
from notify.settings import NotifySettings, get_notify_settings
from notify.timing import backoff_delay

log = logging.getLogger("truchement.notify")

ERROR_MAX_LENGTH = 1000

_table = cast(Table, OutboxMessage.__table__)
_c = _table.c


class ChannelDisabled(Exception):
    """The deployment sends nothing on this channel (no SMTP, no SMS gateway)."""


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A row this worker holds the lease of; ``attempts`` is the fencing token."""

    id: int
    dedup_key: str
    event: str
    channel: str
    recipient: str
    locale: str
    template: str
    context: Mapping[str, Any]
    booking_id: int | None
    attempts: int
    max_attempts: int


@dataclass(slots=True)
class DeliveryReport:
    """What one run did, by outcome, with the ids (for logs and tests)."""

    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    voided: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return sum(
            len(ids)
            for ids in (
                self.sent,
                self.failed,
                self.dead,
                self.deferred,
                self.voided,
                self.lost,
            )
        )

    def merge(self, other: DeliveryReport) -> None:
        for name in ("sent", "failed", "dead", "deferred", "voided", "lost"):
            getattr(self, name).extend(getattr(other, name))

    def __str__(self) -> str:
        return (
            f"sent {len(self.sent)}, failed {len(self.failed)}, dead {len(self.dead)}, "
            f"deferred {len(self.deferred)}, voided {len(self.voided)}, lost {len(self.lost)}"
        )


def _due(now: dt.datetime) -> Any:
    """Rows to take now: due and waiting, or ``sending`` under a lease that ran out."""
    return or_(
        and_(
            _c.status.in_(UNSENT_OUTBOX_STATUSES),
            _c.due_at <= now,
        ),
        and_(
            _c.status == OutboxStatus.SENDING.value,
            _c.lease_until <= now,
            _c.attempts < _c.max_attempts,
        ),
    )


def bury_abandoned(session_factory: sessionmaker[Session], *, now: dt.datetime) -> int:
    """``dead`` for rows whose worker vanished during their last allowed attempt."""
    with session_scope(session_factory) as session:
        result = session.execute(
            update(_table)
            .where(
                _c.status == OutboxStatus.SENDING.value,
                _c.lease_until <= now,
                _c.attempts >= _c.max_attempts,
            )
            .values(
                status=OutboxStatus.DEAD.value,
                lease_until=None,
                last_error="the worker stopped during the last attempt (lease expired)",
            )
        )
        return rows_matched(result)


def claim_next(
    session_factory: sessionmaker[Session], *, now: dt.datetime, lease_seconds: int
) -> ClaimedMessage | None:
    """Take the oldest due message under a lease, in its own committed transaction."""
    lease_until = now + dt.timedelta(seconds=lease_seconds)
    with session_scope(session_factory) as session:
        oldest_due = select(_c.id).where(_due(now)).order_by(_c.due_at, _c.id).limit(1)
        if session.get_bind().dialect.name == "postgresql":
            # Rows another worker is claiming are skipped, not waited for.
            target = session.execute(oldest_due.with_for_update(skip_locked=True)).scalar()
            if target is None:
                return None
            condition = _c.id == target
        else:
            # SQLite has one writer at a time: the UPDATE that finds the row is the claim.
            condition = and_(_c.id == oldest_due.scalar_subquery(), _due(now))
        row = (
            session.execute(
                update(_table)
                .where(condition)
                .values(
                    status=OutboxStatus.SENDING.value,
                    lease_until=lease_until,
                    attempts=_c.attempts + 1,
                )
                .returning(*_c)
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return ClaimedMessage(
            id=row["id"],
            dedup_key=row["dedup_key"],
            event=row["event"],
            channel=row["channel"],
            recipient=row["recipient"],
            locale=row["locale"],
            template=row["template"],
            context=row["context"] or {},
            booking_id=row["booking_id"],
            attempts=row["attempts"],
            max_attempts=row["max_attempts"],
        )


def finish(session_factory: sessionmaker[Session], message: ClaimedMessage, **values: Any) -> bool:
    """Write the outcome if this worker still holds the row; ``False`` if it lost it."""
    with session_scope(session_factory) as session:
        result = session.execute(
            update(_table)
            .where(
                _c.id == message.id,
                _c.status == OutboxStatus.SENDING.value,
                _c.attempts == message.attempts,
            )
            .values(**values)
        )
        return rows_matched(result) > 0


def _sms_wait_until(
    message: ClaimedMessage, instant: dt.datetime, settings: NotifySettings
) -> dt.datetime:
    context = message.context
    starts_at = context.get("starts_at")
    return sms_not_before(
        instant,
        timezone=str(context.get("timezone") or "Europe/Brussels"),
        session_start=dt.datetime.fromisoformat(starts_at) if starts_at else None,
        quiet_start=settings.sms_quiet_start,
        quiet_end=settings.sms_quiet_end,
        urgent_within=dt.timedelta(hours=settings.sms_urgent_within_hours),
    )


def send_message(message: ClaimedMessage, channels: Channels) -> None:
    """Render and hand over one message; raises ``DeliveryError`` or ``ChannelDisabled``
    (or ``DeadlinePassed`` when rendering left no time to send within the deadline)."""
    try:
        if message.channel == Channel.EMAIL:
            if channels.email is None:
                raise ChannelDisabled("email is switched off (TRUCHEMENT_EMAIL_BACKEND=none)")
            rendered = render_email(
                template=message.template,
                locale=message.locale,
                context=message.context,
                sender=channels.sender,
                recipient=message.recipient,
            )
            email = OutgoingEmail(
                to=message.recipient,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                attachments=rendered.attachments,
                message_id=message_id_for(message.dedup_key, channels.sender),
            )
        elif message.channel == Channel.SMS:
            if channels.sms is None:
                raise ChannelDisabled("SMS is switched off (TRUCHEMENT_SMS_BACKEND=none)")
            sms = render_sms(
                template=message.template, locale=message.locale, context=message.context
            )
            if sms.truncated:
                log.warning("outbox %s: SMS cut to one segment", message.id)
        else:
            raise ChannelDisabled(f"no transport for channel {message.channel!r}")
    except (TemplateError, KeyError, TypeError, ValueError) as exc:
        # A template or context that cannot render will not render next time either.
        raise PermanentDeliveryError(f"cannot render: {type(exc).__name__}: {exc}") from exc
    ensure_time_left()
    if message.channel == Channel.EMAIL:
        assert channels.email is not None
        channels.email.send_email(email)
    else:
        assert channels.sms is not None
        channels.sms.send_sms(
            to=message.recipient,
            body=sms.body,
            reference=sms_reference(message.id, message.dedup_key),
        )


def deliver_due(
    session_factory: sessionmaker[Session],
    *,
    channels: Channels,
    now: dt.datetime | None = None,
    settings: NotifySettings | None = None,
    limit: int | None = None,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Send what is due, one message at a time, up to ``limit`` (default: the batch size).

    ``now`` fixes the clock for the whole run (tests, ``--now``); without it,
    each message reads the real clock. Safe to run in several processes at once.
    """
    settings = settings or get_notify_settings()
    limit = limit if limit is not None else settings.outbox_batch_size
    report = DeliveryReport()

    def clock() -> dt.datetime:
        return ensure_aware(now) if now is not None else utc_now()

    bury_abandoned(session_factory, now=clock())
    for _ in range(limit):
        instant = clock()
        # The deadline starts with the lease, before the claim's own transaction.
        claimed_at = time.monotonic()
        message = claim_next(
            session_factory, now=instant, lease_seconds=settings.outbox_lease_seconds
        )
        if message is None:
            break
        deadline = Deadline.starting(settings.deadline_seconds(message.channel), at=claimed_at)
        _deliver_one(session_factory, message, channels, settings, report, rng, clock, deadline)
    return report


def _deliver_one(
    session_factory: sessionmaker[Session],
    message: ClaimedMessage,
    channels: Channels,
    settings: NotifySettings,
    report: DeliveryReport,
    rng: random.Random | None,
    clock: Any,
    deadline: Deadline,
) -> None:
    instant: dt.datetime = clock()
    if message.channel == Channel.SMS:
        wait_until = _sms_wait_until(message, instant, settings)
        if wait_until > instant:
            # Quiet hours: not an attempt, just later.
            kept = finish(
                session_factory,
                message,
                status=OutboxStatus.PENDING.value,
                due_at=wait_until,
                lease_until=None,
                attempts=message.attempts - 1,
            )
            (report.deferred if kept else report.lost).append(message.id)
            return
    try:
        with within(deadline):
            send_message(message, channels)
    except ChannelDisabled as exc:
        kept = finish(
            session_factory,
            message,
            status=OutboxStatus.VOID.value,
            lease_until=None,
            last_error=str(exc),
        )
        (report.voided if kept else report.lost).append(message.id)
        return
    except (DeliveryError, DeadlinePassed) as exc:
        _record_failure(session_factory, message, exc, settings, report, rng, clock())
        return
    except Exception as exc:  # a bug in a transport must not stop the other messages
        log.exception("outbox %s: unexpected error while sending", message.id)
        _record_failure(session_factory, message, exc, settings, report, rng, clock())
        return
    if deadline.passed():
        # A transport that ignores the deadline (a gateway of one's own) says so here.
        log.warning(
            "outbox %s: the %s transport returned %.1f s after the deadline",
            message.id,
            message.channel,
            -deadline.remaining(),
        )
    kept = finish(
        session_factory,
        message,
        status=OutboxStatus.SENT.value,
        sent_at=clock(),
        lease_until=None,
    )
    if kept:
        report.sent.append(message.id)
        log.info("outbox %s: %s %s sent", message.id, message.event, message.channel)
    else:
        report.lost.append(message.id)
        log.warning("outbox %s: sent after its lease ran out", message.id)


def _record_failure(
    session_factory: sessionmaker[Session],
    message: ClaimedMessage,
    error: Exception,
    settings: NotifySettings,
    report: DeliveryReport,
    rng: random.Random | None,
    instant: dt.datetime,
) -> None:
    text = f"{type(error).__name__}: {error}"[:ERROR_MAX_LENGTH]
    permanent = isinstance(error, DeliveryError) and error.permanent
    if permanent or message.attempts >= message.max_attempts:
        kept = finish(
            session_factory,
            message,
            status=OutboxStatus.DEAD.value,
            lease_until=None,
            last_error=text,
        )
        (report.dead if kept else report.lost).append(message.id)
        log.error("outbox %s: dead after %s attempt(s): %s", message.id, message.attempts, text)
        return
    next_due = instant + backoff_delay(
        message.attempts,
        base_seconds=settings.outbox_backoff_base_seconds,
        max_seconds=settings.outbox_backoff_max_seconds,
        rng=rng,
    )
    if message.channel == Channel.SMS:
        next_due = _sms_wait_until(message, next_due, settings)
    kept = finish(
        session_factory,
        message,
        status=OutboxStatus.FAILED.value,
        due_at=next_due,
        lease_until=None,
        last_error=text,
    )
    (report.failed if kept else report.lost).append(message.id)
    log.warning(
        "outbox %s: attempt %s failed, next at %s: %s",
        message.id,
        message.attempts,
        next_due.isoformat(),
        text,
    )
