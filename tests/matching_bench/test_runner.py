"""The bench runner: the verdicts it draws, and one quick end-to-end run on scale S."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from matching.greedy import solve_greedy
from matching.problem import Assignment, Bound, Plan, Problem, Score, Unassigned
from matching_bench.generate import dense_spec, generate_problem
from matching_bench.runner import (
    BenchEvent,
    BenchRow,
    PlanSummary,
    Verdict,
    bench_document,
    judge,
    peak_rss_mb,
    run_bench,
    summarize,
    summarize_by_scale,
)


def plan_summary(
    medium: int, soft: int, *, valid: bool = True, seconds: float = 1.0
) -> PlanSummary:
    score = Score(0, medium, soft)
    return PlanSummary(
        score=score,
        declared=score,
        valid=valid,
        violations=0 if valid else 1,
        first_violation=None if valid else "rule 9: overlap",
        assigned=50,
        unassigned_by_reason={"capacity": 2},
        travel_minutes=-soft,
        preferred_kept=0,
        seconds=seconds,
    )


def row(
    scale: str,
    greedy: PlanSummary,
    matcher: PlanSummary,
    bound: Bound | None,
    eligibility: Score = Score(0, -10, 0),
    peak_mb: float = 300.0,
) -> BenchRow:
    return BenchRow(
        scale=scale,
        seed=1,
        sessions=60,
        providers=30,
        days=2,
        time_limit=10.0,
        workers=None,
        eligibility_bound=eligibility,
        greedy=greedy,
        matcher=matcher,
        status="OPTIMAL",
        bound=bound,
        peak_mb=peak_mb,
    )


def failed(verdicts: list[Verdict]) -> set[str]:
    return {v.target for v in verdicts if not v.passed}


def test_a_proven_optimum_that_ties_the_greedy_passes() -> None:
    r = row("S", plan_summary(-12, -500), plan_summary(-12, -500), Bound(-12, -500))
    assert failed(judge(r)) == set()


def test_a_tie_without_proof_is_not_enough() -> None:
    r = row("S", plan_summary(-12, -500), plan_summary(-12, -500), Bound(-10, -400))
    assert failed(judge(r)) == {">greedy", "optimal"}


def test_the_matcher_must_not_lose_to_the_greedy_on_medium_first() -> None:
    # Better soft never makes up for a worse medium.
    r = row("M", plan_summary(-12, -900), plan_summary(-13, -100), Bound(-13, -100))
    assert {">=greedy", ">greedy"} <= failed(judge(r))


def test_an_invalid_plan_fails_loudly() -> None:
    r = row("S", plan_summary(-12, -500), plan_summary(-11, -400, valid=False), Bound(-11, -400))
    assert "valid" in failed(judge(r))
    assert not replace(r, verdicts=tuple(judge(r))).valid


def test_slow_solves_miss_the_time_target() -> None:
    r = row("M", plan_summary(-12, -500), plan_summary(-11, -400, seconds=31.0), Bound(-11, -300))
    assert failed(judge(r)) == {"time"}


def test_l_and_xl_must_be_proven_or_within_one_percent_of_the_solvers_own_bound() -> None:
    greedy, elig = plan_summary(-400, -5000), Score(0, -250, 0)
    for scale in ("L", "XL"):
        proven = judge(row(scale, greedy, plan_summary(-330, -5000), Bound(-330, 0), elig))
        near = judge(row(scale, greedy, plan_summary(-332, -5000), Bound(-330, 0), elig))
        far = judge(row(scale, greedy, plan_summary(-334, -5000), Bound(-330, 0), elig))
        unproven = judge(row(scale, greedy, plan_summary(-330, -5000), None, elig))
        assert "near bound" not in failed(proven) | failed(near)
        assert "near bound" in failed(far) & failed(unproven)


def test_the_eligibility_bound_is_only_shown_beside_the_proven_one() -> None:
    greedy = plan_summary(-40, -5000)
    r = row("L", greedy, plan_summary(-33, -5000), Bound(-33, 0), Score(0, -20, 0))
    (verdict,) = [v for v in judge(r) if v.target == "near bound"]
    assert verdict.passed  # halfway to the eligibility bound would be -30, out of reach
    assert verdict.detail == (
        "medium -33, proven bound -33, eligibility bound -20; medium proven optimal"
    )


def test_xl_must_fit_in_four_gigabytes() -> None:
    r = row("XL", plan_summary(-40, -5000), plan_summary(-30, -4000), Bound(-30, 0), peak_mb=5000.0)
    assert failed(judge(r)) == {"memory"}


def test_summaries_give_medians_and_ratios() -> None:
    rows = [
        row("M", plan_summary(-20, -1000), plan_summary(-15, -800), Bound(-15, -700)),
        row("M", plan_summary(-30, -1000), plan_summary(-20, -900), Bound(-20, -800)),
    ]
    (summary,) = summarize_by_scale(rows)
    assert summary.runs == 2
    assert summary.matcher_medium == -17.5
    assert summary.travel_ratio == pytest.approx((0.8 + 0.9) / 2)
    # Greedy -20 and -30 against an eligibility bound of -10: 50% and 50% of the gap.
    assert summary.gap_closed == pytest.approx(0.5)


def test_summarize_reads_the_validator_not_the_plan() -> None:
    problem = generate_problem("S", 1)
    plan = solve_greedy(problem)
    honest = summarize(problem, plan, 0.5)
    assert honest.valid and honest.score == plan.score
    assert honest.assigned == len(plan.assignments)
    assert sum(honest.unassigned_by_reason.values()) == len(plan.unassigned)
    assert honest.travel_minutes >= 0

    boasting = replace(plan, score=Score(0, 0, 0))
    assert not summarize(problem, boasting, 0.5).valid

    first = plan.assignments[0]
    doubled = replace(
        plan,
        assignments=(*plan.assignments, Assignment(first.session, first.provider, first.start)),
    )
    assert not summarize(problem, doubled, 0.5).valid


def test_peak_memory_is_measured() -> None:
    assert peak_rss_mb() > 10


def test_bench_runs_end_to_end_on_scale_s() -> None:
    """One small instance through the whole runner, solver process included (a few seconds)."""
    events: list[BenchEvent] = []
    rows = run_bench(["S"], [1], time_limit=2.0, workers=2, progress=events.append)
    (r,) = rows
    assert r.error is None, r.error
    assert r.valid, [v for v in r.verdicts if not v.passed]
    assert r.greedy is not None and r.matcher is not None
    assert r.matcher.score >= r.greedy.score
    assert r.sessions == 60 and r.providers == 30
    assert r.peak_mb is not None and r.peak_mb > 0
    assert {v.target for v in r.verdicts} >= {"valid", ">=greedy", ">greedy", "time", "optimal"}
    assert events[-1].stage == "finished"
    document = bench_document(rows)
    assert json.loads(json.dumps(document))["rows"][0]["valid"] is True


@pytest.mark.bench
def test_bench_s_and_m_meet_their_targets() -> None:
    """The real targets with the default time limits; run with `pytest -m bench`."""
    rows = run_bench(["S", "M"], [1, 2])
    assert all(r.valid for r in rows)
    assert all(r.passed for r in rows), [(r.scale, r.seed, r.verdict) for r in rows]


def dense_row(matcher: PlanSummary, peer: PlanSummary) -> BenchRow:
    greedy = plan_summary(-20, -5000)
    return replace(row("dense", greedy, matcher, None), peer=peer)


def test_on_dense_days_the_matcher_must_staff_as_much_as_the_routing_peer() -> None:
    verdicts = judge(dense_row(plan_summary(-6, -2000), plan_summary(-5, -2500)))
    assert "medium>=peer" in failed(verdicts)
    assert "travel+idle<=peer" not in failed(verdicts)


def test_on_dense_days_travel_and_idle_must_not_exceed_the_routing_peers() -> None:
    mine = replace(plan_summary(-5, -2100), travel_minutes=1900, idle_minutes=200)
    theirs = replace(plan_summary(-5, -2050), travel_minutes=2000, idle_minutes=50)
    assert failed(judge(dense_row(mine, theirs))) >= {"travel+idle<=peer"}
    better = replace(mine, idle_minutes=0)
    assert not {"medium>=peer", "travel+idle<=peer"} & failed(judge(dense_row(better, theirs)))


def test_where_the_matcher_staffs_more_the_verdict_also_gives_its_cost_on_the_peers_work() -> None:
    mine = replace(plan_summary(-5, -2100), travel_minutes=2100)
    theirs = replace(plan_summary(-7, -2050), travel_minutes=2050)
    same_work = replace(plan_summary(0, -1800), travel_minutes=1800)
    row = replace(dense_row(mine, theirs), at_peer_work=same_work)
    (verdict,) = [v for v in judge(row) if v.target == "travel+idle<=peer"]
    assert not verdict.passed  # reported beside the target, never instead of it
    assert "2 priority points more" in verdict.detail
    assert "on the peer's sessions alone its travel+idle is 1800 (medium 0)" in verdict.detail


def test_a_peer_that_leaves_a_session_out_gets_the_matcher_solved_on_its_work_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import matching_bench.routing_peer as routing_peer

    real = routing_peer.solve_routing
    dropped: list[str] = []

    def leaving_one_out(problem: Problem, **options: Any) -> Plan:
        plan = real(problem, **options)
        first, *rest = plan.assignments
        dropped.append(first.session)
        out = Unassigned(first.session, "capacity", "left out by this test")
        return replace(plan, assignments=tuple(rest), unassigned=(*plan.unassigned, out))

    monkeypatch.setattr(routing_peer, "solve_routing", leaving_one_out)
    spec = dense_spec(0.3)
    (r,) = run_bench([spec], [1], time_limit=3.0, workers=1, isolate=False, peer="routing")
    assert r.valid and r.peer is not None and r.matcher is not None
    assert r.matcher.score.medium > r.peer.score.medium
    same = r.at_peer_work
    assert same is not None and same.valid
    left_out = sum(r.peer.unassigned_by_reason.values())
    assert same.assigned + sum(same.unassigned_by_reason.values()) == r.sessions - left_out
    assert same.score.medium == 0  # the peer staffed all of these, so the matcher can too
    (verdict,) = [v for v in r.verdicts if v.target == "travel+idle<=peer"]
    assert f"travel+idle is {same.travel_minutes + same.idle_minutes} (medium 0)" in verdict.detail


def test_a_dense_day_with_group_work_is_benched_against_the_greedy_but_not_the_peer() -> None:
    spec = dense_spec(0.4, groups=2, ladders=2)
    (r,) = run_bench([spec], [1], time_limit=3.0, workers=1, isolate=False)
    assert r.valid, r.error
    assert (r.label, r.groups, r.ladders) == ("dense 2g 2l", 2, 2)
    assert r.to_dict()["groups"] == 2
    with pytest.raises(ValueError, match="knows no group sessions"):
        run_bench([spec], [1], time_limit=3.0, peer="routing")
