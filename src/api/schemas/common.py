"""Shapes every router shares: the problem document, documented errors, cursor pagination.

Pagination is by cursor for the whole API: ``?limit=&cursor=``. A list
answers ``{"items": [...], "next_cursor": "..."}``; ``next_cursor`` is
``null`` on the last page, otherwise pass it back unchanged as ``cursor``.
The cursor is opaque (the sort key of the last item, base64url-encoded), so
pages stay stable while rows are added, unlike page numbers.

In a router::

    @router.get("", response_model=Page[SiteOut], responses=error_responses(401, 403))
    def list_sites(db: DbSession, user: CurrentUser, page: PageQuery) -> Page[SiteOut]:
        query = sites_service.site_query_for(db, user)
        return paginate(db, query, page, order_by=(Site.name, Site.id), item=SiteOut)
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar, overload

from fastapi import Depends, Path, Query
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from booking.dates import (
    EARLIEST_DAY,
    LATEST_DAY,
    OUT_OF_RANGE,
    day_in_bounds,
    instant_in_bounds,
)
from booking.errors import FieldError, Unprocessable

T = TypeVar("T")
Model = TypeVar("Model", bound=BaseModel)

ClockChange = Literal["shifted", "ambiguous"]
"""What a clock change did to a local time: moved past the spring gap, or met twice."""
CLOCK_CHANGES: tuple[ClockChange, ...] = ("shifted", "ambiguous")

MAX_ID = 2**31 - 1
"""Ids are 32-bit in PostgreSQL: a larger one cannot exist and must not reach the driver."""

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_CURSOR_LENGTH = 512


LOCAL_TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"
"""A local time of day as the API writes it: ``08:30``, ``08:30:00``, ``08:30:00.5``."""
_LOCAL_TIME = re.compile(LOCAL_TIME_PATTERN)
_BOUNDS = {"earliest": EARLIEST_DAY.isoformat(), "latest": LATEST_DAY.isoformat()}


def _out_of_range() -> PydanticCustomError:
    return PydanticCustomError(OUT_OF_RANGE, "Must lie between {earliest} and {latest}.", _BOUNDS)


def _bounded_instant(value: dt.datetime) -> dt.datetime:
    if not instant_in_bounds(value):
        raise _out_of_range()
    return value


def _bounded_day(value: dt.date) -> dt.date:
    if not day_in_bounds(value):
        raise _out_of_range()
    return value


def _local_time_text(value: Any) -> Any:
    """Refuse what the pattern refuses, instead of letting the parser truncate or guess."""
    if isinstance(value, str) and not _LOCAL_TIME.fullmatch(value):
        raise PydanticCustomError(
            "local_time", "Must be a local time such as 08:30 or 08:30:00, without offset."
        )
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_bounded_instant)]
"""An instant a client sends: with its offset, between 2000-01-01 and 2199-12-31."""
Day = Annotated[dt.date, AfterValidator(_bounded_day)]
"""A calendar date a client sends, between 2000-01-01 and 2199-12-31."""
LocalTime = Annotated[dt.time, BeforeValidator(_local_time_text)]
"""A local wall-clock time of day (``LOCAL_TIME_PATTERN``): nothing truncated, no offset."""


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(_contains_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    return False


class StrictModel(BaseModel):
    """Base of every request body: an unknown field is an error, not silently dropped.

    Text may not contain NUL characters: PostgreSQL cannot store them, and no
    name, address or note needs one.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_nul(cls, value: Any) -> Any:
        if _contains_nul(value):
            raise PydanticCustomError("string_nul", "Must not contain NUL characters.")
        return value


class ResponseModel(BaseModel):
    """Base of every response body, readable straight from ORM rows."""

    model_config = ConfigDict(from_attributes=True)


class FieldProblem(BaseModel):
    """One failing input field of a 422."""

    field: str = Field(description="Dotted path of the field, as sent (e.g. `window.latest`).")
    message: str = Field(description="What is wrong, in the caller's language.")
    type: str = Field(description="Stable machine-readable reason (e.g. `missing`).")


class ProblemDetails(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI identifying the kind of problem; stable.")
    title: str = Field(description="Short summary of the kind of problem, localised.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="This occurrence, in words.")
    errors: list[FieldProblem] | None = Field(
        default=None, description="The failing fields (422 only)."
    )


_ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Bad request.",
    401: "No valid credentials (missing, unknown, revoked or expired token).",
    403: "Authenticated, but the role does not allow this.",
    404: "Not found, or not visible to the caller (existence is never confirmed).",
    409: "Conflicts with the current state.",
    412: "The resource changed since it was read (If-Match).",
    413: "The request body is too large.",
    422: "Some fields are missing or invalid; `errors` lists them.",
    428: "A precondition header (If-Match) is required.",
    429: "Too many writes; see `Retry-After`.",
    503: "Service unavailable.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting these statuses as problem+json."""
    return {
        status: {
            "model": ProblemDetails,
            "description": _ERROR_DESCRIPTIONS.get(status, "Error."),
            "content": {"application/problem+json": {}},
        }
        for status in statuses
    }


class Page(BaseModel, Generic[T]):
    """One page of a list; follow ``next_cursor`` until it is ``null``."""

    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; null on the last."
    )


@dataclass(frozen=True)
class PageParams:
    """``?limit=&cursor=`` of every list endpoint."""

    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None


async def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")
    ] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_LENGTH, description="`next_cursor` of the previous page."),
    ] = None,
) -> PageParams:
    """The ``PageParams`` of a request; async, so reading two query parameters costs no trip
    to a worker thread (FastAPI runs a class or a plain function there)."""
    return PageParams(limit=limit, cursor=cursor)


PageQuery = Annotated[PageParams, Depends(page_params)]


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _decode(value: Any, python_type: type) -> Any:
    if value is None:
        return None
    if python_type is dt.datetime and isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive instant in cursor")
        return parsed
    if python_type is dt.date and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if python_type is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if python_type is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if python_type is str and isinstance(value, str):
        return value
    if python_type is bool and isinstance(value, bool):
        return value
    raise ValueError(f"cursor value {value!r} is not a {python_type.__name__}")


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, columns: Sequence[Any]) -> list[Any]:
    """The sort key a cursor carries, typed like ``columns``; ``Unprocessable`` if damaged."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError("wrong length")
        return [_decode(v, _python_type(c)) for v, c in zip(values, columns, strict=True)]
    except (ValueError, TypeError, UnicodeError, binascii.Error, RecursionError):
        raise Unprocessable(
            "The cursor is unknown or damaged.",
            errors=[FieldError("cursor", "Unknown or damaged cursor.", code="cursor_invalid")],
        ) from None


def _python_type(column: Any) -> type:
    element = _unwrap(column)
    try:
        python_type: type = element.type.python_type
    except NotImplementedError:
        python_type = str
    return python_type


def _unwrap(column: Any) -> Any:
    """The column of an ordering (``Model.x`` or ``Model.x.desc()``)."""
    return getattr(column, "element", column)


def _descending(column: Any) -> bool:
    modifier = getattr(column, "modifier", None)
    return getattr(modifier, "__name__", "") == "desc_op"


def _after(columns: Sequence[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``columns`` (keyset pagination)."""
    clauses: list[ColumnElement[bool]] = []
    for index, column in enumerate(columns):
        element = _unwrap(column)
        equal_before = [
            _unwrap(c) == v for c, v in zip(columns[:index], values[:index], strict=True)
        ]
        beyond = element < values[index] if _descending(column) else element > values[index]
        clauses.append(and_(*equal_before, beyond))
    return or_(*clauses)


@overload
def paginate(
    db: Session,
    query: Select[Any],
    page: PageParams,
    *,
    order_by: Sequence[InstrumentedAttribute[Any] | Any],
    item: type[Model],
) -> Page[Model]: ...


@overload
def paginate(
    db: Session,
    query: Select[Any],
    page: PageParams,
    *,
    order_by: Sequence[InstrumentedAttribute[Any] | Any],
    item: Callable[[Any], T],
) -> Page[T]: ...


def paginate(
    db: Session,
    query: Select[Any],
    page: PageParams,
    *,
    order_by: Sequence[InstrumentedAttribute[Any] | Any],
    item: type[BaseModel] | Callable[[Any], Any],
) -> Page[Any]:
    """Run ``query`` (already scoped to the caller) one page at a time.

    ``order_by`` must end with a unique, non-null column (usually the id) so
    the order is total; ``Model.x.desc()`` sorts newest first. ``item`` turns
    a row into the response model (a pydantic model class is validated from
    the ORM row).
    """
    if page.cursor:
        query = query.where(_after(order_by, decode_cursor(page.cursor, order_by)))
    rows = list(db.scalars(query.order_by(*order_by).limit(page.limit + 1)))
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    convert: Callable[[Any], Any] = (
        item.model_validate if isinstance(item, type) and issubclass(item, BaseModel) else item
    )
    next_cursor = None
    if has_more and rows:
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, _unwrap(c).key) for c in order_by])
    return Page(items=[convert(row) for row in rows], next_cursor=next_cursor)
