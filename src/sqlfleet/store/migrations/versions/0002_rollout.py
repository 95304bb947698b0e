"""Safe rollouts: a step's rollout policy and retry class; waves; trials and re-runs.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("job_step", sa.Column("canary", sa.Integer(), nullable=True))
    op.add_column("job_step", sa.Column("wave_size", sa.String(length=16), nullable=True))
    op.add_column(
        "job_step",
        sa.Column("wave_pause_seconds", sa.Float(), nullable=False, server_default="0"),
    )
    op.add_column("job_step", sa.Column("max_failures", sa.String(length=16), nullable=True))
    op.add_column(
        "job_step",
        sa.Column("retry_on", sa.String(length=16), nullable=False, server_default="all"),
    )
    op.add_column("step_execution", sa.Column("open_wave", sa.Integer(), nullable=True))
    op.add_column("target_execution", sa.Column("wave", sa.Integer(), nullable=True))
    op.add_column(
        "job_execution",
        sa.Column("trial", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("job_execution", sa.Column("rerun_of", sa.Integer(), nullable=True))
    op.add_column("job_execution", sa.Column("rerun_states", sa.String(length=128), nullable=True))
