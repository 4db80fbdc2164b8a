"""Group bookings and modality ladders: more places per booking, the modality used (issue 16).

A booking may need several providers at the same time and place (a
discussion group in three languages, two interpreters who take turns):
`booking_place` holds each place beyond the booking's own (place 0), with
its language, provider kind and needs, and `booking.all_or_nothing` says
whether the group needs every place. A booking may accept lower steps of a
modality ladder (`accepted_modalities`, "or video"), and keeps the link a
video session is held on. An assignment names the place it fills and the
modality used; a booking's place, not the booking, is held by at most one
provider at a time, so the unique index of held assignments gains `place`.
Existing rows: every assignment fills place 0, every booking is
all-or-nothing with no lower step.

Revision ID: c16a_group_places
Revises: c15a_counts_idle
Create Date: 2026-12-05

"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c16a_group_places"
down_revision: str | Sequence[str] | None = "c15a_counts_idle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HELD = sa.text("status IN ('accepted', 'confirmed')")


def json_document() -> sa.types.TypeEngine[Any]:
    """JSONB on PostgreSQL, JSON elsewhere (booking.types.JSONDocument as of this revision)."""
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def upgrade() -> None:
    """The places table, the booking's and the assignment's new columns, the wider index."""
    op.create_table(
        "booking_place",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("language_code", sa.String(length=3), nullable=False),
        sa.Column("provider_kind", sa.String(length=16), nullable=False),
        sa.Column("required_gender", sa.String(length=1), nullable=True),
        sa.Column("requires_certified", sa.Boolean(), nullable=False),
        sa.Column("required_skills", json_document(), nullable=False),
        sa.CheckConstraint(
            "provider_kind IN ('interpreter', 'ambassador', 'mediator', 'any')",
            name=op.f("ck_booking_place_provider_kind"),
        ),
        sa.CheckConstraint(
            "required_gender IS NULL OR required_gender IN ('f', 'm', 'x')",
            name=op.f("ck_booking_place_required_gender"),
        ),
        sa.CheckConstraint("position BETWEEN 1 AND 5", name=op.f("ck_booking_place_position")),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["booking.id"],
            name=op.f("fk_booking_place_booking_id_booking"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["language_code"],
            ["language.code"],
            name=op.f("fk_booking_place_language_code_language"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_place")),
        sa.UniqueConstraint(
            "booking_id", "position", name=op.f("uq_booking_place_booking_id_position")
        ),
    )
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("all_or_nothing", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "accepted_modalities",
                json_document(),
                server_default=sa.text("'[]'"),
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("video_link", sa.String(length=500), nullable=True))
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("place", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("modality", sa.String(length=8), nullable=True))
        batch_op.drop_index("uq_assignment_booking_id_active")
        batch_op.create_index(
            "uq_assignment_booking_id_active",
            ["booking_id", "place"],
            unique=True,
            postgresql_where=HELD,
            sqlite_where=HELD,
        )


def downgrade() -> None:
    """Back to one provider per booking: extra places and their assignments are dropped."""
    op.execute("DELETE FROM assignment WHERE place <> 0")
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_index("uq_assignment_booking_id_active")
        batch_op.create_index(
            "uq_assignment_booking_id_active",
            ["booking_id"],
            unique=True,
            postgresql_where=HELD,
            sqlite_where=HELD,
        )
        batch_op.drop_column("modality")
        batch_op.drop_column("place")
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_column("video_link")
        batch_op.drop_column("accepted_modalities")
        batch_op.drop_column("all_or_nothing")
    op.drop_table("booking_place")
