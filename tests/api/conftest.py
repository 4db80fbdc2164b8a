"""An HTTP client on the real app, sharing the test's rolled-back database session."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_db
from booking.models import User
from booking.settings import Settings
from tests.factories import make_api_token


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",
    )


def app_on_session(settings: Settings, db: Session) -> Iterator[FastAPI]:
    """The app with its request session replaced by the test's session.

    The request dependency still commits, which only releases a SAVEPOINT
    here, so the test's outer transaction rolls everything back.
    """
    application = create_app(settings)

    def _test_db() -> Iterator[Session]:
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise

    application.dependency_overrides[get_db] = _test_db
    yield application
    application.state.engine.dispose()


@pytest.fixture
def app(settings: Settings, db: Session) -> Iterator[FastAPI]:
    yield from app_on_session(settings, db)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def auth_headers(db: Session) -> Callable[[User], dict[str, str]]:
    """Bearer headers for a user, with a fresh API token stored hashed."""

    def _headers(user: User) -> dict[str, str]:
        _, token = make_api_token(db, user=user)
        return {"Authorization": f"Bearer {token}"}

    return _headers


@pytest.fixture
def login(
    db: Session, auth_headers: Callable[[User], dict[str, str]]
) -> Callable[[User], dict[str, str]]:
    """Bearer headers for a user, with what the test built so far kept when a request fails.

    A failed request rolls the shared session back to its last commit; committing
    here releases the test's SAVEPOINT, so only the failed request is undone.
    """

    def _login(user: User) -> dict[str, str]:
        headers = auth_headers(user)
        db.commit()
        return headers

    return _login
