"""What the enqueue side of the outbox reads from the environment (``TRUCHEMENT_`` prefix).

The web process only enqueues, but at that moment it decides whether an SMS
is written at all, to which number and when it may go, and how many attempts
a message gets. The worker's settings (``notify.settings.NotifySettings``)
extend these: one variable, one meaning, in both processes.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OutboxSettings(BaseSettings):
    """Whether and when a message is written, whichever process writes it."""

    model_config = SettingsConfigDict(env_prefix="TRUCHEMENT_", env_file=".env", extra="ignore")

    # With ``none`` no SMS is even queued; the worker builds the gateway from the rest.
    sms_backend: Literal["none", "file", "twilio", "custom"] = "none"
    sms_default_region: str = "BE"
    sms_quiet_start: dt.time = dt.time(21, 0)
    sms_quiet_end: dt.time = dt.time(8, 0)
    sms_urgent_within_hours: int = Field(default=12, ge=0)
    outbox_max_attempts: int = Field(default=6, ge=1, le=100)


@lru_cache
def get_outbox_settings() -> OutboxSettings:
    return OutboxSettings()
