"""Limits: oversized bodies are a 413, too many writes a 429 with Retry-After."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.types import Message, Receive, Scope, Send

from api.middleware import BodyLimitMiddleware, SlidingWindowLimiter
from booking.models import User
from booking.settings import Settings
from tests.api.conftest import app_on_session
from tests.factories import make_organisation, make_user

Headers = dict[str, str]
LIMIT = 2048
WRITES_PER_MINUTE = 3


@pytest.fixture
def limited_app(settings: Settings, db: Session) -> Iterator[FastAPI]:
    """The app with a small body limit and a small write rate, on the test's session."""
    yield from app_on_session(
        settings.model_copy(
            update={"max_body_bytes": LIMIT, "write_rate_per_minute": WRITES_PER_MINUTE}
        ),
        db,
    )


@pytest.fixture
def limited(limited_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(limited_app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def admin_headers(db: Session, auth_headers: Callable[[User], Headers]) -> Headers:
    headers = auth_headers(make_user(db, role="admin", organisation=make_organisation(db)))
    db.commit()
    return headers


def _organisation(name: str) -> dict[str, str]:
    return {"name": name, "kind": "requesting", "country": "BE"}


def _is_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_a_body_announced_too_large_is_refused_before_it_is_read(
    limited: TestClient, admin_headers: Headers
) -> None:
    body = json.dumps(_organisation("x" * (LIMIT + 10)))
    response = limited.post(
        "/api/v1/organisations",
        content=body,
        headers={**admin_headers, "Content-Type": "application/json", "Accept-Language": "fr"},
    )
    problem = _is_problem(response, 413)
    assert problem["title"] == "Corps de requête trop volumineux"
    assert str(LIMIT) in problem["detail"]


def test_a_streamed_body_without_length_is_cut_at_the_limit(
    limited: TestClient, admin_headers: Headers
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(10):
            yield b"x" * 512
        yield b'", "kind": "requesting", "country": "BE"}'

    response = limited.post(
        "/api/v1/organisations",
        content=chunks(),
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    _is_problem(response, 413)


def test_a_body_within_the_limit_goes_through(limited: TestClient, admin_headers: Headers) -> None:
    response = limited.post(
        "/api/v1/organisations", json=_organisation("CPAS Mouscron"), headers=admin_headers
    )
    assert response.status_code == 201


async def _run(app: Any, body_parts: list[bytes], headers: list[tuple[bytes, bytes]]) -> Message:
    """Call an ASGI app with a body in parts; return the response start message."""
    parts = [{"type": "http.request", "body": p, "more_body": True} for p in body_parts]
    parts[-1]["more_body"] = False
    sent: list[Message] = []

    async def receive() -> Message:
        return parts.pop(0) if parts else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    await app(scope, receive, send)
    return sent[0]


@pytest.mark.anyio
async def test_a_body_longer_than_its_declared_length_is_still_cut() -> None:
    async def reads_everything(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guarded = BodyLimitMiddleware(reads_everything, max_bytes=100)
    lying = [(b"content-length", b"10")]
    start = await _run(guarded, [b"x" * 60, b"x" * 60], lying)
    assert start["status"] == 413
    honest = await _run(guarded, [b"x" * 50, b"x" * 50], [(b"content-length", b"100")])
    assert honest["status"] == 204


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_writes_beyond_the_rate_are_refused_with_retry_after(
    limited: TestClient, admin_headers: Headers
) -> None:
    for index in range(WRITES_PER_MINUTE):
        response = limited.post(
            "/api/v1/organisations", json=_organisation(f"Centre {index}"), headers=admin_headers
        )
        assert response.status_code == 201
    refused = limited.post(
        "/api/v1/organisations",
        json=_organisation("one too many"),
        headers={**admin_headers, "Accept-Language": "nl"},
    )
    problem = _is_problem(refused, 429)
    assert problem["title"] == "Te veel verzoeken"
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert limited.get("/api/v1/organisations", headers=admin_headers).status_code == 200


def test_each_token_has_its_own_allowance(
    limited: TestClient,
    db: Session,
    admin_headers: Headers,
    auth_headers: Callable[[User], Headers],
) -> None:
    other = auth_headers(make_user(db, role="admin", organisation=make_organisation(db)))
    db.commit()
    for index in range(WRITES_PER_MINUTE):
        limited.post(
            "/api/v1/organisations", json=_organisation(f"A{index}"), headers=admin_headers
        )
    assert (
        limited.post("/api/v1/organisations", json=_organisation("A"), headers=admin_headers)
    ).status_code == 429
    response = limited.post("/api/v1/organisations", json=_organisation("B"), headers=other)
    assert response.status_code == 201


def test_made_up_tokens_share_the_allowance_of_their_address(limited: TestClient) -> None:
    statuses = [
        limited.post(
            "/api/v1/organisations",
            json=_organisation("x"),
            headers={"Authorization": f"Bearer tru_made-up-{index}"},
        ).status_code
        for index in range(WRITES_PER_MINUTE + 1)
    ]
    assert statuses == [401] * WRITES_PER_MINUTE + [429]


def test_the_sliding_window_frees_a_slot_a_minute_after_each_write() -> None:
    now = [1000.0]
    limiter = SlidingWindowLimiter(2, clock=lambda: now[0])
    assert limiter.hit("k") == 0
    now[0] += 30
    assert limiter.hit("k") == 0
    now[0] += 10
    assert limiter.hit("k") == pytest.approx(20.0)
    assert limiter.hit("other") == 0
    now[0] += 20
    assert limiter.hit("k") == 0
    assert limiter.hit("k") == pytest.approx(30.0)


def test_the_limiter_forgets_the_least_recent_callers_beyond_its_capacity() -> None:
    limiter = SlidingWindowLimiter(1, clock=lambda: 0.0, max_keys=2)
    limiter.hit("a")
    limiter.hit("b")
    limiter.hit("c")
    assert limiter.hit("a") == 0  # forgotten, so allowed again
    assert limiter.hit("c") > 0
