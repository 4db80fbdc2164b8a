"""The CP-SAT model of one scope of a problem: the rules that couple sessions.

Eligibility has already applied the rules about one session and one provider
(2-8, and 11's window bounds become the start ranges). What is left couples
sessions: one provider per session and the pinned pairs (rule 1), sessions and
drives that never overlap and the day's route from home and back (rule 9), the
daily and weekly minutes (rule 10). A scope is a group of independent parts
of a problem, or one piece of the neighbourhood search (one day of a few
providers, with the rest of their work committed around it).

`build_model` reads as the table of contents: one `add_*` function per rule.
The file follows the fixed order of the OR-Tools samples: data, model
(variables), constraints, objective, hints. Solving it is `phases`' work.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from matching.eligibility import Eligibility, Option, check_pair, compute_eligibility
from matching.places import by_place, group_members, ladder_members
from matching.problem import (
    LADDER_STEP_COST,
    PREFERRED_BONUS,
    FixedAssignment,
    HaversineTravel,
    Problem,
)
from matching.timeline import Timeline
from matching.travel import Travel
from matching.why import Why

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


class InfeasibleFixedError(ValueError):
    """Pinned assignments that cannot all be kept together (rules 1, 9 or 10)."""

    def __init__(
        self, pairs: Sequence[FixedAssignment], why: str, because: Why | None = None
    ) -> None:
        self.pairs = tuple(pairs)
        self.because = because
        named = ", ".join(f"{p.session} -> {p.provider}" for p in self.pairs)
        super().__init__(f"these pinned assignments cannot all be kept ({why}): {named}")

    @property
    def why(self) -> Why:
        """The pairs that cannot all be kept, and the rule one of them breaks when known."""
        pairs = ",".join(f"{p.session}>{p.provider}" for p in self.pairs)
        return Why("pins_dropped", {"pairs": pairs}, self.because)


@dataclass(frozen=True)
class Prepared:
    """A problem turned into integers once: minutes, travel, options, pinned pairs."""

    problem: Problem
    timeline: Timeline
    travel: Travel
    eligibility: Eligibility
    options: dict[int, tuple[Option, ...]]
    """Options by session index; a pinned session keeps only its pinned provider."""
    fixed: dict[int, int]
    """Pinned provider index by session index."""
    travel_is_metric: bool = False
    """Whether a direct drive is never longer than a detour (haversine with an overhead)."""
    groups: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    """Per place of a group session, every place of its group (`places.group_members`)."""
    ladders: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    """Per step of a modality ladder, every step of its ladder (`places.ladder_members`)."""


@dataclass(frozen=True)
class Node:
    """One way to staff a session: a provider and a start range inside one local day."""

    index: int
    session: int
    provider: int
    day: int
    lo: int
    hi: int
    duration: int
    onsite: bool
    home_out: int
    home_back: int
    preferred: bool


@dataclass(frozen=True)
class Scope:
    """What one model decides, and the work committed around it.

    `busy` holds per provider the intervals (sessions and drives) already
    committed outside the scope; `week_used` the minutes they already use per
    provider and ISO week.
    """

    sessions: tuple[int, ...]
    nodes: tuple[Node, ...]
    busy: Mapping[int, Sequence[tuple[int, int]]] = field(default_factory=dict)
    week_used: Mapping[tuple[int, tuple[int, int]], int] = field(default_factory=dict)
    siblings: Mapping[int, tuple[int, int] | None] = field(default_factory=dict)
    """Places outside the scope whose group has places inside it: where they are held, or None.

    A place neither in the scope nor here is unknown, and the model couples
    nothing to it (a relaxation, as the bound models want).
    """


def prepare(problem: Problem) -> Prepared:
    """Minutes, travel and options of a whole problem; pinned pairs are kept even if ineligible."""
    timeline = Timeline.for_problem(problem)
    travel = Travel(problem.travel)
    eligibility = compute_eligibility(problem, timeline, travel)
    session_index = {s.id: i for i, s in enumerate(problem.sessions)}
    provider_index = {p.id: i for i, p in enumerate(problem.providers)}
    fixed: dict[int, int] = {}
    for pair in problem.fixed:
        if pair.session not in session_index or pair.provider not in provider_index:
            raise ValueError(f"pinned pair {pair.session} -> {pair.provider} names an unknown id")
        s_idx, p_idx = session_index[pair.session], provider_index[pair.provider]
        if fixed.get(s_idx, p_idx) != p_idx:
            others = [f for f in problem.fixed if f.session == pair.session]
            raise InfeasibleFixedError(others, "one session pinned to two providers")
        fixed[s_idx] = p_idx
    options = dict(eligibility.options)
    for s_idx, p_idx in fixed.items():
        options[s_idx] = (_pinned_option(problem, timeline, travel, eligibility, s_idx, p_idx),)
    metric = isinstance(problem.travel, HaversineTravel) and problem.travel.overhead_minutes >= 1
    return Prepared(
        problem,
        timeline,
        travel,
        eligibility,
        options,
        fixed,
        metric,
        group_members(problem),
        ladder_members(problem),
    )


def _pinned_option(
    problem: Problem,
    timeline: Timeline,
    travel: Travel,
    eligibility: Eligibility,
    s_idx: int,
    p_idx: int,
) -> Option:
    """The pinned provider's option; a pin that breaks a rule of its own (2-8, 10, 11) raises.

    Checked here, before any search, so that a caller who drops a broken pin
    and solves again does not wait for a whole time limit first.
    """
    for option in eligibility.options.get(s_idx, ()):
        if option.provider == p_idx:
            return option
    session, provider = problem.sessions[s_idx], problem.providers[p_idx]
    _, rejection = check_pair(session, provider, timeline, travel)
    why = (
        "it breaks a hard rule"
        if rejection is None
        else f"rule {rejection.rule}: {rejection.detail}"
    )
    raise InfeasibleFixedError(
        [FixedAssignment(session.id, provider.id)], why, rejection.why if rejection else None
    )


def make_scope(
    prepared: Prepared,
    sessions: Iterable[int],
    *,
    day_of: Mapping[int, int] | None = None,
    busy: Mapping[int, Sequence[tuple[int, int]]] | None = None,
    week_used: Mapping[tuple[int, tuple[int, int]], int] | None = None,
    providers: Collection[int] | None = None,
    siblings: Mapping[int, tuple[int, int] | None] | None = None,
) -> Scope:
    """The nodes of some sessions.

    `day_of` keeps only the start ranges of one day per session, `providers`
    only the options of those providers (a neighbourhood of a larger plan).
    """
    problem, travel = prepared.problem, prepared.travel
    chosen = tuple(sorted(sessions))
    nodes: list[Node] = []
    for s_idx in chosen:
        session = problem.sessions[s_idx]
        onsite = session.is_onsite and session.location is not None
        for option in prepared.options.get(s_idx, ()):
            if providers is not None and option.provider not in providers:
                continue
            provider = problem.providers[option.provider]
            back = travel.minutes(session.location, provider.home) if session.location else 0
            for r in option.ranges:
                if day_of is not None and r.day != day_of.get(s_idx, r.day):
                    continue
                nodes.append(
                    Node(
                        index=len(nodes),
                        session=s_idx,
                        provider=option.provider,
                        day=r.day,
                        lo=r.lo,
                        hi=r.hi,
                        duration=session.duration_minutes,
                        onsite=onsite,
                        home_out=option.home_minutes if onsite else 0,
                        home_back=back if onsite else 0,
                        preferred=provider.id in session.preferred_providers,
                    )
                )
    return Scope(chosen, tuple(nodes), busy or {}, week_used or {}, siblings or {})


# ---------------------------------------------------------------------------
# Model and variables
# ---------------------------------------------------------------------------


MAX_ENUMERATED_OBSTACLES = 8
"""Up to this many fixed sessions in a drive's way, blocking sets become clauses."""


@dataclass(frozen=True)
class Arc:
    """One leg of a provider's day: from a node (None = home) to a node (None = home)."""

    key: int
    tail: Node | None
    head: Node | None
    literal: cp_model.IntVar
    minutes: int


@dataclass(frozen=True)
class Obstacle:
    """Other work of the provider that may fall where a drive has to go."""

    lo: int
    hi: int
    """Earliest start and latest end."""
    node: int | None
    """The node, or None for committed work that is always there."""
    session: int | None
    fixed: bool


@dataclass
class Route:
    """A provider's onsite sessions of one day as a circuit through home."""

    provider: int
    day: int
    nodes: list[Node]
    stay_home: cp_model.IntVar
    earliest: int = 0
    """The drive out starts at or after this minute (the previous day's midnight)."""
    latest: int = 0
    """The drive home ends by this minute (the end of the next day)."""
    quiet_from: int = 0
    """No work of an earlier day can still be going on from this minute."""
    quiet_until: int = 0
    """No work of a later day can have begun before this minute."""
    arcs: list[Arc] = field(default_factory=list)
    incoming: dict[int, list[Arc]] = field(default_factory=lambda: defaultdict(list))
    """Per node: the legs that can arrive at it (from home or another node)."""
    back: dict[int, Arc] = field(default_factory=dict)
    """Per node: the leg home when it is the day's last onsite session."""
    obstacles: dict[int, list[Obstacle]] = field(default_factory=dict)
    """Per leg: other work that may fall inside the time the leg can use."""
    blocks: dict[int, tuple[cp_model.IntVar, cp_model.IntervalVar]] = field(default_factory=dict)
    """Per leg that needs one: the start and block of the drive in the provider's timeline."""

    def add_arc(
        self, tail: Node | None, head: Node | None, literal: cp_model.IntVar, minutes: int
    ) -> None:
        arc = Arc(len(self.arcs), tail, head, literal, minutes)
        self.arcs.append(arc)
        if head is not None:
            self.incoming[head.index].append(arc)
        elif tail is not None:
            self.back[tail.index] = arc

    def window(self, arc: Arc) -> tuple[int, int]:
        """The widest time the leg may use: after its tail can end, before its head can start."""
        begin = self.earliest if arc.tail is None else arc.tail.lo + arc.tail.duration
        end = self.latest if arc.head is None else arc.head.hi
        return begin, end

    def travel(self) -> cp_model.LinearExpr:
        legs = [a for a in self.arcs if a.minutes]
        return cp_model.LinearExpr.weighted_sum(
            [a.literal for a in legs], [a.minutes for a in legs]
        )

    def most_travel(self) -> int:
        """An upper bound on the day's travel minutes."""
        arriving = sum(max(a.minutes for a in self.incoming[n.index]) for n in self.nodes)
        return arriving + max(self.back[n.index].minutes for n in self.nodes)


@dataclass
class MatchModel:
    """A CP-SAT model of one scope and the handles needed to hint and read it."""

    prepared: Prepared
    scope: Scope
    model: cp_model.CpModel
    by_session: dict[int, list[Node]]
    presence: dict[int, cp_model.IntVar] = field(default_factory=dict)
    start: dict[int, cp_model.IntVar] = field(default_factory=dict)
    routes: dict[tuple[int, int], Route] = field(default_factory=dict)
    pinned: dict[int, cp_model.IntVar] = field(default_factory=dict)
    """Per pinned session, the literal that keeps it (an assumption when checking pins)."""
    work: dict[int, list[Obstacle]] = field(default_factory=dict)
    """Per provider, every node and committed interval as a possible obstacle, by start."""
    work_starts: dict[int, list[int]] = field(default_factory=dict)
    medium: cp_model.LinearExpr = field(default_factory=lambda: cp_model.LinearExpr.constant(0))
    soft: cp_model.LinearExpr = field(default_factory=lambda: cp_model.LinearExpr.constant(0))
    disruption: cp_model.LinearExpr = field(default_factory=lambda: cp_model.LinearExpr.constant(0))
    disruption_max: int = 0
    fairness: cp_model.LinearExpr = field(default_factory=lambda: cp_model.LinearExpr.constant(0))
    """The weighted fairness term (`add_fairness`), subtracted from soft in the objective."""
    fairness_max: int = 0
    soft_optimistic: int = 0
    idle_most: int = 0
    """An upper bound on the idle minutes the soft level subtracts (`add_idle_time`)."""


def _new_match_model(prepared: Prepared, scope: Scope) -> MatchModel:
    by_session: dict[int, list[Node]] = defaultdict(list)
    for node in scope.nodes:
        by_session[node.session].append(node)
    mm = MatchModel(prepared, scope, cp_model.CpModel(), by_session)
    mm.soft_optimistic = PREFERRED_BONUS * sum(
        1 for nodes in by_session.values() if any(n.preferred for n in nodes)
    )
    return mm


def build_model(
    prepared: Prepared,
    scope: Scope,
    *,
    previous: Mapping[int, int] | None = None,
    pins_as_assumptions: bool = False,
) -> MatchModel:
    """Variables, constraints and the two objective levels of one scope."""
    mm = _new_match_model(prepared, scope)

    add_session_variables(mm)
    add_route_variables(mm)
    for route in mm.routes.values():
        add_leg_blocks(mm, route)

    add_one_provider_per_session(mm)
    add_incompatible_sessions(mm)
    add_pinned_pairs(mm, as_assumptions=pins_as_assumptions)
    add_no_overlap_per_provider(mm)
    for route in mm.routes.values():
        add_day_circuit(mm, route)
        for arc in route.arcs:
            add_leg_order(mm, route, arc)
            add_leg_clear_of_other_work(mm, route, arc)
    add_daily_minutes(mm)
    add_weekly_minutes(mm)
    add_staff_places(mm)
    add_modality_ladder(mm)

    mm.medium = medium_expression(mm)
    mm.soft = soft_expression(mm) - add_idle_time(mm) - ladder_cost_expression(mm)
    mm.disruption, mm.disruption_max = disruption_expression(mm, previous or {})
    add_fairness(mm)
    return mm


def build_bound_model(prepared: Prepared, scope: Scope) -> MatchModel:
    """A relaxation of the medium level: who takes what, without order, drives or starts.

    Kept: one provider per session, pinned pairs, the cliques of sessions a
    provider cannot combine, and the daily and weekly minutes with every onsite
    session charged the least drive that can bring the provider there and take
    them on. Every valid plan is a solution of it, so its optimum bounds medium;
    being a pure 0-1 program it is proven fast where the full model is not.
    """
    mm = _new_match_model(prepared, scope)
    for node in scope.nodes:
        mm.presence[node.index] = mm.model.new_bool_var(f"x_n{node.index}")

    add_one_provider_per_session(mm)
    add_incompatible_sessions(mm)
    add_pinned_pairs(mm)
    add_least_minutes(mm)
    add_staff_places(mm)
    add_modality_ladder(mm)

    mm.medium = medium_expression(mm)
    return mm


def add_session_variables(mm: MatchModel) -> None:
    """A presence literal and a start inside the range (rule 11) per node."""
    for node in mm.scope.nodes:
        name = f"s{node.session}_p{node.provider}_{node.lo}"
        mm.presence[node.index] = mm.model.new_bool_var(f"x_{name}")
        mm.start[node.index] = mm.model.new_int_var(node.lo, node.hi, f"t_{name}")
    for node in mm.scope.nodes:
        mm.work.setdefault(node.provider, []).append(
            Obstacle(node.lo, node.hi + node.duration, node.index, node.session, node.lo == node.hi)
        )
    for p_idx, spans in mm.scope.busy.items():
        mm.work.setdefault(p_idx, []).extend(Obstacle(lo, hi, None, None, True) for lo, hi in spans)
    for p_idx, items in mm.work.items():
        items.sort(key=lambda o: o.lo)
        mm.work_starts[p_idx] = [o.lo for o in items]


def add_route_variables(mm: MatchModel) -> None:
    """One route per provider and day with onsite nodes, and a literal per leg possible in time."""
    grouped: dict[tuple[int, int], list[Node]] = defaultdict(list)
    for node in mm.scope.nodes:
        if node.onsite:
            grouped[(node.provider, node.day)].append(node)
    first_starts = _first_starts(mm.scope.nodes)
    for (p_idx, day), nodes in sorted(grouped.items()):
        nodes.sort(key=lambda n: (n.lo, n.index))
        route = Route(p_idx, day, nodes, mm.model.new_bool_var(f"home_p{p_idx}_d{day}"))
        _set_drive_span(mm, route, first_starts.get(p_idx, []))
        new_bool = mm.model.new_bool_var
        for node in nodes:
            tag = f"p{p_idx}_n{node.index}"
            route.add_arc(None, node, new_bool(f"out_{tag}"), node.home_out)
            route.add_arc(node, None, new_bool(f"back_{tag}"), node.home_back)
        for a in nodes:
            for b in nodes:
                minutes = _leg_minutes(mm, a, b)
                if minutes is not None:
                    route.add_arc(a, b, new_bool(f"leg_p{p_idx}_n{a.index}_n{b.index}"), minutes)
        for arc in route.arcs:
            route.obstacles[arc.key] = _obstacles(mm, route, arc)
        mm.routes[(p_idx, day)] = route


def _leg_minutes(mm: MatchModel, a: Node, b: Node) -> int | None:
    """Drive from a to b, or None when b can never directly follow a on the same day."""
    if a.session == b.session:
        return None
    problem = mm.prepared.problem
    loc_a, loc_b = problem.sessions[a.session].location, problem.sessions[b.session].location
    if loc_a is None or loc_b is None:
        return None
    minutes = mm.prepared.travel.minutes(loc_a, loc_b)
    if a.lo + a.duration + minutes > b.hi:
        return None
    cap = problem.providers[a.provider].max_minutes_per_day
    if a.home_out + a.duration + minutes + b.duration + b.home_back > cap:
        return None
    return minutes


def _set_drive_span(mm: MatchModel, route: Route, first_starts: Sequence[tuple[int, int]]) -> None:
    """When the day's drives from and to home may happen, and when they surely fit.

    Rule 9 lets them happen "any time"; like the validator, the model reads
    that as from the previous day's midnight to the end of the next day, and
    the provider's no-overlap keeps them off every session actually taken. Most
    days need none of that: once nothing of an earlier day can still run
    (`quiet_from`) and before anything of a later day can start
    (`quiet_until`), a drive that always fits needs no constraint at all.
    """
    day_starts = mm.prepared.timeline.day_starts
    route.earliest = day_starts[max(route.day - 1, 0)]
    route.latest = day_starts[min(route.day + 2, len(day_starts) - 1)]
    quiet_from = route.earliest
    for node in mm.scope.nodes:
        if node.provider == route.provider and node.day < route.day:
            quiet_from = max(quiet_from, node.hi + node.duration)
    for _lo, hi in mm.scope.busy.get(route.provider, ()):
        if hi <= day_starts[route.day]:
            quiet_from = max(quiet_from, hi)
    quiet_until = route.latest
    tomorrow = day_starts[route.day + 1]
    for day, first in first_starts:
        if day > route.day:
            quiet_until = min(quiet_until, first)
            break
    for lo, _hi in mm.scope.busy.get(route.provider, ()):
        if lo >= tomorrow:
            quiet_until = min(quiet_until, lo)
    route.quiet_from, route.quiet_until = quiet_from, quiet_until


def _first_starts(nodes: Iterable[Node]) -> dict[int, list[tuple[int, int]]]:
    """Per provider, each day with nodes and the earliest start possible on it, in day order."""
    first: dict[tuple[int, int], int] = {}
    for node in nodes:
        key = (node.provider, node.day)
        first[key] = min(first.get(key, node.lo), node.lo)
    grouped: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for (p_idx, day), lo in sorted(first.items()):
        grouped[p_idx].append((day, lo))
    return grouped


def _obstacles(mm: MatchModel, route: Route, arc: Arc) -> list[Obstacle]:
    """The provider's other work that may overlap the time this leg can use.

    The day's own onsite sessions never do: the route orders them, and the
    leg's two ends are consecutive in it. Nor do other starts of the leg's
    own sessions, which cannot be taken together with them.
    """
    begin, end = route.window(arc)
    items = mm.work.get(route.provider, [])
    own = {n.session for n in (arc.tail, arc.head) if n is not None}
    found: list[Obstacle] = []
    for item in items[: bisect.bisect_left(mm.work_starts.get(route.provider, []), end)]:
        if item.hi <= begin or item.session in own:
            continue
        if item.node is not None:
            node = mm.scope.nodes[item.node]
            if node.onsite and node.day == route.day:
                continue
        found.append(item)
    if not _counts_idle(mm, route) and _fits_at_home_end(route, arc, found):
        return []
    return found


def _fits_at_home_end(route: Route, arc: Arc, found: Sequence[Obstacle]) -> bool:
    """Whether a leg from or to home always fits in the quiet time before or after the day."""
    if arc.tail is None and arc.head is not None:
        begin = route.quiet_from
        fits_before = arc.head.lo - arc.minutes >= begin
        return fits_before and all(o.hi <= begin or o.lo >= begin + arc.minutes for o in found)
    if arc.head is None and arc.tail is not None:
        end = route.quiet_until
        fits_after = arc.tail.hi + arc.tail.duration + arc.minutes <= end
        return fits_after and all(o.lo >= end or o.hi <= end - arc.minutes for o in found)
    return False


def add_leg_blocks(mm: MatchModel, route: Route) -> None:
    """A leg whose drive may meet other work at times not fixed in advance gets its own block."""
    for arc in route.arcs:
        obstacles = route.obstacles[arc.key]
        if not obstacles or (_fixed_leg(arc, obstacles) and not _idle_leg(mm, route, arc)):
            continue
        begin, end = route.window(arc)
        name = f"drive_p{route.provider}_a{route.day}_{arc.key}"
        start = mm.model.new_int_var(begin, max(begin, end - arc.minutes), f"{name}_t")
        block = mm.model.new_optional_fixed_size_interval_var(start, arc.minutes, arc.literal, name)
        route.blocks[arc.key] = (start, block)


def _fixed_leg(arc: Arc, obstacles: Sequence[Obstacle]) -> bool:
    """Whether the leg and everything in its way have fixed times (and are few enough)."""
    ends = [n for n in (arc.tail, arc.head) if n is not None]
    return (
        all(n.lo == n.hi for n in ends)
        and all(o.fixed for o in obstacles)
        and sum(o.node is not None for o in obstacles) <= MAX_ENUMERATED_OBSTACLES
    )


# ---------------------------------------------------------------------------
# Constraints
# ---------------------------------------------------------------------------


def add_one_provider_per_session(mm: MatchModel) -> None:
    """A session is staffed by at most one provider, at one start (rule 1)."""
    for nodes in mm.by_session.values():
        if len(nodes) > 1:
            mm.model.add_at_most_one(mm.presence[n.index] for n in nodes)


def add_incompatible_sessions(mm: MatchModel) -> None:
    """A provider takes at most one of any sessions that overlap or leave no time to drive between.

    Implied by the rules below, but the no-overlap of optional intervals is
    invisible to the LP relaxation: these cliques give the medium level an
    honest bound instead of letting a provider be in two places at once.
    """
    grouped: dict[tuple[int, int], list[Node]] = defaultdict(list)
    for node in mm.scope.nodes:
        grouped[(node.provider, node.day)].append(node)
    seen: set[frozenset[int]] = set()
    for nodes in grouped.values():
        if len(nodes) < 2:
            continue
        nodes.sort(key=lambda n: (n.lo, n.index))
        clash = {
            a.index: {b.index for b in nodes if b is not a and _incompatible(mm, a, b)}
            for a in nodes
        }
        for seed in nodes:
            clique = [seed.index]
            for other in nodes:
                if other.index in clash[seed.index] and all(
                    other.index in clash[member] for member in clique
                ):
                    clique.append(other.index)
            key = frozenset(clique)
            if len(clique) > 1 and key not in seen:
                seen.add(key)
                mm.model.add_at_most_one(mm.presence[i] for i in clique)


def _incompatible(mm: MatchModel, a: Node, b: Node) -> bool:
    """Whether one provider can never take both nodes on their day, in either order."""
    if a.session == b.session:
        return True
    # Direct legs are the shortest way between two places only if travel is a metric.
    metric = mm.prepared.travel_is_metric
    both_onsite = a.onsite and b.onsite and metric
    ab = _direct(mm, a, b) if both_onsite else 0
    ba = _direct(mm, b, a) if both_onsite else 0
    if a.lo + a.duration + ab > b.hi and b.lo + b.duration + ba > a.hi:
        return True
    cap = mm.prepared.problem.providers[a.provider].max_minutes_per_day
    if not metric:
        return a.duration + b.duration > cap
    if both_onsite:
        driving = min(a.home_out + ab + b.home_back, b.home_out + ba + a.home_back)
    else:
        driving = max(a.home_out + a.home_back, b.home_out + b.home_back)
    return a.duration + b.duration + driving > cap


def _direct(mm: MatchModel, a: Node, b: Node) -> int:
    sessions = mm.prepared.problem.sessions
    loc_a, loc_b = sessions[a.session].location, sessions[b.session].location
    assert loc_a is not None and loc_b is not None
    return mm.prepared.travel.minutes(loc_a, loc_b)


def add_staff_places(mm: MatchModel) -> None:
    """A group session's places start together, and are all filled or none where asked (`staff`).

    No provider holds two places: with one start, rule 9's no-overlap
    forbids it. Places outside the scope count only when `scope.siblings`
    says where they are held; the bound model, which has no starts, keeps
    only all-or-nothing.
    """
    groups = mm.prepared.groups
    if not groups:
        return
    sessions = mm.prepared.problem.sessions
    inside = set(mm.scope.sessions)
    done: set[int] = set()
    for s_idx in mm.scope.sessions:
        group = groups.get(s_idx)
        if group is None or group[0] in done:
            continue
        done.add(group[0])
        link = sessions[group[0]].place_of
        assert link is not None
        held = [m for m in group if m in inside]
        outside = {
            m: mm.scope.siblings[m] for m in group if m not in inside and m in mm.scope.siblings
        }
        if link.all_or_nothing:
            # A pinned place is held whatever happens: all or nothing binds the open ones.
            # A place is filled by any of its flat sessions (one per step of a ladder).
            filled: list[cp_model.LinearExpr] = []
            outside_filled: list[bool] = []
            for members in by_place(mm.prepared.problem, group).values():
                if any(m in mm.prepared.fixed for m in members):
                    continue
                held_outside = any(outside.get(m) is not None for m in members)
                literals = [
                    mm.presence[n.index]
                    for m in members
                    if m in inside
                    for n in mm.by_session.get(m, [])
                ]
                if any(m in inside for m in members):
                    filled.append(cp_model.LinearExpr.sum(literals) + int(held_outside))
                elif any(m in outside for m in members):
                    outside_filled.append(held_outside)
            if any(outside_filled):
                for expr in filled:
                    mm.model.add(expr == 1)
            elif outside_filled:
                for expr in filled:
                    mm.model.add(expr == 0)
            for a, b in itertools.pairwise(filled):
                mm.model.add(a == b)
        if not mm.start:
            continue
        nodes = [n for m in held for n in mm.by_session.get(m, [])]
        if not nodes:
            continue
        fixed_starts = {where[1] for where in outside.values() if where is not None}
        if fixed_starts:
            common = mm.model.new_constant(min(fixed_starts))
        else:
            common = mm.model.new_int_var(
                min(n.lo for n in nodes), max(n.hi for n in nodes), f"group_start_{group[0]}"
            )
        for n in nodes:
            mm.model.add(mm.start[n.index] == common).only_enforce_if(mm.presence[n.index])


def add_modality_ladder(mm: MatchModel) -> None:
    """At most one step of a session's modality ladder is staffed (`modalities`).

    A step outside the scope that is held (`scope.siblings`) leaves the
    steps inside it empty.
    """
    ladders = mm.prepared.ladders
    done: set[int] = set()
    for s_idx in mm.scope.sessions:
        steps = ladders.get(s_idx)
        if steps is None or steps[0] in done:
            continue
        done.add(steps[0])
        literals = [mm.presence[n.index] for m in steps for n in mm.by_session.get(m, [])]
        held_outside = any(mm.scope.siblings.get(m) is not None for m in steps)
        if held_outside:
            for literal in literals:
                mm.model.add(literal == 0)
        elif len(literals) > 1:
            mm.model.add_at_most_one(literals)


def ladder_cost_expression(mm: MatchModel) -> cp_model.LinearExpr:
    """LADDER_STEP_COST soft points per step down the ladder of each staffed session."""
    sessions = mm.prepared.problem.sessions
    terms = []
    for node in mm.scope.nodes:
        step = sessions[node.session].step_of
        if step is not None and step.step > 0:
            terms.append(LADDER_STEP_COST * step.step * mm.presence[node.index])
    return cp_model.LinearExpr.sum(terms)


def add_pinned_pairs(mm: MatchModel, *, as_assumptions: bool = False) -> None:
    """Every pinned pair is kept (rule 1); a pinned session's nodes are its pinned provider's."""
    for s_idx in mm.scope.sessions:
        if s_idx not in mm.prepared.fixed:
            continue
        keep = mm.model.new_bool_var(f"pinned_s{s_idx}")
        literals = [mm.presence[n.index] for n in mm.by_session.get(s_idx, [])]
        mm.model.add(cp_model.LinearExpr.sum(literals) == 1).only_enforce_if(keep)
        if as_assumptions:
            mm.model.add_assumption(keep)
        else:
            mm.model.add(keep == 1)
        mm.pinned[s_idx] = keep


def add_no_overlap_per_provider(mm: MatchModel) -> None:
    """A provider holds one session or drives one leg at a time, committed work too (rule 9).

    Sessions at fixed times are already kept apart by the cliques; the
    no-overlap is only needed where a start or a drive can still move.
    """
    moving: dict[int, list[cp_model.IntervalVar]] = defaultdict(list)
    for route in mm.routes.values():
        moving[route.provider].extend(block for _, block in route.blocks.values())
    for node in mm.scope.nodes:
        if node.lo != node.hi:
            moving.setdefault(node.provider, [])
    for p_idx, blocks in moving.items():
        for item in mm.work.get(p_idx, []):
            if item.node is None:
                blocks.append(
                    mm.model.new_fixed_size_interval_var(item.lo, item.hi - item.lo, "busy")
                )
                continue
            node = mm.scope.nodes[item.node]
            blocks.append(
                mm.model.new_optional_fixed_size_interval_var(
                    mm.start[node.index], node.duration, mm.presence[node.index], f"i_n{node.index}"
                )
            )
        if len(blocks) > 1:
            mm.model.add_no_overlap(blocks)


def add_day_circuit(mm: MatchModel, route: Route) -> None:
    """A provider leaves home, visits the day's onsite sessions in one order and comes home."""
    position = {node.index: k + 1 for k, node in enumerate(route.nodes)}
    arcs: list[tuple[int, int, cp_model.LiteralT]] = [(0, 0, route.stay_home)]
    arcs.extend(
        (
            0 if a.tail is None else position[a.tail.index],
            0 if a.head is None else position[a.head.index],
            a.literal,
        )
        for a in route.arcs
    )
    # A node that is not taken is left out of the circuit by its own loop.
    arcs.extend((position[n.index], position[n.index], ~mm.presence[n.index]) for n in route.nodes)
    mm.model.add_circuit(arcs)


def add_leg_order(mm: MatchModel, route: Route, arc: Arc) -> None:
    """A leg starts after its session ends and arrives before the next starts, within the day."""
    begin, end = route.window(arc)
    if end - begin < arc.minutes:
        mm.model.add(arc.literal == 0)
        return
    start = mm.start[arc.head.index] if arc.head is not None else None
    finish = mm.start[arc.tail.index] + arc.tail.duration if arc.tail is not None else None
    if start is not None and finish is not None:
        mm.model.add(start >= finish + arc.minutes).only_enforce_if(arc.literal)
    elif start is not None and arc.head is not None and arc.head.lo - arc.minutes < begin:
        mm.model.add(start >= begin + arc.minutes).only_enforce_if(arc.literal)
    elif (
        finish is not None
        and arc.tail is not None
        and arc.tail.hi + arc.tail.duration + arc.minutes > end
    ):
        mm.model.add(finish + arc.minutes <= end).only_enforce_if(arc.literal)


def add_leg_clear_of_other_work(mm: MatchModel, route: Route, arc: Arc) -> None:
    """A drive is one uninterrupted block that overlaps no other session of the provider (rule 9).

    Where every time is fixed, the sets of sessions that would leave no gap
    long enough are forbidden together with the leg; elsewhere the leg's own
    block lies between its two ends and joins the provider's no-overlap.
    """
    obstacles = route.obstacles[arc.key]
    if not obstacles:
        return
    if arc.key in route.blocks:
        start, _ = route.blocks[arc.key]
        if arc.tail is not None:
            finish = mm.start[arc.tail.index] + arc.tail.duration
            mm.model.add(start >= finish).only_enforce_if(arc.literal)
        if arc.head is not None:
            mm.model.add(start + arc.minutes <= mm.start[arc.head.index]).only_enforce_if(
                arc.literal
            )
        return
    begin, end = route.window(arc)
    if arc.tail is not None:
        begin = arc.tail.lo + arc.tail.duration
    if arc.head is not None:
        end = arc.head.lo
    for blocking in _blocking_sets(begin, end, arc.minutes, obstacles):
        mm.model.add_bool_or(
            [~arc.literal, *(~mm.presence[o.node] for o in blocking if o.node is not None)]
        )


def _blocking_sets(
    begin: int, end: int, minutes: int, obstacles: Sequence[Obstacle]
) -> list[list[Obstacle]]:
    """The smallest sets of optional sessions that, with committed work, leave the drive no gap."""
    always = [o for o in obstacles if o.node is None]
    optional = [o for o in obstacles if o.node is not None]
    if _widest_gap(begin, end, always) < minutes:
        return [[]]
    found: list[frozenset[int]] = []
    for size in range(1, len(optional) + 1):
        for combo in itertools.combinations(range(len(optional)), size):
            chosen = frozenset(combo)
            if any(f <= chosen for f in found):
                continue
            present = always + [optional[i] for i in combo]
            if _widest_gap(begin, end, present) < minutes:
                found.append(chosen)
    return [[optional[i] for i in sorted(f)] for f in found]


def _widest_gap(begin: int, end: int, present: Sequence[Obstacle]) -> int:
    widest, reached = 0, begin
    for o in sorted(present, key=lambda o: o.lo):
        if o.lo > reached:
            widest = max(widest, min(o.lo, end) - reached)
        reached = max(reached, o.hi)
        if reached >= end:
            break
    return max(widest, end - reached)


def _day_work(mm: MatchModel) -> dict[tuple[int, int], tuple[cp_model.LinearExpr, int]]:
    """Per provider and day: session plus travel minutes, and an upper bound on them."""
    grouped: dict[tuple[int, int], list[Node]] = defaultdict(list)
    for node in mm.scope.nodes:
        grouped[(node.provider, node.day)].append(node)
    work: dict[tuple[int, int], tuple[cp_model.LinearExpr, int]] = {}
    for key, nodes in grouped.items():
        expr = cp_model.LinearExpr.weighted_sum(
            [mm.presence[n.index] for n in nodes], [n.duration for n in nodes]
        )
        most = _most_session_minutes(nodes)
        route = mm.routes.get(key)
        if route is not None:
            expr = expr + route.travel()
            most += route.most_travel()
        work[key] = (expr, most)
    return work


def _most_session_minutes(nodes: Sequence[Node]) -> int:
    longest: dict[int, int] = {}
    for n in nodes:
        longest[n.session] = max(longest.get(n.session, 0), n.duration)
    return sum(longest.values())


def add_daily_minutes(mm: MatchModel) -> None:
    """Session and travel minutes of a provider's day stay within their daily limit (rule 10)."""
    for (p_idx, _day), (expr, most) in _day_work(mm).items():
        cap = mm.prepared.problem.providers[p_idx].max_minutes_per_day
        if most > cap:
            mm.model.add(expr <= cap)


def add_weekly_minutes(mm: MatchModel) -> None:
    """Session and travel minutes of a provider's ISO week stay within their limit (rule 10)."""
    weeks: dict[tuple[int, tuple[int, int]], list[tuple[cp_model.LinearExpr, int]]]
    weeks = defaultdict(list)
    for (p_idx, day), work in _day_work(mm).items():
        weeks[(p_idx, mm.prepared.timeline.week(day))].append(work)
    for key, works in weeks.items():
        limit = mm.prepared.problem.providers[key[0]].max_minutes_per_week
        cap = limit - mm.scope.week_used.get(key, 0)
        if sum(most for _, most in works) > cap:
            mm.model.add(cp_model.LinearExpr.sum([expr for expr, _ in works]) <= cap)


def add_least_minutes(mm: MatchModel) -> None:
    """A provider's day and week hold the sessions and at least the drives they need (rule 10).

    Each onsite session is reached by one leg and left by one leg, so the
    day's travel is at least half the sum of its cheapest way in and out;
    both sides are doubled to keep the coefficients whole.
    """
    grouped: dict[tuple[int, int], list[Node]] = defaultdict(list)
    for node in mm.scope.nodes:
        grouped[(node.provider, node.day)].append(node)
    weeks: dict[tuple[int, tuple[int, int]], list[cp_model.LinearExpr]] = defaultdict(list)
    for (p_idx, day), nodes in grouped.items():
        least = _least_legs(mm, nodes)
        twice = cp_model.LinearExpr.weighted_sum(
            [mm.presence[n.index] for n in nodes],
            [2 * n.duration + least.get(n.index, 0) for n in nodes],
        )
        provider = mm.prepared.problem.providers[p_idx]
        mm.model.add(twice <= 2 * provider.max_minutes_per_day)
        weeks[(p_idx, mm.prepared.timeline.week(day))].append(twice)
    for (p_idx, week), days in weeks.items():
        limit = mm.prepared.problem.providers[p_idx].max_minutes_per_week
        cap = limit - mm.scope.week_used.get((p_idx, week), 0)
        mm.model.add(cp_model.LinearExpr.sum(days) <= 2 * cap)


def _least_legs(mm: MatchModel, nodes: Sequence[Node]) -> dict[int, int]:
    """Per onsite node: its cheapest leg in plus its cheapest leg out."""
    onsite = [n for n in nodes if n.onsite]
    least: dict[int, int] = {}
    for node in onsite:
        arrive, leave = node.home_out, node.home_back
        for other in onsite:
            into = _leg_minutes(mm, other, node)
            if into is not None:
                arrive = min(arrive, into)
            out = _leg_minutes(mm, node, other)
            if out is not None:
                leave = min(leave, out)
        least[node.index] = arrive + leave
    return least


# ---------------------------------------------------------------------------
# Objective
# ---------------------------------------------------------------------------


def medium_expression(mm: MatchModel) -> cp_model.LinearExpr:
    """Minus the priority of the scope's sessions left unstaffed."""
    sessions = mm.prepared.problem.sessions
    staffed = cp_model.LinearExpr.weighted_sum(
        [mm.presence[n.index] for n in mm.scope.nodes],
        [sessions[n.session].priority for n in mm.scope.nodes],
    )
    return staffed - sum(sessions[s].priority for s in mm.scope.sessions)


def soft_expression(mm: MatchModel) -> cp_model.LinearExpr:
    """Minus all travel minutes, plus the bonus for each session given to a preferred provider."""
    travel = cp_model.LinearExpr.sum([route.travel() for route in mm.routes.values()])
    preferred = [mm.presence[n.index] for n in mm.scope.nodes if n.preferred]
    bonus = cp_model.LinearExpr.weighted_sum(preferred, [PREFERRED_BONUS] * len(preferred))
    return bonus - travel


def _counts_idle(mm: MatchModel, route: Route) -> bool:
    return mm.prepared.problem.providers[route.provider].counts_idle


def _idle_leg(mm: MatchModel, route: Route, arc: Arc) -> bool:
    """A drive from or to home of a provider whose waiting counts: its time sets the day's span."""
    return _counts_idle(mm, route) and (arc.tail is None or arc.head is None)


def add_idle_time(mm: MatchModel) -> cp_model.LinearExpr:
    """The waiting of `counts_idle` providers, which soft subtracts (docs/problem.md).

    Per such route: the departure is the start of the drive out (its block, or
    right before the first session when nothing can be in the way), the return
    the end of the drive home; idle is that span less the drives and the
    sessions held inside it. A phone or video session counts as inside when
    it lies between the two, which the maximisation chooses whenever true.
    Placing a drive earlier than it needs only adds idle, so at the optimum
    the model's idle is `routes.idle_minutes` of the plan.
    """
    terms: list[cp_model.LinearExpr] = []
    remote: dict[tuple[int, int], list[Node]] = defaultdict(list)
    for node in mm.scope.nodes:
        if not node.onsite:
            remote[(node.provider, node.day)].append(node)
    for (p_idx, day), route in mm.routes.items():
        if not _counts_idle(mm, route):
            continue
        model, tag = mm.model, f"p{p_idx}_d{day}"
        leave = model.new_int_var(route.earliest, route.latest, f"leave_{tag}")
        arrive = model.new_int_var(route.earliest, route.latest, f"arrive_{tag}")
        model.add(leave == route.earliest).only_enforce_if(route.stay_home)
        model.add(arrive == route.earliest).only_enforce_if(route.stay_home)
        for arc in route.arcs:
            block = route.blocks.get(arc.key)
            if arc.tail is None and arc.head is not None:
                at = block[0] if block else mm.start[arc.head.index] - arc.minutes
                model.add(leave == at).only_enforce_if(arc.literal)
            elif arc.head is None and arc.tail is not None:
                end = mm.start[arc.tail.index] + arc.tail.duration
                at = block[0] if block else end
                model.add(arrive == at + arc.minutes).only_enforce_if(arc.literal)
        held: list[cp_model.IntVar] = []
        minutes: list[int] = []
        for node in route.nodes:
            held.append(mm.presence[node.index])
            minutes.append(node.duration)
        for node in remote.get((p_idx, day), []):
            inside = model.new_bool_var(f"inside_{tag}_n{node.index}")
            model.add_implication(inside, mm.presence[node.index])
            model.add(mm.start[node.index] >= leave).only_enforce_if(inside)
            model.add(mm.start[node.index] + node.duration <= arrive).only_enforce_if(inside)
            held.append(inside)
            minutes.append(node.duration)
        work = cp_model.LinearExpr.weighted_sum(held, minutes)
        terms.append(arrive - leave - route.travel() - work)
        mm.idle_most += route.latest - route.earliest
    return cp_model.LinearExpr.sum(terms)


def disruption_expression(
    mm: MatchModel, previous: Mapping[int, int]
) -> tuple[cp_model.LinearExpr, int]:
    """How many sessions of the previous plan lose their provider, and the most there can be."""
    count = 0
    kept: list[cp_model.IntVar] = []
    for s_idx in mm.scope.sessions:
        if s_idx not in previous:
            continue
        count += 1
        nodes = mm.by_session.get(s_idx, [])
        kept.extend(mm.presence[n.index] for n in nodes if n.provider == previous[s_idx])
    return cp_model.LinearExpr.weighted_sum(kept, [-1] * len(kept)) + count, count


def outside_loads(scope: Scope) -> dict[int, int]:
    """Session minutes per provider committed outside the scope (its `busy` intervals)."""
    return {p: sum(hi - lo for lo, hi in spans) for p, spans in scope.busy.items()}


def add_fairness(mm: MatchModel) -> None:
    """The fairness term: `fairness_weight` times the largest load of the scope's providers.

    A provider's load is the session minutes of their nodes taken plus their
    work committed outside the scope; `U` is at least every load, and the
    objective subtracts weight * U, so at the same medium the solver shifts
    minutes away from the busiest provider (docs/problem.md, "Score").
    """
    weight = mm.prepared.problem.fairness_weight
    if not weight:
        return
    outside = outside_loads(mm.scope)
    by_provider: dict[int, list[Node]] = defaultdict(list)
    for node in mm.scope.nodes:
        by_provider[node.provider].append(node)
    most = max(outside.values(), default=0)
    for p_idx, nodes in by_provider.items():
        per_session: dict[int, int] = {}
        for node in nodes:
            per_session[node.session] = node.duration
        most = max(most, outside.get(p_idx, 0) + sum(per_session.values()))
    largest = mm.model.new_int_var(max(outside.values(), default=0), most, "largest_load")
    for p_idx, nodes in by_provider.items():
        taken = cp_model.LinearExpr.weighted_sum(
            [mm.presence[n.index] for n in nodes], [n.duration for n in nodes]
        )
        mm.model.add(largest >= taken + outside.get(p_idx, 0))
    mm.fairness = weight * largest
    mm.fairness_max = weight * most


# ---------------------------------------------------------------------------
# Hints
# ---------------------------------------------------------------------------

Placement = Mapping[int, tuple[int, int]]
"""Session index -> (provider index, start minute)."""


def add_plan_hint(mm: MatchModel, placement: Placement) -> int:
    """Hint every variable from a plan's placements; returns how many of them fit a node."""
    chosen: dict[int, int] = {}
    for s_idx, (p_idx, start) in placement.items():
        for node in mm.by_session.get(s_idx, []):
            if node.provider == p_idx and node.lo <= start <= node.hi:
                chosen[node.index] = start
                break
    for node in mm.scope.nodes:
        mm.model.add_hint(mm.presence[node.index], node.index in chosen)
        if node.index in mm.start:
            mm.model.add_hint(mm.start[node.index], chosen.get(node.index, node.lo))
    busy: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for p_idx, spans in mm.scope.busy.items():
        busy[p_idx].extend(spans)
    for index, start in chosen.items():
        node = mm.scope.nodes[index]
        busy[node.provider].append((start, start + node.duration))
    for route in mm.routes.values():
        _hint_route(mm, route, chosen, busy[route.provider])
    return len(chosen)


def _hint_route(
    mm: MatchModel, route: Route, chosen: Mapping[int, int], busy: list[tuple[int, int]]
) -> None:
    """Hint the legs of a route in start order, and place each drive block in a free gap."""
    order = sorted((n for n in route.nodes if n.index in chosen), key=lambda n: chosen[n.index])
    stops: list[Node | None] = [None, *order, None]
    taken = {(a.index if a else None, b.index if b else None) for a, b in itertools.pairwise(stops)}
    mm.model.add_hint(route.stay_home, not order)
    for arc in route.arcs:
        used = (arc.tail.index if arc.tail else None, arc.head.index if arc.head else None) in taken
        mm.model.add_hint(arc.literal, used)
        if arc.key not in route.blocks:
            continue
        begin, _ = route.window(arc)
        at: int | None = begin
        if used:
            after = chosen[arc.tail.index] + arc.tail.duration if arc.tail else begin
            before = chosen[arc.head.index] if arc.head else None
            if before is None:
                at = _earliest_gap(busy, after, arc.minutes)
            else:
                at = _latest_gap(busy, after, before, arc.minutes)
            if at is not None:
                busy.append((at, at + arc.minutes))
        mm.model.add_hint(route.blocks[arc.key][0], begin if at is None else at)


def _latest_gap(busy: Sequence[tuple[int, int]], begin: int, end: int, length: int) -> int | None:
    """The latest start of a free block of `length` inside [begin, end], if there is one."""
    at = end - length
    for lo, hi in sorted(busy, key=lambda span: -span[1]):
        if hi > at and lo < at + length:
            at = min(at, lo - length)
    return at if at >= begin else None


def _earliest_gap(busy: Sequence[tuple[int, int]], begin: int, length: int) -> int:
    """The earliest start at or after `begin` of a free block of `length`."""
    at = begin
    for lo, hi in sorted(busy):
        if hi > at and lo < at + length:
            at = max(at, hi)
    return at
