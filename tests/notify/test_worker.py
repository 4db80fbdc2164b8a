"""`truchement worker`: --once delivers what is due and exits; the scheduler's jobs."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from booking.db import session_scope
from booking.outbox import events
from booking.outbox.models import OutboxMessage
from booking.vocabulary import OutboxStatus
from notify.channels import Channels
from notify.settings import NotifySettings
from notify.worker import build_scheduler, run_once
from tests.booking.outbox.scene import START, assign, make_scene
from tests.conftest import clear_settings, reconfigure
from tests.factories import make_booking
from tests.notify.conftest import SmsRecorder
from truchement.cli import app

runner = CliRunner()
NOW = START - dt.timedelta(days=3)


@pytest.fixture
def cli_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    reconfigure(monkeypatch, database_url=database_url)
    return database_url


def statuses(factory: sessionmaker[Session]) -> dict[str, str]:
    with session_scope(factory) as session:
        return {m.event + ":" + m.channel: m.status for m in session.scalars(select(OutboxMessage))}


def test_worker_once_delivers_what_is_due_at_the_given_instant_and_exits(
    cli_database: str,
    committing_session_factory: sessionmaker[Session],
    notify_env: NotifySettings,
    tmp_path: Path,
) -> None:
    with session_scope(committing_session_factory) as session:
        scene = make_scene(session)
        events.assignment_confirmed(session, assignment=assign(session, scene), now=NOW)

    result = runner.invoke(app, ["worker", "--once", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert "sent 3, failed 0" in result.stdout
    outbox = tmp_path / "outbox"
    assert len(list((outbox / "email").glob("*.eml"))) == 2
    (sms,) = (outbox / "sms").glob("*.json")
    assert "+32470123456" in sms.read_text()
    invitation = email.message_from_bytes(
        next((outbox / "email").glob("*.eml")).read_bytes(), policy=policy.default
    )
    assert any(part.get_content_type() == "text/calendar" for part in invitation.walk())
    assert {
        k: v for k, v in statuses(committing_session_factory).items() if k.startswith("reminder")
    } == {
        "reminder_24h:email": OutboxStatus.PENDING,
        "reminder_24h:sms": OutboxStatus.PENDING,
        "reminder_2h:email": OutboxStatus.PENDING,
        "reminder_2h:sms": OutboxStatus.PENDING,
    }

    later = (START - dt.timedelta(hours=2)).isoformat()
    result = runner.invoke(app, ["worker", "--once", "--now", later])
    assert result.exit_code == 0, result.output
    assert "sent 6" in result.stdout
    assert set(statuses(committing_session_factory).values()) == {OutboxStatus.SENT}


def test_worker_once_with_the_digest(
    cli_database: str, committing_session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_scope(committing_session_factory) as session:
        scene = make_scene(session, starts_at=NOW + dt.timedelta(hours=20))
        make_booking(session, requester=scene.requester, starts_at=NOW + dt.timedelta(hours=30))
    result = runner.invoke(app, ["worker", "--once", "--digest", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert "digests enqueued 1" in result.stdout
    assert statuses(committing_session_factory) == {"dispatcher_digest:email": OutboxStatus.SENT}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--now", "2031-03-08T09:00:00+00:00"], "only make sense with --once"),
        (["--once", "--now", "tomorrow"], "not an ISO 8601 instant"),
        (["--once", "--now", "2031-03-08T09:00:00"], "needs an offset"),
    ],
)
def test_worker_refuses_bad_arguments_in_one_line(arguments: list[str], message: str) -> None:
    result = runner.invoke(app, ["worker", *arguments])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_worker_refuses_an_incomplete_gateway_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUCHEMENT_SMS_BACKEND", "twilio")
    clear_settings()
    result = runner.invoke(app, ["worker", "--once"])
    assert result.exit_code == 1
    assert "TRUCHEMENT_TWILIO_ACCOUNT_SID" in result.stderr


def test_run_once_keeps_going_past_one_batch(
    committing_session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = reconfigure(monkeypatch, outbox_batch_size="2")
    with session_scope(committing_session_factory) as session:
        scene = make_scene(session)
        events.assignment_confirmed(session, assignment=assign(session, scene), now=NOW)
    recorder = SmsRecorder()

    class Emails:
        count = 0

        def send_email(self, message: object) -> None:
            Emails.count += 1

    result = run_once(
        committing_session_factory,
        channels=Channels(email=Emails(), sms=recorder, sender="a@b.org"),
        settings=settings,
        now=START,
    )
    assert len(result.report.sent) == 9
    assert (Emails.count, len(recorder.sent)) == (6, 3)


def test_the_scheduler_ticks_every_30_seconds_and_sends_the_digest_on_a_cron(
    committing_session_factory: sessionmaker[Session], notify_env: NotifySettings
) -> None:
    scheduler = build_scheduler(
        committing_session_factory,
        channels=Channels(email=None, sms=None, sender="a@b.org"),
        settings=notify_env,
        timezone="Europe/Brussels",
    )
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"deliver", "expire_offers", "repairs", "digest", "retention"}
    repairs = jobs["repairs"].trigger
    assert isinstance(repairs, IntervalTrigger) and repairs.interval == dt.timedelta(seconds=30)
    deliver = jobs["deliver"].trigger
    assert isinstance(deliver, IntervalTrigger) and deliver.interval == dt.timedelta(seconds=30)
    assert isinstance(jobs["expire_offers"].trigger, IntervalTrigger)
    digest = jobs["digest"].trigger
    assert isinstance(digest, CronTrigger)
    assert str(digest.timezone) == "Europe/Brussels"
    fields = {f.name: str(f) for f in digest.fields}
    assert (fields["hour"], fields["minute"]) == ("7", "0")
    retention = jobs["retention"].trigger
    assert isinstance(retention, CronTrigger)
    assert str(retention.timezone) == "Europe/Brussels"
    fields = {f.name: str(f) for f in retention.fields}
    assert (fields["hour"], fields["minute"]) == ("3", "30")


class ExpiryCalls:
    """Stands in for ``booking.assignments.offers.expire_offers`` and notes its arguments."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def __call__(self, session: Session, **arguments: object) -> None:
        self.calls.append(arguments)


def test_worker_once_expires_offers_in_the_configured_zone_and_offer_lifetime(
    cli_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reconfigure(monkeypatch, timezone="Europe/Paris", offer_timeout_minutes="45")
    expiry = ExpiryCalls()
    monkeypatch.setattr("booking.assignments.offers.expire_offers", expiry)
    result = runner.invoke(app, ["worker", "--once", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert expiry.calls == [{"now": NOW, "timezone": "Europe/Paris", "offer_timeout_minutes": 45}]


def test_the_scheduled_expiry_uses_the_zone_and_offer_lifetime_it_is_given(
    committing_session_factory: sessionmaker[Session],
    notify_env: NotifySettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expiry = ExpiryCalls()
    monkeypatch.setattr("booking.assignments.offers.expire_offers", expiry)
    scheduler = build_scheduler(
        committing_session_factory,
        channels=Channels(email=None, sms=None, sender="a@b.org"),
        settings=notify_env,
        timezone="Europe/Paris",
        offer_timeout_minutes=45,
    )
    {job.id: job for job in scheduler.get_jobs()}["expire_offers"].func()
    [call] = expiry.calls
    assert (call["timezone"], call["offer_timeout_minutes"]) == ("Europe/Paris", 45)
