"""The booking services' own world: SéTIS serving a Tournai reception centre, by name."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from booking.models import Organisation, Provider, Site, User
from tests.factories import (
    make_language,
    make_organisation,
    make_provider,
    make_service_agreement,
    make_site,
    make_user,
)


@dataclass
class World:
    """SéTIS serving a Tournai reception centre, with its people and one interpreter."""

    setis: Organisation
    centre: Organisation
    site: Site
    requester: User
    dispatcher: User
    admin: User
    provider_user: User
    provider: Provider


@pytest.fixture
def world(db: Session) -> World:
    setis = make_organisation(db, name="SéTIS wallon", kind="providing")
    centre = make_organisation(db, name="Centre Fedasil Tournai")
    make_service_agreement(db, providing=setis, requesting=centre)
    make_language(db, code="tir")
    make_language(db, code="ara")
    provider_user = make_user(db, organisation=setis, role="provider", full_name="Selam T.")
    return World(
        setis=setis,
        centre=centre,
        site=make_site(db, organisation=centre, name="Centre Fedasil"),
        requester=make_user(db, organisation=centre),
        dispatcher=make_user(db, organisation=setis, role="dispatcher"),
        admin=make_user(db, organisation=setis, role="admin"),
        provider_user=provider_user,
        provider=make_provider(db, organisation=setis, user=provider_user, display_name="Selam T."),
    )
