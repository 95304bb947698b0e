"""Target lists that page, filter and follow changes on executions of many targets.

Revision ID: 0005
Revises: 0004
Every target execution row carries when it last changed, so a live page asks only for the
rows changed since its last look; indexes serve one execution's targets by state and by change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "target_execution", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "UPDATE target_execution SET updated_at = COALESCE(end_time, start_time, create_time)"
    )
    op.create_index(
        op.f("ix_target_execution_job_execution_id_lifecycle"),
        "target_execution",
        ["job_execution_id", "lifecycle"],
        unique=False,
    )
    op.create_index(
        op.f("ix_target_execution_job_execution_id_updated_at"),
        "target_execution",
        ["job_execution_id", "updated_at"],
        unique=False,
    )


def downgrade() -> None:
    raise NotImplementedError("sqlfleet's migrations are forward-only")
