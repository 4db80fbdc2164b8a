"""Outbox figures for /metrics, counted in the database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from notify.metrics import outbox_metrics
from tests.factories import make_outbox_message

NOW = dt.datetime(2031, 3, 8, 9, 0, tzinfo=dt.UTC)


def test_messages_are_counted_by_status_and_channel_with_the_backlog_age(db: Session) -> None:
    before = outbox_metrics(db, now=NOW)
    make_outbox_message(db, status="pending", due_at=NOW - dt.timedelta(minutes=10))
    make_outbox_message(db, status="pending", due_at=NOW + dt.timedelta(hours=1))
    make_outbox_message(db, status="dead", attempts=6, channel="sms", recipient="+32470123456")
    make_outbox_message(db, status="sent", attempts=2)
    after = outbox_metrics(db, now=NOW)

    def grew(name: str) -> float:
        return after[name] - before[name]

    assert grew('truchement_outbox_messages{status="pending"}') == 2
    assert grew('truchement_outbox_messages{status="dead"}') == 1
    assert grew('truchement_outbox_messages{status="void"}') == 0
    assert grew('truchement_outbox_messages_by_channel{channel="sms",status="dead"}') == 1
    assert grew("truchement_outbox_attempts_total") == 8
    assert after["truchement_outbox_oldest_due_seconds"] >= 600


def test_an_empty_backlog_is_zero_seconds_old(db: Session) -> None:
    make_outbox_message(db, status="pending", due_at=NOW + dt.timedelta(hours=1))
    assert (
        outbox_metrics(db, now=NOW - dt.timedelta(days=3650))[
            "truchement_outbox_oldest_due_seconds"
        ]
        == 0
    )
