"""A providing service says whether its providers count idle time (salaried) or not.

Salaried interpreters are paid from leaving home to coming back, so the
matcher counts their waiting between sessions as cost (`counts_idle` in
docs/problem.md); freelancers are paid per session. Existing services keep
today's plans: false.

Revision ID: c15a_counts_idle
Revises: c14a_plan_jobs
Create Date: 2026-12-05

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c15a_counts_idle"
down_revision: str | Sequence[str] | None = "c14a_plan_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisation") as batch_op:
        batch_op.add_column(
            sa.Column("counts_idle", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("organisation") as batch_op:
        batch_op.drop_column("counts_idle")
