"""Service settings, read from the environment with the ``TRUCHEMENT_`` prefix."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev-insecure-secret"})
MIN_SECRET_BYTES = 32
"""The shortest secret accepted outside development (``openssl rand -hex 32`` gives 64)."""


def weak_secret(secret: str) -> bool:
    """A placeholder, or too short to resist guessing: forged sessions would sign in."""
    return secret in PLACEHOLDER_SECRETS or len(secret.encode("utf-8")) < MIN_SECRET_BYTES


class Settings(BaseSettings):
    """Everything the service reads from its environment; see docs/operations.md."""

    model_config = SettingsConfigDict(env_prefix="TRUCHEMENT_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./truchement.sqlite3"
    timezone: str = "Europe/Brussels"
    secret_key: str = "dev-insecure-secret"
    base_url: str = "http://127.0.0.1:8000"
    reminder_offsets_hours: list[int] = Field(default_factory=lambda: [24, 2])
    late_cancellation_hour: int = Field(default=10, ge=0, le=23)
    decline_lock_hours: int = Field(default=24, ge=0)
    offer_timeout_minutes: int = Field(default=120, ge=1)
    max_booking_ahead_days: int = Field(default=730, ge=1, le=3650)
    # The service's working hours, local time, on working days: offers count only these.
    working_hours_start: dt.time = dt.time(8, 0)
    working_hours_end: dt.time = dt.time(19, 0)
    plan_time_limit_seconds: float = Field(default=20.0, gt=0, le=600)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    write_rate_per_minute: int = Field(default=120, ge=1)
    session_max_age_seconds: int = Field(default=12 * 3600, ge=60)
    sign_in_account_attempts: int = Field(default=5, ge=1)
    sign_in_address_attempts: int = Field(default=20, ge=1)
    sign_in_max_pause_seconds: int = Field(default=15 * 60, ge=1)
    # Plans are jobs (booking/plans/jobs.py, `truchement solver`): a solver holds a plan
    # under a lease its heartbeat renews; a plan taken this many times without an end fails.
    plan_lease_seconds: float = Field(default=60.0, ge=1)
    plan_heartbeat_seconds: float = Field(default=5.0, gt=0)
    plan_max_attempts: int = Field(default=3, ge=1)
    solver_poll_seconds: float = Field(default=2.0, gt=0)
    solver_threads: int | None = Field(default=None, ge=1)
    # `serve` runs one solver thread itself: by default on SQLite only (the quick
    # start), never on PostgreSQL, where `truchement solver` processes do the solving.
    embedded_solver: bool | None = None
    # Load shedding (api/middleware.py): requests in progress per process beyond this
    # are answered 503 with Retry-After at once; the pool should hold as many connections.
    max_concurrent_requests: int = Field(default=8, ge=1)
    # ... and while its event loop is this late (a request arriving now waits that long
    # before it is looked at), a process refuses new requests the same way; 0 turns it off.
    shed_lag_ms: float = Field(default=100.0, ge=0)
    db_pool_size: int = Field(default=16, ge=1)
    db_max_overflow: int = Field(default=16, ge=0)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    # A ping before each checkout is a round trip per request (a fifth of a read's);
    # without it, a connection lost since its last use fails one request with a 503.
    db_pool_pre_ping: bool = False
    ready_timeout_seconds: float = Field(default=2.0, gt=0)
    # How long a process remembers an API token that worked (booking/users/token_cache.py):
    # a revocation made by another process is seen at most this late; 0 turns it off.
    auth_cache_seconds: float = Field(default=5.0, ge=0, le=60)

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        """A guessable secret would let anyone forge session cookies and CSRF tokens."""
        if self.environment != "development" and weak_secret(self.secret_key):
            raise ValueError(
                "TRUCHEMENT_SECRET_KEY must be set to a real secret of at least "
                f"{MIN_SECRET_BYTES} bytes outside development (`openssl rand -hex 32`)"
            )
        return self

    @model_validator(mode="after")
    def _working_day_has_hours(self) -> Settings:
        if not self.working_hours_start < self.working_hours_end:
            raise ValueError(
                "TRUCHEMENT_WORKING_HOURS_START must come before TRUCHEMENT_WORKING_HOURS_END"
            )
        return self

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> Settings:
        """A lease that runs out between two heartbeats would let two solvers hold a plan."""
        if not self.plan_heartbeat_seconds * 2 <= self.plan_lease_seconds:
            raise ValueError(
                "TRUCHEMENT_PLAN_HEARTBEAT_SECONDS must be at most half of "
                "TRUCHEMENT_PLAN_LEASE_SECONDS"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def runs_embedded_solver(self) -> bool:
        """Whether the web process solves plans itself (the SQLite quick start)."""
        return self.is_sqlite if self.embedded_solver is None else self.embedded_solver

    @property
    def pool_options(self) -> dict[str, float | int | bool]:
        """The web engine's pool (PostgreSQL): size, overflow and how long to wait for one."""
        if self.is_sqlite:
            return {}
        return {
            "pool_size": self.db_pool_size,
            "max_overflow": self.db_max_overflow,
            "pool_timeout": self.db_pool_timeout_seconds,
            "pool_pre_ping": self.db_pool_pre_ping,
        }


@lru_cache
def get_settings() -> Settings:
    return Settings()
