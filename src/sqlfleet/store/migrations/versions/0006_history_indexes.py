"""What agents ask on every poll is found by index, however long the history.

Revision ID: 0006
Revises: 0005
Claiming a step to resolve, renewing leases and capping parallelism look for the step
executions in a few live states: an index on their state serves them, where each poll read
every step execution ever recorded before.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_step_execution_lifecycle"), "step_execution", ["lifecycle"], unique=False
    )


def downgrade() -> None:
    raise NotImplementedError("sqlfleet's migrations are forward-only")
