"""Fixtures for the notifications: settings, a scene to notify about, a real SMTP server."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession

from booking.outbox.settings import get_outbox_settings
from booking.settings import get_settings
from notify.channels import Channels, SmtpEmailTransport
from notify.settings import NotifySettings, get_notify_settings
from tests.api.conftest import app, auth_headers, client, settings  # noqa: F401 - API fixtures

UTC = dt.UTC


@pytest.fixture(autouse=True)
def notify_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[NotifySettings]:
    """SMS on (file gateway), files under the test's folder, the default offsets and hours."""
    monkeypatch.setenv("TRUCHEMENT_SMS_BACKEND", "file")
    monkeypatch.setenv("TRUCHEMENT_EMAIL_BACKEND", "file")
    monkeypatch.setenv("TRUCHEMENT_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("TRUCHEMENT_BASE_URL", "https://truchement.example.org")
    monkeypatch.delenv("TRUCHEMENT_REMINDER_OFFSETS_HOURS", raising=False)
    get_notify_settings.cache_clear()
    get_outbox_settings.cache_clear()
    get_settings.cache_clear()
    yield get_notify_settings()
    get_notify_settings.cache_clear()
    get_outbox_settings.cache_clear()
    get_settings.cache_clear()


def reconfigure(monkeypatch: pytest.MonkeyPatch, **env: str) -> NotifySettings:
    """Change settings for one test (``TRUCHEMENT_`` + upper-case name)."""
    for name, value in env.items():
        monkeypatch.setenv(f"TRUCHEMENT_{name.upper()}", value)
    get_notify_settings.cache_clear()
    get_outbox_settings.cache_clear()
    get_settings.cache_clear()
    return get_notify_settings()


@dataclass
class Mailbox:
    """What the in-process SMTP server received."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, raw: bytes) -> None:
        parsed = message_from_bytes(raw, policy=policy.default)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def subjects(self, address: str) -> list[str]:
        return [str(m["Subject"]) for m in self.to(address)]


class RecordingHandler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.mailbox.add(content)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    """An aiosmtpd server in a thread that a test can stop and start again on the same port."""

    def __init__(self, mailbox: Mailbox, **smtp_kwargs: Any) -> None:
        self.mailbox = mailbox
        self.port = free_port()
        self.smtp_kwargs = smtp_kwargs
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            RecordingHandler(self.mailbox),
            hostname="127.0.0.1",
            port=self.port,
            **self.smtp_kwargs,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp_server(mailbox: Mailbox) -> Iterator[SmtpServer]:
    server = SmtpServer(mailbox)
    server.start()
    yield server
    server.stop()


@dataclass
class SmsRecorder:
    """An SMS gateway that keeps what it was given."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def send_sms(self, *, to: str, body: str, reference: str) -> str | None:
        self.sent.append((to, body, reference))
        return f"SM{len(self.sent)}"


@pytest.fixture
def sms_recorder() -> SmsRecorder:
    return SmsRecorder()


@pytest.fixture
def smtp_channels(smtp_server: SmtpServer, sms_recorder: SmsRecorder) -> Channels:
    sender = "Truchement <noreply@truchement.example.org>"
    transport = SmtpEmailTransport(
        host="127.0.0.1", port=smtp_server.port, security="none", sender=sender, timeout=5
    )
    return Channels(email=transport, sms=sms_recorder, sender=sender)
