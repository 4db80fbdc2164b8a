"""What a booking request is, and the rules it must obey before it is stored.

The API, the web form and the CLI all hand the services a ``BookingData``;
``check_booking`` collects every broken rule at once and raises one
``Unprocessable`` whose ``errors`` name the fields as the API spells them
(``language``, ``window.latest``, ``location.lat``, ``needs.gender``...).

``beneficiary_ref`` is a pseudonymous reference the requesting organisation
keeps in its own files (``b-7c1f``, ``CAES-2026-0153``): letters, digits
and dashes only. Names, dates of birth or any other data that identifies the
person must never be stored here; a space is refused because a reference
with spaces is almost always a name.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.bookings.models import (
    MAX_DURATION_MINUTES,
    MAX_PLACES,
    MIN_DURATION_MINUTES,
    NOTES_MAX_LENGTH,
    VIDEO_LINK_MAX_LENGTH,
)
from booking.dates import booking_horizon
from booking.errors import FieldError, Unprocessable
from booking.geography import SERVICE_AREA
from booking.languages.models import Language
from booking.organisations.models import ServiceAgreement, Site
from booking.providers.models import Provider
from booking.settings import get_settings
from booking.vocabulary import Country, Gender, Modality, ProviderKindRequirement, SessionKind

BENEFICIARY_REF_PATTERN = r"^[A-Za-z0-9-]{1,64}$"
_BENEFICIARY_REF = re.compile(BENEFICIARY_REF_PATTERN)
LANGUAGE_VARIETY_MAX_LENGTH = 100
ADDRESS_MAX_LENGTH = 300
SKILL_MAX_LENGTH = 50
MAX_SKILLS = 20
MAX_PROVIDER_IDS = 20
CANCEL_REASON_MAX_LENGTH = 500
BEYOND_HORIZON = "beyond_booking_horizon"


class Urgency(StrEnum):
    """How soon the requester needs someone; the matcher sees it as a priority."""

    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


URGENCY_PRIORITY: dict[Urgency, int] = {Urgency.NORMAL: 1, Urgency.HIGH: 2, Urgency.URGENT: 3}


def urgency_for_priority(priority: int) -> Urgency:
    """The urgency a stored priority stands for (3 and above is urgent)."""
    if priority >= URGENCY_PRIORITY[Urgency.URGENT]:
        return Urgency.URGENT
    if priority == URGENCY_PRIORITY[Urgency.HIGH]:
        return Urgency.HIGH
    return Urgency.NORMAL


@dataclass(frozen=True, slots=True)
class Place:
    """Where an onsite session happens: a postal address and its coordinates."""

    address: str
    lat: float
    lon: float
    country: str


@dataclass(frozen=True, slots=True)
class PlaceNeeds:
    """One more provider a group booking needs (a `BookingPlace`): language, kind, needs."""

    language_code: str
    provider_kind: str = ProviderKindRequirement.ANY
    required_gender: str | None = None
    requires_certified: bool = False
    required_skills: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Window:
    """The interval in which the session may start (``latest`` is the latest start)."""

    earliest: dt.datetime
    latest: dt.datetime


@dataclass(frozen=True, slots=True)
class BookingData:
    """One booking as asked for. Give ``duration_minutes`` or ``ends_at``.

    ``organisation_id`` is the organisation the session is for: a requester's
    own by default; dispatchers and admins must name it. Onsite sessions need
    ``site_id`` (the site's address is copied) or ``location``, not both.
    """

    language_code: str
    session_kind: str
    modality: str
    starts_at: dt.datetime
    duration_minutes: int | None = None
    ends_at: dt.datetime | None = None
    organisation_id: int | None = None
    language_variety: str | None = None
    site_id: int | None = None
    location: Place | None = None
    window: Window | None = None
    provider_kind: str = ProviderKindRequirement.ANY
    required_gender: str | None = None
    requires_certified: bool = False
    required_skills: tuple[str, ...] = ()
    preferred_provider_ids: tuple[int, ...] = ()
    excluded_provider_ids: tuple[int, ...] = ()
    urgency: str = Urgency.NORMAL
    beneficiary_ref: str | None = None
    notes: str | None = None
    places: tuple[PlaceNeeds, ...] = ()
    """More providers for the same session (a group); the booking's own needs are the first."""
    all_or_nothing: bool = True
    accepted_modalities: tuple[str, ...] = ()
    """Lower steps of the modality ladder the requester accepts (phone, video), best first."""
    video_link: str | None = None


class BookingPatch(TypedDict, total=False):
    """The fields a PATCH may change; a key left out stays as it is, ``None`` clears it."""

    starts_at: dt.datetime
    duration_minutes: int | None
    ends_at: dt.datetime | None
    window: Window | None
    site_id: int | None
    location: Place | None
    modality: str
    session_kind: str
    language_variety: str | None
    provider_kind: str
    required_gender: str | None
    requires_certified: bool
    required_skills: tuple[str, ...]
    preferred_provider_ids: tuple[int, ...]
    excluded_provider_ids: tuple[int, ...]
    urgency: str
    beneficiary_ref: str | None
    notes: str | None
    all_or_nothing: bool


@dataclass(frozen=True, slots=True)
class StoredPlace:
    """The place a booking already has; kept as is when an edit does not touch it."""

    site_id: int | None
    place: Place | None


@dataclass(frozen=True, slots=True)
class CheckedBooking:
    """What the rules resolved: the duration, the place (copied from the site), the priority."""

    duration_minutes: int
    site_id: int | None
    place: Place | None
    priority: int


@dataclass
class _Errors:
    items: list[FieldError] = field(default_factory=list)

    def add(self, name: str, message: str, code: str = "invalid") -> None:
        self.items.append(FieldError(name, message, code))

    def has(self, prefix: str) -> bool:
        return any(e.field == prefix or e.field.startswith(prefix + ".") for e in self.items)


def _is_aware(value: dt.datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() is not None


def check_booking(
    db: Session,
    *,
    data: BookingData,
    organisation_id: int,
    now: dt.datetime,
    stored_place: StoredPlace | None = None,
    max_ahead_days: int | None = None,
) -> CheckedBooking:
    """Check every rule of ``data`` for ``organisation_id``; ``Unprocessable`` lists what fails.

    With ``stored_place`` the place is not resolved again (an edit that does
    not touch the site or address keeps the copy made at booking time, even
    if the site has since moved). A session may start at most
    ``max_ahead_days`` days after ``now`` (``TRUCHEMENT_MAX_BOOKING_AHEAD_DAYS``
    by default).
    """
    if max_ahead_days is None:
        max_ahead_days = get_settings().max_booking_ahead_days
    errors = _Errors()
    _check_vocabulary(errors, data)
    duration = _check_times(errors, data, now, max_ahead_days)
    if stored_place is None:
        site_id, place = _resolve_place(db, errors, data, organisation_id)
    else:
        site_id, place = stored_place.site_id, stored_place.place
    if data.modality == Modality.ONSITE and place is None and not errors.has("site_id"):
        errors.add(
            "location",
            "An onsite session needs a place: give site_id or a location with coordinates.",
            "place_required",
        )
    _check_needs(db, errors, data, organisation_id)
    _check_group_and_ladder(db, errors, data)
    _check_texts(errors, data)
    if not _language_exists(db, data.language_code):
        errors.add(
            "language",
            f"Unknown language code {data.language_code!r}: use a language code like `tir`, "
            "or pick from the list (GET /api/v1/languages).",
            "unknown_language",
        )
    if errors.items:
        beyond = any(e.code == BEYOND_HORIZON for e in errors.items)
        raise Unprocessable(
            "The booking breaks "
            + ("a rule." if len(errors.items) == 1 else f"{len(errors.items)} rules."),
            errors=errors.items,
            rule="booking",
            extra=horizon_members(now, max_ahead_days) if beyond else None,
        )
    assert duration is not None  # no error means the duration was resolved
    return CheckedBooking(
        duration_minutes=duration,
        site_id=site_id,
        place=place,
        priority=URGENCY_PRIORITY[Urgency(data.urgency)],
    )


def _check_group_and_ladder(db: Session, errors: _Errors, data: BookingData) -> None:
    """Places of a group (at most MAX_PLACES in all), the modality ladder, the video link."""
    if len(data.places) > MAX_PLACES - 1:
        errors.add("places", f"At most {MAX_PLACES - 1} more places.", "too_many_places")
    for k, place in enumerate(data.places):
        if not _language_exists(db, place.language_code):
            errors.add(
                f"places.{k}.language",
                f"Unknown language code {place.language_code!r}.",
                "unknown_language",
            )
        for name, value, vocabulary in (
            ("provider_kind", place.provider_kind, ProviderKindRequirement),
            ("gender", place.required_gender, Gender),
        ):
            if value is not None and value not in set(vocabulary):
                errors.add(
                    f"places.{k}.{name}", f"Must be one of: {', '.join(vocabulary)}.", "enum"
                )
    ladder = data.accepted_modalities
    for k, modality in enumerate(ladder):
        if modality not in (Modality.PHONE, Modality.VIDEO):
            errors.add(
                f"accepted_modalities.{k}",
                "A lower step is phone or video: an onsite session is asked for first.",
                "not_a_lower_step",
            )
        elif modality == data.modality or modality in ladder[:k]:
            errors.add(f"accepted_modalities.{k}", "Already on the ladder.", "duplicate")
    link = data.video_link
    if link is not None and (
        not link.startswith(("https://", "http://")) or len(link) > VIDEO_LINK_MAX_LENGTH
    ):
        errors.add("video_link", "An http(s) link, at most 500 characters.", "invalid_url")


def _check_vocabulary(errors: _Errors, data: BookingData) -> None:
    choices: Sequence[tuple[str, str | None, type[StrEnum]]] = (
        ("session_kind", data.session_kind, SessionKind),
        ("modality", data.modality, Modality),
        ("needs.provider_kind", data.provider_kind, ProviderKindRequirement),
        ("needs.gender", data.required_gender, Gender),
        ("urgency", data.urgency, Urgency),
    )
    for name, value, vocabulary in choices:
        if value is not None and value not in set(vocabulary):
            allowed = ", ".join(vocabulary)
            errors.add(name, f"Must be one of: {allowed}.", "enum")


def horizon_members(now: dt.datetime, max_ahead_days: int) -> dict[str, object]:
    """The problem members that state the booking horizon a refusal is about."""
    return {
        "max_booking_ahead_days": max_ahead_days,
        "latest_start": booking_horizon(now, max_ahead_days).astimezone(dt.UTC).isoformat(),
    }


def beyond_horizon_message(now: dt.datetime, max_ahead_days: int) -> str:
    latest = booking_horizon(now, max_ahead_days).date().isoformat()
    return (
        f"Sessions can be booked at most {max_ahead_days} days ahead "
        f"(starting on {latest} at the latest)."
    )


def _check_times(
    errors: _Errors, data: BookingData, now: dt.datetime, max_ahead_days: int
) -> int | None:
    """Start in the future (within the booking horizon) with an offset, a sane length, a
    window around the start."""
    starts_at = data.starts_at
    if not _is_aware(starts_at):
        errors.add("starts_at", "Give the time with its UTC offset (e.g. +01:00).", "naive")
        return None
    horizon = booking_horizon(now, max_ahead_days)
    if starts_at <= now:
        errors.add("starts_at", "The session cannot start in the past.", "in_the_past")
    elif starts_at > horizon:
        errors.add("starts_at", beyond_horizon_message(now, max_ahead_days), BEYOND_HORIZON)
    duration = data.duration_minutes
    if data.ends_at is not None:
        if not _is_aware(data.ends_at):
            errors.add("ends_at", "Give the time with its UTC offset (e.g. +01:00).", "naive")
            return None
        if data.ends_at <= starts_at:
            errors.add("ends_at", "The session must end after it starts.", "end_before_start")
            return None
        seconds = (data.ends_at - starts_at).total_seconds()
        if seconds % 60:
            errors.add("ends_at", "The session must last whole minutes.", "whole_minutes")
            return None
        from_end = int(seconds // 60)
        if duration is not None and duration != from_end:
            errors.add(
                "ends_at",
                f"ends_at gives {from_end} minutes but duration_minutes says {duration}.",
                "inconsistent",
            )
            return None
        duration = from_end
    if duration is None:
        errors.add("duration_minutes", "Give duration_minutes or ends_at.", "missing")
        return None
    if not MIN_DURATION_MINUTES <= duration <= MAX_DURATION_MINUTES:
        errors.add(
            "ends_at" if data.duration_minutes is None else "duration_minutes",
            f"A session lasts {MIN_DURATION_MINUTES} minutes to "
            f"{MAX_DURATION_MINUTES // 60} hours, not {duration} minutes.",
            "duration_range",
        )
    window = data.window
    if window is not None:
        if not (_is_aware(window.earliest) and _is_aware(window.latest)):
            errors.add("window", "Give both times with their UTC offset.", "naive")
        elif window.latest < window.earliest:
            errors.add("window.latest", "The window ends before it starts.", "end_before_start")
        elif not window.earliest <= starts_at <= window.latest:
            errors.add("window", "The window must contain starts_at.", "window_excludes_start")
        elif window.earliest <= now:
            errors.add("window.earliest", "The window cannot open in the past.", "in_the_past")
        elif window.latest > horizon:
            errors.add("window.latest", beyond_horizon_message(now, max_ahead_days), BEYOND_HORIZON)
    return duration


def _resolve_place(
    db: Session, errors: _Errors, data: BookingData, organisation_id: int
) -> tuple[int | None, Place | None]:
    if data.site_id is not None and data.location is not None:
        errors.add("location", "Give site_id or a location, not both.", "site_and_location")
        return None, None
    if data.site_id is not None:
        site = db.get(Site, data.site_id)
        # Another organisation's site is answered like a missing one: never confirm it exists.
        if site is None or site.organisation_id != organisation_id:
            errors.add("site_id", f"No site {data.site_id} in this organisation.", "unknown_site")
            return None, None
        address = f"{site.address}, {site.postcode} {site.town}"
        return site.id, Place(address=address, lat=site.lat, lon=site.lon, country=site.country)
    location = data.location
    if location is None:
        return None, None
    valid = True
    if not location.address.strip() or len(location.address) > ADDRESS_MAX_LENGTH:
        errors.add("location.address", f"Give an address of 1 to {ADDRESS_MAX_LENGTH} characters.")
        valid = False
    if location.country not in set(Country):
        errors.add("location.country", "Must be one of: " + ", ".join(Country) + ".", "enum")
        valid = False
    box = SERVICE_AREA
    if not box.lat_min <= location.lat <= box.lat_max:
        errors.add(
            "location.lat",
            f"Latitude {location.lat} is outside the service area "
            f"({box.lat_min}..{box.lat_max}: Hauts-de-France, Wallonia, West Flanders).",
            "outside_service_area",
        )
        valid = False
    if not box.lon_min <= location.lon <= box.lon_max:
        errors.add(
            "location.lon",
            f"Longitude {location.lon} is outside the service area "
            f"({box.lon_min}..{box.lon_max}: Hauts-de-France, Wallonia, West Flanders).",
            "outside_service_area",
        )
        valid = False
    return None, (location if valid else None)


def _check_needs(db: Session, errors: _Errors, data: BookingData, organisation_id: int) -> None:
    if len(data.required_skills) > MAX_SKILLS:
        errors.add("needs.skills", f"At most {MAX_SKILLS} skills.", "too_long")
    for index, skill in enumerate(data.required_skills):
        if not skill.strip() or len(skill) > SKILL_MAX_LENGTH:
            errors.add(f"needs.skills.{index}", f"A skill has 1 to {SKILL_MAX_LENGTH} characters.")
    lists = (
        ("needs.preferred_provider_ids", data.preferred_provider_ids),
        ("needs.excluded_provider_ids", data.excluded_provider_ids),
    )
    for name, ids in lists:
        if len(ids) > MAX_PROVIDER_IDS:
            errors.add(name, f"At most {MAX_PROVIDER_IDS} providers.", "too_long")
            return
    both = set(data.preferred_provider_ids) & set(data.excluded_provider_ids)
    if both:
        errors.add(
            "needs.excluded_provider_ids",
            f"Providers {sorted(both)} cannot be both preferred and excluded.",
            "preferred_and_excluded",
        )
    known = providers_serving(
        db, set(data.preferred_provider_ids) | set(data.excluded_provider_ids), organisation_id
    )
    for name, ids in lists:
        unknown = sorted(set(ids) - known)
        if unknown:
            errors.add(name, f"Unknown providers: {unknown}.", "unknown_provider")


def providers_serving(db: Session, ids: Collection[int], organisation_id: int) -> set[int]:
    """The providers among ``ids`` whose service dispatches for ``organisation_id``.

    A provider of a service with no agreement with the organisation is
    answered as unknown: the requester learns nothing about other services.
    """
    if not ids:
        return set()
    serving = select(ServiceAgreement.providing_org_id).where(
        ServiceAgreement.requesting_org_id == organisation_id
    )
    rows = db.scalars(
        select(Provider.id).where(Provider.id.in_(ids), Provider.organisation_id.in_(serving))
    )
    return set(rows)


def _check_texts(errors: _Errors, data: BookingData) -> None:
    ref = data.beneficiary_ref
    if ref is not None and not _BENEFICIARY_REF.fullmatch(ref):
        errors.add(
            "beneficiary_ref",
            "A pseudonymous reference of 1 to 64 letters, digits and dashes; never a name.",
            "pseudonymous_reference",
        )
    if data.notes is not None and len(data.notes) > NOTES_MAX_LENGTH:
        errors.add("notes", f"At most {NOTES_MAX_LENGTH} characters.", "too_long")
    variety = data.language_variety
    if variety is not None and len(variety) > LANGUAGE_VARIETY_MAX_LENGTH:
        errors.add("language_variety", f"At most {LANGUAGE_VARIETY_MAX_LENGTH} characters.")


def _language_exists(db: Session, code: str) -> bool:
    if len(code) != 3:
        return False
    return db.get(Language, code) is not None


def check_cancel_reason(reason: str) -> str:
    """The reason, stripped; ``Unprocessable`` if empty or too long."""
    stripped = reason.strip()
    if not stripped or len(stripped) > CANCEL_REASON_MAX_LENGTH:
        raise Unprocessable(
            "Say why the session is cancelled.",
            errors=[
                FieldError(
                    "reason", f"Give a reason of 1 to {CANCEL_REASON_MAX_LENGTH} characters."
                )
            ],
        )
    return stripped
