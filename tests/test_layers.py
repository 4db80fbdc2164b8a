"""Imports go one way between the packages of ``src/``, as the README's map says.

``matching`` is a pure library and imports nothing of ours; ``booking`` is
the domain and knows neither HTTP (``api``) nor delivery (``notify``);
``notify`` sends what ``booking`` enqueued; ``api`` reaches the domain, and
the matcher, only through ``booking``; the command line (``truchement``)
sits on top and nothing imports it. Every import counts, at any depth
(a function's lazy import too).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

MAY_IMPORT: dict[str, frozenset[str]] = {
    "matching": frozenset(),
    "matching_bench": frozenset({"matching"}),
    "booking": frozenset({"matching"}),
    "notify": frozenset({"booking"}),
    "api": frozenset({"booking", "notify"}),
    "truchement": frozenset({"api", "booking", "matching", "matching_bench", "notify"}),
}
"""For each package of ours, the other packages of ours it may import."""


def imported(module: Path) -> set[str]:
    """Every module a file imports, at any depth, as written (absolute imports only here)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def modules_of(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def test_every_package_of_src_has_its_rule() -> None:
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(MAY_IMPORT)


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_what_its_layer_allows(package: str) -> None:
    ours = set(MAY_IMPORT)
    allowed = MAY_IMPORT[package] | {package}
    broken = {
        f"{module.relative_to(SRC)} imports {name}"
        for module in modules_of(package)
        for name in imported(module)
        if name.split(".")[0] in ours - allowed
    }
    assert not broken, sorted(broken)


def test_the_checker_sees_a_lazy_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from api.app import create_app\n    return create_app\n")
    assert "api.app" in imported(module)


def readme_map() -> set[str]:
    """The files and folders the README's map names: ``booking/``, ``model.py``, ``*_cli.py``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## The map of `src/`") :]
    start = section.index("```") + 3
    return set(re.findall(r"[\w*]+(?:\.py|/)", section[start : section.index("```", start)]))


def test_the_readme_map_names_every_package_and_every_module_of_src() -> None:
    """A maintainer reads the tree from the README: it must match the tree."""
    named = readme_map()
    missing: list[str] = []
    for package in MAY_IMPORT:
        if f"{package}/" not in named:
            missing.append(f"src/{package}/")
        for entry in sorted((SRC / package).iterdir()):
            if entry.name.startswith(("_", ".")) or entry.name == "data":
                continue
            if entry.is_dir():
                name = f"{entry.name}/"
            elif entry.suffix == ".py":
                name = "*_cli.py" if entry.name.endswith("_cli.py") else entry.name
            else:
                continue
            if name not in named:
                missing.append(f"src/{package}/{name}")
    assert not missing, f"the README's map of src/ does not name {missing}"


def test_the_readme_map_names_nothing_that_is_not_there() -> None:
    everything = {p.name for p in SRC.rglob("*")} | {p.name for p in ROOT.iterdir()}
    ghosts = sorted(
        name for name in readme_map() if "*" not in name and name.rstrip("/") not in everything
    )
    assert not ghosts, f"the README's map names {ghosts}, which are not in the tree"
