"""Run the matcher bench over several seeds and print the medians for benchmarks/README.md.

    .venv/bin/python benchmarks/run_bench.py --scale S --scale M --seeds 1-5
    .venv/bin/python benchmarks/run_bench.py --scale L --seeds 1-3 --time-limit 60

Same runner as `truchement bench` (matching_bench.runner.run_bench): one spawned
solver process per instance, both plans validated. Writes every row as JSON
under bench-results/ (git-ignored) and prints a per-row line, then a Markdown
table of medians and matcher/greedy ratios. Exit code 1 if a plan is invalid.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path

from matching_bench.runner import (
    BenchEvent,
    BenchRow,
    ScaleSummary,
    bench_document,
    run_bench,
    summarize_by_scale,
)


def parse_seeds(text: str) -> list[int]:
    """`1-5`, `1,3,7` or a mix such as `1-3,10`."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            low, high = part.split("-", 1)
            seeds.extend(range(int(low), int(high) + 1))
        elif part:
            seeds.append(int(part))
    if not seeds:
        raise argparse.ArgumentTypeError(f"no seed in {text!r}")
    return seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--scale", action="append", dest="scales", help="S, M, L or XL (repeat; default S and M)"
    )
    parser.add_argument(
        "--seeds", type=parse_seeds, default=[1, 2, 3], help="e.g. 1-5 (default 1-3)"
    )
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per solve")
    parser.add_argument("--workers", type=int, default=None, help="CP-SAT search workers")
    parser.add_argument("--out", type=Path, default=None, help="JSON output path")
    args = parser.parse_args(argv)
    scales: list[str] = args.scales or ["S", "M"]
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out: Path = args.out or Path("bench-results") / f"run-{stamp}.json"

    def progress(event: BenchEvent) -> None:
        if event.stage in ("generate", "finished"):
            print(f"[{event.done}/{event.total}] {event.scale} seed {event.seed}", file=sys.stderr)

    rows = run_bench(
        scales, args.seeds, time_limit=args.time_limit, workers=args.workers, progress=progress
    )
    for row in rows:
        print(row_line(row))
    summaries = summarize_by_scale(rows)
    print()
    print(markdown_table(summaries))
    out.parent.mkdir(parents=True, exist_ok=True)
    document = bench_document(rows)
    document["summaries"] = [vars(s) for s in summaries]
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nrows written to {out}")
    return 0 if all(r.valid for r in rows) else 1


def row_line(row: BenchRow) -> str:
    g, m = row.greedy, row.matcher
    if g is None or m is None:
        return f"{row.scale} seed {row.seed}: ERROR {row.error}"
    bound = f"{row.bound.medium}/{row.bound.soft}" if row.bound else "none"
    return (
        f"{row.scale} seed {row.seed}: greedy {g.score.medium}/{g.score.soft} "
        f"({g.seconds:.1f} s), matcher {m.score.medium}/{m.score.soft} ({m.seconds:.1f} s, "
        f"{row.status}, bound {bound}, {row.peak_mb or 0:.0f} MB), "
        f"eligibility bound {row.eligibility_bound.medium if row.eligibility_bound else '?'}, "
        f"assigned {m.assigned} vs {g.assigned}, travel {m.travel_minutes} vs "
        f"{g.travel_minutes} min: {row.verdict}"
    )


def markdown_table(summaries: list[ScaleSummary]) -> str:
    lines = [
        "| scale | runs | pass | valid | medium greedy | medium matcher | eligibility bound "
        "| gap closed | assigned m/g | travel m/g | s greedy | s matcher | peak MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        lines.append(
            f"| {s.scale} | {s.runs} | {s.passed} | {s.valid} | {_n(s.greedy_medium)} "
            f"| {_n(s.matcher_medium)} | {_n(s.eligibility_medium)} | {_pct(s.gap_closed)} "
            f"| {_r(s.assigned_ratio)} | {_r(s.travel_ratio)} | {_r(s.greedy_seconds, 1)} "
            f"| {_r(s.matcher_seconds, 1)} | {_n(s.peak_mb)} |"
        )
    return "\n".join(lines)


def _n(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:g}"


def _r(value: float, digits: int = 3) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0%}"


if __name__ == "__main__":
    sys.exit(main())
