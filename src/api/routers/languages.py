"""The language catalogue: anyone signed in searches it; admins add and rename."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.auth import AdminUser, CurrentUser
from api.deps import DbSession
from api.schemas.common import Page, PageQuery, error_responses, paginate
from api.schemas.languages import LanguageCreate, LanguageOut, LanguageUpdate
from booking.languages import service
from booking.languages.models import Language
from booking.users.models import User

router = APIRouter(prefix="/api/v1/languages", tags=["languages"])

LanguageCode = Annotated[str, Path(pattern=r"^[a-zA-Z]{3}$", description="ISO 639-3 code.")]
NAME_COLUMNS = {"fr": Language.name_fr, "nl": Language.name_nl, "en": Language.name_en}


def _out(language: Language, user: User) -> LanguageOut:
    return LanguageOut(
        code=language.code,
        name=getattr(language, f"name_{user.locale}", language.name_en),
        name_fr=language.name_fr,
        name_nl=language.name_nl,
        name_en=language.name_en,
        is_rare=language.is_rare,
    )


@router.get(
    "",
    summary="List or search the bookable languages",
    response_model=Page[LanguageOut],
    responses=error_responses(401, 422),
)
def list_languages(
    db: DbSession,
    user: CurrentUser,
    page: PageQuery,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Part of the code or of the name in French, Dutch or English.",
        ),
    ] = None,
) -> Page[LanguageOut]:
    """Sorted by name in the caller's own language."""
    name = NAME_COLUMNS.get(user.locale, Language.name_en)
    return paginate(
        db,
        service.language_query(db, q=q),
        page,
        order_by=(name, Language.code),
        item=lambda language: _out(language, user),
    )


@router.get(
    "/{code}",
    summary="Read one language",
    response_model=LanguageOut,
    responses=error_responses(401, 404, 422),
)
def read_language(db: DbSession, user: CurrentUser, code: LanguageCode) -> LanguageOut:
    return _out(service.get_language(db, code), user)


@router.post(
    "",
    summary="Add a language (admin)",
    status_code=status.HTTP_201_CREATED,
    response_model=LanguageOut,
    responses=error_responses(401, 403, 409, 413, 422, 429),
)
def create_language(db: DbSession, admin: AdminUser, body: LanguageCreate) -> LanguageOut:
    return _out(service.create_language(db, actor=admin, **body.model_dump()), admin)


@router.patch(
    "/{code}",
    summary="Rename a language or flag it rare (admin)",
    response_model=LanguageOut,
    responses=error_responses(401, 403, 404, 413, 422, 429),
)
def update_language(
    db: DbSession, admin: AdminUser, code: LanguageCode, body: LanguageUpdate
) -> LanguageOut:
    language = service.update_language(
        db,
        actor=admin,
        language=service.get_language(db, code),
        changes=body.model_dump(exclude_unset=True),
    )
    return _out(language, admin)
