"""What would make an unstaffed session staffable: the smallest changes, checked by the rules.

The board says why a session cannot be staffed; this says what would change
that. For one unstaffed session of a plan, each kind of change is tried on
a copy of the session (or of a provider) and checked exactly as the greedy
plan places a session: the static rules (`check_pair`, rules 2-8 and 11),
then the provider's days as the plan leaves them (`Roster`, rules 9-10).
A change is suggested only when some provider could then take the session
without moving anyone else's work.

The kinds, in the order a requester would rather accept them:

1. `start`: another start the same day, at most two hours away;
2. `modality`: another modality (phone or video; onsite only where the
   session has a place);
3. `start`: the same time of day on another day, then any other time,
   within `days` days either way;
4. `drop_need`: one need dropped (gender, certification, a skill, the kind
   of provider), with who would then qualify;
5. `cross_border`: a provider who fits but may not work in that country;
6. `travel_limit`: a provider who fits but lives beyond their travel limit,
   with how many minutes longer it would take.

At most one suggestion per kind, `limit` (3) in all, best first; none when
someone could take the session as it is (it only needs planning). The first
four change the booking (the requester can take them); the last two are a
provider's or a dispatcher's decision.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from matching.eligibility import Availability, availability_minutes, check_pair
from matching.greedy import Placer
from matching.places import flatten, flatten_plan
from matching.problem import Modality, Plan, Problem, Provider, Session
from matching.routes import Visit
from matching.timeline import Timeline
from matching.travel import Travel

SuggestionKind = Literal[
    "start", "modality", "drop_need", "cross_border", "travel_limit", "all_or_nothing"
]

SAME_DAY_MINUTES = 120
"""A start this close on the same day comes before any other kind of change."""
STEP_MINUTES = 15
"""Other starts are tried on this grid."""
DAY_OPENS = 8 * 60
DAY_CLOSES = 19 * 60
"""Other starts are tried between these local times (the start, and the end, inside)."""
NAMED_PROVIDERS = 3
"""How many providers a suggestion names."""
REMOTE_FIRST: tuple[Modality, ...] = ("video", "phone", "onsite")
"""The order other modalities are tried in: video keeps a face, the phone at least a voice."""


@dataclass(frozen=True)
class Suggestion:
    """One change that would let a provider take the session, and who.

    `change` is machine-readable: `{"start": ISO}`, `{"modality": "video"}`,
    `{"need": "gender" | "certified" | "provider_kind" | "skill:<name>"}`,
    `{"provider": id, "country": "BE"}`, `{"provider": id, "extra_minutes": 12}`.
    """

    session: str
    kind: SuggestionKind
    change: dict[str, str | int]
    providers: tuple[str, ...]
    start: datetime
    """When the first provider named would take it."""
    changes_booking: bool
    """Whether the requester makes the change (a booking update), not a provider or dispatcher."""
    detail: str
    rank: tuple[int, int]
    """Lower is better: the kind's order above, then the size of the change."""


class _Checker:
    """The plan's rosters, built once, and the check of one session with one provider."""

    def __init__(self, problem: Problem, plan: Plan) -> None:
        self.problem = problem
        self.timeline = Timeline.for_problem(problem)
        self.travel = Travel(problem.travel)
        self.placer = Placer(problem, self.timeline, self.travel)
        index = {s.id: i for i, s in enumerate(problem.sessions)}
        providers = {p.id: i for i, p in enumerate(problem.providers)}
        for a in plan.assignments:
            if a.session in index and a.provider in providers:
                minute = self.timeline.minute(a.start)
                self.placer.place(
                    index[a.session], providers[a.provider], minute, self.timeline.day(minute)
                )
        self._availability: dict[int, Availability] = {}
        first, last = self.timeline.day_starts[1], self.timeline.day_starts[-2]
        self.horizon = (first, last)

    def availability(self, p_idx: int) -> Availability:
        if p_idx not in self._availability:
            provider = self.problem.providers[p_idx]
            self._availability[p_idx] = availability_minutes(provider, self.timeline)
        return self._availability[p_idx]

    def fits(
        self, session: Session, p_idx: int, provider: Provider | None = None
    ) -> tuple[int | None, str | None]:
        """The start nearest the wanted one at which the provider could take it, or why not."""
        provider = provider or self.problem.providers[p_idx]
        option, rejection = check_pair(
            session, provider, self.timeline, self.travel, self.availability(p_idx)
        )
        if option is None:
            return None, rejection.code if rejection is not None else "language"
        wanted = self.timeline.minute(session.start)
        roster = self.placer.roster(p_idx)
        place = session.location if session.is_onsite else None
        for rng in option.ranges:
            starts = {rng.lo, rng.hi, min(max(wanted, rng.lo), rng.hi)}
            starts.update(range(-(-rng.lo // STEP_MINUTES) * STEP_MINUTES, rng.hi, STEP_MINUTES))
            for start in sorted(starts, key=lambda t: (abs(t - wanted), t)):
                visit = Visit(start, start + session.duration_minutes, place, session.id)
                if roster.conflict(visit, rng.day) is None:
                    return start, None
        return None, "capacity"

    def who(
        self, session: Session, changed: dict[int, Provider] | None = None
    ) -> list[tuple[int, str]]:
        """(start, provider id) of every provider who could take it, nearest start first."""
        found: list[tuple[int, str]] = []
        for p_idx, provider in enumerate(self.problem.providers):
            if provider.language(session.language) is None:
                continue
            start, _ = self.fits(session, p_idx, (changed or {}).get(p_idx))
            if start is not None:
                found.append((start, provider.id))
        wanted = self.timeline.minute(session.start)
        found.sort(key=lambda f: (abs(f[0] - wanted), f[1]))
        return found


def suggest_all(
    problem: Problem, plan: Plan, *, limit: int = 3, days: int = 3
) -> dict[str, list[Suggestion]]:
    """Suggestions for every unassigned session of `plan`, by session id (a group's: by place).

    A group session's place and a modality ladder's session are looked at
    as the matcher sees them (`places.flatten`): the key is the place's id
    (`<id>#<place>`), the session's own id otherwise. A group with an open
    place also has its suggestions as a whole (`suggest_group`) under its id.
    """
    flat = flatten(problem)
    flat_plan = flatten_plan(problem, plan)
    assert flat_plan is not None
    checker = _Checker(flat, flat_plan)
    by_id = {s.id: s for s in flat.sessions}
    staffed = {a.session for a in flat_plan.assignments}
    staffed |= {s.step_of.session for s in flat.sessions if s.step_of and s.id in staffed}
    result: dict[str, list[Suggestion]] = {}
    for u in flat_plan.unassigned:
        session = by_id.get(u.session)
        if session is None or session.id in staffed:
            continue
        if session.step_of is not None and (
            session.step_of.step > 0 or session.step_of.session in staffed
        ):
            continue  # a ladder's steps are looked at once, from its first
        result[session.id] = _suggest(checker, session, limit=limit, days=days)
    # A group with an open place: what would staff it as a whole, under the group's own id.
    groups = {s.place_of.session for s in flat.sessions if s.place_of and s.id not in staffed}
    for group in sorted(groups):
        result[group] = _suggest_group(checker, flat_plan, group, limit=limit, days=days)
    return result


def suggest(
    problem: Problem, plan: Plan, session_id: str, *, limit: int = 3, days: int = 3
) -> list[Suggestion]:
    """Suggestions for one unassigned session (a place's id for a group session's place)."""
    flat = flatten(problem)
    flat_plan = flatten_plan(problem, plan)
    assert flat_plan is not None
    session = next((s for s in flat.sessions if s.id == session_id), None)
    if session is None:
        raise ValueError(f"unknown session {session_id!r}")
    return _suggest(_Checker(flat, flat_plan), session, limit=limit, days=days)


def _suggest(checker: _Checker, session: Session, *, limit: int, days: int) -> list[Suggestion]:
    if checker.who(session):
        return []  # someone can take it as it is: nothing to change, plan it
    found = [
        s
        for s in (
            _another_start(checker, session, days),
            _another_modality(checker, session),
            _drop_a_need(checker, session),
            _cross_border(checker, session),
            _longer_travel(checker, session),
        )
        if s is not None
    ]
    found.sort(key=lambda s: s.rank)
    return found[:limit]


def _named(found: list[tuple[int, str]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p for _, p in found))[:NAMED_PROVIDERS]


def _requesters(
    checker: _Checker,
    session: Session,
    kind: SuggestionKind,
    change: dict[str, str | int],
    found: list[tuple[int, str]],
    rank: tuple[int, int],
    detail: str,
) -> Suggestion:
    """A change of the booking (the requester's), naming who could then come, first first."""
    return Suggestion(
        session=session.id,
        kind=kind,
        change=change,
        providers=_named(found),
        start=checker.timeline.instant(found[0][0]),
        changes_booking=True,
        detail=f"{detail}: {', '.join(_named(found))}",
        rank=rank,
    )


def _clock(checker: _Checker, minute: int) -> str:
    return checker.timeline.instant(minute).strftime("%a %d %b %H:%M")


def _other_starts(
    checker: _Checker, session: Session, days: int
) -> Iterator[tuple[tuple[int, int], datetime]]:
    """Other starts, best first: same day close by, the same time of day, then any time."""
    zone = checker.timeline.zone
    local = session.start.astimezone(zone)
    wanted = checker.timeline.minute(session.start)
    candidates: list[tuple[tuple[int, int], datetime]] = []
    for d in range(-days, days + 1):
        day = local + timedelta(days=d)
        if d != 0:
            candidates.append(((2, abs(d) * 1440), day))
        opens = day.replace(hour=DAY_OPENS // 60, minute=DAY_OPENS % 60)
        for k in range((DAY_CLOSES - DAY_OPENS - session.duration_minutes) // STEP_MINUTES + 1):
            start = opens + timedelta(minutes=k * STEP_MINUTES)
            shift = abs((start - day).total_seconds()) // 60
            if d == 0 and shift == 0:
                continue
            near = d == 0 and shift <= SAME_DAY_MINUTES
            candidates.append(((0 if near else 3, abs(d) * 1440 + int(shift)), start))
    candidates.sort(key=lambda c: c[0])
    lo, hi = checker.horizon
    for rank, start in candidates:
        minute = checker.timeline.minute(start)
        if lo <= minute < hi and minute != wanted:
            yield rank, start


def _start_suggestion(
    checker: _Checker,
    session: Session,
    rank: tuple[int, int],
    start: datetime,
    found: list[tuple[int, str]],
) -> Suggestion:
    when = _clock(checker, checker.timeline.minute(start))
    change: dict[str, str | int] = {"start": start.isoformat()}
    return _requesters(checker, session, "start", change, found, rank, f"start at {when}")


def _another_start(checker: _Checker, session: Session, days: int) -> Suggestion | None:
    """The nearest start at which someone fits: same day close by, same time of day, any time."""
    for rank, start in _other_starts(checker, session, days):
        found = checker.who(replace(session, start=start, window=None))
        if found:
            return _start_suggestion(checker, session, rank, start, found)
    return None


def _another_modality(checker: _Checker, session: Session) -> Suggestion | None:
    tried = set(session.modalities) | {session.modality}
    best: Suggestion | None = None
    for modality in REMOTE_FIRST:
        if modality in tried or (modality == "onsite" and session.location is None):
            continue
        changed = replace(session, modality=modality)
        found = checker.who(changed)
        if found and best is None:
            best = _modality_suggestion(checker, session, modality, found)
    return best


def _modality_suggestion(
    checker: _Checker, session: Session, modality: Modality, found: list[tuple[int, str]]
) -> Suggestion:
    rank = (1, REMOTE_FIRST.index(modality))
    change: dict[str, str | int] = {"modality": modality}
    return _requesters(checker, session, "modality", change, found, rank, f"by {modality}")


def _needs(session: Session) -> list[tuple[str, Session]]:
    """Each need of the session, and the session without it."""
    r = session.requires
    out: list[tuple[str, Session]] = []
    if r.gender is not None:
        out.append(("gender", replace(session, requires=replace(r, gender=None))))
    if r.certified:
        out.append(("certified", replace(session, requires=replace(r, certified=False))))
    for skill in sorted(r.skills):
        less = replace(r, skills=r.skills - {skill})
        out.append((f"skill:{skill}", replace(session, requires=less)))
    if session.provider_kind != "any":
        out.append(("provider_kind", replace(session, provider_kind="any")))
    return out


def _drop_a_need(checker: _Checker, session: Session) -> Suggestion | None:
    best: tuple[int, str, list[tuple[int, str]]] | None = None
    for order, (need, lighter) in enumerate(_needs(session)):
        found = checker.who(lighter)
        # The need whose dropping lets the most providers in, first named first.
        if found and (best is None or len(found) > len(best[2])):
            best = (order, need, found)
    if best is None:
        return None
    _, need, found = best
    change: dict[str, str | int] = {"need": need}
    rank = (4, -len(found))
    return _requesters(checker, session, "drop_need", change, found, rank, f"without '{need}'")


def _refused_for(checker: _Checker, session: Session, code: str) -> list[int]:
    """The providers the static rules refuse with this code, and only those checked so far."""
    refused = []
    for p_idx, provider in enumerate(checker.problem.providers):
        if provider.language(session.language) is None:
            continue
        _, rejection = check_pair(
            session, provider, checker.timeline, checker.travel, checker.availability(p_idx)
        )
        if rejection is not None and rejection.code == code:
            refused.append(p_idx)
    return refused


def _cross_border(checker: _Checker, session: Session) -> Suggestion | None:
    if not session.is_onsite or session.location is None or session.location.country is None:
        return None
    country = session.location.country
    found: list[tuple[int, str]] = []
    for p_idx in _refused_for(checker, session, "country"):
        provider = checker.problem.providers[p_idx]
        allowed = replace(provider, countries=provider.countries | {country})
        start, _ = checker.fits(session, p_idx, allowed)
        if start is not None:
            found.append((start, provider.id))
    if not found:
        return None
    wanted = checker.timeline.minute(session.start)
    found.sort(key=lambda f: (abs(f[0] - wanted), f[1]))
    first = found[0][1]
    return Suggestion(
        session=session.id,
        kind="cross_border",
        change={"provider": first, "country": country},
        providers=_named(found),
        start=checker.timeline.instant(found[0][0]),
        changes_booking=False,
        detail=f"{first} fits but may not work in {country}: allowed there, could take it",
        rank=(5, len(found)),
    )


def _longer_travel(checker: _Checker, session: Session) -> Suggestion | None:
    if not session.is_onsite or session.location is None:
        return None
    found: list[tuple[int, int, str]] = []
    for p_idx in _refused_for(checker, session, "travel_range"):
        provider = checker.problem.providers[p_idx]
        drive = checker.travel.minutes(provider.home, session.location)
        longer = replace(provider, max_travel_minutes=drive)
        start, _ = checker.fits(session, p_idx, longer)
        if start is not None:
            found.append((drive - provider.max_travel_minutes, start, provider.id))
    if not found:
        return None
    found.sort()
    extra, start, first = found[0]
    return Suggestion(
        session=session.id,
        kind="travel_limit",
        change={"provider": first, "extra_minutes": extra},
        providers=tuple(p for _, _, p in found[:NAMED_PROVIDERS]),
        start=checker.timeline.instant(start),
        changes_booking=False,
        detail=f"{first} fits but lives {extra} min beyond their travel limit",
        rank=(6, extra),
    )


# --- a group session as a whole ---------------------------------------------------------------


def suggest_group(
    problem: Problem, plan: Plan, session_id: str, *, limit: int = 3, days: int = 3
) -> list[Suggestion]:
    """What would staff a group session's open places together (`staff`), best first.

    Per place, `suggest` says what would let someone take that place; a
    group also needs its places filled at one start by distinct providers.
    So: another start at which every place can be filled together, another
    modality for all of them, and (for an all-or-nothing group) going ahead
    with the places that can be filled now. Empty when the open places can
    all be filled together as they stand (the group only needs planning).
    """
    flat = flatten(problem)
    flat_plan = flatten_plan(problem, plan)
    assert flat_plan is not None
    return _suggest_group(_Checker(flat, flat_plan), flat_plan, session_id, limit=limit, days=days)


def _suggest_group(
    checker: _Checker, plan: Plan, session_id: str, *, limit: int, days: int
) -> list[Suggestion]:
    places: dict[int, list[Session]] = {}
    for s in checker.problem.sessions:
        if s.place_of is not None and s.place_of.session == session_id:
            places.setdefault(s.place_of.place, []).append(s)
    staffed = {a.session for a in plan.assignments}
    open_places = [steps for steps in places.values() if not any(s.id in staffed for s in steps)]
    if not open_places:
        return []
    first = open_places[0][0]
    assert first.place_of is not None
    now = _together(checker, open_places)
    if len(now) == len(open_places):
        return []
    group = replace(first, id=session_id, place_of=None, step_of=None)
    found: list[Suggestion] = []
    # Another start moves every place: only while none is held or staffed.
    if len(open_places) == len(places):
        for rank, start in _other_starts(checker, first, days):
            moved = [[replace(s, start=start, window=None) for s in steps] for steps in open_places]
            together = _together(checker, moved)
            if len(together) == len(open_places):
                found.append(_start_suggestion(checker, group, rank, start, together))
                break
    tried = {s.modality for steps in open_places for s in steps}
    for modality in REMOTE_FIRST:
        if modality in tried or modality == "onsite":
            continue
        remote = [[replace(s, modality=modality) for s in steps[:1]] for steps in open_places]
        together = _together(checker, remote)
        if len(together) == len(open_places):
            found.append(_modality_suggestion(checker, group, modality, together))
            break
    if first.place_of.all_or_nothing and now:
        change: dict[str, str | int] = {"places": len(now), "of": len(places)}
        rank = (7, len(places) - len(now))
        detail = f"without all or nothing, {len(now)} of {len(places)} places could go ahead"
        found.append(_requesters(checker, group, "all_or_nothing", change, now, rank, detail))
    found.sort(key=lambda s: s.rank)
    return found[:limit]


def _together(checker: _Checker, places: Sequence[Sequence[Session]]) -> list[tuple[int, str]]:
    """(start, provider) for as many places as distinct providers can fill at one start.

    Each place is its steps (several with a ladder); a place is filled by
    someone who fits one of its steps at the places' common start. The
    most places, by augmenting paths over who fits which place.
    """
    fits: list[dict[str, int]] = []
    for steps in places:
        found: dict[str, int] = {}
        for s in steps:
            wanted = checker.timeline.minute(s.start)
            for start, provider in checker.who(s):
                if start == wanted:
                    found.setdefault(provider, start)
        fits.append(found)
    holder: dict[str, int] = {}

    def take(k: int, seen: set[str]) -> bool:
        for provider in fits[k]:
            if provider in seen:
                continue
            seen.add(provider)
            if provider not in holder or take(holder[provider], seen):
                holder[provider] = k
                return True
        return False

    for k in range(len(places)):
        take(k, set())
    return sorted((fits[k][provider], provider) for provider, k in holder.items())
