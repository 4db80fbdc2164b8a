"""Domain errors carry what the API needs to render problem+json."""

from __future__ import annotations

import re

from booking.bookings.reference import ALPHABET, new_booking_reference
from booking.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)


def test_statuses_and_codes() -> None:
    assert [e.status for e in (NotFound, Conflict, Unprocessable, Forbidden)] == [
        404,
        409,
        422,
        403,
    ]
    assert PreconditionFailed.status == 412
    assert all(issubclass(e, DomainError) for e in (NotFound, Conflict, Unprocessable, Forbidden))


def test_not_found_describes_the_missing_entity() -> None:
    error = NotFound(entity="booking", entity_id=42)
    assert str(error) == "booking 42 not found"
    assert error.problem() == {
        "status": 404,
        "code": "not_found",
        "title": "Not found",
        "detail": "booking 42 not found",
        "entity": "booking",
    }


def test_unprocessable_names_fields_and_rule() -> None:
    error = Unprocessable(
        "The window must contain the start.",
        errors=[FieldError("window.latest", "before the start", code="window_contains_start")],
        rule="window_contains_start",
    )
    assert error.extra() == {
        "errors": [
            {
                "field": "window.latest",
                "message": "before the start",
                "code": "window_contains_start",
            }
        ],
        "rule": "window_contains_start",
    }
    assert error.code == "unprocessable"


def test_extra_is_a_copy_and_codes_can_be_specific() -> None:
    error = Conflict("already confirmed", code="booking_already_confirmed", extra={"booking_id": 7})
    error.extra()["booking_id"] = 8
    assert error.extra() == {"booking_id": 7}
    assert error.code == "booking_already_confirmed"
    assert error.title == "Conflict with the current state"


def test_booking_references_are_readable() -> None:
    references = {new_booking_reference() for _ in range(200)}
    assert len(references) == 200
    pattern = re.compile(f"^TR-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")
    assert all(pattern.match(r) for r in references)
