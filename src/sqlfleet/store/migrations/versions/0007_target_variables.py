"""Per-target variables: a database member's fixed values, a target execution's values.

Revision ID: 0007
Revises: 0006
A target group member may carry variables (`--var plan=gold`), and every target execution
keeps the variables its target was resolved with, so that its attempts, its retries and a
resumed run on another agent all use the same values. Both are JSON objects in text columns;
NULL means none, which is what every row made before this revision has.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("target_group_member", sa.Column("variables", sa.Text(), nullable=True))
    op.add_column("target_execution", sa.Column("target_variables", sa.Text(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("sqlfleet's migrations are forward-only")
