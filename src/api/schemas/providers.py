"""Providers, their languages, availability and calendar feed, as the API reads and writes them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, model_validator

from api.schemas.assignments import UTCInstant
from api.schemas.common import ClockChange, Day, Id, Instant, LocalTime, ResponseModel, StrictModel
from api.schemas.users import Email
from booking.vocabulary import (
    AvailabilityExceptionKind,
    Country,
    Gender,
    Locale,
    MessageChannels,
    Modality,
    ProviderKind,
)

LanguageCode = Annotated[
    str, Field(pattern=r"^[a-z]{3}$", description="ISO 639-3 code, e.g. `tir`, `prs`, `ara`.")
]
Skill = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_\-]+$")]
DisplayName = Annotated[str, Field(min_length=1, max_length=200)]
Town = Annotated[str, Field(min_length=1, max_length=100)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
TravelMinutes = Annotated[int, Field(ge=0, le=600)]
DayMinutes = Annotated[int, Field(ge=1, le=1440)]
WeekMinutes = Annotated[int, Field(ge=1, le=10080)]
Mobile = Annotated[
    str,
    Field(
        min_length=3,
        max_length=32,
        description="A mobile number in any common notation, stored in E.164 "
        "(`+32470123456`); without country code it is read in the service's country.",
    ),
]
CHANNELS_DESCRIPTION = (
    "`both`: every message by email, and by SMS too for offers, confirmations, changes, "
    "cancellations and reminders; `email`: email only; `sms`: SMS for those, email for the "
    "rest. When the chosen channel cannot reach them (no address, no SMS gateway) the "
    "other one is used."
)


class LanguageIn(StrictModel):
    code: LanguageCode
    certified: bool = False
    certified_until: Day | None = Field(
        default=None,
        description="Last day the certification counts; after it the language still counts, "
        "uncertified.",
    )


class LanguageOut(ResponseModel):
    code: str
    certified: bool
    certified_until: dt.date | None
    certification_current: bool = Field(description="Whether the certification counts today.")


class PublicLanguageOut(ResponseModel):
    code: str
    certified: bool


class Home(StrictModel):
    lat: Latitude
    lon: Longitude
    town: Town


class HomeOut(ResponseModel):
    lat: float
    lon: float
    town: str


class ProviderCreate(StrictModel):
    """A new provider. A dispatcher adds to their own service; an admin names it."""

    organisation_id: Id | None = Field(
        default=None, description="The providing service (admin only; a dispatcher's own)."
    )
    user_id: Id | None = Field(
        default=None, description="The provider's login (a `provider` user of that service)."
    )
    display_name: DisplayName
    kind: ProviderKind
    gender: Gender | None = None
    languages: list[LanguageIn] = Field(min_length=1, max_length=30)
    skills: list[Skill] = Field(default_factory=list, max_length=30)
    modalities: list[Modality] = Field(
        default_factory=lambda: [Modality.ONSITE, Modality.PHONE, Modality.VIDEO],
        min_length=1,
        max_length=3,
    )
    home: Home
    countries: list[Country] = Field(
        default_factory=lambda: [Country.BE, Country.FR],
        max_length=2,
        description="Where they may work onsite (cross-border rule).",
    )
    max_travel_minutes: TravelMinutes = 90
    max_minutes_per_day: DayMinutes = 420
    max_minutes_per_week: WeekMinutes = 1800
    works_on_holidays: bool = False
    email: Email | None = Field(default=None, description="Where their messages go.")
    phone: Mobile | None = None
    locale: Locale | None = Field(
        default=None, description="The language of their messages; default: the service's."
    )
    message_channels: MessageChannels = Field(
        default=MessageChannels.BOTH, description=CHANNELS_DESCRIPTION
    )


class ContactUpdate(StrictModel):
    """How messages reach the provider; only the fields sent change, ``null`` clears."""

    email: Email | None = Field(default=None, description="Where their messages go.")
    phone: Mobile | None = None
    locale: Locale | None = Field(
        default=None,
        description="The language of their messages; `null`: the service's language.",
    )
    message_channels: MessageChannels | None = Field(default=None, description=CHANNELS_DESCRIPTION)


class ProviderUpdate(StrictModel):
    """The fields to change; ``languages`` replaces the whole list."""

    user_id: Id | None = None
    display_name: DisplayName | None = None
    kind: ProviderKind | None = None
    gender: Gender | None = None
    languages: list[LanguageIn] | None = Field(default=None, min_length=1, max_length=30)
    skills: list[Skill] | None = Field(default=None, max_length=30)
    modalities: list[Modality] | None = Field(default=None, min_length=1, max_length=3)
    home: Home | None = None
    countries: list[Country] | None = Field(default=None, max_length=2)
    max_travel_minutes: TravelMinutes | None = None
    max_minutes_per_day: DayMinutes | None = None
    max_minutes_per_week: WeekMinutes | None = None
    works_on_holidays: bool | None = None
    is_active: bool | None = None
    email: Email | None = None
    phone: Mobile | None = None
    locale: Locale | None = None
    message_channels: MessageChannels | None = None


class ProviderSummary(ResponseModel):
    """A provider's public face: what a requester may know (name, kind, languages)."""

    id: int
    display_name: str
    kind: ProviderKind
    languages: list[PublicLanguageOut]


class ProviderOut(ResponseModel):
    """Everything about a provider, for their dispatchers, an admin, and themself."""

    id: int
    organisation_id: int
    user_id: int | None
    display_name: str
    kind: ProviderKind
    gender: Gender | None
    languages: list[LanguageOut]
    skills: list[str]
    modalities: list[Modality]
    home: HomeOut
    countries: list[Country]
    max_travel_minutes: int
    max_minutes_per_day: int
    max_minutes_per_week: int
    works_on_holidays: bool
    is_active: bool
    email: str | None = Field(description="Their own, where their messages go (sign-in or not).")
    phone_e164: str | None = Field(description="Their mobile number, for SMS.")
    locale: Locale = Field(description="The language of their messages.")
    message_channels: MessageChannels = Field(description=CHANNELS_DESCRIPTION)
    reachable: bool = Field(
        description="Whether a message can reach them (an email or a phone); if not, "
        "confirm them by phone (`confirmed_by_phone`)."
    )
    has_calendar_feed: bool
    created_at: UTCInstant


class RuleIn(StrictModel):
    weekday: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday.")
    start_time: LocalTime = Field(
        description="Local wall-clock time of the provider's service (`08:30`)."
    )
    end_time: LocalTime
    valid_from: Day | None = None
    valid_until: Day | None = None

    @model_validator(mode="after")
    def _order(self) -> RuleIn:
        if self.start_time.tzinfo is not None or self.end_time.tzinfo is not None:
            raise ValueError("weekly times are local wall-clock times: send them without offset")
        if self.end_time <= self.start_time:
            raise ValueError("end_time must be after start_time (a slot stays within one day)")
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until must not be before valid_from")
        return self


class ExceptionIn(StrictModel):
    kind: AvailabilityExceptionKind
    starts_at: Instant
    ends_at: Instant
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _order(self) -> ExceptionIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class AvailabilityIn(StrictModel):
    """The whole availability; what is not listed is removed."""

    rules: list[RuleIn] = Field(default_factory=list, max_length=50)
    exceptions: list[ExceptionIn] = Field(default_factory=list, max_length=500)


class RuleOut(ResponseModel):
    id: int
    weekday: int
    start_time: dt.time
    end_time: dt.time
    valid_from: dt.date | None
    valid_until: dt.date | None


class ExceptionOut(ResponseModel):
    id: int
    kind: AvailabilityExceptionKind
    starts_at: UTCInstant
    ends_at: UTCInstant
    note: str | None


class RuleAdjustmentOut(ResponseModel):
    """A weekly rule's time that does not exist, or occurs twice, on one of its days."""

    rule_id: int
    weekday: int
    field: Literal["start_time", "end_time"]
    date: dt.date
    asked: dt.time
    local: dt.datetime = Field(
        description="What the time means that day, in the service's zone (03:30+02:00 for "
        "a 02:30 the spring change skips)."
    )
    kind: ClockChange
    detail: str


class AvailabilityOut(ResponseModel):
    provider_id: int
    timezone: str = Field(description="The zone the weekly rules' times are read in.")
    rules: list[RuleOut]
    exceptions: list[ExceptionOut]
    adjustments: list[RuleAdjustmentOut] = Field(
        default_factory=list,
        description="Within the booking horizon: the days a rule's time does not exist (the "
        "spring change; it is moved forward by the gap) or occurs twice (the autumn change; "
        "the first one counts).",
    )


class CalendarTokenOut(ResponseModel):
    """The private feed address: shown once; issuing a new one revokes it."""

    provider_id: int
    url: str = Field(description="Subscribe to this in a calendar client; keep it secret.")
    token: str
