"""Group sessions (`staff`) as plain sessions, one per place, and back.

docs/problem.md, "Sessions that need several providers": a discussion group
of Pashto, Tigrinya and Arabic speakers needs three providers at one time and
place. The solver, the greedy plan and the validator's per-pair rules all
think in sessions with one provider each, so a group session is *flattened*
into one session per place (id `<id>#<place>`, carrying `place_of`), and
only what couples the places is added where it matters: one common start,
no provider twice (implied by the common start and rule 9), all or nothing.
`fold_plan` turns the flat plan back into assignments that name their place.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from matching.problem import (
    Assignment,
    FixedAssignment,
    PlaceOf,
    Plan,
    Problem,
    Session,
    Unassigned,
)

PLACE_SEPARATOR = "#"


def place_id(session_id: str, place: int) -> str:
    """The id of a group session's place in the flat problem."""
    return f"{session_id}{PLACE_SEPARATOR}{place}"


def has_groups(problem: Problem) -> bool:
    return any(s.staff for s in problem.sessions)


def flatten(problem: Problem) -> Problem:
    """The same problem with every group session replaced by one session per place.

    A pinned pair of a group session must name its place. Raises ValueError
    when a place's id would clash with another session's id.
    """
    if not has_groups(problem):
        return problem
    sessions: list[Session] = []
    for s in problem.sessions:
        if not s.staff:
            sessions.append(s)
            continue
        for k, place in enumerate(s.staff):
            sessions.append(
                replace(
                    s,
                    id=place_id(s.id, k),
                    language=place.language,
                    provider_kind=place.provider_kind,
                    requires=place.requires,
                    staff=(),
                    place_of=PlaceOf(s.id, k, len(s.staff), s.all_or_nothing),
                )
            )
    ids = [s.id for s in sessions]
    if len(set(ids)) != len(ids):
        raise ValueError(f"a group session's place id ('<id>{PLACE_SEPARATOR}<n>') clashes")
    groups = {s.id: s for s in problem.sessions if s.staff}
    fixed: list[FixedAssignment] = []
    for pin in problem.fixed:
        group = groups.get(pin.session)
        if group is None:
            fixed.append(pin)
            continue
        if pin.place is None or not 0 <= pin.place < len(group.staff):
            raise ValueError(f"pinned pair {pin.session} -> {pin.provider} names no valid place")
        fixed.append(FixedAssignment(place_id(pin.session, pin.place), pin.provider))
    return replace(problem, sessions=tuple(sessions), fixed=tuple(fixed))


def flatten_entries(
    problem: Problem,
    assignments: Sequence[Assignment],
    unassigned: Sequence[Unassigned],
) -> tuple[list[Assignment], list[Unassigned], list[tuple[str, str | None, str]]]:
    """A plan's entries in the flat problem's ids, and the entries whose `place` is wrong.

    Each wrong entry is `(session, provider, sentence)`: a group session
    without a valid place, or a plain session with one. They are left out
    (so the flat check also finds the place missing).
    """
    groups = {s.id: len(s.staff) for s in problem.sessions if s.staff}
    wrong: list[tuple[str, str | None, str]] = []

    def flat(session: str, place: int | None, provider: str | None) -> str | None:
        if session in groups:
            if place is None or not 0 <= place < groups[session]:
                wrong.append((session, provider, f"names no place of its {groups[session]}"))
                return None
            return place_id(session, place)
        if place is not None:
            wrong.append((session, provider, "names a place but the session has no `staff`"))
            return None
        return session

    flat_assignments = []
    for a in assignments:
        sid = flat(a.session, a.place, a.provider)
        if sid is not None:
            flat_assignments.append(replace(a, session=sid, place=None))
    flat_unassigned = []
    for u in unassigned:
        sid = flat(u.session, u.place, None)
        if sid is not None:
            flat_unassigned.append(replace(u, session=sid, place=None))
    return flat_assignments, flat_unassigned, wrong


def flatten_plan(problem: Problem, plan: Plan | None) -> Plan | None:
    """A plan of `problem` (a caller's hint) in the flat problem's ids; wrong entries dropped."""
    if plan is None or not has_groups(problem):
        return plan
    assignments, unassigned, _ = flatten_entries(problem, plan.assignments, plan.unassigned)
    return replace(plan, assignments=tuple(assignments), unassigned=tuple(unassigned))


def fold_plan(flat_problem: Problem, plan: Plan) -> Plan:
    """The flat problem's plan in the group sessions' ids, each entry naming its place.

    A place left empty only because another place of its all-or-nothing
    group cannot be filled says so, with that place's reason.
    """
    by_id = {s.id: s for s in flat_problem.sessions}

    def unflat(session: str) -> tuple[str, int | None]:
        found = by_id.get(session)
        if found is None or found.place_of is None:
            return session, None
        return found.place_of.session, found.place_of.place

    assignments = []
    for a in plan.assignments:
        sid, place = unflat(a.session)
        assignments.append(replace(a, session=sid, place=place))
    unassigned = []
    for u in plan.unassigned:
        sid, place = unflat(u.session)
        unassigned.append(replace(u, session=sid, place=place))
    return replace(plan, assignments=tuple(assignments), unassigned=tuple(unassigned))


def group_members(problem: Problem) -> dict[int, tuple[int, ...]]:
    """For each place session (by index) of a flat problem, every place of its group, in order."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(problem.sessions):
        if s.place_of is not None:
            groups[s.place_of.session].append(i)
    members: dict[int, tuple[int, ...]] = {}
    for indices in groups.values():
        for i in indices:
            members[i] = tuple(indices)
    return members


def groups_kept(
    problem: Problem,
    members: Mapping[int, tuple[int, ...]],
    placement: Mapping[int, tuple[int, int]],
    sessions: Iterable[int],
) -> bool:
    """Whether the groups of these sessions keep their coupling in `placement`.

    One common start, no provider twice, and all places or none where the
    group asks for all or nothing.
    """
    seen: set[int] = set()
    for s_idx in sessions:
        group = members.get(s_idx)
        if group is None or group[0] in seen:
            continue
        seen.add(group[0])
        held = [placement[m] for m in group if m in placement]
        if len({start for _, start in held}) > 1:
            return False
        if len({provider for provider, _ in held}) < len(held):
            return False
        link = problem.sessions[group[0]].place_of
        if link is not None and link.all_or_nothing and 0 < len(held) < len(group):
            return False
    return True
