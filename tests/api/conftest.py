"""An HTTP client on the real app, sharing the test's rolled-back database session.

And who calls it: bearer headers for a user (``login``), and the border world of
the booking API's tests (``border``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_db
from booking.models import Organisation, Provider, Site, User
from booking.privacy.read_log import ReadLogBuffer, write_rows
from booking.settings import Settings
from tests.factories import (
    make_api_token,
    make_language,
    make_organisation,
    make_provider,
    make_service_agreement,
    make_site,
    make_user,
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",
    )


def read_log_on_session(application: FastAPI, db: Session) -> None:
    """The read log writes on the test's session when the test flushes it (no writer thread,
    which would wait on the test's open transaction)."""
    application.state.read_log = ReadLogBuffer(
        lambda rows: write_rows(db, rows), flush_seconds=None
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
    read_log_on_session(application, db)
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
def live_app(database_url: str) -> Iterator[FastAPI]:
    """The app on its own engine: every request is its own transaction, as in production.

    For the races on PostgreSQL, with data the test committed beforehand.
    """
    app = create_app(
        Settings(
            environment="test",
            database_url=database_url,
            secret_key="test-secret-key-not-for-production",
            write_rate_per_minute=10_000,
        )
    )
    yield app
    app.state.engine.dispose()


@pytest.fixture
def live_client(live_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(live_app, raise_server_exceptions=False) as client:
        yield client


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


@dataclass
class Border:
    """SéTIS serving a Tournai centre; a Calais centre served by nobody."""

    setis: Organisation
    centre: Organisation
    elsewhere: Organisation
    site: Site
    requester: User
    stranger: User
    dispatcher: User
    admin: User
    provider_user: User
    provider: Provider


@pytest.fixture
def border(db: Session) -> Border:
    setis = make_organisation(db, name="SéTIS wallon", kind="providing")
    centre = make_organisation(db, name="Centre Fedasil Tournai")
    elsewhere = make_organisation(db, name="CAES Calais", country="FR")
    make_service_agreement(db, providing=setis, requesting=centre)
    make_language(db, code="tir")
    make_language(db, code="prs")
    provider_user = make_user(db, organisation=setis, role="provider")
    return Border(
        setis=setis,
        centre=centre,
        elsewhere=elsewhere,
        site=make_site(db, organisation=centre, name="Centre Fedasil"),
        requester=make_user(db, organisation=centre),
        stranger=make_user(db, organisation=elsewhere),
        dispatcher=make_user(db, organisation=setis, role="dispatcher"),
        admin=make_user(db, organisation=setis, role="admin"),
        provider_user=provider_user,
        provider=make_provider(db, organisation=setis, user=provider_user, display_name="Selam T."),
    )
