"""The engine settings, the transaction scope, the test fixtures and error naming."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from booking.db import (
    make_engine,
    make_session_factory,
    one_of,
    session_scope,
    violated_constraint,
    writing,
)
from booking.models import Organisation
from tests.factories import make_organisation, make_user


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 15_000
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        engine.dispose()


def test_in_memory_sqlite_is_one_shared_database() -> None:
    engine = make_engine("sqlite://")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0
    finally:
        engine.dispose()


def test_sqlite_savepoints_roll_back_inside_the_outer_transaction(tmp_path: Path) -> None:
    # Without our BEGIN, pysqlite would let the released SAVEPOINT escape the rollback.
    engine = make_engine(f"sqlite:///{tmp_path / 'sp.sqlite3'}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        with engine.connect() as connection:
            outer = connection.begin()
            nested = connection.begin_nested()
            connection.execute(text("INSERT INTO t VALUES (1)"))
            nested.commit()
            outer.rollback()
            assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0
    finally:
        engine.dispose()


def test_a_write_transaction_on_sqlite_waits_for_a_writer_that_committed_after_it_began(
    tmp_path: Path,
) -> None:
    """WAL: a deferred transaction that read before another writer committed cannot
    write at all ("database is locked" at once); begun ``writing()``, it holds the
    lock from the start, so the other writer waits instead."""
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        with engine.connect() as deferred, engine.connect() as other:
            deferred.begin()
            deferred.execute(text("SELECT count(*) FROM t"))
            with other.begin():
                other.execute(text("INSERT INTO t VALUES (1)"))
            with pytest.raises(OperationalError, match="database is locked"):
                deferred.execute(text("INSERT INTO t VALUES (2)"))
            deferred.rollback()

        with engine.connect() as request, engine.connect() as other:
            with writing():
                request.begin()
            request.execute(text("SELECT count(*) FROM t"))
            other.exec_driver_sql("PRAGMA busy_timeout = 0")
            with pytest.raises(OperationalError, match="database is locked"):
                other.execute(text("INSERT INTO t VALUES (3)"))  # the lock is the request's
            other.rollback()
            request.execute(text("INSERT INTO t VALUES (2)"))
            request.commit()
    finally:
        engine.dispose()


def test_session_scope_commits(committing_session_factory: sessionmaker[Session]) -> None:
    with session_scope(committing_session_factory) as session:
        org_id = make_organisation(session, name="CAES Croisilles", country="FR").id
    with committing_session_factory() as session:
        assert session.get(Organisation, org_id) is not None


def test_session_scope_rolls_back_on_error(
    committing_session_factory: sessionmaker[Session],
) -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        session_scope(committing_session_factory) as session,
    ):
        make_organisation(session, name="SAVI Condette", country="FR")
        raise RuntimeError("boom")
    with committing_session_factory() as session:
        count = session.scalar(select(func.count()).where(Organisation.name == "SAVI Condette"))
        assert count == 0


def test_code_that_commits_cannot_escape_the_db_fixture(db: Session, engine: Engine) -> None:
    make_organisation(db, name="Escapee")
    db.commit()  # a service that (wrongly) commits only releases a savepoint
    with make_session_factory(engine)() as other:
        assert other.scalar(select(func.count()).where(Organisation.name == "Escapee")) == 0


def test_violated_constraint_names_unique_keys_on_both_databases(db: Session) -> None:
    make_user(db, email="same@example.org")
    with pytest.raises(IntegrityError) as info, db.begin_nested():
        make_user(db, email="same@example.org")
    assert violated_constraint(info.value) == "uq_user_email"


def test_one_of_quotes_values() -> None:
    assert one_of("kind", ["a", "o'b"]) == "kind IN ('a', 'o''b')"
