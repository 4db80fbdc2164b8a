"""The large-neighbourhood search: re-plan one day of a few providers at a time, exactly.

A piece is one day of a few providers: every session they hold that day,
plus the unstaffed sessions they could take, re-planned from scratch with
both levels at once (`phases.solve_lexicographic`) while the rest of the
plan stays as it is; the piece's plan replaces the old one when it is
better (`Run.better`). Unstaffed sessions are tried first, most urgent
first; then pieces around staffed sessions, to save travel. Pieces grow
while nothing improves. One search thread per worker: CP-SAT lets go of
the interpreter while it solves, so pieces are solved side by side, on
disjoint providers and sessions.

The strategy uses it three ways: for all the time of a group too large for
one model, before the full model of a mid-sized group (to reach the medium
cap, sparing phase 1), and after a slow phase 1 (to cut the travel of its
plan before phase 2). Its numbers are `Tuning`'s `piece_*`, `widen_after`,
`widest`, `quiet_limit` and `stale_limit`.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from matching.model import Scope, build_model, make_scope, outside_loads
from matching.phases import solve_lexicographic
from matching.places import groups_kept, ladders_kept
from matching.routes import Visit, route_minutes
from matching.run import Run


@dataclass
class _Search:
    """The plan a neighbourhood search improves, indexed by provider and day.

    Pieces being re-planned reserve their providers and sessions, so pieces
    solved at the same time never touch the same part of the plan.
    """

    run: Run
    placement: dict[int, tuple[int, int]]
    days: dict[int, list[int]]
    """The days each session of the group may be held on."""
    providers_on: dict[tuple[int, int], list[int]]
    """Per (session, day): the providers who may take it then."""
    booked: dict[tuple[int, int], set[int]] = field(default_factory=lambda: defaultdict(set))
    """Per (provider, day): the sessions it holds."""
    waiting: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    """Per day: sessions of the group that are not staffed and may be held that day."""
    reserved_providers: set[int] = field(default_factory=set)
    reserved_sessions: set[int] = field(default_factory=set)
    quiet: int = 0
    """Pieces in a row without a gain."""
    stale: int = 0
    """Pieces in a row without a gain in medium."""
    failures: Counter[int] = field(default_factory=Counter)
    """Per unstaffed session: pieces around it that gained nothing."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def place(self, s_idx: int, where: tuple[int, int] | None) -> None:
        old = self.placement.pop(s_idx, None)
        if old is not None:
            self.booked[(old[0], self._day(old[1]))].discard(s_idx)
        else:
            for day in self.days[s_idx]:
                self.waiting[day].discard(s_idx)
        if where is None:
            for day in self.days[s_idx]:
                self.waiting[day].add(s_idx)
            return
        self.placement[s_idx] = where
        self.booked[(where[0], self._day(where[1]))].add(s_idx)

    def free_to_plan(self, s_idx: int) -> bool:
        """Neither the session nor its provider is in a piece being re-planned."""
        if s_idx in self.reserved_sessions:
            return False
        where = self.placement.get(s_idx)
        return where is None or where[0] not in self.reserved_providers

    def _day(self, minute: int) -> int:
        return self.run.prepared.timeline.day(minute)


@dataclass(frozen=True)
class _Piece:
    """One day of a few providers, cut out of the plan to be re-planned exactly."""

    providers: frozenset[int]
    sessions: frozenset[int]
    scope: Scope
    before: dict[int, tuple[int, int]]


def improve(
    run: Run,
    sessions: Sequence[int],
    start: Mapping[int, tuple[int, int]],
    budget: float,
    cap: int,
    *,
    stop_at_cap: bool = False,
) -> dict[int, tuple[int, int]]:
    """The plan of these sessions after searching from `start` for `budget` seconds, never worse.

    `cap` is a proven bound on the sessions' medium. The search stops early
    once medium reaches it and no piece has improved for `quiet_limit`
    pieces in a row; with `stop_at_cap`, as soon as medium reaches it, or
    when medium has not risen for `stale_limit` pieces in a row.
    """
    deadline = time.monotonic() + budget
    search = _new_search(run, sessions, start)
    total = run.staffed(sessions)
    threads = max(1, min(run.workers, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        loops = [
            pool.submit(
                _search_loop,
                run,
                search,
                random.Random(len(sessions) + k),
                deadline,
                total + cap,
                stop_at_cap,
            )
            for k in range(threads)
        ]
        for loop in loops:
            loop.result()
    return dict(search.placement)


def _search_loop(
    run: Run,
    search: _Search,
    rng: random.Random,
    deadline: float,
    enough: int,
    stop_at_cap: bool,
) -> None:
    """Cut a piece, solve it, keep it if better; until the deadline or nothing is left to gain."""
    while time.monotonic() < deadline - 0.05:
        with search.lock:
            at_cap = run.staffed(search.placement) >= enough
            if at_cap and (stop_at_cap or search.quiet >= run.tuning.quiet_limit):
                return
            if stop_at_cap and search.stale >= run.tuning.stale_limit:
                return
            # Pieces grow while nothing improves, and shrink back after a success.
            scale = min(run.tuning.widest, 1 + search.quiet // run.tuning.widen_after)
            target = _pick_target(search, rng, reach_cap=at_cap)
            piece = _cut_piece(run, search, *target, rng, scale) if target else None
            aim = target[0] if target and target[0] not in search.placement else None
            if piece is None:
                if not search.reserved_sessions:
                    return
                wait = True
            else:
                wait = False
                search.reserved_providers |= piece.providers
                search.reserved_sessions |= piece.sessions
        if wait:
            time.sleep(0.005)
            continue
        assert piece is not None
        after = _solve_piece(run, piece, deadline)
        with search.lock:
            improved = (
                after is not None
                and run.better(after, piece.before, outside_loads(piece.scope))
                and _keeps_groups(search, piece, after)
            )
            staffed_more = improved and run.staffed(after or {}) > run.staffed(piece.before)
            search.stale = 0 if staffed_more else search.stale + 1
            if improved:
                assert after is not None
                for s_idx in piece.sessions:
                    search.place(s_idx, after.get(s_idx))
            search.reserved_providers -= piece.providers
            search.reserved_sessions -= piece.sessions
            search.quiet = 0 if improved else search.quiet + 1
            if aim is not None and not improved:
                search.failures[aim] += 1
            run.stats["pieces"] += 1
            run.stats["pieces_improved"] += int(improved)


def _keeps_groups(search: _Search, piece: _Piece, after: Mapping[int, tuple[int, int]]) -> bool:
    """Whether the plan with the piece's result keeps every group session's coupling.

    The piece's model keeps it against the siblings it was told of; this
    check guards against a sibling moved by another piece in the meantime.
    """
    groups, ladders = search.run.prepared.groups, search.run.prepared.ladders
    if not any(s in groups or s in ladders for s in piece.sessions):
        return True
    merged = {s: w for s, w in search.placement.items() if s not in piece.sessions}
    merged.update({s: w for s, w in after.items() if s in piece.sessions})
    return groups_kept(search.run.problem, groups, merged, piece.sessions) and ladders_kept(
        ladders, merged, piece.sessions
    )


def _new_search(run: Run, sessions: Sequence[int], start: Mapping[int, tuple[int, int]]) -> _Search:
    days: dict[int, list[int]] = {}
    providers_on: dict[tuple[int, int], list[int]] = defaultdict(list)
    for s_idx in sessions:
        seen: set[int] = set()
        for option in run.prepared.options[s_idx]:
            for day in option.days:
                providers_on[(s_idx, day)].append(option.provider)
                seen.add(day)
        days[s_idx] = sorted(seen)
    search = _Search(run, {}, days, dict(providers_on))
    for s_idx in sessions:
        search.place(s_idx, None)
        if s_idx in start:
            search.place(s_idx, start[s_idx])
    return search


def _pick_target(search: _Search, rng: random.Random, *, reach_cap: bool) -> tuple[int, int] | None:
    """An unstaffed session and a day to try it on; at the cap, or now and then, a staffed one."""
    problem = search.run.problem
    waiting = [
        (s, d)
        for d, group in search.waiting.items()
        for s in group
        if s not in search.reserved_sessions
    ]
    if waiting and not reach_cap and rng.random() < search.run.tuning.unstaffed_first:
        # The most urgent first, but one that keeps failing gives way to the others.
        weights = [
            max(problem.sessions[s].priority, 0.1) / (1 + search.failures[s]) for s, _ in waiting
        ]
        return rng.choices(waiting, weights)[0]
    for _ in range(20):
        if not search.placement:
            break
        s_idx = rng.choice(list(search.placement))
        if search.free_to_plan(s_idx):
            return s_idx, search.run.prepared.timeline.day(search.placement[s_idx][1])
    return rng.choice(waiting) if waiting else None


def _piece_providers(
    search: _Search, target: int, day: int, rng: random.Random, most: int
) -> set[int]:
    """Up to `most` free providers around a session: who may take it, then who may take theirs."""
    chosen: dict[int, None] = {}
    if target in search.placement:
        chosen[search.placement[target][0]] = None
    lo, hi = _time_span(search, target, day)
    sessions = [target]
    while sessions and len(chosen) < most:
        following: list[int] = []
        for s_idx in sessions:
            options = list(dict.fromkeys(search.providers_on[(s_idx, day)]))
            rng.shuffle(options)
            for p_idx in options:
                if p_idx in chosen or p_idx in search.reserved_providers:
                    continue
                chosen[p_idx] = None
                following.extend(search.booked[(p_idx, day)])
                if len(chosen) >= most:
                    break
            if len(chosen) >= most:
                break
        # Whoever holds the target's time must move first: follow those sessions first.
        following.sort(key=lambda s: not _overlaps(_time_span(search, s, day), lo, hi))
        sessions = following
    return set(chosen)


def _overlaps(span: tuple[int, int], lo: int, hi: int) -> bool:
    return span[0] < hi and span[1] > lo


def _time_span(search: _Search, s_idx: int, day: int) -> tuple[int, int]:
    """When a session may run on a day: where it is placed, else its widest start range."""
    duration = search.run.problem.sessions[s_idx].duration_minutes
    where = search.placement.get(s_idx)
    if where is not None:
        return where[1], where[1] + duration
    ranges = [r for o in search.run.prepared.options[s_idx] for r in o.ranges if r.day == day]
    return min(r.lo for r in ranges), max(r.hi for r in ranges) + duration


def _cut_piece(
    run: Run,
    search: _Search,
    target: int,
    day: int,
    rng: random.Random,
    scale: int = 1,
) -> _Piece | None:
    """The piece around `target` on `day`, or None when it has no free provider.

    The piece's providers are found breadth first: those who may take the
    target, then those who may take what the first ones hold that day, so a
    session pushed out has somewhere to go. `scale` widens the piece.
    """
    providers = _piece_providers(search, target, day, rng, run.tuning.piece_providers * scale)
    if not providers:
        return None
    free: set[int] = {target}
    for p_idx in providers:
        free |= search.booked[(p_idx, day)]
    extra = [
        s
        for s in search.waiting.get(day, ())
        if s not in free
        and s not in search.reserved_sessions
        and any(p in providers for p in search.providers_on[(s, day)])
    ]
    rng.shuffle(extra)
    free.update(extra[: max(0, run.tuning.piece_sessions * scale - len(free))])
    siblings = _with_group_places(search, free, providers, day)
    return piece_of_day(run, search, providers, free, day, siblings)


def piece_of_day(
    run: Run,
    search: _Search,
    providers: Collection[int],
    free: Collection[int],
    day: int,
    siblings: Mapping[int, tuple[int, int] | None] | None = None,
) -> _Piece:
    """The piece that re-plans `free` on `day` among `providers`, their other days kept.

    What the providers hold on other days stays where it is and counts as
    busy time and used weekly minutes; `siblings` says where the group places
    outside the piece are. Both searches (`_cut_piece`, the route pieces of
    `routing_search`) cut their pieces through here.
    """
    others = {
        s: search.placement[s]
        for p_idx in providers
        for (d, held) in _days_held(search, p_idx)
        if d != day
        for s in held
    }
    busy, week_used = _committed_work(run, others)
    scope = make_scope(
        run.prepared,
        free,
        day_of={s: day for s in free},
        busy=busy,
        week_used=week_used,
        providers=providers,
        siblings=siblings,
    )
    before = {s: search.placement[s] for s in free if s in search.placement}
    return _Piece(frozenset(providers), frozenset(free), scope, before)


def _with_group_places(
    search: _Search, free: set[int], providers: set[int], day: int
) -> dict[int, tuple[int, int] | None]:
    """Bring a piece's group places' siblings in where they are free, and say where the rest are.

    A sibling joins the piece (with, if it is held, its provider) when
    neither is reserved by another piece, so a group can be staffed or moved
    as a whole; the others stay where they are and the model keeps to them.
    """
    prepared = search.run.prepared
    if not prepared.groups and not prepared.ladders:
        return {}
    # A group's place with a ladder is in both: its siblings are every place and step.
    groups = {
        s: tuple(dict.fromkeys((*prepared.groups.get(s, ()), *prepared.ladders.get(s, ()))))
        for s in {*prepared.groups, *prepared.ladders}
    }
    for s_idx in list(free):
        for sib in groups.get(s_idx, ()):
            if sib in free or sib in search.reserved_sessions or sib not in search.days:
                continue
            where = search.placement.get(sib)
            if where is None:
                if day in search.days[sib]:
                    free.add(sib)
                    for p_idx in search.providers_on[(sib, day)][:2]:
                        if _free_to_join(search, p_idx, day):
                            # With the day's work, or the model would think that day empty.
                            providers.add(p_idx)
                            free |= search.booked[(p_idx, day)]
            elif where[0] in providers or (
                _free_to_join(search, where[0], day)
                and search.run.prepared.timeline.day(where[1]) == day
            ):
                providers.add(where[0])
                free |= search.booked[(where[0], day)]
    return {
        sib: search.placement.get(sib)
        for s_idx in free
        for sib in groups.get(s_idx, ())
        if sib not in free
    }


def _free_to_join(search: _Search, p_idx: int, day: int) -> bool:
    """Whether a provider and what they hold on `day` are in no other piece."""
    return p_idx not in search.reserved_providers and not (
        search.booked[(p_idx, day)] & search.reserved_sessions
    )


def _days_held(search: _Search, p_idx: int) -> Iterator[tuple[int, set[int]]]:
    for day in range(len(search.run.prepared.timeline.day_starts) - 1):
        held = search.booked.get((p_idx, day))
        if held:
            yield day, held


def _solve_piece(
    run: Run, piece: _Piece, deadline: float, seconds: float | None = None
) -> dict[int, tuple[int, int]] | None:
    """The piece re-planned on both levels at once, or None if the solver found nothing.

    It gets `seconds` (by default `Tuning.piece_seconds`), never past `deadline`.
    """
    mm = build_model(run.prepared, piece.scope, previous=run.previous)
    limit = run.tuning.piece_seconds if seconds is None else seconds
    return solve_lexicographic(
        mm,
        time_limit=min(limit, max(0.05, deadline - time.monotonic())),
        workers=1,
        hint=piece.before,
        disruption_weight=run.disruption_weight,
    )


def _committed_work(
    run: Run, placement: Mapping[int, tuple[int, int]]
) -> tuple[dict[int, list[tuple[int, int]]], dict[tuple[int, tuple[int, int]], int]]:
    """Busy intervals and used weekly minutes (sessions and travel) of placed sessions."""
    problem, timeline, travel = run.problem, run.prepared.timeline, run.prepared.travel
    busy: dict[int, list[tuple[int, int]]] = defaultdict(list)
    days: dict[tuple[int, int], list[Visit]] = defaultdict(list)
    for s_idx, (p_idx, start) in placement.items():
        session = problem.sessions[s_idx]
        end = start + session.duration_minutes
        busy[p_idx].append((start, end))
        place = session.location if session.is_onsite else None
        days[(p_idx, timeline.day(start))].append(Visit(start, end, place, session.id))
    week_used: dict[tuple[int, tuple[int, int]], int] = defaultdict(int)
    for (p_idx, day), visits in days.items():
        visits.sort(key=lambda v: v.start)
        minutes = sum(v.end - v.start for v in visits)
        minutes += route_minutes(travel, problem.providers[p_idx].home, visits)
        week_used[(p_idx, timeline.week(day))] += minutes
    return dict(busy), dict(week_used)
