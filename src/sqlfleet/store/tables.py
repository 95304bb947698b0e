"""The job database's tables: one definition for SQLite and PostgreSQL.

Table names are singular; the plural names (`jobs`, `jobsteps`, `job_executions`, ...) are the
read-only views with Elastic Jobs column names, made by the migrations, for monitoring in SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    false,
)
from sqlalchemy.sql import ColumnElement
from sqlalchemy.types import TypeDecorator

from sqlfleet import limits

# Column sizes are the limits every door checks, so nothing checked can be too long to store.
NAME = limits.MAX_NAME
URL = limits.MAX_URL
STATE = 32

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both engines (SQLite keeps no time zone, so we add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the job database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True, autoincrement=True)


meta = Table(
    "meta",
    metadata,
    Column("key", String(NAME), primary_key=True),
    Column("value", Text, nullable=False),
)

credential = Table(
    "credential",
    metadata,
    _id(),
    Column("name", String(NAME), nullable=False, unique=True),
    Column("username", String(NAME), nullable=False),
    Column("secret_token", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

target_group = Table(
    "target_group",
    metadata,
    _id(),
    Column("name", String(NAME), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
)

target_group_member = Table(
    "target_group_member",
    metadata,
    _id(),
    Column(
        "target_group_id",
        Integer,
        ForeignKey("target_group.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("membership", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("server_url", String(URL), nullable=False),
    Column("database_name", String(NAME)),
    Column("database_pattern", String(NAME)),
    Column("schema_pattern", String(NAME)),
    Column("shard_map_query", Text),
    Column("refresh_credential_id", Integer, ForeignKey("credential.id")),
    Column("created_at", UtcDateTime, nullable=False),
    # A database member's fixed variables: a JSON object of name to text; NULL for none.
    Column("variables", Text),
)

job = Table(
    "job",
    metadata,
    _id(),
    Column("name", String(NAME), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("enabled", Boolean, nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("schedule_kind", String(16)),
    Column("schedule_interval_count", Integer),
    Column("schedule_interval_unit", String(16)),
    Column("schedule_cron", String(NAME)),
    Column("schedule_timezone", String(limits.MAX_TIMEZONE)),
    Column("schedule_start_time", UtcDateTime),
    Column("schedule_end_time", UtcDateTime),
    Column("last_fire_time", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

job_version = Table(
    "job_version",
    metadata,
    Column("job_id", Integer, ForeignKey("job.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
)

job_step = Table(
    "job_step",
    metadata,
    _id(),
    Column("job_id", Integer, nullable=False),
    Column("job_version", Integer, nullable=False),
    Column("step_id", Integer, nullable=False),
    Column("step_name", String(NAME), nullable=False),
    Column("command_text", Text, nullable=False),
    Column("target_group_id", Integer, ForeignKey("target_group.id"), nullable=False),
    Column("credential_id", Integer, ForeignKey("credential.id"), nullable=False),
    Column("retry_attempts", Integer, nullable=False),
    Column("initial_retry_interval_seconds", Float, nullable=False),
    Column("maximum_retry_interval_seconds", Float, nullable=False),
    Column("retry_interval_backoff_multiplier", Float, nullable=False),
    Column("step_timeout_seconds", Integer, nullable=False),
    Column("connect_timeout_seconds", Integer, nullable=False),
    Column("max_parallelism", Integer),
    Column("continue_on_failure", Boolean, nullable=False),
    Column(
        "result_rows",
        Integer,
        nullable=False,
        server_default=str(limits.DEFAULT_RESULT_ROWS),
    ),
    Column("allow_database_switch", Boolean, nullable=False, server_default=false()),
    Column("fresh_connection", Boolean, nullable=False, server_default=false()),
    Column("output_server_url", String(URL)),
    Column("output_database", String(NAME)),
    Column("output_schema", String(NAME)),
    Column("output_table", String(NAME)),
    Column("output_credential_id", Integer, ForeignKey("credential.id")),
    # The rollout policy: canary targets first, then waves; a failure budget halts the step.
    Column("canary", Integer),
    Column("wave_size", String(16)),  # "N" targets or "P%" of them
    Column("wave_pause_seconds", Float, nullable=False, server_default="0"),
    Column("max_failures", String(16)),  # "N" or "P%"
    Column("retry_on", String(16), nullable=False, server_default="all"),
    ForeignKeyConstraint(
        ["job_id", "job_version"],
        ["job_version.job_id", "job_version.version"],
        ondelete="CASCADE",
    ),
    UniqueConstraint("job_id", "job_version", "step_id"),
    UniqueConstraint("job_id", "job_version", "step_name"),
)

# A job version's webhooks (see sqlfleet.webhooks): the URL and the notify secret are
# encrypted tokens; `url_shown` is the URL masked, for listing without the secret key.
job_webhook = Table(
    "job_webhook",
    metadata,
    _id(),
    Column("job_id", Integer, nullable=False),
    Column("job_version", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("url_shown", String(URL), nullable=False),
    Column("url_token", Text, nullable=False),
    Column("notify_on", String(16), nullable=False),
    Column("secret_token", Text),
    ForeignKeyConstraint(
        ["job_id", "job_version"],
        ["job_version.job_id", "job_version.version"],
        ondelete="CASCADE",
    ),
    UniqueConstraint("job_id", "job_version", "position"),
)

job_execution = Table(
    "job_execution",
    metadata,
    _id(),
    Column("job_id", Integer, ForeignKey("job.id", ondelete="CASCADE"), nullable=False),
    Column("job_version", Integer, nullable=False),
    Column("lifecycle", String(STATE), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("scheduled_time", UtcDateTime),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("start_time", UtcDateTime),
    Column("end_time", UtcDateTime),
    Column("last_message", Text),
    # A trial runs each target's batches in a transaction that is rolled back.
    Column("trial", Boolean, nullable=False, server_default=false()),
    # A re-run: the execution whose targets in `rerun_states` (comma-separated) it runs again.
    Column("rerun_of", Integer),
    Column("rerun_states", String(128)),
    # Once it ended and none of its targets is live: its target counts per state (JSON),
    # which then never change; NULL while they may.
    Column("target_counts", Text),
    UniqueConstraint("job_id", "scheduled_time"),
    Index(None, "lifecycle"),
    Index(None, "create_time"),
)

step_execution = Table(
    "step_execution",
    metadata,
    _id(),
    Column(
        "job_execution_id",
        Integer,
        ForeignKey("job_execution.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("step_id", Integer, nullable=False),
    Column("step_name", String(NAME), nullable=False),
    Column("target_group_name", String(NAME), nullable=False),
    Column("lifecycle", String(STATE), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("start_time", UtcDateTime),
    Column("end_time", UtcDateTime),
    Column("last_message", Text),
    # Resolving a step's targets is claimed like a target: whoever holds the lease does it.
    Column("agent_name", String(NAME)),
    Column("lease_expires_at", UtcDateTime),
    # The last wave of targets (see target_execution.wave) that may start; NULL: no waves.
    Column("open_wave", Integer),
    UniqueConstraint("job_execution_id", "step_id"),
    # Agents look for the few step executions in a live state on every poll.
    Index(None, "lifecycle"),
)

target_execution = Table(
    "target_execution",
    metadata,
    _id(),
    Column(
        "job_execution_id",
        Integer,
        ForeignKey("job_execution.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "step_execution_id",
        Integer,
        ForeignKey("step_execution.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("job_id", Integer, nullable=False),
    Column("step_id", Integer, nullable=False),
    Column("target_type", String(16), nullable=False),
    Column("target_server_name", String(URL), nullable=False),
    Column("target_database_name", String(NAME), nullable=False),
    Column("target_schema_name", String(NAME)),
    Column("lifecycle", String(STATE), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("start_time", UtcDateTime),
    Column("end_time", UtcDateTime),
    Column("current_attempts", Integer, nullable=False, default=0),
    Column("current_attempt_start_time", UtcDateTime),
    Column("next_attempt_start_time", UtcDateTime),
    Column("last_message", Text),
    Column("agent_name", String(NAME)),
    Column("lease_expires_at", UtcDateTime),
    # Its wave in a rollout (0: the canary); it may start once its step opened that wave.
    Column("wave", Integer),
    # The target's own variables as resolved when its step started (a JSON object of name to
    # text or null; NULL for none): every attempt, retry and resumed run uses these values.
    Column("target_variables", Text),
    # Set on every insert and update through SQLAlchemy, so live pages fetch only what changed.
    Column("updated_at", UtcDateTime, default=_now, onupdate=_now),
    Index(None, "step_execution_id", "lifecycle"),
    Index(None, "lifecycle", "next_attempt_start_time"),
    Index(None, "job_id", "step_id", "target_database_name", "lifecycle"),
    Index(None, "job_execution_id", "lifecycle"),
    Index(None, "job_execution_id", "updated_at"),
)

attempt = Table(
    "attempt",
    metadata,
    _id(),
    Column(
        "target_execution_id",
        Integer,
        ForeignKey("target_execution.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("attempt_number", Integer, nullable=False),
    Column("agent_name", String(NAME)),
    Column("start_time", UtcDateTime, nullable=False),
    Column("end_time", UtcDateTime),
    Column("lifecycle", String(STATE), nullable=False),
    Column("message", Text),
    Column("row_count", Integer),
    Column("server_messages", Text),
    # Where a failed attempt failed: batch, script line and column, the statement's start.
    Column("error_batch", Integer),
    Column("error_line", Integer),
    Column("error_column", Integer),
    Column("error_statement", Text),
)

# The first result set of a target's successful attempt, up to its step's `result_rows`: one
# row per target, its rows in one JSON document (10,000 targets make 10,000 rows, not ten
# million). The column names are a document of their own so that the union of columns of an
# execution is a GROUP BY, without reading any rows.
target_result = Table(
    "target_result",
    metadata,
    Column(
        "target_execution_id",
        Integer,
        ForeignKey("target_execution.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "job_execution_id",
        Integer,
        ForeignKey("job_execution.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("step_id", Integer, nullable=False),
    Column("attempt_number", Integer, nullable=False),
    Column("column_names", Text, nullable=False),
    Column("returned_rows", Integer, nullable=False),
    Column("kept_rows", Integer, nullable=False),
    Column("row_values", Text, nullable=False),
    Index(None, "job_execution_id", "step_id", "target_execution_id"),
)

# One notification to one webhook, written in the transaction that ended the execution (or
# halted its rollout): an outbox. A notifier claims it under a lease and sends it; its
# tokens are copied from the webhook, so changing the job later changes no notification
# already due, and they are cleared once it is delivered or has failed for good.
notification_delivery = Table(
    "notification_delivery",
    metadata,
    _id(),
    Column(
        "job_execution_id",
        Integer,
        ForeignKey("job_execution.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("step_execution_id", Integer),
    Column("event", String(32), nullable=False),
    Column("message", Text),  # what halted a rollout
    Column("webhook", String(URL), nullable=False),
    Column("url_token", Text),
    Column("secret_token", Text),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_status", Integer),
    Column("last_reason", Text),
    Column("holder", String(NAME)),
    Column("lease_expires_at", UtcDateTime),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Index(None, "state", "lease_expires_at"),
)

agent = Table(
    "agent",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("concurrency", Integer, nullable=False),
    Column("running", Integer, nullable=False, default=0),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
    Column("stopping", Boolean, nullable=False, default=False),
)


def defines(step: Table, execution: Table, step_execution: Table) -> ColumnElement[bool]:
    """The join condition from a step execution (of `execution`, a job execution) to the
    `job_step` row (`step`, maybe an alias) of the job version it runs."""
    return and_(
        step.c.job_id == execution.c.job_id,
        step.c.job_version == execution.c.job_version,
        step.c.step_id == step_execution.c.step_id,
    )
