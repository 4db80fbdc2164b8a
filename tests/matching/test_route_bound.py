"""Dense days: how few minutes any plan could need, by the relaxation and by the integer check."""

from __future__ import annotations

from itertools import permutations

from matching.model import prepare
from matching.route_bound import IntegerCheck, exact_relaxation, integer_check, near_routes
from matching.route_pool import MEDIUM_WEIGHT, Route, timed
from matching.solve import solve
from matching_bench.dense import generate_dense
from tests.matching.test_route_pool import stops, two_towns
from tests.matching.test_route_pricing import scored_days

SESSIONS = ("lille-1", "lille-2", "tournai-1", "tournai-2")


def test_with_a_wide_enough_gap_every_route_a_day_can_drive_is_enumerated() -> None:
    for salaried in (False, True):
        prepared = prepare(two_towns(salaried=salaried))
        local = {
            stops(prepared, "p-lille", "lille-1", "lille-2"),
            stops(prepared, "p-tournai", "tournai-1", "tournai-2"),
        }
        relaxation = exact_relaxation(
            prepared.problem, prepared.travel, prepared.options, local, 4, 30
        )
        assert relaxation is not None and relaxation.converged
        for day in relaxation.days:
            provider = prepared.problem.providers[day.key[0]].id
            drivable: dict[Route, int] = {}
            for size in range(1, len(SESSIONS) + 1):
                for order in permutations(SESSIONS, size):
                    route = stops(prepared, provider, *order)
                    found = timed(prepared.problem, prepared.travel, day.key[0], route[1])
                    if found is not None:
                        drivable[route] = found[1]
            enumerated = near_routes(day, {}, 0.0, MEDIUM_WEIGHT, gap=1e12)
            assert dict(enumerated) == drivable
            assert len(enumerated) == len(drivable), "each route once"


def test_the_integer_check_finds_the_fewest_minutes_and_proves_none_fewer() -> None:
    problem = generate_dense(2, density=0.4)
    prepared = prepare(problem)
    plan = solve(problem, time_limit=5, workers=1)
    points, minutes, days = scored_days(prepared, plan)
    relaxation = exact_relaxation(
        problem, prepared.travel, prepared.options, days, points, 60, calls=True
    )
    assert relaxation is not None and relaxation.converged
    # The plan itself is among the sets the check sees: it finds it or better, and proves it.
    best = integer_check(problem, relaxation, minutes, 60, workers=1)
    assert best.proven and best.minutes is not None
    assert relaxation.minutes - 1e-6 <= best.minutes <= minutes
    # One minute fewer: no plan staffing as many points needs so little.
    below = integer_check(problem, relaxation, best.minutes - 1, 60, workers=1)
    assert below.proven and below.minutes is None
    assert below.routes < best.routes, "a narrower gap reaches fewer routes"
    # Under the relaxation's value there is nothing to enumerate.
    under = integer_check(problem, relaxation, int(relaxation.minutes) - 1, 60)
    assert under == IntegerCheck(None, True, relaxation.minutes, 0)
