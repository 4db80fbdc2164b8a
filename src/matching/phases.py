"""CP-SAT runs on one model: the medium bound, the two phases, pieces, pinned pairs.

`model` says what a valid plan of a scope is; this module asks CP-SAT for
one, in the order docs/problem.md ranks plans. Phase 1 maximises medium
alone, far easier than a weighted sum of both levels: on the M instances
it is proven in seconds where the weighted sum is not within the whole
limit. Phase 2 then maximises soft with medium kept. A small model (a
neighbourhood of the search) is solved on both levels at once. Which of
these runs, for how long and in which order is `strategy`'s decision: no
function here calls back into the strategy or the search.

Every bound returned is honest: no valid plan of the scope beats it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from matching.model import (
    InfeasibleFixedError,
    MatchModel,
    Placement,
    Prepared,
    add_plan_hint,
    build_model,
    make_scope,
)
from matching.problem import FixedAssignment

Progress = Callable[[str, float, float], bool | None]
"""Called with the phase, a new solution's objective and the best bound.

The phases: "start" (the fallback plan: priority staffed, of all sessions), then
"medium" and "soft" (CP-SAT's solutions of the part being solved).

Returning True (a dispatcher stopped the plan) stops the phase under way at once,
keeping its best solution; the groups not yet solved keep their fallback."""


@dataclass(frozen=True)
class Levels:
    """A plan of one model (session -> provider, start) and what is proven about it.

    `medium_bound` and `soft_bound` hold for every valid plan of the model with
    a medium at least `medium`, so no plan of the model beats them
    lexicographically. Without a plan (`found` false) only the bounds count.
    """

    placement: dict[int, tuple[int, int]]
    found: bool
    medium: int
    soft: int
    medium_bound: int
    soft_bound: int

    @property
    def proven(self) -> bool:
        """Both levels proven optimal."""
        return self.found and self.medium >= self.medium_bound and self.soft >= self.soft_bound


def new_solver(seconds: float, workers: int) -> cp_model.CpSolver:
    """A solver whose portfolio always includes an LP that sees the at-most-one constraints.

    CP-SAT's default worker linearizes at level 1, where at-most-ones and
    clauses stay out of the LP; on a small machine it is the only full worker
    and the medium bound never moves. `max_lp` linearizes them.
    """
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(seconds, 0.05)
    solver.parameters.num_workers = workers
    if workers == 1:
        solver.parameters.linearization_level = 2
    elif workers <= 4:
        solver.parameters.subsolvers.extend(["max_lp", "default_lp", "core"][: workers - 1])
    return solver


def solve_bound(mm: MatchModel, *, time_limit: float, workers: int) -> int:
    """The proven medium bound of a model (often `build_bound_model`'s relaxation)."""
    mm.model.maximize(mm.medium)
    solver = new_solver(time_limit, workers)
    status = solver.solve(mm.model)
    if status == cp_model.INFEASIBLE:
        raise InfeasibleFixedError(_pins_of(mm), "even the relaxation of their part is infeasible")
    return _bound(solver, 0)


def check_pins(prepared: Prepared, *, time_limit: float) -> dict[int, tuple[int, int]]:
    """A placement of the pinned sessions alone, or InfeasibleFixedError naming clashing pins."""
    if not prepared.fixed:
        return {}
    mm = build_model(prepared, make_scope(prepared, prepared.fixed), pins_as_assumptions=True)
    # One worker: CP-SAT reports the clashing assumptions only in that mode.
    solver = new_solver(time_limit, 1)
    status = solver.solve(mm.model)
    if status == cp_model.INFEASIBLE:
        core = set(solver.sufficient_assumptions_for_infeasibility())
        clashing = {s: lit for s, lit in mm.pinned.items() if lit.index in core} or mm.pinned
        problem = prepared.problem
        raise InfeasibleFixedError(
            [
                FixedAssignment(problem.sessions[s].id, problem.providers[prepared.fixed[s]].id)
                for s in sorted(clashing)
            ],
            "their sessions, drives or daily and weekly minutes clash",
        )
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {}
    return _placement(mm, solver)


def cap_medium(mm: MatchModel, cap: int) -> int:
    """Add a proven upper bound on medium (from `solve_bound`) to the model; the cap kept."""
    cap = min(0, cap)
    mm.model.add(mm.medium <= cap)
    return cap


def maximise_medium(
    mm: MatchModel,
    *,
    time_limit: float,
    workers: int,
    cap: int,
    progress: Progress | None = None,
) -> Levels:
    """Phase 1: the most priority staffed, proven up to `cap`; the model is hinted with the plan.

    Phase 1 ignores travel: its plan may drive far. Its soft bound is only the
    optimistic one, until phase 2 has run.
    """
    mm.model.maximize(mm.medium)
    solver = new_solver(time_limit, workers)
    reporter = _Reporter("medium", mm.medium, cap, progress) if progress else None
    status = int(solver.solve(mm.model, reporter) if reporter else solver.solve(mm.model))
    if status == cp_model.INFEASIBLE:
        raise InfeasibleFixedError(_pins_of(mm), "the model of their part is infeasible")
    medium_bound = _bound(solver, cap)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Levels({}, False, 0, 0, medium_bound, mm.soft_optimistic)
    medium = round(solver.value(mm.medium))
    _hint_from_solver(mm, solver)
    return Levels(
        _placement(mm, solver),
        True,
        medium,
        round(solver.value(mm.soft)),
        max(medium_bound, medium),
        mm.soft_optimistic,
    )


def start_from(mm: MatchModel, placement: Placement) -> None:
    """Hint the model with this plan only (another plan than phase 1's, before phase 2)."""
    mm.model.proto.clear_solution_hint()
    add_plan_hint(mm, placement)


def maximise_soft(
    mm: MatchModel,
    first: Levels,
    *,
    time_limit: float,
    workers: int,
    disruption_weight: int = 0,
    progress: Progress | None = None,
) -> Levels:
    """Phase 2: the best soft level (less the disruption penalty) with `first`'s medium kept.

    Starts from the model's hint (phase 1's plan, or whatever replaced it);
    with no time left it returns `first` as it is. The soft bound, phase 2's
    objective bound plus the largest disruption penalty, holds for every plan
    with a medium at least `first.medium`.
    """
    placement, soft, soft_bound = first.placement, first.soft, mm.soft_optimistic
    if time_limit > 0.05:
        mm.model.add(mm.medium >= first.medium)
        mm.model.maximize(mm.soft - disruption_weight * mm.disruption - mm.fairness)
        solver = new_solver(time_limit, workers)
        reporter = _Reporter("soft", mm.soft, math.inf, progress) if progress else None
        status = int(solver.solve(mm.model, reporter) if reporter else solver.solve(mm.model))
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            placement = _placement(mm, solver)
            soft = round(solver.value(mm.soft))
            bound = solver.best_objective_bound
            if math.isfinite(bound):
                soft_bound = min(
                    soft_bound,
                    math.floor(bound + 1e-6)
                    + disruption_weight * mm.disruption_max
                    + mm.fairness_max,
                )
    return Levels(
        dict(placement), True, first.medium, soft, first.medium_bound, max(soft_bound, soft)
    )


def solve_lexicographic(
    mm: MatchModel,
    *,
    time_limit: float,
    workers: int,
    hint: Placement | None = None,
    disruption_weight: int = 0,
) -> dict[int, tuple[int, int]] | None:
    """Both levels at once for a small model (a neighbourhood): a placement, or None if none."""
    if hint:
        add_plan_hint(mm, hint)
    weight = _lexicographic_weight(mm, disruption_weight)
    mm.model.maximize(
        weight * mm.medium + mm.soft - disruption_weight * mm.disruption - mm.fairness
    )
    solver = new_solver(time_limit, workers)
    status = solver.solve(mm.model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return _placement(mm, solver)


def _lexicographic_weight(mm: MatchModel, disruption_weight: int) -> int:
    """K larger than the whole range of soft - w * disruption.

    Soft minus the disruption penalty lies in [least, soft_optimistic], so
    K * medium + soft can never trade a medium point for any soft gain.
    """
    least = -sum(r.most_travel() for r in mm.routes.values()) - mm.idle_most
    least -= disruption_weight * mm.disruption_max + mm.fairness_max
    return mm.soft_optimistic - least + 1


class _Reporter(cp_model.CpSolverSolutionCallback):
    """Reports each new solution of one phase: its value and the phase's best bound."""

    def __init__(
        self, phase: str, value: cp_model.LinearExpr, cap: float, progress: Progress
    ) -> None:
        super().__init__()
        self.phase = phase
        self.expression = value
        self.cap = cap
        self.progress = progress

    def on_solution_callback(self) -> None:
        bound = min(self.cap, self.best_objective_bound)
        if self.progress(self.phase, float(self.value(self.expression)), bound):
            self.stop_search()


def _bound(solver: cp_model.CpSolver, fallback: int) -> int:
    """The solver's proven bound of a maximisation, never above `fallback`."""
    value = solver.best_objective_bound
    if not math.isfinite(value):
        return fallback
    return min(fallback, math.floor(value + 1e-6))


def _hint_from_solver(mm: MatchModel, solver: cp_model.CpSolver) -> None:
    """Hint every variable with its value in the solver's last solution."""
    values = list(solver.response_proto.solution)
    proto = mm.model.proto
    proto.clear_solution_hint()
    proto.solution_hint.vars.extend(range(len(values)))
    proto.solution_hint.values.extend(values)


def _placement(mm: MatchModel, solver: cp_model.CpSolver) -> dict[int, tuple[int, int]]:
    return {
        node.session: (node.provider, solver.value(mm.start[node.index]))
        for node in mm.scope.nodes
        if solver.boolean_value(mm.presence[node.index])
    }


def _pins_of(mm: MatchModel) -> list[FixedAssignment]:
    problem = mm.prepared.problem
    return [
        FixedAssignment(problem.sessions[s].id, problem.providers[mm.prepared.fixed[s]].id)
        for s in sorted(mm.pinned)
    ]
