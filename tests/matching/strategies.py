"""Hypothesis strategies for small but realistic matching problems.

Real towns of the French-Belgian border, a handful of languages (one that
nobody speaks, sometimes), providers with one or two availability blocks a
day, sessions onsite, by phone or by video with optional windows, and pinned
pairs that can always be kept. The days include both daylight-saving changes.

    from tests.matching.strategies import problems

    @given(problems())
    def test_something(problem): ...
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from matching.problem import (
    MODALITIES,
    PROVIDER_KINDS,
    FixedAssignment,
    HaversineTravel,
    Interval,
    LanguageSkill,
    Location,
    MatrixTravel,
    Problem,
    Provider,
    Requirements,
    Session,
    Window,
)
from matching.travel import haversine_minutes

ZONE = ZoneInfo("Europe/Brussels")

TOWNS: tuple[tuple[str, float, float, str], ...] = (
    ("Lille", 50.63108, 3.04702, "FR"),
    ("Roubaix", 50.68872, 3.18425, "FR"),
    ("Armentières", 50.68568, 2.88214, "FR"),
    ("Valenciennes", 50.36205, 3.51422, "FR"),
    ("Tournai", 50.60566, 3.38783, "BE"),
    ("Mouscron", 50.74334, 3.21391, "BE"),
    ("Kortrijk", 50.81788, 3.27842, "BE"),
    ("Mons", 50.45496, 3.95196, "BE"),
)
LANGUAGES = ("ara", "prs", "tir")
RARE = "som"
"""Asked for now and then; nobody speaks it."""

DAYS = (
    date(2026, 12, 1),  # an ordinary Tuesday
    date(2026, 12, 2),
    date(2026, 3, 29),  # clocks go forward at 02:00
    date(2026, 10, 25),  # clocks go back at 03:00
)


_often = st.sampled_from([True, True, True, False])
_rarely = st.sampled_from([True, False, False, False, False])


def local(day: date, minutes: int) -> datetime:
    """`minutes` after local midnight on the wall clock of `day`."""
    return datetime.combine(day, time(0), tzinfo=ZONE) + timedelta(minutes=minutes)


@st.composite
def _provider(draw: st.DrawFn, index: int, days: tuple[date, ...], matrix: bool) -> Provider:
    town = draw(st.integers(0, len(TOWNS) - 1))
    _, lat, lon, country = TOWNS[town]
    codes = draw(st.lists(st.sampled_from(LANGUAGES), min_size=1, max_size=2, unique=True))
    availability: list[Interval] = []
    for day in days:
        shape = draw(st.sampled_from(["full", "split", "morning", "off"]))
        blocks = {
            "full": [(8 * 60, 18 * 60)],
            "split": [(8 * 60, 12 * 60), (13 * 60, 18 * 60)],
            "morning": [(7 * 60 + 30, 13 * 60)],
            "off": [],
        }[shape]
        availability.extend(Interval(local(day, a), local(day, b)) for a, b in blocks)
    modalities = draw(
        st.one_of(
            st.just(frozenset(MODALITIES)),
            st.sets(st.sampled_from(MODALITIES), min_size=1).map(frozenset),
        )
    )
    return Provider(
        id=f"p-{index}",
        kind=draw(st.sampled_from(PROVIDER_KINDS)),
        gender=draw(st.sampled_from(["f", "m"])),
        languages=tuple(LanguageSkill(c, draw(_often)) for c in codes),
        skills=frozenset(s for s in ("trauma", "minors") if draw(st.booleans())),
        modalities=modalities,
        home=Location(point=town) if matrix else Location(lat=lat, lon=lon),
        countries=draw(
            st.sampled_from(
                [frozenset({"FR", "BE"})] * 3 + [frozenset({country}), frozenset({"FR"})]
            )
        ),
        max_travel_minutes=draw(st.sampled_from([30, 60, 90, 120])),
        max_minutes_per_day=draw(st.sampled_from([180, 300, 420, 480])),
        max_minutes_per_week=draw(st.sampled_from([600, 1200, 2400])),
        availability=tuple(availability),
    )


@st.composite
def _session(
    draw: st.DrawFn, index: int, days: tuple[date, ...], provider_ids: list[str], matrix: bool
) -> Session:
    day = draw(st.sampled_from(days))
    start = local(day, draw(st.integers(8 * 4, 17 * 4)) * 15)
    modality = draw(st.sampled_from(["onsite", "onsite", "onsite", "phone", "video"]))
    town = draw(st.integers(0, len(TOWNS) - 1))
    _, lat, lon, country = TOWNS[town]
    place = (
        Location(point=town, country=country)
        if matrix
        else Location(lat=lat, lon=lon, country=country)
    )
    window = None
    if draw(st.booleans()):
        before, after = draw(st.integers(0, 8)), draw(st.integers(0, 8))
        window = Window(
            start - timedelta(minutes=15 * before), start + timedelta(minutes=15 * after)
        )
    requires = Requirements(
        gender=draw(st.sampled_from([None] * 6 + ["f", "m"])),
        certified=draw(_rarely),
        skills=frozenset({"trauma"}) if draw(_rarely) else frozenset(),
    )
    some_providers = (
        st.sets(st.sampled_from(provider_ids), max_size=2) if provider_ids else st.just(set())
    )
    return Session(
        id=f"s-{index}",
        language=RARE if draw(_rarely) and draw(_rarely) else draw(st.sampled_from(LANGUAGES)),
        start=start,
        duration_minutes=draw(st.sampled_from([30, 45, 60, 90, 120])),
        kind=draw(st.sampled_from(["psychological", "medical", "legal", "social", "group"])),
        modality=modality,
        location=place if modality == "onsite" else None,
        window=window,
        provider_kind=draw(st.sampled_from(["any"] * 9 + list(PROVIDER_KINDS))),
        requires=requires,
        excluded_providers=frozenset(draw(some_providers)) if draw(_rarely) else frozenset(),
        preferred_providers=frozenset(draw(some_providers)),
        priority=draw(st.integers(1, 4)),
        beneficiary=draw(st.sampled_from([None, "b-1", "b-2", "b-3"])),
    )


def _keepable(session: Session, provider: Provider) -> Session:
    """Rewrite a session so that `provider` can always take it alone: a pinned pair."""
    interval = provider.availability[0]
    start = interval.start
    minutes = int((interval.end - interval.start).total_seconds() // 60)
    return Session(
        id=session.id,
        language=provider.languages[0].code,
        start=start,
        duration_minutes=min(session.duration_minutes, minutes, provider.max_minutes_per_day),
        kind=session.kind,
        modality=sorted(provider.modalities - {"onsite"} or provider.modalities)[0],
        location=None,
        priority=session.priority,
        beneficiary=session.beneficiary,
    )


@st.composite
def problems(
    draw: st.DrawFn,
    *,
    max_providers: int = 6,
    max_sessions: int = 12,
    matrix: bool | None = None,
    pins: bool = True,
) -> Problem:
    """A small problem over one or two days; `matrix=None` picks the travel model at random."""
    use_matrix = draw(st.booleans()) if matrix is None else matrix
    first = draw(st.sampled_from(DAYS))
    days = (first, first + timedelta(days=1)) if draw(st.booleans()) else (first,)
    n_providers = draw(st.integers(1, max_providers))
    providers = [draw(_provider(i, days, use_matrix)) for i in range(n_providers)]
    ids = [p.id for p in providers]
    n_sessions = draw(st.integers(0, max_sessions))
    sessions = [draw(_session(i, days, ids, use_matrix)) for i in range(n_sessions)]
    fixed: list[FixedAssignment] = []
    if pins and sessions:
        # At most one pin per provider, on a phone or video session at the start of
        # their first availability and within their limits: never infeasible.
        pinned = draw(st.lists(st.integers(0, n_providers - 1), max_size=2, unique=True))
        for k, p_idx in enumerate(pinned[: len(sessions)]):
            provider = providers[p_idx]
            if not provider.availability or provider.modalities == frozenset({"onsite"}):
                continue
            sessions[k] = _keepable(sessions[k], provider)
            fixed.append(FixedAssignment(sessions[k].id, provider.id))
    if use_matrix:
        places = [Location(lat=lat, lon=lon) for _, lat, lon, _ in TOWNS]
        model = HaversineTravel()
        travel: HaversineTravel | MatrixTravel = MatrixTravel(
            points=tuple(name for name, *_ in TOWNS),
            minutes=tuple(tuple(haversine_minutes(model, a, b) for b in places) for a in places),
        )
    else:
        travel = HaversineTravel()
    return Problem(
        providers=tuple(providers),
        sessions=tuple(sessions),
        timezone="Europe/Brussels",
        travel=travel,
        fixed=tuple(fixed),
    )
