"""Plain functions that build small problems by hand, with readable local times.

`at("2026-12-01 10:00")` is 10:00 in Brussels; places are real towns of the
border area so that travel minutes stay realistic.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from matching.problem import (
    Assignment,
    FixedAssignment,
    HaversineTravel,
    Interval,
    LanguageSkill,
    Location,
    Plan,
    Problem,
    Provider,
    Requirements,
    Score,
    Session,
    Stats,
    Unassigned,
    Window,
)

BRUSSELS = ZoneInfo("Europe/Brussels")

LILLE = Location(lat=50.63108, lon=3.04702, country="FR")
ROUBAIX = Location(lat=50.68872, lon=3.18425, country="FR")
TOURNAI = Location(lat=50.60566, lon=3.38783, country="BE")
MOUSCRON = Location(lat=50.74334, lon=3.21391, country="BE")
KORTRIJK = Location(lat=50.81788, lon=3.27842, country="BE")
MONS = Location(lat=50.45496, lon=3.95196, country="BE")
DUNKERQUE = Location(lat=51.01691, lon=2.34311, country="FR")


def at(local: str) -> datetime:
    """A Brussels wall-clock time, `YYYY-MM-DD HH:MM`, as an aware datetime."""
    return datetime.fromisoformat(local).replace(tzinfo=BRUSSELS)


def home(place: Location) -> Location:
    """The same point as a home (homes carry no country)."""
    return Location(lat=place.lat, lon=place.lon, point=place.point)


def provider(
    id: str = "p-1",
    *,
    languages: tuple[str, ...] = ("ara",),
    certified: tuple[str, ...] = (),
    living: Location = LILLE,
    available: tuple[tuple[str, str], ...] = (("2026-12-01 08:00", "2026-12-01 18:00"),),
    **fields: Any,
) -> Provider:
    """An interpreter in Lille who speaks Arabic, works in both countries, free 8-18 on 1 Dec."""
    values: dict[str, Any] = {
        "kind": "interpreter",
        "countries": frozenset({"FR", "BE"}),
        "gender": "f",
    }
    values.update(fields)
    return Provider(
        id=id,
        languages=tuple(LanguageSkill(code, code in certified) for code in languages),
        home=home(living),
        availability=tuple(Interval(at(a), at(b)) for a, b in available),
        **values,
    )


def session(
    id: str = "s-1",
    *,
    start: str = "2026-12-01 10:00",
    minutes: int = 60,
    place: Location | None = LILLE,
    window: tuple[str, str] | None = None,
    requires: Requirements | None = None,
    **fields: Any,
) -> Session:
    """A one-hour onsite Arabic session in Lille at 10:00 on 1 Dec; `place=None` is by phone."""
    values: dict[str, Any] = {"language": "ara", "modality": "onsite" if place else "phone"}
    values.update(fields)
    return Session(
        id=id,
        start=at(start),
        duration_minutes=minutes,
        location=place,
        window=Window(at(window[0]), at(window[1])) if window else None,
        requires=requires or Requirements(),
        **values,
    )


def problem(
    providers: list[Provider],
    sessions: list[Session],
    fixed: Sequence[tuple[str, str]] = (),
    **fields: Any,
) -> Problem:
    return Problem(
        providers=tuple(providers),
        sessions=tuple(sessions),
        fixed=tuple(FixedAssignment(s, p) for s, p in fixed),
        travel=fields.pop("travel", HaversineTravel()),
        **fields,
    )


def assign(session_id: str, provider_id: str, start: str) -> Assignment:
    return Assignment(session_id, provider_id, at(start))


def plan(
    assignments: list[Assignment],
    unassigned: Sequence[Unassigned] = (),
    score: Score | None = None,
) -> Plan:
    return Plan(
        assignments=tuple(assignments),
        unassigned=tuple(unassigned),
        score=score or Score(),
        stats=Stats(status="TEST", solve_seconds=0.0),
    )
