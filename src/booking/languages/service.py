"""The catalogue of bookable languages: search it, add to it, rename."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from babel import Locale
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.audit import pending_changes, record_audit
from booking.errors import Conflict, NotFound
from booking.languages.models import Language
from booking.typed import fold
from booking.users.models import User


def language_query(db: Session, *, q: str | None = None) -> Select[Language]:
    """Languages whose code or name in any of fr, nl, en contains ``q`` (case-insensitive)."""
    query = select(Language)
    if q:
        needle = q.strip().lower()
        query = query.where(
            or_(
                *(
                    func.lower(column).contains(needle, autoescape=True)
                    for column in (
                        Language.code,
                        Language.name_fr,
                        Language.name_nl,
                        Language.name_en,
                    )
                )
            )
        )
    return query


def find_language_code(db: Session, typed: str) -> str | None:
    """The code of the language a person typed: a code, ``Name (code)``, or a name in any locale."""
    text = typed.strip()
    if text.endswith(")") and "(" in text:
        text = text[text.rindex("(") + 1 : -1]
    if len(text) == 3 and text.isascii() and text.isalpha():
        found = db.get(Language, text.lower())
        if found is not None:
            return found.code
    wanted = fold(typed)
    for language in db.scalars(select(Language)):
        names = (language.name_fr, language.name_nl, language.name_en, language.code)
        if wanted in {fold(name) for name in names}:
            return language.code
    return None


def languages_by_code(db: Session, codes: Iterable[str] | None = None) -> dict[str, Language]:
    """The catalogue's languages by code: those of ``codes``, or all of them."""
    query = select(Language)
    if codes is not None:
        wanted = sorted(set(codes))
        if not wanted:
            return {}
        query = query.where(Language.code.in_(wanted))
    return {language.code: language for language in db.scalars(query)}


def get_language(db: Session, code: str) -> Language:
    language = db.get(Language, code.lower())
    if language is None:
        raise NotFound(entity="language", entity_id=code)
    return language


def create_language(
    db: Session,
    *,
    actor: User | None,
    code: str,
    name_fr: str,
    name_nl: str,
    name_en: str,
    is_rare: bool = False,
) -> Language:
    """Add a language (ISO 639-3 ``code``) with its names in the three languages."""
    code = code.lower()
    if db.get(Language, code) is not None:
        raise Conflict(f"language {code} already exists", code="language_exists")
    language = Language(
        code=code, name_fr=name_fr, name_nl=name_nl, name_en=name_en, is_rare=is_rare
    )
    db.add(language)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:
        # Another admin added the same code at the same moment.
        raise Conflict(f"language {code} already exists", code="language_exists") from None
    record_audit(
        db,
        actor=actor,
        action="language.created",
        entity=language,
        changes={"name_en": name_en, "is_rare": is_rare},
    )
    return language


def update_language(
    db: Session, *, actor: User | None, language: Language, changes: Mapping[str, Any]
) -> Language:
    """Rename a language or flag it rare; the code never changes (bookings refer to it)."""
    for key in ("name_fr", "name_nl", "name_en", "is_rare"):
        if changes.get(key) is not None:
            setattr(language, key, changes[key])
    diff = pending_changes(language)
    if diff:
        record_audit(db, actor=actor, action="language.updated", entity=language, changes=diff)
        db.flush()
    return language


def language_names(db: Session, locale: str, codes: Iterable[str] | None = None) -> dict[str, str]:
    """Names in ``locale`` (fr, nl or en) by code: of ``codes``, or of the whole catalogue.

    A code the catalogue lacks takes its CLDR name (Babel) when there is one,
    so that a code is never shown alone where a name exists.
    """
    wanted = None if codes is None else set(codes)
    names = {
        code: str(getattr(language, f"name_{locale}", None) or language.name_en)
        for code, language in languages_by_code(db, wanted).items()
    }
    cldr = Locale.parse(locale if locale in ("fr", "nl", "en") else "en").languages
    for code in (wanted or set()) - set(names):
        if code in cldr:
            names[code] = str(cldr[code])
    return names
