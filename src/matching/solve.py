"""Solve a whole problem: independent parts, a shared clock, two levels, a safety net.

1. Eligibility prunes every pair the static rules refuse; pinned pairs are
   checked together first (`InfeasibleFixedError` names a clashing set).
2. The greedy plan is built at once: it seeds the search, and it is the
   fallback of every part the solver does not improve in time.
3. The problem splits into parts that share no provider (`decompose`). The
   largest part goes first; each gets a share of the remaining time in
   proportion to its size (later parts keep a minimum), so time a part does
   not use carries forward. Tiny parts are bundled into one model.
4. For each group, a 0-1 relaxation caps medium. Large groups (L, XL) are
   capped tighter by the exact model of their scarce sessions (those few
   providers may take), then improved by a large-neighbourhood search: one
   day of a few providers is re-planned exactly at a time while the rest of
   the plan stays put. Groups small enough to prove go to the full model at
   once: phase 1 maximises medium up to the cap, phase 2 maximises soft with
   medium kept. The bigger of these are searched first for a while: when
   the search brings medium up to the cap, phase 1 is skipped. Phase 1
   ignores travel, so when it was slow the search cuts the travel of its
   plan before phase 2 starts from it.
5. Each group keeps the better of the solver's plan and the fallback; every
   session appears once; the plan is validated before it leaves, and a plan
   that breaks a hard rule raises instead of being returned.

`disruption_weight` (re-planning): every session that the `hint` plan gave to
a provider and that now goes to another provider, or to none, costs that many
points on the soft level of the objective. It steers the solver only: the
score reported is PROBLEM.md's, without it.

`stats.bound` is a lexicographic bound: no valid plan scores better than
(bound.medium, bound.soft). Medium is summed over the groups from proven
bounds (the relaxation, the scarce sessions' model, or phase 1); each group's
soft bound holds for all its plans with a medium at least as good as the one
found, or is the optimistic 60 per session that has a preferred provider.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from matching.decompose import Part, bundle, decompose, scarce_sessions
from matching.greedy import solve_greedy
from matching.model import (
    InfeasibleFixedError,
    Placement,
    Prepared,
    Progress,
    Scope,
    add_plan_hint,
    build_bound_model,
    build_model,
    check_pins,
    make_scope,
    prepare,
    solve_bound,
    solve_lexicographic,
    solve_scope,
)
from matching.problem import (
    PREFERRED_BONUS,
    Assignment,
    Bound,
    FixedAssignment,
    Plan,
    Problem,
    Score,
    Stats,
    Unassigned,
)
from matching.routes import Visit, route_minutes
from matching.validate import Validation, check, validate

BUNDLE_UP_TO = 600
"""Parts smaller than this many start ranges are bundled into models of about this size."""
FULL_MODEL_UP_TO = 6_000
"""Groups up to this many start ranges are also solved as one model, to prove both levels."""
BOUND_SHARE = 0.15
"""Share of a group's time the medium relaxation may use (it usually needs far less)."""
SCARCE_UP_TO = 5_000
SCARCE_SHARE = 0.1
"""Start ranges and share of a large group's time for the exact model of its scarce sessions."""
PIECE_PROVIDERS = 8
PIECE_SESSIONS = 40
PIECE_SECONDS = 2.0
"""Size and time limit of one neighbourhood: providers, sessions, seconds."""
SEARCH_FIRST_FROM = 1_000
SEARCH_FIRST_SHARE = 0.2
"""Groups of at least this many start ranges are searched for at most this share of their
time before the full model (until medium reaches the cap)."""
QUIET_LIMIT = 400
"""At the medium cap, the search stops after this many pieces in a row without a gain."""
WIDEN_AFTER = 60
"""Pieces widen by one step after this many pieces in a row without a gain."""
STALE_LIMIT = 100
"""A search that is to reach the cap gives up after this many pieces in a row without
a gain in medium."""


class BrokenPlanError(RuntimeError):
    """The matcher built a plan that breaks a hard rule: a bug, never returned to a caller."""

    def __init__(self, validation: Validation) -> None:
        self.validation = validation
        first = "; ".join(
            f"rule {v.rule} {v.session or ''} {v.provider or ''}: {v.message}"
            for v in validation.violations[:3]
        )
        super().__init__(f"the plan breaks {len(validation.violations)} hard rule(s): {first}")


@dataclass
class _Outcome:
    """What one group of parts ended with."""

    placement: dict[int, tuple[int, int]]
    medium_bound: int
    soft_bound: int
    proven: bool
    source: str
    """`solver`, `search`, `fallback` (greedy or hint plan) or `none`."""


@dataclass
class _Run:
    """Everything one call of `solve` shares between its parts."""

    problem: Problem
    prepared: Prepared
    deadline: float
    workers: int
    disruption_weight: int
    progress: Progress | None
    hint: dict[int, tuple[int, int]]
    previous: dict[int, int]
    fallback: dict[int, tuple[int, int]]
    fallback_reasons: dict[int, Unassigned]
    pins: dict[int, tuple[int, int]]
    stats: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def solve(
    problem: Problem,
    *,
    time_limit: float = 30.0,
    workers: int | None = None,
    hint: Plan | None = None,
    disruption_weight: int = 0,
    progress: Progress | None = None,
) -> Plan:
    """The best plan found within `time_limit` seconds, validated, with an honest bound."""
    began = time.monotonic()
    # Assembling and validating the plan at the end must fit in the limit too.
    reserve = min(0.5 + 0.03 * time_limit, 0.25 * time_limit)
    prepared = prepare(problem)
    pins = check_pins(prepared, time_limit=max(1.0, 0.1 * time_limit))
    greedy = solve_greedy(
        problem,
        eligibility=prepared.eligibility,
        timeline=prepared.timeline,
        travel=prepared.travel,
    )
    run = _Run(
        problem=problem,
        prepared=prepared,
        deadline=began + time_limit - reserve,
        workers=workers or os.cpu_count() or 1,
        disruption_weight=disruption_weight,
        progress=progress,
        hint={},
        previous={},
        fallback={},
        fallback_reasons={},
        pins=pins,
    )
    _set_fallback_and_hint(run, greedy, hint)

    groups = bundle(decompose(prepared.options), up_to=BUNDLE_UP_TO)
    sizes = [sum(p.size for p in group) for group in groups]
    outcomes: list[tuple[list[Part], _Outcome]] = []
    for k, group in enumerate(groups):
        later = sizes[k + 1 :]
        # Every later group keeps its minimum; the rest is shared by size.
        spare = run.deadline - time.monotonic() - sum(_minimum_time(n) for n in later)
        budget = max(_minimum_time(sizes[k]), spare * sizes[k] / (sizes[k] + sum(later)))
        budget = min(budget, run.deadline - time.monotonic())
        outcomes.append((group, _solve_group(run, group, budget)))

    plan = _assemble(run, outcomes, time.monotonic() - began)
    return _checked(problem, plan)


def _minimum_time(size: int) -> float:
    """Seconds a model of `size` start ranges needs to be built and proven when it is easy."""
    return 0.5 + size / 1000


def _set_fallback_and_hint(run: _Run, greedy: Plan, hint: Plan | None) -> None:
    """The greedy plan is the fallback; a caller's hint steers the solver (else the greedy)."""
    sessions = {s.id: i for i, s in enumerate(run.problem.sessions)}
    if greedy.score.hard == 0:
        run.fallback = _placement_of(run, greedy.assignments)
        run.fallback_reasons = {
            sessions[u.session]: u for u in greedy.unassigned if u.session in sessions
        }
    run.hint = dict(run.fallback)
    if hint is None:
        return
    run.hint = _placement_of(run, hint.assignments)
    run.previous = {s: p for s, (p, _) in run.hint.items()}
    # The previous plan may miss sessions added since; it only has to keep the rules.
    named = {a.session for a in hint.assignments}
    rest = [Unassigned(s.id, "not_solved", "") for s in run.problem.sessions if s.id not in named]
    if check(run.problem, hint.assignments, rest).ok and _better(run, run.hint, run.fallback):
        run.fallback = dict(run.hint)
        run.fallback_reasons = {}


def _placement_of(run: _Run, assignments: Sequence[Assignment]) -> dict[int, tuple[int, int]]:
    sessions = {s.id: i for i, s in enumerate(run.problem.sessions)}
    providers = {p.id: i for i, p in enumerate(run.problem.providers)}
    placement: dict[int, tuple[int, int]] = {}
    for a in assignments:
        if a.session in sessions and a.provider in providers and a.start.tzinfo is not None:
            placement[sessions[a.session]] = (
                providers[a.provider],
                run.prepared.timeline.minute(a.start),
            )
    return placement


def _solve_group(run: _Run, group: Sequence[Part], budget: float) -> _Outcome:
    """Bound, improve and (when small enough) prove a bundle of parts; keep the better plan.

    The 0-1 relaxation caps medium first. Large groups are then improved by
    neighbourhood search from the fallback plan for all their time. Groups of
    a provable size go to the full model, with the cap as a bound; the bigger
    of them first get a share of their time of the same search, whose plan is
    the model's hint and, when it reaches the cap, spares it phase 1.
    """
    began = time.monotonic()
    sessions = [s for part in group for s in part.sessions]
    size = sum(p.size for p in group)
    fallback = _fallback_outcome(run, sessions)
    if budget < 0.05:
        run.stats["parts_not_solved"] += len(group)
        return fallback
    cap, _ = solve_bound(
        build_bound_model(run.prepared, make_scope(run.prepared, sessions)),
        time_limit=BOUND_SHARE * budget,
        workers=run.workers,
    )
    start = dict(fallback.placement)
    if size > FULL_MODEL_UP_TO:
        cap = min(cap, _scarce_bound(run, sessions, SCARCE_SHARE * budget))
        left = budget - (time.monotonic() - began)
        placement = _improve(run, sessions, start, left, cap)
        run.stats["parts_searched"] += len(group)
        return _Outcome(placement, cap, fallback.soft_bound, False, "search")
    fallback.medium_bound = cap
    if size >= SEARCH_FIRST_FROM and start:
        # The search often reaches the cap in a second where phase 1 takes ten,
        # and with a plan that drives little: phase 1 then has nothing to do.
        seconds = SEARCH_FIRST_SHARE * (budget - (time.monotonic() - began))
        start = _improve(run, sessions, start, seconds, cap, stop_at_cap=True)
        run.stats["searched_first"] += len(group)
    # Building the model and CP-SAT's own wind-down come on top of its time limit.
    margin = 0.3 + size / 5_000
    left = budget - (time.monotonic() - began) - margin
    outcome = _solve_whole(run, sessions, left, start, cap)
    if outcome.source == "none" or _better(run, start, outcome.placement):
        # The solver did not beat its own hint in time: keep the searched plan.
        return _Outcome(start, outcome.medium_bound, outcome.soft_bound, False, "search")
    return outcome


def _scarce_bound(run: _Run, sessions: Sequence[int], budget: float) -> int:
    """A medium bound from the group's scarce sessions alone, each bundle solved exactly.

    Where a direct drive is never longer than a detour, taking sessions out of
    a valid plan leaves a valid plan. So no plan of the group staffs more of
    its scarce sessions than their own model can, and what that model proves
    lost is lost for the group too. It is small enough to prove, and unlike
    the relaxation it knows the drives; the sessions with many options that
    it leaves out rarely cost anything.
    """
    if not run.prepared.travel_is_metric or budget < 0.5:
        return 0
    options = run.prepared.options
    chosen = scarce_sessions(options, sessions, up_to=SCARCE_UP_TO)
    groups = bundle(decompose({s: options[s] for s in chosen}), up_to=BUNDLE_UP_TO)
    run.stats["scarce_sessions"] += len(chosen)
    deadline = time.monotonic() + budget
    left_size = sum(p.size for group in groups for p in group)
    bound = 0
    for group in groups:
        size = sum(p.size for p in group)
        seconds = (deadline - time.monotonic()) * size / max(left_size, 1)
        left_size -= size
        if seconds < 0.05:
            break  # the rest counts as staffed: still a bound
        mm = build_model(
            run.prepared, make_scope(run.prepared, [s for p in group for s in p.sessions])
        )
        add_plan_hint(mm, {s: run.fallback[s] for s in mm.scope.sessions if s in run.fallback})
        lost, _ = solve_bound(mm, time_limit=seconds, workers=run.workers)
        bound += lost
    return bound


def _solve_whole(
    run: _Run,
    sessions: Sequence[int],
    budget: float,
    hint: Mapping[int, tuple[int, int]],
    cap: int,
) -> _Outcome:
    """One model for the group: phase 1 for medium under the cap, phase 2 for soft."""
    scope = make_scope(run.prepared, sessions)
    mm = build_model(run.prepared, scope, previous=run.previous)

    def polish(placement: Placement, seconds: float) -> tuple[Placement, int]:
        run.stats["polished"] += 1
        better = _improve(run, sessions, placement, seconds, cap)
        return better, _score_of(run, better)[1]

    total = _staffed(run, sessions)
    staffed, soft = _score_of(run, hint)
    result = solve_scope(
        mm,
        time_limit=budget,
        workers=run.workers,
        hint=hint or {s: run.hint[s] for s in sessions if s in run.hint},
        # `hint` is the fallback plan or the search's: valid, so its score is known.
        hint_score=(staffed - total, soft) if hint else None,
        disruption_weight=run.disruption_weight,
        medium_cap=cap,
        progress=run.progress,
        polish=polish,
    )
    run.stats["models"] += 1
    if not result.found:
        run.stats["parts_not_solved"] += 1
        return _Outcome({}, result.medium_bound, result.soft_bound, False, "none")
    return _Outcome(
        dict(result.placement),
        result.medium_bound,
        result.soft_bound,
        result.medium_proven and result.soft_proven,
        "solver",
    )


@dataclass
class _Search:
    """The plan a neighbourhood search improves, indexed by provider and day.

    Pieces being re-planned reserve their providers and sessions, so pieces
    solved at the same time never touch the same part of the plan.
    """

    run: _Run
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


def _improve(
    run: _Run,
    sessions: Sequence[int],
    start: Mapping[int, tuple[int, int]],
    budget: float,
    cap: int,
    *,
    stop_at_cap: bool = False,
) -> dict[int, tuple[int, int]]:
    """Large-neighbourhood search: re-solve small pieces of the plan exactly, keep what is better.

    A piece is one day of a few providers: every session they hold that day,
    plus the unstaffed sessions they could take, re-planned from scratch with
    both levels at once while the rest of the plan stays as it is. Unstaffed
    sessions are tried first, most urgent first; then pieces around staffed
    sessions, to save travel. One search thread per worker: CP-SAT lets go
    of the interpreter while it solves, so pieces are solved side by side.
    The search stops early once medium reaches the cap and no piece has
    improved for a while. With `stop_at_cap` it stops as soon as medium
    reaches the cap or has not risen for STALE_LIMIT pieces in a row.
    """
    deadline = time.monotonic() + budget
    search = _new_search(run, sessions, start)
    total = _staffed(run, sessions)
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
    run: _Run,
    search: _Search,
    rng: random.Random,
    deadline: float,
    enough: int,
    stop_at_cap: bool,
) -> None:
    """Cut a piece, solve it, keep it if better; until the deadline or nothing is left to gain."""
    while time.monotonic() < deadline - 0.05:
        with search.lock:
            at_cap = _staffed(run, search.placement) >= enough
            if at_cap and (stop_at_cap or search.quiet >= QUIET_LIMIT):
                return
            if stop_at_cap and search.stale >= STALE_LIMIT:
                return
            # Pieces grow while nothing improves, and shrink back after a success.
            scale = 1 + min(3, search.quiet // WIDEN_AFTER)
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
            improved = after is not None and _better(run, after, piece.before)
            staffed_more = improved and _staffed(run, after or {}) > _staffed(run, piece.before)
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


def _new_search(
    run: _Run, sessions: Sequence[int], start: Mapping[int, tuple[int, int]]
) -> _Search:
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
    if waiting and not reach_cap and rng.random() < 0.7:
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
    run: _Run,
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
    providers = _piece_providers(search, target, day, rng, PIECE_PROVIDERS * scale)
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
    free.update(extra[: max(0, PIECE_SESSIONS * scale - len(free))])

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
    )
    before = {s: search.placement[s] for s in free if s in search.placement}
    return _Piece(frozenset(providers), frozenset(free), scope, before)


def _days_held(search: _Search, p_idx: int) -> Iterator[tuple[int, set[int]]]:
    for day in range(len(search.run.prepared.timeline.day_starts) - 1):
        held = search.booked.get((p_idx, day))
        if held:
            yield day, held


def _solve_piece(run: _Run, piece: _Piece, deadline: float) -> dict[int, tuple[int, int]] | None:
    """The piece re-planned on both levels at once, or None if the solver found nothing."""
    mm = build_model(run.prepared, piece.scope, previous=run.previous)
    after, _ = solve_lexicographic(
        mm,
        time_limit=min(PIECE_SECONDS, max(0.05, deadline - time.monotonic())),
        workers=1,
        hint=piece.before,
        disruption_weight=run.disruption_weight,
    )
    return after


def _committed_work(
    run: _Run, placement: Mapping[int, tuple[int, int]]
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


def _fallback_outcome(run: _Run, sessions: Sequence[int]) -> _Outcome:
    """The fallback plan restricted to these sessions, with the optimistic bounds."""
    wanted = set(sessions)
    placement = {s: v for s, v in run.fallback.items() if s in wanted}
    source = "fallback" if run.fallback else "none"
    if source == "none":
        placement = {s: v for s, v in run.pins.items() if s in wanted}
    return _Outcome(placement, 0, _optimistic_soft(run, sessions), False, source)


def _optimistic_soft(run: _Run, sessions: Sequence[int]) -> int:
    """No travel at all and every session with a preferred provider given to one."""
    problem = run.problem
    return PREFERRED_BONUS * sum(
        1
        for s in sessions
        if any(
            problem.providers[o.provider].id in problem.sessions[s].preferred_providers
            for o in run.prepared.options.get(s, ())
        )
    )


def _better(run: _Run, a: Mapping[int, tuple[int, int]], b: Mapping[int, tuple[int, int]]) -> bool:
    """Whether placement `a` beats `b` on the same sessions: medium, then soft less disruption."""
    if run.disruption_weight:
        moved_a = _disruption(run, a, b)
        moved_b = _disruption(run, b, a)
        staffed_a, soft_a = _score_of(run, a)
        staffed_b, soft_b = _score_of(run, b)
        w = run.disruption_weight
        return (staffed_a, soft_a - w * moved_a) > (staffed_b, soft_b - w * moved_b)
    return _score_of(run, a) > _score_of(run, b)


def _disruption(
    run: _Run, placement: Mapping[int, tuple[int, int]], other: Mapping[int, tuple[int, int]]
) -> int:
    """Sessions (of either placement) that the previous plan gave to another provider."""
    return sum(
        1
        for s in set(placement) | set(other)
        if s in run.previous and placement.get(s, (None, 0))[0] != run.previous[s]
    )


def _staffed(run: _Run, sessions: Iterable[int]) -> int:
    """The priority summed over these sessions (a placement's keys: the ones it staffs)."""
    return sum(run.problem.sessions[s].priority for s in sessions)


def _score_of(run: _Run, placement: Mapping[int, tuple[int, int]]) -> tuple[int, int]:
    """Medium (priority staffed) and soft of a placement, by PROBLEM.md's rules."""
    problem = run.problem
    staffed = _staffed(run, placement)
    travel = 0
    days: dict[tuple[int, int], list[Visit]] = defaultdict(list)
    bonus = 0
    for s_idx, (p_idx, start) in placement.items():
        session = problem.sessions[s_idx]
        place = session.location if session.is_onsite else None
        day = run.prepared.timeline.day(start)
        days[(p_idx, day)].append(Visit(start, start + session.duration_minutes, place, session.id))
        if problem.providers[p_idx].id in session.preferred_providers:
            bonus += PREFERRED_BONUS
    for (p_idx, _day), visits in days.items():
        visits.sort(key=lambda v: v.start)
        travel += route_minutes(run.prepared.travel, problem.providers[p_idx].home, visits)
    return staffed, bonus - travel


def _assemble(run: _Run, outcomes: Sequence[tuple[list[Part], _Outcome]], seconds: float) -> Plan:
    """Every session once: assigned, or unassigned with the reason a dispatcher can act on."""
    problem, prepared = run.problem, run.prepared
    placement: dict[int, tuple[int, int]] = {}
    unassigned: dict[int, Unassigned] = {}
    medium_bound = -sum(problem.sessions[s].priority for s in prepared.eligibility.unplaceable)
    soft_bound = 0
    proven = True
    for group, outcome in outcomes:
        placement.update(outcome.placement)
        medium_bound += outcome.medium_bound
        soft_bound += outcome.soft_bound
        proven = proven and outcome.proven
        for part in group:
            for s in part.sessions:
                if s not in outcome.placement:
                    unassigned[s] = _reason(run, s, outcome.source)
    for s_idx, why in prepared.eligibility.unplaceable.items():
        if s_idx not in placement:
            unassigned[s_idx] = Unassigned(problem.sessions[s_idx].id, why.reason, why.detail)
    assignments = tuple(
        Assignment(problem.sessions[s].id, problem.providers[p].id, prepared.timeline.instant(t))
        for s, (p, t) in sorted(placement.items())
    )
    staffed, soft = _score_of(run, placement)
    medium = staffed - sum(s.priority for s in problem.sessions)
    extra: dict[str, object] = {"method": "cp-sat", **run.stats}
    return Plan(
        assignments=assignments,
        unassigned=tuple(unassigned[s] for s in sorted(unassigned)),
        score=Score(0, medium, soft),
        stats=Stats(
            status="OPTIMAL" if proven else "FEASIBLE",
            solve_seconds=round(seconds, 3),
            bound=Bound(max(medium_bound, medium), max(soft_bound, soft)),
            extra=extra,
        ),
    )


def _reason(run: _Run, s_idx: int, source: str) -> Unassigned:
    """Why a placeable session stays unassigned, naming the providers who could have taken it."""
    session = run.problem.sessions[s_idx]
    if source == "none":
        return Unassigned(
            session.id, "not_solved", "the time limit ran out before its part was solved"
        )
    if source == "fallback" and s_idx in run.fallback_reasons:
        return run.fallback_reasons[s_idx]
    providers = [run.problem.providers[o.provider].id for o in run.prepared.options[s_idx]]
    named = ", ".join(providers[:3]) + (
        f" and {len(providers) - 3} more" if len(providers) > 3 else ""
    )
    return Unassigned(
        session.id,
        "capacity",
        f"{len(providers)} provider(s) fit and are available ({named}), but each is taken "
        "by other sessions at that time, lacks the time to drive there, is at a daily or "
        "weekly limit, or would have to drop a more urgent session",
    )


def _checked(problem: Problem, plan: Plan) -> Plan:
    """The plan with its validated score; a plan that breaks a hard rule raises instead."""
    validation = validate(problem, plan)
    if not validation.ok:
        pinned = {f.session: f for f in problem.fixed}
        if all(v.session in pinned for v in validation.violations):
            pairs: list[FixedAssignment] = []
            for v in validation.violations:
                if v.session is not None and pinned[v.session] not in pairs:
                    pairs.append(pinned[v.session])
            first = validation.violations[0]
            raise InfeasibleFixedError(pairs, f"rule {first.rule}: {first.message}")
        raise BrokenPlanError(validation)
    return Plan(
        assignments=plan.assignments,
        unassigned=plan.unassigned,
        score=validation.score,
        stats=plan.stats,
        explanations=plan.explanations,
    )
