"""The outbox as operators see it: what was sent to whom, what failed and why."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from api.schemas.common import ResponseModel
from booking.vocabulary import Channel, Locale, OutboxStatus


class NotificationOut(ResponseModel):
    """One message of the outbox (its rendered content is not exposed)."""

    id: int
    event: str = Field(description="What caused it, e.g. `assignment_confirmed`, `reminder_24h`.")
    channel: Channel
    status: OutboxStatus = Field(
        description="`pending` -> `sending` -> `sent`; `failed` waits for a retry; `dead` "
        "gave up (see `last_error`); `void` was cancelled before it went out."
    )
    recipient: str = Field(description="Email address or E.164 phone number.")
    recipient_user_id: int | None = Field(description="The user written to, if any.")
    recipient_provider_id: int | None = Field(
        description="The provider written to, at their own contact (with or without a login)."
    )
    locale: Locale
    template: str
    booking_id: int | None
    due_at: dt.datetime = Field(description="When it goes out (or went out, or is retried).")
    attempts: int
    max_attempts: int
    lease_until: dt.datetime | None = Field(
        description="While `sending`: when another worker may take it over."
    )
    last_error: str | None
    sent_at: dt.datetime | None
    created_at: dt.datetime
