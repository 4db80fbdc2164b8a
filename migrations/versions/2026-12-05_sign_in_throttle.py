"""Failed sign-ins are counted in the database: ``sign_in_throttle``.

One row per account (the email typed) and per client address, with the
number of failures in a row, the last one, and until when signing in is
paused. In the database rather than in a process's memory, so the backoff
holds whichever worker serves the next attempt.

Revision ID: c19c_sign_in_throttle
Revises: c19b_session_generation
Create Date: 2026-12-05

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c19c_sign_in_throttle"
down_revision: str | Sequence[str] | None = "c19b_session_generation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table."""
    op.create_table(
        "sign_in_throttle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "scope IN ('account', 'address')", name=op.f("ck_sign_in_throttle_scope")
        ),
        sa.CheckConstraint("failures >= 0", name=op.f("ck_sign_in_throttle_failures")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_throttle")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_sign_in_throttle_scope_key")),
    )
    op.create_index(
        op.f("ix_sign_in_throttle_last_failure_at"), "sign_in_throttle", ["last_failure_at"]
    )


def downgrade() -> None:
    """Drop the table (the counts are only a brake; nothing else depends on them)."""
    op.drop_table("sign_in_throttle")
