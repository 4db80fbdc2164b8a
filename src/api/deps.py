"""Request dependencies: one database transaction per request, committed in one place.

The cheap ones are ``async``: FastAPI runs a plain ``def`` dependency in a
worker thread, and a trip there and back is a real share of a short read.
The database work (the commit, the close, SQLite's write lock) still runs in
a worker thread, never on the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from booking.db import writing
from booking.settings import Settings

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _begin_immediate(session: Session) -> None:
    """SQLite: BEGIN IMMEDIATE, i.e. wait for the write lock now rather than at the first write."""
    with writing():
        session.connection()


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


async def get_db(request: Request) -> AsyncIterator[Session]:
    """Services flush; the request commits on success and rolls back on any error.

    Opening a session costs no I/O (it connects at its first query), so it
    happens on the event loop; the end (commit or rollback, then close) is
    one trip to a worker thread, shielded from cancellation so that a client
    that hangs up never leaves a connection out of the pool.
    """
    session: Session = request.app.state.session_factory()
    try:
        if request.method in WRITE_METHODS and session.get_bind().dialect.name == "sqlite":
            await run_in_threadpool(_begin_immediate, session)
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_rollback_and_close, session)
        raise
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_commit_and_close, session)


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DbSession = Annotated[Session, Depends(get_db, scope="function")]
"""The request's transaction, committed before the response leaves: a client reads its own write."""
AppSettings = Annotated[Settings, Depends(get_app_settings)]
