"""Every error is RFC 9457 problem+json, in the caller's language, and never a stack trace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg.errors
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from api.i18n import CATALOGUE, SUPPORTED_LOCALES, negotiate_locale, parse_accept_language
from booking.errors import Conflict, NotFound
from booking.models import User
from tests.factories import make_organisation, make_user

Headers = dict[str, str]


@pytest.fixture
def as_admin(db: Session, auth_headers: Callable[[User], Headers]) -> Headers:
    headers = auth_headers(make_user(db, role="admin", organisation=make_organisation(db)))
    db.commit()
    return headers


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status"} <= body.keys()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    return body


def test_every_catalogue_key_exists_in_every_locale() -> None:
    keys = {locale: set(CATALOGUE[locale]) for locale in SUPPORTED_LOCALES}
    reference = keys["en"]
    for locale in SUPPORTED_LOCALES:
        assert keys[locale] == reference, f"{locale}: {keys[locale] ^ reference}"


def test_every_catalogue_sentence_uses_the_same_placeholders_in_every_locale() -> None:
    import string

    def placeholders(text: str) -> set[str]:
        return {name.split("|")[0] for _, name, _, _ in string.Formatter().parse(text) if name}

    for key, english in CATALOGUE["en"].items():
        for locale in SUPPORTED_LOCALES:
            assert placeholders(CATALOGUE[locale][key]) == placeholders(english), (locale, key)


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, "en"),
        ("", "en"),
        ("fr-BE,fr;q=0.9,en;q=0.5", "fr"),
        ("nl-BE", "nl"),
        ("de-DE, nl;q=0.3", "nl"),
        ("en;q=0.2, fr;q=0.8", "fr"),
        ("fr_FR", "fr"),
        ("de, it", "en"),
        ("*", "en"),
        ("fr;q=0", "en"),
        ("fr;q=abc, nl", "nl"),
        (";;;,,,=q", "en"),
        ("x" * 500, "en"),
    ],
)
def test_the_language_is_negotiated_and_garbage_means_english(
    header: str | None, locale: str
) -> None:
    assert negotiate_locale(header) == locale


def test_quality_orders_the_accept_language_tags() -> None:
    assert parse_accept_language("en;q=0.2, fr;q=0.8, nl") == ["nl", "fr", "en"]


@pytest.mark.parametrize(
    ("language", "title"),
    [
        ("fr-BE", "Authentification requise"),
        ("nl-BE,nl;q=0.9", "Authenticatie vereist"),
        ("en-GB", "Authentication required"),
        ("de-DE", "Authentication required"),
    ],
)
def test_a_401_speaks_the_callers_language(client: TestClient, language: str, title: str) -> None:
    body = _problem(client.get("/api/v1/me", headers={"Accept-Language": language}), 401)
    assert body["title"] == title
    assert body["type"].endswith("/unauthenticated")


def test_validation_errors_list_each_field_in_the_callers_language(
    client: TestClient, db: Session, as_admin: Headers
) -> None:
    organisation = make_organisation(db)
    db.commit()
    payload = {
        "organisation_id": organisation.id,
        "email": "nope",
        "full_name": "",
        "role": "requester",
        "nickname": "x",
    }
    french = _problem(
        client.post("/api/v1/users", json=payload, headers={**as_admin, "Accept-Language": "fr"}),
        422,
    )
    english = _problem(client.post("/api/v1/users", json=payload, headers=as_admin), 422)
    assert french["title"] == "Requête non valide"
    assert english["title"] == "Unprocessable request"
    by_field = {error["field"]: error for error in french["errors"]}
    assert set(by_field) == {"email", "full_name", "nickname"}
    assert by_field["nickname"] == {
        "field": "nickname",
        "message": "Champ inconnu.",
        "type": "extra_forbidden",
    }
    assert by_field["email"]["message"] == "Adresse e-mail non valide."
    assert by_field["full_name"]["message"] == "Doit comporter au moins 1 caractères."
    assert {e["field"] for e in english["errors"]} == set(by_field)
    assert english["type"] == french["type"]


def test_query_parameters_are_named_with_their_location(
    client: TestClient, as_admin: Headers
) -> None:
    body = _problem(
        client.get("/api/v1/sites?limit=0", headers={**as_admin, "Accept-Language": "nl"}), 422
    )
    assert body["errors"] == [
        {"field": "query.limit", "message": "Moet minstens 1 zijn.", "type": "greater_than_equal"}
    ]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"name": "x",', "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"not json at all", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"name=x", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
        (b'{"name": "x"}', "text/plain"),
        (b'{"a":' * 2000 + b"1" + b"}" * 2000, "application/json"),
    ],
)
def test_malformed_bodies_are_a_4xx_problem(
    client: TestClient, as_admin: Headers, content: bytes, content_type: str
) -> None:
    response = client.post(
        "/api/v1/organisations",
        content=content,
        headers={**as_admin, "Content-Type": content_type},
    )
    assert 400 <= response.status_code < 500, response.text
    _problem(response, response.status_code)


def test_malformed_json_is_named_as_such(client: TestClient, as_admin: Headers) -> None:
    response = client.post(
        "/api/v1/organisations",
        content=b'{"name": ',
        headers={**as_admin, "Content-Type": "application/json", "Accept-Language": "fr"},
    )
    body = _problem(response, 422)
    assert body["type"].endswith("/malformed_json")
    assert body["detail"] == "Le corps de la requête n’est pas du JSON valide."
    assert body["errors"][0]["field"] == "body"


def test_a_nul_character_in_any_body_text_is_refused_by_field(
    client: TestClient, as_admin: Headers
) -> None:
    response = client.post(
        "/api/v1/organisations",
        json={"name": "CPAS\u0000Tournai", "kind": "requesting", "country": "BE"},
        headers=as_admin,
    )
    body = _problem(response, 422)
    assert body["errors"] == [
        {"field": "name", "message": "Must not contain NUL characters.", "type": "string_nul"}
    ]


def test_a_nul_character_in_a_query_is_never_a_server_error(
    client: TestClient, as_admin: Headers
) -> None:
    response = client.get("/api/v1/languages?q=ti%00r", headers=as_admin)
    assert response.status_code in (200, 422)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/sites/99999999999999999999", 422),
        ("/api/v1/sites/-1", 422),
        ("/api/v1/sites/abc", 422),
        ("/api/v1/languages/x%00y", 422),
        ("/api/v1/nowhere", 404),
    ],
)
def test_strange_paths_are_problems_not_crashes(
    client: TestClient, as_admin: Headers, path: str, status: int
) -> None:
    _problem(client.get(path, headers=as_admin), status)


def test_an_unknown_route_and_a_wrong_method_are_localised(client: TestClient) -> None:
    missing = _problem(client.get("/nowhere", headers={"Accept-Language": "fr"}), 404)
    assert missing["title"] == "Introuvable"
    wrong = _problem(client.put("/health", headers={"Accept-Language": "nl"}), 405)
    assert wrong["title"] == "Methode niet toegestaan"


@pytest.fixture
def failing_app(app: FastAPI) -> FastAPI:
    """The app with routes that fail in each way a service can."""

    @app.get("/_probe/not-found")
    def _not_found() -> None:
        raise NotFound(entity="booking", entity_id=42)

    @app.get("/_probe/conflict")
    def _conflict() -> None:
        raise Conflict("provider 3 is already confirmed then", code="provider_double_booked")

    @app.get("/_probe/integrity")
    def _integrity() -> None:
        raise IntegrityError("INSERT ...", {}, Exception("UNIQUE constraint failed: user.email"))

    @app.get("/_probe/data")
    def _data() -> None:
        raise DataError("INSERT ...", {}, Exception("integer out of range"))

    @app.get("/_probe/deadlock")
    def _deadlock() -> None:
        raise OperationalError("SELECT ...", {}, psycopg.errors.DeadlockDetected("deadlock"))

    @app.get("/_probe/serialization")
    def _serialization() -> None:
        raise OperationalError("UPDATE ...", {}, psycopg.errors.SerializationFailure("no"))

    @app.get("/_probe/sqlite-locked")
    def _sqlite_locked() -> None:
        raise OperationalError("UPDATE ...", {}, Exception("database is locked"))

    @app.get("/_probe/disconnected")
    def _disconnected() -> None:
        raise OperationalError(
            "SELECT ...",
            {},
            psycopg.OperationalError("server closed the connection unexpectedly"),
            connection_invalidated=True,
        )

    @app.get("/_probe/disk")
    def _disk() -> None:
        raise OperationalError("UPDATE ...", {}, Exception("disk I/O error"))

    @app.get("/_probe/crash")
    def _crash() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    return app


def test_domain_errors_keep_their_code_and_translate_their_title(
    failing_app: FastAPI, client: TestClient
) -> None:
    french = _problem(client.get("/_probe/not-found", headers={"Accept-Language": "fr"}), 404)
    assert french["title"] == "Introuvable"
    assert french["detail"] == "booking 42 introuvable."
    assert french["type"].endswith("/not_found")
    conflict = _problem(client.get("/_probe/conflict", headers={"Accept-Language": "nl"}), 409)
    assert conflict["title"] == "Conflict met de huidige toestand"
    assert conflict["type"].endswith("/provider_double_booked")
    english = _problem(client.get("/_probe/conflict"), 409)
    assert english["title"] == "Conflict with the current state"


def test_a_database_refusal_is_a_conflict_naming_the_constraint(
    failing_app: FastAPI, client: TestClient
) -> None:
    body = _problem(client.get("/_probe/integrity"), 409)
    assert body["constraint"] == "uq_user_email"


def test_a_value_the_database_cannot_hold_is_the_inputs_fault(
    failing_app: FastAPI, client: TestClient
) -> None:
    body = _problem(client.get("/_probe/data", headers={"Accept-Language": "nl"}), 422)
    assert body["type"].endswith("/unstorable")
    assert "integer out of range" not in str(body)


@pytest.mark.parametrize("path", ["deadlock", "serialization", "sqlite-locked"])
def test_a_transaction_that_lost_a_race_is_a_409_conflict_to_retry(
    failing_app: FastAPI, client: TestClient, path: str
) -> None:
    body = _problem(client.get(f"/_probe/{path}", headers={"Accept-Language": "fr"}), 409)
    assert body["type"].endswith("/conflict")
    assert "réessayez" in body["detail"]


def test_a_lost_database_connection_is_a_503_to_retry(
    failing_app: FastAPI, client: TestClient
) -> None:
    """Without a ping before each request, a connection the database dropped fails one
    request; the pool has already thrown it away, so the retry it is told to make works."""
    response = client.get("/_probe/disconnected")
    body = _problem(response, 503)
    assert response.headers["retry-after"] == "1"
    assert "server closed" not in str(body)


def test_any_other_database_failure_stays_a_500(failing_app: FastAPI, client: TestClient) -> None:
    body = _problem(client.get("/_probe/disk"), 500)
    assert "disk" not in str(body)


def test_an_unexpected_error_is_a_500_problem_without_internals(
    failing_app: FastAPI, client: TestClient
) -> None:
    response = client.get("/_probe/crash", headers={"Accept-Language": "fr"})
    body = _problem(response, 500)
    assert body["title"] == "Erreur interne"
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text


def test_the_openapi_documents_errors_as_problems(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    assert "Problem" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    create_user = document["paths"]["/api/v1/users"]["post"]
    for status in ("401", "403", "409", "413", "422", "429"):
        content = create_user["responses"][status]["content"]
        assert content == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    assert create_user["security"]
