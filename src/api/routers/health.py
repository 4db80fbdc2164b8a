"""Liveness and readiness probes for load balancers and the Docker health check.

``/health`` runs on the event loop and touches nothing shared: it answers
while every worker thread and database connection is busy, so an
orchestrator never kills a process for being loaded. ``/ready`` asks the
database through an engine of its own (one connection, short timeouts) in a
thread of its own, and says "not ready" after ``ready_timeout_seconds``
whatever the database does.
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text

from booking.db import make_engine
from booking.migrate import current_revision, head_revision
from booking.settings import Settings

router = APIRouter(tags=["health"])


@router.get("/health", summary="The process is up")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def _ready_engine(app: FastAPI) -> Engine:
    """The probe's own engine, made at its first use: never waits behind the requests' pool."""
    engine: Engine | None = getattr(app.state, "ready_engine", None)
    if engine is None:
        settings: Settings = app.state.settings
        options: dict[str, Any] = {}
        if not settings.is_sqlite:
            seconds = max(1, round(settings.ready_timeout_seconds))
            options = {
                "pool_size": 1,
                "max_overflow": 0,
                "pool_timeout": settings.ready_timeout_seconds,
                "connect_args": {
                    "connect_timeout": seconds,
                    "options": f"-c statement_timeout={seconds * 1000}",
                },
            }
        engine = make_engine(settings.database_url, **options)
        app.state.ready_engine = engine
    return engine


def _check(engine: Engine) -> tuple[str | None, str | None]:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        return current_revision(conn), head_revision()


@router.get("/ready", summary="The database answers and its schema is up to date")
async def ready(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    status = 200
    settings: Settings = request.app.state.settings
    engine = _ready_engine(request.app)
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "ready_limiter", None)
    if limiter is None:
        limiter = request.app.state.ready_limiter = anyio.CapacityLimiter(2)
    try:
        with anyio.fail_after(settings.ready_timeout_seconds):
            revision, head = await anyio.to_thread.run_sync(
                _check, engine, limiter=limiter, abandon_on_cancel=True
            )
        checks["database"] = "ok"
        checks["migrations"] = "ok" if revision == head else f"at {revision}, head is {head}"
        if revision != head:
            status = 503
    except TimeoutError:
        checks["database"] = f"no answer within {settings.ready_timeout_seconds:g} s"
        status = 503
    except Exception as exc:  # any failure of the database means "not ready", not a 500
        checks["database"] = f"unavailable: {type(exc).__name__}"
        status = 503
    return JSONResponse(
        {"status": "ready" if status == 200 else "not ready", "checks": checks},
        status_code=status,
    )
