"""Which path a group of sessions takes, by its size, and the steps of each path.

`solve` splits a problem into groups that share no provider and gives each
a share of the time; `solve_group` is where a group's path is decided, and
reads top to bottom. Sizes are counted in start ranges (`Part.size`), the
size of a model; the thresholds are `Tuning`'s, and docs/problem.md has the
table of paths with the sizes the S, M, L and XL bench instances have.

- Every group: a 0-1 relaxation (`build_bound_model`) caps medium.
- **search** (larger than `full_model_up_to`): one model would not even be
  solved in time. The exact model of the scarce sessions caps medium
  tighter (`_scarce_bound`), then the neighbourhood search improves the
  greedy plan for all the time left. Medium is often proven (the plan
  meets the cap), soft never.
- **search_then_model** (from `search_first_from`): the search runs first
  for a share of the time, until medium meets the cap; then the full model.
- **model**: the full model alone: phase 1 maximises medium up to the cap
  (skipped when the plan it starts from meets the cap), phase 2 maximises
  soft with medium kept; after a slow phase 1 the search first cuts the
  travel of its plan. Both levels may be proven.

Each group keeps the better of what its path found and its fallback plan.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from matching.decompose import Part, bundle, decompose, scarce_sessions
from matching.model import add_plan_hint, build_bound_model, build_model, make_scope
from matching.phases import (
    Levels,
    cap_medium,
    maximise_medium,
    maximise_soft,
    solve_bound,
    start_from,
)
from matching.problem import PREFERRED_BONUS
from matching.route_pool import Route
from matching.routing_search import dense_enough, improve_routes, recombine, solve_dense
from matching.run import Run
from matching.search import improve
from matching.tuning import Tuning

Path = Literal["model", "search_then_model", "search"]

RECOMBINE_SHARE = 0.6
"""Share of a dense group's time left after the insertions that pricing and the combination
take, before the last route neighbourhoods."""


@dataclass(frozen=True)
class Outcome:
    """What one group of parts ended with: a placement and the bounds proven for the group."""

    placement: dict[int, tuple[int, int]]
    medium_bound: int
    soft_bound: int
    proven: bool
    source: Literal["solver", "search", "fallback", "none"]
    """Who made the placement: the full model, the search, the fallback (the greedy's or the
    caller's plan), or nobody (only the pinned sessions are placed)."""


def path_for(size: int, tuning: Tuning) -> Path:
    """The path of a group of this many start ranges."""
    if size > tuning.full_model_up_to:
        return "search"
    if size >= tuning.search_first_from:
        return "search_then_model"
    return "model"


def solve_group(run: Run, group: Sequence[Part], budget: float) -> Outcome:
    """Bound, improve and, when small enough, prove a group of parts in `budget` seconds."""
    began = time.monotonic()
    tuning = run.tuning
    sessions = [s for part in group for s in part.sessions]
    size = sum(p.size for p in group)
    fallback = _fallback_outcome(run, sessions)
    if budget < 0.05 or run.stopped:
        run.stats["parts_not_solved"] += len(group)
        return fallback

    # Every path starts with a cap on medium from the 0-1 relaxation.
    def bound() -> int:
        return solve_bound(
            build_bound_model(run.prepared, make_scope(run.prepared, sessions)),
            time_limit=tuning.bound_share * budget,
            workers=run.workers,
        )

    start = dict(fallback.placement)
    path = path_for(size, tuning)

    if path != "search" and _is_dense(run, sessions):
        # Dense days are routes: two routing searches, their best routes combined, route
        # neighbourhoods. The child process's search starts before the bound is computed here.
        caps: list[int] = []
        pool: set[Route] = set()
        routing = (1 - tuning.route_medium_share) * _left(began, budget)
        placement = solve_dense(
            run, sessions, start, routing, lambda: caps.append(bound()), pool=pool
        )
        run.stats["parts_routed"] += len(group)
        if run.staffed(placement) - run.staffed(sessions) < caps[0]:
            # The routes leave out sessions the bound says could be staffed: medium comes
            # first, so the search's insertions get the rest of the time, until medium meets
            # the cap or stalls; routes priced around the new days and combined again, then
            # route neighbourhoods, cut the drives they added.
            run.stats["routes_then_searched"] += len(group)
            left = _left(began, budget)
            inserted = improve(run, sessions, placement, left, caps[0], stop_at_cap=True)
            if inserted != placement:
                left = RECOMBINE_SHARE * _left(began, budget)
                inserted = recombine(run, sessions, pool, inserted, left)
            placement = inserted
        placement = improve_routes(run, sessions, placement, _left(began, budget) - 0.1)
        return Outcome(placement, caps[0], fallback.soft_bound, False, "search")

    cap = bound()

    if path == "search":
        cap = min(cap, _scarce_bound(run, sessions, tuning.scarce_share * budget))
        placement = improve(run, sessions, start, _left(began, budget), cap)
        run.stats["parts_searched"] += len(group)
        return Outcome(placement, cap, fallback.soft_bound, False, "search")

    if path == "search_then_model" and start:
        # The search often reaches the cap in a second where phase 1 takes ten,
        # and with a plan that drives little: phase 1 then has nothing to do.
        seconds = tuning.search_first_share * _left(began, budget)
        start = improve(run, sessions, start, seconds, cap, stop_at_cap=True)
        run.stats["searched_first"] += len(group)

    # Building the model and CP-SAT's own wind-down come on top of its time limit.
    outcome = _solve_whole(run, sessions, _left(began, budget) - _build_margin(size), start, cap)
    if outcome.source == "none" or run.better(start, outcome.placement):
        # The solver did not beat its own hint in time: keep the searched plan.
        return Outcome(start, outcome.medium_bound, outcome.soft_bound, False, "search")
    return outcome


def _is_dense(run: Run, sessions: Sequence[int]) -> bool:
    """A group of many sessions for few provider-days: routes, not an assignment."""
    tuning = run.tuning
    if len(sessions) < tuning.route_min_sessions:
        return False
    # Group places, ladders and pinned pairs are routed around (`route_scope`).
    prepared = run.prepared
    held = any(
        s in prepared.groups or s in prepared.ladders or s in prepared.fixed for s in sessions
    )
    if held and not tuning.route_around_held:
        return False
    return dense_enough(run.prepared.options, sessions) >= tuning.route_from


def minimum_time(size: int) -> float:
    """Seconds a model of `size` start ranges needs to be built and proven when it is easy."""
    return 0.5 + size / 1000


def _build_margin(size: int) -> float:
    """Seconds to set aside for building a model of `size` start ranges and stopping CP-SAT."""
    return 0.3 + size / 5_000


def _left(began: float, budget: float) -> float:
    return budget - (time.monotonic() - began)


def _solve_whole(
    run: Run,
    sessions: Sequence[int],
    budget: float,
    start: dict[int, tuple[int, int]],
    cap: int,
) -> Outcome:
    """One model for the group: phase 1 for medium under the cap, phase 2 for soft.

    `start` is a valid plan (the fallback's or the search's), or empty. When
    it meets the cap, phase 1 has nothing left to prove and phase 2 gets all
    the time. Phase 1 ignores travel, so its plan drives far, and on a hard
    model phase 2 closes that gap slowly: out of time it would return a plan
    that drives more than the greedy's. So after a slow phase 1 the search
    first cuts the travel, and phase 2 starts from its plan.
    """
    tuning = run.tuning
    mm = build_model(run.prepared, make_scope(run.prepared, sessions), previous=run.previous)
    staffed, soft = run.score_of(start)
    medium = staffed - run.staffed(sessions)
    began = time.monotonic()
    hint = start or {s: run.hint[s] for s in sessions if s in run.hint}
    if hint:
        add_plan_hint(mm, hint)
    cap = cap_medium(mm, cap)

    if start and medium >= cap:
        first = Levels(dict(start), True, medium, soft, cap, mm.soft_optimistic)
    else:
        first = maximise_medium(
            mm,
            time_limit=tuning.medium_share * budget,
            workers=run.workers,
            cap=cap,
            progress=run.report if run.progress else None,
        )
        if not first.found:
            run.stats["models"] += 1
            run.stats["parts_not_solved"] += 1
            return Outcome({}, first.medium_bound, first.soft_bound, False, "none")
        left = _left(began, budget)
        if left > 0.05 and time.monotonic() - began > tuning.polish_after:
            run.stats["polished"] += 1
            polished = improve(run, sessions, first.placement, tuning.polish_share * left, cap)
            start_from(mm, polished)
            first = replace(first, placement=polished, soft=run.score_of(polished)[1])

    result = maximise_soft(
        mm,
        first,
        time_limit=_left(began, budget),
        workers=run.workers,
        disruption_weight=run.disruption_weight,
        progress=run.report if run.progress else None,
    )
    run.stats["models"] += 1
    return Outcome(
        result.placement, result.medium_bound, result.soft_bound, result.proven, "solver"
    )


def _scarce_bound(run: Run, sessions: Sequence[int], budget: float) -> int:
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
    chosen = scarce_sessions(options, sessions, up_to=run.tuning.scarce_up_to)
    groups = bundle(decompose({s: options[s] for s in chosen}), up_to=run.tuning.bundle_up_to)
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
        bound += solve_bound(mm, time_limit=seconds, workers=run.workers)
    return bound


def _fallback_outcome(run: Run, sessions: Sequence[int]) -> Outcome:
    """The fallback plan restricted to these sessions, with the optimistic bounds."""
    wanted = set(sessions)
    if run.fallback:
        placement = {s: v for s, v in run.fallback.items() if s in wanted}
        return Outcome(placement, 0, _optimistic_soft(run, sessions), False, "fallback")
    placement = {s: v for s, v in run.pins.items() if s in wanted}
    return Outcome(placement, 0, _optimistic_soft(run, sessions), False, "none")


def _optimistic_soft(run: Run, sessions: Sequence[int]) -> int:
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
