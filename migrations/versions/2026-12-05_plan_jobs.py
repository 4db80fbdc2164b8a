"""Plans are jobs: a solver process claims a pending plan under a lease.

``claimed_by`` and ``lease_until`` say which solver holds a plan and until
when (its heartbeat renews the lease; an expired lease lets another solver
take the plan again); ``attempts`` counts the takes (after the setting's
number the plan fails with the reason); ``progress`` holds what the solve has
reached (best levels, bound, elapsed); ``stop_requested`` is a dispatcher's
request to stop and keep the best plan found; ``after_plan_id`` orders the
plans of an admin's every-service run. The index serves the solvers' queue.

Revision ID: c14a_plan_jobs
Revises: c18a_privacy
Create Date: 2026-12-05

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c14a_plan_jobs"
down_revision: str | Sequence[str] | None = "c18a_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    """JSONB on PostgreSQL, JSON elsewhere (booking.types.JSONDocument as of this revision)."""
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def upgrade() -> None:
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("progress", _json(), nullable=True))
        batch_op.add_column(
            sa.Column("stop_requested", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("after_plan_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_plan_status_created_at", ["status", "created_at"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_plan_after_plan_id_plan"),
            "plan",
            ["after_plan_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_plan_after_plan_id_plan"), type_="foreignkey")
        batch_op.drop_index("ix_plan_status_created_at")
        batch_op.drop_column("after_plan_id")
        batch_op.drop_column("stop_requested")
        batch_op.drop_column("progress")
        batch_op.drop_column("attempts")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("claimed_by")
