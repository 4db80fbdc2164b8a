"""Plain factory functions for tests: ``make_x(db, *, field=...)``.

Each builds a valid row with sensible defaults, creates the parents it needs
when they are not given, adds it to the session and flushes (so ids exist).
Any column not listed as a parameter can be passed through ``**fields``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from booking.models import (
    ApiToken,
    Assignment,
    AvailabilityException,
    AvailabilityRule,
    Booking,
    BookingProviderPreference,
    IdempotencyRecord,
    Language,
    Organisation,
    OrganisationClosure,
    OutboxMessage,
    Plan,
    Provider,
    ProviderLanguage,
    Series,
    ServiceAgreement,
    Site,
    User,
)
from booking.types import utc_now
from booking.users.tokens import new_token

BRUSSELS = ZoneInfo("Europe/Brussels")
PARIS = ZoneInfo("Europe/Paris")
TOURNAI = (50.6066, 3.3889)
CALAIS = (50.9513, 1.8587)

_sequence = itertools.count(1)
T = TypeVar("T")

LANGUAGE_NAMES: dict[str, tuple[str, str, str]] = {
    "tir": ("tigrigna", "Tigrinya", "Tigrinya"),
    "ara": ("arabe", "Arabisch", "Arabic"),
    "prs": ("dari", "Dari", "Dari"),
    "pus": ("pachto", "Pasjtoe", "Pashto"),
    "som": ("somali", "Somalisch", "Somali"),
    "ckb": ("kurde sorani", "Soranî", "Central Kurdish"),
}


def unique(prefix: str) -> str:
    """A string no other factory call returns in this test run."""
    return f"{prefix}-{next(_sequence)}"


def default_start(days_ahead: int = 7, hour: int = 10) -> dt.datetime:
    """A future instant: ``days_ahead`` days from today at ``hour``:00 in Brussels."""
    day = dt.datetime.now(BRUSSELS).date() + dt.timedelta(days=days_ahead)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=BRUSSELS)


def _save(db: Session, row: T) -> T:
    db.add(row)
    db.flush()
    return row


def make_organisation(
    db: Session,
    *,
    name: str | None = None,
    kind: str = "requesting",
    country: str = "BE",
    region: str | None = "Wallonie picarde",
    timezone: str = "Europe/Brussels",
    **fields: Any,
) -> Organisation:
    return _save(
        db,
        Organisation(
            name=name or unique("Organisation"),
            kind=kind,
            country=country,
            region=region,
            timezone=timezone,
            **fields,
        ),
    )


def make_service_agreement(
    db: Session,
    *,
    providing: Organisation | None = None,
    requesting: Organisation | None = None,
) -> ServiceAgreement:
    providing = providing or make_organisation(db, kind="providing", name=unique("SéTIS"))
    requesting = requesting or make_organisation(db)
    return _save(
        db, ServiceAgreement(providing_org_id=providing.id, requesting_org_id=requesting.id)
    )


def make_closure(
    db: Session,
    *,
    organisation: Organisation | None = None,
    day: dt.date = dt.date(2026, 12, 26),
    reason: str | None = "replacement holiday",
) -> OrganisationClosure:
    organisation = organisation or make_organisation(db)
    return _save(db, OrganisationClosure(organisation_id=organisation.id, day=day, reason=reason))


def make_site(
    db: Session,
    *,
    organisation: Organisation | None = None,
    name: str | None = None,
    address: str = "Rue de la Citadelle 1",
    postcode: str = "7500",
    town: str = "Tournai",
    country: str = "BE",
    region: str | None = "Wallonie picarde",
    lat: float = TOURNAI[0],
    lon: float = TOURNAI[1],
    **fields: Any,
) -> Site:
    organisation = organisation or make_organisation(db)
    return _save(
        db,
        Site(
            organisation_id=organisation.id,
            name=name or unique("Site"),
            address=address,
            postcode=postcode,
            town=town,
            country=country,
            region=region,
            lat=lat,
            lon=lon,
            **fields,
        ),
    )


def make_user(
    db: Session,
    *,
    organisation: Organisation | None = None,
    email: str | None = None,
    full_name: str = "Camille Dupont",
    role: str = "requester",
    locale: str = "fr",
    phone_e164: str | None = None,
    password_hash: str | None = None,
    is_active: bool = True,
    **fields: Any,
) -> User:
    if organisation is None:
        kind = "providing" if role in ("dispatcher", "provider") else "requesting"
        organisation = make_organisation(db, kind=kind)
    return _save(
        db,
        User(
            organisation_id=organisation.id,
            email=email or f"{unique('user')}@example.org",
            full_name=full_name,
            role=role,
            locale=locale,
            phone_e164=phone_e164,
            password_hash=password_hash,
            is_active=is_active,
            **fields,
        ),
    )


def make_api_token(
    db: Session,
    *,
    user: User | None = None,
    name: str = "integration",
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """The stored token row and the plain token a client would send."""
    user = user or make_user(db)
    token, token_hash = new_token()
    row = _save(
        db, ApiToken(user_id=user.id, name=name, token_hash=token_hash, expires_at=expires_at)
    )
    return row, token


def make_language(
    db: Session,
    *,
    code: str = "tir",
    name_fr: str | None = None,
    name_nl: str | None = None,
    name_en: str | None = None,
    is_rare: bool = False,
) -> Language:
    """The language ``code``, created on first use (codes are primary keys)."""
    existing = db.get(Language, code)
    if existing is not None:
        return existing
    fr, nl, en = LANGUAGE_NAMES.get(code, (code, code, code))
    return _save(
        db,
        Language(
            code=code,
            name_fr=name_fr or fr,
            name_nl=name_nl or nl,
            name_en=name_en or en,
            is_rare=is_rare,
        ),
    )


FROM_LOGIN = "from-login"
"""``make_provider``'s default contact: the login's, or a fresh address."""


def make_provider(
    db: Session,
    *,
    organisation: Organisation | None = None,
    user: User | None = None,
    display_name: str | None = None,
    kind: str = "interpreter",
    gender: str | None = None,
    languages: Sequence[str] = ("tir",),
    certified: bool = False,
    skills: Sequence[str] = (),
    modalities: Sequence[str] = ("onsite", "phone", "video"),
    home_lat: float = TOURNAI[0],
    home_lon: float = TOURNAI[1],
    home_town: str = "Tournai",
    countries: Sequence[str] = ("BE", "FR"),
    max_travel_minutes: int = 90,
    max_minutes_per_day: int = 420,
    max_minutes_per_week: int = 1800,
    works_on_holidays: bool = False,
    is_active: bool = True,
    email: str | None = FROM_LOGIN,
    phone_e164: str | None = FROM_LOGIN,
    locale: str | None = None,
    **fields: Any,
) -> Provider:
    """A provider of a providing service, speaking ``languages`` (all ``certified`` or not).

    Their contact defaults to their login's (as the migration moved it), or to
    a fresh address without a login; ``email=None, phone_e164=None`` makes
    one nobody can reach.
    """
    organisation = organisation or make_organisation(db, kind="providing")
    if email == FROM_LOGIN:
        email = user.email if user is not None else f"{unique('provider').lower()}@example.org"
    if phone_e164 == FROM_LOGIN:
        phone_e164 = user.phone_e164 if user is not None else None
    locale = locale or (user.locale if user is not None else organisation.locale or "fr")
    provider = _save(
        db,
        Provider(
            organisation_id=organisation.id,
            user_id=user.id if user is not None else None,
            display_name=display_name or unique("Provider"),
            kind=kind,
            gender=gender,
            skills=list(skills),
            modalities=list(modalities),
            home_lat=home_lat,
            home_lon=home_lon,
            home_town=home_town,
            countries=list(countries),
            max_travel_minutes=max_travel_minutes,
            max_minutes_per_day=max_minutes_per_day,
            max_minutes_per_week=max_minutes_per_week,
            works_on_holidays=works_on_holidays,
            is_active=is_active,
            email=email,
            phone_e164=phone_e164,
            locale=locale,
            **fields,
        ),
    )
    for code in languages:
        make_language(db, code=code)
        db.add(ProviderLanguage(provider_id=provider.id, language_code=code, certified=certified))
    db.flush()
    return provider


def make_availability_rule(
    db: Session,
    *,
    provider: Provider | None = None,
    weekday: int = 0,
    start_time: dt.time = dt.time(8, 30),
    end_time: dt.time = dt.time(17, 0),
    valid_from: dt.date | None = None,
    valid_until: dt.date | None = None,
) -> AvailabilityRule:
    provider = provider or make_provider(db)
    return _save(
        db,
        AvailabilityRule(
            provider_id=provider.id,
            weekday=weekday,
            start_time=start_time,
            end_time=end_time,
            valid_from=valid_from,
            valid_until=valid_until,
        ),
    )


def make_availability_exception(
    db: Session,
    *,
    provider: Provider | None = None,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
    kind: str = "absence",
    note: str | None = None,
) -> AvailabilityException:
    provider = provider or make_provider(db)
    starts_at = starts_at or default_start(hour=8)
    ends_at = ends_at or starts_at + dt.timedelta(hours=9)
    return _save(
        db,
        AvailabilityException(
            provider_id=provider.id, starts_at=starts_at, ends_at=ends_at, kind=kind, note=note
        ),
    )


def make_series(
    db: Session,
    *,
    organisation: Organisation | None = None,
    requester: User | None = None,
    language_code: str = "tir",
    interval_weeks: int = 1,
    occurrence_count: int | None = 10,
    until_date: dt.date | None = None,
    preferred_provider: Provider | None = None,
) -> Series:
    if requester is None:
        requester = make_user(db, organisation=organisation)
    organisation_id = organisation.id if organisation is not None else requester.organisation_id
    make_language(db, code=language_code)
    return _save(
        db,
        Series(
            organisation_id=organisation_id,
            requester_id=requester.id,
            language_code=language_code,
            interval_weeks=interval_weeks,
            occurrence_count=occurrence_count,
            until_date=until_date,
            preferred_provider_id=preferred_provider.id if preferred_provider else None,
        ),
    )


def make_booking(
    db: Session,
    *,
    organisation: Organisation | None = None,
    requester: User | None = None,
    site: Site | None = None,
    language_code: str = "tir",
    session_kind: str = "psychological",
    modality: str = "onsite",
    starts_at: dt.datetime | None = None,
    duration_minutes: int = 60,
    status: str = "requested",
    priority: int = 1,
    beneficiary_ref: str | None = "b-7c1f",
    **fields: Any,
) -> Booking:
    """A requested booking; onsite ones get the site's place (or Tournai) unless given."""
    if requester is None:
        requester = make_user(db, organisation=organisation)
    organisation_id = organisation.id if organisation is not None else requester.organisation_id
    make_language(db, code=language_code)
    if modality == "onsite":
        if site is not None:
            fields.setdefault("address", f"{site.address}, {site.postcode} {site.town}")
            fields.setdefault("location_lat", site.lat)
            fields.setdefault("location_lon", site.lon)
            fields.setdefault("location_country", site.country)
        else:
            fields.setdefault("address", "Rue de la Citadelle 1, 7500 Tournai")
            fields.setdefault("location_lat", TOURNAI[0])
            fields.setdefault("location_lon", TOURNAI[1])
            fields.setdefault("location_country", "BE")
    if status == "cancelled":
        fields.setdefault("cancelled_at", utc_now())
    if status == "unfilled":
        fields.setdefault("unfilled_reason", "no_availability")
    return _save(
        db,
        Booking(
            organisation_id=organisation_id,
            requester_id=requester.id,
            site_id=site.id if site is not None else None,
            language_code=language_code,
            session_kind=session_kind,
            modality=modality,
            starts_at=starts_at or default_start(),
            duration_minutes=duration_minutes,
            status=status,
            priority=priority,
            beneficiary_ref=beneficiary_ref,
            **fields,
        ),
    )


def make_preference(
    db: Session,
    *,
    booking: Booking | None = None,
    provider: Provider | None = None,
    kind: str = "excluded",
) -> BookingProviderPreference:
    booking = booking or make_booking(db)
    provider = provider or make_provider(db)
    return _save(
        db, BookingProviderPreference(booking_id=booking.id, provider_id=provider.id, kind=kind)
    )


def make_idempotency_record(
    db: Session,
    *,
    user: User | None = None,
    key: str | None = None,
    request_hash: str = "0" * 64,
    booking: Booking | None = None,
) -> IdempotencyRecord:
    booking = booking or make_booking(db, requester=user)
    user_id = user.id if user is not None else booking.requester_id
    return _save(
        db,
        IdempotencyRecord(
            user_id=user_id,
            key=key or unique("key"),
            request_hash=request_hash,
            booking_id=booking.id,
        ),
    )


def make_plan(
    db: Session,
    *,
    created_by: User | None = None,
    horizon_start: dt.datetime | None = None,
    horizon_end: dt.datetime | None = None,
    status: str = "pending",
    **fields: Any,
) -> Plan:
    created_by = created_by or make_user(db, role="dispatcher")
    # A dispatcher's plan staffs their service (as run_plan does); an admin's names one.
    if created_by.role == "dispatcher":
        fields.setdefault("providing_org_id", created_by.organisation_id)
    horizon_start = horizon_start or default_start(hour=0)
    horizon_end = horizon_end or horizon_start + dt.timedelta(days=7)
    return _save(
        db,
        Plan(
            created_by_id=created_by.id,
            horizon_start=horizon_start,
            horizon_end=horizon_end,
            status=status,
            **fields,
        ),
    )


def make_assignment(
    db: Session,
    *,
    booking: Booking | None = None,
    provider: Provider | None = None,
    status: str = "proposed",
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
    created_by: User | None = None,
    plan: Plan | None = None,
    **fields: Any,
) -> Assignment:
    """An assignment over the booking's own time unless ``starts_at``/``ends_at`` are given."""
    booking = booking or make_booking(db)
    provider = provider or make_provider(db, languages=(booking.language_code,))
    created_by = created_by or make_user(db, role="dispatcher")
    starts_at = starts_at or booking.starts_at
    ends_at = ends_at or starts_at + dt.timedelta(minutes=booking.duration_minutes)
    if status == "offered":
        fields.setdefault("offer_expires_at", utc_now() + dt.timedelta(hours=2))
    fields.setdefault("booking_version", booking.version_id)
    return _save(
        db,
        Assignment(
            booking_id=booking.id,
            provider_id=provider.id,
            plan_id=plan.id if plan is not None else None,
            status=status,
            starts_at=starts_at,
            ends_at=ends_at,
            created_by_id=created_by.id,
            **fields,
        ),
    )


def make_outbox_message(
    db: Session,
    *,
    dedup_key: str | None = None,
    event: str = "booking.acknowledged",
    channel: str = "email",
    recipient: str = "requester@example.org",
    recipient_user: User | None = None,
    locale: str = "fr",
    template: str = "booking_acknowledged",
    context: dict[str, Any] | None = None,
    booking: Booking | None = None,
    due_at: dt.datetime | None = None,
    status: str = "pending",
    **fields: Any,
) -> OutboxMessage:
    if status == "sent":
        fields.setdefault("sent_at", utc_now())
    if status == "sending":
        fields.setdefault("lease_until", utc_now() + dt.timedelta(minutes=5))
    return _save(
        db,
        OutboxMessage(
            dedup_key=dedup_key or unique("dedup"),
            event=event,
            channel=channel,
            recipient=recipient,
            # Messages about a booking go to someone: its requester unless told otherwise.
            recipient_user_id=(
                recipient_user.id
                if recipient_user is not None
                else booking.requester_id
                if booking is not None
                else None
            ),
            locale=locale,
            template=template,
            context=context if context is not None else {},
            booking_id=booking.id if booking is not None else None,
            due_at=due_at or utc_now(),
            status=status,
            **fields,
        ),
    )
