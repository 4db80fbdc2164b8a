"""The compose file (nothing runs it here): each process it starts is a real `truchement`
command with options the command accepts, and every setting it passes is one the service
reads. The processes themselves are tested on this machine: `serve` (tests/truchement),
`worker` (tests/notify), `solver` (tests/booking/plans/test_solver_processes.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from booking.settings import Settings
from notify.settings import NotifySettings
from truchement.cli import app

COMPOSE = Path(__file__).resolve().parents[1] / "compose.yaml"


def services() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return dict(document["services"])


@pytest.mark.parametrize("name", ["migrate", "web", "worker", "solver"])
def test_each_process_is_a_real_command_with_options_it_accepts(name: str) -> None:
    program, *arguments = services()[name]["command"]
    assert program == "truchement"
    command = typer.main.get_command(app)
    # Parsing without running: an unknown command or option raises a UsageError.
    with command.make_context("truchement", list(arguments), resilient_parsing=False) as ctx:
        sub = command.get_command(ctx, arguments[0])  # type: ignore[attr-defined]
        assert sub is not None, arguments[0]
        sub.make_context(arguments[0], list(arguments[1:]))


def test_every_setting_it_passes_is_one_the_service_reads() -> None:
    fields = {
        f"TRUCHEMENT_{name.upper()}"
        for model in (Settings, NotifySettings)
        for name in model.model_fields
    }
    for name, service in services().items():
        for variable in service.get("environment", {}):
            if variable.startswith("TRUCHEMENT_"):
                assert variable in fields, f"{name}: {variable}"


def test_it_runs_postgresql_the_web_service_with_workers_the_worker_and_two_solvers() -> None:
    found = services()
    assert found["db"]["image"].startswith("postgres:")
    assert "--workers" in found["web"]["command"]
    assert found["web"]["environment"]["TRUCHEMENT_EMBEDDED_SOLVER"] == "false"
    assert found["solver"]["deploy"]["replicas"] == 2
    url = found["web"]["environment"]["TRUCHEMENT_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and "@db:5432/" in url
    # The pools of every web worker stay under PostgreSQL's connection limit.
    workers = int(found["web"]["command"][found["web"]["command"].index("--workers") + 1])
    web = found["web"]["environment"]
    pool = int(web["TRUCHEMENT_DB_POOL_SIZE"]) + int(web["TRUCHEMENT_DB_MAX_OVERFLOW"])
    limit = int(found["db"]["command"][found["db"]["command"].index("-c") + 1].split("=")[1])
    assert workers * (pool + 1) + 2 * 4 + 2 < limit
