"""Web sessions can be ended: ``user.session_generation``.

The session cookie used to name the user only, so a copy of it kept working
after signing out or a password change until it expired (12 hours). Each
cookie now carries the user's session generation; raising it ends every
session of that user. Cookies signed before this revision carry none and are
refused: everyone signs in once more.

Revision ID: c19b_session_generation
Revises: c19a_plan_service_scope
Create Date: 2026-12-05

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c19b_session_generation"
down_revision: str | Sequence[str] | None = "c19a_plan_service_scope"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the counter, 0 for everyone."""
    with op.batch_alter_table("user") as batch:
        batch.add_column(
            sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    """Drop the counter (sessions then name the user only, as before)."""
    with op.batch_alter_table("user") as batch:
        batch.drop_column("session_generation")
