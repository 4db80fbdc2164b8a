"""The ways a message leaves: email over SMTP, SMS through a gateway, or files for development.

Two small interfaces, ``EmailTransport`` and ``SmsGateway``, so a deployment
can plug its own SMS provider (see ``TRUCHEMENT_SMS_BACKEND=custom``). A
transport raises ``DeliveryError`` when the message did not go out (or may
not have: no answer in time); ``PermanentDeliveryError`` when retrying cannot
help (a number the gateway refuses), which sends the message straight to
``dead``. The SMTP transport and the Twilio-compatible gateway end each send
by the delivery's deadline (``notify.deadline``), not only each network step
by its timeout.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import httpx

from notify.deadline import deadline_note, http_client, step_timeout
from notify.render import Attachment
from notify.settings import NotifySettings

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


class DeliveryError(Exception):
    """The message did not go out this time; it will be tried again."""

    permanent = False


class PermanentDeliveryError(DeliveryError):
    """The message can never go out as it is (refused address, bad request)."""

    permanent = True


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One email, rendered and addressed. ``message_id`` is stable per outbox row."""

    to: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...]
    message_id: str


@runtime_checkable
class EmailTransport(Protocol):
    def send_email(self, email: OutgoingEmail) -> None:
        """Hand the email over, or raise ``DeliveryError``."""


@runtime_checkable
class SmsGateway(Protocol):
    def send_sms(self, *, to: str, body: str, reference: str) -> str | None:
        """Send ``body`` to the E.164 number ``to``; return the gateway's id, or raise
        ``DeliveryError``. ``reference`` is the same on every attempt at one message
        (``outbox-<id>-<digest>``): give it to the gateway as its idempotency key, so a
        retry after an unanswered attempt is not sent twice. Return or raise by the
        delivery's deadline: ``notify.deadline.http_client`` keeps to it by itself."""


def message_id_for(dedup_key: str, sender: str) -> str:
    """A Message-ID derived from the deduplication key: a retry after a crash carries the
    same id, so mail systems that deduplicate on it show the message once."""
    digest = hashlib.sha256(dedup_key.encode()).hexdigest()[:32]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "truchement.invalid"
    return f"<{digest}@{domain}>"


def sms_reference(outbox_id: int, dedup_key: str) -> str:
    """The SMS gateway's idempotency key: the outbox id (to find the row from the gateway's
    logs) and a digest of the deduplication key (so two databases whose ids overlap, a
    staging copy or a second deployment on the same account, never share a key). Letters,
    digits and hyphens only, as strict gateways require."""
    digest = hashlib.sha256(dedup_key.encode()).hexdigest()[:16]
    return f"outbox-{outbox_id}-{digest}"


def build_email_message(email: OutgoingEmail, *, sender: str) -> EmailMessage:
    """The MIME message: plain text and HTML alternatives, then the attachments."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = email.message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    for attachment in email.attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        message.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype,
            filename=attachment.filename,
            params=dict(attachment.params),
        )
    return message


class _SocketReader(io.RawIOBase):
    """The server's replies, each ``recv`` cut to the time left: a reply trickled byte by
    byte cannot stretch one step beyond the deadline."""

    def __init__(self, sock: Any, timeout: float | None) -> None:
        super().__init__()
        self._sock = sock
        self._timeout = timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(step_timeout(self._timeout))
        return int(self._sock.recv_into(buffer))


class _BoundedSMTP(smtplib.SMTP):
    """smtplib with every step (connect, each command, each read of a reply, the TLS
    handshake) ending by the delivery's deadline (``notify.deadline.step_timeout``)."""

    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        # A private method of smtplib (the one SMTP_SSL overrides), absent from typeshed.
        return super()._get_socket(host, port, step_timeout(timeout))  # type: ignore[misc]

    def send(self, s: ReadableBuffer | str) -> None:
        if self.sock is not None:
            self.sock.settimeout(step_timeout(self.timeout))
        super().send(s)

    def getreply(self) -> tuple[int, bytes]:
        if self.file is None and self.sock is not None:
            self.file = io.BufferedReader(_SocketReader(self.sock, self.timeout))
        return super().getreply()


class _BoundedSMTP_SSL(_BoundedSMTP, smtplib.SMTP_SSL):
    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        # smtplib's private method and attribute (the host given to connect()), which
        # SMTP_SSL itself uses here; typeshed leaves both out.
        connect = smtplib.SMTP._get_socket  # type: ignore[attr-defined]
        host_name: str = self._host  # type: ignore[attr-defined]
        sock = connect(self, host, port, step_timeout(timeout))
        sock.settimeout(step_timeout(timeout))  # the handshake gets what the connect left
        return self.context.wrap_socket(sock, server_hostname=host_name)


class SmtpEmailTransport:
    """Email over SMTP: plain, STARTTLS (port 587) or implicit TLS (port 465), with login.

    ``timeout`` bounds each network step; inside ``notify.deadline.within`` the
    whole send ends by the deadline too.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        sender: str,
        timeout: float = 20.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("none", "starttls", "tls"):
            raise ValueError(f"unknown SMTP security {security!r}")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.sender = sender
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()

    def send_email(self, email: OutgoingEmail) -> None:
        message = build_email_message(email, sender=self.sender)
        try:
            client, refused = self._hand_over(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentDeliveryError(f"SMTP refused the recipient: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            error = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            # 5xx is a final answer from the server, except for authentication
            # (a configuration to fix, after which the message should go).
            if 500 <= exc.smtp_code < 600 and exc.smtp_code not in (530, 534, 535, 538):
                raise PermanentDeliveryError(error) from exc
            raise DeliveryError(error) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP {type(exc).__name__}: {exc}{deadline_note()}") from exc
        # The server has accepted the message: a slow or failing QUIT cannot undo that,
        # and reporting a failure now would only send it a second time.
        with contextlib.suppress(OSError, smtplib.SMTPException):
            client.quit()
        client.close()
        if refused:
            raise PermanentDeliveryError(f"SMTP refused: {refused}")

    def _hand_over(self, message: EmailMessage) -> tuple[smtplib.SMTP, dict[str, Any]]:
        """Connect, secure, log in and send; the connection is closed if any step fails."""
        client: smtplib.SMTP
        if self.security == "tls":
            client = _BoundedSMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self.ssl_context
            )
        else:
            client = _BoundedSMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                client.starttls(context=self.ssl_context)
            if self.username:
                client.login(self.username, self.password or "")
            return client, client.send_message(message)
        except BaseException:
            client.close()
            raise


class TwilioSmsGateway:
    """SMS through a Twilio-compatible REST API (``POST /2010-04-01/Accounts/{sid}/Messages.json``).

    Several European gateways speak the same dialect; point
    ``TRUCHEMENT_TWILIO_BASE_URL`` at theirs.
    """

    def __init__(
        self,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
        from_number: str,
        timeout: float = 15.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.auth = (account_sid, auth_token)
        self.from_number = from_number
        self.client = client or http_client(timeout=timeout)

    def send_sms(self, *, to: str, body: str, reference: str) -> str | None:
        try:
            response = self.client.post(
                self.url,
                data={"To": to, "From": self.from_number, "Body": body},
                auth=self.auth,
                headers={"Idempotency-Key": reference},
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(
                f"SMS gateway unreachable: {type(exc).__name__}: {exc}{deadline_note()}"
            ) from exc
        if response.status_code in (200, 201):
            try:
                sid = response.json().get("sid")
            except ValueError:
                sid = None
            return str(sid) if sid else None
        detail = _gateway_error(response)
        if response.status_code == 429 or response.status_code >= 500:
            raise DeliveryError(f"SMS gateway {response.status_code}: {detail}")
        # 400 (invalid number, unsubscribed recipient...), 401, 403, 404: retrying the
        # same request gets the same answer.
        raise PermanentDeliveryError(f"SMS gateway {response.status_code}: {detail}")


def _gateway_error(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(payload, dict):
        return f"{payload.get('code', '')} {payload.get('message', '')}".strip()[:200]
    return str(payload)[:200]


def _write_atomically(path: Path, content: bytes) -> None:
    """Readers of the folder never see half a message."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FileEmailTransport:
    """Development: each email becomes ``<folder>/email/<message-id>.eml``."""

    def __init__(self, directory: Path, *, sender: str) -> None:
        self.directory = Path(directory) / "email"
        self.sender = sender

    def send_email(self, email: OutgoingEmail) -> None:
        message = build_email_message(email, sender=self.sender)
        name = email.message_id.strip("<>").partition("@")[0]
        try:
            _write_atomically(self.directory / f"{name}.eml", bytes(message))
        except OSError as exc:
            raise DeliveryError(f"cannot write the email file: {exc}") from exc


class FileSmsGateway:
    """Development: each SMS becomes ``<folder>/sms/<reference>.json``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory) / "sms"

    def send_sms(self, *, to: str, body: str, reference: str) -> str | None:
        name = hashlib.sha256(reference.encode()).hexdigest()[:32]
        payload = json.dumps({"to": to, "body": body, "reference": reference}, ensure_ascii=False)
        try:
            _write_atomically(self.directory / f"{name}.json", payload.encode())
        except OSError as exc:
            raise DeliveryError(f"cannot write the SMS file: {exc}") from exc
        return name


@dataclass(frozen=True, slots=True)
class Channels:
    """The transports the worker uses; ``None`` switches a channel off."""

    email: EmailTransport | None
    sms: SmsGateway | None
    sender: str


def load_factory(path: str) -> Any:
    """``package.module:callable`` -> the callable."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected 'package.module:callable', got {path!r}")
    return getattr(importlib.import_module(module_name), attribute)


def build_channels(settings: NotifySettings) -> Channels:
    """The transports the settings ask for; ``ValueError`` if the settings are incomplete."""
    problems = settings.delivery_problems()
    if problems:
        raise ValueError("; ".join(problems))
    email: EmailTransport | None = None
    if settings.email_backend == "smtp":
        email = SmtpEmailTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            sender=settings.smtp_from,
            timeout=settings.smtp_timeout_seconds,
        )
    elif settings.email_backend == "file":
        email = FileEmailTransport(settings.outbox_dir, sender=settings.smtp_from)
    sms: SmsGateway | None = None
    if settings.sms_backend == "twilio":
        sms = TwilioSmsGateway(
            base_url=settings.twilio_base_url,
            account_sid=settings.twilio_account_sid or "",
            auth_token=(
                settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
            ),
            from_number=settings.twilio_from_number or "",
            timeout=settings.sms_timeout_seconds,
        )
    elif settings.sms_backend == "file":
        sms = FileSmsGateway(settings.outbox_dir)
    elif settings.sms_backend == "custom":
        sms = load_factory(settings.sms_gateway_factory or "")(settings)
        if not isinstance(sms, SmsGateway):
            raise TypeError(f"{settings.sms_gateway_factory} did not return an SmsGateway")
    return Channels(email=email, sms=sms, sender=settings.smtp_from)
