"""The matcher's modules form layers: each imports only those below it.

So the strategy calls the phases and the search, which never call back into
it, and the benchmark (`matching_bench`) stays out of the library the
service imports. The order is the one a reader can follow: the data and
the rules first, then the CP-SAT model, the phases that solve it, the
search, the strategy, and `solve` on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "matching"

LAYERS = [
    "why",
    "problem",
    "fairness",
    "places",
    "timeline",
    "travel",
    "towns",
    "io",
    "routes",
    "eligibility",
    "validate",
    "greedy",
    "candidates",
    "staffable",
    "explain",
    "decompose",
    "tuning",
    "model",
    "phases",
    "run",
    "search",
    "route_pool",
    "route_pricing",
    "route_bound",
    "route_scope",
    "routing_search",
    "strategy",
    "solve",
]


def imported(module: Path) -> set[str]:
    """Every top-level package or `matching` module a file imports, at any depth."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_every_module_has_its_layer() -> None:
    modules = {p.stem for p in SRC.glob("*.py")} - {"__init__"}
    assert sorted(modules) == sorted(LAYERS)


@pytest.mark.parametrize("name", LAYERS)
def test_a_module_imports_only_the_layers_below_it(name: str) -> None:
    below = set(LAYERS[: LAYERS.index(name)])
    ours = {m.split(".")[1] for m in imported(SRC / f"{name}.py") if m.startswith("matching.")}
    assert ours <= below, f"{name} imports {sorted(ours - below)}, which are not below it"


def test_the_library_never_imports_its_benchmark() -> None:
    for module in SRC.glob("*.py"):
        assert not any(m.split(".")[0] == "matching_bench" for m in imported(module)), module
