"""A provider's private calendar feed (iCalendar), for their phone or mail client.

The feed URL carries a secret token instead of a login, because calendar
clients cannot sign in: the token is shown once when issued and stored only
as its SHA-256 (``provider.calendar_token_hash``); issuing a new one revokes
the old. The feed lists the provider's accepted and confirmed work: when,
what (language, kind of session, modality) and where (the site's address for
onsite sessions). Nothing about the beneficiary and no notes: a calendar
travels to devices and services we do not control.
"""

from __future__ import annotations

import datetime as dt
import hmac

from icalendar import Calendar, Event, vDuration
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments.models import Assignment
from booking.audit import record_audit
from booking.bookings.models import Booking
from booking.bookings.provider_view import place_language
from booking.errors import NotFound
from booking.languages.models import Language
from booking.organisations.models import Site
from booking.outbox.events import invitation_uid
from booking.providers.models import Provider
from booking.types import UTC, ensure_aware, utc_now
from booking.users.models import User
from booking.users.tokens import hash_token, new_token
from booking.vocabulary import AssignmentStatus, Modality

FEED_PAST_DAYS = 90
"""How far back the feed goes: recent work stays visible, old history does not travel."""
MAX_TOKEN_LENGTH = 200
TOKEN_PREFIX = "cal"

FEED_STATUSES: dict[str, str] = {
    AssignmentStatus.CONFIRMED: "CONFIRMED",
    AssignmentStatus.ACCEPTED: "TENTATIVE",
}

MODALITY_WORDS: dict[str, dict[str, str]] = {
    "fr": {"onsite": "sur place", "phone": "téléphone", "video": "vidéo"},
    "nl": {"onsite": "ter plaatse", "phone": "telefoon", "video": "video"},
    "en": {"onsite": "onsite", "phone": "phone", "video": "video"},
}


def feed_path(provider_id: int) -> str:
    """The path of a provider's feed, without the token."""
    return f"/api/v1/providers/{provider_id}/calendar.ics"


def feed_url(base_url: str, provider_id: int, token: str) -> str:
    """The full private URL a provider subscribes to."""
    return f"{base_url.rstrip('/')}{feed_path(provider_id)}?token={token}"


def issue_calendar_token(db: Session, *, actor: User, provider: Provider) -> str:
    """A fresh feed token for ``provider`` (the old one stops working); returned once."""
    token, token_hash = new_token(TOKEN_PREFIX)
    had_one = provider.calendar_token_hash is not None
    provider.calendar_token_hash = token_hash
    db.flush()
    record_audit(
        db,
        actor=actor,
        action="provider.calendar_token_issued",
        entity=provider,
        changes={"replaced_previous": had_one},
    )
    return token


def revoke_calendar_token(
    db: Session, *, actor: User | None, provider: Provider, reason: str
) -> bool:
    """Stop the provider's feed address from working (offboarding); whether there was one.

    Called when the provider is set inactive, their login is unlinked or
    changed, or that login is deactivated. A new address can be issued later.
    """
    if provider.calendar_token_hash is None:
        return False
    provider.calendar_token_hash = None
    db.flush()
    record_audit(
        db,
        actor=actor,
        action="provider.calendar_token_revoked",
        entity=provider,
        changes={"reason": reason},
    )
    return True


def provider_for_feed(db: Session, *, provider_id: int, token: str) -> Provider:
    """The provider whose feed ``token`` opens; ``NotFound`` for anything else.

    The feed also dies with the provider's activity: an inactive provider, or
    one whose login is deactivated, has no feed even if a token survived.
    """
    provider = db.get(Provider, provider_id)
    stored = provider.calendar_token_hash if provider is not None else None
    if (
        provider is None
        or stored is None
        or not token
        or len(token) > MAX_TOKEN_LENGTH
        or not hmac.compare_digest(hash_token(token), stored)
        or not provider.is_active
        or not _login_active(db, provider)
    ):
        raise NotFound(entity="calendar", entity_id=provider_id)
    return provider


def _login_active(db: Session, provider: Provider) -> bool:
    """A provider without a login keeps their feed; one with a deactivated login does not."""
    if provider.user_id is None:
        return True
    user = db.get(User, provider.user_id)
    return user is not None and user.is_active


def calendar_feed(
    db: Session,
    *,
    provider_id: int,
    token: str,
    base_url: str,
    now: dt.datetime | None = None,
) -> bytes:
    """The iCalendar document of the provider's accepted and confirmed work."""
    now = ensure_aware(now) if now is not None else utc_now()
    provider = provider_for_feed(db, provider_id=provider_id, token=token)
    user = db.get(User, provider.user_id) if provider.user_id is not None else None
    locale = user.locale if user is not None and user.locale in MODALITY_WORDS else "fr"
    rows = db.execute(
        select(Assignment, Booking, Language, Site)
        .join(Booking, Booking.id == Assignment.booking_id)
        .join(Language, Language.code == Booking.language_code)
        .outerjoin(Site, Site.id == Booking.site_id)
        .where(
            Assignment.provider_id == provider.id,
            Assignment.status.in_(list(FEED_STATUSES)),
            Assignment.ends_at >= now - dt.timedelta(days=FEED_PAST_DAYS),
        )
        .order_by(Assignment.starts_at, Assignment.id)
    ).all()

    calendar = Calendar()
    calendar.add("prodid", "-//Truchement//Provider feed//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Truchement - {provider.display_name}")
    calendar.add(
        "refresh-interval", vDuration(dt.timedelta(minutes=15)), parameters={"VALUE": "DURATION"}
    )
    calendar.add("x-published-ttl", "PT15M")
    for assignment, booking, language, site in rows:
        language_name = getattr(language, f"name_{locale}", None) or language.name_en
        if booking.places:
            # A group booking: the provider's own place's language, "+2" for the others.
            own = db.get(Language, place_language(booking, assignment))
            if own is not None:
                language_name = getattr(own, f"name_{locale}", None) or own.name_en
            language_name += f" (+{len(booking.places)})"
        used = assignment.modality or booking.modality
        modality = MODALITY_WORDS[locale].get(used, used)
        kind = booking.session_kind.replace("_", " ")
        event = Event()
        event.add("uid", invitation_uid(assignment.id))
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", assignment.starts_at.astimezone(UTC))
        event.add("dtend", assignment.ends_at.astimezone(UTC))
        event.add("last-modified", assignment.updated_at.astimezone(UTC))
        event.add("sequence", booking.version_id)
        event.add("status", FEED_STATUSES[assignment.status])
        event.add("summary", f"{language_name} - {kind} ({modality})")
        if used == Modality.ONSITE:
            place = _place(booking, site)
            if place:
                event.add("location", place)
        elif used == Modality.VIDEO and booking.video_link:
            event.add("location", booking.video_link)
        event.add(
            "description",
            # The provider's own page: the booking page is the requester's.
            f"Truchement {booking.reference}: {base_url.rstrip('/')}/schedule#work-{assignment.id}",
        )
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    return bytes(calendar.to_ical())


def _place(booking: Booking, site: Site | None) -> str | None:
    if site is not None:
        return f"{site.address}, {site.postcode} {site.town}"
    return booking.address
