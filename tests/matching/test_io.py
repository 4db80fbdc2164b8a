"""The JSON formats: round trips, defaults, and malformed files refused with the field's path."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from matching.io import (
    ProblemFormatError,
    dump_plan,
    dump_problem,
    load_plan,
    load_problem,
    plan_from_dict,
    plan_to_dict,
    problem_from_dict,
    problem_to_dict,
)
from matching.problem import (
    Assignment,
    Bound,
    HaversineTravel,
    MatrixTravel,
    Plan,
    Problem,
    Requirements,
    Score,
    Stats,
    Unassigned,
)
from matching.why import Why
from tests.matching.strategies import problems

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "problem.md"

# The example of docs/problem.md, as written there (test_the_examples_are_the_docs_own).
EXAMPLE: dict[str, Any] = {
    "format": "truchement.problem/1",
    "timezone": "Europe/Brussels",
    "travel": {"model": "haversine", "road_factor": 1.3, "speed_kmh": 60, "overhead_minutes": 5},
    "providers": [
        {
            "id": "p-017",
            "kind": "interpreter",
            "gender": "f",
            "languages": [{"code": "tir", "certified": True}, {"code": "ara", "certified": False}],
            "skills": ["trauma", "minors"],
            "modalities": ["onsite", "phone", "video"],
            "home": {"lat": 50.6066, "lon": 3.3889},
            "countries": ["BE", "FR"],
            "max_travel_minutes": 90,
            "max_minutes_per_day": 420,
            "max_minutes_per_week": 1800,
            "availability": [
                {"start": "2026-12-01T08:30:00+01:00", "end": "2026-12-01T17:00:00+01:00"}
            ],
        }
    ],
    "sessions": [
        {
            "id": "s-0042",
            "language": "tir",
            "kind": "psychological",
            "modality": "onsite",
            "location": {"lat": 50.2294, "lon": 2.9353, "country": "FR"},
            "start": "2026-12-01T10:00:00+01:00",
            "duration_minutes": 60,
            "window": {
                "earliest": "2026-12-01T09:00:00+01:00",
                "latest": "2026-12-01T11:00:00+01:00",
            },
            "provider_kind": "interpreter",
            "requires": {"gender": "f", "certified": True, "skills": ["trauma"]},
            "excluded_providers": ["p-003"],
            "preferred_providers": ["p-017"],
            "priority": 3,
            "beneficiary": "b-7c1f",
        },
        {
            "id": "s-0007",
            "language": "ara",
            "modality": "phone",
            "start": "2026-12-01T14:00:00+01:00",
            "duration_minutes": 30,
        },
    ],
    "fixed": [{"session": "s-0007", "provider": "p-017"}],
}


def test_the_examples_are_the_docs_own() -> None:
    problem_example, plan_example, why_example = re.findall(
        r"```json\n(.*?)```", CONTRACT.read_text(), re.S
    )
    assert json.loads(problem_example) == EXAMPLE
    plan = plan_from_dict(json.loads(plan_example))
    assert plan.stats.bound == Bound(-3, -380)
    assert [u.reason for u in plan.unassigned] == ["no_provider_speaks_language"]
    assert [u.why for u in plan.unassigned] == [Why("nobody_speaks", {"language": "che"})]
    parts = [Why.from_json(part) for part in json.loads(why_example)]
    assert [part.code for part in parts] == [
        "takes",
        "drive_from_previous",
        "day_load",
        "others_could",
    ]


def test_the_example_of_the_contract_reads() -> None:
    problem = problem_from_dict(EXAMPLE)
    session = problem.sessions[0]
    assert problem.providers[0].language("tir") is not None
    assert session.window is not None and session.window.latest.hour == 11
    assert session.requires == Requirements("f", True, frozenset({"trauma"}))
    assert problem.fixed[0].provider == "p-017"


def test_optional_keys_take_the_contract_defaults() -> None:
    problem = problem_from_dict(EXAMPLE)
    phone = problem.sessions[1]
    assert (phone.provider_kind, phone.priority, phone.kind) == ("any", 1, "other")
    assert phone.window is None and phone.requires == Requirements()
    minimal = copy.deepcopy(EXAMPLE)
    del minimal["travel"], minimal["timezone"], minimal["fixed"]
    minimal["sessions"][1].pop("modality")
    minimal["sessions"][1]["location"] = {"lat": 50.6, "lon": 3.0, "country": "FR"}
    problem = problem_from_dict(minimal)
    assert problem.travel == HaversineTravel(1.3, 60.0, 5)
    assert problem.timezone == "Europe/Brussels"
    assert problem.sessions[1].modality == "onsite"


def test_a_problem_survives_a_round_trip() -> None:
    problem = problem_from_dict(EXAMPLE)
    text = json.dumps(problem_to_dict(problem))
    assert problem_from_dict(json.loads(text)) == problem


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(problems())
def test_any_generated_problem_survives_a_round_trip(problem: Problem) -> None:
    again = problem_from_dict(json.loads(json.dumps(problem_to_dict(problem))))
    assert again == problem


def test_a_matrix_problem_reads_points() -> None:
    data = copy.deepcopy(EXAMPLE)
    data["travel"] = {"model": "matrix", "points": ["home", "CAES"], "minutes": [[0, 25], [27, 0]]}
    data["providers"][0]["home"] = {"point": 0}
    data["sessions"][0]["location"] = {"point": 1, "country": "FR"}
    problem = problem_from_dict(data)
    assert problem.travel == MatrixTravel(points=("home", "CAES"), minutes=((0, 25), (27, 0)))
    assert problem.sessions[0].location is not None and problem.sessions[0].location.point == 1
    assert problem_from_dict(problem_to_dict(problem)) == problem


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets (or, with `...`, deletes) the field at a dotted path."""

    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        key: Any = int(last) if last.isdigit() else last
        if value is ...:
            del node[key]
        else:
            node[key] = value

    return mutate


def _matrix(points: int, minutes: list[list[int]]) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        data["travel"] = {"model": "matrix", "points": list(range(points)), "minutes": minutes}
        data["providers"][0]["home"] = {"point": 0}
        data["sessions"][0]["location"] = {"point": 0, "country": "FR"}

    return mutate


MALFORMED = [
    ("format", _set("format", "truchement.problem/2"), "format: expected"),
    ("no providers", _set("providers", ...), "providers: missing"),
    ("timezone", _set("timezone", "Europe/Lille"), "timezone: unknown time zone"),
    (
        "time without offset",
        _set("sessions.0.window.earliest", "2026-12-01T09:00:00"),
        "sessions[0].window.earliest: not an ISO 8601 time with offset",
    ),
    (
        "not a time",
        _set("sessions.0.start", "tomorrow at ten"),
        "sessions[0].start: not an ISO 8601 time with offset",
    ),
    ("priority zero", _set("sessions.0.priority", 0), "sessions[0].priority: must be positive"),
    ("priority word", _set("sessions.0.priority", "high"), "sessions[0].priority: not an integer"),
    (
        "duration zero",
        _set("sessions.0.duration_minutes", 0),
        "sessions[0].duration_minutes: must be positive",
    ),
    (
        "duration float",
        _set("sessions.0.duration_minutes", 60.5),
        "sessions[0].duration_minutes: not an integer",
    ),
    (
        "window backwards",
        _set("sessions.0.window.latest", "2026-12-01T08:00:00+01:00"),
        "sessions[0].window.latest: is before earliest",
    ),
    (
        "misspelt key",
        _set("sessions.0.prefered_providers", ["p-017"]),
        "sessions[0].prefered_providers: unknown key",
    ),
    ("onsite without place", _set("sessions.0.location", ...), "sessions[0].location: missing"),
    ("latitude", _set("sessions.0.location.lat", 123.0), "sessions[0].location.lat: must be"),
    ("no country", _set("sessions.0.location.country", ...), "sessions[0].location.country"),
    ("modality", _set("sessions.1.modality", "fax"), "sessions[1].modality: 'fax' is not one of"),
    ("kind", _set("providers.0.kind", "translator"), "providers[0].kind: 'translator'"),
    (
        "provider modality",
        _set("providers.0.modalities", ["onsite", "carrier pigeon"]),
        "providers[0].modalities[1]",
    ),
    (
        "availability backwards",
        _set("providers.0.availability.0.end", "2026-12-01T08:00:00+01:00"),
        "providers[0].availability[0].end: must be after start",
    ),
    ("languages", _set("providers.0.languages", "tir"), "providers[0].languages: not a list"),
    (
        "certified word",
        _set("providers.0.languages.0.certified", "yes"),
        "providers[0].languages[0].certified: not true or false",
    ),
    (
        "negative range",
        _set("providers.0.max_travel_minutes", -1),
        "providers[0].max_travel_minutes: must be at least 0",
    ),
    ("duplicate session", _set("sessions.1.id", "s-0042"), "sessions[1].id: duplicate id"),
    (
        "unknown pinned session",
        _set("fixed.0.session", "s-9999"),
        "fixed[0].session: unknown session",
    ),
    (
        "unknown pinned provider",
        _set("fixed.0.provider", "p-9999"),
        "fixed[0].provider: unknown provider",
    ),
    (
        "pinned twice",
        _set("fixed", [{"session": "s-0007", "provider": "p-017"}] * 2),
        "fixed[1].session: 's-0007' is already pinned",
    ),
    ("travel model", _set("travel.model", "osrm"), "travel.model: 'osrm' is not one of"),
    ("speed", _set("travel.speed_kmh", 0), "travel.speed_kmh: must be greater than zero"),
    ("matrix not square", _matrix(2, [[0, 1]]), "travel.minutes: has 1 rows for 2 points"),
    ("matrix row", _matrix(2, [[0, 1], [1]]), "travel.minutes[1]: not a list of 2 minutes"),
    ("matrix negative", _matrix(2, [[0, -1], [1, 0]]), "travel.minutes[0][1]: not a non-negative"),
]


@pytest.mark.parametrize(
    ("mutate", "message"), [pytest.param(m, msg, id=name) for name, m, msg in MALFORMED]
)
def test_a_malformed_problem_names_the_field(
    mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = copy.deepcopy(EXAMPLE)
    mutate(data)
    with pytest.raises(ProblemFormatError) as caught:
        problem_from_dict(data)
    assert str(caught.value).startswith(message)


def test_matrix_places_must_be_points() -> None:
    data = copy.deepcopy(EXAMPLE)
    _matrix(2, [[0, 1], [1, 0]])(data)
    data["sessions"][0]["location"] = {"lat": 50.6, "lon": 3.0, "country": "FR"}
    with pytest.raises(ProblemFormatError, match=r"^sessions\[0\]\.location\.point: missing"):
        problem_from_dict(data)
    data["sessions"][0]["location"] = {"point": 2, "country": "FR"}
    with pytest.raises(ProblemFormatError, match=r"^sessions\[0\]\.location\.point: 2 is out"):
        problem_from_dict(data)


@pytest.mark.parametrize("data", [[], "problem", None, 3])
def test_a_file_that_is_not_an_object_is_refused(data: object) -> None:
    with pytest.raises(ProblemFormatError, match="not a JSON object"):
        problem_from_dict(data)


def test_a_file_that_is_not_json_says_where(tmp_path: Path) -> None:
    path = tmp_path / "problem.json"
    path.write_text('{"format": "truchement.problem/1",\n  "providers": [,]}')
    with pytest.raises(ProblemFormatError, match="line 2"):
        load_problem(path)


def test_problem_files_round_trip(tmp_path: Path) -> None:
    problem = problem_from_dict(EXAMPLE)
    dump_problem(problem, tmp_path / "p.json")
    assert load_problem(tmp_path / "p.json") == problem


# Plans.

PLAN = Plan(
    assignments=(Assignment("s-0042", "p-017", datetime(2026, 12, 1, 9, 15, tzinfo=UTC)),),
    unassigned=(Unassigned("s-0099", "no_provider_speaks_language", "nobody speaks 'tig'"),),
    score=Score(0, -3, -412),
    stats=Stats("OPTIMAL", 1.8, Bound(-3, -380), extra={"workers": 8}),
    explanations={"s-0042": "p-017 speaks Tigrinya."},
)


def test_a_plan_writes_the_contract_keys_and_local_starts() -> None:
    data = plan_to_dict(PLAN, timezone="Europe/Brussels")
    assert data["assignments"] == [
        {"session": "s-0042", "provider": "p-017", "start": "2026-12-01T10:15:00+01:00"}
    ]
    assert data["score"] == {"hard": 0, "medium": -3, "soft": -412}
    assert data["stats"] == {
        "workers": 8,
        "status": "OPTIMAL",
        "solve_seconds": 1.8,
        "bound": {"medium": -3, "soft": -380},
    }
    assert data["explanations"] == {"s-0042": "p-017 speaks Tigrinya."}


def test_a_plan_survives_a_round_trip(tmp_path: Path) -> None:
    dump_plan(PLAN, tmp_path / "plan.json", timezone="Europe/Brussels")
    again = load_plan(tmp_path / "plan.json")
    assert again == PLAN
    assert again.assignments[0].start.utcoffset() is not None


def test_a_plan_without_bound_or_explanations_reads() -> None:
    data = plan_to_dict(Plan((), (), Score(), Stats("FEASIBLE", 0.0)))
    assert data["stats"] == {"status": "FEASIBLE", "solve_seconds": 0.0, "bound": None}
    assert "explanations" not in data
    data["tool"] = {"name": "outside checker"}
    assert plan_from_dict(data).stats.bound is None


MALFORMED_PLANS = [
    (_set("format", "truchement.problem/1"), "format: expected 'truchement.plan/1'"),
    (_set("unassigned.0.reason", "busy"), "unassigned[0].reason: 'busy' is not one of"),
    (
        _set("assignments.0.start", "2026-12-01T10:15:00"),
        "assignments[0].start: not an ISO 8601 time with offset",
    ),
    (_set("assignments.0.provider", ...), "assignments[0].provider: missing"),
    (_set("score", ...), "score: missing"),
    (_set("score.soft", 1.5), "score.soft: not an integer"),
    (_set("stats.bound", {"medium": -3}), "stats.bound.soft: missing"),
    (_set("stats.solve_seconds", -1), "stats.solve_seconds: must be 0 or more"),
]


@pytest.mark.parametrize(("mutate", "message"), MALFORMED_PLANS)
def test_a_malformed_plan_names_the_field(
    mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = json.loads(json.dumps(plan_to_dict(PLAN)))
    mutate(data)
    with pytest.raises(ProblemFormatError) as caught:
        plan_from_dict(data)
    assert str(caught.value).startswith(message)
