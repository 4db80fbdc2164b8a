"""The language catalogue."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from api.schemas.common import ResponseModel, StrictModel

LanguageName = Annotated[str, Field(min_length=1, max_length=100)]


class LanguageOut(ResponseModel):
    code: str = Field(description="ISO 639-3 code, e.g. `tir`.")
    name: str = Field(description="The name in the caller's language (their profile's locale).")
    name_fr: str
    name_nl: str
    name_en: str
    is_rare: bool


class LanguageCreate(StrictModel):
    code: Annotated[str, Field(pattern=r"^[a-zA-Z]{3}$", description="ISO 639-3 code.")]
    name_fr: LanguageName
    name_nl: LanguageName
    name_en: LanguageName
    is_rare: bool = False


class LanguageUpdate(StrictModel):
    """Only the fields sent change; the code never does."""

    name_fr: LanguageName | None = None
    name_nl: LanguageName | None = None
    name_en: LanguageName | None = None
    is_rare: bool | None = None
