"""The demo seed: the field's look, deterministic, and never mixed into real data."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.web.i18n import catalogue
from booking.demo import FIRST_NAMES, LANGUAGES, DemoRefused, database_is_empty, seed_demo_data
from booking.models import (
    Assignment,
    Booking,
    BookingProviderPreference,
    Language,
    Provider,
    ProviderLanguage,
    User,
)
from booking.users.service import verify_password
from tests.factories import make_organisation

MONDAY = dt.date(2030, 3, 4)


def _fingerprint(db: Session) -> list[tuple[str, str, str, int]]:
    rows = db.execute(
        select(
            Booking.reference, Booking.language_code, Booking.modality, Booking.priority
        ).order_by(Booking.starts_at, Booking.reference)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_demo_has_one_user_per_role_with_the_demo_password(db: Session) -> None:
    summary = seed_demo_data(db, seed=7, first_day=MONDAY)
    for role in ("admin", "dispatcher", "requester", "provider"):
        user = db.scalars(select(User).where(User.email == f"{role}@demo.truchement.eu")).one()
        assert user.role == role
        assert user.password_hash and verify_password(user.password_hash, "demo")
        assert f"{role}@demo.truchement.eu" in summary


def test_demo_looks_like_the_field(db: Session) -> None:
    seed_demo_data(db, seed=7, first_day=MONDAY)
    assert db.scalar(select(func.count()).select_from(Provider)) >= 40
    assert db.scalar(select(func.count()).select_from(Language)) == len(LANGUAGES) == 23
    speakers = dict(
        db.execute(
            select(ProviderLanguage.language_code, func.count()).group_by(
                ProviderLanguage.language_code
            )
        ).all()
    )
    assert speakers["ara"] > 5 * speakers.get("che", 0) > 0
    assert "kat" not in speakers, "one language has no speaker, as in real life"
    bookings = db.scalars(select(Booking)).all()
    days = {b.starts_at.date() for b in bookings}
    assert len(days) == 10, "two working weeks"
    assert all(b.starts_at.weekday() < 5 for b in bookings)
    assert {b.modality for b in bookings} == {"onsite", "phone", "video"}
    assert all(b.beneficiary_ref and b.beneficiary_ref.startswith("b-") for b in bookings)
    assert db.scalar(select(func.count()).select_from(Assignment)) == 3


def test_demo_is_deterministic_from_its_seed(db: Session) -> None:
    seed_demo_data(db, seed=11, first_day=MONDAY)
    first = _fingerprint(db)
    db.rollback()
    assert database_is_empty(db)
    seed_demo_data(db, seed=11, first_day=MONDAY)
    assert _fingerprint(db) == first


def test_demo_refuses_a_database_that_holds_data(db: Session) -> None:
    make_organisation(db)
    with pytest.raises(DemoRefused):
        seed_demo_data(db, seed=7, first_day=MONDAY)


def test_open_follow_ups_of_the_first_week_ask_for_the_demo_provider(db: Session) -> None:
    seed_demo_data(db, seed=7, first_day=MONDAY)
    demo_provider = db.scalars(select(Provider).where(Provider.user_id.is_not(None))).one()
    wished = db.scalars(
        select(Booking)
        .join(BookingProviderPreference, BookingProviderPreference.booking_id == Booking.id)
        .where(
            BookingProviderPreference.provider_id == demo_provider.id,
            BookingProviderPreference.kind == "preferred",
            Booking.status == "requested",
        )
    ).all()
    assert 1 <= len(wished) <= 3
    assert all(b.language_code == "tir" for b in wished)
    assert all(b.starts_at.date() < MONDAY + dt.timedelta(days=5) for b in wished)


@pytest.mark.parametrize("seed", [7, 11, 2026])
def test_no_two_demo_providers_share_a_name_and_each_name_fits_the_stated_gender(
    db: Session, seed: int
) -> None:
    seed_demo_data(db, seed=seed, first_day=MONDAY)
    providers = db.scalars(select(Provider)).all()
    names = [p.display_name for p in providers]
    assert len(names) == len(set(names)), "two providers share a full name"
    for provider in providers:
        first = provider.display_name.split(" ", 1)[0]
        assert provider.gender is not None
        assert first in FIRST_NAMES[provider.gender], (provider.display_name, provider.gender)
    assert {p.gender for p in providers} == {"f", "m", "x"}


def test_the_demo_s_any_kind_bookings_are_labelled_any_not_two_of_the_three_kinds(
    db: Session,
) -> None:
    """``any`` lets mediators in too, and the demo has mediators: the label must say so."""
    seed_demo_data(db, seed=7, first_day=MONDAY)
    kinds = set(db.scalars(select(Provider.kind)))
    assert "mediator" in kinds
    assert "any" in set(db.scalars(select(Booking.provider_kind)))
    for locale, mediator in (("en", "mediator"), ("fr", "médiateur"), ("nl", "bemiddelaar")):
        label = catalogue(locale)["provider_kind.any"]
        assert mediator in label.lower(), (locale, label)
        assert catalogue(locale)["role.provider"].lower().count(mediator) == 1


def test_the_demo_holds_a_group_for_three_languages_and_a_request_that_accepts_video(
    db: Session,
) -> None:
    seed_demo_data(db, seed=7, first_day=MONDAY)
    bookings = db.scalars(select(Booking)).all()
    [group] = [b for b in bookings if b.places]
    assert [group.language_code, *(p.language_code for p in group.places)] == [
        "pus",
        "tir",
        "ara",
    ]
    assert group.all_or_nothing and group.starts_at.date() < MONDAY + dt.timedelta(days=5)
    [ladder] = [b for b in bookings if b.accepted_modalities]
    assert ladder.modality == "onsite" and ladder.modality_ladder == ["onsite", "video"]
    assert ladder.video_link and ladder.video_link.startswith("https://")
    requester = db.scalar(select(User).where(User.email.like("requester@%")))
    assert requester is not None
    assert {group.requester_id, ladder.requester_id} == {requester.id}
