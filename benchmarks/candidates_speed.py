"""How fast a dispatcher's override list answers: `rank_candidates` on a generated instance.

    .venv/bin/python benchmarks/candidates_speed.py --scale M --seed 1 --sessions 100

Builds the greedy plan of the instance (the plan a dispatcher would be
looking at), then ranks every provider for a sample of its sessions and
prints the median and the slowest time. The target (issue 3): well under a
second on M. Reports times, not pass/fail: the machine is shared.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from matching.candidates import rank_candidates
from matching.greedy import solve_greedy
from matching.timeline import Timeline
from matching.travel import Travel
from matching_bench.generate import generate_problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="M")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sessions", type=int, default=100, help="how many sessions to rank")
    args = parser.parse_args()

    problem = generate_problem(args.scale, args.seed)
    plan = solve_greedy(problem)
    timeline, travel = Timeline.for_problem(problem), Travel(problem.travel)
    sample = random.Random(args.seed).sample(
        [s.id for s in problem.sessions], min(args.sessions, len(problem.sessions))
    )
    seconds: list[float] = []
    for session_id in sample:
        began = time.perf_counter()
        rank_candidates(problem, plan, session_id, timeline=timeline, travel=travel)
        seconds.append(time.perf_counter() - began)
    print(
        f"{args.scale} seed {args.seed}: {len(seconds)} sessions ranked, "
        f"median {statistics.median(seconds) * 1000:.1f} ms, "
        f"slowest {max(seconds) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
