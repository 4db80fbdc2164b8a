"""GET /api/v1/notifications and the retry of a dead message: dispatchers and admins only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import AuditLog, User
from tests.booking.outbox.scene import START, make_scene
from tests.factories import (
    make_organisation,
    make_outbox_message,
    make_service_agreement,
    make_user,
)

Headers = Callable[[User], dict[str, str]]
URL = "/api/v1/notifications"


def test_a_dispatcher_sees_the_messages_about_the_bookings_their_service_serves(
    db: Session, client: TestClient, auth_headers: Headers
) -> None:
    served = make_scene(db)
    other = make_scene(db)
    mine = make_outbox_message(db, booking=served.booking, recipient_user=served.requester)
    digest = make_outbox_message(db, recipient_user=served.dispatcher, event="dispatcher_digest")
    make_outbox_message(db, booking=other.booking, recipient_user=other.requester)
    make_outbox_message(db, recipient_user=other.dispatcher, event="dispatcher_digest")

    response = client.get(URL, headers=auth_headers(served.dispatcher))
    assert response.status_code == 200, response.text
    assert {item["id"] for item in response.json()["items"]} == {mine.id, digest.id}
    assert response.json()["next_cursor"] is None


def test_an_admin_sees_everything_and_filters_by_status(
    db: Session, client: TestClient, auth_headers: Headers
) -> None:
    admin = make_user(db, role="admin", organisation=make_organisation(db, kind="providing"))
    make_outbox_message(db, status="sent")
    dead = make_outbox_message(db, status="dead", attempts=5, last_error="SMTP 554: b'rejected'")
    response = client.get(URL, params={"status": "dead"}, headers=auth_headers(admin))
    assert response.status_code == 200
    (item,) = [i for i in response.json()["items"] if i["id"] == dead.id]
    assert item["status"] == "dead"
    assert item["attempts"] == 5
    assert item["last_error"] == "SMTP 554: b'rejected'"
    assert all(i["status"] == "dead" for i in response.json()["items"])
    assert "context" not in item


def test_the_list_is_paginated_newest_first(
    db: Session, client: TestClient, auth_headers: Headers
) -> None:
    scene = make_scene(db)
    ids = [
        make_outbox_message(db, booking=scene.booking, due_at=START - dt.timedelta(hours=h)).id
        for h in range(5)
    ]
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "booking_id": scene.booking.id}
        if cursor:
            params["cursor"] = cursor
        response = client.get(URL, params=params, headers=auth_headers(scene.dispatcher))
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]


def test_requesters_and_providers_may_not_read_the_outbox(
    db: Session, client: TestClient, auth_headers: Headers
) -> None:
    scene = make_scene(db)
    headers = [auth_headers(scene.requester), auth_headers(scene.provider_user)]
    db.commit()  # a refused request rolls back to here
    for user_headers in headers:
        assert client.get(URL, headers=user_headers).status_code == 403
    assert client.get(URL).status_code == 401


def test_bad_filters_are_422_problems(
    db: Session, client: TestClient, auth_headers: Headers
) -> None:
    scene = make_scene(db)
    headers = auth_headers(scene.dispatcher)
    db.commit()  # a refused request rolls back to here
    for params in (
        {"status": "lost"},
        {"booking_id": "x"},
        {"booking_id": 2**40},
        {"cursor": "%%%"},
    ):
        response = client.get(URL, params=params, headers=headers)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


def test_a_dead_message_is_retried_and_the_retry_is_audited(
    db: Session, client: TestClient, auth_headers: Headers
) -> None:
    scene = make_scene(db)
    dead = make_outbox_message(
        db, booking=scene.booking, status="dead", attempts=6, max_attempts=6, last_error="x"
    )
    response = client.post(f"{URL}/{dead.id}/retry", headers=auth_headers(scene.dispatcher))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert body["attempts"] == 6
    assert body["max_attempts"] == 12
    assert dt.datetime.fromisoformat(body["due_at"]) <= dt.datetime.now(dt.UTC)
    audit = db.scalars(
        select(AuditLog).where(
            AuditLog.entity_type == "outbox_message", AuditLog.entity_id == str(dead.id)
        )
    ).one()
    assert (audit.action, audit.actor_user_id) == ("notification.retry", scene.dispatcher.id)


def test_only_failed_or_dead_messages_are_retried(
    db: Session, client: TestClient, auth_headers: Headers
) -> None:
    scene = make_scene(db)
    headers = auth_headers(scene.dispatcher)
    others = {
        status: make_outbox_message(db, booking=scene.booking, status=status).id
        for status in ("pending", "sending", "sent", "void")
    }
    failed = make_outbox_message(db, booking=scene.booking, status="failed", attempts=1).id
    db.commit()  # a refused request rolls back to here
    for status, message_id in others.items():
        response = client.post(f"{URL}/{message_id}/retry", headers=headers)
        assert response.status_code == 409, status
        assert response.json()["type"].endswith("/notification_not_retryable")
    assert client.post(f"{URL}/{failed}/retry", headers=headers).status_code == 200


def test_a_message_the_dispatcher_may_not_see_does_not_exist_for_them(
    db: Session, client: TestClient, auth_headers: Headers
) -> None:
    scene = make_scene(db)
    other = make_scene(db)
    hidden = make_outbox_message(db, booking=other.booking, status="dead")
    dispatcher, requester = auth_headers(scene.dispatcher), auth_headers(scene.requester)
    db.commit()  # a refused request rolls back to here
    for message_id in (hidden.id, 2**31 - 1):
        response = client.post(f"{URL}/{message_id}/retry", headers=dispatcher)
        assert response.status_code == 404
    assert client.post(f"{URL}/{hidden.id}/retry", headers=requester).status_code == 403
    assert client.post(f"{URL}/0/retry", headers=dispatcher).status_code == 422
    db.refresh(hidden)
    assert hidden.status == "dead"


def test_the_endpoints_are_documented_for_client_generation(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    listing = paths[URL]["get"]
    retry = paths[f"{URL}/{{notification_id}}/retry"]["post"]
    assert listing["summary"] and retry["summary"]
    assert {"200", "401", "403", "422"} <= set(listing["responses"])
    assert {"200", "401", "403", "404", "409"} <= set(retry["responses"])


def test_a_dispatcher_does_not_read_another_service_s_people_on_a_shared_booking(
    db: Session, client: TestClient, auth_headers: Headers
) -> None:
    # Security review, finding 3: two services serve the centre; ISM's provider is
    # confirmed on it. SéTIS's dispatcher sees the message to the requester and to
    # their own people, never the ISM provider's phone number or email.
    scene = make_scene(db)
    ism = make_organisation(db, kind="providing", name="ISM Interprétariat")
    make_service_agreement(db, providing=ism, requesting=scene.requesting)
    ism_user = make_user(db, organisation=ism, role="provider", email="amina@ism.example.org")
    to_requester = make_outbox_message(
        db, booking=scene.booking, recipient_user=scene.requester, recipient="camille@caes.fr"
    )
    to_own = make_outbox_message(
        db, booking=scene.booking, recipient_user=scene.provider_user, recipient="+32470123456"
    )
    to_ism_email = make_outbox_message(
        db, booking=scene.booking, recipient_user=ism_user, recipient="amina@ism.example.org"
    )
    to_ism_sms = make_outbox_message(
        db, booking=scene.booking, recipient_user=ism_user, recipient="+33612345678", channel="sms"
    )
    erased = make_outbox_message(db, booking=scene.booking, recipient="gone@example.org")
    erased.recipient_user_id = None  # the person was erased since: who it was is unknown
    headers = auth_headers(scene.dispatcher)
    db.commit()
    response = client.get(URL, params={"booking_id": scene.booking.id}, headers=headers)
    assert response.status_code == 200, response.text
    assert {i["id"] for i in response.json()["items"]} == {to_requester.id, to_own.id}
    assert "amina@ism.example.org" not in response.text and "+33612345678" not in response.text
    for hidden in (to_ism_email, to_ism_sms, erased):
        retried = client.post(f"{URL}/{hidden.id}/retry", headers=headers)
        assert retried.status_code == 404
    # ISM's own dispatcher sees theirs and the requester's.
    ism_dispatcher = auth_headers(make_user(db, organisation=ism, role="dispatcher"))
    db.commit()
    theirs = client.get(URL, params={"booking_id": scene.booking.id}, headers=ism_dispatcher)
    assert {i["id"] for i in theirs.json()["items"]} == {
        to_requester.id,
        to_ism_email.id,
        to_ism_sms.id,
    }
