"""Tenancy: each role sees its own organisation's rows, and nothing else exists for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from booking.access import (
    booking_query_for,
    dispatcher_can_manage_provider,
    get_visible_booking,
    provider_for_user,
    visible_organisation_ids,
)
from booking.errors import NotFound
from booking.models import Booking, Organisation, Provider, User
from tests.factories import (
    make_assignment,
    make_booking,
    make_organisation,
    make_provider,
    make_service_agreement,
    make_site,
    make_user,
)


@dataclass
class Border:
    """Two reception centres served by SéTIS, a third served by nobody, and their people."""

    setis: Organisation
    other_service: Organisation
    croisilles: Organisation
    tournai: Organisation
    unserved: Organisation
    requester_croisilles: User
    requester_tournai: User
    dispatcher: User
    other_dispatcher: User
    provider_user: User
    provider: Provider
    admin: User
    booking_croisilles: Booking
    booking_tournai: Booking
    booking_unserved: Booking


@pytest.fixture
def border(db: Session) -> Border:
    setis = make_organisation(db, name="SéTIS wallon", kind="providing")
    other_service = make_organisation(db, name="ISM", kind="providing", country="FR")
    croisilles = make_organisation(db, name="CAES Croisilles", country="FR")
    tournai = make_organisation(db, name="CPAS Tournai")
    unserved = make_organisation(db, name="Centre non desservi")
    make_service_agreement(db, providing=setis, requesting=croisilles)
    make_service_agreement(db, providing=setis, requesting=tournai)
    requester_croisilles = make_user(db, organisation=croisilles)
    requester_tournai = make_user(db, organisation=tournai)
    provider_user = make_user(db, organisation=setis, role="provider")
    provider = make_provider(db, organisation=setis, user=provider_user)
    return Border(
        setis=setis,
        other_service=other_service,
        croisilles=croisilles,
        tournai=tournai,
        unserved=unserved,
        requester_croisilles=requester_croisilles,
        requester_tournai=requester_tournai,
        dispatcher=make_user(db, organisation=setis, role="dispatcher"),
        other_dispatcher=make_user(db, organisation=other_service, role="dispatcher"),
        provider_user=provider_user,
        provider=provider,
        admin=make_user(db, organisation=setis, role="admin"),
        booking_croisilles=make_booking(db, requester=requester_croisilles),
        booking_tournai=make_booking(db, requester=requester_tournai),
        booking_unserved=make_booking(db, requester=make_user(db, organisation=unserved)),
    )


def _visible(db: Session, user: User) -> set[int]:
    return {b.id for b in db.scalars(booking_query_for(db, user))}


def test_a_requester_sees_only_their_organisations_bookings(db: Session, border: Border) -> None:
    assert _visible(db, border.requester_croisilles) == {border.booking_croisilles.id}
    assert visible_organisation_ids(db, border.requester_croisilles) == {border.croisilles.id}


def test_a_dispatcher_sees_the_bookings_of_the_organisations_their_service_serves(
    db: Session, border: Border
) -> None:
    assert _visible(db, border.dispatcher) == {
        border.booking_croisilles.id,
        border.booking_tournai.id,
    }
    assert visible_organisation_ids(db, border.dispatcher) == {
        border.setis.id,
        border.croisilles.id,
        border.tournai.id,
    }


def test_a_dispatcher_of_another_service_sees_none_of_them(db: Session, border: Border) -> None:
    assert _visible(db, border.other_dispatcher) == set()
    assert visible_organisation_ids(db, border.other_dispatcher) == {border.other_service.id}


def test_an_admin_sees_everything(db: Session, border: Border) -> None:
    assert visible_organisation_ids(db, border.admin) is None
    assert {
        border.booking_croisilles.id,
        border.booking_tournai.id,
        border.booking_unserved.id,
    } <= _visible(db, border.admin)


@pytest.mark.parametrize(
    ("status", "visible"),
    [
        ("proposed", False),
        ("offered", True),
        ("accepted", True),
        ("confirmed", True),
        ("declined", False),
        ("cancelled", False),
        ("expired", False),
    ],
)
def test_a_provider_sees_a_booking_only_while_it_is_offered_to_them_or_theirs(
    db: Session, border: Border, status: str, visible: bool
) -> None:
    make_assignment(db, booking=border.booking_tournai, provider=border.provider, status=status)
    expected = {border.booking_tournai.id} if visible else set()
    assert _visible(db, border.provider_user) == expected
    assert visible_organisation_ids(db, border.provider_user) == {border.setis.id}


def test_a_provider_does_not_see_a_booking_held_by_a_colleague(db: Session, border: Border) -> None:
    colleague = make_provider(db, organisation=border.setis)
    make_assignment(db, booking=border.booking_tournai, provider=colleague, status="confirmed")
    assert _visible(db, border.provider_user) == set()


def test_get_visible_booking_answers_not_found_for_hidden_and_missing_alike(
    db: Session, border: Border
) -> None:
    found = get_visible_booking(db, border.requester_tournai, border.booking_tournai.id)
    assert found.id == border.booking_tournai.id
    with pytest.raises(NotFound) as hidden:
        get_visible_booking(db, border.requester_tournai, border.booking_croisilles.id)
    with pytest.raises(NotFound) as missing:
        get_visible_booking(db, border.requester_tournai, 987654321)
    assert hidden.value.entity == missing.value.entity == "booking"
    assert hidden.value.status == missing.value.status == 404


def test_provider_for_user_finds_the_login_of_a_provider(db: Session, border: Border) -> None:
    provider = provider_for_user(db, border.provider_user)
    assert provider is not None
    assert provider.id == border.provider.id
    assert provider_for_user(db, border.dispatcher) is None


def test_only_the_providers_own_service_or_an_admin_manages_a_provider(
    db: Session, border: Border
) -> None:
    assert dispatcher_can_manage_provider(db, border.dispatcher, border.provider)
    assert dispatcher_can_manage_provider(db, border.admin, border.provider)
    assert not dispatcher_can_manage_provider(db, border.other_dispatcher, border.provider)
    assert not dispatcher_can_manage_provider(db, border.requester_tournai, border.provider)
    assert not dispatcher_can_manage_provider(db, border.provider_user, border.provider)


Headers = Callable[[User], dict[str, str]]


@pytest.fixture
def app_routes(app: FastAPI) -> set[str]:
    return {route.path or "" for route in iter_route_contexts(app.routes)}


def test_a_requester_reading_another_organisations_site_gets_404(
    client: TestClient, db: Session, border: Border, auth_headers: Headers
) -> None:
    own = make_site(db, organisation=border.tournai)
    other = make_site(db, organisation=border.croisilles)
    headers = auth_headers(border.requester_tournai)
    db.commit()
    assert client.get(f"/api/v1/sites/{own.id}", headers=headers).status_code == 200
    hidden = client.get(f"/api/v1/sites/{other.id}", headers=headers)
    missing = client.get("/api/v1/sites/987654321", headers=headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace(str(other.id), "N") == missing.json()["detail"].replace(
        "987654321", "N"
    )


def test_site_lists_are_scoped_to_what_the_caller_may_see(
    client: TestClient, db: Session, border: Border, auth_headers: Headers
) -> None:
    tournai_site = make_site(db, organisation=border.tournai)
    croisilles_site = make_site(db, organisation=border.croisilles)
    unserved_site = make_site(db, organisation=border.unserved)

    def ids(user: User) -> set[int]:
        response = client.get("/api/v1/sites?limit=200", headers=auth_headers(user))
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    ours = {tournai_site.id, croisilles_site.id, unserved_site.id}
    assert ids(border.requester_tournai) & ours == {tournai_site.id}
    assert ids(border.dispatcher) & ours == {tournai_site.id, croisilles_site.id}
    assert ids(border.admin) & ours == ours


def test_a_requester_reading_another_organisations_booking_gets_404(
    client: TestClient, app_routes: set[str], db: Session, border: Border, auth_headers: Headers
) -> None:
    if "/api/v1/bookings/{booking_id}" not in app_routes:
        pytest.skip("the bookings router is not there yet")
    headers = auth_headers(border.requester_tournai)
    db.commit()
    own = client.get(f"/api/v1/bookings/{border.booking_tournai.id}", headers=headers)
    assert own.status_code == 200
    other = client.get(f"/api/v1/bookings/{border.booking_croisilles.id}", headers=headers)
    assert other.status_code == 404
    assert other.headers["content-type"].startswith("application/problem+json")
