"""From the database to a ``matching.Problem``: open bookings, providers, pinned work.

Sessions are the open bookings (requested, proposed, unfilled) that start in
the horizon and have not started yet. Providers are the active providers in
scope, with their availability built from weekly rules in their service's
local time, plus extra hours, minus absences, public holidays (unless they
work on them) and their service's closure days. Work already accepted or
confirmed on the horizon's days is pinned as ``fixed``, so a new plan keeps
it and routes around it; an outstanding offer is not pinned (the provider
may still say no) but is remembered as a hint. Ids are strings: ``b-<id>``
for a booking's session, ``p-<id>`` for a provider.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from booking.access import served_organisation_ids
from booking.assignments.models import Assignment
from booking.bookings.models import Booking, BookingPlace, BookingProviderPreference, Series
from booking.geography import TRAVEL
from booking.organisations.models import Organisation, OrganisationClosure
from booking.policies import certification_valid
from booking.providers.availability import availability_spans, merge, public_holidays, subtract
from booking.providers.models import (
    AvailabilityException,
    AvailabilityRule,
    Provider,
    ProviderLanguage,
)
from booking.types import ensure_aware
from booking.vocabulary import (
    HELD_ASSIGNMENT_STATUSES,
    UNSTAFFED_BOOKING_STATUSES,
    AssignmentStatus,
    BookingStatus,
    PreferenceKind,
    as_word,
)
from matching.problem import (
    MODALITIES,
    PROVIDER_KINDS,
    FixedAssignment,
    Interval,
    LanguageSkill,
    Location,
    Modality,
    Place,
    Requirements,
    SessionProviderKind,
    Window,
)
from matching.problem import Problem as MatchProblem
from matching.problem import Provider as MatchProvider
from matching.problem import Session as MatchSession

DEFAULT_TIMEZONE = "Europe/Brussels"
_KEY = re.compile(r"\b[bp]-\d+\b")

SESSION_PROVIDER_KINDS: tuple[SessionProviderKind, ...] = (*PROVIDER_KINDS, "any")


def session_key(booking_id: int) -> str:
    """The matcher's id of a booking's session."""
    return f"b-{booking_id}"


def provider_key(provider_id: int) -> str:
    """The matcher's id of a provider."""
    return f"p-{provider_id}"


def booking_id_of(key: str) -> int:
    """The booking id behind a session id ``b-<id>``."""
    return int(key.removeprefix("b-"))


@dataclass
class ProblemIndex:
    """How the problem's string ids map back to rows, and what was seen when it was built."""

    timezone: str
    horizon_start: dt.datetime
    horizon_end: dt.datetime
    bookings: dict[str, Booking] = field(default_factory=dict)
    """Every session of the problem, planned or pinned, by session id."""
    providers: dict[str, Provider] = field(default_factory=dict)
    booking_versions: dict[int, int] = field(default_factory=dict)
    """``booking.version_id`` of every booking read, to detect edits made since."""
    planned: list[str] = field(default_factory=list)
    """Sessions the matcher may staff, in start order."""
    pinned: dict[str, Assignment] = field(default_factory=dict)
    """Accepted or confirmed work kept as ``fixed``, by session id."""
    offered: dict[str, list[str]] = field(default_factory=dict)
    """Providers holding a live offer, by session id (hints, not pins)."""
    hints: dict[str, tuple[str, dt.datetime]] = field(default_factory=dict)
    """One live offer per session (provider id, start): where the solver may start from."""
    proposed: dict[str, Assignment] = field(default_factory=dict)
    """Current proposals of other sessions (only with ``with_proposals``)."""
    held_places: dict[str, dict[int, Assignment]] = field(default_factory=dict)
    """Of a group session planned for its open places, the held ones by place (pinned)."""

    def every_held_place(self) -> list[Assignment]:
        return [a for places in self.held_places.values() for a in places.values()]

    def booking(self, key: str) -> Booking:
        return self.bookings[key]

    def provider(self, key: str) -> Provider:
        return self.providers[key]

    def humanise(self, sentence: str) -> str:
        """The matcher's sentence with ``p-<id>`` as names and ``b-<id>`` as booking references."""

        def name(match: re.Match[str]) -> str:
            key = match.group(0)
            if key.startswith("p-") and key in self.providers:
                return self.providers[key].display_name
            if key.startswith("b-") and key in self.bookings:
                return self.bookings[key].reference
            return key

        return _KEY.sub(name, sentence)


def build_problem(
    db: Session,
    *,
    horizon_start: dt.datetime,
    horizon_end: dt.datetime,
    booking_ids: Collection[int] | None = None,
    now: dt.datetime,
    providing_org_id: int | None = None,
    provider_ids: Collection[int] | None = None,
    language_code: str | None = None,
    with_proposals: bool = False,
    skip_booking_ids: Collection[int] = (),
    timezone: str = DEFAULT_TIMEZONE,
) -> tuple[MatchProblem, ProblemIndex]:
    """The matcher's problem for ``[horizon_start, horizon_end)`` and the index back to rows.

    ``providing_org_id`` limits providers to one service and sessions to the
    organisations it serves (a dispatcher's view; ``None`` for everything).
    ``booking_ids`` limits the sessions to plan, ``provider_ids`` and
    ``language_code`` the providers considered; ``skip_booking_ids`` are not
    planned (another service's plan of the same run took them). ``with_proposals`` also adds
    the sessions of current proposals of those providers on the same days
    (the candidate ranking needs the whole day's picture).
    """
    ensure_aware(horizon_start)
    ensure_aware(horizon_end)
    ensure_aware(now)
    if horizon_end <= horizon_start:
        raise ValueError("horizon_end must be after horizon_start")
    zone = ZoneInfo(timezone)
    index = ProblemIndex(timezone=timezone, horizon_start=horizon_start, horizon_end=horizon_end)

    providers = _providers(db, providing_org_id, provider_ids, language_code)
    for provider in providers:
        index.providers[provider_key(provider.id)] = provider
    provider_ids_in_scope = [p.id for p in providers]

    planned = _open_bookings(db, horizon_start, horizon_end, booking_ids, now, providing_org_id)
    skipped = set(skip_booking_ids)
    planned = [b for b in planned if b.id not in skipped]
    first_day = horizon_start.astimezone(zone).date()
    last_day = (horizon_end - dt.timedelta(microseconds=1)).astimezone(zone).date()
    for booking in planned:
        first_day = min(
            first_day, (booking.window_earliest or booking.starts_at).astimezone(zone).date()
        )
        last_day = max(last_day, _latest_end(booking).astimezone(zone).date())
    day_start = dt.datetime.combine(first_day, dt.time(0), tzinfo=zone)
    day_end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)

    held = _held_assignments(
        db, provider_ids_in_scope, day_start, day_end, HELD_ASSIGNMENT_STATUSES
    )
    held_places: dict[int, list[Assignment]] = defaultdict(list)
    for assignment in db.scalars(
        select(Assignment)
        .where(
            Assignment.booking_id.in_([b.id for b in planned]),
            Assignment.status.in_(HELD_ASSIGNMENT_STATUSES),
        )
        .order_by(Assignment.place)
    ):
        held_places[assignment.booking_id].append(assignment)
    # A booking someone already holds is not planned again: it is pinned (if
    # its provider is in scope) or out of this problem altogether. A group
    # booking with places still open is planned for them, at its held start.
    # Its held places are pinned, so their providers must be in the problem; ranking
    # candidates for one place (a language given) looks at that place alone.
    in_scope = set(index.providers) if language_code is None else None
    planned = [
        b for b in planned if b.id not in held_places or _partly_held(b, held_places, in_scope)
    ]
    proposals: list[Assignment] = []
    if with_proposals:
        proposals = [
            a
            for a in _held_assignments(
                db, provider_ids_in_scope, day_start, day_end, (AssignmentStatus.PROPOSED,)
            )
            if a.booking_id not in {b.id for b in planned}
        ]
    extra_ids = {a.booking_id for a in [*held, *proposals]}
    extra_bookings = {
        b.id: b
        for b in db.scalars(
            select(Booking)
            .where(Booking.id.in_(extra_ids), Booking.status != BookingStatus.CANCELLED)
            .options(selectinload(Booking.places))
        )
    }
    held = [a for a in held if a.booking_id in extra_bookings]
    proposals = [
        a
        for a in proposals
        if a.booking_id in extra_bookings
        and extra_bookings[a.booking_id].status in UNSTAFFED_BOOKING_STATUSES
    ]

    every_booking = [*planned, *extra_bookings.values()]
    preferences = _preferences(db, every_booking)
    sessions: list[MatchSession] = []
    fixed: list[FixedAssignment] = []
    for booking in planned:
        key = session_key(booking.id)
        index.bookings[key] = booking
        index.planned.append(key)
        places = held_places.get(booking.id, [])
        sessions.append(_session(booking, zone, preferences, index, held_places=places))
        if places:
            index.held_places[key] = {a.place: a for a in places}
            # Held places are pinned (their provider if in scope), the open ones planned.
            fixed.extend(
                # A held place of a group with a ladder names the step it is worked by.
                FixedAssignment(key, provider_key(a.provider_id), a.place, held_step(booking, a))
                for a in places
                if provider_key(a.provider_id) in index.providers
            )
    # Held work of a group booking's other places is kept as busy time (below): one
    # place of a booking is pinned as the booking's session, the others block their
    # providers' time.
    other_places: list[Assignment] = []
    for assignment in sorted(held, key=lambda a: (a.starts_at, a.id)):
        key = session_key(assignment.booking_id)
        if key in index.bookings:
            if key in index.pinned:
                other_places.append(assignment)
            continue
        booking = extra_bookings[assignment.booking_id]
        index.bookings[key] = booking
        index.pinned[key] = assignment
        sessions.append(_session(booking, zone, preferences, index, held_by=assignment))
        fixed.append(FixedAssignment(session=key, provider=provider_key(assignment.provider_id)))
    for assignment in sorted(proposals, key=lambda a: (a.starts_at, a.id)):
        key = session_key(assignment.booking_id)
        if key in index.bookings:
            continue
        booking = extra_bookings[assignment.booking_id]
        index.bookings[key] = booking
        index.proposed[key] = assignment
        sessions.append(_session(booking, zone, preferences, index, held_by=assignment))
    for booking in every_booking:
        index.booking_versions[booking.id] = booking.version_id

    live_offers = db.execute(
        select(Assignment.booking_id, Assignment.provider_id, Assignment.starts_at)
        .where(
            Assignment.booking_id.in_([b.id for b in planned]),
            Assignment.status == AssignmentStatus.OFFERED,
            Assignment.offer_expires_at > now,
        )
        .order_by(Assignment.id)
    )
    for booking_id, provider_id, starts_at in live_offers:
        if provider_key(provider_id) in index.providers:
            key = session_key(booking_id)
            index.offered.setdefault(key, []).append(provider_key(provider_id))
            index.hints.setdefault(key, (provider_key(provider_id), starts_at.astimezone(zone)))

    weekly_used = _minutes_outside(db, provider_ids_in_scope, first_day, last_day, zone)
    held_time: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for assignment in [*index.pinned.values(), *index.every_held_place()]:
        held_time[assignment.provider_id].append((assignment.starts_at, assignment.ends_at))
    match_providers = _match_providers(
        db, providers, first_day, last_day, zone, weekly_used, held_time
    )
    if other_places:
        match_providers = _busy_with_other_places(match_providers, other_places, zone)
    sessions.sort(key=lambda s: (s.start, s.id))
    service = db.get(Organisation, providing_org_id) if providing_org_id is not None else None
    problem = MatchProblem(
        providers=tuple(match_providers),
        sessions=tuple(sessions),
        timezone=timezone,
        travel=TRAVEL,
        fixed=tuple(fixed),
        # The service's own setting: balance its providers' minutes (docs/problem.md, "Score").
        fairness_weight=service.fairness_weight if service is not None else 0,
    )
    return problem, index


def held_step(booking: Booking, assignment: Assignment) -> Modality | None:
    """The step of the booking's modality ladder a held place is worked by; None without one."""
    if len(booking.modality_ladder) < 2:
        return None
    return as_word(assignment.modality or booking.modality, MODALITIES)


def _partly_held(
    booking: Booking, held: dict[int, list[Assignment]], in_scope: set[str] | None
) -> bool:
    """A group booking with some places held, all at one start, and some places still open.

    With ``in_scope``, only if every held place's provider is in it (to be pinned).
    """
    places = held.get(booking.id, [])
    return (
        bool(booking.places)
        and 0 < len(places) <= len(booking.places)
        and len({(a.starts_at, a.ends_at) for a in places}) == 1
        and (in_scope is None or all(provider_key(a.provider_id) in in_scope for a in places))
    )


def _latest_end(booking: Booking) -> dt.datetime:
    latest_start = booking.window_latest or booking.starts_at
    return latest_start + dt.timedelta(minutes=booking.duration_minutes)


def _providers(
    db: Session,
    providing_org_id: int | None,
    provider_ids: Collection[int] | None,
    language_code: str | None,
) -> list[Provider]:
    query = select(Provider).where(Provider.is_active).order_by(Provider.id)
    if providing_org_id is not None:
        query = query.where(Provider.organisation_id == providing_org_id)
    if provider_ids is not None:
        query = query.where(Provider.id.in_(list(provider_ids)))
    if language_code is not None:
        speakers = select(ProviderLanguage.provider_id).where(
            ProviderLanguage.language_code == language_code
        )
        query = query.where(Provider.id.in_(speakers))
    return list(db.scalars(query))


def _open_bookings(
    db: Session,
    horizon_start: dt.datetime,
    horizon_end: dt.datetime,
    booking_ids: Collection[int] | None,
    now: dt.datetime,
    providing_org_id: int | None,
) -> list[Booking]:
    query = select(Booking).where(
        Booking.status.in_(UNSTAFFED_BOOKING_STATUSES),
        Booking.starts_at >= horizon_start,
        Booking.starts_at < horizon_end,
        # The past cannot be staffed any more.
        or_(Booking.starts_at >= now, Booking.window_latest >= now),
    )
    if booking_ids is not None:
        query = query.where(Booking.id.in_(list(booking_ids)))
    if providing_org_id is not None:
        served = served_organisation_ids(db, providing_org_id)
        query = query.where(Booking.organisation_id.in_(served))
    query = query.options(selectinload(Booking.places))
    return list(db.scalars(query.order_by(Booking.starts_at, Booking.id)))


def _held_assignments(
    db: Session,
    provider_ids: list[int],
    start: dt.datetime,
    end: dt.datetime,
    statuses: Iterable[AssignmentStatus],
) -> list[Assignment]:
    if not provider_ids:
        return []
    return list(
        db.scalars(
            select(Assignment)
            .where(
                Assignment.provider_id.in_(provider_ids),
                Assignment.status.in_(list(statuses)),
                Assignment.starts_at < end,
                Assignment.ends_at > start,
            )
            .order_by(Assignment.starts_at, Assignment.id)
        )
    )


def _minutes_outside(
    db: Session, provider_ids: list[int], first_day: dt.date, last_day: dt.date, zone: ZoneInfo
) -> dict[int, int]:
    """Per provider, the most minutes of held work in one ISO week of the horizon, outside it.

    A provider's weekly limit applies to whole ISO weeks; work on days of
    those weeks outside the horizon is not in the problem, so it is taken
    off the limit instead (session minutes only: its travel is not known).
    """
    monday = first_day - dt.timedelta(days=first_day.weekday())
    next_monday = last_day + dt.timedelta(days=7 - last_day.weekday())
    week_start = dt.datetime.combine(monday, dt.time(0), tzinfo=zone)
    week_end = dt.datetime.combine(next_monday, dt.time(0), tzinfo=zone)
    inside_start = dt.datetime.combine(first_day, dt.time(0), tzinfo=zone)
    inside_end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    used: dict[tuple[int, tuple[int, int]], int] = defaultdict(int)
    for a in _held_assignments(db, provider_ids, week_start, week_end, HELD_ASSIGNMENT_STATUSES):
        if a.starts_at < inside_end and a.ends_at > inside_start:
            continue
        iso = a.starts_at.astimezone(zone).isocalendar()
        used[(a.provider_id, (iso.year, iso.week))] += int(
            (a.ends_at - a.starts_at).total_seconds() // 60
        )
    most: dict[int, int] = {}
    for (provider_id, _week), minutes in used.items():
        most[provider_id] = max(most.get(provider_id, 0), minutes)
    return most


def _preferences(db: Session, bookings: list[Booking]) -> dict[int, dict[str, set[int]]]:
    """Excluded and preferred provider ids per booking, with the series' preferred provider."""
    found: dict[int, dict[str, set[int]]] = defaultdict(
        lambda: {"excluded": set(), "preferred": set()}
    )
    ids = [b.id for b in bookings]
    if not ids:
        return found
    rows = db.execute(
        select(
            BookingProviderPreference.booking_id,
            BookingProviderPreference.provider_id,
            BookingProviderPreference.kind,
        ).where(BookingProviderPreference.booking_id.in_(ids))
    )
    for booking_id, provider_id, kind in rows:
        bucket = "excluded" if kind == PreferenceKind.EXCLUDED else "preferred"
        found[booking_id][bucket].add(provider_id)
    series_ids = {b.series_id for b in bookings if b.series_id is not None}
    if series_ids:
        preferred: dict[int, int] = {}
        for series_id, preferred_id in db.execute(
            select(Series.id, Series.preferred_provider_id).where(
                Series.id.in_(series_ids), Series.preferred_provider_id.is_not(None)
            )
        ):
            if preferred_id is not None:  # the query says so; the row's type cannot
                preferred[series_id] = preferred_id
        for booking in bookings:
            if booking.series_id in preferred:
                found[booking.id]["preferred"].add(preferred[booking.series_id])
    return found


def assignment_session(
    booking: Booking, assignment: Assignment, index: ProblemIndex
) -> MatchSession:
    """The session ``assignment`` gives ``booking`` (its own start and length), to check one pair.

    Preferences and exclusions are left out: only the time and the place count.
    """
    return _session(booking, ZoneInfo(index.timezone), {}, index, held_by=assignment)


def _session(
    booking: Booking,
    zone: ZoneInfo,
    preferences: dict[int, dict[str, set[int]]],
    index: ProblemIndex,
    *,
    held_by: Assignment | None = None,
    held_places: list[Assignment] | None = None,
) -> MatchSession:
    """The booking's session; ``held_by``: the held work of one place, as it is held.

    ``held_places``: a group booking's held places, which fix the start its
    open places are planned at (one common start).
    """
    prefs = preferences.get(booking.id, {"excluded": set(), "preferred": set()})
    excluded = frozenset(
        provider_key(pid) for pid in prefs["excluded"] if provider_key(pid) in index.providers
    )
    preferred = frozenset(
        provider_key(pid)
        for pid in prefs["preferred"] - prefs["excluded"]
        if provider_key(pid) in index.providers
    )
    location = None
    ladder = [as_word(m, MODALITIES) for m in booking.modality_ladder]
    if held_by is not None:
        # Held work keeps the modality it was given.
        ladder = [as_word(held_by.modality or booking.modality, MODALITIES)]
    if "onsite" in ladder and booking.location_lat is not None:
        location = Location(
            lat=booking.location_lat, lon=booking.location_lon, country=booking.location_country
        )
    holding = held_by or (held_places[0] if held_places else None)
    if holding is not None:
        # Held work keeps the time it was given, whatever the window allowed.
        start = holding.starts_at
        duration = int((holding.ends_at - holding.starts_at).total_seconds() // 60)
        window = None
    else:
        start = booking.starts_at
        duration = booking.duration_minutes
        window = (
            Window(
                earliest=booking.window_earliest.astimezone(zone),
                latest=booking.window_latest.astimezone(zone),
            )
            if booking.window_earliest is not None and booking.window_latest is not None
            else None
        )
    staff: tuple[Place, ...] = ()
    if held_by is None and booking.places:
        # A group booking: its own language and needs are place 0, then its places
        # (each place climbs down the booking's modality ladder on its own).
        staff = (_place(booking), *(_place(p) for p in booking.places))
    # Held work of a group's other place is that place's language and needs.
    own = _place(booking)
    if held_by is not None and held_by.place > 0:
        own = _place(next(p for p in booking.places if p.position == held_by.place))
    return MatchSession(
        id=session_key(booking.id),
        language=own.language,
        staff=staff,
        all_or_nothing=booking.all_or_nothing,
        modalities=tuple(ladder) if len(ladder) > 1 else (),
        start=start.astimezone(zone),
        duration_minutes=duration,
        kind=booking.session_kind,
        modality=ladder[0],
        location=location,
        window=window,
        provider_kind=own.provider_kind,
        requires=own.requires,
        excluded_providers=excluded,
        preferred_providers=preferred,
        priority=booking.priority,
    )


def _busy_with_other_places(
    providers: list[MatchProvider], held: list[Assignment], zone: ZoneInfo
) -> list[MatchProvider]:
    """Providers without the time they hold in a group booking's other places."""
    busy: dict[str, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for assignment in held:
        busy[provider_key(assignment.provider_id)].append(
            (assignment.starts_at, assignment.ends_at)
        )
    kept = []
    for provider in providers:
        if provider.id in busy:
            free = subtract([(i.start, i.end) for i in provider.availability], busy[provider.id])
            spans = tuple(Interval(a.astimezone(zone), b.astimezone(zone)) for a, b in free)
            provider = replace(provider, availability=spans)
        kept.append(provider)
    return kept


def _place(place: Booking | BookingPlace) -> Place:
    """One place of a group booking as the matcher's `staff` entry."""
    return Place(
        language=place.language_code,
        provider_kind=as_word(place.provider_kind, SESSION_PROVIDER_KINDS),
        requires=Requirements(
            gender=place.required_gender,
            certified=place.requires_certified,
            skills=frozenset(place.required_skills or ()),
        ),
    )


def _match_providers(
    db: Session,
    providers: list[Provider],
    first_day: dt.date,
    last_day: dt.date,
    zone: ZoneInfo,
    weekly_used: dict[int, int],
    held_time: dict[int, list[tuple[dt.datetime, dt.datetime]]],
) -> list[MatchProvider]:
    ids = [p.id for p in providers]
    if not ids:
        return []
    languages: dict[int, list[ProviderLanguage]] = defaultdict(list)
    for row in db.scalars(select(ProviderLanguage).where(ProviderLanguage.provider_id.in_(ids))):
        languages[row.provider_id].append(row)
    rules: dict[int, list[AvailabilityRule]] = defaultdict(list)
    for rule in db.scalars(select(AvailabilityRule).where(AvailabilityRule.provider_id.in_(ids))):
        rules[rule.provider_id].append(rule)
    # Exceptions on the horizon's days, with a day of margin for time zones.
    margin_start = dt.datetime.combine(first_day - dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    margin_end = dt.datetime.combine(last_day + dt.timedelta(days=2), dt.time(0), tzinfo=zone)
    exceptions: dict[int, list[AvailabilityException]] = defaultdict(list)
    for item in db.scalars(
        select(AvailabilityException).where(
            AvailabilityException.provider_id.in_(ids),
            AvailabilityException.starts_at < margin_end,
            AvailabilityException.ends_at > margin_start,
        )
    ):
        exceptions[item.provider_id].append(item)
    org_ids = {p.organisation_id for p in providers}
    organisations = {
        o.id: o for o in db.scalars(select(Organisation).where(Organisation.id.in_(org_ids)))
    }
    closures: dict[int, set[dt.date]] = defaultdict(set)
    for org_id, day in db.execute(
        select(OrganisationClosure.organisation_id, OrganisationClosure.day).where(
            OrganisationClosure.organisation_id.in_(org_ids),
            OrganisationClosure.day >= first_day - dt.timedelta(days=1),
            OrganisationClosure.day <= last_day + dt.timedelta(days=1),
        )
    ):
        closures[org_id].add(day)

    result: list[MatchProvider] = []
    for provider in providers:
        organisation = organisations[provider.organisation_id]
        local = ZoneInfo(organisation.timezone)
        # The rules' wall clock is the service's; its days may straddle ours by a day.
        local_first = first_day - dt.timedelta(days=1)
        local_last = last_day + dt.timedelta(days=1)
        closed = set(closures[organisation.id])
        if not provider.works_on_holidays:
            closed |= public_holidays(organisation.country, local_first, local_last)
        spans = availability_spans(
            rules[provider.id],
            exceptions[provider.id],
            first_day=local_first,
            last_day=local_last,
            zone=local,
            closed_days=closed,
        )
        window_start = dt.datetime.combine(first_day, dt.time(0), tzinfo=zone)
        window_end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
        spans = [
            (max(s, window_start), min(e, window_end))
            for s, e in spans
            if s < window_end and e > window_start
        ]
        # Work they hold was agreed with them: it counts as available, whatever
        # the rules or a later absence say, so keeping it never breaks rule 7.
        # It is added whole, after the cut to the horizon's days: held work that
        # runs past the first or last midnight is pinned whole (docs/problem.md's
        # rule 7 applies to pinned pairs too).
        spans = merge([*spans, *held_time.get(provider.id, [])])
        availability = tuple(
            Interval(start=s.astimezone(zone), end=e.astimezone(zone)) for s, e in spans
        )
        # A certification counts only if it holds on every day of the horizon.
        skills = tuple(
            LanguageSkill(
                code=row.language_code,
                certified=certification_valid(row, last_day),
            )
            for row in sorted(languages[provider.id], key=lambda r: r.language_code)
        )
        result.append(
            MatchProvider(
                id=provider_key(provider.id),
                kind=as_word(provider.kind, PROVIDER_KINDS),
                languages=skills,
                home=Location(lat=provider.home_lat, lon=provider.home_lon),
                gender=provider.gender,
                skills=frozenset(provider.skills or ()),
                modalities=frozenset(as_word(m, MODALITIES) for m in provider.modalities or ()),
                countries=frozenset(provider.countries or ()),
                max_travel_minutes=provider.max_travel_minutes,
                max_minutes_per_day=provider.max_minutes_per_day,
                max_minutes_per_week=max(
                    provider.max_minutes_per_week - weekly_used.get(provider.id, 0), 0
                ),
                availability=availability,
                counts_idle=organisation.counts_idle,
            )
        )
    return result
