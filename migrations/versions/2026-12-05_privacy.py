"""Privacy: each organisation's retention period, and the read log.

``retention_policy`` holds an organisation's own period after which past
sessions lose their beneficiary reference and free text (no row: 12 months).
``read_log`` records who read a booking, a provider's personal data or a
calendar feed; it has no foreign keys (it outlives what it names) and, on
PostgreSQL, a trigger refuses any ``UPDATE`` of it: rows are appended, and
only the retention job deletes them after 12 months.

Revision ID: c18a_privacy
Revises: c17a_restaffing_fairness
Create Date: 2026-12-05 22:04:17.340257+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c18a_privacy"
down_revision: str | Sequence[str] | None = "c17a_restaffing_fairness"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


REFUSE_UPDATE_FUNCTION = """
CREATE OR REPLACE FUNCTION read_log_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'read_log is append-only: rows are never updated'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""
REFUSE_UPDATE_TRIGGER = """
CREATE TRIGGER read_log_append_only BEFORE UPDATE ON read_log
FOR EACH ROW EXECUTE FUNCTION read_log_refuse_update()
"""


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "read_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reader_user_id", sa.Integer(), nullable=True),
        sa.Column("reader_provider_id", sa.Integer(), nullable=True),
        sa.Column("reader_organisation_id", sa.Integer(), nullable=True),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("subject_organisation_id", sa.Integer(), nullable=True),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.CheckConstraint(
            "subject_type IN ('booking', 'provider', 'calendar_feed')",
            name=op.f("ck_read_log_subject_type"),
        ),
        sa.CheckConstraint("via IN ('api', 'web', 'feed')", name=op.f("ck_read_log_via")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_read_log")),
    )
    with op.batch_alter_table("read_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_read_log_at"), ["at"], unique=False)
        batch_op.create_index(
            "ix_read_log_reader_organisation_id_at", ["reader_organisation_id", "at"], unique=False
        )
        batch_op.create_index("ix_read_log_subject", ["subject_type", "subject_id"], unique=False)
        batch_op.create_index(
            "ix_read_log_subject_organisation_id_at",
            ["subject_organisation_id", "at"],
            unique=False,
        )

    op.create_table(
        "retention_policy",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("months BETWEEN 1 AND 120", name=op.f("ck_retention_policy_months")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_retention_policy_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_retention_policy")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REFUSE_UPDATE_FUNCTION)
        op.execute(REFUSE_UPDATE_TRIGGER)


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS read_log_append_only ON read_log")
        op.execute("DROP FUNCTION IF EXISTS read_log_refuse_update()")
    op.drop_table("retention_policy")
    with op.batch_alter_table("read_log", schema=None) as batch_op:
        batch_op.drop_index("ix_read_log_subject_organisation_id_at")
        batch_op.drop_index("ix_read_log_subject")
        batch_op.drop_index("ix_read_log_reader_organisation_id_at")
        batch_op.drop_index(batch_op.f("ix_read_log_at"))

    op.drop_table("read_log")
