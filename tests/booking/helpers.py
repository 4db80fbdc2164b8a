"""Assertions shared by the database tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.db import violated_constraint


def assert_refused(
    db: Session, build: Callable[[], Any], constraint: str | frozenset[str] | None
) -> None:
    """``build()`` must fail to flush with an IntegrityError naming ``constraint``.

    The attempt runs in a SAVEPOINT, so the test can go on using ``db``.
    A set of names accepts any of them (when a row breaks several checks,
    which one the database reports first differs). ``None`` accepts any
    IntegrityError (SQLite does not name foreign-key failures).
    """
    with pytest.raises(IntegrityError) as info, db.begin_nested():
        build()
        db.flush()
    if constraint is None:
        return
    expected = {constraint} if isinstance(constraint, str) else set(constraint)
    assert violated_constraint(info.value) in expected, str(info.value.orig)
