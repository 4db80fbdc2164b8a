"""Accepted work is a commitment, through HTTP, one request at a time (#7)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from booking.types import utc_now
from tests.booking.assignments.test_commitments import in_mons, offered
from tests.booking.dispatch_world import make_world
from tests.factories import make_api_token, make_assignment


def test_accept_then_confirm_overlapping_or_too_far_work_is_a_409(
    client: TestClient, db: Session
) -> None:
    """Reported: accept Y, then confirm overlapping X elsewhere, both answered 200."""
    world = make_world(db)
    provider = world.provider(db)
    offer = offered(db, world, provider, world.booking(db, hour=10, status="proposed"))
    overlapping = make_assignment(
        db, booking=world.booking(db, hour=10, minute=30), provider=provider
    )
    too_far = make_assignment(db, booking=in_mons(db, world, 11, 5), provider=provider)
    mine = {"Authorization": f"Bearer {make_api_token(db, user=world.login(db, provider))[1]}"}
    dispatcher = {"Authorization": f"Bearer {make_api_token(db, user=world.dispatcher)[1]}"}
    db.commit()
    assert offer.offer_expires_at is not None and offer.offer_expires_at > utc_now()

    accepted = client.post(f"/api/v1/assignments/{offer.id}/accept", headers=mine)
    assert accepted.status_code == 200, accepted.text
    for assignment, code in (
        (overlapping, "provider_double_booked"),
        (too_far, "no_time_to_drive"),
    ):
        refused = client.post(f"/api/v1/assignments/{assignment.id}/confirm", headers=dispatcher)
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith(f"/{code}")
