"""Providers: who sees them, who manages them, creating and changing them (audited).

A dispatcher manages the providers of their own providing service; an admin
manages all of them; a provider reads and manages only their own record's
availability, calendar feed and contact details. A requester may list the
providers of the services that serve their organisation, but only their
public face (name, kind, languages): home, contact details and limits stay
private.

A provider's contact (email, mobile number, language of their messages,
channels) is their own, sign-in or not: messages go there, and a linked
login is only a way in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session

from booking.assignments.models import Assignment
from booking.audit import pending_changes, record_audit
from booking.bookings.models import Booking
from booking.errors import FieldError, Forbidden, NotFound, PreconditionFailed, Unprocessable
from booking.languages.models import Language
from booking.organisations.models import Organisation, ServiceAgreement
from booking.phones import mobile_e164
from booking.providers.calendar import revoke_calendar_token
from booking.providers.models import Provider, ProviderLanguage
from booking.types import to_jsonable
from booking.users.models import User
from booking.vocabulary import (
    AssignmentStatus,
    Locale,
    MessageChannels,
    OrganisationKind,
    UserRole,
)

PROVIDER_FIELDS: tuple[str, ...] = (
    "display_name",
    "kind",
    "gender",
    "skills",
    "modalities",
    "home_lat",
    "home_lon",
    "home_town",
    "countries",
    "max_travel_minutes",
    "max_minutes_per_day",
    "max_minutes_per_week",
    "works_on_holidays",
    "is_active",
)
"""The provider columns a dispatcher sets directly."""

NOT_NULL_FIELDS = frozenset(PROVIDER_FIELDS) - {"gender", "skills", "countries"}
"""Fields a change may not clear (``skills`` and ``countries`` clear to an empty list)."""

CONTACT_FIELDS: tuple[str, ...] = ("email", "phone", "locale", "message_channels")
"""What the provider themself may change too: how their messages reach them. ``phone`` is
typed in any common notation and kept as ``phone_e164``."""


@dataclass(frozen=True)
class LanguageData:
    """A language a provider works in; ``certified_until`` is the last day it counts."""

    code: str
    certified: bool = False
    certified_until: dt.date | None = None


@dataclass(frozen=True)
class ProviderData:
    """Everything needed to create a provider."""

    display_name: str
    kind: str
    home_lat: float
    home_lon: float
    home_town: str
    languages: Sequence[LanguageData]
    gender: str | None = None
    skills: Sequence[str] = ()
    modalities: Sequence[str] = ("onsite", "phone", "video")
    countries: Sequence[str] = ("BE", "FR")
    max_travel_minutes: int = 90
    max_minutes_per_day: int = 420
    max_minutes_per_week: int = 1800
    works_on_holidays: bool = False
    is_active: bool = True
    user_id: int | None = None
    organisation_id: int | None = None
    email: str | None = None
    phone: str | None = None
    locale: str | None = None
    """``None``: their organisation's language."""
    message_channels: str = MessageChannels.BOTH
    extra: Mapping[str, Any] = field(default_factory=dict)


# Who sees whom.


def provider_query_for(db: Session, user: User) -> Select[Provider]:
    """A ``SELECT`` of the providers ``user`` may read about (see the module docstring)."""
    query = select(Provider)
    match user.role:
        case UserRole.ADMIN:
            return query
        case UserRole.DISPATCHER:
            return query.where(Provider.organisation_id == user.organisation_id)
        case UserRole.PROVIDER:
            return query.where(Provider.user_id == user.id)
        case UserRole.REQUESTER:
            serving = select(ServiceAgreement.providing_org_id).where(
                ServiceAgreement.requesting_org_id == user.organisation_id
            )
            return query.where(Provider.organisation_id.in_(serving), Provider.is_active)
    return query.where(false())


@dataclass(frozen=True)
class NameableProviders:
    """Whom a requester may ask for by name, or ask not to send (the booking form)."""

    served_before: list[Provider]
    """Confirmed for one of the organisation's bookings already: continuity's first choices."""
    everyone: list[Provider]


def nameable_providers(db: Session, user: User) -> NameableProviders:
    """The providers ``user`` may read about, by name, and those who served their organisation."""
    served = (
        select(Assignment.provider_id)
        .join(Booking, Booking.id == Assignment.booking_id)
        .where(
            Booking.organisation_id == user.organisation_id,
            Assignment.status == AssignmentStatus.CONFIRMED,
        )
    )
    visible = provider_query_for(db, user).order_by(Provider.display_name, Provider.id)
    return NameableProviders(
        served_before=list(db.scalars(visible.where(Provider.id.in_(served)))),
        everyone=list(db.scalars(visible)),
    )


def get_visible_provider(db: Session, user: User, provider_id: int) -> Provider:
    """The provider if ``user`` may read about it; ``NotFound`` if missing or hidden."""
    provider = db.scalars(provider_query_for(db, user).where(Provider.id == provider_id)).first()
    if provider is None:
        raise NotFound(entity="provider", entity_id=provider_id)
    return provider


def sees_private_data(user: User, provider: Provider) -> bool:
    """Whether ``user`` may read the provider's home, contact details and limits."""
    if user.role == UserRole.ADMIN:
        return True
    if user.role == UserRole.DISPATCHER:
        return provider.organisation_id == user.organisation_id
    return user.role == UserRole.PROVIDER and provider.user_id == user.id


def get_managed_provider(
    db: Session, user: User, provider_id: int, *, allow_self: bool
) -> Provider:
    """The provider if ``user`` may change it: its dispatchers, an admin, or itself if allowed.

    A provider the caller cannot see at all is ``NotFound``; one they see but
    may not change (a requester, a provider's own profile) is ``Forbidden``.
    """
    provider = get_visible_provider(db, user, provider_id)
    if user.role in (UserRole.ADMIN, UserRole.DISPATCHER) and sees_private_data(user, provider):
        return provider
    if allow_self and user.role == UserRole.PROVIDER and provider.user_id == user.id:
        return provider
    raise Forbidden("Only the provider's dispatchers or an admin may change this.")


def languages_of(db: Session, provider_ids: Iterable[int]) -> dict[int, list[ProviderLanguage]]:
    """The languages of several providers at once, by provider id, in code order."""
    ids = list(provider_ids)
    found: dict[int, list[ProviderLanguage]] = defaultdict(list)
    if not ids:
        return found
    rows = db.scalars(
        select(ProviderLanguage)
        .where(ProviderLanguage.provider_id.in_(ids))
        .order_by(ProviderLanguage.provider_id, ProviderLanguage.language_code)
    )
    for row in rows:
        found[row.provider_id].append(row)
    return found


def timezone_of(db: Session, provider: Provider) -> str:
    """The time zone the provider's weekly rules are written in (their service's)."""
    organisation = db.get_one(Organisation, provider.organisation_id)
    return organisation.timezone


# Checks shared by create and update.


def _check_languages(db: Session, languages: Sequence[LanguageData]) -> list[FieldError]:
    errors: list[FieldError] = []
    codes = [item.code for item in languages]
    known = set(db.scalars(select(Language.code).where(Language.code.in_(codes))))
    seen: set[str] = set()
    for i, item in enumerate(languages):
        if item.code not in known:
            errors.append(
                FieldError(f"languages.{i}.code", f"Unknown language '{item.code}'.", "unknown")
            )
        if item.code in seen:
            errors.append(
                FieldError(f"languages.{i}.code", f"'{item.code}' is listed twice.", "duplicate")
            )
        seen.add(item.code)
        if item.certified_until is not None and not item.certified:
            errors.append(
                FieldError(
                    f"languages.{i}.certified_until",
                    "Only a certified language has a certification end date.",
                )
            )
    return errors


def _check_user(
    db: Session, user_id: int | None, organisation_id: int, provider_id: int | None
) -> list[FieldError]:
    if user_id is None:
        return []
    user = db.get(User, user_id)
    if user is None or user.organisation_id != organisation_id:
        return [FieldError("user_id", "No such user in the provider's service.", "unknown")]
    if user.role != UserRole.PROVIDER:
        return [FieldError("user_id", "The login of a provider must have the provider role.")]
    taken = db.scalars(
        select(Provider.id).where(Provider.user_id == user_id, Provider.id != (provider_id or -1))
    ).first()
    if taken is not None:
        return [FieldError("user_id", "This login already belongs to another provider.", "taken")]
    return []


def _check_limits(values: Mapping[str, Any]) -> list[FieldError]:
    day, week = values.get("max_minutes_per_day"), values.get("max_minutes_per_week")
    if day is not None and week is not None and day > week:
        return [FieldError("max_minutes_per_day", "Must not exceed max_minutes_per_week.")]
    return []


def _set_languages(db: Session, provider: Provider, languages: Sequence[LanguageData]) -> None:
    existing = {row.language_code: row for row in languages_of(db, [provider.id])[provider.id]}
    wanted = {item.code: item for item in languages}
    for code, gone in existing.items():
        if code not in wanted:
            db.delete(gone)
    for code, item in wanted.items():
        row = existing.get(code)
        if row is None:
            db.add(
                ProviderLanguage(
                    provider_id=provider.id,
                    language_code=code,
                    certified=item.certified,
                    certified_until=item.certified_until,
                )
            )
        else:
            row.certified = item.certified
            row.certified_until = item.certified_until


def _languages_json(languages: Sequence[LanguageData] | Sequence[ProviderLanguage]) -> list[Any]:
    out = []
    for item in languages:
        code = item.code if isinstance(item, LanguageData) else item.language_code
        out.append(
            {"code": code, "certified": item.certified, "certified_until": item.certified_until}
        )
    rendered: list[Any] = to_jsonable(out)
    return rendered


# Writes.


def create_provider(db: Session, *, actor: User, data: ProviderData) -> Provider:
    """A new provider of the actor's service (a dispatcher) or of a given service (an admin)."""
    if actor.role == UserRole.DISPATCHER:
        if data.organisation_id not in (None, actor.organisation_id):
            raise Forbidden("A dispatcher adds providers to their own service only.")
        organisation_id = actor.organisation_id
    elif actor.role == UserRole.ADMIN:
        if data.organisation_id is None:
            raise Unprocessable(
                "Say which providing service the provider belongs to.",
                errors=[FieldError("organisation_id", "Required for an admin.", "missing")],
            )
        organisation_id = data.organisation_id
    else:
        raise Forbidden("Only dispatchers and admins add providers.")
    errors: list[FieldError] = []
    organisation = db.get(Organisation, organisation_id)
    contact: dict[str, Any] = {}
    if organisation is None or organisation.kind != OrganisationKind.PROVIDING:
        errors.append(FieldError("organisation_id", "No such providing service.", "unknown"))
    else:
        given = {name: getattr(data, name) for name in CONTACT_FIELDS}
        missing = [name for name, value in given.items() if not value]
        contact, contact_errors = _contact_values(
            {**given, **_login_defaults(db, data.user_id, missing)}, organisation
        )
        errors += contact_errors
    errors += _check_languages(db, data.languages)
    errors += _check_user(db, data.user_id, organisation_id, None)
    errors += _check_limits(
        {
            "max_minutes_per_day": data.max_minutes_per_day,
            "max_minutes_per_week": data.max_minutes_per_week,
        }
    )
    if errors:
        raise Unprocessable("The provider breaks a rule.", errors=errors)
    provider = Provider(
        organisation_id=organisation_id,
        user_id=data.user_id,
        **{name: _listify(getattr(data, name)) for name in PROVIDER_FIELDS},
        **contact,
    )
    db.add(provider)
    db.flush()
    _set_languages(db, provider, data.languages)
    db.flush()
    record_audit(
        db,
        actor=actor,
        action="provider.created",
        entity=provider,
        changes={
            **{name: _listify(getattr(data, name)) for name in PROVIDER_FIELDS},
            "user_id": data.user_id,
            "languages": _languages_json(data.languages),
            **contact,
        },
    )
    return provider


def _contact_values(
    changes: Mapping[str, Any], organisation: Organisation
) -> tuple[dict[str, Any], list[FieldError]]:
    """The contact columns for ``changes`` (``email``, ``phone``, ``locale``,
    ``message_channels``), checked and normalised; a national number is read
    in the organisation's country."""
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    if "email" in changes:
        email = (changes["email"] or "").strip()
        if not email:
            values["email"] = None
        elif len(email) > 320:
            errors.append(FieldError("email", "At most 320 characters.", "email_invalid"))
        else:
            try:
                checked = validate_email(email, check_deliverability=False)
                values["email"] = checked.normalized.lower()
            except EmailNotValidError:
                errors.append(FieldError("email", "Not a valid email address.", "email_invalid"))
    if "phone" in changes:
        raw = (changes["phone"] or "").strip()
        phone = mobile_e164(raw, default_region=organisation.country) if raw else None
        if raw and phone is None:
            errors.append(
                FieldError(
                    "phone",
                    "Not a mobile number (an SMS must reach it); a number without country "
                    "code is read in the service's country.",
                    "phone_invalid",
                )
            )
        else:
            values["phone_e164"] = phone
    if "locale" in changes:
        locale = changes["locale"] or organisation.locale
        if locale not in set(Locale):
            errors.append(FieldError("locale", "One of fr, nl, en.", "not_a_choice"))
        else:
            values["locale"] = str(locale)
    if "message_channels" in changes:
        channels = changes["message_channels"] or MessageChannels.BOTH
        if channels not in set(MessageChannels):
            errors.append(
                FieldError("message_channels", "One of both, email, sms.", "not_a_choice")
            )
        else:
            values["message_channels"] = str(channels)
    return values, errors


def _login_defaults(db: Session, user_id: int | None, missing: Iterable[str]) -> dict[str, Any]:
    """What a login linked to a provider lends them where they have nothing of their own:
    its email, mobile number and language, once, so linking never leaves them unreachable.
    From then on the provider's own count; the login keeps them only as a way in."""
    user = db.get(User, user_id) if user_id is not None else None
    if user is None or user.role != UserRole.PROVIDER:
        return {}
    # A landline on the login is no use for SMS: it stays behind.
    mobile = mobile_e164(user.phone_e164) if user.phone_e164 else None
    lent = {"email": user.email, "phone": mobile, "locale": user.locale}
    return {name: lent[name] for name in missing if lent.get(name)}


def update_contact(
    db: Session, *, actor: User, provider: Provider, changes: Mapping[str, Any]
) -> Provider:
    """Change how messages reach the provider (their dispatchers, an admin, or themself).

    The caller checks the right (``get_managed_provider(..., allow_self=True)``);
    keys absent from ``changes`` stay as they are. Audited with old and new.
    """
    unknown = set(changes) - set(CONTACT_FIELDS)
    if unknown:
        raise ValueError(f"not contact fields: {sorted(unknown)}")
    organisation = db.get_one(Organisation, provider.organisation_id)
    values, errors = _contact_values(changes, organisation)
    if errors:
        raise Unprocessable("The contact details are not valid.", errors=errors)
    for name, value in values.items():
        setattr(provider, name, value)
    audit = pending_changes(provider)
    db.flush()
    if audit:
        record_audit(
            db, actor=actor, action="provider.contact_updated", entity=provider, changes=audit
        )
    return provider


def _listify(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | list) else value


def provider_etag(provider: Provider) -> str:
    """A strong tag of the provider's stored fields, e.g. ``"3f2a..."``.

    Providers carry no version column; the tag is a digest of what an update
    may change, so a change made from a stale read is refused (``If-Match``).
    """
    fields = {
        name: to_jsonable(getattr(provider, name))
        for name in sorted(
            (*PROVIDER_FIELDS, "email", "phone_e164", "locale", "message_channels", "user_id")
        )
    }
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    return f'"{digest[:20]}"'


def update_provider(
    db: Session,
    *,
    actor: User,
    provider: Provider,
    changes: Mapping[str, Any],
    expected_etag: str | None = None,
) -> Provider:
    """Apply the given fields (``languages`` replaces the whole list, the contact fields are
    those of ``update_contact``); audited with old and new.

    With ``expected_etag`` (a client's ``If-Match``), only if the provider is
    still as that read saw it (``PreconditionFailed`` otherwise).
    """
    unknown = set(changes) - {*PROVIDER_FIELDS, *CONTACT_FIELDS, "languages", "user_id"}
    if unknown:
        raise ValueError(f"not provider fields: {sorted(unknown)}")
    if expected_etag is not None and expected_etag != provider_etag(provider):
        raise PreconditionFailed(
            "The provider changed since you read it; read it again and retry.",
            extra={"provider_id": provider.id},
        )
    given = {name: changes[name] for name in CONTACT_FIELDS if name in changes}
    if changes.get("user_id") not in (None, provider.user_id):
        own = {"email": provider.email, "phone": provider.phone_e164}
        missing = [name for name, value in own.items() if not value and name not in given]
        given = {**given, **_login_defaults(db, changes["user_id"], missing)}
    contact, errors = _contact_values(given, db.get_one(Organisation, provider.organisation_id))
    languages: Sequence[LanguageData] | None = changes.get("languages")
    if languages is not None:
        errors += _check_languages(db, languages)
    if "user_id" in changes:
        errors += _check_user(db, changes["user_id"], provider.organisation_id, provider.id)
    errors += _check_limits(
        {
            "max_minutes_per_day": changes.get("max_minutes_per_day", provider.max_minutes_per_day),
            "max_minutes_per_week": changes.get(
                "max_minutes_per_week", provider.max_minutes_per_week
            ),
        }
    )
    for name in NOT_NULL_FIELDS:
        if name in changes and changes[name] is None:
            errors.append(FieldError(name, "May not be null.", "null"))
    if errors:
        raise Unprocessable("The provider breaks a rule.", errors=errors)
    for name in (*PROVIDER_FIELDS, "user_id"):
        if name in changes:
            value = _listify(changes[name])
            if name in ("skills", "countries") and value is None:
                value = []
            setattr(provider, name, value)
    for name, value in contact.items():
        setattr(provider, name, value)
    audit = pending_changes(provider)
    login_taken_away = "user_id" in audit and audit["user_id"][0] is not None
    offboarded = audit.get("is_active") == [True, False] or login_taken_away
    if languages is not None:
        before = _languages_json(languages_of(db, [provider.id])[provider.id])
        after = _languages_json(languages)
        if before != after:
            audit["languages"] = [before, after]
        _set_languages(db, provider, languages)
    db.flush()
    if audit:
        record_audit(db, actor=actor, action="provider.updated", entity=provider, changes=audit)
    if offboarded:
        # Set inactive, or the login unlinked or given to someone else: the private
        # feed address must not outlive it (a new one can be issued).
        reason = "provider_inactive" if audit.get("is_active") == [True, False] else "login_changed"
        revoke_calendar_token(db, actor=actor, provider=provider, reason=reason)
    if audit.get("is_active") == [True, False]:
        # Their held work still to come falls through and is re-staffed.
        from booking.plans.repair import provider_deactivated

        provider_deactivated(db, actor=actor, provider=provider)
    return provider
