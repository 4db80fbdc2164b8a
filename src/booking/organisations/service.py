"""Organisations, the agreements between them, and their sites.

Only admins change these; everyone reads what their tenancy lets them see
(``booking.access.visible_organisation_ids``). Sites must lie in the
service area, so a typo in a coordinate cannot send an interpreter to the
other end of Europe.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, false, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.access import visible_organisation_ids
from booking.audit import pending_changes, record_audit
from booking.errors import Conflict, FieldError, NotFound, Unprocessable
from booking.geography import SERVICE_AREA
from booking.organisations.models import Organisation, ServiceAgreement, Site
from booking.users.models import User
from booking.vocabulary import Country, OrganisationKind

DEFAULT_TIMEZONES: dict[str, str] = {Country.BE: "Europe/Brussels", Country.FR: "Europe/Paris"}
POSTCODE_PATTERNS: dict[str, re.Pattern[str]] = {
    Country.BE: re.compile(r"[1-9]\d{3}"),
    Country.FR: re.compile(r"\d{5}"),
}


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Unprocessable(
            f"unknown time zone {name!r}",
            errors=[FieldError("timezone", "Unknown time zone.", code="timezone_unknown")],
        ) from None


def _scope(query: Select[Any], column: Any, visible: set[int] | None) -> Select[Any]:
    if visible is None:
        return query
    return query.where(column.in_(visible)) if visible else query.where(false())


def organisation_query_for(
    db: Session, user: User, *, kind: str | None = None
) -> Select[Organisation]:
    """The organisations ``user`` may see, optionally of one kind."""
    query = _scope(select(Organisation), Organisation.id, visible_organisation_ids(db, user))
    if kind is not None:
        query = query.where(Organisation.kind == kind)
    return query


def get_visible_organisation(db: Session, user: User, organisation_id: int) -> Organisation:
    """The organisation if ``user`` may see it; ``NotFound`` otherwise (hidden or missing)."""
    row = db.scalars(
        organisation_query_for(db, user).where(Organisation.id == organisation_id)
    ).first()
    if row is None:
        raise NotFound(entity="organisation", entity_id=organisation_id)
    return row


def create_organisation(
    db: Session,
    *,
    actor: User | None,
    name: str,
    kind: str,
    country: str,
    region: str | None = None,
    timezone: str | None = None,
    locale: str = "fr",
    counts_idle: bool = False,
) -> Organisation:
    """Add a requesting body or a providing service (``locale``: its people's messages;
    ``counts_idle``: a service whose providers are salaried, see `_check_counts_idle`)."""
    timezone = timezone or DEFAULT_TIMEZONES[country]
    _check_timezone(timezone)
    _check_counts_idle(kind, counts_idle)
    organisation = Organisation(
        name=name,
        kind=kind,
        country=country,
        region=region,
        timezone=timezone,
        locale=locale,
        counts_idle=counts_idle,
    )
    db.add(organisation)
    db.flush()
    record_audit(
        db,
        actor=actor,
        action="organisation.created",
        entity=organisation,
        changes={
            "name": name,
            "kind": kind,
            "country": country,
            "timezone": timezone,
            "locale": locale,
            "counts_idle": counts_idle,
        },
        organisation_id=organisation.id,
    )
    return organisation


STAFFING_SETTINGS = ("fairness_weight", "auto_offer", "urgent_within_hours")
"""A providing service's settings of plans and repairs (docs/operations.md, "Re-staffing")."""


def update_organisation(
    db: Session, *, actor: User | None, organisation: Organisation, changes: Mapping[str, Any]
) -> Organisation:
    """Rename or move an organisation (``name``, ``country``, ``region``, ``timezone``,
    ``locale``), change a providing service's staffing settings
    (``fairness_weight``, ``auto_offer``, ``urgent_within_hours``), or say
    whether its providers count idle time (``counts_idle``).

    The kind never changes: its users' roles and its agreements depend on it.
    The staffing settings steer plans and repairs, which only a providing
    service runs: on another organisation they are refused.
    """
    if changes.get("timezone") is not None:
        _check_timezone(changes["timezone"])
    staffing = [key for key in STAFFING_SETTINGS if changes.get(key) is not None]
    if staffing and organisation.kind != OrganisationKind.PROVIDING:
        raise Unprocessable(
            f"organisation {organisation.id} is not a providing service",
            errors=[
                FieldError(key, "Only a providing service has this setting.", code="not_providing")
                for key in staffing
            ],
            rule="staffing_settings",
        )
    if changes.get("counts_idle") is not None:
        _check_counts_idle(organisation.kind, changes["counts_idle"])
    for key in ("name", "country", "timezone", "locale", "counts_idle", *staffing):
        if changes.get(key) is not None:
            setattr(organisation, key, changes[key])
    if "region" in changes:
        organisation.region = changes["region"]
    diff = pending_changes(organisation)
    if diff:
        record_audit(
            db, actor=actor, action="organisation.updated", entity=organisation, changes=diff
        )
        db.flush()
    return organisation


def _check_counts_idle(kind: str, counts_idle: bool) -> None:
    """Only a providing service employs providers, so only it may say they are salaried.

    With it, the matcher counts its providers' waiting between leaving home
    and coming back as cost (docs/problem.md, "Idle time that counts").
    """
    if counts_idle and kind != OrganisationKind.PROVIDING:
        raise Unprocessable(
            "only a providing service has providers whose idle time can count",
            errors=[
                FieldError("counts_idle", "Must be a providing service.", code="not_providing")
            ],
        )


def agreement_query(db: Session, *, organisation_id: int) -> Select[ServiceAgreement]:
    """The agreements an organisation is a party to (as provider or requester)."""
    return select(ServiceAgreement).where(
        (ServiceAgreement.providing_org_id == organisation_id)
        | (ServiceAgreement.requesting_org_id == organisation_id)
    )


def create_agreement(
    db: Session,
    *,
    actor: User | None,
    providing: Organisation,
    requesting_org_id: int,
) -> ServiceAgreement:
    """Say that the providing service ``providing`` dispatches for ``requesting_org_id``."""
    if providing.kind != OrganisationKind.PROVIDING:
        raise Unprocessable(
            f"organisation {providing.id} is not a providing service",
            errors=[
                FieldError("organisation_id", "Must be a providing service.", code="not_providing")
            ],
            rule="agreement_parties",
        )
    requesting = db.get(Organisation, requesting_org_id)
    if requesting is None or requesting.kind != OrganisationKind.REQUESTING:
        raise Unprocessable(
            f"organisation {requesting_org_id} is not a requesting organisation",
            errors=[
                FieldError(
                    "requesting_organisation_id",
                    "Must be an existing requesting organisation.",
                    code="not_requesting",
                )
            ],
            rule="agreement_parties",
        )
    duplicate = db.scalars(
        select(ServiceAgreement.id).where(
            ServiceAgreement.providing_org_id == providing.id,
            ServiceAgreement.requesting_org_id == requesting.id,
        )
    ).first()
    if duplicate is not None:
        raise _agreement_exists(providing.id, requesting.id, duplicate)
    agreement = ServiceAgreement(providing_org_id=providing.id, requesting_org_id=requesting.id)
    db.add(agreement)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:
        raise _agreement_exists(providing.id, requesting.id, None) from None
    record_audit(
        db,
        actor=actor,
        action="service_agreement.created",
        entity=agreement,
        changes={"providing_org_id": providing.id, "requesting_org_id": requesting.id},
        organisation_id=providing.id,
    )
    return agreement


def _agreement_exists(providing_id: int, requesting_id: int, existing: int | None) -> Conflict:
    return Conflict(
        f"organisation {providing_id} already serves organisation {requesting_id}",
        code="agreement_exists",
        extra={"agreement_id": existing} if existing is not None else None,
    )


def delete_agreement(
    db: Session, *, actor: User | None, organisation: Organisation, agreement_id: int
) -> None:
    """End an agreement of ``organisation``: its dispatchers no longer see that requester."""
    agreement = db.get(ServiceAgreement, agreement_id)
    if agreement is None or organisation.id not in (
        agreement.providing_org_id,
        agreement.requesting_org_id,
    ):
        raise NotFound(entity="service_agreement", entity_id=agreement_id)
    record_audit(
        db,
        actor=actor,
        action="service_agreement.deleted",
        entity=agreement,
        changes={
            "providing_org_id": agreement.providing_org_id,
            "requesting_org_id": agreement.requesting_org_id,
        },
        organisation_id=agreement.providing_org_id,
    )
    db.delete(agreement)
    db.flush()


def check_in_service_area(lat: float, lon: float) -> None:
    """``Unprocessable`` naming ``lat`` and/or ``lon`` when the point is outside the area."""
    box = SERVICE_AREA
    errors = []
    message = (
        f"Outside the service area (latitude {box.lat_min} to {box.lat_max}, "
        f"longitude {box.lon_min} to {box.lon_max})."
    )
    if not box.lat_min <= lat <= box.lat_max:
        errors.append(FieldError("lat", message, code="outside_service_area"))
    if not box.lon_min <= lon <= box.lon_max:
        errors.append(FieldError("lon", message, code="outside_service_area"))
    if errors:
        raise Unprocessable(
            f"({lat}, {lon}) is outside the service area",
            errors=errors,
            rule="site_in_service_area",
        )


def _check_postcode(postcode: str, country: str) -> None:
    pattern = POSTCODE_PATTERNS.get(country)
    if pattern is not None and not pattern.fullmatch(postcode):
        raise Unprocessable(
            f"{postcode!r} is not a postcode of {country}",
            errors=[
                FieldError(
                    "postcode",
                    f"Not a postcode of {country}.",
                    code="postcode_invalid",
                )
            ],
        )


def site_query_for(db: Session, user: User, *, organisation_id: int | None = None) -> Select[Site]:
    """The sites ``user`` may see: those of the organisations visible to them."""
    query = _scope(select(Site), Site.organisation_id, visible_organisation_ids(db, user))
    if organisation_id is not None:
        query = query.where(Site.organisation_id == organisation_id)
    return query


def get_visible_site(db: Session, user: User, site_id: int) -> Site:
    """The site if ``user`` may see it; ``NotFound`` otherwise (hidden or missing)."""
    row = db.scalars(site_query_for(db, user).where(Site.id == site_id)).first()
    if row is None:
        raise NotFound(entity="site", entity_id=site_id)
    return row


def create_site(
    db: Session,
    *,
    actor: User | None,
    organisation_id: int,
    name: str,
    address: str,
    postcode: str,
    town: str,
    country: str,
    lat: float,
    lon: float,
    region: str | None = None,
) -> Site:
    """Add a place where an organisation's sessions happen."""
    if db.get(Organisation, organisation_id) is None:
        raise Unprocessable(
            f"organisation {organisation_id} does not exist",
            errors=[FieldError("organisation_id", "Unknown organisation.", code="unknown")],
        )
    check_in_service_area(lat, lon)
    _check_postcode(postcode, country)
    site = Site(
        organisation_id=organisation_id,
        name=name,
        address=address,
        postcode=postcode,
        town=town,
        country=country,
        region=region,
        lat=lat,
        lon=lon,
    )
    db.add(site)
    db.flush()
    record_audit(
        db,
        actor=actor,
        action="site.created",
        entity=site,
        changes={"name": name, "town": town, "country": country, "lat": lat, "lon": lon},
    )
    return site


def update_site(db: Session, *, actor: User | None, site: Site, changes: Mapping[str, Any]) -> Site:
    """Change a site's name, address or place; the point must stay in the service area."""
    for key in ("name", "address", "postcode", "town", "country", "lat", "lon"):
        if changes.get(key) is not None:
            setattr(site, key, changes[key])
    if "region" in changes:
        site.region = changes["region"]
    check_in_service_area(site.lat, site.lon)
    _check_postcode(site.postcode, site.country)
    diff = pending_changes(site)
    if diff:
        record_audit(db, actor=actor, action="site.updated", entity=site, changes=diff)
        db.flush()
    return site
