"""`truchement solver`: solve queued plans, in its own process.

``truchement solver`` takes plans from the database's queue until stopped
(Ctrl-C, SIGTERM): any number of them, on any number of machines, share the
queue (``booking.plans.jobs``). ``--once`` solves what is queued and exits,
for cron users and tests. CP-SAT uses ``TRUCHEMENT_SOLVER_THREADS`` threads
(default: every core); run one solver per machine, or several with fewer
threads each.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import typer


def register(app: typer.Typer) -> None:
    """Add ``solver`` to the `truchement` application."""
    app.command("solver")(solver_command)


def solver_command(
    once: bool = typer.Option(False, "--once", help="Solve what is queued, then exit."),
    name: str | None = typer.Option(
        None, "--name", help="This solver's name in the plans it holds (default: host:pid:...)."
    ),
) -> None:
    """Solve the queued plans (CP-SAT), with a lease and a heartbeat; never run it in the web."""
    from booking.db import make_engine, make_session_factory
    from booking.migrate import is_up_to_date
    from booking.plans.solver import Solver
    from truchement.cli import _settings, fail

    settings = _settings()
    if not is_up_to_date(settings.database_url):
        raise fail("the database schema is not up to date: run `truchement db upgrade`")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    engine = make_engine(settings.database_url, pool_size=2, max_overflow=2)
    solver = Solver(make_session_factory(engine), settings, name=name)
    try:
        if once:
            solved = solver.run_pending()
            typer.echo(f"plans solved: {len(solved)} {solved}")
            return
        stop = threading.Event()

        def _stop(_signum: int, _frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        typer.echo(f"solver {solver.name} started; Ctrl-C to stop")
        solver.run_forever(stop)
    finally:
        engine.dispose()
