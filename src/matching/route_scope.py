"""What the route path may move on a dense day, and what it keeps where the plan has it.

The routing searches (`routing_search`) see one visit per session: they know
nothing of a group's places that start together (rule 11), of a ladder's
steps of which one at most is staffed, or of a pinned pair a re-plan must
keep. Rather than leave such a day to the paths that know those rules (and
route poorly), the route path routes around them:

- a group's places the starting plan staffs are **held**: on their provider,
  at their start, in every route and combination; the places it leaves open
  are out of the routes' reach;
- a ladder keeps one step in reach: the one the starting plan staffs, else
  its best (first) step that some provider may take;
- a pinned session is held where the starting plan has it.

A held visit is a stop whose range is its start alone, on its provider's day
only, and every plan the route path keeps has each held visit where it was
(`RouteScope.keeps`). The route neighbourhoods that polish the plan
afterwards (`routing_search.improve_routes`) are CP-SAT pieces, which know
groups, ladders and pins: they move the held visits, fill the open places
and change steps where that is better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from matching.eligibility import Option, StartRange
from matching.places import groups_kept, ladders_kept
from matching.route_pool import Route
from matching.run import Run

Placement = Mapping[int, tuple[int, int]]


@dataclass(frozen=True)
class RouteScope:
    """A dense group's sessions as the routes see them: their options, and the held visits."""

    options: dict[int, tuple[Option, ...]]
    """Each session in the routes' reach, and the providers and starts it may take."""
    held: dict[int, tuple[int, int]]
    """Held visits: session -> (provider, start), kept in every plan the routes make."""

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
        return cls(options, held)

    def admits(self, route: Route) -> bool:
        """Whether every stop of `route` is in reach, a held one at its provider and start."""
        (p_idx, _day), stops = route
        for s_idx, lo, hi in stops:
            if s_idx not in self.options:
                return False
            at = self.held.get(s_idx)
            if at is not None and (at[0] != p_idx or lo != at[1] or hi != at[1]):
                return False
        return True

    def keeps(self, run: Run, sessions: Sequence[int], placement: Placement) -> bool:
        """Whether `placement` has every held visit where it was, and keeps groups and ladders."""
        if any(placement.get(s_idx) != at for s_idx, at in self.held.items()):
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
