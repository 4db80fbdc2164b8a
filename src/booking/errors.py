"""Domain errors. Each carries its HTTP status, a stable code and a title.

The API renders them as RFC 9457 problem+json with one handler; this module
knows nothing of HTTP frameworks. ``code`` is machine-readable and stable,
``detail`` (also ``str(error)``) is a human sentence about this occurrence,
and ``extra()`` returns the extension members of the problem document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class FieldError:
    """One input field that breaks a rule: ``field`` is a dotted path, e.g. ``window.latest``."""

    field: str
    message: str
    code: str = "invalid"


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"
    default_title: ClassVar[str] = "The request cannot be carried out"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        title: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.title = title or self.default_title
        self._extra: dict[str, Any] = dict(extra or {})

    def extra(self) -> dict[str, Any]:
        """Extension members for the problem document (e.g. ``errors``, ``rule``, ids)."""
        return dict(self._extra)

    def problem(self) -> dict[str, Any]:
        """The problem+json members this error knows (the API adds ``type`` and ``instance``)."""
        return {
            "status": self.status,
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            **self._extra,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, detail={self.detail!r})"


class NotFound(DomainError):
    """The thing asked for does not exist, or the caller may not know it exists."""

    status = 404
    default_code = "not_found"
    default_title = "Not found"

    def __init__(
        self,
        detail: str | None = None,
        *,
        entity: str | None = None,
        entity_id: object = None,
        code: str | None = None,
    ) -> None:
        self.entity = entity
        self.entity_id = entity_id
        if detail is None:
            detail = f"{entity or 'resource'} {entity_id} not found"
        extra = {"entity": entity} if entity else None
        super().__init__(detail, code=code, extra=extra)


class Conflict(DomainError):
    """The request clashes with the current state (double booking, duplicate, stale plan)."""

    status = 409
    default_code = "conflict"
    default_title = "Conflict with the current state"


class PreconditionFailed(DomainError):
    """The client's If-Match version is no longer the stored one."""

    status = 412
    default_code = "version_mismatch"
    default_title = "The resource changed since you read it"


class Unprocessable(DomainError):
    """Well-formed input that breaks a domain rule; names the fields and the rule."""

    status = 422
    default_code = "unprocessable"
    default_title = "The request breaks a rule"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        rule: str | None = None,
        code: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        self.rule = rule
        members: dict[str, Any] = dict(extra or {})
        if self.errors:
            members["errors"] = [asdict(e) for e in self.errors]
        if rule is not None:
            members["rule"] = rule
        super().__init__(detail, code=code, extra=members)


class Forbidden(DomainError):
    """The caller is known but their role or organisation does not allow this."""

    status = 403
    default_code = "forbidden"
    default_title = "Not allowed"
