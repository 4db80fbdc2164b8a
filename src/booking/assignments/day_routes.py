"""Each provider's day as the matcher reads it: their sessions in order, and the drives.

The board's day view and ``GET /api/v1/day-routes`` show the same thing: a
provider leaves home, drives to each onsite session in start order (phone
and video sessions are held wherever they are) and drives home after the
last one. The drives use the travel model the problem builder gives the
matcher (``booking.geography.TRAVEL``) and the matcher's own reading of a
route (``matching.routes.route_legs``), so a page never shows a drive the
matcher did not plan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from booking.assignments.models import Assignment
from booking.assignments.service import assignment_query_for
from booking.bookings.models import Booking
from booking.dates import OUT_OF_RANGE, bounds_message, day_in_bounds
from booking.errors import FieldError, Unprocessable
from booking.geography import TRAVEL
from booking.providers.models import Provider
from booking.users.models import User
from booking.vocabulary import LIVE_ASSIGNMENT_STATUSES, Modality
from matching.problem import Location
from matching.routes import Visit, route_legs
from matching.travel import Travel


@dataclass(frozen=True, slots=True)
class DayItem:
    """One session on a provider's day, and the drive that brings them there."""

    assignment: Assignment
    booking: Booking
    travel_minutes: int
    """The drive to this session's place: 0 for phone and video, or the same place again."""
    travel_from_home: bool
    """Whether that drive starts at home (the day's first onsite session)."""


@dataclass(slots=True)
class ProviderDay:
    """A provider's live work of one local day, in start order."""

    provider: Provider
    items: list[DayItem] = field(default_factory=list)
    return_minutes: int = 0
    """The drive home after the last onsite session."""

    @property
    def work_minutes(self) -> int:
        return sum(item.booking.duration_minutes for item in self.items)

    @property
    def travel_minutes(self) -> int:
        """The drives to the day's sessions (the drive home is ``return_minutes``)."""
        return sum(item.travel_minutes for item in self.items)


def day_routes(db: Session, *, actor: User, day: dt.date, timezone: str) -> list[ProviderDay]:
    """Every provider ``actor`` may see with live work starting on ``day`` (local), by name.

    Live work is proposed, offered, accepted or confirmed. ``Unprocessable``
    for a day outside the dates the service takes.
    """
    if not day_in_bounds(day):
        raise Unprocessable(
            f"{day} is out of range",
            errors=[FieldError("date", bounds_message(), code=OUT_OF_RANGE)],
        )
    zone = ZoneInfo(timezone)
    begin = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    rows = db.execute(
        assignment_query_for(db, actor)
        .join(Booking, Booking.id == Assignment.booking_id)
        .join(Provider, Provider.id == Assignment.provider_id)
        .where(
            Assignment.status.in_(LIVE_ASSIGNMENT_STATUSES),
            Assignment.starts_at >= begin,
            Assignment.starts_at < end,
        )
        .add_columns(Booking, Provider)
        .order_by(Provider.display_name, Provider.id, Assignment.starts_at)
    ).all()
    work: dict[int, list[tuple[Assignment, Booking]]] = {}
    providers: dict[int, Provider] = {}
    for assignment, booking, provider in rows:
        providers[provider.id] = provider
        work.setdefault(provider.id, []).append((assignment, booking))
    travel = Travel(TRAVEL)
    days = [_route(providers[pid], sessions, travel) for pid, sessions in work.items()]
    return sorted(days, key=lambda d: d.provider.display_name.lower())


def _route(
    provider: Provider, sessions: list[tuple[Assignment, Booking]], travel: Travel
) -> ProviderDay:
    visits = [Visit(0, 0, _place(booking)) for _, booking in sessions]
    home = Location(lat=provider.home_lat, lon=provider.home_lon)
    into: dict[int, tuple[int, bool]] = {}
    entry = ProviderDay(provider)
    for leg in route_legs(travel, home, visits):
        if leg.target is None:
            entry.return_minutes = leg.minutes
        else:
            into[leg.target] = (leg.minutes, leg.origin is None)
    for index, (assignment, booking) in enumerate(sessions):
        minutes, from_home = into.get(index, (0, False))
        entry.items.append(DayItem(assignment, booking, minutes, from_home))
    return entry


def _place(booking: Booking) -> Location | None:
    """Where the provider must be: only onsite sessions with a known place make them drive."""
    if booking.modality != Modality.ONSITE or booking.location_lat is None:
        return None
    assert booking.location_lon is not None
    return Location(lat=booking.location_lat, lon=booking.location_lon)
