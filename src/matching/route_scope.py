"""What the route path may move on a dense day, and what it keeps where the plan has it.

The routing searches (`routing_search`) see one visit per session: they know
nothing of a group's places that start together (rule 11), of a ladder's
steps of which one at most is staffed, or of a pinned pair a re-plan must
keep. Rather than leave such a day to the paths that know those rules (and
route poorly), the route path routes around them:

- a group's places the starting plan staffs are **held**: on their provider,
  at their start, in the routing library's searches; the places it leaves
  open are out of the library's reach;
- a ladder keeps one step in reach: the one the starting plan staffs, else
  its best (first) step that some provider may take;
- a pinned session is held where the starting plan has it.

A held visit is a stop whose range is its start alone, on its provider's day
only, and every plan the route path keeps has each held visit where it may
be (`RouteScope.keeps`). Where the starting plan put a group, or that it
left one open, may be what leaves another session unstaffed (its providers
busy at the hour that session needs one of them). So the pricing and the
combination see each group with no pinned place at a few starts
(`RouteScope.moving`): a held one on its providers, across the range they
share, an open one on any provider each place may have, across the range
its places share; the combination starts a group's places together (rule
11) or, an open one, leaves it open. The route neighbourhoods that polish the plan
afterwards (`routing_search.improve_routes`) are CP-SAT pieces, which know
groups, ladders and pins: they move the held visits, fill the open places
and change steps where that is better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from matching.eligibility import Option, StartRange
from matching.places import groups_kept, ladders_kept
from matching.route_pool import Route
from matching.run import Run

Placement = Mapping[int, tuple[int, int]]

MOVES = 6
"""Starts a moving group's places may take in the combination (a held one's own among them)."""


@dataclass(frozen=True)
class RouteScope:
    """A dense group's sessions as the routes see them: their options, and the held visits."""

    options: dict[int, tuple[Option, ...]]
    """Each session in the routes' reach, and the providers and starts it may take."""
    held: dict[int, tuple[int, int]]
    """Held visits: session -> (provider, start), kept in every plan the routes make."""
    moving: dict[int, tuple[Option, ...]] = field(default_factory=dict)
    """The places of the groups the combination may start at another time, each at a few
    starts (`MOVES`): a held group's on its providers, an open group's on any of its own."""
    together: tuple[tuple[int, ...], ...] = ()
    """The places of each moving group: they start together, or (an open group) stay open."""

    @classmethod
    def of(cls, run: Run, sessions: Sequence[int], placement: Placement) -> RouteScope:
        """The scope of `sessions` around `placement`, the plan the route path starts from."""
        prepared = run.prepared
        groups, ladders, fixed = prepared.groups, prepared.ladders, prepared.fixed
        options: dict[int, tuple[Option, ...]] = {}
        held: dict[int, tuple[int, int]] = {}
        for s_idx in sessions:
            if s_idx not in prepared.options:
                continue
            steps = ladders.get(s_idx)
            if steps is not None and s_idx != _step_in_reach(steps, placement, prepared.options):
                continue  # another step of the ladder is the one in reach
            if s_idx in groups or s_idx in fixed:
                if s_idx in placement:
                    held[s_idx] = placement[s_idx]
                elif s_idx in groups:
                    continue  # an open place: the neighbourhoods may fill the group
            options[s_idx] = tuple(prepared.options[s_idx])
        for s_idx, (p_idx, start) in held.items():
            home = next(
                (o.home_minutes for o in options[s_idx] if o.provider == p_idx),
                0,
            )
            day = prepared.timeline.day(start)
            options[s_idx] = (Option(s_idx, p_idx, (StartRange(day, start, start),), home),)
        return cls(options, held, *_moving_groups(run, sessions, held))

    def retimed(self) -> dict[int, tuple[Option, ...]]:
        """The options with each moving group's places at their starts (pricing, combination)."""
        return {**self.options, **self.moving} if self.moving else self.options

    def admits(self, route: Route) -> bool:
        """Whether every stop of `route` is in reach, a held one at its provider and a start."""
        (p_idx, _day), stops = route
        for s_idx, lo, hi in stops:
            if s_idx in self.moving:
                if not self._at_a_start(s_idx, p_idx, lo, hi):
                    return False
                continue
            if s_idx not in self.options:
                return False
            at = self.held.get(s_idx)
            if at is not None and (at[0] != p_idx or lo != at[1] or hi != at[1]):
                return False
        return True

    def _at_a_start(self, s_idx: int, p_idx: int, lo: int, hi: int) -> bool:
        return lo == hi and any(
            option.provider == p_idx and any(r.lo == lo for r in option.ranges)
            for option in self.moving[s_idx]
        )

    def keeps(self, run: Run, sessions: Sequence[int], placement: Placement) -> bool:
        """Whether `placement` has each held visit where it may be, and keeps groups and ladders."""
        for s_idx, at in self.held.items():
            now = placement.get(s_idx)
            if s_idx in self.moving:
                if now is None or not self._at_a_start(s_idx, now[0], now[1], now[1]):
                    return False
            elif now != at:
                return False
        prepared = run.prepared
        return groups_kept(run.problem, prepared.groups, placement, sessions) and ladders_kept(
            prepared.ladders, placement, sessions
        )


def _step_in_reach(
    steps: Sequence[int], placement: Placement, options: Mapping[int, object]
) -> int:
    """The ladder's step the plan staffs, else its best step anyone may take, else its first."""
    staffed = next((m for m in steps if m in placement), None)
    if staffed is not None:
        return staffed
    return next((m for m in steps if m in options), steps[0])


def _moving_groups(
    run: Run, sessions: Sequence[int], held: Mapping[int, tuple[int, int]]
) -> tuple[dict[int, tuple[Option, ...]], tuple[tuple[int, ...], ...]]:
    """The groups the combination may start at another time: their places' options, each
    start a range of its own, and the places of each.

    A held group keeps its providers and may start at its own start or at
    `MOVES` - 1 others across the range they share. A group with no place
    staffed may start at `MOVES` starts across the range its places share,
    on any provider each may have. A group with a pinned place, or with
    some places staffed and others open, stays as it is.
    """
    prepared = run.prepared
    moving: dict[int, tuple[Option, ...]] = {}
    together: list[tuple[int, ...]] = []
    seen: set[int] = set()
    for s_idx in sessions:
        group = prepared.groups.get(s_idx)
        if group is None or group[0] in seen:
            continue
        seen.add(group[0])
        if any(m in prepared.fixed or m not in prepared.options for m in group):
            continue
        staffed = [m for m in group if m in held]
        options: dict[int, tuple[Option, ...]]
        if staffed and len(staffed) < len(group):
            continue
        if staffed:
            starts = _starts_held(prepared.options, {m: held[m] for m in group})
            if starts is None:
                continue
            options = {m: (_at_starts(prepared.options[m], held[m][0], starts),) for m in group}
        else:
            places = {m: prepared.options[m] for m in group}
            options = _open_options(places)
        options = {m: tuple(o for o in found if o.ranges) for m, found in options.items()}
        if all(options.values()):
            moving.update(options)
            together.append(tuple(group))
    return moving, tuple(together)


def _starts_held(
    options: Mapping[int, Sequence[Option]], held: Mapping[int, tuple[int, int]]
) -> tuple[int, ...] | None:
    """A held group's starts: its own, then others across its providers' common range."""
    start = next(iter(held.values()))[1]
    common = [_range_around(options[m], *at) for m, at in held.items()]
    if any(r is None or at[1] != start for r, at in zip(common, held.values(), strict=True)):
        return None
    lo = max(r[0] for r in common if r is not None)
    hi = min(r[1] for r in common if r is not None)
    if hi <= lo:
        return None
    return (start, *(t for t in _spread(lo, hi, MOVES - 1) if t != start))


def _open_options(places: Mapping[int, Sequence[Option]]) -> dict[int, tuple[Option, ...]]:
    """An open group's places, each provider at the starts of the range the places share
    (some with none: the caller drops those)."""
    found: dict[int, list[Option]] = {m: [] for m in places}
    days = set.intersection(
        *({r.day for o in options for r in o.ranges} for options in places.values())
    )
    for day in sorted(days):
        spans = [
            [(r.lo, r.hi) for o in options for r in o.ranges if r.day == day]
            for options in places.values()
        ]
        lo, hi = max(min(a for a, _ in s) for s in spans), min(max(b for _, b in s) for s in spans)
        if hi < lo:
            continue
        starts = tuple(_spread(lo, hi, MOVES))
        for m, options in places.items():
            found[m] += [_at_starts((o,), o.provider, starts, day) for o in options]
    return {m: tuple(options) for m, options in found.items()}


def _spread(lo: int, hi: int, count: int) -> list[int]:
    """`count` starts from `lo` to `hi`, on five-minute steps from `lo` but the last."""
    if count < 2 or hi == lo:
        return [lo]
    inner = {lo + (k * (hi - lo) // (count - 1)) // 5 * 5 for k in range(count - 1)}
    return sorted(inner | {hi})


def _at_starts(
    options: Sequence[Option], p_idx: int, starts: Sequence[int], day: int | None = None
) -> Option:
    """`p_idx`'s option with a range for each of `starts` inside its own ranges."""
    option = next(o for o in options if o.provider == p_idx)
    ranges = tuple(
        StartRange(r.day, t, t)
        for t in sorted(set(starts))
        for r in option.ranges
        if (day is None or r.day == day) and r.lo <= t <= r.hi
    )
    return Option(option.session, p_idx, ranges, option.home_minutes)


def _range_around(options: Sequence[Option], p_idx: int, start: int) -> tuple[int, int] | None:
    """The start range of `p_idx`'s option that holds `start`."""
    return next(
        (
            (r.lo, r.hi)
            for option in options
            if option.provider == p_idx
            for r in option.ranges
            if r.lo <= start <= r.hi
        ),
        None,
    )
