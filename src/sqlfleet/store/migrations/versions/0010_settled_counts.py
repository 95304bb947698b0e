"""An ended execution keeps its target counts, so that lists of executions count nothing.

Revision ID: 0010
Revises: 0009
Once an execution has ended and none of its targets is still live, its counts per state
never change again: they are stored on its row (JSON) and lists read them from there instead
of counting every target of every execution they show. Executions that ended before this
revision get theirs here.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# As they were at this revision: migrations do not follow later code.
TERMINAL = ("Succeeded", "SucceededWithSkipped", "Failed", "TimedOut", "Canceled", "Skipped")


def upgrade() -> None:
    op.add_column("job_execution", sa.Column("target_counts", sa.Text()))
    conn = op.get_bind()
    ended: sa.BindParameter[tuple[str, ...]] = sa.bindparam("ended", TERMINAL, expanding=True)
    counts: dict[int, dict[str, int]] = {}
    for execution, state, n in conn.execute(
        sa.text(
            "SELECT te.job_execution_id, te.lifecycle, count(*) FROM target_execution te "
            "JOIN job_execution je ON je.id = te.job_execution_id "
            "WHERE je.lifecycle IN :ended GROUP BY te.job_execution_id, te.lifecycle"
        ).bindparams(ended)
    ):
        counts.setdefault(execution, {})[state] = n
    conn.execute(
        sa.text(
            "UPDATE job_execution SET target_counts = '{}' WHERE lifecycle IN :ended"
        ).bindparams(ended)
    )
    settled, unsettled = [], []
    for execution, states in counts.items():
        if all(state in TERMINAL for state in states):
            settled.append({"id": execution, "counts": json.dumps(states, sort_keys=True)})
        else:
            unsettled.append({"id": execution})
    if settled:
        conn.execute(
            sa.text("UPDATE job_execution SET target_counts = :counts WHERE id = :id"), settled
        )
    if unsettled:
        conn.execute(
            sa.text("UPDATE job_execution SET target_counts = NULL WHERE id = :id"), unsettled
        )


def downgrade() -> None:
    raise NotImplementedError("sqlfleet's migrations are forward-only")
