"""Dense days: a regional service's salaried interpreters with four to six sessions each.

The S-XL instances give a provider one or two sessions a day, which the
matcher solves as an assignment problem. A regional service's day looks
different: about four windowed requests per provider, in places a few
minutes apart around a handful of towns, several skills to match; the
shape of the technician-routing benchmarks (100 windowed requests, 25
providers with skills, one day). Half the pool is salaried (`counts_idle`),
so their waiting counts too. This is where the matcher has to route.

`density` scales the number of sessions (1.0: 100 sessions for 25
providers, four each on average; 1.5: six). Everything is drawn from one
`random.Random(seed)` in a fixed order.

`with_group_work` turns some of a dense day's sessions into discussion
groups and modality ladders, with draws of their own (the day itself is
unchanged): the routes must then work around sessions that need two
providers at once or may go to video (`benchmarks/dense_held.py`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, time
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
    Window,
)
from matching.towns import Town, load_towns
from matching.travel import great_circle_km
from matching_bench.generate import jitter

TIMEZONE = "Europe/Brussels"
DAY = date(2027, 2, 1)
"""The generator's first Monday (see `generate.FIRST_MONDAY`); one working day."""
SESSIONS_PER_DENSITY = 100
PROVIDERS = 25
TOWNS_PER_SERVICE = 4
SITES_PER_TOWN = 5
SITE_RADIUS_KM = 4.0
"""Sites of a town lie within this distance of its centre: a few minutes' drive apart."""
HOME_RADIUS_KM = 12.0
CLUSTER_RADIUS_KM = 45.0
"""The service's towns lie within this distance of its hub."""
HUB_TOWNS = ("Lille", "Tournai", "Kortrijk", "Arras", "Calais", "Mons", "Valenciennes")
LANGUAGE_WEIGHTS = {"ara": 3.0, "prs": 2.0, "pus": 1.5, "ukr": 1.5, "tir": 1.0, "rus": 1.0}
SKILLS = ("trauma", "minors", "medical", "legal")
SALARIED_SHARE = 0.5
WINDOW_SHARE = 0.8
WINDOW_WIDTHS = (60, 90, 120, 150, 180)
ONSITE_DURATIONS = (45, 60, 60, 75, 90)
PHONE_SHARE = 0.1
OPENS, CLOSES = 8 * 60, 17 * 60 + 30
"""Providers are available 08:00-18:00; sessions run between 08:00 and 17:30."""


def generate_dense(seed: int, density: float = 1.0) -> Problem:
    """A reproducible dense day: the same seed and density give the same problem."""
    rng = random.Random(seed)
    towns = _service_towns(rng, load_towns())
    sites = [
        (town, *jitter(rng, town.lat, town.lon, SITE_RADIUS_KM))
        for town in towns
        for _ in range(SITES_PER_TOWN)
    ]
    providers = [_provider(rng, index, towns) for index in range(PROVIDERS)]
    count = max(1, round(SESSIONS_PER_DENSITY * density))
    sessions = [_session(rng, index, sites) for index in range(count)]
    sessions.sort(key=lambda s: (s.start, s.id))
    return Problem(
        providers=tuple(providers),
        sessions=tuple(sessions),
        timezone=TIMEZONE,
        travel=HaversineTravel(),
    )


def with_group_work(problem: Problem, seed: int, groups: int, ladders: int) -> Problem:
    """`problem` with `groups` onsite sessions needing a second provider, `ladders` taking video.

    A group's second place asks for another language of the service's (a
    mediator for each side of a discussion group), all or nothing; a ladder
    accepts video when no one can come. The sessions are drawn from their
    own `random.Random`, so the same seed and counts give the same problem.
    Raises ValueError when the day has fewer onsite sessions than both counts.
    """
    rng = random.Random(f"group-work-{seed}")
    sessions = list(problem.sessions)
    onsite = [i for i, s in enumerate(sessions) if s.is_onsite]
    if groups < 0 or ladders < 0 or groups + ladders > len(onsite):
        raise ValueError(
            f"groups plus ladders is at most {len(onsite)} (the day's onsite sessions), "
            f"and neither negative: {groups} and {ladders}"
        )
    chosen = rng.sample(onsite, groups + ladders)
    for i in chosen[:groups]:
        session = sessions[i]
        other = rng.choice([c for c in LANGUAGE_WEIGHTS if c != session.language])
        sessions[i] = replace(
            session,
            kind="group",
            staff=(Place(session.language, requires=session.requires), Place(other)),
            requires=Requirements(),
        )
    for i in chosen[groups:]:
        sessions[i] = replace(sessions[i], modalities=("onsite", "video"))
    return replace(problem, sessions=tuple(sessions))


def _service_towns(rng: random.Random, towns: Sequence[Town]) -> list[Town]:
    """A hub and the towns around it, the bigger ones likelier: where the service works."""
    by_name = {t.name: t for t in towns}
    hub = by_name[rng.choice([name for name in HUB_TOWNS if name in by_name])]
    near = [
        t
        for t in towns
        if t is not hub and great_circle_km(hub.lat, hub.lon, t.lat, t.lon) <= CLUSTER_RADIUS_KM
    ]
    near.sort(key=lambda t: t.name)
    chosen = [hub]
    while len(chosen) < TOWNS_PER_SERVICE and near:
        weights = [math.sqrt(t.population or 30_000) for t in near]
        pick = rng.choices(near, weights=weights, k=1)[0]
        near.remove(pick)
        chosen.append(pick)
    return chosen


def _provider(rng: random.Random, index: int, towns: Sequence[Town]) -> Provider:
    town = towns[index % len(towns)]
    lat, lon = jitter(rng, town.lat, town.lon, HOME_RADIUS_KM)
    codes = list(LANGUAGE_WEIGHTS)
    spoken: list[str] = []
    while len(spoken) < rng.choice((2, 2, 3)):
        code = rng.choices(codes, weights=[LANGUAGE_WEIGHTS[c] for c in codes], k=1)[0]
        if code not in spoken:
            spoken.append(code)
    kind: ProviderKind = "interpreter" if rng.random() < 0.8 else "ambassador"
    countries = {town.country} | ({"FR", "BE"} if rng.random() < 0.6 else set())
    return Provider(
        id=f"p-{index + 1:03d}",
        kind=kind,
        languages=tuple(
            LanguageSkill(code, kind == "interpreter" and rng.random() < 0.7) for code in spoken
        ),
        home=Location(lat=lat, lon=lon),
        gender=rng.choice(("f", "m")),
        skills=frozenset(rng.sample(SKILLS, 2)),
        countries=frozenset(countries),
        max_travel_minutes=75,
        max_minutes_per_day=480,
        max_minutes_per_week=2400,
        availability=(Interval(_at(8 * 60), _at(18 * 60)),),
        counts_idle=rng.random() < SALARIED_SHARE,
    )


def _session(rng: random.Random, index: int, sites: Sequence[tuple[Town, float, float]]) -> Session:
    town, lat, lon = rng.choice(sites)
    codes = list(LANGUAGE_WEIGHTS)
    language = rng.choices(codes, weights=[LANGUAGE_WEIGHTS[c] for c in codes], k=1)[0]
    phone = rng.random() < PHONE_SHARE
    modality: Modality = "phone" if phone else "onsite"
    duration = 30 if phone else rng.choice(ONSITE_DURATIONS)
    latest_start = CLOSES - duration
    earliest = rng.randrange(OPENS, latest_start + 1, 15)
    window: Window | None = None
    start = earliest
    if rng.random() < WINDOW_SHARE:
        width = rng.choice(WINDOW_WIDTHS)
        latest = min(latest_start, earliest + width)
        start = earliest + rng.randrange(0, latest - earliest + 1, 15)
        window = Window(_at(earliest), _at(latest))
    skills = frozenset({rng.choice(SKILLS)}) if rng.random() < 0.4 else frozenset()
    roll = rng.random()
    return Session(
        id=f"s-{index + 1:04d}",
        language=language,
        start=_at(start),
        duration_minutes=duration,
        kind=rng.choice(("psychological", "medical", "legal", "social")),
        modality=modality,
        location=None if phone else Location(lat=lat, lon=lon, country=town.country),
        window=window,
        requires=Requirements(
            gender=rng.choice(("f", "m")) if rng.random() < 0.1 else None,
            certified=rng.random() < 0.2,
            skills=skills,
        ),
        priority=3 if roll < 0.07 else 2 if roll < 0.25 else 1,
    )


def _at(minute: int) -> datetime:
    return datetime.combine(DAY, time(minute // 60, minute % 60), tzinfo=ZoneInfo(TIMEZONE))
