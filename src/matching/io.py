"""The JSON formats of docs/problem.md: `truchement.problem/1` in, `truchement.plan/1` out.

Reading is strict: a dispatcher's hand-edited file with a typo must fail with
the path of the field (`sessions[3].window.earliest: ...`), never with a
traceback and never by silently ignoring a misspelt key. The problem format
refuses unknown keys; the plan format allows extra ones (a plan may carry
`explanations` or tool-specific stats) but its contract keys are exact.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from matching.problem import (
    MODALITIES,
    PLAN_FORMAT,
    PROBLEM_FORMAT,
    PROVIDER_KINDS,
    UNASSIGNED_REASONS,
    Assignment,
    Bound,
    FixedAssignment,
    HaversineTravel,
    Interval,
    LanguageSkill,
    Location,
    MatrixTravel,
    Modality,
    Place,
    Plan,
    Problem,
    Provider,
    ProviderKind,
    Requirements,
    Score,
    Session,
    SessionProviderKind,
    Stats,
    TravelModel,
    Unassigned,
    UnassignedReason,
    Window,
)
from matching.why import Why

T = TypeVar("T")
_MISSING: Any = object()


class ProblemFormatError(ValueError):
    """A problem or plan file that does not follow its format; names the faulty field."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


def problem_from_dict(data: object) -> Problem:
    """A `Problem` from the parsed JSON of a `truchement.problem/1` file."""
    root = _object(data, "")
    _keys(
        root,
        "",
        {"format", "providers", "sessions"},
        {"timezone", "travel", "fixed", "fairness_weight"},
    )
    _format(root, PROBLEM_FORMAT)
    timezone = _string(root, "timezone", "", default="Europe/Brussels")
    try:
        ZoneInfo(timezone)
    except Exception:
        raise ProblemFormatError("timezone", f"unknown time zone {timezone!r}") from None
    travel = _travel(root.get("travel"), "travel")
    points = len(travel.points) if isinstance(travel, MatrixTravel) else None
    providers = tuple(
        _provider(item, f"providers[{i}]", points)
        for i, item in enumerate(_list(root, "providers", ""))
    )
    sessions = tuple(
        _session(item, f"sessions[{i}]", points)
        for i, item in enumerate(_list(root, "sessions", ""))
    )
    _unique([p.id for p in providers], "providers")
    _unique([s.id for s in sessions], "sessions")
    places = {s.id: len(s.staff) for s in sessions if s.staff}
    ladders = {s.id for s in sessions if len(s.modalities) > 1}
    fixed = _fixed(root, {p.id for p in providers}, {s.id for s in sessions}, places, ladders)
    fairness_weight = _integer(root, "fairness_weight", "", default=0, minimum=0)
    return Problem(
        providers=providers,
        sessions=sessions,
        timezone=timezone,
        travel=travel,
        fixed=fixed,
        fairness_weight=fairness_weight,
    )


def problem_to_dict(problem: Problem) -> dict[str, object]:
    """The `truchement.problem/1` JSON of a problem; `problem_from_dict` reads it back equal."""
    return {
        "format": PROBLEM_FORMAT,
        "timezone": problem.timezone,
        "travel": _travel_to_dict(problem.travel),
        "providers": [_provider_to_dict(p) for p in problem.providers],
        "sessions": [_session_to_dict(s) for s in problem.sessions],
        "fixed": [
            {
                "session": f.session,
                "provider": f.provider,
                **({} if f.place is None else {"place": f.place}),
                **({} if f.modality is None else {"modality": f.modality}),
            }
            for f in problem.fixed
        ],
        **({"fairness_weight": problem.fairness_weight} if problem.fairness_weight else {}),
    }


def plan_from_dict(data: object) -> Plan:
    """A `Plan` from the parsed JSON of a `truchement.plan/1` file."""
    root = _object(data, "")
    _keys(
        root,
        "",
        {"format", "assignments", "unassigned", "score", "stats"},
        None,
    )
    _format(root, PLAN_FORMAT)
    assignments = []
    for i, item in enumerate(_list(root, "assignments", "")):
        path = f"assignments[{i}]"
        entry = _object(item, path)
        _keys(entry, path, {"session", "provider", "start"}, None)
        assignments.append(
            Assignment(
                session=_string(entry, "session", path),
                provider=_string(entry, "provider", path),
                start=_time(entry, "start", path),
                place=_place(entry, path),
                modality=_optional_modality(entry, path),
            )
        )
    unassigned = []
    for i, item in enumerate(_list(root, "unassigned", "")):
        path = f"unassigned[{i}]"
        entry = _object(item, path)
        _keys(entry, path, {"session", "reason"}, None)
        unassigned.append(
            Unassigned(
                session=_string(entry, "session", path),
                reason=cast(UnassignedReason, _choice(entry, "reason", path, UNASSIGNED_REASONS)),
                detail=_string(entry, "detail", path, default=""),
                why=_why(entry.get("why")),
                place=_place(entry, path),
            )
        )
    score_data = _object(root["score"], "score")
    _keys(score_data, "score", {"hard", "medium", "soft"}, set())
    score = Score(
        hard=_integer(score_data, "hard", "score"),
        medium=_integer(score_data, "medium", "score"),
        soft=_integer(score_data, "soft", "score"),
    )
    stats = _stats(root["stats"])
    explanations: dict[str, str] = {}
    if "explanations" in root:
        given = _object(root["explanations"], "explanations")
        for key, value in given.items():
            if not isinstance(value, str):
                raise ProblemFormatError(f"explanations.{key}", "not a string")
            explanations[key] = value
    return Plan(
        assignments=tuple(assignments),
        unassigned=tuple(unassigned),
        score=score,
        stats=stats,
        explanations=explanations,
    )


def plan_to_dict(plan: Plan, *, timezone: str | None = None) -> dict[str, object]:
    """The `truchement.plan/1` JSON of a plan; starts are written in `timezone` when given."""
    zone = ZoneInfo(timezone) if timezone else None
    stats: dict[str, object] = dict(plan.stats.extra)
    stats.update(
        status=plan.stats.status,
        solve_seconds=plan.stats.solve_seconds,
        bound=(
            None
            if plan.stats.bound is None
            else {"medium": plan.stats.bound.medium, "soft": plan.stats.bound.soft}
        ),
    )
    result: dict[str, object] = {
        "format": PLAN_FORMAT,
        "assignments": [
            {
                "session": a.session,
                "provider": a.provider,
                "start": (a.start.astimezone(zone) if zone else a.start).isoformat(),
                **({} if a.place is None else {"place": a.place}),
                **({} if a.modality is None else {"modality": a.modality}),
            }
            for a in plan.assignments
        ],
        "unassigned": [
            {
                "session": u.session,
                "reason": u.reason,
                "detail": u.detail,
                **({"why": u.why.to_json()} if u.why else {}),
                **({} if u.place is None else {"place": u.place}),
            }
            for u in plan.unassigned
        ],
        "score": {"hard": plan.score.hard, "medium": plan.score.medium, "soft": plan.score.soft},
        "stats": stats,
    }
    if plan.explanations:
        result["explanations"] = dict(plan.explanations)
    return result


def load_problem(path: str | Path) -> Problem:
    """Read a problem file; a malformed one raises `ProblemFormatError`."""
    return problem_from_dict(_read_json(path))


def dump_problem(problem: Problem, path: str | Path) -> None:
    _write_json(problem_to_dict(problem), path)


def load_plan(path: str | Path) -> Plan:
    """Read a plan file; a malformed one raises `ProblemFormatError`."""
    return plan_from_dict(_read_json(path))


def dump_plan(plan: Plan, path: str | Path, *, timezone: str | None = None) -> None:
    """Write a plan file, starts in `timezone` (the problem's) when given."""
    _write_json(plan_to_dict(plan, timezone=timezone), path)


def _read_json(path: str | Path) -> object:
    text = Path(path).read_text(encoding="utf-8")
    try:
        return cast(object, json.loads(text))
    except json.JSONDecodeError as exc:
        raise ProblemFormatError(
            "", f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None


def _write_json(data: Mapping[str, object], path: str | Path) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    Path(path).write_text(text + "\n", encoding="utf-8")


# Reading, one field at a time, always knowing where we are.


def _at(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _object(value: object, path: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ProblemFormatError(path, "not a JSON object")
    return cast(dict[str, object], value)


def _why(data: object) -> Why | None:
    """A detail's data, when the plan file has it (plans written by this version do)."""
    return Why.from_json(cast(dict[str, Any], data)) if isinstance(data, dict) else None


def _keys(
    data: Mapping[str, object], path: str, required: set[str], optional: set[str] | None
) -> None:
    """Every required key is there; with `optional` given, no other key is."""
    for key in sorted(required):
        if key not in data:
            raise ProblemFormatError(_at(path, key), "missing")
    if optional is not None:
        for key in data:
            if key not in required and key not in optional:
                raise ProblemFormatError(_at(path, key), "unknown key")


def _get(data: Mapping[str, object], key: str, path: str, default: object) -> object:
    if key in data:
        return data[key]
    if default is _MISSING:
        raise ProblemFormatError(_at(path, key), "missing")
    return default


def _format(root: Mapping[str, object], expected: str) -> None:
    found = root["format"]
    if found != expected:
        raise ProblemFormatError("format", f"expected {expected!r}, found {found!r}")


def _string(data: Mapping[str, object], key: str, path: str, default: Any = _MISSING) -> str:
    value = _get(data, key, path, default)
    if not isinstance(value, str) or (not value and key in ("id", "session", "provider")):
        raise ProblemFormatError(_at(path, key), "not a non-empty string")
    return value


def _optional_string(data: Mapping[str, object], key: str, path: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ProblemFormatError(_at(path, key), "not a string or null")
    return value


def _boolean(data: Mapping[str, object], key: str, path: str, default: Any = _MISSING) -> bool:
    value = _get(data, key, path, default)
    if not isinstance(value, bool):
        raise ProblemFormatError(_at(path, key), "not true or false")
    return value


def _integer(
    data: Mapping[str, object],
    key: str,
    path: str,
    default: Any = _MISSING,
    minimum: int | None = None,
) -> int:
    value = _get(data, key, path, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProblemFormatError(_at(path, key), "not an integer")
    if minimum is not None and value < minimum:
        word = "positive" if minimum == 1 else f"at least {minimum}"
        raise ProblemFormatError(_at(path, key), f"must be {word}, found {value}")
    return value


def _number(
    data: Mapping[str, object],
    key: str,
    path: str,
    default: Any = _MISSING,
    check: Callable[[float], bool] | None = None,
    needs: str = "",
) -> float:
    value = _get(data, key, path, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProblemFormatError(_at(path, key), "not a number")
    if check is not None and not check(float(value)):
        raise ProblemFormatError(_at(path, key), f"must be {needs}, found {value}")
    return float(value)


def _list(data: Mapping[str, object], key: str, path: str, default: Any = _MISSING) -> list[object]:
    value = _get(data, key, path, default)
    if not isinstance(value, list):
        raise ProblemFormatError(_at(path, key), "not a list")
    return cast(list[object], value)


def _strings(data: Mapping[str, object], key: str, path: str) -> frozenset[str]:
    items = _list(data, key, path, default=[])
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise ProblemFormatError(_at(_at(path, key), i), "not a string")
    return frozenset(cast(list[str], items))


def _choice(
    data: Mapping[str, object],
    key: str,
    path: str,
    allowed: tuple[str, ...],
    default: Any = _MISSING,
) -> str:
    value = _get(data, key, path, default)
    if value not in allowed:
        raise ProblemFormatError(_at(path, key), f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _time(data: Mapping[str, object], key: str, path: str) -> datetime:
    value = _get(data, key, path, _MISSING)
    where = _at(path, key)
    if not isinstance(value, str):
        raise ProblemFormatError(where, "not an ISO 8601 time with offset")
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise ProblemFormatError(where, f"not an ISO 8601 time with offset: {value!r}") from None
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ProblemFormatError(
            where, f"not an ISO 8601 time with offset: {value!r} has no offset"
        )
    return instant


def _unique(ids: list[str], path: str) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(ids):
        if item in seen:
            raise ProblemFormatError(
                f"{path}[{i}].id", f"duplicate id {item!r} (also {path}[{seen[item]}])"
            )
        seen[item] = i


def _travel(value: object, path: str) -> TravelModel:
    if value is None:
        return HaversineTravel()
    data = _object(value, path)
    model = _choice(data, "model", path, ("haversine", "matrix"))
    if model == "haversine":
        _keys(data, path, {"model"}, {"road_factor", "speed_kmh", "overhead_minutes"})
        return HaversineTravel(
            road_factor=_number(
                data, "road_factor", path, 1.3, lambda x: x > 0, "greater than zero"
            ),
            speed_kmh=_number(data, "speed_kmh", path, 60.0, lambda x: x > 0, "greater than zero"),
            overhead_minutes=_integer(data, "overhead_minutes", path, 5, minimum=0),
        )
    _keys(data, path, {"model", "points", "minutes"}, set())
    points = _list(data, "points", path)
    rows = _list(data, "minutes", path)
    where = _at(path, "minutes")
    if len(rows) != len(points):
        raise ProblemFormatError(
            where, f"has {len(rows)} rows for {len(points)} points; the matrix must be square"
        )
    minutes: list[tuple[int, ...]] = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(points):
            raise ProblemFormatError(
                _at(where, i), f"not a list of {len(points)} minutes; the matrix must be square"
            )
        for j, cell in enumerate(row):
            if isinstance(cell, bool) or not isinstance(cell, int) or cell < 0:
                raise ProblemFormatError(
                    f"{where}[{i}][{j}]", "not a non-negative whole number of minutes"
                )
        minutes.append(tuple(cast(list[int], row)))
    return MatrixTravel(points=tuple(points), minutes=tuple(minutes))


def _location(value: object, path: str, points: int | None, *, country: bool) -> Location:
    data = _object(value, path)
    extra = {"country"}
    if points is not None:
        _keys(data, path, {"point"}, extra)
        point = _integer(data, "point", path, minimum=0)
        if point >= points:
            raise ProblemFormatError(
                _at(path, "point"), f"{point} is out of the matrix (it has {points} points)"
            )
        place = Location(point=point)
    else:
        _keys(data, path, {"lat", "lon"}, extra)
        place = Location(
            lat=_number(data, "lat", path, check=lambda x: -90 <= x <= 90, needs="in [-90, 90]"),
            lon=_number(
                data, "lon", path, check=lambda x: -180 <= x <= 180, needs="in [-180, 180]"
            ),
        )
    if country:
        return Location(place.lat, place.lon, place.point, _string(data, "country", path))
    return Location(place.lat, place.lon, place.point, _optional_string(data, "country", path))


def _provider(value: object, path: str, points: int | None) -> Provider:
    data = _object(value, path)
    _keys(
        data,
        path,
        {"id", "kind", "languages", "home"},
        {
            "gender",
            "skills",
            "modalities",
            "countries",
            "max_travel_minutes",
            "max_minutes_per_day",
            "max_minutes_per_week",
            "availability",
            "counts_idle",
        },
    )
    languages: list[LanguageSkill] = []
    for i, item in enumerate(_list(data, "languages", path)):
        where = _at(_at(path, "languages"), i)
        entry = _object(item, where)
        _keys(entry, where, {"code"}, {"certified"})
        code = _string(entry, "code", where)
        if any(skill.code == code for skill in languages):
            raise ProblemFormatError(_at(where, "code"), f"{code!r} is listed twice")
        languages.append(LanguageSkill(code, _boolean(entry, "certified", where, default=False)))
    modalities = _list(data, "modalities", path, default=list(MODALITIES))
    for i, item in enumerate(modalities):
        if item not in MODALITIES:
            raise ProblemFormatError(
                _at(_at(path, "modalities"), i), f"{item!r} is not one of {', '.join(MODALITIES)}"
            )
    availability: list[Interval] = []
    for i, item in enumerate(_list(data, "availability", path, default=[])):
        where = _at(_at(path, "availability"), i)
        entry = _object(item, where)
        _keys(entry, where, {"start", "end"}, set())
        interval = Interval(_time(entry, "start", where), _time(entry, "end", where))
        if interval.end <= interval.start:
            raise ProblemFormatError(_at(where, "end"), "must be after start")
        availability.append(interval)
    defaults = Provider(id="", kind="interpreter", languages=(), home=Location())
    return Provider(
        id=_string(data, "id", path),
        kind=cast(ProviderKind, _choice(data, "kind", path, PROVIDER_KINDS)),
        languages=tuple(languages),
        home=_location(data["home"], _at(path, "home"), points, country=False),
        gender=_optional_string(data, "gender", path),
        skills=_strings(data, "skills", path),
        modalities=frozenset(cast(list[Modality], modalities)),
        countries=_strings(data, "countries", path),
        max_travel_minutes=_integer(
            data, "max_travel_minutes", path, defaults.max_travel_minutes, minimum=0
        ),
        max_minutes_per_day=_integer(
            data, "max_minutes_per_day", path, defaults.max_minutes_per_day, minimum=1
        ),
        max_minutes_per_week=_integer(
            data, "max_minutes_per_week", path, defaults.max_minutes_per_week, minimum=1
        ),
        availability=tuple(availability),
        counts_idle=_boolean(data, "counts_idle", path, default=False),
    )


def _place(entry: Mapping[str, object], path: str) -> int | None:
    """The optional `place` of a plan entry or a pin: a group session's place index."""
    if "place" not in entry:
        return None
    return _integer(entry, "place", path, minimum=0)


def _optional_modality(entry: Mapping[str, object], path: str) -> Modality | None:
    """The optional `modality` of an assignment or a pin: the ladder's step used."""
    if "modality" not in entry:
        return None
    return cast(Modality, _choice(entry, "modality", path, MODALITIES))


def _ladder(data: Mapping[str, object], path: str) -> tuple[Modality, ...]:
    """A modality ladder, best first: distinct modalities, instead of `modality`."""
    where = _at(path, "modalities")
    if "modality" in data:
        raise ProblemFormatError(_at(path, "modality"), "not allowed with `modalities`")
    steps = _list(data, "modalities", path)
    ladder: list[Modality] = []
    for k, step in enumerate(steps):
        if step not in MODALITIES or step in ladder:
            raise ProblemFormatError(f"{where}[{k}]", f"not a new modality of {MODALITIES}")
        ladder.extend(m for m in MODALITIES if m == step)
    if not ladder:
        raise ProblemFormatError(where, "must list at least one modality")
    return tuple(ladder)


def _requirements(value: object, where: str) -> Requirements:
    entry = _object(value, where)
    _keys(entry, where, set(), {"gender", "certified", "skills"})
    return Requirements(
        gender=_optional_string(entry, "gender", where),
        certified=_boolean(entry, "certified", where, default=False),
        skills=_strings(entry, "skills", where),
    )


def _staff(data: Mapping[str, object], path: str) -> tuple[Place, ...]:
    """A group session's places; the session then has no language, provider_kind or requires."""
    for key in ("language", "provider_kind", "requires"):
        if key in data:
            raise ProblemFormatError(
                _at(path, key), "not allowed with `staff` (each place has its own)"
            )
    where = _at(path, "staff")
    entries = _list(data, "staff", path)
    if not entries:
        raise ProblemFormatError(where, "must list at least one place")
    places = []
    for k, item in enumerate(entries):
        at = f"{where}[{k}]"
        entry = _object(item, at)
        _keys(entry, at, {"language"}, {"provider_kind", "requires"})
        places.append(
            Place(
                language=_string(entry, "language", at),
                provider_kind=cast(
                    SessionProviderKind,
                    _choice(entry, "provider_kind", at, (*PROVIDER_KINDS, "any"), default="any"),
                ),
                requires=(
                    _requirements(entry["requires"], _at(at, "requires"))
                    if "requires" in entry
                    else Requirements()
                ),
            )
        )
    return tuple(places)


def _session(value: object, path: str, points: int | None) -> Session:
    data = _object(value, path)
    group = "staff" in data
    _keys(
        data,
        path,
        {"id", "start", "duration_minutes"} | (set() if group else {"language"}),
        {
            "staff",
            "all_or_nothing",
            "modalities",
            "language",
            "kind",
            "modality",
            "location",
            "window",
            "provider_kind",
            "requires",
            "excluded_providers",
            "preferred_providers",
            "priority",
            "beneficiary",
        },
    )
    ladder = _ladder(data, path) if "modalities" in data else ()
    modality = (
        ladder[0]
        if ladder
        else cast(Modality, _choice(data, "modality", path, MODALITIES, default="onsite"))
    )
    onsite = "onsite" in ladder or modality == "onsite"
    location = None
    if "location" in data:
        location = _location(data["location"], _at(path, "location"), points, country=onsite)
    elif onsite:
        raise ProblemFormatError(_at(path, "location"), "missing (the session is onsite)")
    window = None
    if "window" in data:
        where = _at(path, "window")
        entry = _object(data["window"], where)
        _keys(entry, where, {"earliest", "latest"}, set())
        window = Window(_time(entry, "earliest", where), _time(entry, "latest", where))
        if window.latest < window.earliest:
            raise ProblemFormatError(_at(where, "latest"), "is before earliest")
    requires = Requirements()
    if "requires" in data:
        requires = _requirements(data["requires"], _at(path, "requires"))
    staff: tuple[Place, ...] = ()
    if group:
        staff = _staff(data, path)
    elif "all_or_nothing" in data:
        raise ProblemFormatError(_at(path, "all_or_nothing"), "only for a session with `staff`")
    return Session(
        id=_string(data, "id", path),
        language=staff[0].language if staff else _string(data, "language", path),
        start=_time(data, "start", path),
        duration_minutes=_integer(data, "duration_minutes", path, minimum=1),
        kind=_string(data, "kind", path, default="other"),
        modality=modality,
        location=location,
        window=window,
        provider_kind=cast(
            SessionProviderKind,
            _choice(data, "provider_kind", path, (*PROVIDER_KINDS, "any"), default="any"),
        ),
        requires=requires,
        excluded_providers=_strings(data, "excluded_providers", path),
        preferred_providers=_strings(data, "preferred_providers", path),
        priority=_integer(data, "priority", path, 1, minimum=1),
        beneficiary=_optional_string(data, "beneficiary", path),
        staff=staff,
        all_or_nothing=_boolean(data, "all_or_nothing", path, default=True),
        modalities=ladder,
    )


def _fixed(
    root: Mapping[str, object],
    providers: set[str],
    sessions: set[str],
    places: Mapping[str, int] | None = None,
    ladders: Collection[str] | None = None,
) -> tuple[FixedAssignment, ...]:
    pinned: dict[str, int] = {}
    fixed: list[FixedAssignment] = []
    for i, item in enumerate(_list(root, "fixed", "", default=[])):
        path = f"fixed[{i}]"
        entry = _object(item, path)
        _keys(entry, path, {"session", "provider"}, {"place", "modality"})
        session = _string(entry, "session", path)
        provider = _string(entry, "provider", path)
        place = _place(entry, path)
        modality = _optional_modality(entry, path)
        if (modality is None) != (session not in (ladders or {})):
            raise ProblemFormatError(
                _at(path, "modality"), "names a step of the session's ladder, and only then"
            )
        if session not in sessions:
            raise ProblemFormatError(_at(path, "session"), f"unknown session {session!r}")
        if provider not in providers:
            raise ProblemFormatError(_at(path, "provider"), f"unknown provider {provider!r}")
        count = (places or {}).get(session)
        if count is not None and (place is None or place >= count):
            raise ProblemFormatError(_at(path, "place"), f"must name one of the {count} places")
        if count is None and place is not None:
            raise ProblemFormatError(_at(path, "place"), "the session has no `staff`")
        key = session if place is None else f"{session} place {place}"
        if key in pinned:
            raise ProblemFormatError(
                _at(path, "session"), f"{key!r} is already pinned by fixed[{pinned[key]}]"
            )
        pinned[key] = i
        fixed.append(FixedAssignment(session, provider, place, modality))
    return tuple(fixed)


def _stats(value: object) -> Stats:
    data = _object(value, "stats")
    _keys(data, "stats", {"status", "solve_seconds"}, None)
    seconds = _number(data, "solve_seconds", "stats", check=lambda x: x >= 0, needs="0 or more")
    bound = None
    if data.get("bound") is not None:
        given = _object(data["bound"], "stats.bound")
        _keys(given, "stats.bound", {"medium", "soft"}, set())
        bound = Bound(
            _integer(given, "medium", "stats.bound"), _integer(given, "soft", "stats.bound")
        )
    extra = {k: v for k, v in data.items() if k not in ("status", "solve_seconds", "bound")}
    return Stats(
        status=_string(data, "status", "stats"),
        solve_seconds=seconds,
        bound=bound,
        extra=extra,
    )


# Writing: everything explicit, sets sorted, so that files diff well.


def _travel_to_dict(model: TravelModel) -> dict[str, object]:
    if isinstance(model, MatrixTravel):
        return {
            "model": "matrix",
            "points": list(model.points),
            "minutes": [list(row) for row in model.minutes],
        }
    return {
        "model": "haversine",
        "road_factor": model.road_factor,
        "speed_kmh": model.speed_kmh,
        "overhead_minutes": model.overhead_minutes,
    }


def _location_to_dict(place: Location) -> dict[str, object]:
    data: dict[str, object] = (
        {"point": place.point} if place.point is not None else {"lat": place.lat, "lon": place.lon}
    )
    if place.country is not None:
        data["country"] = place.country
    return data


def _provider_to_dict(p: Provider) -> dict[str, object]:
    data: dict[str, object] = {
        "id": p.id,
        "kind": p.kind,
        "languages": [{"code": s.code, "certified": s.certified} for s in p.languages],
        "skills": sorted(p.skills),
        "modalities": [m for m in MODALITIES if m in p.modalities],
        "home": _location_to_dict(p.home),
        "countries": sorted(p.countries),
        "max_travel_minutes": p.max_travel_minutes,
        "max_minutes_per_day": p.max_minutes_per_day,
        "max_minutes_per_week": p.max_minutes_per_week,
        "availability": [
            {"start": iv.start.isoformat(), "end": iv.end.isoformat()} for iv in p.availability
        ],
    }
    if p.gender is not None:
        data["gender"] = p.gender
    if p.counts_idle:
        data["counts_idle"] = True
    return data


def _requirements_to_dict(r: Requirements) -> dict[str, object]:
    requires: dict[str, object] = {"certified": r.certified, "skills": sorted(r.skills)}
    if r.gender is not None:
        requires["gender"] = r.gender
    return requires


def _place_to_dict(place: Place) -> dict[str, object]:
    data: dict[str, object] = {"language": place.language, "provider_kind": place.provider_kind}
    if place.requires != Requirements():
        data["requires"] = _requirements_to_dict(place.requires)
    return data


def _session_to_dict(s: Session) -> dict[str, object]:
    data: dict[str, object] = {"id": s.id}
    if not s.staff:
        data["language"] = s.language
    data["kind"] = s.kind
    if s.modalities:
        data["modalities"] = list(s.modalities)
    else:
        data["modality"] = s.modality
    if s.location is not None:
        data["location"] = _location_to_dict(s.location)
    data["start"] = s.start.isoformat()
    data["duration_minutes"] = s.duration_minutes
    if s.window is not None:
        data["window"] = {
            "earliest": s.window.earliest.isoformat(),
            "latest": s.window.latest.isoformat(),
        }
    if s.staff:
        data["staff"] = [_place_to_dict(place) for place in s.staff]
        data["all_or_nothing"] = s.all_or_nothing
    else:
        data["provider_kind"] = s.provider_kind
        if s.requires != Requirements():
            data["requires"] = _requirements_to_dict(s.requires)
    data["excluded_providers"] = sorted(s.excluded_providers)
    data["preferred_providers"] = sorted(s.preferred_providers)
    data["priority"] = s.priority
    if s.beneficiary is not None:
        data["beneficiary"] = s.beneficiary
    return data
