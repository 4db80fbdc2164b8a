"""Why a plan failed, as a code the board and the API tell in the reader's language (issue 13).

`plan.error` keeps the technical text; `plan.error_code` says which case of
booking/plans/failures.py it was. Plans that failed before have no code and
show their text as it is.

Revision ID: c13b_plan_error_code
Revises: c16a_group_places
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c13b_plan_error_code"
down_revision: str | Sequence[str] | None = "c16a_group_places"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plan") as batch:
        batch.add_column(sa.Column("error_code", sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan") as batch:
        batch.drop_column("error_code")
