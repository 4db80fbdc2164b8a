"""Request dependencies: one database transaction per request, committed in one place."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from booking.db import writing
from booking.settings import Settings

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def get_db(request: Request) -> Iterator[Session]:
    """Services flush; the request commits on success and rolls back on any error."""
    session: Session = request.app.state.session_factory()
    try:
        if request.method in WRITE_METHODS and session.get_bind().dialect.name == "sqlite":
            with writing():
                session.connection()  # BEGIN IMMEDIATE: wait for the write lock now
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DbSession = Annotated[Session, Depends(get_db, scope="function")]
"""The request's transaction, committed before the response leaves: a client reads its own write."""
AppSettings = Annotated[Settings, Depends(get_app_settings)]
