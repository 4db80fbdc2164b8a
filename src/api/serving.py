"""The app as ``truchement serve`` runs it: ``create_app`` plus, where the settings say so,
one solver thread in the web process.

On the SQLite quick start nothing else runs beside ``serve``, so the web
process takes queued plans itself (``booking.plans.solver``), one at a time,
in a thread: the two-command start still plans. On PostgreSQL the default is
no solver here: CP-SAT runs in ``truchement solver`` processes, never on the
web workers' cores (``TRUCHEMENT_EMBEDDED_SOLVER`` overrides either way).
Tests build ``create_app`` and solve queued plans themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.app import create_app
from booking.plans.solver import start_solver_thread
from booking.settings import Settings


def create_served_app(settings: Settings | None = None) -> FastAPI:
    app = create_app(settings)
    settings = app.state.settings
    if not settings.runs_embedded_solver:
        return app
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        _, halt = start_solver_thread(application.state.session_factory, settings)
        try:
            async with inner(application):
                yield
        finally:
            halt()

    app.router.lifespan_context = lifespan
    return app
