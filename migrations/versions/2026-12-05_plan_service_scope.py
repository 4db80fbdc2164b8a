"""Plans belong to one providing service: ``plan.providing_org_id``.

Until now a plan was read by the colleagues of whoever made it, and an
admin's plan covered every service at once; a dispatcher could then read
and apply another service's proposals. Each plan now names the service it
staffs. Existing plans get it from their parameters (a dispatcher's plan
recorded its service there); an admin's plan over every service keeps NULL
and is shown to admins only.

Revision ID: c19a_plan_service_scope
Revises: 3b6df0f7a6a9
Create Date: 2026-12-05

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c19a_plan_service_scope"
down_revision: str | Sequence[str] | None = "3b6df0f7a6a9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column, its index and foreign key, and fill it for dispatchers' plans."""
    with op.batch_alter_table("plan") as batch:
        batch.add_column(sa.Column("providing_org_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_plan_providing_org_id"), ["providing_org_id"])
        batch.create_foreign_key(
            batch.f("fk_plan_providing_org_id_organisation"),
            "organisation",
            ["providing_org_id"],
            ["id"],
            ondelete="RESTRICT",
        )
    plan = sa.table(
        "plan",
        sa.column("id", sa.Integer()),
        sa.column("providing_org_id", sa.Integer()),
        sa.column("parameters", sa.JSON()),
    )
    organisation = sa.table("organisation", sa.column("id", sa.Integer()))
    bind = op.get_bind()
    known = set(bind.execute(sa.select(organisation.c.id)).scalars())
    for plan_id, parameters in bind.execute(sa.select(plan.c.id, plan.c.parameters)).all():
        service = (parameters or {}).get("providing_org_id")
        if isinstance(service, int) and service in known:
            bind.execute(plan.update().where(plan.c.id == plan_id).values(providing_org_id=service))


def downgrade() -> None:
    """Drop the column (the parameters still say which service a dispatcher planned for)."""
    with op.batch_alter_table("plan") as batch:
        batch.drop_constraint(batch.f("fk_plan_providing_org_id_organisation"), type_="foreignkey")
        batch.drop_index(batch.f("ix_plan_providing_org_id"))
        batch.drop_column("providing_org_id")
