"""The worker against a real SMTP server (aiosmtpd): what arrives, when, and exactly once.

Time is injected (``now=``); nothing sleeps. These tests commit for real
(``committing_session_factory``): the worker claims and records outcomes in
its own transactions, as in production.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from email.message import EmailMessage
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from booking.db import session_scope
from booking.outbox import events
from booking.outbox.models import OutboxMessage
from booking.outbox.service import retry_message
from booking.vocabulary import OutboxStatus
from notify.channels import (
    Channels,
    DeliveryError,
    OutgoingEmail,
    PermanentDeliveryError,
    sms_reference,
)
from notify.delivery import claim_next, deliver_due, finish
from tests.booking.outbox.scene import BRUSSELS, START, Scene, assign, make_scene
from tests.conftest import reconfigure
from tests.factories import make_booking, make_outbox_message, make_user
from tests.notify.conftest import Mailbox, SmsRecorder, SmtpServer
from tests.notify.test_templates import full_context

NOW = START - dt.timedelta(days=3)
UTC = dt.UTC


def rows(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with session_scope(factory) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def confirmed_scene(factory: sessionmaker[Session]) -> tuple[Scene, int]:
    with session_scope(factory) as session:
        scene = make_scene(session)
        assignment = assign(session, scene)
        events.assignment_confirmed(session, assignment=assignment, now=NOW)
        return scene, assignment.id


def calendar_of(message: EmailMessage) -> Calendar:
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return Calendar.from_ical(part.get_payload(decode=True))


def test_the_confirmation_arrives_with_its_invitation_and_the_reminders_at_their_instants(
    committing_session_factory: sessionmaker[Session],
    smtp_channels: Channels,
    mailbox: Mailbox,
    sms_recorder: SmsRecorder,
) -> None:
    factory = committing_session_factory
    scene, assignment_id = confirmed_scene(factory)

    report = deliver_due(factory, channels=smtp_channels, now=NOW)
    assert len(report.sent) == 3
    (to_provider,) = mailbox.to(scene.provider_user.email)
    (to_requester,) = mailbox.to(scene.requester.email)
    assert str(to_provider["Subject"]) == "Bevestigd: Tigrinya, di 11 mrt 10:00"
    assert str(to_requester["Subject"]) == "Confirmé : tigrigna, mar. 11 mars 10:00"
    assert to_provider.get_body(("plain",)) is not None
    assert to_provider.get_body(("html",)) is not None
    calendar = calendar_of(to_provider)
    (event,) = calendar.walk("VEVENT")
    assert calendar["METHOD"] == "REQUEST"
    assert str(event["UID"]) == f"assignment-{assignment_id}@truchement"
    assert event.decoded("DTSTART") == START
    assert str(event["LOCATION"]) == "Rue de la Gare 12, 62128 Croisilles"
    (sms_row,) = [r for r in rows(factory) if r.channel == "sms" and r.status == "sent"]
    assert [(to, reference) for to, _, reference in sms_recorder.sent] == [
        ("+32470123456", sms_reference(sms_row.id, sms_row.dedup_key))
    ]
    assert sms_row.event == "assignment_confirmed"

    day_before = START - dt.timedelta(hours=24)
    assert (
        deliver_due(
            factory, channels=smtp_channels, now=day_before - dt.timedelta(seconds=1)
        ).claimed
        == 0
    )
    assert len(deliver_due(factory, channels=smtp_channels, now=day_before).sent) == 3
    assert mailbox.subjects(scene.requester.email)[-1] == "Rappel : tigrigna, mar. 11 mars 10:00"
    assert "24 h" in mailbox.to(scene.requester.email)[-1].get_body(("plain",)).get_content()

    two_hours_before = START - dt.timedelta(hours=2)
    assert (
        deliver_due(
            factory, channels=smtp_channels, now=two_hours_before - dt.timedelta(minutes=1)
        ).claimed
        == 0
    )
    assert len(deliver_due(factory, channels=smtp_channels, now=two_hours_before).sent) == 3
    assert (
        "over 2 u" in mailbox.to(scene.provider_user.email)[-1].get_body(("plain",)).get_content()
    )
    assert len(mailbox.messages) == 6
    assert len(sms_recorder.sent) == 3
    assert {r.status for r in rows(factory)} == {OutboxStatus.SENT}


def test_nothing_arrives_after_a_cancellation_but_the_cancellation(
    committing_session_factory: sessionmaker[Session],
    smtp_channels: Channels,
    mailbox: Mailbox,
    sms_recorder: SmsRecorder,
) -> None:
    factory = committing_session_factory
    scene, assignment_id = confirmed_scene(factory)
    deliver_due(factory, channels=smtp_channels, now=NOW)
    cancelled_at = NOW + dt.timedelta(hours=1)
    with session_scope(factory) as session:
        booking = session.merge(scene.booking)
        booking.status = "cancelled"
        booking.cancelled_at = cancelled_at
        events.booking_cancelled(session, booking=booking, now=cancelled_at)
    before = len(mailbox.messages)
    deliver_due(factory, channels=smtp_channels, now=cancelled_at)
    cancellations = mailbox.messages[before:]
    assert sorted(str(m["To"]) for m in cancellations) == sorted(
        [scene.requester.email, scene.provider_user.email]
    )
    provider_cancel = next(m for m in cancellations if m["To"] == scene.provider_user.email)
    calendar = calendar_of(provider_cancel)
    (event,) = calendar.walk("VEVENT")
    assert calendar["METHOD"] == "CANCEL"
    assert str(event["UID"]) == f"assignment-{assignment_id}@truchement"
    sms_count = len(sms_recorder.sent)

    for instant in (
        START - dt.timedelta(hours=24),
        START - dt.timedelta(hours=2),
        START + dt.timedelta(days=1),
    ):
        assert deliver_due(factory, channels=smtp_channels, now=instant).claimed == 0
    assert len(mailbox.messages) == before + 2
    assert len(sms_recorder.sent) == sms_count
    assert {r.status for r in rows(factory) if r.event.startswith("reminder")} == {
        OutboxStatus.VOID
    }


class StopsMidRun:
    """An SMTP transport that pulls the plug on the server after ``after`` emails."""

    def __init__(self, inner: Any, server: SmtpServer, after: int) -> None:
        self.inner, self.server, self.after, self.calls = inner, server, after, 0

    def send_email(self, email: OutgoingEmail) -> None:
        if self.calls == self.after:
            self.server.stop()
        self.calls += 1
        self.inner.send_email(email)


def test_an_smtp_outage_mid_run_fails_then_delivers_everything_once_it_is_back(
    committing_session_factory: sessionmaker[Session],
    smtp_channels: Channels,
    smtp_server: SmtpServer,
    mailbox: Mailbox,
) -> None:
    factory = committing_session_factory
    with session_scope(factory) as session:
        requester = make_user(session)
        for day in range(5):
            booking = make_booking(
                session, requester=requester, starts_at=START + dt.timedelta(days=day)
            )
            events.booking_received(session, booking=booking, now=NOW)
    flaky = Channels(
        email=StopsMidRun(smtp_channels.email, smtp_server, after=2),
        sms=None,
        sender=smtp_channels.sender,
    )

    report = deliver_due(factory, channels=flaky, now=NOW)
    assert (len(report.sent), len(report.failed)) == (2, 3)
    failed = [r for r in rows(factory) if r.status == OutboxStatus.FAILED]
    assert len(failed) == 3
    for row in failed:
        assert row.attempts == 1
        assert row.due_at > NOW
        assert row.lease_until is None
        assert "SMTP" in (row.last_error or "")

    assert deliver_due(factory, channels=smtp_channels, now=NOW).claimed == 0  # not due yet
    smtp_server.start()
    later = NOW + dt.timedelta(minutes=5)
    assert len(deliver_due(factory, channels=smtp_channels, now=later).sent) == 3

    assert {r.status for r in rows(factory)} == {OutboxStatus.SENT}
    ids = Counter(str(m["Message-ID"]) for m in mailbox.messages)
    assert len(ids) == 5 and set(ids.values()) == {1}
    assert {r.attempts for r in rows(factory)} == {1, 2}


def test_after_the_last_attempt_a_message_is_dead_until_someone_retries_it(
    committing_session_factory: sessionmaker[Session],
    smtp_channels: Channels,
    smtp_server: SmtpServer,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = reconfigure(monkeypatch, outbox_max_attempts="3")
    factory = committing_session_factory
    with session_scope(factory) as session:
        admin = make_user(session, role="admin")
        booking = make_booking(session, starts_at=START)
        events.booking_received(session, booking=booking, now=NOW)
    smtp_server.stop()
    instant = NOW
    for attempt in (1, 2, 3):
        report = deliver_due(factory, channels=smtp_channels, now=instant, settings=settings)
        (row,) = rows(factory)
        assert row.attempts == attempt
        instant = row.due_at if row.status == OutboxStatus.FAILED else instant
    assert report.dead == [row.id]
    assert row.status == OutboxStatus.DEAD
    assert "SMTP" in (row.last_error or "")
    assert (
        deliver_due(factory, channels=smtp_channels, now=instant + dt.timedelta(days=30)).claimed
        == 0
    )

    with session_scope(factory) as session:
        retried = retry_message(session, actor=session.merge(admin), message_id=row.id, now=instant)
        assert retried.status == OutboxStatus.PENDING
        assert retried.max_attempts == 3 + 3
    smtp_server.start()
    assert (
        len(deliver_due(factory, channels=smtp_channels, now=instant, settings=settings).sent) == 1
    )
    assert len(mailbox.messages) == 1


def test_a_worker_killed_while_sending_leaves_the_row_to_another_after_the_lease(
    committing_session_factory: sessionmaker[Session],
    smtp_channels: Channels,
    mailbox: Mailbox,
) -> None:
    factory = committing_session_factory
    with session_scope(factory) as session:
        events.booking_received(session, booking=make_booking(session, starts_at=START), now=NOW)
    lease = 300
    crashed = claim_next(factory, now=NOW, lease_seconds=lease)
    assert crashed is not None
    # ... and the process dies here: no outcome is ever written.
    (row,) = rows(factory)
    assert row.status == OutboxStatus.SENDING
    assert row.lease_until == NOW + dt.timedelta(seconds=lease)

    assert (
        deliver_due(
            factory, channels=smtp_channels, now=NOW + dt.timedelta(seconds=lease - 1)
        ).claimed
        == 0
    )
    report = deliver_due(factory, channels=smtp_channels, now=NOW + dt.timedelta(seconds=lease))
    assert report.sent == [row.id]
    (row,) = rows(factory)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)
    assert len(mailbox.messages) == 1
    # The worker that lost its lease cannot overwrite the outcome.
    assert finish(factory, crashed, status=OutboxStatus.FAILED.value, lease_until=None) is False
    assert rows(factory)[0].status == OutboxStatus.SENT


def test_a_worker_lost_during_the_last_attempt_leaves_a_dead_row(
    committing_session_factory: sessionmaker[Session], smtp_channels: Channels
) -> None:
    factory = committing_session_factory
    with session_scope(factory) as session:
        make_outbox_message(
            session, status="sending", attempts=5, max_attempts=5, lease_until=NOW, due_at=NOW
        )
    assert deliver_due(factory, channels=smtp_channels, now=NOW).claimed == 0
    (row,) = rows(factory)
    assert row.status == OutboxStatus.DEAD
    assert "lease expired" in (row.last_error or "")


class RefusingGateway:
    def send_sms(self, *, to: str, body: str, reference: str) -> str | None:
        raise PermanentDeliveryError("SMS gateway 400: 21211 invalid 'To' number")


class BrokenGateway:
    def send_sms(self, *, to: str, body: str, reference: str) -> str | None:
        raise RuntimeError("bug in a plug-in")


def sms_row(
    session: Session, *, due_at: dt.datetime, starts_at: dt.datetime, **fields: Any
) -> OutboxMessage:
    context = full_context(starts_at=starts_at.isoformat(), hours_before=24)
    return make_outbox_message(
        session,
        channel="sms",
        recipient="+32470123456",
        template="reminder",
        event="reminder_24h",
        context=context,
        due_at=due_at,
        **fields,
    )


def test_a_refused_number_is_dead_at_once_and_a_crashing_gateway_is_retried(
    committing_session_factory: sessionmaker[Session],
) -> None:
    factory = committing_session_factory
    day = dt.datetime(2031, 3, 10, 12, tzinfo=BRUSSELS)
    with session_scope(factory) as session:
        refused = sms_row(session, due_at=day, starts_at=day + dt.timedelta(days=2)).id
    report = deliver_due(
        factory, channels=Channels(email=None, sms=RefusingGateway(), sender="a@b.org"), now=day
    )
    assert report.dead == [refused]
    assert "21211" in (rows(factory)[0].last_error or "")

    with session_scope(factory) as session:
        crashing = sms_row(session, due_at=day, starts_at=day + dt.timedelta(days=2)).id
    report = deliver_due(
        factory, channels=Channels(email=None, sms=BrokenGateway(), sender="a@b.org"), now=day
    )
    assert report.failed == [crashing]


def test_an_sms_that_falls_due_at_night_is_held_until_morning_without_costing_an_attempt(
    committing_session_factory: sessionmaker[Session], sms_recorder: SmsRecorder
) -> None:
    factory = committing_session_factory
    night = dt.datetime(2031, 3, 9, 23, 30, tzinfo=BRUSSELS)
    with session_scope(factory) as session:
        sms_row(
            session,
            due_at=night,
            starts_at=night + dt.timedelta(days=2),
            status="failed",
            attempts=1,
        )
    channels = Channels(email=None, sms=sms_recorder, sender="a@b.org")
    report = deliver_due(factory, channels=channels, now=night)
    assert len(report.deferred) == 1
    (row,) = rows(factory)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert row.due_at == dt.datetime(2031, 3, 10, 8, tzinfo=BRUSSELS)
    assert sms_recorder.sent == []
    assert len(deliver_due(factory, channels=channels, now=row.due_at).sent) == 1


def test_a_switched_off_channel_voids_its_messages_and_a_broken_template_is_dead(
    committing_session_factory: sessionmaker[Session], smtp_channels: Channels
) -> None:
    factory = committing_session_factory
    with session_scope(factory) as session:
        sms = sms_row(session, due_at=NOW, starts_at=START).id
        broken = make_outbox_message(
            session,
            template="booking_received",
            context={"timezone": "Europe/Brussels"},
            due_at=NOW,
        ).id
    report = deliver_due(
        factory, channels=Channels(email=smtp_channels.email, sms=None, sender="a@b.org"), now=NOW
    )
    assert report.voided == [sms] and report.dead == [broken]
    by_id = {r.id: r for r in rows(factory)}
    assert "switched off" in (by_id[sms].last_error or "")
    assert "cannot render" in (by_id[broken].last_error or "")


class CountingEmail:
    """Counts what every worker hands over, across threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.delivered: Counter[str] = Counter()

    def send_email(self, email: OutgoingEmail) -> None:
        with self.lock:
            self.delivered[email.message_id] += 1


def _run_workers_concurrently(
    factory: sessionmaker[Session], *, workers: int, messages: int
) -> None:
    with session_scope(factory) as session:
        for _ in range(messages):
            make_outbox_message(
                session, template="booking_received", context=full_context(), due_at=NOW
            )
    counting = CountingEmail()
    channels = Channels(email=counting, sms=None, sender="a@b.org")
    barrier = threading.Barrier(workers)
    reports: list[Any] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            reports.append(deliver_due(factory, channels=channels, now=NOW, limit=messages))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(counting.delivered) == messages
    assert set(counting.delivered.values()) == {1}
    assert sum(len(r.sent) for r in reports) == messages
    assert {r.status for r in rows(factory)} == {OutboxStatus.SENT}
    assert {r.attempts for r in rows(factory)} == {1}


def test_two_workers_at_once_deliver_each_message_exactly_once(
    committing_session_factory: sessionmaker[Session],
) -> None:
    _run_workers_concurrently(committing_session_factory, workers=2, messages=40)


@pytest.mark.postgres
def test_four_workers_on_postgresql_skip_each_others_locked_rows(
    committing_session_factory: sessionmaker[Session],
) -> None:
    _run_workers_concurrently(committing_session_factory, workers=4, messages=120)


def test_a_transport_error_is_recorded_as_a_failure_with_the_message(
    committing_session_factory: sessionmaker[Session],
) -> None:
    class Down:
        def send_email(self, email: OutgoingEmail) -> None:
            raise DeliveryError("SMTP ConnectionRefusedError: [Errno 111]")

    factory = committing_session_factory
    with session_scope(factory) as session:
        make_outbox_message(
            session, template="booking_received", context=full_context(), due_at=NOW
        )
    deliver_due(factory, channels=Channels(email=Down(), sms=None, sender="a@b.org"), now=NOW)
    (row,) = rows(factory)
    assert row.status == OutboxStatus.FAILED
    assert row.last_error == "DeliveryError: SMTP ConnectionRefusedError: [Errno 111]"


def test_through_the_booking_services_confirm_then_cancel_reaches_the_calendars(
    committing_session_factory: sessionmaker[Session],
    smtp_channels: Channels,
    mailbox: Mailbox,
) -> None:
    """The contract with the dispatch and booking services, end to end."""
    from booking.assignments.service import confirm
    from booking.bookings.service import cancel_booking

    factory = committing_session_factory
    with session_scope(factory) as session:
        scene = make_scene(session)
        proposal = assign(session, scene, status="proposed")
        confirm(session, actor=scene.dispatcher, assignment=proposal, now=NOW)
    deliver_due(factory, channels=smtp_channels, now=NOW)
    assert sorted(str(m["To"]) for m in mailbox.messages) == sorted(
        [scene.requester.email, scene.provider_user.email]
    )

    cancelled_at = NOW + dt.timedelta(hours=2)
    with session_scope(factory) as session:
        booking = session.merge(scene.booking)
        requester = session.merge(scene.requester)
        cancel_booking(
            session, actor=requester, booking=booking, reason="hospitalised", now=cancelled_at
        )
    deliver_due(factory, channels=smtp_channels, now=cancelled_at)
    cancels = {str(m["To"]): calendar_of(m) for m in mailbox.messages[2:]}
    assert set(cancels) == {scene.requester.email, scene.provider_user.email}
    assert {str(c["METHOD"]) for c in cancels.values()} == {"CANCEL"}
    (provider_event,) = cancels[scene.provider_user.email].walk("VEVENT")
    assert str(provider_event["UID"]) == f"assignment-{proposal.id}@truchement"
    for instant in (START - dt.timedelta(hours=24), START - dt.timedelta(hours=2)):
        assert deliver_due(factory, channels=smtp_channels, now=instant).claimed == 0
    assert len(mailbox.messages) == 4
    # The free-text reason may say anything about the person: it is not copied out.
    assert all("hospitalised" not in repr(r.context) for r in rows(factory))
