"""Driving time between places, computed once before modelling.

The default is the haversine model of docs/problem.md (no routing engine can be
installed here); a matrix from a routing engine or a dispatcher's table can
replace it without touching the rest of the matcher.
"""

from __future__ import annotations

import math
from functools import lru_cache

from matching.problem import HaversineTravel, Location, MatrixTravel, TravelModel

EARTH_RADIUS_KM = 6371.0


def great_circle_km(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    """Haversine distance on a spherical Earth."""
    phi1, phi2 = math.radians(a_lat), math.radians(b_lat)
    dphi = phi2 - phi1
    dlmb = math.radians(b_lon - a_lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def haversine_minutes(model: HaversineTravel, a: Location, b: Location) -> int:
    """Road km at the mean speed plus the overhead, rounded up; zero for the same point."""
    if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
        raise ValueError("the haversine travel model needs lat and lon on every place")
    if (a.lat, a.lon) == (b.lat, b.lon):
        return 0
    km = great_circle_km(a.lat, a.lon, b.lat, b.lon) * model.road_factor
    # The tolerance keeps a float like 12.000000000002 from costing a 13th minute.
    return math.ceil(km / model.speed_kmh * 60 - 1e-9) + model.overhead_minutes


class Travel:
    """Memoised minutes between two places under one travel model."""

    def __init__(self, model: TravelModel) -> None:
        self.model = model
        self._cached = lru_cache(maxsize=1 << 20)(self._compute)

    def minutes(self, a: Location, b: Location) -> int:
        return self._cached(_key(a), _key(b))

    def _compute(
        self,
        a: tuple[float | None, float | None, int | None],
        b: tuple[float | None, float | None, int | None],
    ) -> int:
        if isinstance(self.model, MatrixTravel):
            if a[2] is None or b[2] is None:
                raise ValueError("the matrix travel model needs a point on every place")
            return int(self.model.minutes[a[2]][b[2]])
        return haversine_minutes(
            self.model, Location(lat=a[0], lon=a[1]), Location(lat=b[0], lon=b[1])
        )


def _key(place: Location) -> tuple[float | None, float | None, int | None]:
    return (place.lat, place.lon, place.point)
