"""`GET /metrics`: Prometheus text format, request counts by route template, database gauges."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import Organisation, ServiceAgreement, User
from booking.types import utc_now
from notify.metrics import outbox_metrics
from tests.factories import (
    make_booking,
    make_organisation,
    make_outbox_message,
    make_plan,
    make_service_agreement,
    make_site,
    make_user,
)

Headers = dict[str, str]

# The exposition format 0.0.4, line by line.
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
VALUE = r"(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)"
SAMPLE = re.compile(rf"^({NAME})(\{{(?:{LABEL}(?:,{LABEL})*)?\}})? {VALUE}(?: -?\d+)?$")
HELP = re.compile(rf"^# HELP ({NAME}) .*$")
TYPE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")


def _samples(text: str) -> dict[str, float]:
    """``{'name{labels}': value}`` of every sample; asserts every line is well formed."""
    assert text.endswith("\n")
    samples: dict[str, float] = {}
    declared: dict[str, str] = {}
    for line in text.splitlines():
        if match := TYPE.match(line):
            assert match[1] not in declared, f"TYPE declared twice: {line}"
            declared[match[1]] = match[2]
            continue
        if HELP.match(line):
            continue
        match = SAMPLE.match(line)
        assert match, f"not exposition format: {line!r}"
        family = re.sub(r"_(bucket|sum|count|total)$", "", match[1])
        assert match[1] in declared or family in declared, f"undeclared metric: {line}"
        key, _, value = line.rpartition(" ")
        samples[key] = float(value)
    return samples


@pytest.fixture
def served(db: Session) -> Organisation:
    """A requesting organisation with a service agreement: its dispatcher counts its work."""
    return db.get_one(Organisation, make_service_agreement(db).requesting_org_id)


@pytest.fixture
def dispatcher(db: Session, served: Organisation) -> User:
    agreement = db.scalars(
        select(ServiceAgreement).where(ServiceAgreement.requesting_org_id == served.id)
    ).one()
    return make_user(
        db, role="dispatcher", organisation=db.get_one(Organisation, agreement.providing_org_id)
    )


@pytest.fixture
def dispatcher_headers(
    db: Session, dispatcher: User, auth_headers: Callable[[User], Headers]
) -> Headers:
    headers = auth_headers(dispatcher)
    db.commit()
    return headers


def test_metrics_need_a_dispatcher_or_admin_token(
    client: TestClient, db: Session, auth_headers: Callable[[User], Headers]
) -> None:
    assert client.get("/metrics").status_code == 401
    requester = auth_headers(make_user(db, role="requester"))
    admin = auth_headers(make_user(db, role="admin", organisation=make_organisation(db)))
    db.commit()
    assert client.get("/metrics", headers=requester).status_code == 403
    assert client.get("/metrics", headers=admin).status_code == 200


def test_the_exposition_parses_and_counts_requests_by_route_template(
    client: TestClient, db: Session, auth_headers: Callable[[User], Headers]
) -> None:
    agreement = make_service_agreement(db)
    site = make_site(db, organisation=db.get_one(Organisation, agreement.requesting_org_id))
    dispatcher = make_user(
        db, role="dispatcher", organisation=db.get_one(Organisation, agreement.providing_org_id)
    )
    dispatcher_headers = auth_headers(dispatcher)
    db.commit()
    client.get(f"/api/v1/sites/{site.id}", headers=dispatcher_headers)
    client.get("/api/v1/sites/987654", headers=dispatcher_headers)
    client.get("/api/v1/sites/987655", headers=dispatcher_headers)
    client.get("/no/such/path/123")
    response = client.get("/metrics", headers=dispatcher_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(response.text)
    route = 'route="/api/v1/sites/{site_id}"'
    assert samples[f'truchement_http_requests_total{{method="GET",{route},status="200"}}'] == 1
    assert samples[f'truchement_http_requests_total{{method="GET",{route},status="404"}}'] == 2
    unmatched = 'truchement_http_requests_total{method="GET",route="<unmatched>",status="404"}'
    assert samples[unmatched] == 1
    assert not any("987654" in key for key in samples)


def test_the_latency_histogram_is_cumulative_and_ends_with_inf(
    client: TestClient, dispatcher_headers: Headers
) -> None:
    for _ in range(3):
        client.get("/health")
    samples = _samples(client.get("/metrics", headers=dispatcher_headers).text)
    prefix = 'truchement_http_request_duration_seconds_bucket{method="GET",route="/health",le='
    buckets = [(key, value) for key, value in samples.items() if key.startswith(prefix)]
    values = [value for _, value in buckets]
    assert values == sorted(values)
    assert buckets[-1][0].endswith('le="+Inf"}')
    count_key = 'truchement_http_request_duration_seconds_count{method="GET",route="/health"}'
    assert buckets[-1][1] == samples[count_key] == 3


def test_bookings_outbox_and_plans_are_counted_by_status_at_scrape_time(
    client: TestClient,
    db: Session,
    served: Organisation,
    dispatcher: User,
    dispatcher_headers: Headers,
) -> None:
    before = _samples(client.get("/metrics", headers=dispatcher_headers).text)
    make_booking(db, organisation=served, status="requested")
    booking = make_booking(db, organisation=served, status="requested")
    make_booking(db, organisation=served, status="cancelled")
    make_outbox_message(db, status="dead", booking=booking)
    make_plan(db, status="done", created_by=dispatcher)
    db.commit()
    after = _samples(client.get("/metrics", headers=dispatcher_headers).text)

    def grew(key: str) -> float:
        return after[key] - before[key]

    assert grew('truchement_bookings{status="requested"}') == 2
    assert grew('truchement_bookings{status="cancelled"}') == 1
    assert grew('truchement_bookings{status="confirmed"}') == 0
    assert grew('truchement_outbox_messages{status="dead"}') == 1
    assert grew('truchement_plan_runs{status="done"}') == 1


def test_the_outbox_is_shown_by_channel_with_its_backlog_age_and_attempts(
    client: TestClient, db: Session, dispatcher: User, dispatcher_headers: Headers
) -> None:
    before = _samples(client.get("/metrics", headers=dispatcher_headers).text)
    to_them = {"recipient_user": dispatcher}
    make_outbox_message(
        db, status="pending", due_at=utc_now() - dt.timedelta(minutes=20), **to_them
    )
    make_outbox_message(
        db, status="dead", channel="sms", recipient="+32470123456", attempts=6, **to_them
    )
    make_outbox_message(db, status="sent", attempts=2, **to_them)
    db.commit()
    after = _samples(client.get("/metrics", headers=dispatcher_headers).text)

    def grew(key: str) -> float:
        return after[key] - before[key]

    assert grew('truchement_outbox_messages{status="pending"}') == 1
    assert grew('truchement_outbox_messages_by_channel{channel="sms",status="dead"}') == 1
    assert grew('truchement_outbox_messages_by_channel{channel="email",status="sent"}') == 1
    assert grew('truchement_outbox_messages_by_channel{channel="email",status="dead"}') == 0
    assert grew("truchement_outbox_attempts_total") == 8
    assert after["truchement_outbox_oldest_due_seconds"] >= 20 * 60


def test_a_dispatcher_counts_only_the_work_of_the_organisations_they_serve(
    client: TestClient,
    db: Session,
    dispatcher_headers: Headers,
    auth_headers: Callable[[User], Headers],
) -> None:
    admin_headers = auth_headers(make_user(db, role="admin"))
    db.commit()
    dispatcher_before = _samples(client.get("/metrics", headers=dispatcher_headers).text)
    admin_before = _samples(client.get("/metrics", headers=admin_headers).text)
    elsewhere = make_booking(db, status="requested")
    make_outbox_message(db, status="dead", booking=elsewhere, recipient_user=make_user(db))
    make_plan(db, status="done")
    db.commit()
    dispatcher_after = _samples(client.get("/metrics", headers=dispatcher_headers).text)
    admin_after = _samples(client.get("/metrics", headers=admin_headers).text)

    for key in (
        'truchement_bookings{status="requested"}',
        'truchement_outbox_messages{status="dead"}',
        'truchement_plan_runs{status="done"}',
    ):
        assert dispatcher_after[key] == dispatcher_before[key], key
        assert admin_after[key] - admin_before[key] == 1, key


def test_every_outbox_figure_is_exposed(
    client: TestClient, db: Session, dispatcher_headers: Headers
) -> None:
    text = client.get("/metrics", headers=dispatcher_headers).text
    assert set(outbox_metrics(db)) <= set(_samples(text))
    assert "# TYPE truchement_outbox_attempts_total counter" in text
    assert "# TYPE truchement_outbox_oldest_due_seconds gauge" in text


def test_label_values_are_escaped() -> None:
    from api.routers.metrics import _labels

    labels = _labels(route='a"b\\c\nd')
    assert labels == '{route="a\\"b\\\\c\\nd"}'
    assert SAMPLE.match(f"x{labels} 1")


def test_the_solvers_queue_is_exposed_depth_age_solving_and_orphaned(
    client: TestClient, db: Session, dispatcher: User, dispatcher_headers: Headers
) -> None:
    now = utc_now()
    make_plan(db, status="pending", created_by=dispatcher, created_at=now - dt.timedelta(minutes=5))
    make_plan(db, status="pending", created_by=dispatcher, created_at=now)
    for name, lease in (("a", 60), ("a", 60), ("b", 60), ("dead", -5)):
        make_plan(
            db,
            status="running",
            created_by=dispatcher,
            claimed_by=name,
            lease_until=now + dt.timedelta(seconds=lease),
        )
    db.commit()
    samples = _samples(client.get("/metrics", headers=dispatcher_headers).text)
    assert samples["truchement_plan_queue_depth"] == 2
    assert 300 <= samples["truchement_plan_queue_oldest_seconds"] < 330
    assert samples["truchement_plans_solving"] == 3
    assert samples["truchement_solvers_busy"] == 2
    assert samples["truchement_plans_orphaned"] == 1


def test_every_answer_says_how_long_the_process_took_refusals_included(
    client: TestClient,
) -> None:
    """``Server-Timing`` lets a client (the load benchmark) tell the time spent in the
    process from the time spent in front of it."""
    for response in (client.get("/health"), client.get("/api/v1/bookings")):
        match = re.fullmatch(r"app;dur=(\d+\.\d)", response.headers["server-timing"])
        assert match is not None, response.headers
        assert 0 <= float(match[1]) < 10_000
