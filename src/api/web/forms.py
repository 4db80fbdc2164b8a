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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from booking.bookings.models import MAX_DURATION_MINUTES, MIN_DURATION_MINUTES
from booking.bookings.validation import BookingData, Place, Window
from booking.dates import OUT_OF_RANGE, day_in_bounds, wall_time
from booking.geography import find_town
from booking.languages.models import Language
from booking.languages.service import find_language_code, languages_by_code
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
    """Names in ``locale`` by code: of ``codes``, or of the whole catalogue."""
    found = languages_by_code(db, codes)
    return {code: language_name(language, locale) for code, language in found.items()}


def _check_times_too(data: BookingFormInput, errors: FormErrors) -> None:
    """The service's rules on the length and the window, said now when the form stops it.

    ``booking.bookings.validation`` owns them and reports them with everything else
    when the form reaches it; a form with errors of its own never does, so without
    this they would show only on the next submit. Same catalogue keys as the service's.
    """
    if data.duration is not None and not (
        MIN_DURATION_MINUTES <= data.duration <= MAX_DURATION_MINUTES
    ):
        errors.add("duration", "duration_range")
    start, end = data.window_start, data.window_end
    if start is not None and end is not None and end < start:
        errors.add("window_end", "end_before_start")


def form_start_time(data: BookingFormInput) -> dt.time | None:
    """The local start the form asks for: its time, else the start of its window."""
    return data.time if data.time is not None else data.window_start


def parse_booking_form(
    db: Session, values: dict[str, str | list[str]], *, timezone: str
) -> tuple[BookingFormInput | None, BookingData | None, FormErrors]:
    """The form as a ``BookingData`` for the service, or the errors that stop it getting there."""
    errors = FormErrors()
    broken: dict[str, list[str]] = {}
    raw = {
        k: (v if k in LIST_FIELDS or not isinstance(v, list) else v[0]) for k, v in values.items()
    }
    if "avoid" in raw and not isinstance(raw["avoid"], list):
        raw["avoid"] = [raw["avoid"]]
    try:
        data = BookingFormInput.model_validate(raw)
    except ValidationError as invalid:
        for error in invalid.errors():
            where = error.get("loc", ())
            name = str(where[0]) if where else ""
            if error.get("type") == "extra_forbidden":
                errors.add("", "unknown_field")
                continue
            errors.add(name, PYDANTIC_ERROR_KEYS.get(str(error.get("type")), "invalid"))
        # Check the rest of the form too, without the fields that do not parse, so that
        # every error shows at once; those fields keep their one error (not also "required").
        broken = {name: list(keys) for name, keys in errors.by_field.items()}
        try:
            data = BookingFormInput.model_validate({k: raw[k] for k in raw.keys() - broken})
        except ValidationError:
            return None, None, errors

    language_code = None
    if data.language is None:
        errors.add("language", "required")
    else:
        language_code = find_language_code(db, data.language)
        if language_code is None:
            errors.add("language", "unknown_language")
    for name in ("session_kind", "modality", "date", "duration"):
        if getattr(data, name) is None:
            errors.add(name, "required")
    if data.date is not None and not day_in_bounds(data.date):
        errors.add("date", OUT_OF_RANGE)
    has_window = data.window_start is not None or data.window_end is not None
    if has_window and (data.window_start is None or data.window_end is None):
        errors.add("window_end" if data.window_end is None else "window_start", "window_both")
    if data.time is None and not has_window:
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

    if errors:
        _check_times_too(data, errors)
        errors.by_field.update(broken)
        return data, None, errors
    assert data.date is not None and language_code is not None
    assert data.session_kind is not None and data.modality is not None
    zone = ZoneInfo(timezone)
    window = None
    # Local times follow the daylight-saving rule of booking.dates, as everywhere.
    if data.window_start is not None and data.window_end is not None:
        window = Window(
            earliest=wall_time(data.date, data.window_start, zone).instant,
            latest=wall_time(data.date, data.window_end, zone).instant,
        )
    start_time = form_start_time(data)
    assert start_time is not None
    booking = BookingData(
        language_code=language_code,
        language_variety=data.language_variety,
        session_kind=data.session_kind,
        modality=data.modality,
        site_id=site_id,
        location=location,
        starts_at=wall_time(data.date, start_time, zone).instant,
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
    return data, booking, errors
