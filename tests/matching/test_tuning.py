"""The tuning numbers: checked when made, the paths they draw, and the table of docs/problem.md."""

from __future__ import annotations

import re
from dataclasses import fields, replace
from pathlib import Path

import pytest

from matching.strategy import path_for
from matching.tuning import DEFAULT_TUNING, Tuning

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "problem.md"


@pytest.mark.parametrize(
    ("size", "path"),
    [
        (0, "model"),
        (241, "model"),
        (999, "model"),
        (1_000, "search_then_model"),
        (3_733, "search_then_model"),
        (6_000, "search_then_model"),
        (6_001, "search"),
        (34_457, "search"),
    ],
)
def test_the_path_of_a_group_follows_its_size(size: int, path: str) -> None:
    assert path_for(size, DEFAULT_TUNING) == path


def test_other_thresholds_move_the_paths() -> None:
    everything_searched = replace(DEFAULT_TUNING, full_model_up_to=0)
    assert path_for(1, everything_searched) == "search"
    assert path_for(1, replace(DEFAULT_TUNING, search_first_from=0)) == "search_then_model"


@pytest.mark.parametrize(
    "wrong",
    [
        {"bound_share": 1.5},
        {"unstaffed_first": -0.1},
        {"piece_seconds": -1.0},
        {"piece_providers": 0},
        {"widest": 0},
    ],
)
def test_a_tuning_out_of_range_is_refused(wrong: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(wrong)).split("_")[0]):
        Tuning(**wrong)  # type: ignore[arg-type]


def test_every_number_has_its_sentence_and_its_row_in_the_contract() -> None:
    source = Path(__file__).resolve().parents[2] / "src" / "matching" / "tuning.py"
    text = source.read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| ([\d.]+|on|off) \|", CONTRACT.read_text(), re.M))
    switches = {"on": True, "off": False}
    for f in fields(Tuning):
        assert re.search(rf"    {f.name}: \w+ = ([\d_.]+|True|False)\n    \"\"\"", text), f.name
        row = rows.pop(f.name)
        value = switches[row] if row in switches else float(row)
        assert value == getattr(DEFAULT_TUNING, f.name), f.name
    assert rows == {}
