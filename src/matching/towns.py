"""The towns of the French-Belgian border area, as shipped in `matching/data/towns.csv`.

Benchmark instances and the demo seed place homes, reception centres and
hospitals near real towns so that travel times look like the field's. The
file travels inside the package, so it is read with `importlib.resources`
and works from a wheel as well as from a checkout.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Town:
    """One town: where it is, which country and region, and how many live there.

    `population` is None where the source has no figure (the Belgian rows);
    `note` says why a small place matters (a reception centre, a head office).
    """

    name: str
    country: str
    region: str
    lat: float
    lon: float
    admin2: str
    postcode: str
    population: int | None
    note: str
    source: str


@cache
def load_towns() -> tuple[Town, ...]:
    """All towns of the packaged CSV, in file order (read once per process)."""
    text = resources.files("matching").joinpath("data/towns.csv").read_text(encoding="utf-8")
    towns: list[Town] = []
    for row in csv.DictReader(io.StringIO(text)):
        population = (row.get("population") or "").strip()
        towns.append(
            Town(
                name=row["name"].strip(),
                country=row["country"].strip(),
                region=row["region"].strip(),
                lat=float(row["lat"]),
                lon=float(row["lon"]),
                admin2=(row.get("admin2") or "").strip(),
                postcode=(row.get("postcode") or "").strip(),
                population=int(population) if population else None,
                note=(row.get("note") or "").strip(),
                source=(row.get("source") or "").strip(),
            )
        )
    return tuple(towns)


def town(name: str) -> Town:
    """The town called `name`; a KeyError names the missing town."""
    for candidate in load_towns():
        if candidate.name == name:
            return candidate
    raise KeyError(f"no town named {name!r} in towns.csv")
