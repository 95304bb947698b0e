"""Where a failed attempt failed in its script; steps that may switch database.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: both engines do it in place, and SQLite's views on these tables
    # would stop a batch migration that copies them.
    op.add_column("attempt", sa.Column("error_batch", sa.Integer()))
    op.add_column("attempt", sa.Column("error_line", sa.Integer()))
    op.add_column("attempt", sa.Column("error_column", sa.Integer()))
    op.add_column("attempt", sa.Column("error_statement", sa.Text()))
    op.add_column(
        "job_step",
        sa.Column("allow_database_switch", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
