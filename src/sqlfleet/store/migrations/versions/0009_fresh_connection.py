"""Steps that open a new connection for each target.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, as in 0003: SQLite's views on job_step would stop a batch migration.
    op.add_column(
        "job_step",
        sa.Column("fresh_connection", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
