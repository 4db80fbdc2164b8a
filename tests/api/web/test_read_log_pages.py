"""The pages that show a booking log the read, as the API does (``via: web``)."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.privacy.models import ReadLog
from tests.api.conftest import Border
from tests.api.web.conftest import Browser
from tests.factories import default_start, make_assignment, make_booking


def test_the_requesters_and_the_dispatchers_booking_pages_log_their_reads(
    app: FastAPI, browser: Browser, db: Session, border: Border
) -> None:
    booking = make_booking(
        db, organisation=border.centre, requester=border.requester, site=border.site
    )
    assert browser.sign_in(border.requester).get(f"/bookings/{booking.id}").status_code == 200
    assert (
        browser.sign_in(border.dispatcher).get(f"/board/bookings/{booking.id}").status_code == 200
    )
    app.state.read_log.flush()
    reads = [
        (row.reader_user_id, row.subject_id, row.via)
        for row in db.scalars(select(ReadLog).order_by(ReadLog.id))
    ]
    assert reads == [
        (border.requester.id, booking.id, "web"),
        (border.dispatcher.id, booking.id, "web"),
    ]


def test_the_providers_schedule_logs_the_work_it_shows_not_the_offers(
    app: FastAPI, browser: Browser, db: Session, border: Border
) -> None:
    held = make_booking(
        db,
        organisation=border.centre,
        requester=border.requester,
        starts_at=default_start(),
        status="confirmed",
    )
    offered = make_booking(db, organisation=border.centre, requester=border.requester)
    make_assignment(db, booking=held, provider=border.provider, status="confirmed")
    make_assignment(db, booking=offered, provider=border.provider, status="offered")
    assert browser.sign_in(border.provider_user).get("/schedule").status_code == 200
    app.state.read_log.flush()
    reads = [
        (row.reader_user_id, row.subject_id)
        for row in db.scalars(select(ReadLog).order_by(ReadLog.id))
    ]
    assert reads == [(border.provider_user.id, held.id)]
