"""Past capacity the service answers 503 with Retry-After at once, never a 500, and the
probes keep answering: a request beyond the concurrency limit, a pool with no free
connection, a database that does not answer the readiness probe in time."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from api.app import create_app
from api.middleware import LoadShedMiddleware
from api.routers import health
from booking.db import make_engine, make_session_factory
from booking.settings import Settings


def test_a_request_beyond_the_limit_is_refused_at_once_while_the_probes_answer() -> None:
    release = anyio.Event()
    entered = anyio.Event()
    reached: list[str] = []

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope["path"])
        entered.set()
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    shed = LoadShedMiddleware(slow_app, limit=1)
    transport = httpx.ASGITransport(app=shed)
    answers: dict[str, httpx.Response] = {}

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

            async def first() -> None:
                answers["first"] = await client.get("/api/v1/bookings")

            async with anyio.create_task_group() as group:
                group.start_soon(first)
                await entered.wait()
                began = time.perf_counter()
                answers["second"] = await client.get(
                    "/api/v1/bookings", headers={"Accept-Language": "fr"}
                )
                answers["refused_in"] = httpx.Response(200, text=str(time.perf_counter() - began))
                # A probe is never refused: it reaches the (busy) app.
                with anyio.move_on_after(0.2):
                    await client.get("/health")
                release.set()

    anyio.run(scenario)
    refused = answers["second"]
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"] == "Le service est surchargé\u202f; réessayez dans 1 seconde."
    assert float(answers["refused_in"].text) < 0.5
    assert answers["first"].status_code == 200
    assert reached == ["/api/v1/bookings", "/health"]
    assert shed.shed == 1 and shed.in_progress == 0


def test_a_request_that_reaches_a_late_process_is_refused_until_it_catches_up() -> None:
    """The door's deadline: while the event loop is late (here: blocked 0.3 s), a request
    that reaches it has waited that long already, and is refused rather than served later."""
    release = anyio.Event()
    entered = anyio.Event()

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/slow":
            entered.set()
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    shed = LoadShedMiddleware(slow_app, limit=100, max_lag=0.1)
    transport = httpx.ASGITransport(app=shed)
    statuses: dict[str, int] = {}

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

            async def slow() -> None:
                statuses["slow"] = (await client.get("/slow")).status_code

            async with anyio.create_task_group() as group:
                group.start_soon(slow)
                await entered.wait()
                statuses["on time"] = (await client.get("/fast")).status_code
                time.sleep(0.3)  # the loop is stuck: everything waiting now is 0.3 s late
                statuses["late"] = (await client.get("/fast")).status_code
                statuses["probe while late"] = (await client.get("/health")).status_code
                await anyio.sleep(0.2)  # the loop has caught up
                statuses["caught up"] = (await client.get("/fast")).status_code
                release.set()
            statuses["alone"] = (await client.get("/fast")).status_code

    anyio.run(scenario)
    assert statuses == {
        "on time": 200,
        "late": 503,
        "probe while late": 200,
        "caught up": 200,
        "slow": 200,
        "alone": 200,
    }
    assert shed.shed == 1 and shed.shed_for_lag == 1 and shed.in_progress == 0


def test_a_lone_request_is_never_refused_for_lag() -> None:
    """With nothing in progress there is no load to shed, however late the loop was."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    shed = LoadShedMiddleware(app, limit=100, max_lag=0.05)
    transport = httpx.ASGITransport(app=shed)

    async def scenario() -> list[int]:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = (await client.get("/")).status_code
            time.sleep(0.2)
            return [first, (await client.get("/")).status_code]

    assert anyio.run(scenario) == [200, 200]
    assert shed.shed == 0


@pytest.fixture
def starved_app(database_url: str, engine: Engine) -> Iterator[FastAPI]:
    """The app on a pool of one connection that waits 0.2 s for it (``engine``: migrated)."""
    app = create_app(
        Settings(
            environment="test",
            database_url=database_url,
            secret_key="test-secret-key-not-for-production",
        )
    )
    app.state.engine.dispose()
    app.state.engine = make_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    app.state.session_factory = make_session_factory(app.state.engine)
    yield app
    app.state.engine.dispose()


def test_no_free_connection_is_a_503_and_health_still_answers(starved_app: FastAPI) -> None:
    with TestClient(starved_app, raise_server_exceptions=False) as client:
        with starved_app.state.engine.connect():  # the pool's only connection, held
            answer = client.get("/api/v1/bookings", headers={"Authorization": "Bearer some-token"})
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "1"
            assert answer.json()["title"] == "Service unavailable"
            began = time.perf_counter()
            assert client.get("/health").json() == {"status": "ok"}
            assert time.perf_counter() - began < 0.5
            # The readiness probe has its own connection: the database does answer.
            ready = client.get("/ready")
            assert ready.status_code == 200, ready.text
        # Once the connection is free again, the same request is answered normally.
        again = client.get("/api/v1/bookings", headers={"Authorization": "Bearer some-token"})
        assert again.status_code == 401


def test_ready_says_not_ready_when_the_database_does_not_answer_in_time(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def hung(_engine: object) -> tuple[str, str]:
        time.sleep(2)
        return "never", "never"

    monkeypatch.setattr(health, "_check", hung)
    app = create_app(
        Settings(
            environment="test",
            database_url=database_url,
            secret_key="test-secret-key-not-for-production",
            ready_timeout_seconds=0.2,
        )
    )
    with TestClient(app) as client:
        began = time.perf_counter()
        answer = client.get("/ready")
        assert time.perf_counter() - began < 1.5
    assert answer.status_code == 503
    assert answer.json() == {
        "status": "not ready",
        "checks": {"database": "no answer within 0.2 s"},
    }
    app.state.engine.dispose()


@pytest.mark.postgres
def test_a_connection_the_database_dropped_fails_one_request_with_a_503_not_the_next(
    database_url: str, engine: Engine
) -> None:
    """No ping before each request (a round trip each): a pooled connection that the
    database closed (a restart, a proxy) costs one 503, then the pool connects again."""
    app = create_app(
        Settings(
            environment="test",
            database_url=database_url,
            secret_key="test-secret-key-not-for-production",
            db_pool_size=1,
            db_max_overflow=0,
        )
    )
    bogus = {"Authorization": "Bearer not-a-token"}
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            assert client.get("/api/v1/bookings", headers=bogus).status_code == 401
            with app.state.engine.connect() as pooled:  # the pool's one connection
                pid = pooled.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with engine.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            dropped = client.get("/api/v1/bookings", headers=bogus)
            assert dropped.status_code == 503, dropped.text
            assert dropped.headers["retry-after"] == "1"
            assert client.get("/api/v1/bookings", headers=bogus).status_code == 401
    finally:
        app.state.engine.dispose()
