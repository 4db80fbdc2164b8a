"""Realistic matching problems of the French-Belgian border area, for benchmarks and tests.

An instance must look like a week of SéTIS-style social interpreting (the
field as benchmarks/README.md describes it): a long tail of languages where
Arabic, Dari, Pashto and Tigrinya dominate and Chechen, Oromo or Georgian
have one or two speakers at best; reception centres around Calais,
Croisilles, Condette, Tournai and Mouscron; interpreters, peer-support
ambassadors and a few mediators with part-time rosters; therapy series that
want the same interpreter. Demand is set so that capacity bites in the
scarce languages and far-off places, which is where a matcher earns its
keep over a greedy dispatcher.

Everything is drawn from one `random.Random(seed)`, in a fixed order, so the
same scale and seed always give the same problem.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from matching.problem import (
    HaversineTravel,
    Interval,
    LanguageSkill,
    Location,
    Modality,
    Place,
    Problem,
    Provider,
    ProviderKind,
    Requirements,
    Session,
    SessionProviderKind,
    Window,
)
from matching.towns import Town, load_towns
from matching.travel import great_circle_km, haversine_minutes

T = TypeVar("T")

TIMEZONE = "Europe/Brussels"
FIRST_MONDAY = date(2027, 2, 1)
"""A fixed future Monday: four working weeks follow with no public holiday and no DST change."""

DAY_OPENS = 8 * 60 + 30
DAY_CLOSES = 17 * 60 + 30
"""Sessions start at 08:30 at the earliest and end by 17:30."""


@dataclass(frozen=True)
class ScaleSpec:
    """The size of an instance and how thinly providers are spread over it.

    `availability_mix` gives the shares of full-time, part-time, half-day and
    occasional providers. Bigger pools hold more occasional freelancers, which
    keeps the load per available provider-day comparable across scales.
    `area` names the towns or departments/provinces (the `admin2` column) where
    sessions take place: a small service covers a few reception places, a
    regional one the whole border area (None: every town of towns.csv).
    `zipf` is the exponent of language demand by rank: a small team near
    Calais mostly hears the top few languages, a regional pool the long tail.
    """

    name: str
    sessions: int
    providers: int
    days: int
    availability_mix: tuple[float, float, float, float] = (0.45, 0.30, 0.15, 0.10)
    area: frozenset[str] | None = None
    zipf: float = 1.15
    density: float = 1.0
    """Only for `dense` (`matching_bench.dense`): sessions per 100 for its 25 providers."""
    groups: int = 0
    """Only for `dense`: onsite sessions made two-place groups (`dense.with_group_work`)."""
    ladders: int = 0
    """Only for `dense`: onsite sessions that may go to video instead."""

    @property
    def label(self) -> str:
        return scale_label(self.name, self.groups, self.ladders)


def scale_label(name: str, groups: int, ladders: int) -> str:
    """A scale's name, with its group work when it has some (`dense 6g 6l`)."""
    return f"{name} {groups}g {ladders}l" if groups or ladders else name


INTEGRAPSY_AREA = frozenset(
    {
        "Calais",
        "Grande-Synthe",
        "Dunkerque",
        "Boulogne-sur-Mer",
        "Condette",
        "Croisilles",
        "Arras",
        "Lille",
        "Tournai",
        "Mouscron",
    }
)
"""The Channel coast, the La Vie Active centres, Lille and Wallonie picarde."""
BORDER_AREA = frozenset(
    {"Nord (59)", "Pas-de-Calais (62)", "Hainaut (Wallonie picarde)", "West-Vlaanderen"}
)
REGION_AREA = BORDER_AREA | {"Somme (80)", "Aisne (02)", "Oise (60)", "Hainaut"}

SCALES: dict[str, ScaleSpec] = {
    "S": ScaleSpec("S", 60, 30, 2, (0.65, 0.20, 0.10, 0.05), INTEGRAPSY_AREA, zipf=1.5),
    "M": ScaleSpec("M", 400, 120, 5, (0.50, 0.25, 0.10, 0.15), BORDER_AREA, zipf=1.3),
    "L": ScaleSpec("L", 2000, 450, 10, (0.25, 0.25, 0.15, 0.35), area=REGION_AREA),
    "XL": ScaleSpec("XL", 8000, 1500, 20, (0.15, 0.20, 0.15, 0.50)),
    "DENSE": ScaleSpec("dense", 100, 25, 1),
}
"""`dense` is another shape: one day, four to six windowed sessions per provider."""


def dense_spec(density: float = 1.0, groups: int = 0, ladders: int = 0) -> ScaleSpec:
    """The `dense` scale with `density` times its 100 sessions (25 providers, one day), and
    `groups` and `ladders` of its onsite sessions made group work (`dense.with_group_work`)."""
    sessions = max(1, round(100 * density))
    return ScaleSpec("dense", sessions, 25, 1, density=density, groups=groups, ladders=ladders)


@dataclass(frozen=True)
class LanguageProfile:
    """A language as the generator sees it.

    `supply` is the share of speakers relative to demand: above 1 the pool has
    plenty (Russian, Turkish), below 1 the language is short (Tigrinya, Pashto).
    `affinity` multiplies demand and supply by zone: the Channel corridor sees
    the Horn of Africa and Afghanistan, Belgium more Eastern Europe and Congo.
    """

    code: str
    name: str
    supply: float
    corridor: float = 1.0
    france: float = 1.0
    belgium: float = 1.0
    related: tuple[str, ...] = ()


# In order of demand (rank 1 first); demand falls like 1 / rank**ScaleSpec.zipf.
LANGUAGES: tuple[LanguageProfile, ...] = (
    LanguageProfile("ara", "Arabic", 1.2, corridor=1.3, related=("tzm", "som", "kmr")),
    LanguageProfile("prs", "Dari", 0.6, corridor=1.5, related=("pes", "pus")),
    LanguageProfile("pus", "Pashto", 0.45, corridor=1.5, belgium=0.8, related=("prs", "urd")),
    LanguageProfile("tir", "Tigrinya", 0.3, corridor=1.8, belgium=0.7, related=("amh", "ara")),
    LanguageProfile("ukr", "Ukrainian", 1.0, corridor=0.4, belgium=1.6, related=("rus", "pol")),
    LanguageProfile("som", "Somali", 0.6, corridor=1.3, related=("ara", "swa")),
    LanguageProfile("pes", "Farsi", 1.0, related=("prs", "ckb")),
    LanguageProfile("ckb", "Kurdish (Sorani)", 0.6, corridor=1.5, related=("kmr", "pes", "ara")),
    LanguageProfile("amh", "Amharic", 0.45, corridor=1.5, related=("tir", "orm")),
    LanguageProfile("rus", "Russian", 1.6, corridor=0.5, belgium=1.5, related=("ukr", "hye")),
    LanguageProfile("kmr", "Kurdish (Kurmanji)", 0.7, corridor=1.3, related=("tur", "ckb")),
    LanguageProfile("urd", "Urdu", 0.9, related=("pan", "pus")),
    LanguageProfile("sqi", "Albanian", 1.0, corridor=0.6, belgium=1.4),
    LanguageProfile("tur", "Turkish", 1.2, belgium=1.4, related=("kmr",)),
    LanguageProfile("pan", "Punjabi", 0.8, related=("urd",)),
    LanguageProfile("hye", "Armenian", 0.9, corridor=0.5, belgium=1.5, related=("rus",)),
    LanguageProfile("lin", "Lingala", 1.1, corridor=0.5, belgium=1.8, related=("swa",)),
    LanguageProfile("swa", "Swahili", 0.8, belgium=1.5, related=("lin",)),
    LanguageProfile("pol", "Polish", 1.2, corridor=0.5, belgium=1.3, related=("ukr", "rus")),
    LanguageProfile("tzm", "Tamazight", 0.0, related=("ara",)),
    LanguageProfile("che", "Chechen", 0.0, corridor=0.5, belgium=1.8, related=("rus",)),
    LanguageProfile("orm", "Oromo", 0.0, corridor=1.3, related=("amh",)),
    LanguageProfile("kat", "Georgian", 0.0, corridor=0.5, belgium=1.6, related=("rus",)),
)
RARE_LANGUAGES: tuple[str, ...] = ("tzm", "che", "orm", "kat")
"""Languages whose speakers are placed by hand: none to two per instance, like the field."""

CORRIDOR_TOWNS = frozenset(
    {
        "Calais",
        "Grande-Synthe",
        "Dunkerque",
        "Condette",
        "Boulogne-sur-Mer",
        "Saint-Omer",
        "Croisilles",
    }
)
"""The Channel crossing points and the centres that host people coming from them."""

SITE_WEIGHTS: dict[str, float] = {
    "Calais": 12, "Lille": 10, "Grande-Synthe": 6, "Croisilles": 6, "Tournai": 6,
    "Condette": 5, "Mouscron": 4, "Namur": 4, "Charleroi": 4, "Liège": 4, "Kortrijk": 4,
    "Dunkerque": 4, "Boulogne-sur-Mer": 3, "Roubaix": 3, "Tourcoing": 3, "Arras": 3,
    "Amiens": 3, "Mons": 3, "Brugge": 3, "Oostende": 3, "Saint-Omer": 2, "Valenciennes": 2,
    "Ieper": 2, "Roeselare": 2, "Poperinge": 1.5, "Menen": 1.5, "Douai": 1.5, "Lens": 1.5,
}  # fmt: skip
"""Where onsite sessions happen: reception centres, hospitals, lawyers (other towns: 0.5)."""
OTHER_SITE_WEIGHT = 0.5

HOME_RADIUS_KM = 25.0
"""Providers live in a town within this distance of the kind of work they were recruited for."""
RARE_SPEAKER_PER_PROVIDERS = 300
"""Big pools hold one more speaker of each rare language per this many providers."""
UNKNOWN_POPULATION = 30_000
"""towns.csv has no population for Belgian towns; each counts as a mid-size town."""

CROSS_BORDER_SHARE = 0.2
MODALITY_SHARES: dict[Modality, float] = {"onsite": 0.75, "phone": 0.18, "video": 0.07}
KIND_SHARES_ONSITE: dict[str, float] = {
    "psychological": 0.25, "medical": 0.20, "legal": 0.16, "social": 0.21, "group": 0.09,
    "minors_activity": 0.09,
}  # fmt: skip
KIND_SHARES_REMOTE: dict[str, float] = {
    "medical": 0.30, "legal": 0.25, "social": 0.30, "psychological": 0.15,
}  # fmt: skip
DURATIONS: dict[str, tuple[int, ...]] = {
    "psychological": (60, 75, 90),
    "medical": (45, 60, 75, 90),
    "legal": (60, 90, 120),
    "social": (45, 60, 90),
    "group": (90, 105, 120),
    "minors_activity": (90, 105, 120),
}
"""Onsite durations in minutes; therapy keeps to 60-90 and nothing exceeds two hours."""
PHONE_DURATIONS = (20, 30, 30, 45)
VIDEO_DURATIONS = (30, 45, 45, 60)
"""Remote sessions stay short: phone for quick or urgent matters, video under an hour."""

GENDER_F_SHARE: dict[str, float] = {
    "psychological": 0.22, "medical": 0.22, "social": 0.05, "legal": 0.05,
}  # fmt: skip
"""Sexual violence, gynaecology and many psychotherapies ask for a woman (about 12% overall)."""
CERTIFIED_SHARE: dict[str, float] = {
    "legal": 0.6, "medical": 0.4, "psychological": 0.15, "social": 0.05,
}  # fmt: skip
"""Asylum interviews, consent and diagnosis ask for a certified interpreter (about 25%)."""

WINDOW_SHARE = 0.30
WINDOW_WIDTHS = (60, 90, 120, 180)
SERIES_SHARE = 0.22
"""Share of sessions that belong to a continuity series (therapy, follow-up)."""


@dataclass(frozen=True)
class _Site:
    """A place where onsite sessions happen: a centre, a hospital or an office near a town."""

    town: Town
    lat: float
    lon: float
    weight: float


@dataclass
class _SessionDraft:
    """A session before ids are given; exclusions and wishes come once providers exist."""

    language: str
    kind: str
    modality: Modality
    site: _Site
    day: date
    start: int
    duration: int
    window: tuple[int, int] | None
    provider_kind: SessionProviderKind
    requires: Requirements
    priority: int
    beneficiary: str
    series: bool
    excluded: frozenset[str] = frozenset()
    preferred: frozenset[str] = frozenset()
    staff: tuple[Place, ...] = ()
    all_or_nothing: bool = True


@dataclass
class _Draft:
    """A provider before it is frozen: languages and skills are still being added."""

    kind: ProviderKind
    gender: str
    home_town: Town
    lat: float
    lon: float
    countries: frozenset[str]
    languages: dict[str, bool]
    skills: set[str]
    modalities: frozenset[Modality]
    max_travel: int
    daily: int
    weekly: int
    availability: tuple[Interval, ...]


def scale_spec(scale: str | ScaleSpec) -> ScaleSpec:
    """The spec of a named scale (S, M, L, XL, dense, any case); a ScaleSpec passes through."""
    if isinstance(scale, ScaleSpec):
        return scale
    try:
        return SCALES[scale.upper()]
    except KeyError:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}") from None


def working_days(count: int) -> list[date]:
    """`count` Monday-to-Friday dates from FIRST_MONDAY."""
    days: list[date] = []
    day = FIRST_MONDAY
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def generate_problem(scale: str | ScaleSpec, seed: int) -> Problem:
    """A reproducible instance of the given scale: the same seed gives the same problem.

    Demand is drawn first; each provider is then recruited for one drawn
    session (its language, region and profile), with the language's `supply`
    as the odds, so the pool follows the work except where the field is short.
    """
    spec = scale_spec(scale)
    if spec.name == "dense":
        from matching_bench.dense import generate_dense, with_group_work

        dense = generate_dense(seed, spec.density)
        if spec.groups or spec.ladders:
            return with_group_work(dense, seed, spec.groups, spec.ladders)
        return dense
    rng = random.Random(seed)
    days = working_days(spec.days)
    towns = load_towns()
    sites = _sites(rng, towns, spec.area)
    drafts = _session_drafts(rng, spec, days, sites)
    anchors = _anchors(rng, drafts, spec.providers)
    supply = [_PROFILES[d.language].supply for d in drafts]
    local_demand: dict[str, list[str]] = {"corridor": [], "FR": [], "BE": []}
    for d, odds in zip(drafts, supply, strict=True):
        if odds > 0:
            local_demand[_zone(d.site.town)].append(d.language)
    for zone, codes in local_demand.items():
        local_demand[zone] = codes or [p.code for p in LANGUAGES if p.supply > 0]
    provider_drafts = [
        _provider(rng, towns, days, spec, anchor, local_demand) for anchor in anchors
    ]
    _add_rare_speakers(rng, provider_drafts, spec, drafts)
    providers = _freeze_providers(provider_drafts)
    _add_exclusions_and_wishes(rng, drafts, providers)
    _make_groups(random.Random(f"groups-{seed}"), drafts, spec)
    return Problem(
        providers=tuple(providers),
        sessions=tuple(_freeze_sessions(drafts)),
        timezone=TIMEZONE,
        travel=HaversineTravel(),
    )


def _anchors(rng: random.Random, drafts: list[_SessionDraft], count: int) -> list[_SessionDraft]:
    """`count` sessions to recruit providers for, drawn by systematic sampling.

    Sorted by language and place and weighted by the language's supply, the
    pick is proportional to demand with little noise: a language asked twice
    in sixty sessions gets its one speaker instead of a coin toss, while the
    short languages (supply below 1) stay short.
    """
    ordered = sorted(
        (d for d in drafts if _PROFILES[d.language].supply > 0),
        key=lambda d: (d.language, _zone(d.site.town), d.site.town.name, d.day, d.start),
    )
    weights = [_PROFILES[d.language].supply for d in ordered]
    step = sum(weights) / count
    point = rng.random() * step
    picked: list[_SessionDraft] = []
    cumulative = 0.0
    for draft, weight in zip(ordered, weights, strict=True):
        cumulative += weight
        while point < cumulative and len(picked) < count:
            picked.append(draft)
            point += step
    while len(picked) < count:  # float rounding can leave the last point just past the end
        picked.append(ordered[-1])
    rng.shuffle(picked)
    return picked


def _sites(rng: random.Random, towns: Sequence[Town], area: frozenset[str] | None) -> list[_Site]:
    """One to three sites per town of the area; busy towns get more, so sessions cluster."""
    sites: list[_Site] = []
    for t in towns:
        if area is not None and t.name not in area and t.admin2 not in area:
            continue
        weight = SITE_WEIGHTS.get(t.name, OTHER_SITE_WEIGHT)
        count = 3 if weight >= 4 else 2 if weight >= 2 else 1
        for _ in range(count):
            lat, lon = jitter(rng, t.lat, t.lon, 3.0)
            sites.append(_Site(t, lat, lon, weight / count))
    return sites


def _session_drafts(
    rng: random.Random, spec: ScaleSpec, days: list[date], sites: list[_Site]
) -> list[_SessionDraft]:
    """Continuity series first (same person, place, hour), then single appointments."""
    used_beneficiaries: set[str] = set()
    drafts: list[_SessionDraft] = []
    series_target = round(spec.sessions * SERIES_SHARE)
    while len(drafts) < series_target:
        series = _series(rng, days, sites, used_beneficiaries, spec.zipf)
        drafts.extend(series[: series_target - len(drafts)])
    while len(drafts) < spec.sessions:
        drafts.append(_single(rng, days, sites, used_beneficiaries, spec.zipf))
    return drafts


def _single(
    rng: random.Random, days: list[date], sites: list[_Site], used: set[str], zipf: float
) -> _SessionDraft:
    modality: Modality = _weighted(rng, tuple(MODALITY_SHARES), tuple(MODALITY_SHARES.values()))
    # Remote sessions are requested by a centre too: the site gives the zone and language.
    site = _weighted(rng, sites, [s.weight for s in sites])
    if modality == "onsite":
        kind = _weighted(rng, tuple(KIND_SHARES_ONSITE), tuple(KIND_SHARES_ONSITE.values()))
        duration = rng.choice(DURATIONS[kind])
    else:
        kind = _weighted(rng, tuple(KIND_SHARES_REMOTE), tuple(KIND_SHARES_REMOTE.values()))
        duration = rng.choice(PHONE_DURATIONS if modality == "phone" else VIDEO_DURATIONS)
    language = _draw_language(rng, _zone(site.town), zipf)
    day = rng.choice(days)
    start = _start_minute(rng, duration)
    window = _window(rng, start, duration) if rng.random() < WINDOW_SHARE else None
    provider_kind, requires = _requirements(rng, kind)
    urgent_odds = 0.15 if kind in ("medical", "legal") or modality == "phone" else 0.06
    roll = rng.random()
    priority = 3 if roll < urgent_odds else 2 if roll < urgent_odds + 0.25 else 1
    return _SessionDraft(
        language=language,
        kind=kind,
        modality=modality,
        site=site,
        day=day,
        start=start,
        duration=duration,
        window=window,
        provider_kind=provider_kind,
        requires=requires,
        priority=priority,
        beneficiary=_beneficiary(rng, used),
        series=False,
    )


def _series(
    rng: random.Random, days: list[date], sites: list[_Site], used: set[str], zipf: float
) -> list[_SessionDraft]:
    """A therapy episode or a social follow-up: same person, place and hour, weekly-ish."""
    kind = _weighted(rng, ("psychological", "social", "medical"), (0.6, 0.25, 0.15))
    modality: Modality = "onsite" if rng.random() < 0.85 else "video"
    site = _weighted(rng, sites, [s.weight for s in sites])
    language = _draw_language(rng, _zone(site.town), zipf)
    duration = rng.choice(DURATIONS[kind]) if modality == "onsite" else rng.choice(VIDEO_DURATIONS)
    length = rng.choice((2, 3, 3, 4))
    gap = 1 if len(days) <= 2 else rng.choice((2, 3, 5, 5))
    while length > 1 and gap * (length - 1) >= len(days):
        if gap > 1:
            gap -= 1
        else:
            length -= 1
    first = rng.randrange(len(days) - gap * (length - 1))
    start = _start_minute(rng, duration)
    window = _window(rng, start, duration) if rng.random() < WINDOW_SHARE else None
    provider_kind, requires = _requirements(rng, kind)
    beneficiary = _beneficiary(rng, used)
    priority = 2 if rng.random() < 0.3 else 1
    return [
        _SessionDraft(
            language=language,
            kind=kind,
            modality=modality,
            site=site,
            day=days[first + i * gap],
            start=start,
            duration=duration,
            window=window,
            provider_kind=provider_kind,
            requires=requires,
            priority=priority,
            beneficiary=beneficiary,
            series=True,
        )
        for i in range(length)
    ]


def _requirements(rng: random.Random, kind: str) -> tuple[SessionProviderKind, Requirements]:
    gender = "f" if rng.random() < GENDER_F_SHARE.get(kind, 0.0) else None
    certified = rng.random() < CERTIFIED_SHARE.get(kind, 0.0)
    skills: set[str] = set()
    if kind == "minors_activity" or rng.random() < 0.03:
        skills.add("minors")
    if kind == "psychological" and rng.random() < 0.3:
        skills.add("trauma")
    provider_kind: SessionProviderKind = "any"
    if kind == "legal" and rng.random() < 0.3:
        provider_kind = "interpreter"
    elif kind in ("group", "minors_activity") and rng.random() < 0.25 and not certified:
        provider_kind = "ambassador"
    elif kind == "social" and rng.random() < 0.05 and not certified:
        provider_kind = "mediator"
    return provider_kind, Requirements(gender=gender, certified=certified, skills=frozenset(skills))


def _provider(
    rng: random.Random,
    towns: Sequence[Town],
    days: list[date],
    spec: ScaleSpec,
    anchor: _SessionDraft,
    local_demand: dict[str, list[str]],
) -> _Draft:
    """A provider recruited for the kind of work `anchor` stands for, living near it."""
    kind: ProviderKind
    if anchor.provider_kind != "any" and rng.random() < 0.7:
        kind = anchor.provider_kind
    elif anchor.requires.certified and rng.random() < 0.9:
        kind = "interpreter"
    else:
        kind = _weighted(rng, ("interpreter", "ambassador", "mediator"), (0.65, 0.25, 0.10))

    nearby = [t for t in towns if _km(t, anchor.site.town) <= HOME_RADIUS_KM]
    home_town = _weighted(rng, nearby, [float(t.population or UNKNOWN_POPULATION) for t in nearby])
    lat, lon = jitter(rng, home_town.lat, home_town.lon, 6.0)
    cross_border = rng.random() < CROSS_BORDER_SHARE
    countries = frozenset({"BE", "FR"}) if cross_border else frozenset({home_town.country})

    female_odds = 0.45 if kind == "ambassador" else 0.6
    if anchor.requires.gender == "f":
        female_odds = 0.85
    gender = "f" if rng.random() < female_odds else "m"

    # A second language is a related one (Dari and Farsi, Tigrinya and Amharic) or
    # one the centres nearby ask for; interpreters often add a third.
    local = local_demand[_zone(anchor.site.town)]
    languages: dict[str, bool] = {}
    interpreter = kind == "interpreter"
    languages[anchor.language] = interpreter and rng.random() < (
        0.97 if anchor.requires.certified else 0.85
    )
    for odds in (0.8, 0.45) if interpreter else (0.6,):
        if rng.random() < odds:
            if rng.random() < 0.5:
                _add_related(rng, languages, anchor.language, interpreter)
            else:
                languages.setdefault(rng.choice(local), interpreter and rng.random() < 0.5)

    trauma, minors = {"interpreter": (0.45, 0.3), "ambassador": (0.3, 0.5)}.get(kind, (0.25, 0.4))
    skills = {s for s, p in (("trauma", trauma), ("minors", minors)) if rng.random() < p}
    skills |= {s for s in sorted(anchor.requires.skills) if rng.random() < 0.75}

    modalities: frozenset[Modality]
    if kind == "interpreter":
        options: tuple[frozenset[Modality], ...] = (
            frozenset({"onsite", "phone", "video"}),
            frozenset({"onsite", "phone"}),
            frozenset({"phone", "video"}),
        )
        modalities = _weighted(rng, options, (0.7, 0.2, 0.1))
    elif kind == "ambassador":
        modalities = frozenset({"onsite"}) if rng.random() < 0.6 else frozenset({"onsite", "phone"})
    else:
        modalities = frozenset({"onsite", "phone"})
    if anchor.modality not in modalities and rng.random() < 0.9:
        modalities = modalities | {anchor.modality}

    max_travel = _weighted(rng, (45, 60, 75, 90, 120), (1, 2, 3, 3, 2))
    if kind != "interpreter":
        max_travel = min(max_travel, _weighted(rng, (45, 60, 75, 90), (1, 2, 2, 1)))

    engagement = _weighted(rng, ("full", "part", "half", "occasional"), spec.availability_mix)
    availability, daily, weekly = _roster(rng, engagement, days)
    return _Draft(
        kind=kind,
        gender=gender,
        home_town=home_town,
        lat=lat,
        lon=lon,
        countries=countries,
        languages=languages,
        skills=skills,
        modalities=modalities,
        max_travel=max_travel,
        daily=daily,
        weekly=weekly,
        availability=availability,
    )


def _roster(
    rng: random.Random, engagement: str, days: list[date]
) -> tuple[tuple[Interval, ...], int, int]:
    """Availability intervals and daily and weekly limits for one kind of engagement."""
    full_day = [(8 * 60, 18 * 60)]
    lunch_break = [(8 * 60, 12 * 60 + 30), (13 * 60 + 30, 18 * 60)]
    short_day = [(9 * 60, 16 * 60 + 30)]
    morning = [(8 * 60, 12 * 60 + 30)]
    afternoon = [(12 * 60 + 30, 18 * 60)]
    slots: dict[date, list[tuple[int, int]]] = {}
    if engagement == "full":
        pattern = _weighted(rng, (full_day, lunch_break, short_day), (0.7, 0.2, 0.1))
        for day in days:
            if rng.random() < 0.92:
                slots[day] = pattern
        daily = _weighted(rng, (420, 450, 480), (1, 1, 2))
        weekly = _weighted(rng, (1800, 2100), (1, 1))
    elif engagement == "part":
        weekdays = set(rng.sample(range(5), 3))
        half = rng.random() < 0.3
        for day in days:
            if day.weekday() in weekdays:
                slots[day] = morning if half and day.weekday() == max(weekdays) else full_day
        daily = _weighted(rng, (360, 420, 450), (1, 2, 1))
        weekly = _weighted(rng, (1200, 1500), (2, 1))
    elif engagement == "half":
        pattern = morning if rng.random() < 0.6 else afternoon
        off = rng.randrange(6)  # 5 means no weekday off
        for day in days:
            if day.weekday() != off:
                slots[day] = pattern
        daily = 360
        weekly = 1200
    else:
        # Occasional freelancers pick one or two days each week.
        weeks: dict[int, list[date]] = {}
        for day in days:
            weeks.setdefault(day.isocalendar().week, []).append(day)
        for week_days in weeks.values():
            for day in rng.sample(week_days, min(len(week_days), rng.choice((1, 1, 2)))):
                slots[day] = full_day
        daily = _weighted(rng, (360, 420, 480), (1, 1, 1))
        weekly = 1200
    intervals = tuple(
        Interval(_at(day, lo), _at(day, hi)) for day in days for lo, hi in slots.get(day, [])
    )
    return intervals, daily, weekly


def _add_rare_speakers(
    rng: random.Random, drafts: list[_Draft], spec: ScaleSpec, demand: list[_SessionDraft]
) -> None:
    """Give each rare language none to two speakers (a few more in big pools).

    Services find these speakers where the need is, usually among the
    ambassadors; Chechen and Georgian speakers also speak Russian, as the
    field reports.
    """
    extra = spec.providers // RARE_SPEAKER_PER_PROVIDERS
    for code in RARE_LANGUAGES:
        count = _weighted(rng, (0, 1, 2), (0.2, 0.45, 0.35)) + extra
        asked = [d for d in demand if d.language == code]
        for _ in range(count):
            free = [d for d in drafts if code not in d.languages]
            if not free:
                break
            if asked:
                need = rng.choice(asked).site.town
                free.sort(key=lambda d: (d.kind != "ambassador", _km(d.home_town, need)))
                draft = rng.choice(free[:5])
            else:
                draft = rng.choice(free)
            draft.languages[code] = draft.kind == "interpreter" and rng.random() < 0.5
            related = _PROFILES[code].related
            if related and rng.random() < 0.7:
                draft.languages.setdefault(related[0], False)


def _freeze_providers(drafts: list[_Draft]) -> list[Provider]:
    width = max(3, len(str(len(drafts))))
    return [
        Provider(
            id=f"p-{index:0{width}d}",
            kind=d.kind,
            gender=d.gender,
            languages=tuple(LanguageSkill(code, cert) for code, cert in d.languages.items()),
            skills=frozenset(d.skills),
            modalities=d.modalities,
            home=Location(lat=d.lat, lon=d.lon),
            countries=d.countries,
            max_travel_minutes=d.max_travel,
            max_minutes_per_day=d.daily,
            max_minutes_per_week=d.weekly,
            availability=d.availability,
        )
        for index, d in enumerate(drafts, start=1)
    ]


def _add_exclusions_and_wishes(
    rng: random.Random, drafts: list[_SessionDraft], providers: list[Provider]
) -> None:
    """Per beneficiary: refused community members, and the series' usual interpreter."""
    speakers: dict[str, list[Provider]] = {}
    for p in providers:
        for skill in p.languages:
            speakers.setdefault(skill.code, []).append(p)
    by_beneficiary: dict[str, list[_SessionDraft]] = {}
    for d in drafts:
        by_beneficiary.setdefault(d.beneficiary, []).append(d)
    for group in by_beneficiary.values():
        first = group[0]
        pool = speakers.get(first.language, [])
        excluded: frozenset[str] = frozenset()
        if pool and rng.random() < (0.10 if first.series else 0.04):
            refused = rng.sample(pool, min(len(pool), rng.choice((1, 1, 2))))
            excluded = frozenset(p.id for p in refused)
        preferred = _preferred(rng, first, pool, excluded) if first.series else frozenset()
        for d in group:
            d.excluded = excluded
            d.preferred = preferred


def _preferred(
    rng: random.Random, first: _SessionDraft, pool: list[Provider], excluded: frozenset[str]
) -> frozenset[str]:
    """The interpreter of the episode's earlier sessions: usually one who fits, not always."""
    pool = [p for p in pool if p.id not in excluded]
    if not pool:
        return frozenset()
    place = Location(lat=first.site.lat, lon=first.site.lon)
    onsite = first.modality == "onsite"
    fitting = [
        p
        for p in pool
        if (first.requires.gender is None or p.gender == first.requires.gender)
        and first.requires.skills <= p.skills
        and first.modality in p.modalities
        and (not onsite or first.site.town.country in p.countries)
        and (not onsite or _drive(p.home, place) <= p.max_travel_minutes)
    ]
    if fitting and rng.random() < 0.85:
        return frozenset({rng.choice(fitting).id})
    return frozenset({rng.choice(pool).id}) if rng.random() < 0.5 else frozenset()


def _freeze_sessions(drafts: list[_SessionDraft]) -> list[Session]:
    """Sessions in time order with ids that follow it, as a dispatcher's list would read."""
    ordered = sorted(drafts, key=lambda d: (d.day, d.start, d.beneficiary, d.language))
    width = max(4, len(str(len(ordered))))
    sessions: list[Session] = []
    for index, d in enumerate(ordered, start=1):
        onsite = d.modality == "onsite"
        sessions.append(
            Session(
                id=f"s-{index:0{width}d}",
                language=d.language,
                kind=d.kind,
                modality=d.modality,
                location=Location(lat=d.site.lat, lon=d.site.lon, country=d.site.town.country)
                if onsite
                else None,
                start=_at(d.day, d.start),
                duration_minutes=d.duration,
                window=Window(_at(d.day, d.window[0]), _at(d.day, d.window[1]))
                if d.window is not None
                else None,
                provider_kind="any" if d.staff else d.provider_kind,
                requires=Requirements() if d.staff else d.requires,
                excluded_providers=d.excluded,
                preferred_providers=d.preferred,
                priority=d.priority,
                beneficiary=d.beneficiary,
                staff=d.staff,
                all_or_nothing=d.all_or_nothing,
            )
        )
    return sessions


GROUP_SHARE = 0.03
"""Share of sessions that need several providers (`staff`): groups, minors' activities."""
GROUP_PLACES = ((2, 0.5), (3, 0.3), (4, 0.2))
"""How many places a group session has, and how often."""


def _make_groups(rng: random.Random, drafts: list[_SessionDraft], spec: ScaleSpec) -> None:
    """A few onsite groups and minors' activities become group sessions of 2-4 places.

    The first place is the session's own; each other place speaks a language
    drawn as demand is (or, one time in three, the same one: two
    interpreters who take turns). Most groups need every place. Drawn from
    their own generator after everything else, so the rest of an instance
    is the one the same seed gave before groups existed.
    """
    candidates = [
        d
        for d in drafts
        if not d.series and d.modality == "onsite" and d.kind in ("group", "minors_activity")
    ]
    count = min(len(candidates), max(1, round(GROUP_SHARE * len(drafts))))
    for d in rng.sample(candidates, count):
        places = _weighted(rng, [n for n, _ in GROUP_PLACES], [w for _, w in GROUP_PLACES])
        staff = [Place(d.language, d.provider_kind, d.requires)]
        skills = frozenset({"minors"}) if d.kind == "minors_activity" else frozenset()
        for _ in range(places - 1):
            same = rng.random() < 1 / 3
            language = d.language if same else _draw_language(rng, _zone(d.site.town), spec.zipf)
            staff.append(Place(language, requires=Requirements(skills=skills)))
        d.staff = tuple(staff)
        d.all_or_nothing = rng.random() < 0.75


def _drive(a: Location, b: Location) -> int:
    return haversine_minutes(_TRAVEL, a, b)


def _km(a: Town, b: Town) -> float:
    return great_circle_km(a.lat, a.lon, b.lat, b.lon)


def _start_minute(rng: random.Random, duration: int) -> int:
    """A start on the quarter hour, weighted by the hour (`_start_weight`)."""
    latest = DAY_CLOSES - duration
    starts = list(range(DAY_OPENS, latest + 1, 15))
    weights = [_start_weight(m) for m in starts]
    return _weighted(rng, starts, weights)


def _start_weight(minute: int) -> float:
    """Centres book mornings first (arrivals, medical rounds), then early afternoons."""
    if minute < 9 * 60:
        return 1.5
    if minute < 11 * 60 + 30:
        return 3.0
    if minute < 13 * 60 + 30:
        return 0.6
    return 1.5 if minute < 16 * 60 else 0.8


def _window(rng: random.Random, start: int, duration: int) -> tuple[int, int]:
    """A window of one to three hours that holds the requested start, within opening hours."""
    width = rng.choice(WINDOW_WIDTHS)
    before = rng.randrange(0, width + 1, 15)
    earliest = max(DAY_OPENS, start - before)
    latest = min(DAY_CLOSES - duration, earliest + width)
    return earliest, max(latest, start)


def _draw_language(rng: random.Random, zone: str, zipf: float) -> str:
    """A language by Zipf demand times the zone's affinity."""
    weights = []
    for rank, profile in enumerate(LANGUAGES, start=1):
        affinity = {"corridor": profile.corridor, "FR": profile.france, "BE": profile.belgium}[zone]
        weights.append(affinity * rank**-zipf)
    return _weighted(rng, [p.code for p in LANGUAGES], weights)


def _add_related(
    rng: random.Random, languages: dict[str, bool], primary: str, may_certify: bool
) -> None:
    related = [c for c in _PROFILES[primary].related if c not in RARE_LANGUAGES]
    if related:
        languages.setdefault(rng.choice(related), may_certify and rng.random() < 0.5)


def _zone(t: Town) -> str:
    return "corridor" if t.name in CORRIDOR_TOWNS else t.country


def _beneficiary(rng: random.Random, used: set[str]) -> str:
    while True:
        candidate = f"b-{rng.getrandbits(20):05x}"
        if candidate not in used:
            used.add(candidate)
            return candidate


def jitter(rng: random.Random, lat: float, lon: float, km: float) -> tuple[float, float]:
    """A point uniformly spread within `km` of (lat, lon), rounded to about a metre."""
    distance = km * math.sqrt(rng.random())
    bearing = rng.random() * 2 * math.pi
    dlat = distance * math.cos(bearing) / 111.2
    dlon = distance * math.sin(bearing) / (111.2 * math.cos(math.radians(lat)))
    return round(lat + dlat, 5), round(lon + dlon, 5)


def _at(day: date, minute: int) -> datetime:
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=_ZONE)


def _weighted(rng: random.Random, items: Sequence[T], weights: Sequence[float]) -> T:
    return rng.choices(items, weights=weights, k=1)[0]


_ZONE = ZoneInfo(TIMEZONE)
_TRAVEL = HaversineTravel()
_PROFILES: dict[str, LanguageProfile] = {p.code: p for p in LANGUAGES}
