"""Fixtures for delivering messages: the test settings, a real SMTP server, an SMS recorder."""

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

from notify.channels import Channels, SmtpEmailTransport
from notify.settings import NotifySettings

UTC = dt.UTC


@pytest.fixture(autouse=True)
def messages_env(notify_env: NotifySettings) -> NotifySettings:
    """Every test here sends with the test settings of ``notify_env`` (the root conftest)."""
    return notify_env


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
