"""A language is named, never shown as a bare code where a name exists."""

from __future__ import annotations

from sqlalchemy.orm import Session

from booking.languages.service import language_names
from tests.factories import make_language


def test_the_catalogue_names_a_language_and_cldr_names_one_it_lacks(db: Session) -> None:
    make_language(db, code="tir", name_fr="tigrigna", name_nl="Tigrinya", name_en="Tigrinya")
    assert language_names(db, "fr", ["tir", "ckb"]) == {"tir": "tigrigna", "ckb": "sorani"}
    assert language_names(db, "nl", ["tir"]) == {"tir": "Tigrinya"}
    # A code nobody knows stays out: the caller shows the code.
    assert language_names(db, "en", ["qqq"]) == {}
