"""The matcher against the greedy dispatcher on generated instances, with the targets checked.

For every (scale, seed) the runner generates the instance, computes the
eligibility bound (what no plan can beat), runs the greedy baseline and the
CP-SAT matcher, validates both plans from scratch and checks the targets:

- S: proven optimal on both levels (score == bound) within 10 s;
- M: medium proven optimal within 30 s;
- L: within 60 s; XL: within 300 s, under 4 GB, and no worse than the greedy;
  both: medium proven optimal, or within 1% of the solver's own proven bound
  (`NEAR_BOUND`; the eligibility bound, far looser on these sizes, is only
  shown);
- dense (with `peer="routing"`, the OR-Tools routing library as a reference,
  `matching_bench.routing_peer`): medium never below the peer's, and travel
  plus idle at or below the peer's. Where the matcher staffs more than the
  peer, the extra sessions cost travel, so the row also holds the matcher's
  plan of the sessions the peer staffed (`at_peer_work`): routing compared on
  the same work. It is reported beside the target, never instead of it;
- everywhere: both plans valid, the matcher no worse than the greedy level by
  level, and strictly better unless its tie with the greedy is proven optimal.

The matcher runs in a fresh (spawned) process per instance, so the peak
memory reported is that instance's alone: OR-Tools allocates in C++, where
tracemalloc cannot see, so the peak is the child's high-water mark of
resident memory (VmHWM, or ru_maxrss where /proc is missing).
"""

from __future__ import annotations

import importlib.metadata
import multiprocessing
import os
import platform
import resource
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from statistics import median
from typing import Any

from matching.eligibility import compute_eligibility
from matching.greedy import solve_greedy
from matching.places import flatten, fold_plan
from matching.problem import Bound, Plan, Problem, Score
from matching.solve import solve
from matching.timeline import Timeline
from matching.travel import Travel
from matching.validate import eligibility_bound, provider_days, validate
from matching_bench.generate import ScaleSpec, generate_problem, scale_label, scale_spec

BENCH_FORMAT = "truchement.bench/1"

TARGET_SECONDS: dict[str, float] = {"S": 10.0, "M": 30.0, "L": 60.0, "XL": 300.0, "dense": 30.0}
"""Seconds each scale must be solved within; also the default time limit."""
MEMORY_LIMIT_MB = 4096.0
"""The XL instance must fit a 4 GB worker."""
NEAR_BOUND = 0.01
"""How far below the solver's proven medium bound an L or XL plan may be (the brief's 1%)."""
GRACE_SECONDS = 60.0
"""How long past its time limit a solver process may run before it is killed."""


@dataclass(frozen=True)
class PlanSummary:
    """What the bench keeps of one plan: the validator's view, never the plan's own claims."""

    score: Score
    declared: Score
    valid: bool
    violations: int
    first_violation: str | None
    assigned: int
    unassigned_by_reason: dict[str, int]
    travel_minutes: int
    preferred_kept: int
    seconds: float
    idle_minutes: int = 0
    """Waiting of the providers whose idle time counts (docs/problem.md)."""


@dataclass(frozen=True)
class Verdict:
    """One target, whether it was met, and the numbers behind it."""

    target: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class BenchRow:
    """One instance: sizes, bounds, both plans and the verdicts; `error` if a run broke."""

    scale: str
    seed: int
    sessions: int
    providers: int
    days: int
    time_limit: float
    workers: int | None
    eligibility_bound: Score | None = None
    greedy: PlanSummary | None = None
    matcher: PlanSummary | None = None
    status: str | None = None
    bound: Bound | None = None
    peak_mb: float | None = None
    verdicts: tuple[Verdict, ...] = ()
    error: str | None = None
    peer: PlanSummary | None = None
    """The reference solver's plan (`--peer routing`), judged by the same validator."""
    at_peer_work: PlanSummary | None = None
    """Where the matcher staffs more than the peer: its plan of the instance less the
    sessions the peer left out, solved with the same limit."""
    groups: int = 0
    """Dense only: onsite sessions made two-place groups (`ScaleSpec.groups`)."""
    ladders: int = 0
    """Dense only: onsite sessions that may go to video (`ScaleSpec.ladders`)."""

    @property
    def label(self) -> str:
        return scale_label(self.scale, self.groups, self.ladders)

    @property
    def valid(self) -> bool:
        """Both plans exist and pass the validator."""
        return (
            self.error is None
            and self.greedy is not None
            and self.matcher is not None
            and self.greedy.valid
            and self.matcher.valid
        )

    @property
    def passed(self) -> bool:
        return self.error is None and all(v.passed for v in self.verdicts)

    @property
    def verdict(self) -> str:
        """A short word for tables: `pass`, `FAIL: <targets>` or `ERROR`."""
        if self.error is not None:
            return "ERROR"
        failed = [v.target for v in self.verdicts if not v.passed]
        return "pass" if not failed else "FAIL: " + ", ".join(failed)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["valid"] = self.valid
        data["passed"] = self.passed
        data["verdict"] = self.verdict
        return data


@dataclass(frozen=True)
class BenchEvent:
    """Progress of a bench run, for a progress bar.

    `done` counts finished instances; `fraction` is how far the current one
    is, estimated from the solver's elapsed time against its limit.
    """

    done: int
    total: int
    scale: str
    seed: int
    stage: str
    fraction: float = 0.0
    message: str = ""


BenchProgress = Callable[[BenchEvent], None]


@dataclass
class _ChildResult:
    """What the solver process sends back: a summary, never the whole plan."""

    status: str = ""
    bound: Bound | None = None
    summary: PlanSummary | None = None
    peak_mb: float = 0.0
    error: str | None = None


def default_time_limit(scale: str | ScaleSpec) -> float:
    """The target seconds of a named scale (60 s for a custom one)."""
    return TARGET_SECONDS.get(scale_spec(scale).name, 60.0)


def run_bench(
    scales: Sequence[str | ScaleSpec],
    seeds: Sequence[int],
    *,
    time_limit: float | None = None,
    workers: int | None = None,
    progress: BenchProgress | None = None,
    isolate: bool = True,
    peer: str | None = None,
) -> list[BenchRow]:
    """One row per (scale, seed), in that order; a crash becomes an error row, not an exception.

    `time_limit` overrides the per-scale defaults (TARGET_SECONDS); the
    targets are still judged against TARGET_SECONDS. With `isolate=False`
    the matcher runs in this process and the peak memory is the process's.
    `peer="routing"` also runs the routing library's plan with the same limit (not on a
    dense day with group work, which the peer does not know: ValueError).
    """
    if peer not in (None, "routing"):
        raise ValueError(f"unknown peer {peer!r}; the only one is 'routing'")
    instances = [(scale_spec(scale), seed) for scale in scales for seed in seeds]
    if peer is not None and any(spec.groups or spec.ladders for spec, _ in instances):
        raise ValueError("the routing peer knows no group sessions or modality ladders")
    rows: list[BenchRow] = []
    for done, (spec, seed) in enumerate(instances):
        limit = time_limit if time_limit is not None else default_time_limit(spec)
        report = _reporter(progress, done, len(instances), spec.name, seed)
        rows.append(_run_one(spec, seed, limit, workers, isolate, report, peer))
    if progress is not None and instances:
        last = instances[-1]
        progress(BenchEvent(len(instances), len(instances), last[0].name, last[1], "finished", 1.0))
    return rows


def _reporter(
    progress: BenchProgress | None, done: int, total: int, scale: str, seed: int
) -> Callable[[str, float, str], None]:
    def report(stage: str, fraction: float, message: str) -> None:
        if progress is not None:
            progress(BenchEvent(done, total, scale, seed, stage, fraction, message))

    return report


def _run_one(
    spec: ScaleSpec,
    seed: int,
    limit: float,
    workers: int | None,
    isolate: bool,
    report: Callable[[str, float, str], None],
    peer: str | None = None,
) -> BenchRow:
    row = BenchRow(
        spec.name,
        seed,
        spec.sessions,
        spec.providers,
        spec.days,
        limit,
        workers,
        groups=spec.groups,
        ladders=spec.ladders,
    )
    stage = "generate"
    try:
        report("generate", 0.0, "")
        problem = generate_problem(spec, seed)
        stage = "eligibility"
        report("eligibility", 0.02, "")
        # Computed once for the bound and the greedy (it takes most of a minute on XL);
        # the greedy's time includes it, as a greedy run alone would.
        began = time.perf_counter()
        # Group sessions count place by place: the bound and the greedy read the flat problem.
        flat = flatten(problem)
        eligibility = compute_eligibility(flat)
        eligibility_seconds = time.perf_counter() - began
        elig = eligibility_bound(flat, eligibility)
        stage = "greedy"
        report("greedy", 0.05, "")
        began = time.perf_counter()
        greedy_plan = fold_plan(flat, solve_greedy(flat, eligibility=eligibility))
        greedy_seconds = eligibility_seconds + time.perf_counter() - began
        greedy = summarize(problem, greedy_plan, greedy_seconds)
        peer_summary: PlanSummary | None = None
        if peer == "routing":
            from matching_bench.routing_peer import solve_routing

            stage = "peer"
            report("peer", 0.05, "")
            began = time.perf_counter()
            peer_plan = solve_routing(problem, time_limit=limit, eligibility=eligibility)
            peer_summary = summarize(problem, peer_plan, time.perf_counter() - began)
        stage = "matcher"
        report("solve", 0.1, "")
        solver = _solve_isolated if isolate else _solve_here
        child = solver(problem, limit, workers, report)
        if child.error is not None or child.summary is None:
            return replace(
                row, eligibility_bound=elig, greedy=greedy, error=f"matcher: {child.error}"
            )
        row = replace(
            row,
            eligibility_bound=elig,
            greedy=greedy,
            matcher=child.summary,
            status=child.status,
            bound=child.bound,
            peak_mb=round(child.peak_mb, 1),
            peer=peer_summary,
        )
        if peer_summary is not None and child.summary.score.medium > peer_summary.score.medium:
            stage = "matcher on the peer's work"
            left_out = {u.session for u in peer_plan.unassigned}
            same_work = replace(
                problem, sessions=tuple(s for s in problem.sessions if s.id not in left_out)
            )
            again = solver(same_work, limit, workers, report)
            row = replace(row, at_peer_work=again.summary)
        return replace(row, verdicts=tuple(judge(row)))
    except Exception as exc:
        return replace(row, error=f"{stage}: {type(exc).__name__}: {exc}")


def summarize(problem: Problem, plan: Plan, seconds: float) -> PlanSummary:
    """The validator's verdict and score of `plan`, and the counts a table shows."""
    check = validate(problem, plan)
    preferred = {s.id: s.preferred_providers for s in problem.sessions}
    kept = sum(1 for a in plan.assignments if a.provider in preferred.get(a.session, ()))
    reasons = Counter(u.reason for u in plan.unassigned)
    travel, timeline = Travel(problem.travel), Timeline.for_problem(problem)
    days = list(provider_days(problem, plan.assignments, travel=travel, timeline=timeline))
    problems = [f"rule {v.rule}: {v.message}" for v in check.violations]
    if not check.score_matches:
        problems.append(
            f"declares score {_fmt(plan.score)}, the validator finds {_fmt(check.score)}"
        )
    return PlanSummary(
        score=check.score,
        declared=plan.score,
        valid=not problems,
        violations=len(problems),
        first_violation=problems[0] if problems else None,
        assigned=len(plan.assignments),
        unassigned_by_reason=dict(sorted(reasons.items())),
        travel_minutes=sum(pd.travel_minutes for pd in days),
        preferred_kept=kept,
        seconds=round(seconds, 3),
        idle_minutes=sum(pd.idle_minutes for pd in days),
    )


def judge(row: BenchRow) -> list[Verdict]:
    """The targets of the row's scale, and the ones every scale must meet."""
    g, m, elig = row.greedy, row.matcher, row.eligibility_bound
    if g is None or m is None or elig is None:
        return [Verdict("ran", False, row.error or "a plan is missing")]
    verdicts = [
        Verdict(
            "valid",
            g.valid and m.valid,
            "both plans valid"
            if g.valid and m.valid
            else "; ".join(
                f"{who}: {s.violations} problem(s), first: {s.first_violation}"
                for who, s in (("greedy", g), ("matcher", m))
                if not s.valid
            ),
        )
    ]
    mine, theirs = (m.score.medium, m.score.soft), (g.score.medium, g.score.soft)
    verdicts.append(
        Verdict(">=greedy", mine >= theirs, f"matcher {_fmt(m.score)} vs greedy {_fmt(g.score)}")
    )
    proven = row.bound is not None and (row.bound.medium, row.bound.soft) == mine
    verdicts.append(
        Verdict(
            ">greedy",
            mine > theirs or (proven and mine == theirs),
            "strictly better"
            if mine > theirs
            else "tie at a proven optimum"
            if proven and mine == theirs
            else "tie with the greedy and not proven optimal"
            if mine == theirs
            else "worse than the greedy",
        )
    )
    target = TARGET_SECONDS.get(row.scale)
    if target is not None:
        verdicts.append(Verdict("time", m.seconds <= target, f"{m.seconds:.1f} s of {target:g} s"))
    bound = row.bound
    if row.scale == "S":
        verdicts.append(
            Verdict(
                "optimal",
                proven,
                f"score {_fmt(m.score)}, bound {_fmt_bound(bound)}, status {row.status}",
            )
        )
    elif row.scale == "M":
        medium_proven = bound is not None and bound.medium == m.score.medium
        verdicts.append(
            Verdict(
                "medium optimal",
                medium_proven,
                f"medium {m.score.medium}, bound {bound.medium if bound else 'none'}",
            )
        )
    elif row.scale in ("L", "XL"):
        verdicts.append(_near_bound(m.score.medium, bound, elig.medium))
    if row.scale == "XL":
        peak = row.peak_mb or 0.0
        verdicts.append(
            Verdict("memory", peak < MEMORY_LIMIT_MB, f"{peak:.0f} MB of {MEMORY_LIMIT_MB:.0f}")
        )
    if row.scale == "dense" and row.peer is not None:
        p = row.peer
        verdicts.append(
            Verdict(
                "medium>=peer",
                m.score.medium >= p.score.medium,
                f"medium {m.score.medium}, routing peer {p.score.medium}",
            )
        )
        mine_cost = m.travel_minutes + m.idle_minutes
        peer_cost = p.travel_minutes + p.idle_minutes
        detail = f"travel+idle {mine_cost}, routing peer {peer_cost}"
        same = row.at_peer_work
        if same is not None:
            detail += (
                f"; the matcher staffs {m.score.medium - p.score.medium} priority points more"
                f", and on the peer's sessions alone its travel+idle is "
                f"{same.travel_minutes + same.idle_minutes} (medium {same.score.medium})"
            )
        verdicts.append(Verdict("travel+idle<=peer", mine_cost <= peer_cost, detail))
    return verdicts


def _near_bound(medium: int, bound: Bound | None, eligibility: int) -> Verdict:
    """Medium proven optimal, or within `NEAR_BOUND` of the solver's own proven bound."""
    detail = f"medium {medium}, proven bound {bound.medium if bound else 'none'}"
    detail += f", eligibility bound {eligibility}"
    if bound is None:
        return Verdict("near bound", False, detail + "; no proven bound")
    gap = bound.medium - medium
    if gap == 0:
        return Verdict("near bound", True, detail + "; medium proven optimal")
    share = gap / max(abs(bound.medium), 1)
    return Verdict("near bound", share <= NEAR_BOUND, detail + f"; {share:.2%} below the bound")


def _solve_here(
    problem: Problem,
    limit: float,
    workers: int | None,
    report: Callable[[str, float, str], None],
) -> _ChildResult:
    began = time.monotonic()

    def tick(phase: str, objective: float, bound: float) -> None:
        elapsed = time.monotonic() - began
        report("solve", _solve_fraction(elapsed, limit), _progress_text(phase, objective, bound))

    return _solve_and_summarize(problem, limit, workers, tick)


def _solve_isolated(
    problem: Problem,
    limit: float,
    workers: int | None,
    report: Callable[[str, float, str], None],
) -> _ChildResult:
    """Run the matcher in a spawned process and relay its progress while waiting."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child_main, args=(sender, problem, limit, workers), name="truchement-bench-solve"
    )
    began = time.monotonic()
    process.start()
    sender.close()
    result: _ChildResult | None = None
    message = ""
    try:
        while result is None:
            elapsed = time.monotonic() - began
            if elapsed > limit + GRACE_SECONDS:
                return _ChildResult(error=f"no answer {elapsed:.0f} s after start; stopped")
            if receiver.poll(0.25):
                try:
                    kind, payload = receiver.recv()
                except EOFError:
                    process.join(5)
                    return _ChildResult(
                        error=f"the solver process died (exit code {process.exitcode})"
                    )
                if kind == "progress":
                    message = str(payload)
                else:
                    result = payload
            elif not process.is_alive():
                return _ChildResult(error=f"the solver process died (exit code {process.exitcode})")
            report("solve", _solve_fraction(elapsed, limit), message)
    finally:
        if process.is_alive() and result is None:
            process.kill()
        process.join(10)
        receiver.close()
    return result


def _child_main(conn: Connection, problem: Problem, limit: float, workers: int | None) -> None:
    """Entry point of the solver process: solve, summarize, send one result back."""
    try:

        def tick(phase: str, objective: float, bound: float) -> None:
            conn.send(("progress", _progress_text(phase, objective, bound)))

        conn.send(("result", _solve_and_summarize(problem, limit, workers, tick)))
    except BaseException:
        conn.send(("result", _ChildResult(error=traceback.format_exc(limit=-3).strip())))
    finally:
        conn.close()


def _solve_and_summarize(
    problem: Problem,
    limit: float,
    workers: int | None,
    tick: Callable[[str, float, float], None],
) -> _ChildResult:
    began = time.perf_counter()
    plan = solve(problem, time_limit=limit, workers=workers, progress=tick)
    seconds = time.perf_counter() - began
    peak = peak_rss_mb()
    summary = summarize(problem, plan, seconds)
    return _ChildResult(
        status=plan.stats.status, bound=plan.stats.bound, summary=summary, peak_mb=peak
    )


def peak_rss_mb() -> float:
    """This process's high-water mark of resident memory, C++ allocations included."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024


def _solve_fraction(elapsed: float, limit: float) -> float:
    return 0.1 + 0.85 * min(1.0, elapsed / max(limit, 0.1))


def _progress_text(phase: str, objective: float, bound: float) -> str:
    return f"{phase} {objective:.0f} (bound {bound:.0f})"


def bench_document(rows: Sequence[BenchRow]) -> dict[str, Any]:
    """The JSON document `truchement bench --out` writes: the machine, then one entry per row."""
    try:
        ortools_version = importlib.metadata.version("ortools")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a dependency
        ortools_version = "unknown"
    return {
        "format": BENCH_FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "ortools": ortools_version,
            "platform": platform.platform(),
        },
        "rows": [row.to_dict() for row in rows],
    }


def _fmt(score: Score) -> str:
    return f"{score.hard}/{score.medium}/{score.soft}"


def _fmt_bound(bound: Bound | None) -> str:
    return "none" if bound is None else f"{bound.medium}/{bound.soft}"


@dataclass(frozen=True)
class ScaleSummary:
    """Medians over the seeds of one scale, as the README table shows them.

    `gap_closed` is the share of the medium gap between the greedy and the
    eligibility bound that the matcher recovers (1.0 when there is no gap);
    the ratios are matcher over greedy.
    """

    scale: str
    runs: int
    passed: int
    valid: int
    greedy_medium: float
    matcher_medium: float
    eligibility_medium: float
    gap_closed: float
    assigned_ratio: float
    travel_ratio: float
    greedy_seconds: float
    matcher_seconds: float
    peak_mb: float


def summarize_by_scale(rows: Sequence[BenchRow]) -> list[ScaleSummary]:
    """One summary per scale, in the order the scales first appear; error rows only count."""
    by_scale: dict[str, list[BenchRow]] = {}
    for row in rows:
        by_scale.setdefault(row.label, []).append(row)
    summaries: list[ScaleSummary] = []
    for scale, group in by_scale.items():
        complete = [
            (r, r.greedy, r.matcher, r.eligibility_bound)
            for r in group
            if r.greedy is not None and r.matcher is not None and r.eligibility_bound is not None
        ]
        if not complete:
            nothing = float("nan")
            summaries.append(ScaleSummary(scale, len(group), 0, 0, *[nothing] * 9))
            continue
        gaps, assigned, travel = [], [], []
        for _, g, m, elig in complete:
            gap = elig.medium - g.score.medium
            gaps.append(1.0 if gap <= 0 else (m.score.medium - g.score.medium) / gap)
            assigned.append(m.assigned / g.assigned if g.assigned else float("nan"))
            travel.append(m.travel_minutes / g.travel_minutes if g.travel_minutes else float("nan"))
        summaries.append(
            ScaleSummary(
                scale=scale,
                runs=len(group),
                passed=sum(r.passed for r in group),
                valid=sum(r.valid for r in group),
                greedy_medium=median(g.score.medium for _, g, _, _ in complete),
                matcher_medium=median(m.score.medium for _, _, m, _ in complete),
                eligibility_medium=median(e.medium for _, _, _, e in complete),
                gap_closed=median(gaps),
                assigned_ratio=median(assigned),
                travel_ratio=median(travel),
                greedy_seconds=median(g.seconds for _, g, _, _ in complete),
                matcher_seconds=median(m.seconds for _, _, m, _ in complete),
                peak_mb=median(r.peak_mb or 0.0 for r, _, _, _ in complete),
            )
        )
    return summaries
