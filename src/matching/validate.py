"""Checks a plan against the eleven hard rules and recomputes its score from scratch.

This is the outside view of a plan: it never trusts the solver, and it
re-derives the per-pair rules (2-8, 11) from docs/problem.md instead of calling
`eligibility`, so a bug there shows up here as a violation. Only the travel
minutes, the timeline arithmetic and the route reading of rule 9 (`routes`)
are shared with the rest of the matcher.

Each broken rule instance is one `Violation`; `hard` is minus their number.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from matching.eligibility import Eligibility, compute_eligibility
from matching.fairness import fairness_penalty
from matching.places import flatten, flatten_entries, needs_flattening
from matching.problem import (
    LADDER_STEP_COST,
    PREFERRED_BONUS,
    RULE_OF_CODE,
    Assignment,
    HaversineTravel,
    Location,
    Plan,
    Problem,
    Provider,
    RuleCode,
    Score,
    Session,
    Unassigned,
)
from matching.routes import (
    Visit,
    day_blocked_legs,
    describe_leg,
    idle_minutes,
    overlapping_pairs,
    route_minutes,
)
from matching.timeline import Timeline
from matching.travel import Travel


@dataclass(frozen=True)
class Violation:
    """One broken hard rule: the rule number, a machine code, who it concerns, and a sentence.

    `code` says which part of the rule is broken (docs/problem.md, "Hard
    rules"); callers branch on it, never on the English `message`.
    """

    rule: int
    code: RuleCode
    session: str | None
    provider: str | None
    message: str

    @classmethod
    def of(
        cls, code: RuleCode, session: str | None, provider: str | None, message: str
    ) -> Violation:
        """The violation of the rule `code` belongs to."""
        return cls(RULE_OF_CODE[code], code, session, provider, message)


@dataclass(frozen=True)
class Validation:
    """The verdict on a plan: what it breaks and the score it really has."""

    violations: list[Violation]
    score: Score
    declared: Score | None = None
    """The score the plan claims, if it came from a plan."""
    fairness: int = 0
    """The fairness penalty the solver weighed (`matching.fairness`); never part of the score."""

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def score_matches(self) -> bool:
        return self.declared is None or self.declared == self.score

    def rules_broken(self) -> list[int]:
        return sorted({v.rule for v in self.violations})


@dataclass(frozen=True)
class ProviderDay:
    """One provider's sessions of one local day in start order, and the day's route."""

    provider: Provider
    day: date
    visits: list[Visit]
    travel_minutes: int
    timeline_visits: list[Visit]
    """All the provider's sessions in start order; the day is `[first:last]` of it."""
    first: int
    last: int
    window: tuple[int, int]
    """Minutes from the start of the previous local day to the end of the next one."""
    longest: int
    idle_minutes: int = 0
    """Waiting that counts in soft: zero unless the provider `counts_idle`."""

    @property
    def session_minutes(self) -> int:
        return sum(v.end - v.start for v in self.visits)


def validate(problem: Problem, plan: Plan) -> Validation:
    """Every hard rule violation of `plan`, and its score recomputed from scratch."""
    violations, score = _check(problem, plan.assignments, plan.unassigned)
    fairness = fairness_penalty(problem, plan.assignments)
    return Validation(violations=violations, score=score, declared=plan.score, fairness=fairness)


def check(
    problem: Problem,
    assignments: Sequence[Assignment],
    unassigned: Sequence[Unassigned] = (),
) -> Validation:
    """`validate` for a plan still in pieces (a solver about to build its `Plan`)."""
    violations, score = _check(problem, assignments, unassigned)
    fairness = fairness_penalty(problem, assignments)
    return Validation(violations=violations, score=score, fairness=fairness)


def score_plan(
    problem: Problem,
    assignments: Sequence[Assignment],
    unassigned: Sequence[Unassigned] = (),
) -> Score:
    """The plan's score as docs/problem.md defines it; `hard` counts the violations."""
    return _check(problem, assignments, unassigned)[1]


def day_routes(
    problem: Problem,
    assignments: Sequence[Assignment],
    *,
    travel: Travel | None = None,
    timeline: Timeline | None = None,
) -> dict[tuple[str, date], int]:
    """Travel minutes of every (provider id, local day) that has work."""
    travel = travel or Travel(problem.travel)
    timeline = timeline or Timeline.for_problem(problem)
    return {
        (pd.provider.id, pd.day): pd.travel_minutes
        for pd in provider_days(problem, assignments, travel=travel, timeline=timeline)
    }


def provider_days(
    problem: Problem,
    assignments: Sequence[Assignment],
    *,
    travel: Travel,
    timeline: Timeline,
) -> Iterator[ProviderDay]:
    """Group the assignments by provider and local day of their start, with each day's route.

    Assignments naming an unknown session or provider are left out (rule 1 reports them).
    """
    zone = ZoneInfo(problem.timezone)
    sessions = {s.id: s for s in problem.sessions}
    providers = {p.id: p for p in problem.providers}
    by_provider: dict[str, list[tuple[Visit, date]]] = defaultdict(list)
    for a in assignments:
        session = sessions.get(a.session)
        if session is None or a.provider not in providers or a.start.tzinfo is None:
            continue
        start = timeline.minute(a.start)
        place = session.location if session.is_onsite else None
        visit = Visit(start, start + session.duration_minutes, place, session.id)
        by_provider[a.provider].append((visit, a.start.astimezone(zone).date()))
    for provider_id, placed in by_provider.items():
        provider = providers[provider_id]
        placed.sort(key=lambda item: (item[0].start, item[0].end))
        everything = [visit for visit, _ in placed]
        longest = max(v.end - v.start for v in everything)
        first = 0
        while first < len(placed):
            day = placed[first][1]
            last = first
            while last < len(placed) and placed[last][1] == day:
                last += 1
            visits = everything[first:last]
            window = (
                timeline.minute(_midnight(day - timedelta(days=1), zone)),
                timeline.minute(_midnight(day + timedelta(days=2), zone)),
            )
            yield ProviderDay(
                provider=provider,
                day=day,
                visits=visits,
                travel_minutes=route_minutes(travel, provider.home, visits),
                timeline_visits=everything,
                first=first,
                last=last,
                window=window,
                longest=longest,
                idle_minutes=(
                    idle_minutes(travel, provider.home, visits) if provider.counts_idle else 0
                ),
            )
            first = last


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def eligibility_bound(
    problem: Problem,
    eligibility: Eligibility | None = None,
    *,
    travel: Travel | None = None,
    timeline: Timeline | None = None,
) -> Score:
    """An optimistic score no valid plan can beat, from the static rules alone.

    `medium` loses the priority of every session nobody may take. `soft` assumes
    every other session is taken, and for each one takes the best of its options:
    +60 if that provider is preferred, minus the cheapest drive that could bring
    anyone to its place. Every onsite session is reached by its own leg of some
    route (from home or from another session's place), so that drive is a true
    lower bound on the travel it causes; it is zero when another session shares
    the place. A plan that leaves a takeable session out has a lower `medium`,
    so the `soft` part only has to hold for plans that take them all.
    """
    travel = travel or Travel(problem.travel)
    timeline = timeline or Timeline.for_problem(problem)
    eligibility = eligibility or compute_eligibility(problem, timeline, travel)
    placeable = sorted(eligibility.options)
    nearest = _nearest_other_session(problem, eligibility, travel)
    # A session with a modality ladder counts once, at the best of its steps.
    best_of: dict[str, int] = {}
    for s_idx in placeable:
        session = problem.sessions[s_idx]
        best: int | None = None
        for option in eligibility.options[s_idx]:
            provider = problem.providers[option.provider]
            bonus = PREFERRED_BONUS if provider.id in session.preferred_providers else 0
            drive = min(option.home_minutes, nearest.get(s_idx, option.home_minutes))
            value = bonus - (drive if session.is_onsite else 0)
            best = value if best is None else max(best, value)
        if best is None:
            continue
        if session.step_of is not None:
            best -= LADDER_STEP_COST * session.step_of.step
        key = _base(session)
        best_of[key] = max(best_of.get(key, best), best)
    medium = -sum(s.priority for s in _one_per_ladder(problem.sessions) if _base(s) not in best_of)
    return Score(hard=0, medium=medium, soft=sum(best_of.values()))


def _nearest_other_session(
    problem: Problem, eligibility: Eligibility, travel: Travel
) -> dict[int, int]:
    """For each onsite session, a lower bound on the drive from another session's place.

    Only sessions that may fall on a common day can follow each other in a route.
    Under the haversine model two different points are at least the parking
    overhead apart (computing every pair exactly would be quadratic); the same
    point costs nothing. A session with no possible neighbour has no entry: it
    can only be reached from home.
    """
    by_day: dict[int, Counter[tuple[float | None, float | None, int | None]]] = defaultdict(Counter)
    places: dict[tuple[float | None, float | None, int | None], Location] = {}
    days_of: dict[int, set[int]] = {}
    for s_idx, options in eligibility.options.items():
        session = problem.sessions[s_idx]
        if not session.is_onsite or session.location is None:
            continue
        key = (session.location.lat, session.location.lon, session.location.point)
        places[key] = session.location
        days_of[s_idx] = {r.day for option in options for r in option.ranges}
        for day in days_of[s_idx]:
            by_day[day][key] += 1
    model = problem.travel
    nearest: dict[int, int] = {}
    for s_idx, days in days_of.items():
        here = problem.sessions[s_idx].location
        assert here is not None
        key = (here.lat, here.lon, here.point)
        best: int | None = None
        for day in days:
            seen = by_day[day]
            if isinstance(model, HaversineTravel):
                if seen[key] > 1:
                    best = 0
                elif len(seen) > 1:
                    best = (
                        model.overhead_minutes
                        if best is None
                        else min(best, model.overhead_minutes)
                    )
                continue
            for other, count in seen.items():
                if other != key or count > 1:
                    drive = travel.minutes(places[other], here)
                    best = drive if best is None else min(best, drive)
        if best is not None:
            nearest[s_idx] = best
    return nearest


def _check(
    problem: Problem,
    assignments: Sequence[Assignment],
    unassigned: Sequence[Unassigned],
) -> tuple[list[Violation], Score]:
    wrong_places: list[Violation] = []
    if needs_flattening(problem):
        # Group sessions are checked as one session per place, ladders as one per step,
        # plus what couples them.
        assignments, unassigned, wrong = flatten_entries(problem, assignments, unassigned)
        wrong_places = [Violation.of(code, s, p, m) for code, s, p, m in wrong]
        problem = flatten(problem)
    travel = Travel(problem.travel)
    timeline = Timeline.for_problem(problem)
    zone = ZoneInfo(problem.timezone)
    sessions = {s.id: s for s in problem.sessions}
    providers = {p.id: p for p in problem.providers}
    violations = wrong_places + _accounting(problem, assignments, unassigned, sessions, providers)
    violations.extend(_staff_rules(problem, assignments))
    violations.extend(_ladder_rules(problem, assignments))

    preferred_hits: set[str] = set()
    assigned: set[str] = set()
    for a in assignments:
        session = sessions.get(a.session)
        provider = providers.get(a.provider)
        assigned.add(a.session)
        if session is None or provider is None:
            continue
        if provider.id in session.preferred_providers:
            preferred_hits.add(session.id)
        violations.extend(_pair_rules(session, provider, a.start, travel, timeline, zone))

    total_travel = total_idle = 0
    weeks: dict[tuple[str, int, int], int] = defaultdict(int)
    for pd in provider_days(problem, assignments, travel=travel, timeline=timeline):
        total_travel += pd.travel_minutes
        total_idle += pd.idle_minutes
        violations.extend(_day_rules(pd, travel, timeline))
        iso = pd.day.isocalendar()
        weeks[(pd.provider.id, iso.year, iso.week)] += pd.session_minutes + pd.travel_minutes
    for (provider_id, year, week), minutes in sorted(weeks.items()):
        limit = providers[provider_id].max_minutes_per_week
        if minutes > limit:
            violations.append(
                Violation.of(
                    "weekly_minutes",
                    None,
                    provider_id,
                    f"works {minutes} min with travel in ISO week {year}-W{week:02d}, "
                    f"over the {limit} min weekly limit",
                )
            )
    violations.extend(_overlaps(problem, assignments, sessions, providers, timeline, zone))

    # A session with a modality ladder is staffed when one of its steps is.
    staffed = {_base(sessions[a]) for a in assigned if a in sessions}
    medium = -sum(s.priority for s in _one_per_ladder(problem.sessions) if _base(s) not in staffed)
    ladder_cost = sum(
        LADDER_STEP_COST * step.step
        for a in assigned
        if a in sessions and (step := sessions[a].step_of) is not None
    )
    soft = -total_travel - total_idle + PREFERRED_BONUS * len(preferred_hits) - ladder_cost
    return violations, Score(hard=-len(violations), medium=medium, soft=soft)


def _accounting(
    problem: Problem,
    assignments: Sequence[Assignment],
    unassigned: Sequence[Unassigned],
    sessions: dict[str, Session],
    providers: dict[str, Provider],
) -> list[Violation]:
    """Rule 1: every session exactly once, every pinned pair kept, no unknown ids."""
    found: list[Violation] = []
    listed: Counter[str] = Counter()
    given_to: dict[str, list[str]] = defaultdict(list)
    for a in assignments:
        listed[a.session] += 1
        given_to[a.session].append(a.provider)
        if a.session not in sessions:
            found.append(
                Violation.of(
                    "unknown_session", a.session, a.provider, "assigns a session the problem lacks"
                )
            )
        if a.provider not in providers:
            found.append(
                Violation.of(
                    "unknown_provider", a.session, a.provider, "names a provider the problem lacks"
                )
            )
    for u in unassigned:
        listed[u.session] += 1
        if u.session not in sessions:
            found.append(
                Violation.of(
                    "unknown_session", u.session, None, "lists an unknown session as unassigned"
                )
            )
    for session in problem.sessions:
        count = listed[session.id]
        if count == 0:
            found.append(
                Violation.of(
                    "missing", session.id, None, "is neither assigned nor listed as unassigned"
                )
            )
        elif count > 1:
            found.append(
                Violation.of(
                    "duplicate",
                    session.id,
                    None,
                    f"appears {count} times (assigned to {len(given_to[session.id])} "
                    "provider(s)); every session must appear exactly once",
                )
            )
    for pin in problem.fixed:
        if pin.provider not in given_to.get(pin.session, []):
            found.append(
                Violation.of(
                    "fixed",
                    pin.session,
                    pin.provider,
                    f"is pinned to {pin.provider} but the plan does not keep that pair",
                )
            )
    return found


def _base(session: Session) -> str:
    """The id a ladder's step stands for; any other session's own id."""
    return session.step_of.session if session.step_of is not None else session.id


def _one_per_ladder(sessions: Sequence[Session]) -> list[Session]:
    """Every session once: of a ladder's steps, the first."""
    return [s for s in sessions if s.step_of is None or s.step_of.step == 0]


def _ladder_rules(problem: Problem, assignments: Sequence[Assignment]) -> list[Violation]:
    """Rule 1 for a modality ladder: one step at most is staffed."""
    steps = {s.id: s.step_of.session for s in problem.sessions if s.step_of is not None}
    used: Counter[str] = Counter(steps[a.session] for a in assignments if a.session in steps)
    return [
        Violation.of(
            "duplicate", session, None, f"is staffed {n} times, once per modality of its ladder"
        )
        for session, n in sorted(used.items())
        if n > 1
    ]


def _staff_rules(problem: Problem, assignments: Sequence[Assignment]) -> list[Violation]:
    """What couples a group session's places (`staff`): one start, no one twice, all or none."""
    places: dict[str, dict[int, Assignment]] = defaultdict(dict)
    size: dict[str, tuple[int, bool]] = {}
    for session in problem.sessions:
        if session.place_of is not None:
            size[session.place_of.session] = (
                session.place_of.places,
                session.place_of.all_or_nothing,
            )
    flat = {s.id: s.place_of for s in problem.sessions if s.place_of is not None}
    # All or nothing binds the places no pinned pair holds: a held place stays held.
    pinned_ids = {f.session for f in problem.fixed if f.session in flat}
    pinned: Counter[str] = Counter(flat[sid].session for sid in pinned_ids)
    for a in assignments:
        link = flat.get(a.session)
        if link is not None:
            places[link.session].setdefault(link.place, a)
    found: list[Violation] = []
    for group, held in sorted(places.items()):
        count, whole = size[group]
        starts = sorted({a.start for a in held.values()})
        if len(starts) > 1:
            found.append(
                Violation.of(
                    "common_start",
                    group,
                    None,
                    f"its places start at {len(starts)} different times; a group starts once",
                )
            )
        by_provider: Counter[str] = Counter(a.provider for a in held.values())
        for provider, n in sorted(by_provider.items()):
            if n > 1:
                found.append(
                    Violation.of(
                        "same_provider", group, provider, f"holds {n} places of the same session"
                    )
                )
        open_filled = sum(a.session not in pinned_ids for a in held.values())
        if whole and 0 < open_filled < count - pinned[group]:
            found.append(
                Violation.of(
                    "all_or_nothing",
                    group,
                    None,
                    f"fills {len(held)} of its {count} places, but needs all of them or none",
                )
            )
    return found


def _pair_rules(
    session: Session,
    provider: Provider,
    start: datetime,
    travel: Travel,
    timeline: Timeline,
    zone: ZoneInfo,
) -> Iterator[Violation]:
    """Rules 2-8 and 11 for one assignment, straight from docs/problem.md."""

    def broken(code: RuleCode, message: str) -> Violation:
        return Violation.of(code, session.id, provider.id, message)

    spoken = {skill.code: skill.certified for skill in provider.languages}
    if session.language not in spoken:
        yield broken("language", f"provider does not speak '{session.language}'")
    elif session.requires.certified and not spoken[session.language]:
        yield broken("certification", f"provider is not certified in '{session.language}'")
    if session.provider_kind != "any" and session.provider_kind != provider.kind:
        yield broken(
            "kind", f"session asks for a {session.provider_kind}, provider is a {provider.kind}"
        )
    if session.requires.gender is not None and session.requires.gender != provider.gender:
        yield broken("gender", f"session asks for gender '{session.requires.gender}'")
    for skill in sorted(session.requires.skills):
        if skill not in provider.skills:
            yield broken("skills", f"provider lacks the required skill '{skill}'")
    if provider.id in session.excluded_providers:
        yield broken("excluded", "provider is excluded for this session")
    if session.modality not in provider.modalities:
        yield broken("modality", f"provider does not work by {session.modality}")
    if session.is_onsite:
        country = session.location.country if session.location is not None else None
        if country not in provider.countries:
            yield broken("country", f"provider may not work in {country or 'an unknown country'}")
        if session.location is not None:
            drive = travel.minutes(provider.home, session.location)
            if drive > provider.max_travel_minutes:
                yield broken(
                    "travel_range",
                    f"home is {drive} min away, over the {provider.max_travel_minutes} min limit",
                )
    if start.tzinfo is None:
        yield broken("no_offset", "start has no offset")
        return
    # Whole minutes, like the rest of the matcher: seconds never decide a rule.
    begin = timeline.minute(start)
    end = begin + session.duration_minutes
    if not any(
        timeline.minute(iv.start) <= begin and end <= timeline.minute(iv.end)
        for iv in provider.availability
    ):
        finish = start + timedelta(minutes=session.duration_minutes)
        yield broken(
            "availability",
            f"{_clock(start, zone)}-{_clock(finish, zone)} lies inside none of the "
            "provider's availability intervals",
        )
    if session.window is not None:
        earliest, latest = session.window.earliest, session.window.latest
        if not timeline.minute(earliest) <= begin <= timeline.minute(latest):
            yield broken(
                "window",
                f"starts at {_clock(start, zone)}, outside its window "
                f"{_clock(earliest, zone)}-{_clock(latest, zone)}",
            )
    elif begin != timeline.minute(session.start):
        yield broken(
            "window", f"starts at {_clock(start, zone)} instead of {_clock(session.start, zone)}"
        )


def _day_rules(pd: ProviderDay, travel: Travel, timeline: Timeline) -> Iterator[Violation]:
    """Rule 9's drives and rule 10's daily limit for one provider's day."""
    blocked, context = day_blocked_legs(
        travel,
        pd.provider.home,
        pd.timeline_visits,
        pd.first,
        pd.last,
        pd.window,
        pd.longest,
    )
    for leg in blocked:
        at = leg.target if leg.target is not None else leg.origin
        yield Violation.of(
            "drive",
            context[at].session if at is not None else None,
            pd.provider.id,
            f"{pd.day.isoformat()}: no free time for the drive "
            f"{describe_leg(leg, context, timeline)}",
        )
    total = pd.session_minutes + pd.travel_minutes
    if total > pd.provider.max_minutes_per_day:
        yield Violation.of(
            "daily_minutes",
            None,
            pd.provider.id,
            f"{pd.day.isoformat()}: works {total} min with travel "
            f"({pd.travel_minutes} min driving), over the "
            f"{pd.provider.max_minutes_per_day} min daily limit",
        )


def _overlaps(
    problem: Problem,
    assignments: Sequence[Assignment],
    sessions: dict[str, Session],
    providers: dict[str, Provider],
    timeline: Timeline,
    zone: ZoneInfo,
) -> Iterator[Violation]:
    """Rule 9: a provider's sessions never overlap, on any day."""
    by_provider: dict[str, list[Visit]] = defaultdict(list)
    for a in assignments:
        session = sessions.get(a.session)
        if session is None or a.provider not in providers or a.start.tzinfo is None:
            continue
        start = timeline.minute(a.start)
        by_provider[a.provider].append(
            Visit(start, start + session.duration_minutes, None, a.session)
        )
    for provider_id, visits in sorted(by_provider.items()):
        visits.sort(key=lambda v: (v.start, v.end))
        for i, j in overlapping_pairs(visits):
            first = visits[i]
            if _same_group(sessions[first.session], sessions[visits[j].session]):
                continue  # one provider in two places of a group: `same_provider` says it
            yield Violation.of(
                "overlap",
                visits[j].session,
                provider_id,
                f"overlaps {first.session} "
                f"({_clock(timeline.instant(first.start), zone)}-"
                f"{_clock(timeline.instant(first.end), zone)}) for the same provider",
            )


def _same_group(a: Session, b: Session) -> bool:
    if a.place_of is None or b.place_of is None:
        return False
    return a.place_of.session == b.place_of.session


def _clock(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M")
