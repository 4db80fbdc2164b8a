"""The languages the service can book, keyed by ISO 639-3 code."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.db import Base


class Language(Base):
    """A bookable language; ``is_rare`` flags those worth a cross-service request."""

    __tablename__ = "language"
    __table_args__ = (
        CheckConstraint("length(code) = 3 AND code = lower(code)", name="code_iso_639_3"),
    )

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name_fr: Mapped[str] = mapped_column(String(100))
    name_nl: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    is_rare: Mapped[bool] = mapped_column(Boolean, default=False)
