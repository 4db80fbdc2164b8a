"""Travel minutes: the haversine model of docs/problem.md and a dispatcher's matrix."""

from __future__ import annotations

import math

import pytest

from matching.problem import HaversineTravel, Location, MatrixTravel
from matching.travel import Travel, great_circle_km, haversine_minutes
from tests.matching.factories import DUNKERQUE, LILLE, MONS, ROUBAIX, TOURNAI


def _flat_earth_km(a: Location, b: Location) -> float:
    """Equirectangular approximation: good to a fraction of a percent at 50 km."""
    assert a.lat is not None and a.lon is not None and b.lat is not None and b.lon is not None
    mean = math.radians((a.lat + b.lat) / 2)
    dx = math.radians(b.lon - a.lon) * math.cos(mean)
    dy = math.radians(b.lat - a.lat)
    return 6371.0 * math.hypot(dx, dy)


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [(LILLE, TOURNAI, 24.2), (LILLE, ROUBAIX, 11.6), (LILLE, MONS, 66.9), (LILLE, DUNKERQUE, 65.5)],
    ids=["Lille-Tournai", "Lille-Roubaix", "Lille-Mons", "Lille-Dunkerque"],
)
def test_great_circle_distances_of_the_border_area(a: Location, b: Location, km: float) -> None:
    assert a.lat and a.lon and b.lat and b.lon
    found = great_circle_km(a.lat, a.lon, b.lat, b.lon)
    assert found == pytest.approx(km, abs=0.05)
    assert found == pytest.approx(_flat_earth_km(a, b), rel=0.002)


def test_lille_to_tournai_is_37_minutes_by_default() -> None:
    # 24.21 km x 1.3 = 31.47 road km at 60 km/h: 32 minutes rounded up, plus 5 to park.
    assert haversine_minutes(HaversineTravel(), LILLE, TOURNAI) == 37
    assert Travel(HaversineTravel()).minutes(TOURNAI, LILLE) == 37


def test_slower_door_to_door_speed() -> None:
    # 36 km/h, the French average for short trips: 52.45 minutes, rounded up, plus 5.
    assert haversine_minutes(HaversineTravel(speed_kmh=36), LILLE, TOURNAI) == 58


def test_the_same_point_costs_nothing_not_even_parking() -> None:
    here = Location(lat=LILLE.lat, lon=LILLE.lon)
    assert Travel(HaversineTravel()).minutes(LILLE, here) == 0


def test_haversine_needs_coordinates() -> None:
    with pytest.raises(ValueError, match="lat and lon"):
        Travel(HaversineTravel()).minutes(Location(point=0), LILLE)


def test_a_matrix_is_read_as_given_even_when_asymmetric() -> None:
    travel = Travel(
        MatrixTravel(points=("a", "b", "c"), minutes=((0, 12, 30), (14, 0, 9), (31, 8, 0)))
    )
    assert travel.minutes(Location(point=0), Location(point=1)) == 12
    assert travel.minutes(Location(point=1), Location(point=0)) == 14
    assert travel.minutes(Location(point=2, country="BE"), Location(point=2)) == 0


def test_a_matrix_needs_points() -> None:
    with pytest.raises(ValueError, match="point"):
        Travel(MatrixTravel(points=("a",), minutes=((0,),))).minutes(LILLE, Location(point=0))
