"""Security review, finding 10: every answer carries nosniff and no-store; HSTS over HTTPS."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from booking.models import User
from booking.settings import Settings
from tests.api.conftest import app_on_session
from tests.factories import make_user

Headers = Callable[[User], dict[str, str]]


def assert_private(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["x-content-type-options"] == "nosniff", headers
    assert headers["cache-control"] in ("no-store", "private, no-store"), headers


def test_api_answers_are_never_cached_nor_sniffed(
    client: TestClient, db: Session, auth_headers: Headers
) -> None:
    headers = auth_headers(make_user(db, role="dispatcher"))
    db.commit()
    answers = [
        client.get("/api/v1/me", headers=headers),  # 200
        client.get("/api/v1/bookings/987654", headers=headers),  # 404 problem
        client.get("/api/v1/me"),  # 401 problem
        client.get("/api/v1/bookings?limit=0", headers=headers),  # 422 problem
        client.post("/api/v1/bookings", content=b"x" * 300_000, headers=headers),  # 413
        client.get("/api/v1/openapi.json"),
        client.get("/health"),
        client.get("/metrics", headers=headers),
        client.get("/sign-in"),
    ]
    assert [a.status_code for a in answers] == [200, 404, 401, 422, 413, 200, 200, 200, 200]
    for answer in answers:
        assert_private(answer)
    assert all("strict-transport-security" not in a.headers for a in answers)


def test_static_files_may_be_cached_but_are_not_sniffed(client: TestClient) -> None:
    answer = client.get("/static/web.css")
    assert answer.status_code == 200
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in answer.headers.get("cache-control", "")


@pytest.fixture
def https_client(settings: Settings, db: Session) -> Iterator[TestClient]:
    served = settings.model_copy(update={"base_url": "https://truchement.example.org"})
    application: FastAPI
    for application in app_on_session(served, db):
        with TestClient(application, raise_server_exceptions=False) as test_client:
            yield test_client


def test_hsts_when_the_service_is_served_over_https(https_client: TestClient) -> None:
    for path in ("/health", "/api/v1/me", "/sign-in", "/static/web.css"):
        answer = https_client.get(path)
        assert answer.headers["strict-transport-security"] == (
            "max-age=31536000; includeSubDomains"
        ), path
