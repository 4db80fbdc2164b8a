"""Independent parts of a problem, and its scarce sessions.

Two sessions interact only through a provider who could take both. The
connected components of the session-provider eligibility graph (pinned pairs
included) can therefore be solved one at a time, and their plans, scores and
bounds simply add up. A part too large to prove as one model still has a
provable core: the sessions that few providers may take.
"""

from __future__ import annotations

import itertools
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


def decompose(
    options: Mapping[int, Iterable[Option]], linked: Iterable[Sequence[int]] = ()
) -> list[Part]:
    """The connected components of sessions and the providers who may take them, largest first.

    `options` maps each placeable session to its options (pinned pairs
    included). Sessions without options belong to no part. `linked` lists
    sessions that must share a part (the places of one group session).
    """
    links = _UnionFind()
    for together in linked:
        placeable = [s for s in together if s in options]
        for a, b in itertools.pairwise(placeable):
            links.union(a, b)
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


def scarce_sessions(
    options: Mapping[int, Sequence[Option]], sessions: Iterable[int], *, up_to: int
) -> list[int]:
    """The sessions that the fewest providers may take, up to about `up_to` start ranges.

    Whole levels at a time (every session with one option, then two, ...), so
    the choice does not depend on the order of sessions within a level. These
    are where capacity is lost: a session with many options finds room
    elsewhere. At least the first level is taken, however large.
    """
    levels: dict[int, list[int]] = defaultdict(list)
    for s_idx in sessions:
        if options.get(s_idx):
            levels[len(options[s_idx])].append(s_idx)
    chosen: list[int] = []
    filled = 0
    for count in sorted(levels):
        size = sum(len(o.ranges) for s in levels[count] for o in options[s])
        if chosen and filled + size > up_to:
            break
        chosen.extend(levels[count])
        filled += size
    return sorted(chosen)
