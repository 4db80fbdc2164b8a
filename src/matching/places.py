"""Group sessions (`staff`) and modality ladders (`modalities`) as plain sessions, and back.

docs/problem.md, "Sessions that need several providers": a discussion group
of Pashto, Tigrinya and Arabic speakers needs three providers at one time and
place. The solver, the greedy plan and the validator's per-pair rules all
think in sessions with one provider each, so a group session is *flattened*
into one session per place (id `<id>#<place>`, carrying `place_of`), and
only what couples the places is added where it matters: one common start,
no provider twice (implied by the common start and rule 9), all or nothing.
`fold_plan` turns the flat plan back into assignments that name their place.

A modality ladder ("onsite, or video if nobody can come") is flattened the
same way, into one session per step (id `<id>@<modality>`, carrying
`step_of`) of which at most one is staffed; each step down costs
`LADDER_STEP_COST` soft points, so a lower step is used only when it staffs
a session that would otherwise stay empty or saves more than that. The
folded assignment says which `modality` was used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from matching.problem import (
    UNASSIGNED_REASONS,
    Assignment,
    FixedAssignment,
    Modality,
    PlaceOf,
    Plan,
    Problem,
    RuleCode,
    Session,
    StepOf,
    Unassigned,
)

PLACE_SEPARATOR = "#"
STEP_SEPARATOR = "@"


def step_id(session_id: str, modality: Modality) -> str:
    """The id of one step of a session's modality ladder in the flat problem."""
    return f"{session_id}{STEP_SEPARATOR}{modality}"


def has_ladder(session: Session) -> bool:
    return len(session.modalities) > 1


def needs_flattening(problem: Problem) -> bool:
    """Whether the problem has group sessions or modality ladders (the solver sees neither)."""
    return any(s.staff or has_ladder(s) for s in problem.sessions)


def place_id(session_id: str, place: int) -> str:
    """The id of a group session's place in the flat problem."""
    return f"{session_id}{PLACE_SEPARATOR}{place}"


def flatten(problem: Problem) -> Problem:
    """The same problem with every group session replaced by one session per place.

    And every session with a modality ladder by one session per step. A
    pinned pair of a group session must name its place, of a ladder its
    modality. A group session with a ladder becomes one session per place and
    step (id `<id>#<place>@<modality>`): each place is a group's place and
    climbs down the ladder on its own. Raises ValueError when a flat id would
    clash with another session's id.
    """
    if not needs_flattening(problem):
        return problem
    sessions: list[Session] = []
    for s in problem.sessions:
        if has_ladder(s) and s.staff:
            # Each place climbs down the ladder on its own: places x steps.
            for k, place in enumerate(s.staff):
                pid = place_id(s.id, k)
                sessions.extend(
                    replace(
                        s,
                        id=step_id(pid, m),
                        language=place.language,
                        provider_kind=place.provider_kind,
                        requires=place.requires,
                        staff=(),
                        modality=m,
                        modalities=(),
                        place_of=PlaceOf(s.id, k, len(s.staff), s.all_or_nothing),
                        step_of=StepOf(pid, j),
                    )
                    for j, m in enumerate(s.modalities)
                )
            continue
        if has_ladder(s):
            sessions.extend(
                replace(s, id=step_id(s.id, m), modality=m, modalities=(), step_of=StepOf(s.id, k))
                for k, m in enumerate(s.modalities)
            )
            continue
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
    ladders = {s.id: s for s in problem.sessions if has_ladder(s)}
    fixed: list[FixedAssignment] = []
    for pin in problem.fixed:
        group = groups.get(pin.session)
        ladder = ladders.get(pin.session)
        if group is not None and ladder is not None:
            if pin.place is None or not 0 <= pin.place < len(group.staff):
                raise ValueError(
                    f"pinned pair {pin.session} -> {pin.provider} names no valid place"
                )
            if pin.modality not in ladder.modalities:
                raise ValueError(f"pinned pair {pin.session} -> {pin.provider} names no step")
            assert pin.modality is not None
            flat_id = step_id(place_id(pin.session, pin.place), pin.modality)
            fixed.append(FixedAssignment(flat_id, pin.provider))
            continue
        if ladder is not None:
            if pin.modality not in ladder.modalities:
                raise ValueError(f"pinned pair {pin.session} -> {pin.provider} names no step")
            assert pin.modality is not None
            fixed.append(FixedAssignment(step_id(pin.session, pin.modality), pin.provider))
            continue
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
) -> tuple[list[Assignment], list[Unassigned], list[tuple[RuleCode, str, str | None, str]]]:
    """A plan's entries in the flat problem's ids, and the entries whose `place` is wrong.

    Each wrong entry is `(code, session, provider, sentence)`: a group
    session without a valid place, or a plain session with one (`place`); a
    ladder's assignment without one of its modalities, or a modality named
    without a ladder (`modality`). They are left out (so the flat check also
    finds the place or step missing).
    """
    groups = {s.id: len(s.staff) for s in problem.sessions if s.staff}
    ladders = {s.id: s.modalities for s in problem.sessions if has_ladder(s)}
    wrong: list[tuple[RuleCode, str, str | None, str]] = []

    def flat(session: str, place: int | None, provider: str | None) -> str | None:
        if session in groups:
            if place is None or not 0 <= place < groups[session]:
                wrong.append(
                    ("place", session, provider, f"names no place of its {groups[session]}")
                )
                return None
            return place_id(session, place)
        if place is not None:
            wrong.append(
                ("place", session, provider, "names a place but the session has no `staff`")
            )
            return None
        return session

    flat_assignments = []
    # Of a ladder, each staffed session (or group place) and the step it uses.
    used: dict[str, tuple[str, Modality]] = {}
    for a in assignments:
        if a.session in ladders:
            if a.modality not in ladders[a.session]:
                steps = ", ".join(ladders[a.session])
                wrong.append(
                    (
                        "modality",
                        a.session,
                        a.provider,
                        f"names no modality of its ladder ({steps})",
                    )
                )
                continue
            base = flat(a.session, a.place, a.provider)
            if base is not None:
                flat_assignments.append(
                    replace(a, session=step_id(base, a.modality), place=None, modality=None)
                )
                used.setdefault(base, (a.session, a.modality))
            continue
        if a.modality is not None:
            wrong.append(
                ("modality", a.session, a.provider, "names a modality, but there is no ladder")
            )
            continue
        sid = flat(a.session, a.place, a.provider)
        if sid is not None:
            flat_assignments.append(replace(a, session=sid, place=None))
    flat_unassigned: list[Unassigned] = []
    for u in unassigned:
        sid = flat(u.session, u.place, None)
        if sid is None:
            continue
        if u.session in ladders:
            # An unstaffed ladder session (or place) is every one of its steps unstaffed.
            if sid not in used:
                flat_unassigned.extend(
                    replace(u, session=step_id(sid, m), place=None) for m in ladders[u.session]
                )
            continue
        flat_unassigned.append(replace(u, session=sid, place=None))
    # The steps not taken of a staffed ladder session are not missing: one step is used.
    for base, (session, modality) in used.items():
        flat_unassigned.extend(
            Unassigned(step_id(base, m), "capacity", "another step is used")
            for m in ladders[session]
            if m != modality
        )
    return flat_assignments, flat_unassigned, wrong


def flatten_plan(problem: Problem, plan: Plan | None) -> Plan | None:
    """A plan of `problem` (a caller's hint) in the flat problem's ids; wrong entries dropped."""
    if plan is None or not needs_flattening(problem):
        return plan
    assignments, unassigned, _ = flatten_entries(problem, plan.assignments, plan.unassigned)
    return replace(plan, assignments=tuple(assignments), unassigned=tuple(unassigned))


def fold_plan(flat_problem: Problem, plan: Plan) -> Plan:
    """The flat problem's plan in the group sessions' ids, each entry naming its place.

    A ladder session's assignment says which `modality` was used; unstaffed,
    it appears once, with the reason of the step that got furthest (a group's
    place with a ladder: once per place).
    """
    by_id = {s.id: s for s in flat_problem.sessions}

    def unflat(session: str) -> tuple[str, int | None]:
        found = by_id.get(session)
        if found is None:
            return session, None
        if found.place_of is not None:
            return found.place_of.session, found.place_of.place
        if found.step_of is not None:
            return found.step_of.session, None
        return session, None

    assignments = []
    for a in plan.assignments:
        sid, place = unflat(a.session)
        found = by_id.get(a.session)
        modality = found.modality if found is not None and found.step_of is not None else None
        assignments.append(replace(a, session=sid, place=place, modality=modality))
    staffed = {(a.session, a.place) for a in assignments}
    unassigned: list[Unassigned] = []
    steps: dict[tuple[str, int | None], list[Unassigned]] = defaultdict(list)
    for u in plan.unassigned:
        sid, place = unflat(u.session)
        found = by_id.get(u.session)
        if found is not None and found.step_of is not None:
            if (sid, place) not in staffed:
                steps[(sid, place)].append(
                    replace(u, session=sid, place=place, detail=f"{found.modality}: {u.detail}")
                )
            continue
        unassigned.append(replace(u, session=sid, place=place))
    for tried in steps.values():
        unassigned.append(max(tried, key=lambda u: UNASSIGNED_REASONS.index(u.reason)))
    return replace(plan, assignments=tuple(assignments), unassigned=tuple(unassigned))


def ladder_offset(flat_problem: Problem) -> int:
    """How much lower medium counts in a flat problem than in its own: every step but one.

    At most one step of a ladder is staffed, so each session with a ladder
    of n steps has n - 1 steps that count as unstaffed, a constant.
    """
    return sum(s.priority for s in flat_problem.sessions if s.step_of and s.step_of.step > 0)


def ladder_members(problem: Problem) -> dict[int, tuple[int, ...]]:
    """For each step session (by index) of a flat problem, every step of its ladder, in order."""
    ladders: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(problem.sessions):
        if s.step_of is not None:
            ladders[s.step_of.session].append(i)
    return {i: tuple(indices) for indices in ladders.values() for i in indices}


def ladders_kept(
    members: Mapping[int, tuple[int, ...]],
    placement: Mapping[int, tuple[int, int]],
    sessions: Iterable[int],
) -> bool:
    """Whether at most one step of each ladder of these sessions is staffed in `placement`."""
    return all(sum(m in placement for m in members.get(s, ())) <= 1 for s in sessions)


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


def pinned_places(problem: Problem) -> frozenset[int]:
    """The place sessions (by index) of a flat problem that a pinned pair holds.

    All or nothing binds a group's other places only: once a place is held
    (a provider accepted it), "nothing" means none of the open places, and
    the held ones stay (docs/problem.md, "Sessions that need several providers").
    """
    pinned = {f.session for f in problem.fixed}
    return frozenset(
        i for i, s in enumerate(problem.sessions) if s.place_of is not None and s.id in pinned
    )


def by_place(problem: Problem, group: Iterable[int]) -> dict[int, list[int]]:
    """A group's flat sessions by the place they stand for (several: a place's ladder steps)."""
    places: dict[int, list[int]] = defaultdict(list)
    for m in group:
        link = problem.sessions[m].place_of
        assert link is not None
        places[link.place].append(m)
    return places


def _open_places(
    problem: Problem,
    group: Iterable[int],
    pinned: frozenset[int],
    placement: Mapping[int, tuple[int, int]],
) -> tuple[int, int]:
    """How many places of a group no pin holds, and how many of those are filled."""
    places = [ms for ms in by_place(problem, group).values() if not any(m in pinned for m in ms)]
    return len(places), sum(any(m in placement for m in ms) for ms in places)


def groups_kept(
    problem: Problem,
    members: Mapping[int, tuple[int, ...]],
    placement: Mapping[int, tuple[int, int]],
    sessions: Iterable[int],
) -> bool:
    """Whether the groups of these sessions keep their coupling in `placement`.

    One common start, no provider twice, and all places or none where the
    group asks for all or nothing (of the places no pinned pair holds).
    """
    seen: set[int] = set()
    pinned = pinned_places(problem)
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
        open_places, filled = _open_places(problem, group, pinned, placement)
        if link is not None and link.all_or_nothing and 0 < filled < open_places:
            return False
    return True
