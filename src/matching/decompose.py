"""Independent parts of a problem, and the days of a part.

Two sessions interact only through a provider who could take both. The
connected components of the session-provider eligibility graph (pinned pairs
included) can therefore be solved one at a time, and their plans, scores and
bounds simply add up. A part too large for one model is solved day by day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from matching.eligibility import Option


@dataclass(frozen=True)
class Part:
    """Sessions and providers that interact only among themselves."""

    sessions: tuple[int, ...]
    providers: tuple[int, ...]
    size: int
    """Start ranges over all options: the size of its model, used to share the time."""


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = self.parent.setdefault(x, x)
        while root != self.parent[root]:
            root = self.parent[root]
        while x != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def decompose(options: Mapping[int, Iterable[Option]]) -> list[Part]:
    """The connected components of sessions and the providers who may take them, largest first.

    `options` maps each placeable session to its options (pinned pairs
    included). Sessions without options belong to no part.
    """
    links = _UnionFind()
    # Providers get negative keys so they never collide with session indices.
    sizes: dict[int, int] = defaultdict(int)
    for s_idx, opts in options.items():
        links.find(s_idx)
        for option in opts:
            links.union(s_idx, -1 - option.provider)
            sizes[s_idx] += len(option.ranges)
    sessions: dict[int, list[int]] = defaultdict(list)
    providers: dict[int, list[int]] = defaultdict(list)
    for key in list(links.parent):
        root = links.find(key)
        if key >= 0:
            sessions[root].append(key)
        else:
            providers[root].append(-1 - key)
    parts = [
        Part(
            tuple(sorted(members)),
            tuple(sorted(providers[root])),
            sum(sizes[s] for s in members),
        )
        for root, members in sessions.items()
    ]
    parts.sort(key=lambda p: (-p.size, p.sessions[0]))
    return parts


def bundle(parts: Sequence[Part], *, up_to: int) -> list[list[Part]]:
    """Group small parts so that each model holds up to `up_to` start ranges; large ones alone.

    Solving hundreds of one-session parts one model at a time costs more in
    setup than in search; bundled, they stay independent inside one model.
    """
    groups: list[list[Part]] = []
    current: list[Part] = []
    filled = 0
    for part in parts:
        if part.size >= up_to:
            groups.append([part])
            continue
        if current and filled + part.size > up_to:
            groups.append(current)
            current, filled = [], 0
        current.append(part)
        filled += part.size
    if current:
        groups.append(current)
    return groups


def day_of_sessions(
    options: Mapping[int, Iterable[Option]], sessions: Iterable[int], preferred: Mapping[int, int]
) -> dict[int, int]:
    """One local day per session for rolling: its own start's day if possible, else its first.

    `preferred` gives the day each session's own start falls on.
    """
    chosen: dict[int, int] = {}
    for s_idx in sessions:
        days = {r.day for option in options.get(s_idx, ()) for r in option.ranges}
        if not days:
            continue
        own = preferred.get(s_idx)
        chosen[s_idx] = own if own in days else min(days)
    return chosen


def by_day(day_of: Mapping[int, int]) -> list[tuple[int, list[int]]]:
    """Sessions grouped by their day, in day order."""
    grouped: dict[int, list[int]] = defaultdict(list)
    for s_idx, day in day_of.items():
        grouped[day].append(s_idx)
    return [(day, sorted(grouped[day])) for day in sorted(grouped)]
