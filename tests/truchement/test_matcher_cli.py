"""`truchement solve`, `generate` and `bench` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from matching.io import dump_problem, load_plan, load_problem, problem_to_dict
from matching.validate import validate
from matching_bench.generate import generate_problem
from truchement.cli import app

runner = CliRunner()


@pytest.fixture()
def small_problem(tmp_path: Path) -> Path:
    path = tmp_path / "problem.json"
    dump_problem(generate_problem("S", 1), path)
    return path


def test_help_lists_the_matcher_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("solve", "generate", "bench"):
        assert command in result.output
    for command in ("solve", "generate", "bench"):
        assert runner.invoke(app, [command, "--help"]).exit_code == 0


def test_generate_writes_the_same_problem_as_the_library(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "problem.json"
    result = runner.invoke(app, ["generate", "--scale", "s", "--seed", "4", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "60 sessions" in result.output
    assert json.loads(out.read_text()) == json.loads(
        json.dumps(problem_to_dict(generate_problem("S", 4)))
    )


def test_generate_refuses_an_unknown_scale(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--scale", "XXL", "-o", str(tmp_path / "p.json")])
    assert result.exit_code == 2
    assert "unknown scale" in result.output


def test_solve_writes_a_valid_plan(small_problem: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = runner.invoke(
        app, ["solve", str(small_problem), "-o", str(out), "--time-limit", "2", "--workers", "2"]
    )
    assert result.exit_code == 0, result.output
    summary = result.output.strip().splitlines()[0]
    assert "/60 sessions assigned" in summary and "score 0/" in summary and "bound" in summary
    plan = load_plan(out)
    problem = generate_problem("S", 1)
    assert validate(problem, plan).ok
    # A group session appears once per place.
    entries = sum(max(1, len(s.staff)) for s in problem.sessions)
    assert len(plan.assignments) + len(plan.unassigned) == entries


def test_solve_explain_lists_the_open_sessions(small_problem: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    args = ["solve", str(small_problem), "-o", str(out), "--time-limit", "2", "--explain"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Unassigned sessions" in result.output or "Every session is assigned" in result.output


def test_malformed_json_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "truchement.problem/1", "providers": [', encoding="utf-8")
    result = runner.invoke(app, ["solve", str(bad), "-o", str(tmp_path / "plan.json")])
    assert result.exit_code == 2
    assert "not valid JSON" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_malformed_field_is_named(small_problem: Path, tmp_path: Path) -> None:
    data = json.loads(small_problem.read_text())
    data["sessions"][3]["duration_minutes"] = "ninety"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    result = runner.invoke(app, ["solve", str(bad), "-o", str(tmp_path / "plan.json")])
    assert result.exit_code == 2
    assert "sessions[3].duration_minutes" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "plan.json").exists()


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    result = runner.invoke(app, ["solve", str(missing), "-o", str(tmp_path / "plan.json")])
    assert result.exit_code != 0
    assert "no such file" in result.output
    assert "Traceback" not in result.output


def test_bench_rejects_an_unknown_scale(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "--scale", "Q", "--out", str(tmp_path / "b.json")])
    assert result.exit_code == 2
    assert "unknown scale" in result.output


def test_generate_a_dense_day_with_a_density(tmp_path: Path) -> None:
    out = tmp_path / "dense.json"
    result = runner.invoke(
        app, ["generate", "--scale", "dense", "--density", "1.2", "--seed", "2", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "120 sessions, 25 providers, 1 working days" in result.output
    refused = runner.invoke(
        app, ["generate", "--scale", "S", "--density", "2", "-o", str(tmp_path / "s.json")]
    )
    assert refused.exit_code == 2 and "--density" in refused.output


def test_generate_a_dense_day_with_group_sessions_and_ladders(tmp_path: Path) -> None:
    out = tmp_path / "dense.json"
    args = ["generate", "--scale", "dense", "--groups", "3", "--ladders", "2", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    problem = load_problem(out)
    assert sum(len(s.staff) == 2 for s in problem.sessions) == 3
    assert sum(s.modalities == ("onsite", "video") for s in problem.sessions) == 2
    for wrong, message in (
        (["--scale", "S", "--groups", "1"], "only apply to --scale dense"),
        (["--scale", "dense", "--groups", "90", "--ladders", "20"], "at most"),
    ):
        refused = runner.invoke(app, ["generate", *wrong, "-o", str(tmp_path / "x.json")])
        assert refused.exit_code == 2 and message in refused.output, refused.output


def test_bench_refuses_an_unknown_peer(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["bench", "--scale", "dense", "--peer", "lkh", "--out", str(tmp_path / "b.json")]
    )
    assert result.exit_code == 2
    assert "unknown peer" in result.output


def test_bench_a_dense_day_with_group_work(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    args = ["bench", "--scale", "dense", "--density", "0.4", "--groups", "2", "--ladders", "1"]
    result = runner.invoke(app, [*args, "--time-limit", "2", "--workers", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "dense 2g 1l" in result.output
    (row,) = json.loads(out.read_text())["rows"]
    assert (row["scale"], row["groups"], row["ladders"], row["valid"]) == ("dense", 2, 1, True)
    for wrong, message in (
        (["--scale", "S", "--groups", "1"], "only apply to --scale dense"),
        (["--scale", "dense", "--scale", "S", "--ladders", "1"], "only apply to --scale dense"),
        (["--scale", "dense", "--groups", "90", "--ladders", "20"], "at most"),
        (["--scale", "dense", "--groups", "1", "--peer", "routing"], "knows no group sessions"),
    ):
        refused = runner.invoke(app, ["bench", *wrong, "--out", str(tmp_path / "x.json")])
        assert refused.exit_code == 2 and message in refused.output, refused.output
        assert "Traceback" not in refused.output
