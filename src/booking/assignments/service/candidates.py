"""Who could take a booking: every provider of the service who speaks the language, ranked.

The booking's days are built as they stand (accepted and confirmed work
pinned, the current proposals in place) and ranked by the matcher's own
rules (``matching.candidates``): the feasible first, then each other one
with the rule and the sentence that rule them out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from booking.assignments.service.guards import ensure_booking_open
from booking.bookings.models import Booking
from booking.errors import Conflict, FieldError, Unprocessable
from booking.plans.problem_builder import (
    DEFAULT_TIMEZONE,
    ProblemIndex,
    build_problem,
    held_step,
    provider_key,
    session_key,
)
from booking.providers.models import Provider
from booking.reasons import Reasons, mentioned
from booking.types import ensure_aware, utc_now
from booking.users.models import User
from booking.vocabulary import UserRole
from matching.candidates import rank_candidates
from matching.problem import Assignment as MatchAssignment
from matching.problem import Plan as MatchPlan
from matching.problem import Problem as MatchProblem
from matching.problem import Score, Stats
from matching.why import Why


def booking_days(booking: Booking, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """Local midnight before the booking's earliest start to local midnight after its latest end."""
    zone = ZoneInfo(timezone)
    earliest = (booking.window_earliest or booking.starts_at).astimezone(zone).date()
    latest_start = booking.window_latest or booking.starts_at
    latest = (latest_start + dt.timedelta(minutes=booking.duration_minutes)).astimezone(zone)
    last = latest.date() if latest.time() != dt.time(0) else latest.date() - dt.timedelta(days=1)
    start = dt.datetime.combine(earliest, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start, end


def place_language(booking: Booking, place: int) -> str:
    """The language of a place of ``booking`` (0: its own), or raise 422 for no such place."""
    if place == 0:
        return booking.language_code
    for other in booking.places:
        if other.position == place:
            return other.language_code
    raise Unprocessable(
        "The booking has no such place.",
        code="no_such_place",
        errors=[FieldError("place", "The booking has no such place.", "no_such_place")],
    )


def for_place(problem: MatchProblem, key: str, place: int) -> MatchProblem:
    """The problem with the group session ``key`` reduced to its place ``place``.

    One provider for one place is a session of one provider with that place's
    language, kind and needs (as ``matching.places.flatten`` makes it), under
    the session's own id: the matcher's rules rank and check it as any other.
    The providers of its held places (pinned) are not candidates for another.
    """
    holders = frozenset(f.provider for f in problem.fixed if f.session == key)
    sessions = tuple(
        replace(
            s,
            language=s.staff[place].language,
            provider_kind=s.staff[place].provider_kind,
            requires=s.staff[place].requires,
            staff=(),
            excluded_providers=s.excluded_providers | holders,
        )
        if s.id == key and s.staff and 0 <= place < len(s.staff)
        else s
        for s in problem.sessions
    )
    fixed = tuple(f for f in problem.fixed if f.session != key)
    return replace(problem, sessions=sessions, fixed=fixed)


def current_plan(index: ProblemIndex) -> MatchPlan:
    """The work the index knows (pinned, a group's held places, and proposals when asked)."""
    held = [*index.pinned.items(), *index.proposed.items()]
    places = [
        MatchAssignment(
            key, provider_key(a.provider_id), a.starts_at, place, held_step(index.booking(key), a)
        )
        for key, by_place in index.held_places.items()
        for place, a in by_place.items()
    ]
    return MatchPlan(
        assignments=(
            *(
                MatchAssignment(
                    session=key, provider=provider_key(a.provider_id), start=a.starts_at
                )
                for key, a in held
            ),
            *places,
        ),
        unassigned=(),
        score=Score(),
        stats=Stats(status="current", solve_seconds=0.0),
    )


@dataclass(frozen=True)
class CandidateView:
    """One provider for one booking, ranked: best start and cost, or the rule that says no."""

    provider: Provider
    feasible: bool
    starts_at: dt.datetime | None
    cost: int | None
    travel_minutes: int | None
    preferred: bool
    current: bool
    rule: int | None
    code: str | None
    detail: str
    """`why` in English."""
    why: Why
    """Why this provider can or cannot take it, as data (matching.why)."""
    names: Mapping[str, str]
    """The display names of the providers and bookings `why` mentions, by id."""

    def describe(
        self, locale: str, timezone: str, languages: Mapping[str, str] | None = None
    ) -> str:
        """`why` in ``locale``'s words, with names instead of ids."""
        return Reasons(locale, timezone=timezone, names=self.names, languages=languages).why(
            self.why
        )


def _providing_scope(user: User) -> int | None:
    return None if user.role == UserRole.ADMIN else user.organisation_id


def candidates_for(
    db: Session,
    *,
    actor: User,
    booking: Booking,
    now: dt.datetime | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    place: int = 0,
) -> list[CandidateView]:
    """Every provider of the actor's service who speaks the language, ranked for ``booking``.

    For a group booking, ranked for its ``place`` (0: its own): that place's
    language, kind and needs.

    The day is built as it stands: confirmed and accepted work pinned, the
    current proposals of that day in place. Feasible providers come first,
    cheapest first; the others carry the rule and the sentence that rule
    them out.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    ensure_booking_open(booking)
    language = place_language(booking, place)
    horizon_start, horizon_end = booking_days(booking, timezone)
    problem, index = build_problem(
        db,
        horizon_start=horizon_start,
        horizon_end=horizon_end,
        booking_ids=[booking.id],
        now=now,
        providing_org_id=_providing_scope(actor),
        language_code=language,
        with_proposals=True,
        timezone=timezone,
    )
    key = session_key(booking.id)
    if key not in index.planned:
        raise Conflict(
            "The booking is already held by a provider or its session has started.",
            code="booking_not_plannable",
            extra={"booking_id": booking.id},
        )
    ranked = rank_candidates(for_place(problem, key, place), current_plan(index), key)
    return [
        CandidateView(
            provider=index.provider(c.provider),
            feasible=c.feasible,
            starts_at=c.start,
            cost=c.cost,
            travel_minutes=c.travel_delta,
            preferred=c.preferred,
            current=c.current,
            rule=c.rule,
            code=c.code,
            detail=index.humanise(c.detail),
            why=c.why,
            names=mentioned([c.why], index.humanise),
        )
        for c in ranked
    ]
