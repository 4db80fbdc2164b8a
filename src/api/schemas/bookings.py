"""Bookings and series as the API reads and writes them.

Times go in as ISO 8601 with an offset (a time without one is refused) and
come out in UTC. The shapes here only check form (types, lengths, word
lists); the rules that need the database or the clock (known language,
start in the future, place in the service area...) are the services' and
come back as the same 422 problem, with ``errors`` naming the fields.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Any, Literal, cast

from pydantic import Field, StringConstraints, model_validator

from api.schemas.common import (
    CLOCK_CHANGES,
    ClockChange,
    Day,
    Id,
    Instant,
    LocalTime,
    ResponseModel,
    StrictModel,
)
from booking.bookings.models import (
    MAX_DURATION_MINUTES,
    MAX_PLACES,
    MIN_DURATION_MINUTES,
    NOTES_MAX_LENGTH,
    VIDEO_LINK_MAX_LENGTH,
    Booking,
)
from booking.bookings.provider_view import ProviderBookingView, work_times
from booking.bookings.series import (
    MAX_INTERVAL_WEEKS,
    MAX_OCCURRENCES,
    MAX_SHIFT_DAYS,
    Adjustment,
    Recurrence,
    Scope,
    SeriesMove,
)
from booking.bookings.service import BookingView, HistoryEntry
from booking.bookings.validation import (
    ADDRESS_MAX_LENGTH,
    BENEFICIARY_REF_PATTERN,
    CANCEL_REASON_MAX_LENGTH,
    LANGUAGE_VARIETY_MAX_LENGTH,
    MAX_PROVIDER_IDS,
    MAX_SKILLS,
    SKILL_MAX_LENGTH,
    BookingData,
    BookingPatch,
    Place,
    PlaceNeeds,
    Urgency,
    Window,
)
from booking.plans.staffable import StaffableView
from booking.vocabulary import (
    AssignmentStatus,
    BookingStatus,
    Country,
    Gender,
    Modality,
    ProviderKind,
    ProviderKindRequirement,
    SessionKind,
    as_word,
)

Duration = Annotated[int, Field(ge=MIN_DURATION_MINUTES, le=MAX_DURATION_MINUTES)]
Skill = Annotated[str, StringConstraints(min_length=1, max_length=SKILL_MAX_LENGTH)]
LanguageCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]{3}$"),
    Field(description="ISO 639-3 code of a language the service books (`tir`, `prs`, `ara`...)."),
]
BeneficiaryRef = Annotated[
    str,
    StringConstraints(pattern=BENEFICIARY_REF_PATTERN),
    Field(
        description="Pseudonymous reference kept by the requesting organisation (`b-7c1f`): "
        "1 to 64 letters, digits and dashes. Never a name, a date of birth or anything "
        "else that identifies the person.",
        examples=["b-7c1f"],
    ),
]
Notes = Annotated[
    str,
    Field(
        max_length=NOTES_MAX_LENGTH,
        description="For the dispatcher and the assigned provider only; never sent by SMS. "
        "No names or health details beyond what the session needs.",
    ),
]
Variety = Annotated[
    str,
    Field(
        max_length=LANGUAGE_VARIETY_MAX_LENGTH,
        description="Variety or dialect when it matters (Sudanese Arabic, Sorani).",
    ),
]


def _utc(value: dt.datetime) -> dt.datetime:
    """Every instant goes out in UTC, whatever offset it came in with."""
    return value.astimezone(dt.UTC)


class PlaceIn(StrictModel):
    """An address and its coordinates, in the service area."""

    address: str = Field(min_length=1, max_length=ADDRESS_MAX_LENGTH)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    country: Country

    def to_place(self) -> Place:
        return Place(address=self.address, lat=self.lat, lon=self.lon, country=self.country)


class PlaceOut(ResponseModel):
    address: str | None
    lat: float
    lon: float
    country: Country

    @classmethod
    def of(cls, booking: Booking) -> PlaceOut | None:
        """The booking's place, if it has one (onsite sessions do)."""
        if (
            booking.location_lat is None
            or booking.location_lon is None
            or booking.location_country is None
        ):
            return None
        return cls(
            address=booking.address,
            lat=booking.location_lat,
            lon=booking.location_lon,
            country=Country(booking.location_country),
        )


class WindowIn(StrictModel):
    """The interval in which the matcher may choose the start (``latest`` is the latest start)."""

    earliest: Instant
    latest: Instant

    def to_window(self) -> Window:
        return Window(earliest=self.earliest, latest=self.latest)


class WindowOut(ResponseModel):
    earliest: dt.datetime
    latest: dt.datetime


class NeedsIn(StrictModel):
    """Who can take the session: hard rules, plus continuity and people to avoid."""

    provider_kind: ProviderKindRequirement = ProviderKindRequirement.ANY
    gender: Gender | None = Field(default=None, description="A hard rule when set.")
    certified: bool = Field(default=False, description="A certified interpreter is required.")
    skills: list[Skill] = Field(default_factory=list, max_length=MAX_SKILLS)
    preferred_provider_ids: list[Id] = Field(
        default_factory=list,
        max_length=MAX_PROVIDER_IDS,
        description="Continuity: providers to keep if possible (a series adds its own).",
    )
    excluded_provider_ids: list[Id] = Field(
        default_factory=list,
        max_length=MAX_PROVIDER_IDS,
        description="Never these people (they know the person, or the person refuses them).",
    )


class NeedsPatch(StrictModel):
    """Any subset of the needs; the others stay as they are."""

    provider_kind: ProviderKindRequirement | None = None
    gender: Gender | None = None
    certified: bool | None = None
    skills: list[Skill] | None = Field(default=None, max_length=MAX_SKILLS)
    preferred_provider_ids: list[Id] | None = Field(default=None, max_length=MAX_PROVIDER_IDS)
    excluded_provider_ids: list[Id] | None = Field(default=None, max_length=MAX_PROVIDER_IDS)

    @model_validator(mode="after")
    def _no_null_lists(self) -> NeedsPatch:
        for name in (
            "provider_kind",
            "certified",
            "skills",
            "preferred_provider_ids",
            "excluded_provider_ids",
        ):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class NeedsOut(ResponseModel):
    provider_kind: ProviderKindRequirement
    gender: Gender | None
    certified: bool
    skills: list[str]
    preferred_provider_ids: list[int]
    excluded_provider_ids: list[int]


class SessionFields(StrictModel):
    """What a booking and the first occurrence of a series have in common."""

    organisation_id: Id | None = Field(
        default=None,
        description="The organisation the session is for. A requester's own by default; "
        "dispatchers and admins must give it.",
    )
    language: LanguageCode
    language_variety: Variety | None = None
    session_kind: SessionKind
    modality: Modality
    site_id: Id | None = Field(
        default=None, description="A site of the organisation; its address is copied."
    )
    location: PlaceIn | None = Field(
        default=None, description="Instead of a site. Onsite sessions need one or the other."
    )
    starts_at: Instant = Field(examples=["2026-12-01T10:00:00+01:00"])
    duration_minutes: Duration | None = Field(
        default=None, description="15 minutes to 8 hours; or give `ends_at`."
    )
    ends_at: Instant | None = None
    window: WindowIn | None = None
    needs: NeedsIn = Field(default_factory=NeedsIn)
    urgency: Urgency = Field(
        default=Urgency.NORMAL, description="normal, high or urgent (priority 1, 2, 3)."
    )
    beneficiary_ref: BeneficiaryRef | None = None
    notes: Notes | None = None

    def to_data(self) -> BookingData:
        needs = self.needs
        return BookingData(
            organisation_id=self.organisation_id,
            language_code=self.language,
            language_variety=self.language_variety,
            session_kind=self.session_kind,
            modality=self.modality,
            site_id=self.site_id,
            location=self.location.to_place() if self.location is not None else None,
            starts_at=self.starts_at,
            duration_minutes=self.duration_minutes,
            ends_at=self.ends_at,
            window=self.window.to_window() if self.window is not None else None,
            provider_kind=needs.provider_kind,
            required_gender=needs.gender,
            requires_certified=needs.certified,
            required_skills=tuple(needs.skills),
            preferred_provider_ids=tuple(needs.preferred_provider_ids),
            excluded_provider_ids=tuple(needs.excluded_provider_ids),
            urgency=self.urgency,
            beneficiary_ref=self.beneficiary_ref,
            notes=self.notes,
        )


class GroupPlaceIn(StrictModel):
    """One more provider the session needs: a language, and the needs of whoever takes it."""

    language: LanguageCode
    provider_kind: ProviderKindRequirement = ProviderKindRequirement.ANY
    gender: Gender | None = None
    certified: bool = False
    skills: list[Skill] = Field(default_factory=list, max_length=MAX_SKILLS)

    def to_needs(self) -> PlaceNeeds:
        return PlaceNeeds(
            language_code=self.language,
            provider_kind=self.provider_kind,
            required_gender=self.gender,
            requires_certified=self.certified,
            required_skills=tuple(self.skills),
        )


class ProviderUpdateHint(ResponseModel):
    """The provider update a dispatcher sends to take a cross-border or longer-drive suggestion."""

    provider_id: int
    body: dict[str, object] = Field(
        description='`{"countries": [...]}` (the whole list, one more) or '
        '`{"max_travel_minutes": n}`.'
    )
    if_match: str = Field(description="The provider's `ETag` when the suggestion was made.")


class StaffableOut(ResponseModel):
    """One change that would let someone take the booking, and the edit that makes it."""

    kind: str = Field(
        description="start, modality, drop_need, all_or_nothing (a group going ahead with the "
        "`places` of its `of` that can be staffed; the requester's); cross_border, "
        "travel_limit (a provider's or a dispatcher's)."
    )
    change: dict[str, str | int]
    provider_ids: list[int] = Field(description="Who could then take it, the first at starts_at.")
    starts_at: dt.datetime
    update: dict[str, object] | None = Field(
        description="The body of the `PATCH /bookings/{id}` that takes it (send `If-Match`); "
        "null when it is not the requester's to make."
    )
    provider_update: ProviderUpdateHint | None = Field(
        default=None,
        description="Of a cross_border or travel_limit suggestion, for the provider's "
        "dispatchers and an admin: the `PATCH /providers/{provider_id}` that takes it (send "
        "`if_match` as `If-Match`); null for anyone else, and for the other kinds.",
    )

    @classmethod
    def of(cls, view: StaffableView, *, dispatcher: bool = False) -> StaffableOut:
        """``dispatcher``: the caller may change the suggestion's provider."""
        change = view.provider_change if dispatcher else None
        return cls(
            kind=view.kind,
            change=view.change,
            provider_ids=[p.id for p in view.providers],
            starts_at=_utc(view.starts_at),
            update=_update_body(view.patch) if view.patch is not None else None,
            provider_update=(
                ProviderUpdateHint(
                    provider_id=change.provider.id, body=change.changes, if_match=change.etag
                )
                if change is not None
                else None
            ),
        )


def _update_body(patch: BookingPatch) -> dict[str, object]:
    """A `BookingPatch` as the API's update body."""
    body: dict[str, object] = {}
    needs: dict[str, object] = {}
    for key, value in patch.items():
        if key == "starts_at" and isinstance(value, dt.datetime):
            body["starts_at"] = value.isoformat()
        elif key == "window":
            body["window"] = None
        elif key in ("modality", "all_or_nothing"):
            body[key] = value
        elif key == "required_gender":
            needs["gender"] = value
        elif key == "requires_certified":
            needs["certified"] = value
        elif key == "provider_kind":
            needs["provider_kind"] = value
        elif key == "required_skills" and isinstance(value, tuple):
            needs["skills"] = list(value)
    if needs:
        body["needs"] = needs
    return body


class GroupPlaceOut(ResponseModel):
    place: int = Field(description="1, 2...: the booking's own language and needs are place 0.")
    language: str
    provider_kind: ProviderKindRequirement
    gender: Gender | None
    certified: bool
    skills: list[str]


class BookingCreate(SessionFields):
    """One session that needs an interpreter, ambassador or mediator (or several: `places`)."""

    places: list[GroupPlaceIn] = Field(
        default_factory=list,
        max_length=MAX_PLACES - 1,
        description="A group: one more provider per place (another language, or a second "
        "interpreter who takes turns), at the same time and place.",
    )
    all_or_nothing: bool = Field(
        default=True, description="With places: the group needs every one of them, or none."
    )
    accepted_modalities: list[Modality] = Field(
        default_factory=list,
        max_length=2,
        description='Lower steps the requester accepts, best first ("or video if nobody can '
        'come"): phone or video. With places, each place climbs down on its own.',
    )
    video_link: str | None = Field(
        default=None,
        max_length=VIDEO_LINK_MAX_LENGTH,
        description="The link a video session is held on; its messages carry it.",
    )

    def to_data(self) -> BookingData:
        return dataclasses.replace(
            super().to_data(),
            places=tuple(p.to_needs() for p in self.places),
            all_or_nothing=self.all_or_nothing,
            accepted_modalities=tuple(self.accepted_modalities),
            video_link=self.video_link,
        )


class BookingUpdate(StrictModel):
    """A partial change (JSON merge patch): fields left out stay, ``null`` clears.

    Giving ``location`` drops the site, giving ``site_id`` drops the typed
    location. The language and the organisation cannot change: cancel and
    book again.
    """

    starts_at: Instant | None = None
    duration_minutes: Duration | None = None
    ends_at: Instant | None = None
    window: WindowIn | None = None
    site_id: Id | None = None
    location: PlaceIn | None = None
    modality: Modality | None = None
    session_kind: SessionKind | None = None
    language_variety: Variety | None = None
    needs: NeedsPatch | None = None
    urgency: Urgency | None = None
    beneficiary_ref: BeneficiaryRef | None = None
    notes: Notes | None = None
    all_or_nothing: bool | None = Field(
        default=None,
        description="Of a group: whether it needs every place, or may go ahead with fewer.",
    )

    @model_validator(mode="after")
    def _required_stay_required(self) -> BookingUpdate:
        for name in ("starts_at", "modality", "session_kind", "needs", "urgency", "all_or_nothing"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def to_patch(self) -> BookingPatch:
        given = self.model_fields_set
        patch: dict[str, Any] = {}
        simple = (
            "starts_at",
            "duration_minutes",
            "ends_at",
            "site_id",
            "modality",
            "session_kind",
            "language_variety",
            "urgency",
            "beneficiary_ref",
            "notes",
            "all_or_nothing",
        )
        for name in simple:
            if name in given:
                patch[name] = getattr(self, name)
        if "window" in given:
            patch["window"] = self.window.to_window() if self.window is not None else None
        if "location" in given:
            patch["location"] = self.location.to_place() if self.location is not None else None
        if self.needs is not None:
            needs = self.needs
            renamed = {
                "provider_kind": "provider_kind",
                "gender": "required_gender",
                "certified": "requires_certified",
                "skills": "required_skills",
                "preferred_provider_ids": "preferred_provider_ids",
                "excluded_provider_ids": "excluded_provider_ids",
            }
            for name, target in renamed.items():
                if name in needs.model_fields_set:
                    value = getattr(needs, name)
                    patch[target] = tuple(value) if isinstance(value, list) else value
        return cast(BookingPatch, patch)  # built key by key from the fields given


class CancelIn(StrictModel):
    reason: str = Field(
        min_length=1,
        max_length=CANCEL_REASON_MAX_LENGTH,
        description="Why, for the provider and the records (no health details).",
    )


class AssignedProviderOut(ResponseModel):
    """Who holds the session: a name to greet, never a home address or a phone number."""

    id: int
    display_name: str
    kind: ProviderKind
    assignment_status: AssignmentStatus


class BookingOut(ResponseModel):
    id: int
    reference: str = Field(description="Say it on the phone: `TR-7K4Q-X2M9`.")
    organisation_id: int
    requester_id: int
    status: BookingStatus
    version: int = Field(description="Also the `ETag`; send it back as `If-Match` to change.")
    language: str
    language_variety: str | None
    session_kind: SessionKind
    modality: Modality
    site_id: int | None
    location: PlaceOut | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    duration_minutes: int
    window: WindowOut | None
    needs: NeedsOut
    urgency: Urgency
    priority: int
    beneficiary_ref: str | None
    notes: str | None
    series_id: int | None
    series_index: int | None
    assigned_provider: AssignedProviderOut | None
    unfilled_reason: str | None
    cancel_reason: str | None
    cancelled_at: dt.datetime | None
    late_cancellation: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    places: list[GroupPlaceOut] = Field(
        default_factory=list, description="A group's other places (its own is place 0)."
    )
    all_or_nothing: bool = True
    accepted_modalities: list[Modality] = Field(default_factory=list)
    video_link: str | None = None

    @classmethod
    def from_view(cls, view: BookingView) -> BookingOut:
        booking = view.booking
        location = PlaceOut.of(booking)
        window = None
        if booking.window_earliest is not None and booking.window_latest is not None:
            window = WindowOut(
                earliest=_utc(booking.window_earliest), latest=_utc(booking.window_latest)
            )
        holder = view.assigned_provider
        return cls(
            id=booking.id,
            reference=booking.reference,
            organisation_id=booking.organisation_id,
            requester_id=booking.requester_id,
            status=BookingStatus(booking.status),
            version=booking.version_id,
            language=booking.language_code,
            language_variety=booking.language_variety,
            session_kind=SessionKind(booking.session_kind),
            modality=Modality(booking.modality),
            site_id=booking.site_id,
            location=location,
            starts_at=_utc(booking.starts_at),
            ends_at=_utc(booking.ends_at),
            duration_minutes=booking.duration_minutes,
            window=window,
            needs=NeedsOut(
                provider_kind=ProviderKindRequirement(booking.provider_kind),
                gender=Gender(booking.required_gender) if booking.required_gender else None,
                certified=booking.requires_certified,
                skills=list(booking.required_skills or []),
                preferred_provider_ids=view.preferred_provider_ids,
                excluded_provider_ids=view.excluded_provider_ids,
            ),
            urgency=Urgency(view.urgency),
            priority=booking.priority,
            beneficiary_ref=booking.beneficiary_ref,
            notes=booking.notes,
            series_id=booking.series_id,
            series_index=booking.series_index,
            assigned_provider=(
                AssignedProviderOut(
                    id=holder.id,
                    display_name=holder.display_name,
                    kind=ProviderKind(holder.kind),
                    assignment_status=AssignmentStatus(holder.assignment_status),
                )
                if holder is not None
                else None
            ),
            unfilled_reason=booking.unfilled_reason,
            cancel_reason=booking.cancel_reason,
            cancelled_at=_utc(booking.cancelled_at) if booking.cancelled_at else None,
            late_cancellation=booking.late_cancellation,
            created_at=_utc(booking.created_at),
            updated_at=_utc(booking.updated_at),
            places=[
                GroupPlaceOut(
                    place=p.position,
                    language=p.language_code,
                    provider_kind=ProviderKindRequirement(p.provider_kind),
                    gender=Gender(p.required_gender) if p.required_gender else None,
                    certified=p.requires_certified,
                    skills=list(p.required_skills or []),
                )
                for p in booking.places
            ],
            all_or_nothing=booking.all_or_nothing,
            accepted_modalities=[Modality(m) for m in booking.accepted_modalities or []],
            video_link=booking.video_link,
        )


class ProviderNeedsOut(ResponseModel):
    """What the session requires of whoever takes it."""

    provider_kind: ProviderKindRequirement
    gender: Gender | None
    certified: bool
    skills: list[str]


class ProviderBookingOut(ResponseModel):
    """A booking as a provider reads it: the work asked of them, nothing about who booked.

    No beneficiary reference, no requester, no preferences or exclusions; the
    requester's `notes` only once the provider holds the work (accepted or
    confirmed).
    """

    view: Literal["provider"] = Field(
        default="provider", description="Marks the provider's view of a booking."
    )
    id: int
    reference: str
    organisation_name: str = Field(description="Who asked for the session.")
    status: BookingStatus
    assignment_id: int = Field(description="The provider's own offer or work on it.")
    assignment_status: AssignmentStatus
    offer_expires_at: dt.datetime | None
    language: str
    language_variety: str | None
    session_kind: SessionKind
    modality: Modality
    location: PlaceOut | None
    starts_at: dt.datetime = Field(description="When the provider is asked to start.")
    ends_at: dt.datetime
    duration_minutes: int
    needs: ProviderNeedsOut
    notes: str | None = Field(description="Only while the provider holds the work.")
    place: int = Field(0, description="The provider's place in a group session (0: the first).")
    places: int = Field(1, description="How many providers the session has places for.")
    video_link: str | None = Field(None, description="Where a video session is held.")

    @classmethod
    def from_view(cls, view: ProviderBookingView) -> ProviderBookingOut:
        booking = view.booking
        starts_at, ends_at = work_times(view)
        offer_expires_at = view.assignment.offer_expires_at
        return cls(
            id=booking.id,
            reference=booking.reference,
            organisation_name=view.organisation_name,
            status=BookingStatus(booking.status),
            assignment_id=view.assignment.id,
            assignment_status=AssignmentStatus(view.assignment.status),
            offer_expires_at=_utc(offer_expires_at) if offer_expires_at else None,
            language=view.language_code,
            language_variety=booking.language_variety,
            session_kind=SessionKind(booking.session_kind),
            modality=Modality(view.modality),
            location=PlaceOut.of(booking) if view.modality == Modality.ONSITE else None,
            place=view.assignment.place,
            places=1 + len(booking.places),
            video_link=booking.video_link if view.modality == Modality.VIDEO else None,
            starts_at=_utc(starts_at),
            ends_at=_utc(ends_at),
            duration_minutes=int((ends_at - starts_at).total_seconds() // 60),
            needs=ProviderNeedsOut(
                provider_kind=ProviderKindRequirement(booking.provider_kind),
                gender=Gender(booking.required_gender) if booking.required_gender else None,
                certified=booking.requires_certified,
                skills=list(booking.required_skills or []),
            ),
            notes=view.notes,
        )


HistoryEntity = Literal["booking", "assignment"]
HISTORY_ENTITIES: tuple[HistoryEntity, ...] = ("booking", "assignment")
"""What a booking's history is made of: its own entries and those of its assignments."""


class HistoryEntryOut(ResponseModel):
    """One audited change: who, what, when."""

    id: int
    at: dt.datetime
    action: str = Field(examples=["booking.created", "booking.rescheduled", "assignment.cancelled"])
    entity_type: HistoryEntity
    entity_id: int
    actor_id: int | None = Field(description="Null for the system (matcher, scheduler).")
    actor_name: str | None
    changes: dict[str, Any] = Field(description="`{field: [old, new]}`, instants in UTC.")

    @classmethod
    def from_entry(cls, entry: HistoryEntry) -> HistoryEntryOut:
        return cls(
            id=entry.id,
            at=_utc(entry.at),
            action=entry.action,
            entity_type=as_word(entry.entity_type, HISTORY_ENTITIES),
            entity_id=int(entry.entity_id),
            actor_id=entry.actor_id,
            actor_name=entry.actor_name,
            changes=entry.changes,
        )


# --- series ---------------------------------------------------------------------------


class RecurrenceIn(StrictModel):
    """Weekly (or every N weeks), a number of times or until a date (inclusive)."""

    interval_weeks: int = Field(default=1, ge=1, le=MAX_INTERVAL_WEEKS)
    count: int | None = Field(default=None, ge=1, le=MAX_OCCURRENCES)
    until: Day | None = Field(default=None, description="Last possible local date.")

    def to_recurrence(self) -> Recurrence:
        return Recurrence(interval_weeks=self.interval_weeks, count=self.count, until=self.until)


class SeriesCreate(SessionFields):
    """A recurring session: ``starts_at`` is the first one, the others follow at the same
    local time (across daylight-saving changes)."""

    recurrence: RecurrenceIn
    preferred_provider_id: Id | None = Field(
        default=None,
        description="Keep this provider through the series. Without it, the first "
        "provider confirmed on an occurrence is kept for the following ones.",
    )


class SeriesCancel(StrictModel):
    scope: Scope = Field(
        description="`occurrence` (just `booking_id`), `following` (`booking_id` and the "
        "later ones) or `all` (every occurrence still to come)."
    )
    booking_id: Id | None = Field(default=None, description="For `occurrence` and `following`.")
    reason: str = Field(min_length=1, max_length=CANCEL_REASON_MAX_LENGTH)


class SeriesUpdate(StrictModel):
    """Move occurrences: a new local start time, a shift by days, a new length."""

    scope: Scope
    booking_id: Id | None = Field(default=None, description="For `occurrence` and `following`.")
    start_time: LocalTime | None = Field(
        default=None,
        description="New local wall-clock start (`14:00`), in the organisation's time zone. "
        "On the day the clocks go forward a time that does not exist (02:30) means the time "
        "after the gap (03:30); on the day they go back, an hour that occurs twice means the "
        "first one (see `adjustments`).",
    )
    shift_days: int = Field(
        default=0,
        ge=-MAX_SHIFT_DAYS,
        le=MAX_SHIFT_DAYS,
        description="Move to another weekday: +1 is the next day.",
    )
    duration_minutes: Duration | None = None

    @model_validator(mode="after")
    def _time_of_day_only(self) -> SeriesUpdate:
        start = self.start_time
        if start is not None and start.tzinfo is not None:
            raise ValueError("start_time is a local time of day, without an offset")
        return self

    def to_move(self) -> SeriesMove:
        return SeriesMove(
            start_time=self.start_time,
            shift_days=self.shift_days,
            duration_minutes=self.duration_minutes,
        )


class WallTimeAdjustmentOut(ResponseModel):
    """An occurrence whose local time did not exist (spring) or occurred twice (autumn)."""

    booking_id: int
    series_index: int | None
    date: dt.date = Field(description="The local date of the occurrence.")
    asked: dt.time = Field(description="The local wall-clock time asked for.")
    starts_at_local: dt.datetime = Field(
        description="When it starts, in the organisation's time zone (03:30+02:00 for a "
        "02:30 that the spring change skips)."
    )
    kind: ClockChange = Field(
        description="`shifted`: the time does not exist, moved forward by the gap; "
        "`ambiguous`: it occurs twice, the first (summer time) was taken."
    )
    detail: str

    @classmethod
    def from_adjustment(cls, adjustment: Adjustment) -> WallTimeAdjustmentOut:
        when = adjustment.wall_time
        return cls(
            booking_id=adjustment.booking_id,
            series_index=adjustment.series_index,
            date=when.day,
            asked=when.asked,
            starts_at_local=when.local,
            kind=as_word(when.kind.value, CLOCK_CHANGES),
            detail=when.describe(),
        )


class SeriesOut(ResponseModel):
    id: int
    organisation_id: int
    requester_id: int
    language: str
    interval_weeks: int
    count: int | None
    until: dt.date | None
    preferred_provider_id: int | None
    created_at: dt.datetime
    occurrences: list[BookingOut] = Field(description="Those the caller may see, in order.")
    adjustments: list[WallTimeAdjustmentOut] = Field(
        default_factory=list,
        description="In the answer to a create or a move: the occurrences whose local time "
        "the daylight-saving rule moved forward (a time the spring change skips) or chose "
        "(the first of an hour the autumn change repeats).",
    )
