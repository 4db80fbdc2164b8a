"""Every way a plan can fail is told to a dispatcher in fr, nl and en."""

from __future__ import annotations

import pytest

from booking.plans.failures import PlanFailure, failure_text


@pytest.mark.parametrize("code", list(PlanFailure))
@pytest.mark.parametrize("locale", ["en", "fr", "nl"])
def test_every_failure_has_a_sentence_in_every_locale(code: PlanFailure, locale: str) -> None:
    text = failure_text(code, locale, attempts=3)
    assert text and "{" not in text and text.endswith(".")
    if locale != "en":
        assert text != failure_text(code, "en", attempts=3)


def test_the_attempts_take_the_locale_s_plural() -> None:
    assert failure_text("given_up", "fr", attempts=1) is not None
    assert "après 1 essai\u202f:" in (failure_text("given_up", "fr", attempts=1) or "")
    assert "na 3 pogingen:" in (failure_text("given_up", "nl", attempts=3) or "")


def test_no_code_or_an_unknown_one_has_no_sentence() -> None:
    assert failure_text(None, "fr") is None
    assert failure_text("a_code_from_the_future", "fr") is None


def test_an_unknown_locale_reads_english() -> None:
    assert failure_text("crashed", "de") == failure_text("crashed", "en")
