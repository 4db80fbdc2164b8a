"""The instance generator: reproducible, the right sizes, and shaped like the field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import time
from unittest import mock

import pytest

import matching_bench.generate as generate_module
from matching.eligibility import compute_eligibility
from matching.io import problem_from_dict, problem_to_dict
from matching.problem import Problem
from matching.towns import load_towns, town
from matching_bench.dense import generate_dense, with_group_work
from matching_bench.generate import (
    FIRST_MONDAY,
    RARE_LANGUAGES,
    SCALES,
    ScaleSpec,
    dense_spec,
    generate_problem,
    scale_spec,
    working_days,
)


@pytest.fixture(scope="module")
def medium() -> Problem:
    return generate_problem("M", 1)


def test_same_seed_gives_the_same_problem() -> None:
    assert problem_to_dict(generate_problem("S", 7)) == problem_to_dict(generate_problem("S", 7))
    assert problem_to_dict(generate_problem("M", 3)) == problem_to_dict(generate_problem("M", 3))


def test_same_seed_gives_the_same_problem_in_another_process() -> None:
    """String hashing is salted per process: no draw may depend on the order of a set."""
    script = (
        "import json, sys; from matching_bench.generate import generate_problem; "
        "from matching.io import problem_to_dict; "
        "json.dump(problem_to_dict(generate_problem('L', 3)), sys.stdout, sort_keys=True)"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": salt},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for salt in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_different_seeds_give_different_problems() -> None:
    assert problem_to_dict(generate_problem("S", 1)) != problem_to_dict(generate_problem("S", 2))


@pytest.mark.parametrize("name", ["S", "M", "L"])
def test_sizes_follow_the_scale(name: str) -> None:
    spec = SCALES[name]
    problem = generate_problem(name, 1)
    assert len(problem.sessions) == spec.sessions
    assert len(problem.providers) == spec.providers
    days = {s.start.date() for s in problem.sessions}
    assert days <= set(working_days(spec.days))
    assert len(days) == spec.days
    assert len({s.id for s in problem.sessions}) == spec.sessions
    assert len({p.id for p in problem.providers}) == spec.providers


def test_scale_table_matches_the_targets() -> None:
    sizes = {name: (s.sessions, s.providers, s.days) for name, s in SCALES.items()}
    assert sizes == {
        "S": (60, 30, 2),
        "M": (400, 120, 5),
        "L": (2000, 450, 10),
        "XL": (8000, 1500, 20),
        "DENSE": (100, 25, 1),
    }


def test_a_dense_day_gives_each_provider_about_four_windowed_sessions_around_a_few_towns() -> None:
    problem = generate_problem("dense", 3)
    assert (len(problem.sessions), len(problem.providers)) == (100, 25)
    assert {s.start.date() for s in problem.sessions} == {working_days(1)[0]}
    widths = [
        (s.window.latest - s.window.earliest).total_seconds() / 60
        for s in problem.sessions
        if s.window is not None
    ]
    assert len(widths) >= 60 and max(widths) <= 180
    assert sum(w >= 60 for w in widths) >= 0.8 * len(widths)
    salaried = sum(p.counts_idle for p in problem.providers)
    assert 5 <= salaried <= 20
    assert all(len(p.skills) >= 2 for p in problem.providers)
    towns = {round(s.location.lat, 1) for s in problem.sessions if s.location is not None}
    assert len(towns) <= 8
    assert problem_to_dict(generate_problem("dense", 3)) == problem_to_dict(problem)


def test_density_scales_the_sessions_of_a_dense_day() -> None:
    spec = dense_spec(1.5)
    assert (spec.name, spec.sessions, spec.providers, spec.days) == ("dense", 150, 25, 1)
    assert len(generate_problem(spec, 1).sessions) == 150


def test_a_dense_spec_with_group_work_has_it_up_to_the_onsite_sessions() -> None:
    spec = dense_spec(groups=3, ladders=2)
    assert spec.label == "dense 3g 2l" and dense_spec().label == "dense"
    problem = generate_problem(spec, 4)
    assert problem == with_group_work(generate_dense(4), 4, groups=3, ladders=2)
    assert sum(len(s.staff) == 2 for s in problem.sessions) == 3
    assert sum(s.modalities == ("onsite", "video") for s in problem.sessions) == 2
    onsite = sum(s.is_onsite for s in generate_dense(4).sessions)
    with pytest.raises(ValueError, match=f"at most {onsite}"):
        generate_problem(dense_spec(groups=onsite, ladders=1), 4)


def test_scale_names_are_case_insensitive_and_checked() -> None:
    assert scale_spec("m") is SCALES["M"]
    custom = ScaleSpec("tiny", sessions=10, providers=5, days=1)
    assert scale_spec(custom) is custom
    assert len(generate_problem(custom, 1).sessions) == 10
    with pytest.raises(ValueError, match="unknown scale"):
        scale_spec("XXL")


def test_working_days_skip_the_weekend() -> None:
    days = working_days(20)
    assert days[0] == FIRST_MONDAY and FIRST_MONDAY.weekday() == 0
    assert all(d.weekday() < 5 for d in days)
    assert len(set(days)) == 20


def test_sessions_keep_office_hours_in_brussels_time(medium: Problem) -> None:
    assert medium.timezone == "Europe/Brussels"
    for s in medium.sessions:
        assert s.start.utcoffset() is not None
        assert s.start.time() >= time(8, 30)
        end = s.start.hour * 60 + s.start.minute + s.duration_minutes
        assert end <= 17 * 60 + 30
        if s.window is not None:
            assert s.window.earliest <= s.start <= s.window.latest
            width = (s.window.latest - s.window.earliest).total_seconds() / 60
            assert 0 < width <= 180


def test_language_demand_is_uneven(medium: Problem) -> None:
    demand = Counter(s.language for s in medium.sessions)
    top = [code for code, _ in demand.most_common(4)]
    assert top[0] == "ara"
    assert {"prs", "pus"} <= set(top)
    assert sum(demand[c] for c in top) >= 0.55 * len(medium.sessions)
    for code in RARE_LANGUAGES:
        assert demand[code] <= 0.03 * len(medium.sessions)
    assert len(demand) >= 18


def test_rare_languages_have_few_speakers() -> None:
    for seed in range(1, 6):
        problem = generate_problem("M", seed)
        speakers = Counter(skill.code for p in problem.providers for skill in p.languages)
        for code in RARE_LANGUAGES:
            assert speakers[code] <= 2, (seed, code)


def test_some_requests_have_no_speaker_at_all() -> None:
    reasons = Counter(
        u.reason
        for seed in range(1, 6)
        for u in compute_eligibility(generate_problem("M", seed)).unplaceable.values()
    )
    assert reasons["no_provider_speaks_language"] > 0


def test_providers_look_like_the_field(medium: Problem) -> None:
    providers = medium.providers
    kinds = Counter(p.kind for p in providers)
    assert kinds["interpreter"] > kinds["ambassador"] > 0
    assert kinds["mediator"] > 0
    cross_border = [p for p in providers if p.countries == {"BE", "FR"}]
    assert 0.08 * len(providers) <= len(cross_border) <= 0.35 * len(providers)
    assert {"BE", "FR"} <= {c for p in providers for c in p.countries}
    for p in providers:
        assert 45 <= p.max_travel_minutes <= 120
        assert 360 <= p.max_minutes_per_day <= 480
        assert 1200 <= p.max_minutes_per_week <= 2100
        assert p.availability
        if p.kind != "interpreter":
            assert not any(skill.certified for skill in p.languages)
    assert any(skill.certified for p in providers for skill in p.languages)
    # Part-timers: not everyone is available every day.
    days_available = Counter(len({a.start.date() for a in p.availability}) for p in providers)
    assert any(count < 5 for count in days_available)


def test_sessions_look_like_the_field(medium: Problem) -> None:
    sessions = medium.sessions
    n = len(sessions)
    modality = Counter(s.modality for s in sessions)
    assert 0.65 * n <= modality["onsite"] <= 0.85 * n
    assert modality["phone"] > 0 and modality["video"] > 0
    for s in sessions:
        if s.modality == "phone":
            assert s.duration_minutes <= 45 and s.location is None
        elif s.modality == "video":
            assert s.duration_minutes <= 60 and s.location is None
        else:
            assert s.location is not None and s.location.country in ("BE", "FR")
            assert 45 <= s.duration_minutes <= 120
        if s.kind == "psychological" and s.modality == "onsite":
            assert 60 <= s.duration_minutes <= 90
    windows = sum(s.window is not None for s in sessions)
    assert 0.2 * n <= windows <= 0.4 * n
    female = sum(s.requires.gender == "f" for s in sessions)
    assert 0.05 * n <= female <= 0.2 * n
    certified = sum(s.requires.certified for s in sessions)
    assert 0.15 * n <= certified <= 0.35 * n
    assert any("trauma" in s.requires.skills for s in sessions)
    assert any("minors" in s.requires.skills for s in sessions)
    kinds = {s.kind for s in sessions}
    assert kinds == {"psychological", "medical", "legal", "social", "group", "minors_activity"}
    priorities = Counter(s.priority for s in sessions)
    assert set(priorities) <= {1, 2, 3}
    assert 0.04 * n <= priorities[3] <= 0.16 * n


def test_continuity_series_share_a_preferred_provider(medium: Problem) -> None:
    provider_ids = {p.id for p in medium.providers}
    by_beneficiary: dict[str | None, list[str]] = {}
    for s in medium.sessions:
        by_beneficiary.setdefault(s.beneficiary, []).append(s.id)
    series = [ids for ids in by_beneficiary.values() if len(ids) > 1]
    assert len(series) >= 10
    sessions = {s.id: s for s in medium.sessions}
    with_wish = 0
    for ids in series:
        wishes = {sessions[i].preferred_providers for i in ids}
        assert len(wishes) == 1
        languages = {sessions[i].language for i in ids}
        assert len(languages) == 1
        with_wish += bool(wishes.pop())
    assert with_wish >= len(series) // 2
    for s in medium.sessions:
        assert s.preferred_providers <= provider_ids
        assert s.excluded_providers <= provider_ids
        assert not s.preferred_providers & s.excluded_providers
    assert any(s.excluded_providers for s in medium.sessions)


@pytest.mark.parametrize("name", ["S", "M", "L"])
def test_every_scale_has_a_few_group_sessions(name: str) -> None:
    problem = generate_problem(name, 1)
    groups = [s for s in problem.sessions if s.staff]
    assert 1 <= len(groups) <= max(1, 0.04 * len(problem.sessions))
    for s in groups:
        assert 2 <= len(s.staff) <= 4
        assert s.modality == "onsite" and s.kind in ("group", "minors_activity")
        assert s.language == s.staff[0].language


def test_group_sessions_leave_the_rest_of_the_instance_as_it_was() -> None:
    # The groups are drawn last, from their own generator: the same seed gives the same
    # providers and the same other sessions as without them.
    with_groups = generate_problem("M", 2)
    with mock.patch.object(generate_module, "_make_groups", lambda *args: None):
        without = generate_problem("M", 2)
    assert with_groups.providers == without.providers
    grouped = {s.id for s in with_groups.sessions if s.staff}
    assert grouped
    assert [s for s in with_groups.sessions if s.id not in grouped] == [
        s for s in without.sessions if s.id not in grouped
    ]


def test_sessions_cluster_at_reception_places(medium: Problem) -> None:
    names = {t.name: t for t in load_towns()}
    calais, tournai = names["Calais"], names["Tournai"]

    def near(s_lat: float, s_lon: float, lat: float, lon: float) -> bool:
        return abs(s_lat - lat) < 0.06 and abs(s_lon - lon) < 0.08

    onsite = [s.location for s in medium.sessions if s.location is not None]
    at_calais = sum(near(loc.lat or 0, loc.lon or 0, calais.lat, calais.lon) for loc in onsite)
    at_tournai = sum(near(loc.lat or 0, loc.lon or 0, tournai.lat, tournai.lon) for loc in onsite)
    assert at_calais >= 0.05 * len(onsite)
    assert at_tournai > 0


def test_the_problem_round_trips_through_json(medium: Problem) -> None:
    text = json.dumps(problem_to_dict(medium))
    assert problem_from_dict(json.loads(text)) == medium


def test_towns_load_from_the_package() -> None:
    towns = load_towns()
    assert len(towns) == 58
    assert {t.country for t in towns} == {"BE", "FR"}
    assert town("Calais").population is not None
    assert town("Tournai").country == "BE"
    with pytest.raises(KeyError, match="Atlantis"):
        town("Atlantis")
