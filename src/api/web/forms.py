"""The booking form: what it accepts (a Pydantic model), and how it becomes a ``BookingData``.

The form posts plain text; this module checks its shape (dates, times,
numbers, choices), resolves what a person types (a language by name in fr,
nl or en, or by code; a town for a typed address) and hands the rest to
``booking.bookings.validation`` through the booking service, which owns
every domain rule. Errors name the form's own fields, so they can be shown
next to them; the service's field names (``starts_at``, ``needs.gender``...)
are mapped back by ``FIELD_OF_SERVICE_ERROR``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from api.web.i18n import DEFAULT_LOCALE, catalogue
from booking.bookings.validation import BookingData, Place, Window, check_booking
from booking.dates import OUT_OF_RANGE, day_in_bounds, wall_time
from booking.errors import FieldError, Unprocessable
from booking.geography import find_town
from booking.languages.models import Language
from booking.languages.service import find_language_code
from booking.languages.service import language_names as catalogue_language_names
from booking.types import utc_now
from booking.vocabulary import Gender, Modality, ProviderKindRequirement, SessionKind

SITE_ADDRESS = "address"
"""The value of the site choice that means "another address, typed below"."""


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _checkbox(value: Any) -> bool:
    return value not in (None, "", "0", "off", "false")


Optional = BeforeValidator(_blank_to_none)


class BookingFormInput(BaseModel):
    """The booking form's fields, as posted; everything else is refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    form_id: Annotated[str | None, Optional] = Field(default=None, max_length=64)
    language: Annotated[str | None, Optional] = Field(default=None, max_length=200)
    language_variety: Annotated[str | None, Optional] = Field(default=None, max_length=100)
    session_kind: Annotated[SessionKind | None, Optional] = None
    modality: Annotated[Modality | None, Optional] = None
    site: Annotated[str | None, Optional] = Field(default=None, max_length=20)
    address: Annotated[str | None, Optional] = Field(default=None, max_length=250)
    town: Annotated[str | None, Optional] = Field(default=None, max_length=100)
    date: Annotated[dt.date | None, Optional] = None
    time: Annotated[dt.time | None, Optional] = None
    window_start: Annotated[dt.time | None, Optional] = None
    window_end: Annotated[dt.time | None, Optional] = None
    duration: Annotated[int | None, Optional] = None
    provider_kind: Annotated[ProviderKindRequirement, Optional] = ProviderKindRequirement.ANY
    gender: Annotated[Gender | None, Optional] = None
    certified: Annotated[bool, BeforeValidator(_checkbox)] = False
    continuity: Annotated[int | None, Optional] = Field(default=None, ge=1, le=2**31 - 1)
    avoid: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(default_factory=list)
    urgency: Annotated[Literal["normal", "high", "urgent"], Optional] = "normal"
    beneficiary_ref: Annotated[str | None, Optional] = Field(default=None, max_length=64)
    notes: Annotated[str | None, Optional] = Field(default=None, max_length=1000)


LIST_FIELDS = frozenset({"avoid"})

FIELD_OF_SERVICE_ERROR: dict[str, str] = {
    "language": "language",
    "language_variety": "language_variety",
    "session_kind": "session_kind",
    "modality": "modality",
    "site_id": "site",
    "location": "site",
    "location.address": "address",
    "location.lat": "town",
    "location.lon": "town",
    "location.country": "town",
    "starts_at": "date",
    "ends_at": "duration",
    "duration_minutes": "duration",
    "window": "window_start",
    "window.earliest": "window_start",
    "window.latest": "window_end",
    "needs.provider_kind": "provider_kind",
    "needs.gender": "gender",
    "needs.certified": "certified",
    "needs.preferred_provider_ids": "continuity",
    "needs.excluded_provider_ids": "avoid",
    "urgency": "urgency",
    "beneficiary_ref": "beneficiary_ref",
    "notes": "notes",
}
"""The form field that shows a service error about a field of ``BookingData``."""

PYDANTIC_ERROR_KEYS: dict[str, str] = {
    "missing": "required",
    "date_parsing": "not_a_date",
    "date_from_datetime_parsing": "not_a_date",
    "date_from_datetime_inexact": "not_a_date",
    "date_type": "not_a_date",
    "time_parsing": "not_a_time",
    "time_type": "not_a_time",
    "int_parsing": "not_a_number",
    "int_type": "not_a_number",
    "int_from_float": "not_a_number",
    "greater_than_equal": "not_a_choice",
    "less_than_equal": "not_a_choice",
    "enum": "not_a_choice",
    "literal_error": "not_a_choice",
    "string_too_long": "too_long",
    "list_type": "not_a_choice",
}
"""Catalogue keys (``error.<key>``) for Pydantic's error types."""


@dataclass
class FormErrors:
    """Field errors as catalogue keys, by form field; ``""`` holds errors of the whole form."""

    by_field: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, key: str) -> None:
        keys = self.by_field.setdefault(name, [])
        if key not in keys:
            keys.append(key)

    def __bool__(self) -> bool:
        return bool(self.by_field)


def language_label(language: Language, locale: str) -> str:
    """``Tigrinya (tir)``: the name in ``locale`` and the ISO 639-3 code."""
    return f"{language_name(language, locale)} ({language.code})"


def language_name(language: Language, locale: str) -> str:
    """The language's name in ``locale`` (fr, nl or en)."""
    return str(getattr(language, f"name_{locale}", None) or language.name_en)


def language_names(db: Session, locale: str, codes: Iterable[str] | None = None) -> dict[str, str]:
    """Names in ``locale`` by code: of ``codes`` (CLDR's for a code the catalogue lacks), or of
    the whole catalogue."""
    return catalogue_language_names(db, locale, codes)


def form_start_time(data: BookingFormInput) -> dt.time | None:
    """The local start the form asks for: its time, else the start of its window."""
    return data.time if data.time is not None else data.window_start


def add_service_errors(
    errors: FormErrors,
    refused: Sequence[FieldError],
    *,
    known: Callable[[str], bool],
    skip: Collection[str] = (),
) -> None:
    """Put the booking service's field errors next to the form fields they are about.

    ``known`` says whether the catalogue has ``error.<code>`` (else the
    generic sentence); errors that would land on a field in ``skip`` are left
    out (it already says what is wrong with it).
    """
    for error in refused:
        name = FIELD_OF_SERVICE_ERROR.get(error.field, "")
        if error.field.startswith("location.") and name == "":
            name = "address"
        if name in skip:
            continue
        errors.add(name, error.code if known(f"error.{error.code}") else "invalid")


def _validated(raw: dict[str, Any], errors: FormErrors) -> BookingFormInput:
    """The form's fields that have the right shape; each one that has not gets its error and
    is left out, so the rest can still be checked (every field of the form is optional)."""
    try:
        return BookingFormInput.model_validate(raw)
    except ValidationError as invalid:
        wrong: set[str] = set()
        for error in invalid.errors():
            location = error.get("loc", ())
            name = str(location[0]) if location else ""
            wrong.add(name)
            if error.get("type") == "extra_forbidden":
                errors.add("", "unknown_field")
                continue
            errors.add(name, PYDANTIC_ERROR_KEYS.get(str(error.get("type")), "invalid"))
        return BookingFormInput.model_validate({k: v for k, v in raw.items() if k not in wrong})


def parse_booking_form(
    db: Session,
    values: dict[str, str | list[str]],
    *,
    timezone: str,
    organisation_id: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[BookingFormInput | None, BookingData | None, FormErrors]:
    """The form as a ``BookingData`` for the service, or every error that stops it getting there.

    With ``organisation_id``, a form that is incomplete or malformed is also
    put through the booking service's rules on what it does say (a missing
    place, a duration of 5 minutes, a window that ends before it starts), so
    the person sees every error on the first submit, not one more per try.
    """
    errors = FormErrors()
    raw = {
        k: (v if k in LIST_FIELDS or not isinstance(v, list) else v[0]) for k, v in values.items()
    }
    if "avoid" in raw and not isinstance(raw["avoid"], list):
        raw["avoid"] = [raw["avoid"]]
    data = _validated(raw, errors)

    language_code = None
    if data.language is not None:
        language_code = find_language_code(db, data.language)
        if language_code is None:
            errors.add("language", "unknown_language")
    for name in ("language", "session_kind", "modality", "date", "duration"):
        if getattr(data, name) is None and name not in errors.by_field:
            errors.add(name, "required")
    if data.date is not None and not day_in_bounds(data.date):
        errors.add("date", OUT_OF_RANGE)
    has_window = data.window_start is not None or data.window_end is not None
    one_sided = has_window and (data.window_start is None or data.window_end is None)
    if one_sided and not {"window_start", "window_end"} & set(errors.by_field):
        errors.add("window_end" if data.window_end is None else "window_start", "window_both")
    if data.time is None and not has_window and "time" not in errors.by_field:
        errors.add("time", "time_or_window")

    site_id: int | None = None
    location: Place | None = None
    if data.site == SITE_ADDRESS:
        if data.address is None:
            errors.add("address", "required")
        town = find_town(data.town) if data.town is not None else None
        if data.town is None:
            errors.add("town", "required")
        elif town is None:
            errors.add("town", "unknown_town")
        if town is not None and data.address is not None:
            postcode = f"{town.postcode} " if town.postcode else ""
            location = Place(
                address=f"{data.address}, {postcode}{town.name}",
                lat=town.lat,
                lon=town.lon,
                country=town.country,
            )
    elif data.site is not None:
        if not data.site.isdigit() or not 1 <= int(data.site) < 2**31:
            errors.add("site", "not_a_choice")
        else:
            site_id = int(data.site)

    zone = ZoneInfo(timezone)
    booking = _booking_data(data, language_code, site_id, location, zone, now)
    if errors:
        if organisation_id is not None:
            _check_the_rest(db, booking, errors, organisation_id=organisation_id, now=now)
        return data, None, errors
    return data, booking, errors


def _booking_data(
    data: BookingFormInput,
    language_code: str | None,
    site_id: int | None,
    location: Place | None,
    zone: ZoneInfo,
    now: dt.datetime | None,
) -> BookingData:
    """The booking the form describes; what it leaves out is filled with harmless stand-ins
    (used only to check the rest of an incomplete form, never stored)."""
    day = data.date or (now or utc_now()).astimezone(zone).date() + dt.timedelta(days=1)
    window = None
    # Local times follow the daylight-saving rule of booking.dates, as everywhere.
    if data.window_start is not None and data.window_end is not None:
        window = Window(
            earliest=wall_time(day, data.window_start, zone).instant,
            latest=wall_time(day, data.window_end, zone).instant,
        )
    start_time = data.time or data.window_start or dt.time(12)
    return BookingData(
        language_code=language_code or "",
        language_variety=data.language_variety,
        session_kind=data.session_kind or SessionKind.SOCIAL,
        # Without a modality, whether a place is needed is unknown: ask for none.
        modality=data.modality or Modality.PHONE,
        site_id=site_id,
        location=location,
        starts_at=wall_time(day, start_time, zone).instant,
        duration_minutes=data.duration,
        window=window,
        provider_kind=data.provider_kind,
        required_gender=data.gender,
        requires_certified=data.certified,
        preferred_provider_ids=(data.continuity,) if data.continuity is not None else (),
        excluded_provider_ids=tuple(sorted(set(data.avoid))),
        urgency=data.urgency,
        beneficiary_ref=data.beneficiary_ref,
        notes=data.notes,
    )


def _check_the_rest(
    db: Session,
    booking: BookingData,
    errors: FormErrors,
    *,
    organisation_id: int,
    now: dt.datetime | None,
) -> None:
    """Add the booking rules' errors about the fields the form got right to its own errors."""
    skip = set(errors.by_field)
    if "time" in skip or "date" in skip:
        skip.add("date")  # the start is a stand-in: "in the past" would be about nothing
    if {"address", "town"} & skip:
        skip.add("site")  # the typed place is incomplete, and already said so
    try:
        check_booking(db, data=booking, organisation_id=organisation_id, now=now or utc_now())
    except Unprocessable as refused:
        add_service_errors(errors, refused.errors, known=_known_error, skip=skip)


def _known_error(key: str) -> bool:
    return key in catalogue(DEFAULT_LOCALE)
