"""A token that worked is remembered for a few seconds, but a change made in this process
to its user or the token itself is seen by the very next request."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from booking.models import ApiToken, User
from booking.users.token_cache import ANY_USER, TokenCache
from tests.api.conftest import Border
from tests.factories import make_api_token


def cache_of(app: FastAPI) -> TokenCache:
    cache = app.state.token_cache
    assert isinstance(cache, TokenCache)
    return cache


def test_a_token_revoked_through_the_api_is_refused_at_once(
    app: FastAPI,
    client: TestClient,
    db: Session,
    border: Border,
    login: Callable[[User], dict[str, str]],
) -> None:
    row, token = make_api_token(db, user=border.dispatcher)
    db.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert len(cache_of(app)) == 1
    revoked = client.delete(f"/api/v1/tokens/{row.id}", headers=login(border.admin))
    assert revoked.status_code == 204
    db.expunge_all()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_a_deactivated_user_or_a_changed_role_is_seen_by_the_next_request(
    client: TestClient,
    db: Session,
    border: Border,
    login: Callable[[User], dict[str, str]],
) -> None:
    as_admin = login(border.admin)
    headers = login(border.dispatcher)
    assert client.get("/api/v1/providers", headers=headers).status_code == 200
    demoted = client.patch(
        f"/api/v1/users/{border.dispatcher.id}", json={"role": "admin"}, headers=as_admin
    )
    assert demoted.status_code == 200, demoted.text
    db.expunge_all()  # nothing left in the session: only the cache could answer
    assert client.get("/api/v1/me", headers=headers).json()["role"] == "admin"
    deactivated = client.patch(
        f"/api/v1/users/{border.dispatcher.id}", json={"is_active": False}, headers=as_admin
    )
    assert deactivated.status_code == 200, deactivated.text
    db.expunge_all()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_a_change_flushed_by_any_session_of_the_process_forgets_the_user(
    app: FastAPI, client: TestClient, db: Session, border: Border
) -> None:
    row, token = make_api_token(db, user=border.requester)
    db.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    db.get_one(ApiToken, row.id).expires_at = row.created_at
    db.flush()
    assert len(cache_of(app)) == 0
    db.expunge_all()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_entries_end_after_the_ttl_and_the_oldest_go_first_when_full() -> None:
    now = [100.0]
    cache = TokenCache(5.0, max_entries=2, clock=lambda: now[0])
    users = [User(id=i, organisation_id=1, email=f"u{i}@x.eu", role="requester") for i in (1, 2)]
    tokens = [ApiToken(user_id=u.id, token_hash=str(u.id) * 64) for u in users]
    cache.put("a", tokens[0], users[0])
    cache.put("b", tokens[1], users[1])
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("c", tokens[1], users[1])
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    now[0] += 5.0
    assert cache.get("a") is None and cache.get("c") is None


def test_a_zero_ttl_remembers_nothing() -> None:
    cache = TokenCache(0)
    user = User(id=1, organisation_id=1, email="u@x.eu", role="requester")
    cache.put("a", ApiToken(user_id=1, token_hash="1" * 64), user)
    assert cache.get("a") is None and len(cache) == 0


def test_a_token_whose_user_is_not_known_without_a_query_forgets_everyone() -> None:
    cache = TokenCache(5.0)
    users = [User(id=i, organisation_id=1, email=f"u{i}@x.eu", role="requester") for i in (1, 2)]
    for user in users:
        cache.put(str(user.id), ApiToken(user_id=user.id, token_hash="1" * 64), user)
    cache.forget_users({2})
    assert cache.get("1") is not None and cache.get("2") is None
    cache.forget_users({ANY_USER})
    assert len(cache) == 0
