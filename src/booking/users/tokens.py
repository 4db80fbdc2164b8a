"""Opaque secrets (API tokens, calendar feed tokens): generated here, stored hashed."""

from __future__ import annotations

import hashlib
import secrets


def hash_token(token: str) -> str:
    """SHA-256 hex of an opaque token: what ``api_token.token_hash`` stores and looks up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(prefix: str = "tru") -> tuple[str, str]:
    """A fresh token and its hash; show the token once, store only the hash."""
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    return token, hash_token(token)
