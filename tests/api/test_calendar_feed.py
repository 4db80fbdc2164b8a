"""The provider's private iCalendar feed: a secret address, held work only, no beneficiary data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import AuditLog, BookingPlace, Provider, User
from booking.users.tokens import hash_token
from tests.booking.dispatch_world import World, at, make_world
from tests.factories import make_assignment, make_language, make_user

Headers = Callable[[User], dict[str, str]]

SECRET_NOTE = "Patient afraid of the Eritrean community, asks for discretion"
PSEUDONYM = "b-secret-7c1f"


def issue(client: TestClient, provider_id: int, headers: dict[str, str]) -> str:
    answer = client.post(f"/api/v1/providers/{provider_id}/calendar-token", headers=headers)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["url"].endswith(
        f"/api/v1/providers/{provider_id}/calendar.ics?token={body['token']}"
    )
    return str(body["token"])


def feed(client: TestClient, provider_id: int, token: str) -> Calendar:
    answer = client.get(f"/api/v1/providers/{provider_id}/calendar.ics", params={"token": token})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/calendar")
    assert PSEUDONYM not in answer.text and "Eritrean" not in answer.text
    return Calendar.from_ical(answer.content)


def test_the_feed_lists_confirmed_and_accepted_work_without_beneficiary_data(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider = world.provider(db)
    held = {}
    for hour, status in ((9, "confirmed"), (11, "accepted"), (13, "offered"), (15, "cancelled")):
        booking = world.booking(
            db, hour=hour, beneficiary_ref=PSEUDONYM, notes=SECRET_NOTE, status="proposed"
        )
        held[status] = make_assignment(db, booking=booking, provider=provider, status=status)
    phone = world.booking(db, hour=16, modality="phone", beneficiary_ref=PSEUDONYM)
    held["phone"] = make_assignment(db, booking=phone, provider=provider, status="confirmed")
    make_assignment(
        db, booking=world.booking(db, hour=9), provider=world.provider(db), status="confirmed"
    )

    token = issue(client, provider.id, login(world.login(db, provider)))
    assert provider.calendar_token_hash == hash_token(token)
    events = {str(e["uid"]): e for e in feed(client, provider.id, token).walk("VEVENT")}

    assert set(events) == {
        f"assignment-{held[s].id}@truchement" for s in ("confirmed", "accepted", "phone")
    }
    confirmed = events[f"assignment-{held['confirmed'].id}@truchement"]
    start = confirmed.decoded("dtstart")
    assert start == at(world.day, 9) and start.utcoffset() == dt.timedelta(0)
    assert confirmed.decoded("dtend") == at(world.day, 10)
    assert str(confirmed["status"]) == "CONFIRMED"
    assert "Tigrinya" in str(confirmed["summary"]) or "tigrigna" in str(confirmed["summary"])
    assert "psychological" in str(confirmed["summary"])
    assert "Tournai" in str(confirmed["location"]) and "Citadelle" in str(confirmed["location"])
    assert str(confirmed["description"]).endswith(f"/schedule#work-{held['confirmed'].id}"), (
        "the event links to the provider's own schedule, not the requester's booking page"
    )
    accepted = events[f"assignment-{held['accepted'].id}@truchement"]
    assert str(accepted["status"]) == "TENTATIVE"
    assert "location" not in events[f"assignment-{held['phone'].id}@truchement"]


def test_the_uid_of_an_assignment_stays_the_same_from_one_fetch_to_the_next(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider = world.provider(db)
    make_assignment(db, booking=world.booking(db), provider=provider, status="confirmed")
    token = issue(client, provider.id, login(world.dispatcher))
    first = [str(e["uid"]) for e in feed(client, provider.id, token).walk("VEVENT")]
    second = [str(e["uid"]) for e in feed(client, provider.id, token).walk("VEVENT")]
    assert first == second and len(first) == 1


def test_a_wrong_missing_or_revoked_token_is_a_404(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider = world.provider(db)
    headers = login(world.login(db, provider))
    old = issue(client, provider.id, headers)
    new = issue(client, provider.id, headers)
    path = f"/api/v1/providers/{provider.id}/calendar.ics"
    for params in ({"token": old}, {"token": "cal_guess"}, {}, {"token": "x" * 400}):
        answer = client.get(path, params=params)
        assert answer.status_code == 404, params
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert (
        client.get(
            f"/api/v1/providers/{provider.id + 1000}/calendar.ics", params={"token": new}
        ).status_code
        == 404
    )
    assert client.get(path, params={"token": new}).status_code == 200


def test_only_the_provider_or_their_dispatchers_may_issue_the_address(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider, colleague = world.provider(db), world.provider(db)
    path = f"/api/v1/providers/{provider.id}/calendar-token"
    assert client.post(path, headers=login(world.login(db, colleague))).status_code == 404
    assert client.post(path, headers=login(world.requester)).status_code == 403
    assert client.post(path, headers=login(make_world(db).dispatcher)).status_code == 404
    assert client.post(path).status_code == 401


def _answers(client: TestClient, provider_id: int, token: str) -> int:
    return client.get(
        f"/api/v1/providers/{provider_id}/calendar.ics", params={"token": token}
    ).status_code


@pytest.mark.parametrize(
    "offboarding", ["user deactivated", "provider inactive", "login unlinked", "login changed"]
)
def test_the_feed_does_not_outlive_offboarding(
    client: TestClient, db: Session, world: World, login: Headers, offboarding: str
) -> None:
    # Security review, finding 6.
    provider = world.provider(db)
    provider_user = world.login(db, provider)
    token = issue(client, provider.id, login(provider_user))
    admin = login(make_user(db, organisation=world.service, role="admin"))
    assert _answers(client, provider.id, token) == 200
    if offboarding == "user deactivated":
        answer = client.patch(
            f"/api/v1/users/{provider_user.id}", json={"is_active": False}, headers=admin
        )
    else:
        change: dict[str, object] = {
            "provider inactive": {"is_active": False},
            "login unlinked": {"user_id": None},
            "login changed": {
                "user_id": make_user(db, organisation=world.service, role="provider").id
            },
        }[offboarding]  # type: ignore[assignment]
        db.commit()
        answer = client.patch(f"/api/v1/providers/{provider.id}", json=change, headers=admin)
    assert answer.status_code == 200, answer.text
    assert _answers(client, provider.id, token) == 404
    db.expire_all()
    assert db.get_one(Provider, provider.id).calendar_token_hash is None
    revoked = db.scalars(
        select(AuditLog).where(AuditLog.action == "provider.calendar_token_revoked")
    ).one()
    assert revoked.entity_id == str(provider.id)
    # Brought back, the provider needs a new address: the old one stays dead.
    if offboarding == "user deactivated":
        client.patch(f"/api/v1/users/{provider_user.id}", json={"is_active": True}, headers=admin)
    elif offboarding == "provider inactive":
        client.patch(f"/api/v1/providers/{provider.id}", json={"is_active": True}, headers=admin)
    assert _answers(client, provider.id, token) == 404


@pytest.mark.parametrize("what", ["provider", "login"])
def test_a_surviving_token_of_an_inactive_provider_or_login_is_refused(
    client: TestClient, db: Session, world: World, login: Headers, what: str
) -> None:
    # Tokens issued before offboarding revoked them: the feed checks activity itself.
    provider = world.provider(db)
    provider_user = world.login(db, provider)
    token = issue(client, provider.id, login(provider_user))
    if what == "provider":
        provider.is_active = False
    else:
        provider_user.is_active = False
    db.commit()
    assert _answers(client, provider.id, token) == 404


def test_a_provider_without_a_login_keeps_a_feed_their_dispatcher_issued(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider = world.provider(db, with_login=False)
    token = issue(client, provider.id, login(world.dispatcher))
    assert _answers(client, provider.id, token) == 200


def test_a_group_place_and_a_video_step_show_in_the_feed(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    make_language(db, code="pus", name_en="Pashto", name_fr="Pachto", name_nl="Pashto")
    provider = world.provider(db, languages=("pus",))
    group = world.booking(db, hour=9, session_kind="group", status="confirmed")
    db.add(BookingPlace(booking_id=group.id, position=1, language_code="pus"))
    db.flush()
    place = make_assignment(db, booking=group, provider=provider, status="confirmed", place=1)
    link = "https://visio.example.org/r/7c1f"
    remote = world.booking(db, hour=14, accepted_modalities=["video"], video_link=link)
    video = make_assignment(
        db, booking=remote, provider=provider, status="confirmed", modality="video"
    )
    token = issue(client, provider.id, login(world.login(db, provider)))
    events = {str(e["uid"]): e for e in feed(client, provider.id, token).walk("VEVENT")}

    mine = events[f"assignment-{place.id}@truchement"]
    assert str(mine["summary"]).startswith("Pa") and "(+1)" in str(mine["summary"])
    by_video = events[f"assignment-{video.id}@truchement"]
    assert str(by_video["location"]) == link
