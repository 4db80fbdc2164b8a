"""The privacy endpoints' shapes: the read log, retention periods, subject requests."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from api.schemas.common import ResponseModel, StrictModel
from booking.privacy.models import MAX_RETENTION_MONTHS, ReadSubject, ReadVia


class ReadLogOut(ResponseModel):
    """One read: who read what, when, from which organisation, whose data it is."""

    id: int
    at: dt.datetime
    reader_user_id: int | None = Field(description="None when a calendar feed was read.")
    reader_provider_id: int | None = Field(description="The provider whose feed was read.")
    reader_organisation_id: int | None
    subject_type: ReadSubject
    subject_id: int
    subject_organisation_id: int | None = Field(description="Whose data it is.")
    via: ReadVia


class RetentionOut(ResponseModel):
    organisation_id: int
    months: int = Field(description="Past sessions keep their beneficiary data this long.")


class RetentionIn(StrictModel):
    months: int = Field(ge=1, le=MAX_RETENTION_MONTHS)


class RetentionBookingOut(ResponseModel):
    id: int
    reference: str
    organisation_id: int
    starts_at: dt.datetime
    fields: list[str] = Field(description="What would be erased.")


class RetentionPreviewOut(ResponseModel):
    """The dry run: what the next retention run would erase, as of ``now``."""

    now: dt.datetime
    bookings: list[RetentionBookingOut]
    notifications: int
    read_log_rows: int


class SubjectIn(StrictModel):
    """A beneficiary, as their organisation knows them: in the body, never in an address
    (addresses reach logs)."""

    organisation_id: int = Field(ge=1, le=2**31 - 1)
    beneficiary_ref: str = Field(min_length=1, max_length=64)


class SubjectErasedOut(ResponseModel):
    organisation_id: int
    bookings: list[int] = Field(description="The bookings anonymised (kept, without their data).")
