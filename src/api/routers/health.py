"""Liveness and readiness probes for load balancers and the Docker health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from booking.migrate import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/health", summary="The process is up")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="The database answers and its schema is up to date")
def ready(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    status = 200
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            revision = current_revision(conn)
        checks["database"] = "ok"
        head = head_revision()
        checks["migrations"] = "ok" if revision == head else f"at {revision}, head is {head}"
        if revision != head:
            status = 503
    except Exception as exc:  # any failure of the database means "not ready", not a 500
        checks["database"] = f"unavailable: {type(exc).__name__}"
        status = 503
    return JSONResponse(
        {"status": "ready" if status == 200 else "not ready", "checks": checks},
        status_code=status,
    )
