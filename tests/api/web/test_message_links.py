"""The pages messages link to need a sign-in; only a signed ``/l/`` link opens without one."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.api.conftest import Border
from tests.factories import make_booking


@pytest.mark.parametrize("page", ["/bookings/{id}", "/board", "/board/bookings/{id}", "/schedule"])
def test_a_linked_page_sends_a_visitor_without_a_session_to_sign_in(
    client: TestClient, db: Session, border: Border, page: str
) -> None:
    booking = make_booking(db, organisation=border.centre, requester=border.requester)
    answer = client.get(page.format(id=booking.id), follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in")
    assert "b-7c1f" not in answer.text


def test_a_forged_signed_link_opens_nothing(client: TestClient) -> None:
    answer = client.get("/l/1.o.zz.AAAAAAAAAAAAAAAAAAAAAA", follow_redirects=False)
    assert answer.status_code in (403, 404)
