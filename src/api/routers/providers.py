"""Providers and their availability: dispatchers manage their service's, providers their own."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import CurrentUser, require_roles
from api.deps import AppSettings, DbSession
from api.reads import log_reads
from api.schemas.common import (
    CLOCK_CHANGES,
    IdPath,
    Page,
    PageQuery,
    error_responses,
    paginate,
)
from api.schemas.providers import (
    AvailabilityIn,
    AvailabilityOut,
    ContactUpdate,
    ExceptionOut,
    HomeOut,
    LanguageOut,
    ProviderCreate,
    ProviderOut,
    ProviderSummary,
    ProviderUpdate,
    PublicLanguageOut,
    RuleAdjustmentOut,
    RuleOut,
)
from booking.policies import certification_valid
from booking.privacy.models import ReadVia
from booking.privacy.read_log import provider_reads
from booking.providers import availability as availability_service
from booking.providers import service
from booking.providers.models import AvailabilityRule, Provider, ProviderLanguage
from booking.providers.service import LanguageData, ProviderData
from booking.settings import Settings
from booking.types import utc_now
from booking.users.models import User
from booking.vocabulary import (
    Country,
    Gender,
    Locale,
    MessageChannels,
    Modality,
    ProviderKind,
    UserRole,
    as_word,
)

router = APIRouter(prefix="/api/v1/providers", tags=["providers"])

MAX_IF_MATCH = 400
"""An `If-Match` longer than this is read no further (a few tags at most)."""

DispatcherOrAdmin = Annotated[User, Depends(require_roles(UserRole.DISPATCHER, UserRole.ADMIN))]
AvailabilityEditor = Annotated[
    User, Depends(require_roles(UserRole.PROVIDER, UserRole.DISPATCHER, UserRole.ADMIN))
]


def provider_out(
    db: Session, provider: Provider, languages: list[ProviderLanguage], today: dt.date
) -> ProviderOut:
    """The full view of a provider (their dispatchers, an admin, themself)."""
    return ProviderOut(
        id=provider.id,
        organisation_id=provider.organisation_id,
        user_id=provider.user_id,
        display_name=provider.display_name,
        kind=ProviderKind(provider.kind),
        gender=Gender(provider.gender) if provider.gender is not None else None,
        languages=[
            LanguageOut(
                code=row.language_code,
                certified=row.certified,
                certified_until=row.certified_until,
                certification_current=certification_valid(row, today),
            )
            for row in languages
        ],
        skills=list(provider.skills or []),
        modalities=[Modality(m) for m in provider.modalities or []],
        home=HomeOut(lat=provider.home_lat, lon=provider.home_lon, town=provider.home_town),
        countries=[Country(c) for c in provider.countries or []],
        max_travel_minutes=provider.max_travel_minutes,
        max_minutes_per_day=provider.max_minutes_per_day,
        max_minutes_per_week=provider.max_minutes_per_week,
        works_on_holidays=provider.works_on_holidays,
        is_active=provider.is_active,
        email=provider.email,
        phone_e164=provider.phone_e164,
        locale=Locale(provider.locale),
        message_channels=MessageChannels(provider.message_channels),
        reachable=provider.reachable,
        has_calendar_feed=provider.calendar_token_hash is not None,
        created_at=provider.created_at,
    )


def provider_summary(provider: Provider, languages: list[ProviderLanguage]) -> ProviderSummary:
    """The public face of a provider (what a requester may read)."""
    return ProviderSummary(
        id=provider.id,
        display_name=provider.display_name,
        kind=ProviderKind(provider.kind),
        languages=[
            PublicLanguageOut(code=row.language_code, certified=row.certified) for row in languages
        ],
    )


def _view(db: Session, user: User, provider: Provider) -> ProviderOut | ProviderSummary:
    languages = service.languages_of(db, [provider.id])[provider.id]
    if service.sees_private_data(user, provider):
        return provider_out(db, provider, languages, utc_now().date())
    return provider_summary(provider, languages)


def _stored_rule_id(rule: availability_service.RuleData | AvailabilityRule) -> int:
    """The id of a saved rule: the adjustments of a provider's saved availability name them."""
    assert isinstance(rule, AvailabilityRule)
    return rule.id


def _availability_out(
    result: availability_service.Availability, settings: Settings
) -> AvailabilityOut:
    zone = ZoneInfo(result.timezone)
    today = dt.datetime.now(zone).date()
    adjustments = availability_service.rule_adjustments(
        result.rules,
        first_day=today,
        last_day=today + dt.timedelta(days=settings.max_booking_ahead_days),
        zone=zone,
    )
    return AvailabilityOut(
        provider_id=result.provider.id,
        timezone=result.timezone,
        rules=[RuleOut.model_validate(rule) for rule in result.rules],
        exceptions=[ExceptionOut.model_validate(item) for item in result.exceptions],
        adjustments=[
            RuleAdjustmentOut(
                rule_id=_stored_rule_id(a.rule),
                weekday=a.rule.weekday,
                field=as_word(a.field, ("start_time", "end_time")),
                date=a.wall_time.day,
                asked=a.wall_time.asked,
                local=a.wall_time.local,
                kind=as_word(a.wall_time.kind.value, CLOCK_CHANGES),
                detail=a.wall_time.describe(),
            )
            for a in adjustments
        ],
    )


@router.get(
    "",
    summary="List the providers the caller may see",
    response_model=Page[ProviderOut | ProviderSummary],
    responses=error_responses(401, 422),
)
def list_providers(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    page: PageQuery,
    language: Annotated[
        str | None, Query(pattern=r"^[a-z]{3}$", description="Only those speaking this language.")
    ] = None,
    kind: Annotated[ProviderKind | None, Query(description="Only this kind.")] = None,
    active: Annotated[bool | None, Query(description="Only active (or inactive) ones.")] = None,
) -> Page[ProviderOut | ProviderSummary]:
    """A dispatcher sees their service's providers in full, an admin all, a provider
    themself; a requester sees the active providers of the services that serve their
    organisation, but only their name, kind and languages."""
    query = service.provider_query_for(db, user)
    if language is not None:
        speakers = select(ProviderLanguage.provider_id).where(
            ProviderLanguage.language_code == language
        )
        query = query.where(Provider.id.in_(speakers))
    if kind is not None:
        query = query.where(Provider.kind == kind)
    if active is not None:
        query = query.where(Provider.is_active.is_(active))
    rows: Page[Provider] = paginate(
        db, query, page, order_by=(Provider.display_name, Provider.id), item=lambda row: row
    )
    languages = service.languages_of(db, [p.id for p in rows.items])
    private = [p for p in rows.items if service.sees_private_data(user, p)]
    log_reads(request, provider_reads(user, private, via=ReadVia.API))
    today = utc_now().date()
    items: list[ProviderOut | ProviderSummary] = [
        provider_out(db, p, languages[p.id], today)
        if service.sees_private_data(user, p)
        else provider_summary(p, languages[p.id])
        for p in rows.items
    ]
    return Page[ProviderOut | ProviderSummary](items=items, next_cursor=rows.next_cursor)


@router.post(
    "",
    summary="Add a provider (dispatcher of the service, or admin)",
    status_code=status.HTTP_201_CREATED,
    response_model=ProviderOut,
    responses=error_responses(401, 403, 413, 422, 429),
)
def create_provider(db: DbSession, user: DispatcherOrAdmin, body: ProviderCreate) -> ProviderOut:
    """A dispatcher adds a provider to their own service; an admin gives `organisation_id`."""
    data = ProviderData(
        display_name=body.display_name,
        kind=body.kind,
        gender=body.gender,
        languages=[LanguageData(**item.model_dump()) for item in body.languages],
        skills=body.skills,
        modalities=[str(m) for m in dict.fromkeys(body.modalities)],
        home_lat=body.home.lat,
        home_lon=body.home.lon,
        home_town=body.home.town,
        countries=[str(c) for c in dict.fromkeys(body.countries)],
        max_travel_minutes=body.max_travel_minutes,
        max_minutes_per_day=body.max_minutes_per_day,
        max_minutes_per_week=body.max_minutes_per_week,
        works_on_holidays=body.works_on_holidays,
        user_id=body.user_id,
        organisation_id=body.organisation_id,
        email=body.email,
        phone=body.phone,
        locale=body.locale,
        message_channels=body.message_channels,
    )
    provider = service.create_provider(db, actor=user, data=data)
    return provider_out(
        db, provider, service.languages_of(db, [provider.id])[provider.id], utc_now().date()
    )


@router.get(
    "/{provider_id}",
    summary="Read one provider",
    response_model=ProviderOut | ProviderSummary,
    responses=error_responses(401, 404, 422),
)
def read_provider(
    request: Request, response: Response, db: DbSession, user: CurrentUser, provider_id: IdPath
) -> ProviderOut | ProviderSummary:
    """In full for their dispatchers, an admin and themself (with an `ETag` to send back as
    `If-Match` on `PATCH`); a requester gets the public face."""
    provider = service.get_visible_provider(db, user, provider_id)
    if service.sees_private_data(user, provider):
        log_reads(request, provider_reads(user, [provider], via=ReadVia.API))
        response.headers["ETag"] = service.provider_etag(provider)
    return _view(db, user, provider)


@router.patch(
    "/{provider_id}",
    summary="Change a provider (dispatcher of the service, or admin)",
    response_model=ProviderOut,
    responses=error_responses(401, 403, 404, 412, 413, 422, 429),
)
def update_provider(
    response: Response,
    db: DbSession,
    user: DispatcherOrAdmin,
    provider_id: IdPath,
    body: ProviderUpdate,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description="Optional: the provider's `ETag` as you read it; 412 if it changed since.",
        ),
    ] = None,
) -> ProviderOut:
    """Only the fields sent change; `languages` replaces the whole list. With `If-Match`, only
    if the provider is still as read (412 `version_mismatch` otherwise)."""
    provider = service.get_managed_provider(db, user, provider_id, allow_self=False)
    expected = None
    if if_match is not None:
        tags = {tag.strip() for tag in if_match[:MAX_IF_MATCH].split(",")}
        current = service.provider_etag(provider)
        expected = current if current in tags else if_match[:MAX_IF_MATCH].strip()
    changes = body.model_dump(exclude_unset=True)
    if "languages" in changes:
        changes["languages"] = (
            [LanguageData(**item.model_dump()) for item in body.languages]
            if body.languages is not None
            else None
        )
    home = changes.pop("home", None)
    if home is not None:
        changes.update(home_lat=home["lat"], home_lon=home["lon"], home_town=home["town"])
    elif "home" in body.model_fields_set:
        changes.update(home_lat=None)
    for name in ("modalities", "countries"):
        if changes.get(name) is not None:
            changes[name] = [str(v) for v in dict.fromkeys(changes[name])]
    provider = service.update_provider(
        db, actor=user, provider=provider, changes=changes, expected_etag=expected
    )
    response.headers["ETag"] = service.provider_etag(provider)
    return provider_out(
        db, provider, service.languages_of(db, [provider.id])[provider.id], utc_now().date()
    )


@router.get(
    "/{provider_id}/availability",
    summary="Read a provider's weekly rules and dated exceptions",
    response_model=AvailabilityOut,
    responses=error_responses(401, 403, 404, 422),
)
def read_availability(
    db: DbSession, settings: AppSettings, user: AvailabilityEditor, provider_id: IdPath
) -> AvailabilityOut:
    """A provider reads their own; a dispatcher those of their service's providers."""
    provider = service.get_managed_provider(db, user, provider_id, allow_self=True)
    return _availability_out(
        availability_service.get_availability(
            db, provider=provider, timezone=service.timezone_of(db, provider)
        ),
        settings,
    )


@router.put(
    "/{provider_id}/availability",
    summary="Replace a provider's weekly rules and dated exceptions",
    response_model=AvailabilityOut,
    responses=error_responses(401, 403, 404, 413, 422, 429),
)
def replace_availability(
    db: DbSession,
    settings: AppSettings,
    user: AvailabilityEditor,
    provider_id: IdPath,
    body: AvailabilityIn,
) -> AvailabilityOut:
    """Weekly rules are local wall-clock times of the provider's service (Europe/Brussels or
    Europe/Paris), so they hold across daylight-saving changes; exceptions are instants with
    an offset (`absence` removes time, `extra` adds it). Public holidays of the service's
    country are removed automatically unless the provider works on them. A rule's time that
    does not exist on the night the clocks go forward moves forward by the gap (02:30 is
    03:30); one that occurs twice when they go back is the first; `adjustments` lists those
    days within the booking horizon."""
    provider = service.get_managed_provider(db, user, provider_id, allow_self=True)
    result = availability_service.replace_availability(
        db,
        actor=user,
        provider=provider,
        timezone=service.timezone_of(db, provider),
        rules=[availability_service.RuleData(**rule.model_dump()) for rule in body.rules],
        exceptions=[
            availability_service.ExceptionData(
                kind=str(item.kind), starts_at=item.starts_at, ends_at=item.ends_at, note=item.note
            )
            for item in body.exceptions
        ],
    )
    return _availability_out(result, settings)


@router.patch(
    "/{provider_id}/contact",
    summary="Change how messages reach a provider (their dispatcher, an admin, or themself)",
    response_model=ProviderOut,
    responses=error_responses(401, 403, 404, 413, 422, 429),
)
def update_contact(
    db: DbSession, user: AvailabilityEditor, provider_id: IdPath, body: ContactUpdate
) -> ProviderOut:
    """Email, mobile number, the language of their messages and the channels they want them
    by. Only the fields sent change; `null` clears one (`locale: null` goes back to the
    service's language). These are the provider's own, sign-in or not: a linked login is
    only a way in."""
    provider = service.get_managed_provider(db, user, provider_id, allow_self=True)
    provider = service.update_contact(
        db, actor=user, provider=provider, changes=body.model_dump(exclude_unset=True)
    )
    return provider_out(
        db, provider, service.languages_of(db, [provider.id])[provider.id], utc_now().date()
    )
