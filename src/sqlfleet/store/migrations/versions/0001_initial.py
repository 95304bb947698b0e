"""Initial schema.

Revision ID: 0001
Revises: -
The tables, and the read-only views with Elastic Jobs column names.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


TERMINAL = "('Succeeded', 'SucceededWithSkipped', 'Failed', 'TimedOut', 'Canceled', 'Skipped')"

VIEWS = [
    f"""
    CREATE VIEW job_executions AS
    SELECT je.id AS job_execution_id, j.name AS job_name, je.job_id, je.job_version,
           CAST(NULL AS INTEGER) AS step_id, CAST(NULL AS VARCHAR(128)) AS step_name,
           je.lifecycle NOT IN {TERMINAL} AS is_active,
           je.lifecycle, je.create_time, je.start_time, je.end_time,
           CAST(NULL AS INTEGER) AS current_attempts,
           CAST(NULL AS TIMESTAMP WITH TIME ZONE) AS current_attempt_start_time,
           CAST(NULL AS TIMESTAMP WITH TIME ZONE) AS next_attempt_start_time,
           je.last_message, CAST(NULL AS VARCHAR(16)) AS target_type,
           CAST(NULL AS VARCHAR(128)) AS target_group_name,
           CAST(NULL AS VARCHAR(1024)) AS target_server_name,
           CAST(NULL AS VARCHAR(128)) AS target_database_name,
           CAST(NULL AS VARCHAR(128)) AS target_schema_name
      FROM job_execution je JOIN job j ON j.id = je.job_id
    UNION ALL
    SELECT je.id, j.name, je.job_id, je.job_version,
           se.step_id, se.step_name, se.lifecycle NOT IN {TERMINAL},
           se.lifecycle, se.create_time, se.start_time, se.end_time,
           NULL, NULL, NULL, se.last_message, 'target_group',
           se.target_group_name, NULL, NULL, NULL
      FROM step_execution se
      JOIN job_execution je ON je.id = se.job_execution_id
      JOIN job j ON j.id = je.job_id
    UNION ALL
    SELECT je.id, j.name, je.job_id, je.job_version,
           te.step_id, se.step_name, te.lifecycle NOT IN {TERMINAL},
           te.lifecycle, te.create_time, te.start_time, te.end_time,
           te.current_attempts, te.current_attempt_start_time, te.next_attempt_start_time,
           te.last_message, te.target_type, se.target_group_name,
           te.target_server_name, te.target_database_name, te.target_schema_name
      FROM target_execution te
      JOIN step_execution se ON se.id = te.step_execution_id
      JOIN job_execution je ON je.id = te.job_execution_id
      JOIN job j ON j.id = je.job_id
    """,
    """
    CREATE VIEW jobs AS
    SELECT name AS job_name, id AS job_id, current_version AS job_version, description,
           enabled, schedule_kind AS schedule_interval_type,
           schedule_interval_count, schedule_interval_unit, schedule_cron,
           schedule_timezone, schedule_start_time, schedule_end_time
      FROM job
    """,
    """
    CREATE VIEW jobstep_versions AS
    SELECT j.name AS job_name, s.job_id, s.job_version, s.step_id, s.step_name,
           s.command_text AS command, c.name AS credential_name,
           g.name AS target_group_name,
           s.initial_retry_interval_seconds, s.maximum_retry_interval_seconds,
           s.retry_interval_backoff_multiplier, s.retry_attempts, s.step_timeout_seconds,
           s.connect_timeout_seconds, s.max_parallelism, s.continue_on_failure,
           oc.name AS output_credential_name, s.output_server_url AS output_server_name,
           s.output_database AS output_database_name, s.output_schema AS output_schema_name,
           s.output_table AS output_table_name
      FROM job_step s
      JOIN job j ON j.id = s.job_id
      JOIN credential c ON c.id = s.credential_id
      JOIN target_group g ON g.id = s.target_group_id
      LEFT JOIN credential oc ON oc.id = s.output_credential_id
    """,
    """
    CREATE VIEW jobsteps AS
    SELECT v.* FROM jobstep_versions v JOIN job j ON j.id = v.job_id
     WHERE v.job_version = j.current_version
    """,
    """
    CREATE VIEW target_groups AS
    SELECT name AS target_group_name, id AS target_group_id FROM target_group
    """,
    """
    CREATE VIEW target_group_members AS
    SELECT g.name AS target_group_name, g.id AS target_group_id,
           m.membership AS membership_type, m.kind AS target_type, m.id AS target_id,
           c.name AS refresh_credential_name, m.server_url AS server_name,
           m.database_name, m.database_pattern, m.schema_pattern, m.shard_map_query
      FROM target_group_member m
      JOIN target_group g ON g.id = m.target_group_id
      LEFT JOIN credential c ON c.id = m.refresh_credential_id
    """,
]


def upgrade() -> None:
    op.create_table(
        "agent",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("running", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopping", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_agent")),
    )
    op.create_table(
        "credential",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("secret_token", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential")),
        sa.UniqueConstraint("name", name=op.f("uq_credential_name")),
    )
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("schedule_kind", sa.String(length=16), nullable=True),
        sa.Column("schedule_interval_count", sa.Integer(), nullable=True),
        sa.Column("schedule_interval_unit", sa.String(length=16), nullable=True),
        sa.Column("schedule_cron", sa.String(length=128), nullable=True),
        sa.Column("schedule_timezone", sa.String(length=64), nullable=True),
        sa.Column("schedule_start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("schedule_end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_fire_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
        sa.UniqueConstraint("name", name=op.f("uq_job_name")),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_meta")),
    )
    op.create_table(
        "target_group",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target_group")),
        sa.UniqueConstraint("name", name=op.f("uq_target_group_name")),
    )
    op.create_table(
        "job_execution",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("job_version", sa.Integer(), nullable=False),
        sa.Column("lifecycle", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("scheduled_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_job_execution_job_id_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_execution")),
        sa.UniqueConstraint(
            "job_id", "scheduled_time", name=op.f("uq_job_execution_job_id_scheduled_time")
        ),
    )
    op.create_index(
        op.f("ix_job_execution_create_time"), "job_execution", ["create_time"], unique=False
    )
    op.create_index(
        op.f("ix_job_execution_lifecycle"), "job_execution", ["lifecycle"], unique=False
    )
    op.create_table(
        "job_version",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_job_version_job_id_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "version", name=op.f("pk_job_version")),
    )
    op.create_table(
        "target_group_member",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("target_group_id", sa.Integer(), nullable=False),
        sa.Column("membership", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("server_url", sa.String(length=1024), nullable=False),
        sa.Column("database_name", sa.String(length=128), nullable=True),
        sa.Column("database_pattern", sa.String(length=128), nullable=True),
        sa.Column("schema_pattern", sa.String(length=128), nullable=True),
        sa.Column("shard_map_query", sa.Text(), nullable=True),
        sa.Column("refresh_credential_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["refresh_credential_id"],
            ["credential.id"],
            name=op.f("fk_target_group_member_refresh_credential_id_credential"),
        ),
        sa.ForeignKeyConstraint(
            ["target_group_id"],
            ["target_group.id"],
            name=op.f("fk_target_group_member_target_group_id_target_group"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target_group_member")),
    )
    op.create_index(
        op.f("ix_target_group_member_target_group_id"),
        "target_group_member",
        ["target_group_id"],
        unique=False,
    )
    op.create_table(
        "job_step",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("job_version", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("step_name", sa.String(length=128), nullable=False),
        sa.Column("command_text", sa.Text(), nullable=False),
        sa.Column("target_group_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.Integer(), nullable=False),
        sa.Column("retry_attempts", sa.Integer(), nullable=False),
        sa.Column("initial_retry_interval_seconds", sa.Float(), nullable=False),
        sa.Column("maximum_retry_interval_seconds", sa.Float(), nullable=False),
        sa.Column("retry_interval_backoff_multiplier", sa.Float(), nullable=False),
        sa.Column("step_timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("connect_timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("max_parallelism", sa.Integer(), nullable=True),
        sa.Column("continue_on_failure", sa.Boolean(), nullable=False),
        sa.Column("output_server_url", sa.String(length=1024), nullable=True),
        sa.Column("output_database", sa.String(length=128), nullable=True),
        sa.Column("output_schema", sa.String(length=128), nullable=True),
        sa.Column("output_table", sa.String(length=128), nullable=True),
        sa.Column("output_credential_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["credential_id"], ["credential.id"], name=op.f("fk_job_step_credential_id_credential")
        ),
        sa.ForeignKeyConstraint(
            ["job_id", "job_version"],
            ["job_version.job_id", "job_version.version"],
            name=op.f("fk_job_step_job_id_job_version_job_version"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["output_credential_id"],
            ["credential.id"],
            name=op.f("fk_job_step_output_credential_id_credential"),
        ),
        sa.ForeignKeyConstraint(
            ["target_group_id"],
            ["target_group.id"],
            name=op.f("fk_job_step_target_group_id_target_group"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_step")),
        sa.UniqueConstraint(
            "job_id", "job_version", "step_id", name=op.f("uq_job_step_job_id_job_version_step_id")
        ),
        sa.UniqueConstraint(
            "job_id",
            "job_version",
            "step_name",
            name=op.f("uq_job_step_job_id_job_version_step_name"),
        ),
    )
    op.create_table(
        "step_execution",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_execution_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("step_name", sa.String(length=128), nullable=False),
        sa.Column("target_group_name", sa.String(length=128), nullable=False),
        sa.Column("lifecycle", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_message", sa.Text(), nullable=True),
        sa.Column("agent_name", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_execution_id"],
            ["job_execution.id"],
            name=op.f("fk_step_execution_job_execution_id_job_execution"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_execution")),
        sa.UniqueConstraint(
            "job_execution_id", "step_id", name=op.f("uq_step_execution_job_execution_id_step_id")
        ),
    )
    op.create_table(
        "target_execution",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_execution_id", sa.Integer(), nullable=False),
        sa.Column("step_execution_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_server_name", sa.String(length=1024), nullable=False),
        sa.Column("target_database_name", sa.String(length=128), nullable=False),
        sa.Column("target_schema_name", sa.String(length=128), nullable=True),
        sa.Column("lifecycle", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_attempts", sa.Integer(), nullable=False),
        sa.Column("current_attempt_start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_message", sa.Text(), nullable=True),
        sa.Column("agent_name", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_execution_id"],
            ["job_execution.id"],
            name=op.f("fk_target_execution_job_execution_id_job_execution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_execution_id"],
            ["step_execution.id"],
            name=op.f("fk_target_execution_step_execution_id_step_execution"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target_execution")),
    )
    op.create_index(
        op.f("ix_target_execution_job_id_step_id_target_database_name_lifecycle"),
        "target_execution",
        ["job_id", "step_id", "target_database_name", "lifecycle"],
        unique=False,
    )
    op.create_index(
        op.f("ix_target_execution_lifecycle_next_attempt_start_time"),
        "target_execution",
        ["lifecycle", "next_attempt_start_time"],
        unique=False,
    )
    op.create_index(
        op.f("ix_target_execution_step_execution_id_lifecycle"),
        "target_execution",
        ["step_execution_id", "lifecycle"],
        unique=False,
    )
    op.create_table(
        "attempt",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("target_execution_id", sa.Integer(), nullable=False),
        sa.Column("attempt_number", sa.Integer(), nullable=False),
        sa.Column("agent_name", sa.String(length=128), nullable=True),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifecycle", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=True),
        sa.Column("server_messages", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["target_execution_id"],
            ["target_execution.id"],
            name=op.f("fk_attempt_target_execution_id_target_execution"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempt")),
    )
    op.create_index(
        op.f("ix_attempt_target_execution_id"), "attempt", ["target_execution_id"], unique=False
    )
    for view in VIEWS:
        op.execute(view)


def downgrade() -> None:
    raise NotImplementedError("sqlfleet's migrations are forward-only")
