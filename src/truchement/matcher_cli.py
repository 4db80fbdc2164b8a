"""`truchement solve`, `generate` and `bench`: the matcher from the command line, no database.

A dispatcher exports a hard day as JSON and replays it, a tester generates
realistic instances, and the bench compares the matcher with the greedy
dispatcher on them. Errors a user can cause (a missing file, a typo in a
field) end in one line naming the problem and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from matching.problem import Plan, Problem, Score
    from matching_bench.generate import ScaleSpec
    from matching_bench.runner import BenchEvent, BenchRow, PlanSummary

DEFAULT_BENCH_OUT = Path("bench-results/bench.json")


def register(app: typer.Typer) -> None:
    """Add the matcher's commands to the `truchement` application."""
    app.command("solve")(solve_command)
    app.command("generate")(generate_command)
    app.command("bench")(bench_command)


def _fail(message: str, code: int = 1) -> typer.Exit:
    # Imported here: truchement.cli imports this module while it is being built.
    from truchement.cli import fail

    return fail(message, code)


def solve_command(
    problem_file: Path = typer.Argument(
        ..., metavar="PROBLEM.json", help="A truchement.problem/1 file."
    ),
    output: Path = typer.Option(
        ..., "-o", "--output", metavar="PLAN.json", help="Where to write the plan."
    ),
    time_limit: float = typer.Option(10.0, "--time-limit", min=0.1, help="Seconds for the solver."),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="CP-SAT search workers (default: the solver's choice)."
    ),
    explain: bool = typer.Option(
        False, "--explain", help="Also print why each unassigned session stays open."
    ),
) -> None:
    """Solve PROBLEM.json and write the plan; exit 0 only with a valid plan."""
    problem = _read_problem(problem_file)
    from matching.model import InfeasibleFixedError
    from matching.solve import BrokenPlanError, solve
    from matching.validate import validate

    began = time.perf_counter()
    try:
        plan = solve(problem, time_limit=time_limit, workers=workers)
    except InfeasibleFixedError as exc:
        # Pinned assignments that cannot all be kept are the user's data, not a crash.
        raise _fail(f"cannot solve {problem_file}: {exc}", 2) from None
    except BrokenPlanError as exc:
        raise _fail(f"the matcher built an invalid plan, nothing written: {exc}", 1) from None
    seconds = time.perf_counter() - began
    check = validate(problem, plan)
    if not check.ok:
        first = check.violations[0]
        raise _fail(
            f"the solver produced an invalid plan ({len(check.violations)} broken rule(s), "
            f"first: rule {first.rule}: {first.message}); nothing written",
            1,
        )
    _write_plan(plan, output, problem.timezone)
    bound = plan.stats.bound
    staffed = len({a.session for a in plan.assignments})  # a group's places count once
    typer.echo(
        f"{plan.stats.status}: {staffed}/{len(problem.sessions)} sessions assigned, "
        f"score {_score(check.score)}, "
        f"bound {'none' if bound is None else f'{bound.medium}/{bound.soft}'}, "
        f"{seconds:.1f} s -> {output}"
    )
    if explain:
        _explain(problem, plan)


def _read_problem(path: Path) -> Problem:
    from matching.io import ProblemFormatError, load_problem

    try:
        return load_problem(path)
    except FileNotFoundError:
        raise _fail(f"{path}: no such file", 2) from None
    except IsADirectoryError:
        raise _fail(f"{path}: is a directory, not a problem file", 2) from None
    except PermissionError:
        raise _fail(f"{path}: permission denied", 2) from None
    except UnicodeDecodeError:
        raise _fail(f"{path}: not UTF-8 text", 2) from None
    except ProblemFormatError as exc:
        where = f"{path}: " if exc.path else ""
        raise _fail(f"{where}{exc}", 2) from None


def _write_plan(plan: Plan, output: Path, timezone: str) -> None:
    from matching.io import dump_plan

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        dump_plan(plan, output, timezone=timezone)
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror or exc}", 2) from None


def _console() -> Console:
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        # Piped into a file or a CI log: no terminal width to respect, keep tables whole.
        console = Console(width=200)
    return console


def _explain(problem: Problem, plan: Plan) -> None:
    from rich.table import Table

    console = _console()
    if not plan.unassigned:
        console.print("Every session is assigned.")
        return
    sessions = {s.id: s for s in problem.sessions}
    table = Table(title="Unassigned sessions", title_justify="left")
    for column in ("session", "language", "start", "priority", "reason", "detail"):
        table.add_column(column)
    for item in plan.unassigned:
        s = sessions.get(item.session)
        table.add_row(
            item.session,
            s.language if s else "?",
            s.start.strftime("%a %d %b %H:%M") if s else "?",
            str(s.priority) if s else "?",
            item.reason,
            plan.explanations.get(item.session, item.detail),
        )
    console.print(table)


def generate_command(
    scale: str = typer.Option("M", "--scale", help="S, M, L, XL or dense."),
    seed: int = typer.Option(1, "--seed", help="The same seed gives the same problem."),
    output: Path = typer.Option(..., "-o", "--output", metavar="PROBLEM.json"),
    density: float | None = typer.Option(
        None, "--density", min=0.1, max=3.0, help="dense only: sessions per 100 (default 1.0)."
    ),
    groups: int = typer.Option(
        0, "--groups", min=0, help="dense only: onsite sessions made two-place groups."
    ),
    ladders: int = typer.Option(
        0, "--ladders", min=0, help="dense only: onsite sessions that may go to video."
    ),
) -> None:
    """Write a realistic problem of the border area (see benchmarks/README.md)."""
    from matching.io import dump_problem
    from matching_bench.generate import working_days

    spec = _spec(scale, density, groups, ladders)
    problem = _generated(spec, seed)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        dump_problem(problem, output)
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror or exc}", 2) from None
    first = working_days(spec.days)[0]
    typer.echo(
        f"scale {spec.name} seed {seed}: {len(problem.sessions)} sessions, "
        f"{len(problem.providers)} providers, {spec.days} working days from {first} -> {output}"
    )


def _spec(scale: str, density: float | None, groups: int = 0, ladders: int = 0) -> ScaleSpec:
    """The named scale; `--density`, `--groups` and `--ladders` reshape `dense` only."""
    from matching_bench.generate import dense_spec, scale_spec

    try:
        spec = scale_spec(scale)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    if spec.name != "dense":
        if density is not None:
            raise _fail("--density only applies to --scale dense", 2)
        if groups or ladders:
            raise _fail("--groups and --ladders only apply to --scale dense", 2)
        return spec
    if density is None and not (groups or ladders):
        return spec
    return dense_spec(spec.density if density is None else density, groups, ladders)


def _generated(spec: ScaleSpec, seed: int) -> Problem:
    """The instance of `spec` and `seed`; more group work than onsite sessions is refused."""
    from matching_bench.generate import generate_problem

    try:
        return generate_problem(spec, seed)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None


def bench_command(
    scales: list[str] = typer.Option(
        ["S", "M"],
        "--scale",
        help="S, M, L, XL or dense; repeat for several (default: S and M).",
    ),
    seeds: list[int] = typer.Option([1], "--seed", help="Repeat for several (default: 1)."),
    time_limit: float | None = typer.Option(
        None,
        "--time-limit",
        min=0.1,
        help="Seconds per solve (default per scale: S 10, M 30, L 60, XL 300).",
    ),
    workers: int | None = typer.Option(None, "--workers", min=1, help="CP-SAT search workers."),
    out: Path = typer.Option(DEFAULT_BENCH_OUT, "--out", help="Where to write the JSON results."),
    strict: bool = typer.Option(
        False, "--strict", help="Also exit non-zero when a target is missed."
    ),
    peer: str | None = typer.Option(
        None, "--peer", help="Also run a reference solver: 'routing' (OR-Tools routing library)."
    ),
    density: float | None = typer.Option(
        None, "--density", min=0.1, max=3.0, help="dense only: sessions per 100 (default 1.0)."
    ),
    groups: int = typer.Option(
        0, "--groups", min=0, help="dense only: onsite sessions made two-place groups."
    ),
    ladders: int = typer.Option(
        0, "--ladders", min=0, help="dense only: onsite sessions that may go to video."
    ),
) -> None:
    """Greedy against the matcher on generated instances; exit non-zero if a plan is invalid."""
    if peer not in (None, "routing"):
        raise _fail(f"unknown peer {peer!r}; the only one is 'routing'", 2)
    if peer and (groups or ladders):
        raise _fail("the routing peer knows no group sessions or ladders: drop --peer", 2)
    dense = [s for s in scales if s.lower() == "dense"]
    if (groups or ladders) and len(dense) < len(scales):
        raise _fail("--groups and --ladders only apply to --scale dense", 2)
    specs = [_spec(s, density, groups, ladders) if s in dense else _spec(s, None) for s in scales]
    for spec in specs:
        if spec.groups or spec.ladders:
            for seed in seeds:
                _generated(spec, seed)  # a day with too few onsite sessions is refused up front
    from matching_bench.runner import bench_document

    console = _console()
    rows = _run_with_progress(console, specs, seeds, time_limit, workers, peer)
    console.print(bench_table(rows))
    for row in rows:
        for verdict in row.verdicts:
            if not verdict.passed:
                console.print(f"[yellow]missed[/] {verdict.target}, {row.label} seed {row.seed}:")
                console.print(f"  {verdict.detail}", highlight=False)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(bench_document(rows), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    except OSError as exc:
        raise _fail(f"cannot write {out}: {exc.strerror or exc}", 2) from None
    console.print(f"results written to {out}")
    broken = [r for r in rows if not r.valid]
    for row in broken:
        console.print(f"[bold red]FAILURE[/] {row.label} seed {row.seed}: {_failure(row)}")
    if broken:
        raise _fail(f"{len(broken)} run(s) without two valid plans", 1)
    missed = [r for r in rows if not r.passed]
    if strict and missed:
        raise _fail(f"{len(missed)} run(s) missed a target", 1)


def _run_with_progress(
    console: Console,
    specs: list[ScaleSpec],
    seeds: list[int],
    time_limit: float | None,
    workers: int | None,
    peer: str | None = None,
) -> list[BenchRow]:
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from matching_bench.runner import run_bench

    total = len(specs) * len(seeds)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[detail]}"),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("bench", total=total, detail="")

        def on_event(event: BenchEvent) -> None:
            bar.update(
                task,
                completed=event.done + event.fraction,
                description=f"{event.scale} seed {event.seed}: {event.stage}",
                detail=event.message,
            )

        return run_bench(
            specs, seeds, time_limit=time_limit, workers=workers, progress=on_event, peer=peer
        )


def bench_table(rows: list[BenchRow]) -> Table:
    """The rich table of a bench run, one line per instance."""
    from rich.table import Table

    peers = any(r.peer is not None for r in rows)
    title = "Matcher vs greedy" + (" and the routing peer" if peers else "")
    table = Table(title=f"{title} (score = hard/medium/soft, higher is better)")
    columns = (
        "scale",
        "seed",
        "sessions",
        "providers",
        "greedy",
        "matcher",
        "bound",
        "elig. bound",
        "assigned m/g",
        "travel min m/g",
        *(("idle min m/p", "peer", "travel+idle m/p", "peer s") if peers else ()),
        "seconds",
        "peak MB",
        "verdict",
    )
    for name in columns:
        table.add_column(name, justify="left" if name in ("scale", "verdict") else "right")
    for r in rows:
        g, m = r.greedy, r.matcher
        verdict = r.verdict
        style = "green" if verdict == "pass" else "red" if not r.valid else "yellow"
        table.add_row(
            r.label,
            str(r.seed),
            str(r.sessions),
            str(r.providers),
            _score(g.score) if g else "-",
            _score(m.score) if m else "-",
            f"{r.bound.medium}/{r.bound.soft}" if r.bound else "-",
            f"{r.eligibility_bound.medium}/{r.eligibility_bound.soft}"
            if r.eligibility_bound
            else "-",
            f"{m.assigned}/{g.assigned}" if m and g else "-",
            f"{m.travel_minutes}/{g.travel_minutes}" if m and g else "-",
            *(_peer_cells(m, r.peer) if peers else ()),
            f"{m.seconds:.1f}" if m else "-",
            f"{r.peak_mb:.0f}" if r.peak_mb is not None else "-",
            f"[{style}]{verdict}[/]",
        )
    return table


def _peer_cells(m: PlanSummary | None, p: PlanSummary | None) -> tuple[str, ...]:
    """Idle, the peer's score, travel plus idle (matcher/peer) and the peer's seconds."""
    if m is None or p is None:
        return ("-", "-", "-", "-")
    return (
        f"{m.idle_minutes}/{p.idle_minutes}",
        _score(p.score),
        f"{m.travel_minutes + m.idle_minutes}/{p.travel_minutes + p.idle_minutes}",
        f"{p.seconds:.1f}",
    )


def _failure(row: BenchRow) -> str:
    if row.error is not None:
        return row.error
    parts = [
        f"{who} plan: {s.first_violation}"
        for who, s in (("greedy", row.greedy), ("matcher", row.matcher))
        if s is not None and not s.valid
    ]
    return "; ".join(parts) or "a plan is missing"


def _score(score: Score) -> str:
    return f"{score.hard}/{score.medium}/{score.soft}"
