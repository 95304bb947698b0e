"""Results: each target's first result set kept in the job database, up to a step's cap.

Revision ID: 0004
Revises: 0003
A step's `result_rows` (how many rows of each target's first result set are kept; existing
steps keep the default) and the `target_result` table that keeps them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DEFAULT_RESULT_ROWS = "1000"  # limits.DEFAULT_RESULT_ROWS when this migration was written


def upgrade() -> None:
    # A plain ADD COLUMN on both engines: SQLite takes it with a default, and the views that
    # read job_step stay as they are.
    op.add_column(
        "job_step",
        sa.Column("result_rows", sa.Integer(), nullable=False, server_default=DEFAULT_RESULT_ROWS),
    )
    op.create_table(
        "target_result",
        sa.Column("target_execution_id", sa.Integer(), nullable=False),
        sa.Column("job_execution_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("attempt_number", sa.Integer(), nullable=False),
        sa.Column("column_names", sa.Text(), nullable=False),
        sa.Column("returned_rows", sa.Integer(), nullable=False),
        sa.Column("kept_rows", sa.Integer(), nullable=False),
        sa.Column("row_values", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_execution_id"],
            ["job_execution.id"],
            name=op.f("fk_target_result_job_execution_id_job_execution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_execution_id"],
            ["target_execution.id"],
            name=op.f("fk_target_result_target_execution_id_target_execution"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("target_execution_id", name=op.f("pk_target_result")),
    )
    op.create_index(
        op.f("ix_target_result_job_execution_id_step_id_target_execution_id"),
        "target_result",
        ["job_execution_id", "step_id", "target_execution_id"],
        unique=False,
    )


def downgrade() -> None:
    raise NotImplementedError("sqlfleet's migrations are forward-only")
