"""Phone numbers to E.164."""

from __future__ import annotations

import pytest

from booking.phones import mobile_e164


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("0470 12 34 56", "BE", "+32470123456"),
        ("+32 470 12 34 56", "FR", "+32470123456"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("0033 6 12 34 56 78", "BE", "+33612345678"),
        ("+32470123456", "BE", "+32470123456"),
    ],
)
def test_mobile_numbers_in_any_common_notation_become_e164(
    raw: str, region: str, expected: str
) -> None:
    assert mobile_e164(raw, default_region=region) == expected


@pytest.mark.parametrize("raw", [None, "", "   ", "not a number", "12", "+32 69 22 11 11"])
def test_no_number_invalid_numbers_and_landlines_get_no_sms(raw: str | None) -> None:
    assert mobile_e164(raw, default_region="BE") is None


@pytest.mark.parametrize(
    ("raw", "expected"), [("06 39 98 12 34", "+33639981234"), ("+33 6 39 98 00 07", "+33639980007")]
)
def test_the_arcep_fiction_range_counts_as_a_mobile(raw: str, expected: str) -> None:
    """The demo's French numbers reach nobody, yet their SMS are written like any other."""
    assert mobile_e164(raw, default_region="FR") == expected


def test_a_number_beside_the_fiction_range_is_judged_as_usual() -> None:
    assert mobile_e164("06 39 98 12 3", default_region="FR") is None
