"""Staffing settings of a service, and plans that repair work that fell through.

A providing service gets three settings: ``fairness_weight`` (soft points per
minute of its busiest provider's load in its plans; 0, the default, is off),
``auto_offer`` (a repair's proposals go out as offers at once, instead of
waiting on the board for a dispatcher) and ``urgent_within_hours`` (a new
request starting sooner than this is staffed by a repair at once; 48 h).
A plan gets a ``kind``: ``plan`` for a dispatcher's run, ``repair`` for the
re-staffing of sessions after a provider dropped out.

Revision ID: c17a_restaffing_fairness
Revises: c21a_provider_contact
Create Date: 2026-12-05

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c17a_restaffing_fairness"
down_revision: str | Sequence[str] | None = "c21a_provider_contact"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fairness_weight", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("auto_offer", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("urgent_within_hours", sa.Integer(), server_default="48", nullable=False)
        )
        batch_op.create_check_constraint("fairness_weight", "fairness_weight >= 0")
        batch_op.create_check_constraint("urgent_within_hours", "urgent_within_hours >= 0")
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=8), server_default="plan", nullable=False)
        )
        batch_op.create_check_constraint("kind", "kind IN ('plan', 'repair')")


def downgrade() -> None:
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.drop_constraint("kind", type_="check")
        batch_op.drop_column("kind")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_constraint("urgent_within_hours", type_="check")
        batch_op.drop_constraint("fairness_weight", type_="check")
        batch_op.drop_column("urgent_within_hours")
        batch_op.drop_column("auto_offer")
        batch_op.drop_column("fairness_weight")
