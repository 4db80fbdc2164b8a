"""Explanations speak the caller's language; their codes are the same in every language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from booking.models import User
from tests.api.conftest import Border
from tests.api.test_bookings_api import body as booking_body
from tests.api.test_plans_api import Solve, create_plan, horizon
from tests.booking.dispatch_world import World
from tests.factories import make_language

Headers = Callable[[User], dict[str, str]]

CALAIS = (50.95, 1.86)


def in_language(headers: dict[str, str], locale: str) -> dict[str, str]:
    return {**headers, "Accept-Language": locale}


def test_a_plan_is_explained_in_the_callers_language_with_the_same_codes(
    client: TestClient, db: Session, world: World, login: Headers, solve_queued: Solve
) -> None:
    make_language(db, code="tir", name_fr="tigrigna", name_nl="Tigrinya", name_en="Tigrinya")
    make_language(db, code="som", name_fr="somali", name_nl="Somalisch", name_en="Somali")
    world.provider(db, name="Awet")
    world.booking(db, hour=10)
    world.booking(db, hour=11, language_code="som")
    headers = login(world.dispatcher)
    plan = create_plan(client, headers, solve_queued, **horizon(world))
    read = {
        locale: client.get(f"/api/v1/plans/{plan['id']}", headers=in_language(headers, locale))
        for locale in ("fr", "nl", "en")
    }
    assert all(answer.status_code == 200 for answer in read.values())
    fr, nl, en = (read[locale].json() for locale in ("fr", "nl", "en"))

    assert fr["proposals"][0]["why"] == nl["proposals"][0]["why"] == en["proposals"][0]["why"]
    codes = [part["code"] for part in en["proposals"][0]["why"]]
    assert codes == ["takes", "drive_from_home", "day_load", "nobody_else"]
    assert "Awet (interprète, parle tigrigna) prend" in fr["proposals"][0]["explanation"]
    assert "Awet (tolk, spreekt Tigrinya) neemt" in nl["proposals"][0]["explanation"]
    assert "Awet (interpreter, speaks Tigrinya) takes" in en["proposals"][0]["explanation"]
    assert "séance" in fr["proposals"][0]["explanation"]
    assert "(s)" not in fr["proposals"][0]["explanation"]

    assert fr["unassigned"][0]["why"] == en["unassigned"][0]["why"]
    assert fr["unassigned"][0]["why"][0]["code"] == "no_provider_speaks_language"
    assert fr["unassigned"][0]["explanation"] == "Personne dans le vivier ne parle somali."
    assert nl["unassigned"][0]["explanation"] == "Niemand in de pool spreekt Somalisch."
    assert en["unassigned"][0]["explanation"] == "Nobody in the pool speaks Somali."
    assert en["score"] == fr["score"]  # the raw score stays, for machines


def test_candidates_say_why_not_in_the_callers_language(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    world.provider(db, name="Near")
    world.provider(db, name="Far", home_lat=CALAIS[0], home_lon=CALAIS[1], max_travel_minutes=30)
    world.provider(db, name="Afternoon", hours=(dt.time(13), dt.time(17)))
    booking = world.booking(db, hour=10)
    path = f"/api/v1/bookings/{booking.id}/candidates"
    headers = login(world.dispatcher)
    answers = {
        locale: client.get(path, headers=in_language(headers, locale)).json()["candidates"]
        for locale in ("fr", "nl", "en")
    }
    by_name = {locale: {c["display_name"]: c for c in ranked} for locale, ranked in answers.items()}
    far = {locale: found["Far"] for locale, found in by_name.items()}
    assert far["fr"]["why"] == far["nl"]["why"] == far["en"]["why"]
    assert far["en"]["why"]["code"] == "travel_range"
    assert far["fr"]["detail"].startswith("Far habite à ")
    assert "au-delà de sa limite de 30" in far["fr"]["detail"]
    assert far["nl"]["detail"].startswith("Far woont op ")
    assert far["en"]["detail"].startswith("Far lives ")
    late = {locale: found["Afternoon"]["detail"] for locale, found in by_name.items()}
    assert late == {
        "fr": "Afternoon n’est pas disponible à ce moment-là",
        "nl": "Afternoon is op dat moment niet beschikbaar",
        "en": "Afternoon is not available at that time",
    }
    near = by_name["fr"]["Near"]
    assert near["why"]["code"] == "can_take" and near["detail"].startswith("Near peut la prendre")


def test_a_domain_errors_detail_is_in_the_callers_language(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    booking = world.booking(db, hour=10)
    headers = login(world.requester)
    path = f"/api/v1/bookings/{booking.id}/cancel"
    assert client.post(path, json={"reason": "moved"}, headers=headers).status_code == 200
    again = {
        locale: client.post(path, json={"reason": "moved"}, headers=in_language(headers, locale))
        for locale in ("fr", "nl", "en")
    }
    assert {answer.status_code for answer in again.values()} == {409}
    problems = {locale: answer.json() for locale, answer in again.items()}
    assert {p["type"] for p in problems.values()} == {
        "https://truchement.eu/problems/already_cancelled"
    }
    assert problems["en"]["detail"] == "The booking is already cancelled."
    assert problems["fr"]["detail"] != problems["en"]["detail"]
    assert "annulée" in problems["fr"]["detail"]
    assert "geannuleerd" in problems["nl"]["detail"]


def test_a_language_given_by_name_is_told_what_a_code_looks_like(
    client: TestClient, border: Border, login: Headers
) -> None:
    headers = login(border.requester)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
    for typed in ("Tigrinya", "TIR"):
        answer = client.post(
            "/api/v1/bookings",
            json={**booking_body(border), "language": typed, "starts_at": start.isoformat()},
            headers=in_language(headers, "fr"),
        )
        assert answer.status_code == 422, answer.text
        [error] = answer.json()["errors"]
        assert error["field"] == "language"
        assert "code de langue comme `tir`" in error["message"]
    unknown = client.post(
        "/api/v1/bookings",
        json={**booking_body(border), "language": "xyz", "starts_at": start.isoformat()},
        headers=in_language(headers, "nl"),
    )
    assert unknown.status_code == 422, unknown.text
    [error] = unknown.json()["errors"]
    assert (error["field"], error["type"]) == ("language", "unknown_language")
    assert "taalcode zoals `tir`" in error["message"]
