"""What a plan run stores (``Plan.result``), typed: the service writes it, the readers parse it.

Explanations are stored as the matcher's reasons (`why`: codes and
parameters) with the names they mention (``names``), so each reader writes
them out in its own language (``booking.reasons``); the English sentences
stored beside them serve plans made before reasons were data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from booking.languages.service import language_names
from booking.reasons import Reasons
from booking.types import to_jsonable
from matching.why import Why


class _Entry(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WhyData(_Entry):
    """One reason as stored: `matching.why.Why` in JSON."""

    code: str
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    because: WhyData | None = None

    @classmethod
    def of(cls, why: Why) -> WhyData:
        return cls.model_validate(why.to_json())

    def to_why(self) -> Why:
        return Why(self.code, dict(self.params), self.because.to_why() if self.because else None)


class ProposalEntry(_Entry):
    assignment_id: int
    booking_id: int
    booking_reference: str
    provider_id: int
    provider_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    explanation: str = ""
    """English, as written when the plan was made."""
    why: list[WhyData] = Field(default_factory=list)
    travel_minutes: int = 0
    """The drive that brings the provider to this session."""


class UnassignedEntry(_Entry):
    booking_id: int
    booking_reference: str
    reason: str
    detail: str = ""
    explanation: str = ""
    offers_pending: bool = False
    why: list[WhyData] = Field(default_factory=list)
    """The reason, then its detail (how far the nearest providers got)."""


class PinnedEntry(_Entry):
    assignment_id: int
    booking_id: int
    provider_id: int
    status: str


class PlanResult(_Entry):
    proposals: list[ProposalEntry] = Field(default_factory=list)
    unassigned: list[UnassignedEntry] = Field(default_factory=list)
    pinned: list[PinnedEntry] = Field(default_factory=list)
    stats: dict[str, Any] = Field(default_factory=dict)
    sizes: dict[str, int] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    """English, as written when the plan was made."""
    warning_why: list[WhyData] = Field(default_factory=list)
    """The same warnings as data, one for each."""
    names: dict[str, str] = Field(default_factory=dict)
    """Display names and references by the matcher's ids, for the explanations."""
    drive_minutes: int | None = None
    """Total driving of the plan's days (to, between and back from the sessions)."""
    sharing: dict[str, Any] | None = None
    """How the plan shares the work (``service.sharing_of``)."""

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> PlanResult:
        """The stored result, or an empty one for a plan still running."""
        return cls.model_validate(data or {})

    def to_json(self) -> dict[str, Any]:
        return dict(to_jsonable(self.model_dump(mode="json", exclude_none=True)))

    def reasons(self, db: Session, locale: str, timezone: str) -> Reasons:
        """A writer of this plan's explanations in ``locale`` (the catalogue's language names)."""
        languages = language_names(db, locale, self.language_codes())
        return Reasons(locale, timezone=timezone, names=self.names, languages=languages)

    def explanation(self, entry: ProposalEntry | UnassignedEntry, reasons: Reasons) -> str:
        """The entry's explanation in the reasons' language (the stored English without data)."""
        return reasons.explanation(parts(entry)) if entry.why else entry.explanation

    def warning_texts(self, reasons: Reasons) -> list[str]:
        """The warnings in the reasons' language (the stored English without data)."""
        if len(self.warning_why) != len(self.warnings):
            return self.warnings
        return [reasons.why(why.to_why()) for why in self.warning_why]

    def detail(self, entry: UnassignedEntry, reasons: Reasons) -> str:
        """How far the nearest providers got, in the reasons' language."""
        return reasons.why(entry.why[1].to_why()) if len(entry.why) > 1 else entry.detail

    def language_codes(self) -> set[str]:
        """The languages the explanations mention (to look their names up once)."""
        found: set[str] = set()
        for why in [w for p in self.proposals for w in p.why]:
            _collect(why, found)
        for why in [w for u in self.unassigned for w in u.why]:
            _collect(why, found)
        return found


def _collect(why: WhyData, found: set[str]) -> None:
    code = why.params.get("language")
    if isinstance(code, str):
        found.add(code)
    if why.because is not None:
        _collect(why.because, found)


def parts(entry: ProposalEntry | UnassignedEntry) -> tuple[Why, ...]:
    return tuple(w.to_why() for w in entry.why)


def whys(items: Sequence[Why]) -> list[WhyData]:
    return [WhyData.of(w) for w in items]
