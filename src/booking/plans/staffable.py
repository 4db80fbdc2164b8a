"""What would make an unstaffed booking staffable, and the booking update that takes each change.

`matching.staffable` finds the smallest changes checked by the matcher's own
rules; this reads the booking's days as they stand (held work pinned,
current proposals in place, the days around it for another start) and
turns each change the requester can make into a `BookingPatch`, which goes
through `update_booking` like any edit (If-Match and audit included).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from booking.assignments.service.candidates import booking_days, current_plan
from booking.bookings.models import Booking
from booking.bookings.validation import BookingPatch
from booking.plans.problem_builder import DEFAULT_TIMEZONE, build_problem, session_key
from booking.providers.models import Provider
from booking.providers.service import get_managed_provider, provider_etag, update_provider
from booking.types import ensure_aware, utc_now
from booking.users.models import User
from booking.vocabulary import UNSTAFFED_BOOKING_STATUSES
from matching.staffable import Suggestion, suggest, suggest_group

AROUND_DAYS = 3
"""Another start is looked for this many days either way."""


@dataclass(frozen=True)
class ProviderChange:
    """A cross-border or longer-drive suggestion as the provider update that takes it."""

    provider: Provider
    changes: dict[str, Any]
    """``{"countries": [...]}`` (one country more) or ``{"max_travel_minutes": n}``."""
    etag: str
    """The provider's tag as the suggestion read it: the update is refused if it moved since."""


@dataclass(frozen=True)
class StaffableView:
    """One suggestion: what changes, who could then come, and the update that makes it."""

    kind: str
    change: dict[str, str | int]
    providers: list[Provider]
    starts_at: dt.datetime
    changes_booking: bool
    patch: BookingPatch | None
    """The booking update that takes it; None where a provider or dispatcher decides."""
    provider_change: ProviderChange | None = None
    """The provider update that takes a cross-border or longer-drive suggestion (a dispatcher's)."""


def staffable_suggestions(
    db: Session,
    *,
    booking: Booking,
    now: dt.datetime | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> list[StaffableView]:
    """Up to three changes that would let someone take ``booking``, best first.

    Empty for a booking that is not waiting for a provider (held, cancelled,
    done) or whose session has started; the caller checks who may see it.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    if booking.status not in UNSTAFFED_BOOKING_STATUSES:
        return []
    start, end = booking_days(booking, timezone)
    around = dt.timedelta(days=AROUND_DAYS)
    problem, index = build_problem(
        db,
        horizon_start=start - around,
        horizon_end=end + around,
        booking_ids=[booking.id],
        now=now,
        # A group's places speak several languages: every provider is looked at.
        language_code=None if booking.places else booking.language_code,
        with_proposals=True,
        timezone=timezone,
    )
    key = session_key(booking.id)
    if key not in index.planned:
        return []
    zone = ZoneInfo(timezone)
    if booking.places:
        # A group as a whole: a start, a modality for every place, or going ahead with fewer.
        found = suggest_group(problem, current_plan(index), key, days=AROUND_DAYS)
    else:
        found = suggest(problem, current_plan(index), key, days=AROUND_DAYS)
    return [_view(s, index.providers, zone, booking) for s in found]


def _view(
    s: Suggestion, providers: dict[str, Provider], zone: ZoneInfo, booking: Booking
) -> StaffableView:
    return StaffableView(
        kind=s.kind,
        change=dict(s.change),
        providers=[providers[p] for p in s.providers if p in providers],
        starts_at=s.start.astimezone(zone),
        changes_booking=s.changes_booking,
        patch=_patch(s, booking),
        provider_change=_provider_change(s, providers),
    )


def _provider_change(s: Suggestion, providers: dict[str, Provider]) -> ProviderChange | None:
    provider = providers.get(str(s.change.get("provider", "")))
    if provider is None:
        return None
    if s.kind == "cross_border":
        countries = sorted({*provider.countries, str(s.change["country"])})
        return ProviderChange(provider, {"countries": countries}, provider_etag(provider))
    if s.kind == "travel_limit":
        minutes = provider.max_travel_minutes + int(s.change["extra_minutes"])
        return ProviderChange(provider, {"max_travel_minutes": minutes}, provider_etag(provider))
    return None


def take_provider_change(
    db: Session, *, actor: User, change: ProviderChange, expected_etag: str
) -> Provider:
    """Take a cross-border or longer-drive suggestion: the normal provider update, audited.

    Only the provider's dispatchers or an admin (``Forbidden`` otherwise),
    and only if the provider is still as the suggestion read it
    (``expected_etag``, else ``PreconditionFailed``).
    """
    provider = get_managed_provider(db, actor, change.provider.id, allow_self=False)
    return update_provider(
        db, actor=actor, provider=provider, changes=change.changes, expected_etag=expected_etag
    )


def _patch(s: Suggestion, booking: Booking) -> BookingPatch | None:
    """The booking update a requester's suggestion stands for."""
    change = s.change
    if s.kind == "start":
        return {"starts_at": dt.datetime.fromisoformat(str(change["start"])), "window": None}
    if s.kind == "modality":
        return {"modality": str(change["modality"])}
    if s.kind == "all_or_nothing":
        return {"all_or_nothing": False}
    if s.kind == "drop_need":
        need = str(change["need"])
        if need == "gender":
            return {"required_gender": None}
        if need == "certified":
            return {"requires_certified": False}
        if need == "provider_kind":
            return {"provider_kind": "any"}
        skill = need.removeprefix("skill:")
        return {"required_skills": tuple(k for k in booking.required_skills or () if k != skill)}
    return None
