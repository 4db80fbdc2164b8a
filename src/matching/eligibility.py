"""Which provider may take which session, decided before any model is built.

The static rules (2-8 and 11 of docs/problem.md) depend on one session and one
provider only, so they prune the model instead of constraining it. Every
refusal keeps the rule that caused it: the dispatcher's candidate list and the
unassigned reasons are built from these.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from matching.problem import Problem, Provider, RuleCode, Session, UnassignedReason
from matching.timeline import Timeline
from matching.travel import Travel
from matching.why import Why, english

# How far a provider got through the checks; the furthest stage any provider
# reached names the reason a session nobody can take stays unassigned.
STAGE_LANGUAGE = 0
STAGE_PROFILE = 1
STAGE_TRAVEL = 2
STAGE_AVAILABILITY = 3
STAGE_CAPACITY = 4

REASON_BY_STAGE: dict[int, UnassignedReason] = {
    STAGE_LANGUAGE: "no_provider_speaks_language",
    STAGE_PROFILE: "no_eligible_provider",
    STAGE_TRAVEL: "out_of_travel_range",
    STAGE_AVAILABILITY: "no_availability",
    STAGE_CAPACITY: "capacity",
}


@dataclass(frozen=True)
class Rejection:
    """Why one provider cannot take one session: the rule, its code and the reason as data."""

    rule: int
    code: RuleCode
    why: Why
    stage: int

    @property
    def detail(self) -> str:
        """The reason in English (the command line's words)."""
        return english(self.why)


@dataclass(frozen=True)
class StartRange:
    """Starts in `[lo, hi]` (minutes) that keep the session inside one availability interval.

    A range never crosses midnight, so `day` is the calendar day of any start in it.
    """

    day: int
    lo: int
    hi: int


@dataclass(frozen=True)
class Option:
    """One provider who may take one session, the starts allowed and the drive from home."""

    session: int
    provider: int
    ranges: tuple[StartRange, ...]
    home_minutes: int

    @property
    def days(self) -> frozenset[int]:
        return frozenset(r.day for r in self.ranges)


@dataclass(frozen=True)
class Unplaceable:
    """A session that no provider can take, with the reason docs/problem.md names."""

    reason: UnassignedReason
    why: Why

    @property
    def detail(self) -> str:
        return english(self.why)


@dataclass
class Eligibility:
    """The outcome of the static rules for a whole problem, by session and provider index."""

    options: dict[int, tuple[Option, ...]]
    unplaceable: dict[int, Unplaceable]


def check_profile(session: Session, provider: Provider) -> Rejection | None:
    """Rules 2-6: language, certification, kind, gender, skills, exclusions, modality, country."""
    who = provider.id

    def no(rule: int, code: RuleCode, stage: int = STAGE_PROFILE, **params: str | int) -> Rejection:
        return Rejection(rule, code, Why(code, {"provider": who, **params}), stage)

    spoken = provider.language(session.language)
    if spoken is None:
        return no(2, "language", STAGE_LANGUAGE, language=session.language)
    if session.requires.certified and not spoken.certified:
        return no(2, "certification", language=session.language)
    if session.provider_kind != "any" and provider.kind != session.provider_kind:
        return no(3, "kind", kind=provider.kind, wanted=session.provider_kind)
    if session.requires.gender is not None and provider.gender != session.requires.gender:
        return no(4, "gender", gender=session.requires.gender)
    missing = sorted(session.requires.skills - provider.skills)
    if missing:
        return no(4, "skills", skills=", ".join(missing), count=len(missing))
    if provider.id in session.excluded_providers:
        return no(4, "excluded")
    if session.modality not in provider.modalities:
        return no(5, "modality", modality=session.modality)
    if session.is_onsite:
        country = session.location.country if session.location else None
        if country not in provider.countries:
            return no(6, "country", country=country or "")
    return None


def home_minutes(session: Session, provider: Provider, travel: Travel) -> int:
    """One-way drive from the provider's home; nothing for phone and video."""
    if not session.is_onsite or session.location is None:
        return 0
    return travel.minutes(provider.home, session.location)


@dataclass(frozen=True)
class Availability:
    """A provider's availability in minutes, converted once: eligibility reads it per session."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    """Sorted by end, with `starts` in the same order."""
    longest: int
    """Length of the longest interval: bounds which intervals can start before a given minute."""


def availability_minutes(provider: Provider, timeline: Timeline) -> Availability:
    pairs = sorted(
        (timeline.minute(a.end), timeline.minute(a.start)) for a in provider.availability
    )
    return Availability(
        starts=tuple(start for _, start in pairs),
        ends=tuple(end for end, _ in pairs),
        longest=max((end - start for end, start in pairs), default=0),
    )


def start_ranges(
    session: Session,
    provider: Provider,
    timeline: Timeline,
    availability: Availability | None = None,
) -> list[StartRange]:
    """Rules 7 and 11: starts in the window that fit wholly inside one availability interval."""
    if session.window is not None:
        earliest = timeline.minute(session.window.earliest)
        latest = timeline.minute(session.window.latest)
    else:
        earliest = latest = timeline.minute(session.start)
    free = availability or availability_minutes(provider, timeline)
    duration = session.duration_minutes
    # Only intervals that end late enough to hold the session at its earliest start,
    # and early enough to have begun by its latest start, can hold it.
    first = bisect.bisect_left(free.ends, earliest + duration)
    last = bisect.bisect_right(free.ends, latest + free.longest)
    ranges: list[StartRange] = []
    for i in range(first, last):
        lo = max(earliest, free.starts[i])
        hi = min(latest, free.ends[i] - duration)
        ranges.extend(_split_by_day(lo, hi, timeline))
    return sorted(set(ranges), key=lambda r: (r.lo, r.hi))


def _split_by_day(lo: int, hi: int, timeline: Timeline) -> Iterable[StartRange]:
    while lo <= hi:
        day = timeline.day(lo)
        day_end = timeline.day_bounds(day)[1] - 1
        yield StartRange(day=day, lo=lo, hi=min(hi, day_end))
        lo = day_end + 1


def check_pair(
    session: Session,
    provider: Provider,
    timeline: Timeline,
    travel: Travel,
    availability: Availability | None = None,
) -> tuple[Option | None, Rejection | None]:
    """All static rules for one pair: an option, or the first rule that refuses it."""
    rejection = check_profile(session, provider)
    if rejection is not None:
        return None, rejection
    drive = home_minutes(session, provider, travel)
    if drive > provider.max_travel_minutes:
        return None, Rejection(
            8,
            "travel_range",
            Why(
                "travel_range",
                {"provider": provider.id, "minutes": drive, "limit": provider.max_travel_minutes},
            ),
            STAGE_TRAVEL,
        )
    ranges = start_ranges(session, provider, timeline, availability)
    if not ranges:
        return None, Rejection(
            7, "availability", Why("availability", {"provider": provider.id}), STAGE_AVAILABILITY
        )
    needed = session.duration_minutes + 2 * drive
    limit = min(provider.max_minutes_per_day, provider.max_minutes_per_week)
    if needed > limit:
        return None, Rejection(
            10,
            "daily_minutes",
            Why("round_trip_minutes", {"provider": provider.id, "minutes": needed, "limit": limit}),
            STAGE_CAPACITY,
        )
    return Option(session=-1, provider=-1, ranges=tuple(ranges), home_minutes=drive), None


def compute_eligibility(
    problem: Problem, timeline: Timeline | None = None, travel: Travel | None = None
) -> Eligibility:
    """Options for every session, and the reason for each session nobody can take."""
    timeline = timeline or Timeline.for_problem(problem)
    travel = travel or Travel(problem.travel)
    speakers: dict[str, list[int]] = defaultdict(list)
    for p_idx, provider in enumerate(problem.providers):
        for skill in provider.languages:
            speakers[skill.code].append(p_idx)

    availability = [availability_minutes(p, timeline) for p in problem.providers]
    options: dict[int, tuple[Option, ...]] = {}
    unplaceable: dict[int, Unplaceable] = {}
    for s_idx, session in enumerate(problem.sessions):
        found: list[Option] = []
        furthest: Rejection | None = None
        reached = 0
        for p_idx in speakers.get(session.language, ()):
            option, rejection = check_pair(
                session, problem.providers[p_idx], timeline, travel, availability[p_idx]
            )
            if option is not None:
                found.append(Option(s_idx, p_idx, option.ranges, option.home_minutes))
            elif rejection is None:
                continue
            elif furthest is None or rejection.stage > furthest.stage:
                furthest, reached = rejection, 1
            elif rejection.stage == furthest.stage:
                reached += 1
        if found:
            options[s_idx] = tuple(found)
        else:
            unplaceable[s_idx] = _unplaceable(session, furthest, reached)
    _empty_whole_groups(problem, options, unplaceable)
    return Eligibility(options=options, unplaceable=unplaceable)


def _empty_whole_groups(
    problem: Problem, options: dict[int, tuple[Option, ...]], unplaceable: dict[int, Unplaceable]
) -> None:
    """An all-or-nothing group with a place nobody can fill: its other places stay empty too.

    They take the reason of the place that cannot be filled, so the board
    says what is missing (`staff`, docs/problem.md).
    """
    # A place is its flat sessions (several: one per step of a ladder); a held one stays held.
    pinned = {f.session for f in problem.fixed}
    places: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for s_idx, session in enumerate(problem.sessions):
        link = session.place_of
        if link is not None and link.all_or_nothing:
            places[link.session][link.place].append(s_idx)
    for group in places.values():
        open_places = [
            ms for ms in group.values() if not any(problem.sessions[m].id in pinned for m in ms)
        ]
        blocked = next((ms for ms in open_places if all(m in unplaceable for m in ms)), None)
        if blocked is None:
            continue
        why = unplaceable[blocked[-1]]
        place = problem.sessions[blocked[0]].place_of
        assert place is not None
        for ms in open_places:
            for m in ms:
                if m not in blocked and m in options:
                    del options[m]
                    unplaceable[m] = Unplaceable(
                        why.reason, Why("group_blocked", {"place": place.place}, why.why)
                    )


def _unplaceable(session: Session, furthest: Rejection | None, reached: int) -> Unplaceable:
    """The reason, and a detail that says how far the nearest candidates got."""
    if furthest is None or furthest.stage == STAGE_LANGUAGE:
        return Unplaceable(
            "no_provider_speaks_language", Why("nobody_speaks", {"language": session.language})
        )
    details = {
        STAGE_PROFILE: Why("none_fits", {"language": session.language}, furthest.why),
        STAGE_TRAVEL: Why("all_too_far", {"count": reached}, furthest.why),
        STAGE_AVAILABILITY: Why("none_free_then", {"count": reached}),
        STAGE_CAPACITY: Why("none_has_minutes", {"count": reached}, furthest.why),
    }
    return Unplaceable(REASON_BY_STAGE[furthest.stage], details[furthest.stage])
