"""Outbox figures for ``/metrics``, read from the database (the worker is another process).

``outbox_metrics(db)`` returns Prometheus sample names (with labels) and values:

- ``truchement_outbox_messages{status="..."}``: rows per status, every status listed;
- ``truchement_outbox_messages_by_channel{channel="...",status="..."}``: the same per channel;
- ``truchement_outbox_oldest_due_seconds``: how late the oldest due, unsent message is
  (0 when nothing is waiting): the alert that the worker is not running;
- ``truchement_outbox_attempts_total``: attempts made on all rows (retries included).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from booking.outbox.models import OutboxMessage
from booking.types import utc_now
from booking.vocabulary import UNSENT_OUTBOX_STATUSES, Channel, OutboxStatus


def outbox_metrics(
    db: Session,
    *,
    now: dt.datetime | None = None,
    visible: ColumnElement[bool] | None = None,
) -> dict[str, float]:
    """Name -> value of the outbox gauges and counters (see the module docstring).

    ``visible`` keeps the messages a caller may count (``booking.access.
    outbox_condition_for``); ``None`` counts them all.
    """
    now = now or utc_now()
    scope = visible if visible is not None else true()
    values: dict[str, float] = {}
    for status in OutboxStatus:
        values[f'truchement_outbox_messages{{status="{status.value}"}}'] = 0.0
    for channel in (Channel.EMAIL, Channel.SMS):
        for status in OutboxStatus:
            name = (
                f'truchement_outbox_messages_by_channel{{channel="{channel.value}",'
                f'status="{status.value}"}}'
            )
            values[name] = 0.0
    rows = db.execute(
        select(OutboxMessage.channel, OutboxMessage.status, func.count(OutboxMessage.id))
        .where(scope)
        .group_by(OutboxMessage.channel, OutboxMessage.status)
    )
    for channel_name, status_name, count in rows:
        values[f'truchement_outbox_messages{{status="{status_name}"}}'] += float(count)
        name = (
            f'truchement_outbox_messages_by_channel{{channel="{channel_name}",'
            f'status="{status_name}"}}'
        )
        values[name] = values.get(name, 0.0) + float(count)
    oldest = db.scalar(
        select(func.min(OutboxMessage.due_at)).where(
            OutboxMessage.status.in_(UNSENT_OUTBOX_STATUSES),
            OutboxMessage.due_at <= now,
            scope,
        )
    )
    values["truchement_outbox_oldest_due_seconds"] = (
        max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    )
    values["truchement_outbox_attempts_total"] = float(
        db.scalar(select(func.coalesce(func.sum(OutboxMessage.attempts), 0)).where(scope)) or 0
    )
    return values
