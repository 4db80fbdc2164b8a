"""How a plan shares the work between providers, and the fairness term of the objective.

Freelance interpreters live from the sessions they get: with a problem's
`fairness_weight` above 0 the solver prefers, at the same medium, plans whose
busiest provider has the fewest session minutes (docs/problem.md, "Score").
The term is steering, not a level of the score: like the disruption penalty it
is never part of `soft`, so plans stay comparable whatever the weight; the
plan reports it in `stats`, and the validator computes it the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from matching.problem import Assignment, Problem


def loads(problem: Problem, assignments: Iterable[Assignment]) -> dict[str, int]:
    """Session minutes per provider id over the horizon, 0 for a provider without work."""
    minutes = {p.id: 0 for p in problem.providers}
    duration = {s.id: s.duration_minutes for s in problem.sessions}
    for a in assignments:
        if a.provider in minutes and a.session in duration:
            minutes[a.provider] += duration[a.session]
    return minutes


def largest_load(minutes: Iterable[int]) -> int:
    """The fairness measure: the session minutes of the busiest provider (0 if none)."""
    return max(minutes, default=0)


def fairness_penalty(problem: Problem, assignments: Iterable[Assignment]) -> int:
    """`fairness_weight` times the largest load: what the solver subtracts from soft."""
    if not problem.fairness_weight:
        return 0
    return problem.fairness_weight * largest_load(loads(problem, assignments).values())


@dataclass(frozen=True)
class Share:
    """How work is shared: minutes per provider (min, median, max) and their Gini coefficient."""

    providers: int
    min: int
    median: float
    max: int
    gini: float

    def as_dict(self) -> dict[str, object]:
        return {
            "providers": self.providers,
            "min": self.min,
            "median": self.median,
            "max": self.max,
            "gini": self.gini,
        }


def share(minutes: Mapping[str, int] | Iterable[int]) -> Share:
    """The share figures of some loads; Gini is 0 for an even share, near 1 when one does all.

    Gini = sum over pairs (i, j) of |x_i - x_j| / (2 n^2 mean), rounded to 3 places.
    """
    values = sorted(minutes.values() if isinstance(minutes, Mapping) else minutes)
    n = len(values)
    if n == 0:
        return Share(0, 0, 0.0, 0, 0.0)
    mid = n // 2
    median = float(values[mid]) if n % 2 else (values[mid - 1] + values[mid]) / 2
    total = sum(values)
    # With the values sorted, sum_{i,j} |x_i - x_j| = 2 * sum_i (2i - n + 1) x_i.
    spread = 2 * sum((2 * i - n + 1) * x for i, x in enumerate(values))
    gini = spread / (2 * n * total) if total else 0.0
    return Share(n, values[0], median, values[-1], round(gini, 3))


def workload_stats(problem: Problem, assignments: Iterable[Assignment]) -> dict[str, object]:
    """The plan's `stats` entries on sharing: `workload` always, `fairness` when weighted."""
    minutes = loads(problem, assignments)
    stats: dict[str, object] = {"workload": share(minutes).as_dict()}
    if problem.fairness_weight:
        largest = largest_load(minutes.values())
        stats["fairness"] = {
            "weight": problem.fairness_weight,
            "largest_load": largest,
            "penalty": problem.fairness_weight * largest,
        }
    return stats
