"""The matcher's input and output as frozen plain data (the contract of docs/problem.md).

Nothing here knows about databases or the web: the service builds a `Problem`,
`truchement solve` reads one from JSON, and both get a `Plan` back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from matching.why import Why, english

PROBLEM_FORMAT = "truchement.problem/1"
PLAN_FORMAT = "truchement.plan/1"

Modality = Literal["onsite", "phone", "video"]
ProviderKind = Literal["interpreter", "ambassador", "mediator"]
SessionProviderKind = Literal["interpreter", "ambassador", "mediator", "any"]

MODALITIES: tuple[Modality, ...] = ("onsite", "phone", "video")
PROVIDER_KINDS: tuple[ProviderKind, ...] = ("interpreter", "ambassador", "mediator")

# Machine-readable reasons a session stays unassigned, in the order a
# dispatcher would check them (docs/problem.md, "Unassigned reasons").
UnassignedReason = Literal[
    "no_provider_speaks_language",
    "no_eligible_provider",
    "out_of_travel_range",
    "no_availability",
    "capacity",
    "not_solved",
]
UNASSIGNED_REASONS: tuple[UnassignedReason, ...] = (
    "no_provider_speaks_language",
    "no_eligible_provider",
    "out_of_travel_range",
    "no_availability",
    "capacity",
    "not_solved",
)

# A machine code for each way a hard rule can be broken, shared by the
# validator's violations, eligibility's refusals and the candidates' list
# (docs/problem.md, "Hard rules"); each belongs to one rule number.
RuleCode = Literal[
    "unknown_session",
    "unknown_provider",
    "missing",
    "duplicate",
    "fixed",
    "language",
    "certification",
    "kind",
    "gender",
    "skills",
    "excluded",
    "modality",
    "country",
    "availability",
    "travel_range",
    "overlap",
    "drive",
    "daily_minutes",
    "weekly_minutes",
    "window",
    "no_offset",
]
RULE_OF_CODE: dict[RuleCode, int] = {
    "unknown_session": 1,
    "unknown_provider": 1,
    "missing": 1,
    "duplicate": 1,
    "fixed": 1,
    "language": 2,
    "certification": 2,
    "kind": 3,
    "gender": 4,
    "skills": 4,
    "excluded": 4,
    "modality": 5,
    "country": 6,
    "availability": 7,
    "travel_range": 8,
    "overlap": 9,
    "drive": 9,
    "daily_minutes": 10,
    "weekly_minutes": 10,
    "window": 11,
    "no_offset": 11,
}
"""The hard rule (1-11) each code belongs to."""

PREFERRED_BONUS = 60
"""Soft points earned by giving a session to one of its preferred providers."""


@dataclass(frozen=True)
class Location:
    """A place: coordinates (haversine model) or a point index (matrix model).

    Session locations also carry the country, which decides cross-border
    eligibility (rule 6); homes do not need one.
    """

    lat: float | None = None
    lon: float | None = None
    point: int | None = None
    country: str | None = None


@dataclass(frozen=True)
class Interval:
    """A half-open span of time `[start, end)` with offsets."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class LanguageSkill:
    code: str
    certified: bool = False


@dataclass(frozen=True)
class Provider:
    """An interpreter, ambassador or mediator and everything that limits their work."""

    id: str
    kind: ProviderKind
    languages: tuple[LanguageSkill, ...]
    home: Location
    gender: str | None = None
    skills: frozenset[str] = frozenset()
    modalities: frozenset[Modality] = frozenset(MODALITIES)
    countries: frozenset[str] = frozenset()
    max_travel_minutes: int = 90
    max_minutes_per_day: int = 480
    max_minutes_per_week: int = 2400
    availability: tuple[Interval, ...] = ()
    counts_idle: bool = False
    """Salaried: paid from leaving home to coming back, so waiting costs soft points."""

    def language(self, code: str) -> LanguageSkill | None:
        for skill in self.languages:
            if skill.code == code:
                return skill
        return None


@dataclass(frozen=True)
class Window:
    """The range in which the solver may choose the start; `latest` is the latest start."""

    earliest: datetime
    latest: datetime


@dataclass(frozen=True)
class Requirements:
    gender: str | None = None
    certified: bool = False
    skills: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Session:
    """One appointment that needs a provider."""

    id: str
    language: str
    start: datetime
    duration_minutes: int
    kind: str = "other"
    modality: Modality = "onsite"
    location: Location | None = None
    window: Window | None = None
    provider_kind: SessionProviderKind = "any"
    requires: Requirements = field(default_factory=Requirements)
    excluded_providers: frozenset[str] = frozenset()
    preferred_providers: frozenset[str] = frozenset()
    priority: int = 1
    beneficiary: str | None = None

    @property
    def is_onsite(self) -> bool:
        return self.modality == "onsite"


@dataclass(frozen=True)
class HaversineTravel:
    """Great-circle km times a road factor, driven at a mean speed, plus parking overhead."""

    road_factor: float = 1.3
    speed_kmh: float = 60.0
    overhead_minutes: int = 5
    model: Literal["haversine"] = "haversine"


@dataclass(frozen=True)
class MatrixTravel:
    """Minutes between numbered points, from a routing engine or a dispatcher's table."""

    points: tuple[object, ...]
    minutes: tuple[tuple[int, ...], ...]
    model: Literal["matrix"] = "matrix"


TravelModel = HaversineTravel | MatrixTravel


@dataclass(frozen=True)
class FixedAssignment:
    """Confirmed work that a re-plan must keep as it is."""

    session: str
    provider: str


@dataclass(frozen=True)
class Problem:
    providers: tuple[Provider, ...]
    sessions: tuple[Session, ...]
    timezone: str = "Europe/Brussels"
    travel: TravelModel = field(default_factory=HaversineTravel)
    fixed: tuple[FixedAssignment, ...] = ()
    fairness_weight: int = 0
    """Soft points per minute of the busiest provider's load (docs/problem.md, "Score"); 0: off."""


@dataclass(frozen=True)
class Assignment:
    session: str
    provider: str
    start: datetime


@dataclass(frozen=True)
class Unassigned:
    """A session left out, its reason, and how far the nearest providers got (`why`).

    `detail` is `why` in English (the plan's JSON format keeps it for readers);
    a plan read back from JSON has the detail only.
    """

    session: str
    reason: UnassignedReason
    detail: str
    why: Why | None = None

    @classmethod
    def of(cls, session: str, reason: UnassignedReason, why: Why) -> Unassigned:
        return cls(session, reason, english(why), why)


@dataclass(frozen=True, order=True)
class Score:
    """A HardMediumSoft score; tuples compare level by level, higher is better."""

    hard: int = 0
    medium: int = 0
    soft: int = 0


@dataclass(frozen=True)
class Bound:
    """The solver's proven best possible medium and soft levels."""

    medium: int
    soft: int


@dataclass(frozen=True)
class Stats:
    status: str
    solve_seconds: float
    bound: Bound | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    assignments: tuple[Assignment, ...]
    unassigned: tuple[Unassigned, ...]
    score: Score
    stats: Stats
    explanations: dict[str, str] = field(default_factory=dict)
