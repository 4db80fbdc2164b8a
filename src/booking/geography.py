"""The service area: where sessions and sites may be (Hauts-de-France, Wallonia, West Flanders).

A rough bounding box, enough to catch swapped coordinates, a typo in a
degree or a place in another country; it is not a border check.
"""

from __future__ import annotations

from dataclasses import dataclass


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


def in_service_area(lat: float, lon: float) -> bool:
    """Whether a point is inside the area the service covers."""
    return SERVICE_AREA.contains(lat, lon)


def service_area_message(lat: float, lon: float) -> str:
    """A sentence saying why a point is refused (for a 422 field error)."""
    box = SERVICE_AREA
    return (
        f"({lat}, {lon}) is outside the service area "
        f"(latitude {box.lat_min}..{box.lat_max}, longitude {box.lon_min}..{box.lon_max}: "
        "Hauts-de-France, Wallonia, West Flanders)"
    )
