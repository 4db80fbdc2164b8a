"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

For every operation, generated requests (valid and invalid) are sent as an
admin and as a dispatcher over a small seeded border area. No answer may be
a 5xx, and every answer must match what the document promises (status
documented, content type, body schema). A bounded number of examples per
operation keeps this under a minute or two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_db
from booking.models import User
from booking.settings import Settings
from tests.api.conftest import read_log_on_session
from tests.factories import (
    make_assignment,
    make_availability_rule,
    make_booking,
    make_language,
    make_organisation,
    make_provider,
    make_service_agreement,
    make_site,
    make_user,
)

EXAMPLES_AS_ADMIN = 10
EXAMPLES_AS_DISPATCHER = 6
"""Fewer as a dispatcher: the admin-only operations answer them 403 before reading much."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzz_app(settings: Settings, db: Session) -> Iterator[FastAPI]:
    """The real app on the test's session, with a write rate the fuzzer cannot exhaust."""
    application = create_app(settings.model_copy(update={"write_rate_per_minute": 1_000_000}))

    def _test_db() -> Iterator[Session]:
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise

    application.dependency_overrides[get_db] = _test_db
    read_log_on_session(application, db)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def headers_by_role(
    db: Session, auth_headers: Callable[[User], dict[str, str]]
) -> dict[str, dict[str, str]]:
    """A seeded service, a centre it serves, people and bookings; headers of each role."""
    setis = make_organisation(db, name="SéTIS wallon", kind="providing")
    centre = make_organisation(db, name="CAES Croisilles", country="FR")
    make_service_agreement(db, providing=setis, requesting=centre)
    site = make_site(db, organisation=centre)
    requester = make_user(db, organisation=centre)
    for code in ("tir", "ara", "prs"):
        make_language(db, code=code)
    provider = make_provider(db, organisation=setis, languages=("tir", "ara"), certified=True)
    make_availability_rule(db, provider=provider)
    booking = make_booking(db, requester=requester, site=site)
    make_booking(db, requester=requester, language_code="prs", modality="phone")
    make_assignment(db, booking=booking, provider=provider, status="proposed")
    headers = {
        role: auth_headers(make_user(db, organisation=setis, role=role))
        for role in ("admin", "dispatcher")
    }
    # Released, so a refused request's rollback cannot take the seed with it.
    db.commit()
    return headers


def _document() -> dict[str, object]:
    """The OpenAPI document, from an app that never opens its (in-memory) database."""
    application = create_app(
        Settings(environment="test", database_url="sqlite://", secret_key="openapi-only-" * 3)
    )
    try:
        return application.openapi()
    finally:
        application.state.engine.dispose()


# Loaded at import (schemathesis' fixture-based loader does not run on pytest 9); each
# case is then sent to the test's own app, which shares the test's database session.
# The coverage phase enumerates boundary cases per operation without bound; the
# random phases, bounded below, find what matters here (5xx, schema drift) in time.
schema = schemathesis.openapi.from_dict(
    _document(),
    config=schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}}),
)


def _bounded(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )


@schema.parametrize()
@_bounded(EXAMPLES_AS_ADMIN)
def test_no_operation_fails_an_admin(
    case: schemathesis.Case, fuzz_app: FastAPI, headers_by_role: dict[str, dict[str, str]]
) -> None:
    case.call_and_validate(app=fuzz_app, headers=headers_by_role["admin"], checks=CHECKS)


@schema.parametrize()
@_bounded(EXAMPLES_AS_DISPATCHER)
def test_no_operation_fails_a_dispatcher(
    case: schemathesis.Case, fuzz_app: FastAPI, headers_by_role: dict[str, dict[str, str]]
) -> None:
    case.call_and_validate(app=fuzz_app, headers=headers_by_role["dispatcher"], checks=CHECKS)
