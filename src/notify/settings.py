"""Notification settings, read from the environment with the ``TRUCHEMENT_`` prefix.

The reminder offsets live with the booking settings
(``TRUCHEMENT_REMINDER_OFFSETS_HOURS``), and what decides at enqueue time
whether and when a message goes (the SMS backend, the quiet hours, the number
of attempts) with the outbox (``booking.outbox.settings``), which these extend;
everything else about delivery is here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from booking.outbox.settings import OutboxSettings

# The lease lasts at least this many send deadlines: what is left after the send covers
# writing its outcome and the clocks of several worker machines disagreeing.
LEASE_PER_DEADLINE = 2


class NotifySettings(OutboxSettings):
    """How messages leave the service: SMTP, the SMS gateway, the worker's pace."""

    model_config = SettingsConfigDict(env_prefix="TRUCHEMENT_", env_file=".env", extra="ignore")

    email_backend: Literal["smtp", "file", "none"] = "file"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Truchement <noreply@truchement.invalid>"
    # Each network step (connect, one command, one reply) of an SMTP send...
    smtp_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    # ... and the whole send, from the claim of the message (see notify.deadline).
    smtp_deadline_seconds: float = Field(default=60.0, gt=0, le=3600)

    # For ``custom``: "package.module:factory", called with these settings, returning an
    # object with ``send_sms(*, to, body, reference)`` (see notify.channels.SmsGateway).
    sms_gateway_factory: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    sms_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    sms_deadline_seconds: float = Field(default=30.0, gt=0, le=3600)

    outbox_dir: Path = Path("./outbox")

    outbox_backoff_base_seconds: float = Field(default=60.0, gt=0)
    outbox_backoff_max_seconds: float = Field(default=6 * 3600.0, gt=0)
    # Checked against the deadlines when the worker starts (LEASE_PER_DEADLINE).
    outbox_lease_seconds: int = Field(default=300, ge=1)
    outbox_batch_size: int = Field(default=50, ge=1, le=1000)

    worker_interval_seconds: int = Field(default=30, ge=1)
    digest_hour: int = Field(default=7, ge=0, le=23)
    digest_horizon_hours: int = Field(default=48, ge=1)

    def delivery_problems(self) -> list[str]:
        """What keeps the worker from delivering with these settings (empty when fine).

        Checked by the worker at start (``notify.channels.build_channels``), not
        here at load: the web process only enqueues, and a half-configured
        gateway must not turn every booking request into an error.
        """
        problems: list[str] = []
        if self.sms_backend == "twilio":
            missing = [
                name
                for name, value in (
                    ("TRUCHEMENT_TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                    ("TRUCHEMENT_TWILIO_AUTH_TOKEN", self.twilio_auth_token),
                    ("TRUCHEMENT_TWILIO_FROM_NUMBER", self.twilio_from_number),
                )
                if not value
            ]
            if missing:
                problems.append(f"TRUCHEMENT_SMS_BACKEND=twilio needs {', '.join(missing)}")
        if self.sms_backend == "custom" and not self.sms_gateway_factory:
            problems.append("TRUCHEMENT_SMS_BACKEND=custom needs TRUCHEMENT_SMS_GATEWAY_FACTORY")
        deadline, name = max(
            (self.smtp_deadline_seconds, "TRUCHEMENT_SMTP_DEADLINE_SECONDS"),
            (self.sms_deadline_seconds, "TRUCHEMENT_SMS_DEADLINE_SECONDS"),
        )
        if self.outbox_lease_seconds < LEASE_PER_DEADLINE * deadline:
            problems.append(
                f"TRUCHEMENT_OUTBOX_LEASE_SECONDS ({self.outbox_lease_seconds}) must be at least "
                f"{LEASE_PER_DEADLINE} times the longest send deadline ({name}={deadline:g}): "
                "a worker still sending when its lease runs out lets another send it again"
            )
        return problems

    def deadline_seconds(self, channel: str) -> float:
        """The time one delivery on ``channel`` may take, from its claim to its outcome."""
        return self.sms_deadline_seconds if channel == "sms" else self.smtp_deadline_seconds


@lru_cache
def get_notify_settings() -> NotifySettings:
    return NotifySettings()
