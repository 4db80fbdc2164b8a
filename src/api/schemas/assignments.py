"""Assignments, candidates and offers, as the API reads and writes them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from api.schemas.common import Id, Instant, ResponseModel, StrictModel
from booking.bookings.models import MAX_PLACES
from booking.vocabulary import AssignmentStatus, ProviderKind


def _in_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)


UTCInstant = Annotated[dt.datetime, AfterValidator(_in_utc)]
"""An instant in an answer: always written in UTC (``...Z``), whatever zone it was computed in."""


class AssignmentCreate(StrictModel):
    """A dispatcher's manual choice, checked by the same rules as the matcher's."""

    booking_id: Id
    provider_id: Id
    starts_at: Instant | None = Field(
        default=None,
        description="Within the booking's window; default: the booking's planned start.",
    )
    status: Literal["proposed", "offered", "confirmed"] = Field(
        default="proposed",
        description="`proposed` (a draft), `offered` (sent to the provider now) or "
        "`confirmed` (the dispatcher already agreed it with the provider).",
    )
    offer_expires_in_minutes: int | None = Field(
        default=None,
        ge=1,
        le=7 * 24 * 60,
        description="For `offered`: minutes of the service's working hours (the offer "
        "clock stops at night, at weekends and on public holidays); default: the service's "
        "offer timeout.",
    )
    confirmed_by_phone: bool = Field(
        default=False,
        description="For `confirmed`: you agreed it with the provider on the phone. Required "
        "(409 `provider_unreachable` without it) when no message can reach them.",
    )
    place: int = Field(
        default=0,
        ge=0,
        lt=MAX_PLACES,
        description="Of a group booking, the place the provider takes (0: the booking's own "
        "language and needs; n: its `places[n-1]`), checked with that place's language and "
        "needs; 422 `no_such_place` for a place the booking lacks, 409 "
        "`provider_holds_another_place` for a provider who holds another place of it.",
    )


class ConfirmIn(StrictModel):
    confirmed_by_phone: bool = Field(
        default=False,
        description="You agreed it with the provider on the phone. Required (409 "
        "`provider_unreachable` without it) for a provider with no email and no phone.",
    )


class ReasonIn(StrictModel):
    reason: str | None = Field(default=None, max_length=500)


class AssignmentOut(ResponseModel):
    id: int
    booking_id: int
    booking_reference: str
    provider_id: int
    provider_name: str
    plan_id: int | None
    status: AssignmentStatus
    starts_at: UTCInstant
    ends_at: UTCInstant
    offer_expires_at: UTCInstant | None
    responded_at: UTCInstant | None
    confirmed_by_phone: bool = Field(
        description="The dispatcher confirmed it by phone (the provider has no email or phone)."
    )
    source: str | None = Field(description="`plan`, `manual` or `offer`.")
    explanation: str | None = Field(description="Why this provider, in a sentence.")
    booking_version: int = Field(description="The booking's version when this was made.")
    place: int = Field(
        default=0, description="Of a group booking, the place held (0: the booking's own)."
    )
    modality: str | None = Field(
        default=None,
        description="The step of the booking's modality ladder it is worked by (none: the "
        "booking's own modality).",
    )
    created_at: UTCInstant
    updated_at: UTCInstant


class WhyOut(ResponseModel):
    """One reason as data: the same code and parameters in every language."""

    code: str = Field(description='See docs/problem.md, "Explanations as data".')
    params: dict[str, str | int | float | bool] = Field(
        description="Ids (`p-3`, `b-12`), codes, minutes, counts, ISO 8601 instants."
    )
    because: WhyOut | None = Field(default=None, description="The reason behind it, if any.")


class CandidateOut(ResponseModel):
    provider_id: int
    display_name: str
    kind: ProviderKind
    feasible: bool
    starts_at: UTCInstant | None = Field(description="Best start, when feasible.")
    cost: int | None = Field(
        description="Added travel minutes minus 60 for a preferred provider; lower is better."
    )
    travel_minutes: int | None = Field(description="Driving minutes this adds to their day.")
    preferred: bool
    current: bool = Field(description="Holds or is proposed for this booking now.")
    reachable: bool = Field(
        description="Has an email or a phone; if not, offers skip them and confirming them "
        "needs `confirmed_by_phone`."
    )
    rule: int | None = Field(
        description="The hard rule (docs/problem.md, 1-11) that rules them out."
    )
    code: str | None = Field(
        description="`language`, `certification`, `kind`, `gender`, `skills`, `excluded`, "
        "`modality`, `country`, `travel_range`, `availability`, `daily_minutes`, "
        "`weekly_minutes`, `overlap`, `drive`, `fixed`."
    )
    detail: str = Field(description="Why (not), in the caller's language.")
    why: WhyOut = Field(description="The same reason as data: a code and its parameters.")


class CandidatesOut(ResponseModel):
    booking_id: int
    candidates: list[CandidateOut] = Field(
        description="Feasible first, cheapest first; then the others with the rule against them."
    )


class OfferCreate(StrictModel):
    count: int = Field(default=1, ge=1, le=20, description="How many providers to ask at once.")
    expires_in_minutes: int | None = Field(
        default=None,
        ge=1,
        le=7 * 24 * 60,
        description="Minutes of the service's working hours (the offer clock stops at night, "
        "at weekends and on public holidays); default: the service's offer timeout.",
    )
    place: int = Field(
        default=0,
        ge=0,
        lt=MAX_PLACES,
        description="Of a group booking, the place offered (0: its own), to the best "
        "candidates for that place's language and needs.",
    )


class OffersOut(ResponseModel):
    booking_id: int
    offers: list[AssignmentOut]


class DaySessionOut(ResponseModel):
    """One session of a provider's day, and the drive that brings them there."""

    assignment_id: int
    booking_id: int
    booking_reference: str
    status: AssignmentStatus
    starts_at: UTCInstant
    ends_at: UTCInstant
    modality: str = Field(description="`onsite`, `phone` or `video`: only onsite work drives.")
    travel_minutes: int = Field(description="The drive to this session; 0 if none.")
    from_home: bool = Field(description="Whether that drive starts at home.")


class ProviderDayOut(ResponseModel):
    """A provider's live work of the day in start order: home, each onsite place, home."""

    provider_id: int
    provider_name: str
    work_minutes: int = Field(description="Minutes of the day's sessions.")
    travel_minutes: int = Field(description="Minutes of the drives to the day's sessions.")
    return_minutes: int = Field(description="The drive home after the last onsite session.")
    sessions: list[DaySessionOut]


class DayRoutesOut(ResponseModel):
    date: dt.date = Field(description="The local day, in `timezone`.")
    timezone: str
    providers: list[ProviderDayOut] = Field(description="By name.")
