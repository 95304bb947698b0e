"""A PostgreSQL job database announces every job execution created, ended or stopped.

Revision ID: 0011
Revises: 0010
A trigger sends a notification on channel `sqlfleet_job_execution` (`<id> <lifecycle>
<1 if a stop was requested, else 0>`) for each job execution inserted and each change of its
state or stop request, delivered when the change commits. Agents listening start new work
at once instead of at their next poll; `start --wait` sees the end at once. SQLite has no
such thing: there, nothing changes and polls do the work.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The channel is named in sqlfleet.store.announcements too; a migration does not follow later code.
FUNCTION = """
CREATE OR REPLACE FUNCTION sqlfleet_announce_job_execution() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'sqlfleet_job_execution',
        NEW.id::text || ' ' || NEW.lifecycle || ' '
            || CASE WHEN NEW.cancel_requested THEN '1' ELSE '0' END
    );
    RETURN NULL;
END
$$
"""
TRIGGERS = {
    "job_execution_created": """
    CREATE TRIGGER job_execution_created AFTER INSERT ON job_execution
    FOR EACH ROW EXECUTE FUNCTION sqlfleet_announce_job_execution()
    """,
    "job_execution_changed": """
    CREATE TRIGGER job_execution_changed AFTER UPDATE OF lifecycle, cancel_requested
    ON job_execution FOR EACH ROW
    WHEN (OLD.lifecycle IS DISTINCT FROM NEW.lifecycle
          OR OLD.cancel_requested IS DISTINCT FROM NEW.cancel_requested)
    EXECUTE FUNCTION sqlfleet_announce_job_execution()
    """,
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for name, trigger in TRIGGERS.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON job_execution")  # as if run before
        op.execute(trigger)


def downgrade() -> None:
    raise NotImplementedError("sqlfleet's migrations are forward-only")
