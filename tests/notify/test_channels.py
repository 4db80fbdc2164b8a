"""The transports: SMTP (plain, STARTTLS, TLS, login), the Twilio-compatible gateway, files."""

from __future__ import annotations

import json
import re
import ssl
import subprocess
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from notify.channels import (
    DeliveryError,
    FileEmailTransport,
    FileSmsGateway,
    OutgoingEmail,
    PermanentDeliveryError,
    SmtpEmailTransport,
    TwilioSmsGateway,
    build_channels,
    message_id_for,
    sms_reference,
)
from notify.render import Attachment
from notify.settings import NotifySettings
from tests.notify.conftest import Mailbox, SmsRecorder, SmtpServer, free_port

SENDER = "Truchement <noreply@truchement.example.org>"


def email(**overrides: Any) -> OutgoingEmail:
    values: dict[str, Any] = {
        "to": "selam@example.org",
        "subject": "Confirmé : tigrigna, mar. 11 mars 10:00",
        "text": "Bonjour,\nLa séance est confirmée.\n",
        "html": "<p>La séance est <strong>confirmée</strong>.</p>",
        "attachments": (
            Attachment(
                "invitation.ics",
                b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
                "text/calendar",
                {"method": "REQUEST"},
            ),
        ),
        "message_id": message_id_for(
            "assignment_confirmed:a1:u2:email:2031-03-11T09:00:00+00:00", SENDER
        ),
    }
    values.update(overrides)
    return OutgoingEmail(**values)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl on the PATH)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


def accept_only(username: bytes, password: bytes) -> Any:
    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (username, password)
        return AuthResult(success=ok)

    return authenticate


def test_an_email_has_text_and_html_alternatives_and_the_invitation_attached(
    smtp_server: SmtpServer, mailbox: Mailbox
) -> None:
    SmtpEmailTransport(
        host="127.0.0.1", port=smtp_server.port, security="none", sender=SENDER
    ).send_email(email())
    (received,) = mailbox.messages
    assert received["From"] == SENDER
    assert received["Subject"] == "Confirmé : tigrigna, mar. 11 mars 10:00"
    assert received["Message-ID"].endswith("@truchement.example.org>")
    assert received["Auto-Submitted"] == "auto-generated"
    assert received.get_body(("plain",)).get_content().splitlines() == [
        "Bonjour,",
        "La séance est confirmée.",
    ]
    assert "<strong>confirmée</strong>" in received.get_body(("html",)).get_content()
    (attachment,) = list(received.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST"
    assert attachment.get_filename() == "invitation.ics"


def test_starttls_with_login(certificate: tuple[Path, Path]) -> None:
    mailbox = Mailbox()
    server = SmtpServer(
        mailbox,
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=accept_only(b"sender", b"s3cret"),
        auth_require_tls=True,
    )
    server.start()
    try:
        client_context = ssl.create_default_context(cafile=str(certificate[0]))
        transport = SmtpEmailTransport(
            host="127.0.0.1",
            port=server.port,
            security="starttls",
            username="sender",
            password="s3cret",
            sender=SENDER,
            ssl_context=client_context,
        )
        transport.send_email(email())
        assert len(mailbox.messages) == 1
        wrong = SmtpEmailTransport(
            host="127.0.0.1",
            port=server.port,
            security="starttls",
            username="sender",
            password="wrong",
            sender=SENDER,
            ssl_context=client_context,
            timeout=1,
        )
        with pytest.raises(DeliveryError) as refused:
            wrong.send_email(email())
        assert not refused.value.permanent  # a login problem is fixed in the settings, then retried
        plain = SmtpEmailTransport(
            host="127.0.0.1", port=server.port, security="none", sender=SENDER
        )
        with pytest.raises(DeliveryError):
            plain.send_email(email())  # the server requires STARTTLS
    finally:
        server.stop()
    assert len(mailbox.messages) == 1


def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    mailbox = Mailbox()
    server = SmtpServer(mailbox, ssl_context=server_context(certificate))
    server.start()
    try:
        transport = SmtpEmailTransport(
            host="127.0.0.1",
            port=server.port,
            security="tls",
            sender=SENDER,
            ssl_context=ssl.create_default_context(cafile=str(certificate[0])),
        )
        transport.send_email(email())
    finally:
        server.stop()
    assert len(mailbox.messages) == 1


def test_an_unreachable_server_is_a_temporary_failure() -> None:
    nobody_listens = free_port()
    transport = SmtpEmailTransport(
        host="127.0.0.1", port=nobody_listens, security="none", sender=SENDER, timeout=2
    )
    with pytest.raises(DeliveryError) as failure:
        transport.send_email(email())
    assert not failure.value.permanent


def twilio(handler: Any) -> TwilioSmsGateway:
    return TwilioSmsGateway(
        base_url="https://sms.example.net/",
        account_sid="AC123",
        auth_token="tok",
        from_number="+32460000000",
        client=httpx.Client(transport=httpx.MockTransport(handler)),
    )


def test_twilio_compatible_gateway_posts_the_message_with_basic_auth() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"sid": "SM42", "status": "queued"})

    sid = twilio(handler).send_sms(
        to="+32470123456", body="Truchement: rappel", reference="reminder_2h:a1"
    )
    assert sid == "SM42"
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://sms.example.net/2010-04-01/Accounts/AC123/Messages.json"
    assert request.headers["Authorization"] == httpx.BasicAuth("AC123", "tok")._auth_header
    form = dict(httpx.QueryParams(request.content.decode()))
    assert form == {"To": "+32470123456", "From": "+32460000000", "Body": "Truchement: rappel"}
    assert request.headers["Idempotency-Key"] == "reminder_2h:a1"


@pytest.mark.parametrize(
    ("status", "permanent"), [(400, True), (401, True), (429, False), (500, False), (503, False)]
)
def test_gateway_errors_are_permanent_or_temporary_by_status(status: int, permanent: bool) -> None:
    gateway = twilio(
        lambda request: httpx.Response(status, json={"code": 21211, "message": "Invalid 'To'"})
    )
    with pytest.raises(DeliveryError) as failure:
        gateway.send_sms(to="+32470123456", body="x", reference="r")
    assert failure.value.permanent is permanent
    assert str(status) in str(failure.value)


def test_an_unreachable_gateway_is_a_temporary_failure() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(DeliveryError) as failure:
        twilio(handler).send_sms(to="+32470123456", body="x", reference="r")
    assert not isinstance(failure.value, PermanentDeliveryError)


def test_file_channels_write_one_file_per_message(tmp_path: Path) -> None:
    FileEmailTransport(tmp_path, sender=SENDER).send_email(email())
    (eml,) = (tmp_path / "email").glob("*.eml")
    parsed = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert parsed["To"] == "selam@example.org"
    FileSmsGateway(tmp_path).send_sms(to="+32470123456", body="Truchement: rappel", reference="k1")
    FileSmsGateway(tmp_path).send_sms(to="+32470123456", body="Truchement: rappel", reference="k1")
    (sms,) = (tmp_path / "sms").glob("*.json")
    assert json.loads(sms.read_text()) == {
        "to": "+32470123456",
        "body": "Truchement: rappel",
        "reference": "k1",
    }


def test_the_settings_choose_the_transports(tmp_path: Path) -> None:
    channels = build_channels(
        NotifySettings(
            email_backend="smtp",
            smtp_host="mail.example.org",
            smtp_port=465,
            smtp_security="tls",
            sms_backend="none",
        )
    )
    assert isinstance(channels.email, SmtpEmailTransport) and channels.email.security == "tls"
    assert channels.sms is None
    channels = build_channels(
        NotifySettings(
            email_backend="none",
            sms_backend="twilio",
            twilio_account_sid="AC1",
            twilio_auth_token="t",
            twilio_from_number="+32460000000",
        )
    )
    assert channels.email is None and isinstance(channels.sms, TwilioSmsGateway)
    channels = build_channels(
        NotifySettings(email_backend="file", sms_backend="file", outbox_dir=tmp_path)
    )
    assert isinstance(channels.email, FileEmailTransport) and isinstance(
        channels.sms, FileSmsGateway
    )


def make_custom_gateway(settings: NotifySettings) -> SmsRecorder:
    return SmsRecorder()


def test_a_custom_gateway_is_plugged_by_its_factory_path() -> None:
    settings = NotifySettings(
        sms_backend="custom", sms_gateway_factory="tests.notify.test_channels:make_custom_gateway"
    )
    assert isinstance(build_channels(settings).sms, SmsRecorder)


@pytest.mark.parametrize(
    "fields",
    [
        {"sms_backend": "twilio", "twilio_account_sid": "AC1"},
        {"sms_backend": "custom"},
        {"outbox_lease_seconds": 100, "smtp_deadline_seconds": 60},
        {"outbox_lease_seconds": 50, "smtp_deadline_seconds": 10, "sms_deadline_seconds": 30},
    ],
)
def test_incomplete_settings_are_refused_when_the_worker_starts(fields: dict[str, Any]) -> None:
    settings = NotifySettings(**fields)  # the web process still loads them: it only enqueues
    with pytest.raises(ValueError, match="TRUCHEMENT_"):
        build_channels(settings)


def test_the_lease_is_weighed_against_the_whole_send_not_one_step() -> None:
    # The incident: a 30 s lease passed the old check against the 20 s step timeout, and
    # a send of several 11 s steps outlived it.
    (problem,) = NotifySettings(
        outbox_lease_seconds=30, smtp_timeout_seconds=20
    ).delivery_problems()
    assert "TRUCHEMENT_SMTP_DEADLINE_SECONDS=60" in problem
    # A step timeout as long as the lease is harmless: the deadline cuts it.
    assert (
        NotifySettings(
            outbox_lease_seconds=30,
            smtp_timeout_seconds=30,
            smtp_deadline_seconds=15,
            sms_deadline_seconds=15,
        ).delivery_problems()
        == []
    )
    assert NotifySettings().delivery_problems() == []


def test_the_sms_reference_is_the_outbox_id_and_a_digest_of_the_deduplication_key() -> None:
    key = "reminder_2h:a1:u2:sms:2031-03-11T09:00:00+00:00"
    reference = sms_reference(42, key)
    assert re.fullmatch(r"outbox-42-[0-9a-f]{16}", reference)
    assert sms_reference(42, key) == reference  # the same on every attempt
    # Another database whose row 42 is another message never shares the key.
    assert sms_reference(42, key.replace("a1", "a7")) != reference
