"""Errors as RFC 9457 problem+json, whatever raised them, in the caller's language.

Domain errors carry their own status; request validation becomes a 422 that
lists the failing fields (``errors: [{field, message, type}]``); anything
unexpected is a 500 without internals. Titles, the common details and the
validation messages follow ``Accept-Language`` (fr, nl, en; English by
default); ``type``, ``status``, field names and codes never change.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.i18n import has_message, negotiate_locale, status_title, translate
from api.schemas.common import LOCAL_TIME_PATTERN, ProblemDetails
from booking.db import is_transient_conflict, violated_constraint
from booking.errors import DomainError, NotFound

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://truchement.eu/problems/"
OPENAPI_NAME = "Problem"
"""The problem document's name in the published OpenAPI document, as it always was: clients
generated from it keep their type names."""

log = logging.getLogger("truchement.api")


class ApiError(Exception):
    """An HTTP-level refusal (authentication, limits) rendered as a localised problem.

    ``key`` names the detail in the catalogue (``detail.<key>``) and the end
    of the ``type`` URI; ``params`` fill the sentence and, when ``extra`` is
    set, become extension members of the document too.
    """

    def __init__(
        self,
        status: int,
        key: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.headers = dict(headers or {})
        self.params = dict(params or {})
        self.extra = dict(extra or {})


def error_response(
    status: int,
    title: str,
    *,
    detail: str | None = None,
    type_: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response; ``extra`` members that are ``None`` are left out."""
    body: dict[str, Any] = {
        "type": type_ or f"{TYPE_BASE}{_slug(title)}",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _slug(title: str) -> str:
    return "-".join(title.lower().split())


def request_locale(headers: Mapping[str, str]) -> str:
    """fr, nl or en for a request's headers (``Accept-Language``), English by default."""
    return negotiate_locale(headers.get("accept-language"))


def localised_error(
    locale: str,
    status: int,
    key: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    detail: str | None = None,
    **extra: Any,
) -> JSONResponse:
    """The problem for ``status`` with the catalogue's ``detail.<key>`` in ``locale``.

    ``detail`` is used when the catalogue has no sentence for ``key``.
    """
    detail_key = f"detail.{key}"
    if has_message(detail_key):
        detail = translate(locale, detail_key, params)
    return error_response(
        status,
        status_title(locale, status),
        detail=detail,
        type_=f"{TYPE_BASE}{key}",
        headers=dict(headers) if headers else None,
        **extra,
    )


def validation_message(locale: str, error: Mapping[str, Any]) -> str:
    """One pydantic error's message in ``locale``, or pydantic's own English one."""
    key = f"validation.{error.get('type', '')}"
    if not has_message(key) or (locale == "en" and error.get("type") == "value_error"):
        return str(error.get("msg", ""))
    context = dict(error.get("ctx") or {})
    if "expected" in context:
        context["expected"] = str(context["expected"])
    return translate(locale, key, context)


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    parts = list(location)
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(str(part) for part in parts) or "body"


LANGUAGE_FIELDS = frozenset({"language", "language_code", "languages"})
"""Fields that hold a language code: a wrong one is told what a code looks like."""


def _is_language_field(field: str) -> bool:
    parts = field.split(".")
    return bool(LANGUAGE_FIELDS & set(parts)) and (
        parts[-1] in LANGUAGE_FIELDS or parts[-1] == "code" or parts[-1].isdigit()
    )


def validation_errors(locale: str, errors: list[Any]) -> list[dict[str, str]]:
    """``[{field, message, type}]`` for pydantic's errors; field paths stay as sent."""
    result: list[dict[str, str]] = []
    for err in errors:
        kind = str(err.get("type", ""))
        field = "body" if kind == "json_invalid" else _field(err.get("loc", ()))
        message = validation_message(locale, err)
        if kind == "string_pattern_mismatch" and _is_language_field(field):
            message = translate(locale, "validation.language_code")
        result.append({"field": field, "message": message, "type": kind})
    return result


def _domain_errors(locale: str, members: dict[str, Any]) -> None:
    """Give the field errors of a domain error the same shape as validation ones."""
    errors = members.get("errors")
    if not isinstance(errors, list):
        return
    shaped = []
    for err in errors:
        if not isinstance(err, dict):
            continue
        kind = str(err.get("type") or err.get("code") or "invalid")
        message = str(err.get("message", ""))
        key = f"validation.{kind}"
        if locale != "en" and has_message(key):
            message = translate(locale, key)
        shaped.append({"field": str(err.get("field", "")), "message": message, "type": kind})
    members["errors"] = shaped


def domain_detail(locale: str, error: DomainError) -> str:
    """A domain error's detail in ``locale``: its code's sentence, else its status's.

    English keeps the service's own sentence, which names this occurrence; the
    other languages take the API's ``domain.<code>``, the pages' ``problem.<code>``
    or, for a code neither knows, the sentence of its status (the field errors
    and the code still say exactly what broke).
    """
    if locale == "en":
        return error.detail
    key = f"domain.{error.code}"
    if has_message(key):
        return translate(locale, key, error.extra())
    from api.web.i18n import catalogue  # the pages' words; imported late, they import this

    page_words = catalogue(locale).get(f"problem.{error.code}")
    if page_words:
        return page_words
    return translate(locale, f"domain.status_{error.status}")


def install_error_handlers(app: FastAPI) -> None:
    """Render every error the same way, so a client needs one parser."""

    install_error_openapi(app)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        locale = request_locale(request.headers)
        title = exc.title if locale == "en" else status_title(locale, exc.status)
        detail = domain_detail(locale, exc)
        if isinstance(exc, NotFound) and exc.entity:
            detail = translate(
                locale, "detail.not_found", {"entity": exc.entity, "entity_id": exc.entity_id}
            )
        members = exc.extra()
        _domain_errors(locale, members)
        return error_response(
            exc.status, title, detail=detail, type_=f"{TYPE_BASE}{exc.code}", **members
        )

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return localised_error(
            request_locale(request.headers),
            exc.status,
            exc.key,
            headers=exc.headers,
            params=exc.params,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        locale = request_locale(request.headers)
        errors = validation_errors(locale, list(exc.errors()))
        malformed = any(err["type"] == "json_invalid" for err in errors)
        return localised_error(
            locale,
            422,
            "malformed_json" if malformed else "validation",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        locale = request_locale(request.headers)
        keys = {404: "no_route", 405: "method_not_allowed"}
        key = getattr(exc, "error_key", None) or keys.get(
            exc.status_code, f"http_{exc.status_code}"
        )
        return localised_error(
            locale,
            exc.status_code,
            key,
            headers=dict(exc.headers) if exc.headers else None,
            params=getattr(exc, "params", None),
            detail=str(exc.detail) if exc.detail else None,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # A service should have refused this with a domain error; the database
        # is the last line, and its refusal is the client's problem, not a 500.
        constraint = violated_constraint(exc)
        log.warning("database refused a change on %s: %s", request.url.path, constraint)
        status = 422 if constraint and constraint.startswith("ck_") else 409
        return localised_error(
            request_locale(request.headers),
            status,
            "constraint",
            params={"constraint": constraint or "?"},
            constraint=constraint,
        )

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        # A value the database cannot hold slipped past validation (a NUL in a
        # query parameter, a number out of range): the input's fault, not a 500.
        log.warning("database could not store a value on %s: %s", request.url.path, exc.orig)
        return localised_error(request_locale(request.headers), 422, "unstorable")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return localised_error(request_locale(request.headers), 500, "internal")

    @app.exception_handler(PoolTimeoutError)
    async def _pool_exhausted(request: Request, exc: PoolTimeoutError) -> JSONResponse:
        # Every connection of the pool stayed busy for the pool timeout: the
        # service is past capacity, which is a 503 to retry, never a 500.
        log.warning("no database connection free for %s: %s", request.url.path, exc)
        return _retry_in_a_second(request)

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> JSONResponse:
        # The locks are taken in one order, so this is rare; when two requests
        # still collide (a deadlock, a serialization failure) the database rolled
        # one back, and that one may simply be sent again: a 409, not a 500.
        if is_transient_conflict(exc):
            log.warning("transaction lost a race on %s: %s", request.url.path, exc.orig)
            return localised_error(request_locale(request.headers), 409, "conflict")
        if exc.connection_invalidated:
            # The connection was lost (the database restarted, a proxy dropped it):
            # the pool has thrown away it and every older one, so a retry gets a
            # fresh connection. What a ping before each request would have caught.
            log.warning("database connection lost on %s: %s", request.url.path, exc.orig)
            return _retry_in_a_second(request)
        return await _unexpected(request, exc)


def _retry_in_a_second(request: Request) -> JSONResponse:
    """A 503 that a retry a second later will most likely not meet again."""
    return localised_error(
        request_locale(request.headers),
        503,
        "overloaded",
        params={"retry_after": 1},
        headers={"Retry-After": "1"},
    )


WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
_COMMON_ERRORS: dict[str, str] = {
    "400": "The body could not be read.",
    "401": "No valid credentials (missing, unknown, revoked or expired token).",
    "413": "The request body is too large.",
    "422": "Some fields are missing or invalid; `errors` lists them.",
    "429": "Too many writes; wait for `Retry-After` seconds.",
}


def _document_local_times(node: Any) -> None:
    """Say that times of day are local wall-clock times (``08:30:00``), without offset.

    Pydantic documents ``datetime.time`` as ``format: time``, which JSON Schema
    defines as RFC 3339 ``full-time`` with a mandatory offset: a client or a
    validator trusting it would reject every availability rule.
    """
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "time":
            node["format"] = "partial-time"
            node.setdefault("pattern", LOCAL_TIME_PATTERN)
        for value in node.values():
            _document_local_times(value)
    elif isinstance(node, list):
        for value in node:
            _document_local_times(value)


def install_error_openapi(app: FastAPI) -> None:
    """Make the OpenAPI document say what the API really answers on errors.

    Every error response is ``application/problem+json`` with the ``ProblemDetails``
    schema (FastAPI's default 422 schema is replaced), secured operations
    document 401, and writes document 413 and 429, so a generated client
    and a schema-checking fuzzer see the truth.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        problem_schema = TypeAdapter(ProblemDetails).json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components.update(problem_schema.pop("$defs", {}))
        components.pop(ProblemDetails.__name__, None)  # the routes' copy, named after the class
        components[OPENAPI_NAME] = {**problem_schema, "title": OPENAPI_NAME}
        reference = {"$ref": f"#/components/schemas/{OPENAPI_NAME}"}
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                wanted = []
                if operation.get("security"):
                    wanted.append("401")
                if method in WRITE_METHODS:
                    wanted.append("429")
                if "requestBody" in operation:
                    wanted += ["400", "413", "422"]
                if operation.get("parameters"):
                    wanted.append("422")
                for code in wanted:
                    responses.setdefault(code, {"description": _COMMON_ERRORS[code]})
                for code, response in responses.items():
                    if code.isdigit() and int(code) >= 400:
                        if response.get("description") == "Validation Error":
                            response["description"] = _COMMON_ERRORS["422"]
                        response["content"] = {PROBLEM_JSON: {"schema": dict(reference)}}
        _document_local_times(schema)
        for name in ("HTTPValidationError", "ValidationError"):
            if f'"#/components/schemas/{name}"' not in json.dumps(schema, default=str):
                components.pop(name, None)
        app.openapi_schema = schema
        return schema

    # FastAPI's documented way to extend the document; its stubs call it a method.
    app.openapi = openapi  # type: ignore[method-assign]
