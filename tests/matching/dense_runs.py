"""A dense problem as the route path sees it: its run, its sessions and the greedy's plan."""

from __future__ import annotations

import time

from matching.greedy import solve_greedy
from matching.model import prepare
from matching.problem import Assignment, Problem
from matching.run import Run
from matching.tuning import DEFAULT_TUNING
from matching.validate import check

Placement = dict[int, tuple[int, int]]


def greedy_run(problem: Problem, workers: int = 1) -> tuple[Run, list[int], Placement]:
    """The run of a flat `problem`, its sessions with options and the greedy's placement."""
    prepared = prepare(problem)
    run = Run(problem, prepared, DEFAULT_TUNING, time.monotonic() + 60, workers, 0, None)
    index = {s.id: i for i, s in enumerate(problem.sessions)}
    providers = {p.id: i for i, p in enumerate(problem.providers)}
    start = {
        index[a.session]: (providers[a.provider], prepared.timeline.minute(a.start))
        for a in solve_greedy(problem).assignments
    }
    return run, sorted(prepared.options), start


def broken_rules(run: Run, placement: Placement) -> list[object]:
    """Rule violations of a placement, the sessions it leaves out aside."""
    problem, timeline = run.problem, run.prepared.timeline
    assignments = [
        Assignment(problem.sessions[s].id, problem.providers[p].id, timeline.instant(t))
        for s, (p, t) in placement.items()
    ]
    return [v for v in check(problem, assignments).violations if v.code != "missing"]
