"""`counts_idle`: a salaried provider's waiting between leaving home and coming back costs soft.

docs/problem.md, "Idle time that counts". The validator, the solver's own
scoring and the CP-SAT model must read it the same way.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from ortools.sat.python import cp_model

from matching.io import problem_from_dict, problem_to_dict
from matching.model import build_model, make_scope, prepare
from matching.phases import _lexicographic_weight, _placement, new_solver
from matching.problem import Problem
from matching.routes import Visit, idle_minutes
from matching.run import Run
from matching.solve import solve
from matching.travel import Travel
from matching.tuning import DEFAULT_TUNING
from matching.validate import validate
from tests.matching.factories import LILLE, ROUBAIX, at, home, problem, provider, session
from tests.matching.strategies import problems

TRAVEL = Travel(problem([], []).travel)


def minute(local: str) -> int:
    """Minutes since an arbitrary origin; only differences matter to idle."""
    return int(at(local).timestamp() // 60)


def onsite(start: str, end: str, name: str) -> Visit:
    return Visit(minute(start), minute(end), LILLE, name)


def test_the_wait_between_two_onsite_sessions_is_idle() -> None:
    visits = [
        onsite("2026-12-01 09:00", "2026-12-01 10:00", "a"),
        onsite("2026-12-01 14:00", "2026-12-01 15:00", "b"),
    ]
    assert idle_minutes(TRAVEL, home(ROUBAIX), visits) == 4 * 60


def test_back_to_back_sessions_and_drives_leave_no_idle() -> None:
    drive = TRAVEL.minutes(LILLE, ROUBAIX)
    visits = [
        onsite("2026-12-01 09:00", "2026-12-01 10:00", "a"),
        Visit(minute("2026-12-01 10:00") + drive, minute("2026-12-01 11:00") + drive, ROUBAIX, "b"),
    ]
    assert idle_minutes(TRAVEL, home(LILLE), visits) == 0


def test_a_phone_call_just_before_the_drive_out_makes_the_provider_leave_earlier() -> None:
    drive = TRAVEL.minutes(home(ROUBAIX), LILLE)
    assert drive > 10
    visits = [
        Visit(minute("2026-12-01 08:00"), minute("2026-12-01 08:50"), None, "call"),
        onsite("2026-12-01 09:00", "2026-12-01 10:00", "a"),
    ]
    # Leaves before the call, holds it in Lille, then waits the 10 minutes to 09:00.
    assert idle_minutes(TRAVEL, home(ROUBAIX), visits) == 10


def test_a_day_without_onsite_work_has_no_idle() -> None:
    visits = [
        Visit(minute("2026-12-01 08:00"), minute("2026-12-01 08:30"), None, "call"),
        Visit(minute("2026-12-01 15:00"), minute("2026-12-01 15:30"), None, "video"),
    ]
    assert idle_minutes(TRAVEL, home(ROUBAIX), visits) == 0


def morning_and_afternoon(salaried: bool, window: tuple[str, str] | None = None) -> Problem:
    """Two sessions in Lille, 09:00 and 14:00; one provider lives there, one in Roubaix."""
    return problem(
        [
            provider("p-lille", living=LILLE, counts_idle=salaried),
            provider("p-roubaix", living=ROUBAIX),
        ],
        [
            session("s-am", start="2026-12-01 09:00"),
            session("s-pm", start="2026-12-01 14:00", window=window),
        ],
    )


def providers_of(prob: Problem) -> dict[str, str]:
    plan = solve(prob, time_limit=10, workers=1)
    verdict = validate(prob, plan)
    assert verdict.ok and verdict.score == plan.score
    assert plan.stats.status == "OPTIMAL"
    return {a.session: a.provider for a in plan.assignments}


def test_a_freelance_provider_takes_both_sessions_since_waiting_costs_nothing() -> None:
    assert providers_of(morning_and_afternoon(salaried=False)) == {
        "s-am": "p-lille",
        "s-pm": "p-lille",
    }


def test_a_salaried_provider_does_not_wait_four_hours_to_save_a_short_drive() -> None:
    chosen = providers_of(morning_and_afternoon(salaried=True))
    assert chosen["s-am"] != chosen["s-pm"]


def test_idle_that_a_window_can_remove_changes_the_start_not_the_provider() -> None:
    prob = morning_and_afternoon(salaried=True, window=("2026-12-01 10:00", "2026-12-01 14:00"))
    plan = solve(prob, time_limit=10, workers=1)
    starts = {a.session: (a.provider, a.start) for a in plan.assignments}
    assert starts["s-pm"] == ("p-lille", at("2026-12-01 10:00"))
    assert starts["s-am"][0] == "p-lille"
    assert plan.score.soft == 0 and validate(prob, plan).score == plan.score


def test_the_validator_charges_idle_only_to_salaried_providers() -> None:
    freelance = morning_and_afternoon(salaried=False)
    salaried = morning_and_afternoon(salaried=True)
    plan = solve(freelance, time_limit=10, workers=1)
    assert validate(salaried, plan).score.soft == validate(freelance, plan).score.soft - 4 * 60


def test_counts_idle_reads_and_writes_and_is_left_out_when_false() -> None:
    prob = morning_and_afternoon(salaried=True)
    data = problem_to_dict(prob)
    providers = data["providers"]
    assert isinstance(providers, list)
    assert providers[0]["counts_idle"] is True and "counts_idle" not in providers[1]
    assert problem_from_dict(data) == prob
    plain = replace(prob, providers=tuple(replace(p, counts_idle=False) for p in prob.providers))
    assert "counts_idle" not in str(problem_to_dict(plain))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_providers=3, max_sessions=8, pins=False))
def test_the_models_soft_at_its_optimum_is_the_validators_soft(prob: Problem) -> None:
    """The model's idle (`add_idle_time`) and `routes.idle_minutes` agree on the plan it picks."""
    salaried = replace(prob, providers=tuple(replace(p, counts_idle=True) for p in prob.providers))
    prepared = prepare(salaried)
    mm = build_model(prepared, make_scope(prepared, sorted(prepared.options)))
    mm.model.maximize(_lexicographic_weight(mm, 0) * mm.medium + mm.soft)
    solver = new_solver(20, 1)
    assert solver.solve(mm.model) == cp_model.OPTIMAL
    placement = _placement(mm, solver)
    run = Run(salaried, prepared, DEFAULT_TUNING, 0.0, 1, 0, None)
    assert run.score_of(placement)[1] == round(solver.value(mm.soft))
