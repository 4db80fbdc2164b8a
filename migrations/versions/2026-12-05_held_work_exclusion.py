"""Accepted work is a commitment: no provider holds overlapping accepted or confirmed work.

PostgreSQL only, written by hand (autogenerate does not see exclusion
constraints): the exclusion constraint that refused two overlapping
*confirmed* assignments of one provider now refuses any two overlapping
assignments that are each accepted or confirmed. SQLite has no exclusion
constraints; there the service's guard and the single writer hold it.

Before this revision a provider could hold an accepted offer and confirmed
work at overlapping times. Such pairs would stop the new constraint, and only
a dispatcher can say which of the two stands, so the upgrade lists them and
stops; decline or cancel one of each pair, then upgrade again.

Revision ID: c11a_held_work_overlap
Revises: c19c_sign_in_throttle
Create Date: 2026-12-05

"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import Connection, text

revision: str = "c11a_held_work_overlap"
down_revision: str | Sequence[str] | None = "c19c_sign_in_throttle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONFIRMED_ONLY = "ex_assignment_provider_id_confirmed_overlap"
HELD = "ex_assignment_provider_id_held_overlap"
EXCLUDE = "EXCLUDE USING gist (provider_id WITH =, tstzrange(starts_at, ends_at) WITH &&)"


def held_overlaps(connection: Connection) -> list[tuple[int, int, int]]:
    """``(provider_id, assignment_id, assignment_id)`` of overlapping accepted or confirmed work."""
    rows = connection.execute(
        text(
            "SELECT a.provider_id, a.id, b.id FROM assignment a JOIN assignment b "
            "ON a.provider_id = b.provider_id AND a.id < b.id "
            "WHERE a.status IN ('accepted', 'confirmed') "
            "AND b.status IN ('accepted', 'confirmed') "
            "AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at "
            "ORDER BY a.provider_id, a.id, b.id"
        )
    )
    return [(int(p), int(a), int(b)) for p, a, b in rows]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    clashes = held_overlaps(bind)
    if clashes:
        listed = "; ".join(f"provider {p}: assignments {a} and {b}" for p, a, b in clashes[:50])
        raise RuntimeError(
            f"{len(clashes)} pair(s) of overlapping accepted or confirmed assignments "
            f"({listed}). Decline or cancel one of each pair, then upgrade again."
        )
    op.execute(f"ALTER TABLE assignment DROP CONSTRAINT {CONFIRMED_ONLY}")
    op.execute(
        f"ALTER TABLE assignment ADD CONSTRAINT {HELD} {EXCLUDE} "
        "WHERE (status IN ('accepted', 'confirmed'))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE assignment DROP CONSTRAINT {HELD}")
    op.execute(
        f"ALTER TABLE assignment ADD CONSTRAINT {CONFIRMED_ONLY} {EXCLUDE} "
        "WHERE (status = 'confirmed')"
    )
