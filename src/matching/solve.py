"""Solve a whole problem: independent groups, a shared clock, a fallback, a checked plan.

1. Eligibility prunes every pair the static rules refuse (`prepare`);
   pinned pairs are checked together first (`InfeasibleFixedError` names a
   clashing set).
2. The greedy plan is built at once: it seeds the search, and it is the
   fallback of every group the solver does not improve in time. A caller's
   `hint` plan replaces it as the seed, and as the fallback if it is valid
   and better.
3. The problem splits into parts that share no provider (`decompose`); small
   parts are bundled into one model. The largest group goes first; each gets
   a share of the remaining time in proportion to its size (later groups
   keep a minimum), so time a group does not use carries forward.
4. Each group takes the path its size calls for (`strategy.solve_group`).
5. Every session appears once, assigned or with the reason a dispatcher can
   act on; the plan is validated before it leaves, and a plan that breaks a
   hard rule raises instead of being returned.

`disruption_weight` (re-planning): every session that the `hint` plan gave to
a provider and that now goes to another provider, or to none, costs that many
points on the soft level of the objective. It steers the solver only: the
score reported is docs/problem.md's, without it.

`stats.bound` is a lexicographic bound: no valid plan scores better than
(bound.medium, bound.soft). Medium is summed over the groups from proven
bounds (the relaxation, the scarce sessions' model, or phase 1); each group's
soft bound holds for all its plans with a medium at least as good as the one
found, or is the optimistic 60 per session that has a preferred provider.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from matching.decompose import Part, bundle, decompose
from matching.fairness import workload_stats
from matching.greedy import solve_greedy
from matching.model import InfeasibleFixedError, prepare
from matching.phases import Progress, check_pins
from matching.places import flatten, flatten_plan, fold_plan, ladder_offset, needs_flattening
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
from matching.run import Run
from matching.strategy import Outcome, minimum_time, solve_group
from matching.tuning import DEFAULT_TUNING, Tuning
from matching.validate import Validation, check, validate
from matching.why import Why


class BrokenPlanError(RuntimeError):
    """The matcher built a plan that breaks a hard rule: a bug, never returned to a caller."""

    def __init__(self, validation: Validation) -> None:
        self.validation = validation
        first = "; ".join(
            f"rule {v.rule} {v.session or ''} {v.provider or ''}: {v.message}"
            for v in validation.violations[:3]
        )
        super().__init__(f"the plan breaks {len(validation.violations)} hard rule(s): {first}")


def solve(
    problem: Problem,
    *,
    time_limit: float = 30.0,
    workers: int | None = None,
    hint: Plan | None = None,
    disruption_weight: int = 0,
    progress: Progress | None = None,
    tuning: Tuning = DEFAULT_TUNING,
) -> Plan:
    """The best plan found within `time_limit` seconds, validated, with an honest bound.

    `workers` is CP-SAT's and the search's thread count (default: the
    machine's cores); `progress` hears of each new solution of a phase;
    `tuning` changes how the time is spent, never what a valid plan is.
    A problem with group sessions is solved as one session per place, and
    the plan's assignments name their place; one with modality ladders as one session
    per step, and the assignment says which modality was used (`places`).
    """
    if needs_flattening(problem):
        flat = flatten(problem)
        plan = solve(
            flat,
            time_limit=time_limit,
            workers=workers,
            hint=flatten_plan(problem, hint),
            disruption_weight=disruption_weight,
            progress=progress,
            tuning=tuning,
        )
        return fold_plan(flat, plan)
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
    run = Run(
        problem=problem,
        prepared=prepared,
        tuning=tuning,
        deadline=began + time_limit - reserve,
        workers=workers or os.cpu_count() or 1,
        disruption_weight=disruption_weight,
        progress=progress,
        pins=pins,
    )
    _set_fallback_and_hint(run, greedy, hint)
    # The fallback is the first plan found: a stop asked before the solve keeps it.
    run.report(
        "start", float(run.staffed(run.fallback)), float(run.staffed(range(len(problem.sessions))))
    )

    # A group session's places share a part, so one model couples them.
    linked = set(prepared.groups.values()) | set(prepared.ladders.values())
    parts = decompose(prepared.options, linked) if linked else decompose(prepared.options)
    groups = bundle(parts, up_to=tuning.bundle_up_to)
    sizes = [sum(p.size for p in group) for group in groups]
    outcomes: list[tuple[list[Part], Outcome]] = []
    for k, group in enumerate(groups):
        later = sizes[k + 1 :]
        # Every later group keeps its minimum; the rest is shared by size.
        spare = run.deadline - time.monotonic() - sum(minimum_time(n) for n in later)
        budget = max(minimum_time(sizes[k]), spare * sizes[k] / (sizes[k] + sum(later)))
        budget = min(budget, run.deadline - time.monotonic())
        outcomes.append((group, solve_group(run, group, budget)))

    plan = _assemble(run, outcomes, time.monotonic() - began)
    return _checked(problem, plan)


def _set_fallback_and_hint(run: Run, greedy: Plan, hint: Plan | None) -> None:
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
    if check(run.problem, hint.assignments, rest).ok and run.better(run.hint, run.fallback):
        run.fallback = dict(run.hint)
        run.fallback_reasons = {}


def _placement_of(run: Run, assignments: Sequence[Assignment]) -> dict[int, tuple[int, int]]:
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


def _assemble(run: Run, outcomes: Sequence[tuple[list[Part], Outcome]], seconds: float) -> Plan:
    """Every session once: assigned, or unassigned with the reason a dispatcher can act on."""
    problem, prepared = run.problem, run.prepared
    placement: dict[int, tuple[int, int]] = {}
    unassigned: dict[int, Unassigned] = {}
    medium_bound = -sum(problem.sessions[s].priority for s in prepared.eligibility.unplaceable)
    # Each unused step of a ladder counts as unstaffed here, the validator counts the session.
    offset = ladder_offset(problem)
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
            unassigned[s_idx] = Unassigned.of(problem.sessions[s_idx].id, why.reason, why.why)
    assignments = tuple(
        Assignment(problem.sessions[s].id, problem.providers[p].id, prepared.timeline.instant(t))
        for s, (p, t) in sorted(placement.items())
    )
    staffed, soft = run.score_of(placement)
    medium = staffed - sum(s.priority for s in problem.sessions)
    extra: dict[str, object] = {"method": "cp-sat", **run.stats}
    extra.update(workload_stats(problem, assignments))
    preferred = {s.id: s.preferred_providers for s in problem.sessions}
    hits = sum(1 for a in assignments if a.provider in preferred[a.session])
    extra["travel_minutes"] = PREFERRED_BONUS * hits - soft
    return Plan(
        assignments=assignments,
        unassigned=tuple(unassigned[s] for s in sorted(unassigned)),
        score=Score(0, medium, soft),
        stats=Stats(
            status="OPTIMAL" if proven else "FEASIBLE",
            solve_seconds=round(seconds, 3),
            bound=Bound(max(medium_bound, medium) + offset, max(soft_bound, soft)),
            extra=extra,
        ),
    )


def _reason(run: Run, s_idx: int, source: str) -> Unassigned:
    """Why a placeable session stays unassigned, naming the providers who could have taken it."""
    session = run.problem.sessions[s_idx]
    if source == "none":
        return Unassigned.of(session.id, "not_solved", Why("time_ran_out"))
    if source == "fallback" and s_idx in run.fallback_reasons:
        return run.fallback_reasons[s_idx]
    providers = [run.problem.providers[o.provider].id for o in run.prepared.options[s_idx]]
    named: dict[str, str | int] = {
        "count": len(providers),
        "providers": ",".join(providers[:3]),
        "more": max(len(providers) - 3, 0),
    }
    return Unassigned.of(session.id, "capacity", Why("all_taken", named))


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
