"""The service area: where sessions and sites may be (Hauts-de-France, Wallonia, West Flanders).

A rough bounding box, enough to catch swapped coordinates, a typo in a
degree or a place in another country; it is not a border check. And the
towns of the area (the matcher's packaged list), which a person may name
instead of giving coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

from booking.typed import fold
from matching.problem import HaversineTravel
from matching.towns import Town, load_towns


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A latitude/longitude rectangle, bounds included."""

    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float

    def contains(self, lat: float, lon: float) -> bool:
        """Whether the point lies inside the rectangle."""
        return self.lat_min <= lat <= self.lat_max and self.lon_min <= lon <= self.lon_max


SERVICE_AREA = BoundingBox(lat_min=48.8, lat_max=51.6, lon_min=1.4, lon_max=6.5)
"""From the Somme and the Aisne up to the Flemish coast, from the Channel to the Ardennes."""


TRAVEL = HaversineTravel()
"""How long a drive takes: the model the problem builder gives the matcher, and the one the
day routes are drawn with, so the pages show the drives the matcher planned."""


def in_service_area(lat: float, lon: float) -> bool:
    """Whether a point is inside the area the service covers."""
    return SERVICE_AREA.contains(lat, lon)


def area_towns() -> tuple[Town, ...]:
    """The towns of the area, in the packaged list's order."""
    return load_towns()


def town_label(town: Town) -> str:
    """``Tournai (7500, BE)``: how a list shows a town, and one way to type it."""
    return f"{town.name} ({town.postcode}, {town.country})" if town.postcode else town.name


def find_town(typed: str) -> Town | None:
    """The town of the area a person typed (by name, or as the list shows it)."""
    wanted = fold(typed)
    for town in load_towns():
        if wanted in (fold(town.name), fold(town_label(town))):
            return town
    return None
