"""Slow servers: a send ends by its deadline, inside the lease, so no two workers send one
message at once, and a message sent twice (a reply lost) carries the same identity.

The servers are real (aiosmtpd, an HTTP server in a thread) and answer each step
inside its timeout while the whole send outlasts the lease, as in the incident
where a server answering every SMTP step in 11 s made eight copies of one email.
The clock is real; leases and deadlines are a few seconds, so each test takes a
few seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from booking.db import session_scope
from booking.outbox.models import OutboxMessage
from booking.types import utc_now
from booking.vocabulary import OutboxStatus
from notify.channels import (
    Channels,
    DeliveryError,
    OutgoingEmail,
    SmtpEmailTransport,
    TwilioSmsGateway,
    message_id_for,
    sms_reference,
)
from notify.deadline import Deadline, DeadlineTransport, within
from notify.delivery import DeliveryReport, deliver_due
from notify.settings import NotifySettings
from tests.factories import make_outbox_message
from tests.notify.slow_servers import (
    Pace,
    SlowSmsGateway,
    SlowSmtpServer,
    TricklingSmtpServer,
)
from tests.notify.test_channels import email
from tests.notify.test_templates import full_context

SENDER = "Truchement <noreply@truchement.example.org>"
LEASE = 4
DEADLINE = 2.0
STEP_TIMEOUT = 1.2
# Seconds per answer: an SMTP send has 7 answers (greeting, EHLO, MAIL, RCPT, DATA, the
# end of the message, QUIT), an answer of the gateway 6 pieces: 4.2-4.9 s, longer than
# the lease, each answer inside the step timeout...
TOO_SLOW = 0.7
# ... or the whole send well inside the deadline.
SLOW_BUT_IN_TIME = 0.1
# Scheduling slack on a machine the tests share with others.
SLACK = 0.6
# A heartbeat this late means the whole test process stood still (the machine, not the
# deadline code): an attempt that overran during such a stall proves nothing either way.
STALL = 1.0


def slow_settings(**overrides: Any) -> NotifySettings:
    values: dict[str, Any] = {
        "outbox_lease_seconds": LEASE,
        "smtp_timeout_seconds": STEP_TIMEOUT,
        "smtp_deadline_seconds": DEADLINE,
        "sms_timeout_seconds": STEP_TIMEOUT,
        "sms_deadline_seconds": DEADLINE,
        "outbox_backoff_base_seconds": 0.5,
        "outbox_backoff_max_seconds": 0.5,
    }
    values.update(overrides)
    settings = NotifySettings(**values)
    assert settings.delivery_problems() == []  # the worker would start with these
    return settings


def row(factory: sessionmaker[Session], row_id: int) -> OutboxMessage:
    with session_scope(factory) as session:
        found = session.get(OutboxMessage, row_id)
        assert found is not None
        return found


def email_row(factory: sessionmaker[Session]) -> int:
    with session_scope(factory) as session:
        return make_outbox_message(
            session, template="booking_received", context=full_context(), due_at=utc_now()
        ).id


def sms_row(factory: sessionmaker[Session]) -> int:
    soon = utc_now() + dt.timedelta(hours=1)  # urgent: no quiet hours, whatever the hour
    with session_scope(factory) as session:
        return make_outbox_message(
            session,
            channel="sms",
            recipient="+32470123456",
            template="reminder",
            event="reminder_2h",
            context=full_context(starts_at=soon.isoformat(), hours_before=2),
            due_at=utc_now(),
        ).id


@dataclass
class Attempt:
    worker: str
    started: float
    ended: float
    error: str | None


class Heartbeat:
    """A thread that notes the time every 50 ms, to tell a stalled process from a slow send.

    A send that outlasts its deadline while this thread kept beating is the
    deadline code's fault; one that overran while this thread, too, woke a
    second or more late only says the process was not scheduled (seen once
    in CI: an SMS attempt of 7.85 s, its error naming the deadline).
    """

    def __init__(self) -> None:
        self.beats: list[float] = [time.monotonic()]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        while not self.stop.wait(0.05):
            self.beats.append(time.monotonic())

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)

    def stalled_during(self, started: float, ended: float) -> bool:
        """Whether the process stood still for `STALL` seconds or more within [started, ended]."""
        return any(
            later - earlier >= STALL and later > started and earlier < ended
            for earlier, later in pairwise(self.beats)
        )


@dataclass
class Workers:
    """Worker loops in threads, each with its own transports, as separate processes would."""

    factory: sessionmaker[Session]
    settings: NotifySettings
    make_channels: Callable[[], Channels]
    count: int = 2
    attempts: list[Attempt] = field(default_factory=list)
    reports: list[DeliveryReport] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Workers:
        self.heartbeat = Heartbeat()
        self.threads = [
            threading.Thread(target=self._loop, args=(f"worker-{n}",)) for n in range(self.count)
        ]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        self.heartbeat.close()

    def _loop(self, name: str) -> None:
        channels = self.make_channels()
        timed = Channels(
            email=None if channels.email is None else _Timed(channels.email, name, self),
            sms=None if channels.sms is None else _Timed(channels.sms, name, self),
            sender=channels.sender,
        )
        while not self.stop.is_set():
            try:
                report = deliver_due(self.factory, channels=timed, settings=self.settings)
            except BaseException as exc:  # pragma: no cover - reported by the test
                self.errors.append(exc)
                return
            with self.lock:
                self.reports.append(report)
            self.stop.wait(0.02)

    def wait_until(self, condition: Callable[[], bool], *, timeout: float = 30) -> None:
        limit = time.monotonic() + timeout
        while not condition():
            assert self.errors == []
            assert time.monotonic() < limit, "timed out"
            time.sleep(0.05)

    def finished(self) -> list[Attempt]:
        with self.lock:
            return sorted(self.attempts, key=lambda attempt: attempt.started)

    def check(self) -> list[Attempt]:
        """No attempt began before the previous one ended, each ended by its deadline (unless
        the whole process stood still meanwhile), and no worker ever found its lease taken."""
        assert self.errors == []
        attempts = self.finished()
        for earlier, later in pairwise(attempts):
            assert later.started >= earlier.ended, f"sent twice at once: {earlier}, {later}"
        for attempt in attempts:
            in_time = attempt.ended - attempt.started <= DEADLINE + SLACK
            assert in_time or self.heartbeat.stalled_during(attempt.started, attempt.ended), attempt
        assert [r.lost for r in self.reports if r.lost] == []
        return attempts


class _Timed:
    """A transport that notes when each send began and ended, and how."""

    def __init__(self, inner: Any, worker: str, workers: Workers) -> None:
        self.inner, self.worker, self.workers = inner, worker, workers

    def _timed(self, send: Callable[[], Any]) -> Any:
        started = time.monotonic()
        error = None
        try:
            return send()
        except Exception as exc:
            error = str(exc)
            raise
        finally:
            with self.workers.lock:
                self.workers.attempts.append(Attempt(self.worker, started, time.monotonic(), error))

    def send_email(self, email: OutgoingEmail) -> None:
        self._timed(lambda: self.inner.send_email(email))

    def send_sms(self, *, to: str, body: str, reference: str) -> str | None:
        return self._timed(  # type: ignore[no-any-return]
            lambda: self.inner.send_sms(to=to, body=body, reference=reference)
        )


@pytest.fixture
def smtp_server() -> Iterator[SlowSmtpServer]:
    server = SlowSmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def gateway() -> Iterator[SlowSmsGateway]:
    server = SlowSmsGateway()
    server.start()
    yield server
    server.stop()


def smtp_channels(server: SlowSmtpServer) -> Callable[[], Channels]:
    def make() -> Channels:
        transport = SmtpEmailTransport(
            host="127.0.0.1",
            port=server.port,
            security="none",
            sender=SENDER,
            timeout=STEP_TIMEOUT,
        )
        return Channels(email=transport, sms=None, sender=SENDER)

    return make


def twilio(gateway: SlowSmsGateway) -> TwilioSmsGateway:
    return TwilioSmsGateway(
        base_url=gateway.base_url,
        account_sid="AC1",
        auth_token="token",
        from_number="+32460000000",
        timeout=STEP_TIMEOUT,
    )


def sms_channels(gateway: SlowSmsGateway) -> Callable[[], Channels]:
    return lambda: Channels(email=None, sms=twilio(gateway), sender=SENDER)


@dataclass
class Scenario:
    """One channel against its slow server."""

    make_row: Callable[[sessionmaker[Session]], int]
    channels: Callable[[], Channels]
    pace: Pace
    # Connections the server saw (SMTP sessions, gateway requests)...
    connections: Callable[[], int]
    # ... the identity each copy it got carried (Message-IDs, idempotency keys)...
    identities: Callable[[], list[str | None]]
    identity: Callable[[OutboxMessage], str]
    # ... what reached the recipient: emails stored, SMS texted once per key.
    delivered: Callable[[], int]
    # While the server is too slow: nothing by email (no attempt gets as far as the
    # message), the SMS once (the gateway has the request, only its answer is slow).
    delivered_while_too_slow: int


@pytest.fixture(params=["email", "sms"])
def scenario(request: pytest.FixtureRequest) -> Scenario:
    if request.param == "email":
        server: SlowSmtpServer = request.getfixturevalue("smtp_server")
        return Scenario(
            make_row=email_row,
            channels=smtp_channels(server),
            pace=server.pace,
            connections=lambda: len(server.sessions),
            identities=lambda: list(server.message_ids()),
            identity=lambda sent: message_id_for(sent.dedup_key, SENDER),
            delivered=lambda: len(server.received),
            delivered_while_too_slow=0,
        )
    gateway: SlowSmsGateway = request.getfixturevalue("gateway")
    return Scenario(
        make_row=sms_row,
        channels=sms_channels(gateway),
        pace=gateway.pace,
        connections=lambda: len(gateway.requests),
        identities=lambda: [r.key for r in gateway.requests],
        identity=lambda sent: sms_reference(sent.id, sent.dedup_key),
        delivered=lambda: sum(gateway.texted.values()),
        delivered_while_too_slow=1,
    )


def test_a_server_slower_than_the_lease_gets_one_attempt_at_a_time_and_the_message_once(
    committing_session_factory: sessionmaker[Session], scenario: Scenario
) -> None:
    factory = committing_session_factory
    row_id = scenario.make_row(factory)
    scenario.pace.step = TOO_SLOW
    with Workers(factory, slow_settings(), scenario.channels) as workers:
        workers.wait_until(lambda: len(workers.finished()) >= 2)
        assert scenario.delivered() == scenario.delivered_while_too_slow
        scenario.pace.step = 0
        workers.wait_until(lambda: row(factory, row_id).status == OutboxStatus.SENT)
    attempts = workers.check()
    sent = row(factory, row_id)
    # Each attempt but the last was given up at its deadline, one connection each.
    assert sent.attempts == len(attempts) == scenario.connections()
    assert all("deadline" in (attempt.error or "") for attempt in attempts[:-1])
    assert attempts[-1].error is None
    assert "deadline of this delivery passed" in (sent.last_error or "")
    # Every copy carried the same identity; the recipient got the message once.
    assert set(scenario.identities()) == {scenario.identity(sent)}
    assert scenario.delivered() == 1


def test_a_server_slow_at_each_step_but_in_time_gets_the_message_once(
    committing_session_factory: sessionmaker[Session], scenario: Scenario
) -> None:
    factory = committing_session_factory
    row_id = scenario.make_row(factory)
    scenario.pace.step = SLOW_BUT_IN_TIME
    with Workers(factory, slow_settings(), scenario.channels) as workers:
        workers.wait_until(lambda: row(factory, row_id).status == OutboxStatus.SENT)
        time.sleep(1)  # the other worker keeps looking: nothing more is sent
    (attempt,) = workers.check()
    assert attempt.error is None
    assert row(factory, row_id).attempts == scenario.connections() == 1
    assert scenario.delivered() == 1


def test_a_reply_lost_after_the_server_stored_the_email_resends_the_same_message_id(
    committing_session_factory: sessionmaker[Session], smtp_server: SlowSmtpServer
) -> None:
    """At-least-once: the server had the message, its answer never came in time; the retry
    is a second copy that mail systems can recognise by its Message-ID."""
    factory = committing_session_factory
    row_id = email_row(factory)
    settings = slow_settings(
        smtp_deadline_seconds=0.5, sms_deadline_seconds=0.5, outbox_lease_seconds=1
    )
    channels = smtp_channels(smtp_server)()
    smtp_server.pace.after_data = 2
    report = deliver_due(factory, channels=channels, settings=settings)
    assert (report.failed, len(smtp_server.received)) == ([row_id], 1)
    failed = row(factory, row_id)
    assert "deadline" in (failed.last_error or "")

    smtp_server.pace.after_data = 0
    time.sleep(max(0.0, (failed.due_at - utc_now()).total_seconds()))
    assert deliver_due(factory, channels=channels, settings=settings).sent == [row_id]
    sent = row(factory, row_id)
    assert (sent.status, sent.attempts) == (OutboxStatus.SENT, 2)
    first, second = smtp_server.message_ids()
    assert first == second == message_id_for(sent.dedup_key, SENDER)


def test_the_deadline_holds_against_a_server_that_trickles_its_answer() -> None:
    """Each byte comes well inside the step timeout; the send still ends by the deadline."""
    server = TricklingSmtpServer(every=0.1)
    transport = SmtpEmailTransport(
        host="127.0.0.1", port=server.port, security="none", sender=SENDER, timeout=1
    )
    started = time.monotonic()
    try:
        with within(Deadline.starting(0.5)), pytest.raises(DeliveryError) as failure:
            transport.send_email(email())
    finally:
        server.close()
    assert time.monotonic() - started < 0.5 + SLACK
    assert "the 0.5 s deadline of this delivery passed" in str(failure.value)
    assert not failure.value.permanent


def test_the_deadline_holds_against_a_gateway_that_trickles_its_answer(
    gateway: SlowSmsGateway,
) -> None:
    gateway.pace.step = 0.05
    gateway.body_pieces = 60  # about three seconds, a byte every 50 ms
    started = time.monotonic()
    with within(Deadline.starting(0.5)), pytest.raises(DeliveryError) as failure:
        twilio(gateway).send_sms(to="+32470123456", body="x", reference="outbox-1-0")
    assert time.monotonic() - started < 0.5 + SLACK
    assert "the 0.5 s deadline of this delivery passed" in str(failure.value)
    assert len(gateway.requests) == 1


def test_a_slow_answer_to_quit_does_not_fail_an_email_the_server_accepted(
    smtp_server: SlowSmtpServer,
) -> None:
    smtp_server.pace.quit = 1.5
    transport = SmtpEmailTransport(
        host="127.0.0.1", port=smtp_server.port, security="none", sender=SENDER, timeout=0.5
    )
    transport.send_email(email())  # a failure here would send it again later
    assert len(smtp_server.received) == 1


def test_a_gateway_of_ones_own_that_ignores_the_deadline_is_reported_in_the_log(
    committing_session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    class Dawdling:
        def send_sms(self, *, to: str, body: str, reference: str) -> str | None:
            time.sleep(0.4)
            return None

    factory = committing_session_factory
    row_id = sms_row(factory)
    settings = slow_settings(sms_deadline_seconds=0.1)
    with caplog.at_level(logging.WARNING, logger="truchement.notify"):
        report = deliver_due(
            factory, channels=Channels(email=None, sms=Dawdling(), sender=SENDER), settings=settings
        )
    assert report.sent == [row_id]  # it went out, and this worker still held the row
    assert "after the deadline" in caplog.text


def test_the_gateway_transport_takes_the_proxy_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpcore
    import httpx

    monkeypatch.setenv("HTTPS_PROXY", "http://user:secret@proxy.example.net:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    transport = DeadlineTransport()
    through = transport._pool_for(httpx.URL("https://api.twilio.com/2010-04-01"))
    assert isinstance(through, httpcore.HTTPProxy)
    assert transport._pool_for(httpx.URL("http://127.0.0.1:8080/")) is transport._direct
    assert DeadlineTransport(trust_env=False)._pool_for(httpx.URL("https://a.b/")) is not through


# --- Two `truchement worker` processes on PostgreSQL -------------------------------------


def _start_worker(env: dict[str, str], folder: Path, name: str) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).with_name("truchement")), "worker"]
    log = (folder / f"{name}.log").open("wb")
    return subprocess.Popen(command, env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.postgres
def test_two_worker_processes_on_postgresql_with_slow_servers_never_send_twice_at_once(
    committing_session_factory: sessionmaker[Session],
    database_url: str,
    smtp_server: SlowSmtpServer,
    gateway: SlowSmsGateway,
    tmp_path: Path,
) -> None:
    factory = committing_session_factory
    email_id, sms_id = email_row(factory), sms_row(factory)
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    env.update(
        TRUCHEMENT_DATABASE_URL=database_url,
        TRUCHEMENT_EMAIL_BACKEND="smtp",
        TRUCHEMENT_SMTP_HOST="127.0.0.1",
        TRUCHEMENT_SMTP_PORT=str(smtp_server.port),
        TRUCHEMENT_SMTP_SECURITY="none",
        TRUCHEMENT_SMTP_FROM=SENDER,
        TRUCHEMENT_SMTP_TIMEOUT_SECONDS=str(STEP_TIMEOUT),
        TRUCHEMENT_SMTP_DEADLINE_SECONDS=str(DEADLINE),
        TRUCHEMENT_SMS_BACKEND="twilio",
        TRUCHEMENT_TWILIO_BASE_URL=gateway.base_url,
        TRUCHEMENT_TWILIO_ACCOUNT_SID="AC1",
        TRUCHEMENT_TWILIO_AUTH_TOKEN="token",
        TRUCHEMENT_TWILIO_FROM_NUMBER="+32460000000",
        TRUCHEMENT_SMS_TIMEOUT_SECONDS=str(STEP_TIMEOUT),
        TRUCHEMENT_SMS_DEADLINE_SECONDS=str(DEADLINE),
        TRUCHEMENT_OUTBOX_LEASE_SECONDS=str(LEASE),
        TRUCHEMENT_OUTBOX_BACKOFF_BASE_SECONDS="0.5",
        TRUCHEMENT_OUTBOX_BACKOFF_MAX_SECONDS="0.5",
        TRUCHEMENT_WORKER_INTERVAL_SECONDS="1",
    )
    smtp_server.pace.step = gateway.pace.step = TOO_SLOW
    workers = [_start_worker(env, tmp_path, f"worker-{n}") for n in range(2)]

    def attempts(row_id: int) -> int:
        return row(factory, row_id).attempts

    def sent(row_id: int) -> bool:
        return row(factory, row_id).status == OutboxStatus.SENT

    def state() -> str:
        rows = [row(factory, row_id) for row_id in (email_id, sms_id)]
        return (
            f"{[(r.channel, r.status, r.attempts) for r in rows]}, "
            f"{len(smtp_server.received)} email(s), {len(gateway.requests)} SMS request(s)"
        )

    try:
        _wait(
            lambda: (attempts(email_id) >= 3 and attempts(sms_id) >= 3) or smtp_server.received,
            workers,
            state,
        )
        assert smtp_server.received == [], state()  # no attempt got as far as the message
        smtp_server.pace.step = gateway.pace.step = 0
        _wait(lambda: sent(email_id) and sent(sms_id), workers, state)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)
    logs = "".join((tmp_path / f"worker-{n}.log").read_text() for n in range(2))
    assert "lease ran out" not in logs
    assert "deadline of this delivery passed" in logs

    email_row_, sms_row_ = row(factory, email_id), row(factory, sms_id)
    # One connection per attempt, never one more, and the message itself once.
    assert len(smtp_server.sessions) == email_row_.attempts
    assert smtp_server.message_ids() == [message_id_for(email_row_.dedup_key, SENDER)]
    # One request per attempt, all with the key of this row: the phone got one SMS.
    reference = sms_reference(sms_row_.id, sms_row_.dedup_key)
    assert [r.key for r in gateway.requests] == [reference] * sms_row_.attempts
    assert gateway.texted == {reference: 1}


def _wait(
    condition: Callable[[], bool],
    workers: list[subprocess.Popen[bytes]],
    state: Callable[[], str],
    timeout: float = 60,
) -> None:
    limit = time.monotonic() + timeout
    while not condition():
        assert all(worker.poll() is None for worker in workers), "a worker stopped"
        assert time.monotonic() < limit, f"timed out: {state()}"
        time.sleep(0.1)


def test_the_heartbeat_tells_a_stalled_process_from_a_slow_send() -> None:
    heartbeat = Heartbeat()
    heartbeat.close()
    heartbeat.beats = [10.0, 10.05, 10.1, 11.6, 11.65]  # the process stood still 1.5 s
    assert heartbeat.stalled_during(10.0, 12.0)
    assert heartbeat.stalled_during(11.0, 11.2)  # a send inside the stall
    assert not heartbeat.stalled_during(11.6, 12.0)  # a send after it: beats every 50 ms
    assert not heartbeat.stalled_during(9.0, 10.1)
