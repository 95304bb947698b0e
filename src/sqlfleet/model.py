"""The definitions and records sqlfleet works with, as frozen dataclasses.

They are converted to and from rows only at the store's boundary. Secrets never live here:
a `Credential` names a user; its secret stays encrypted in the job database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from sqlfleet import limits
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.retry import RetryPolicy
from sqlfleet.schedule import Schedule


@dataclass(frozen=True, slots=True)
class Credential:
    """A named user name whose secret is stored encrypted."""

    id: int
    name: str
    username: str
    created_at: datetime
    updated_at: datetime


class MemberKind(enum.StrEnum):
    """What a target group member names."""

    SERVER = "server"
    DATABASE = "database"
    SCHEMA = "schema"
    SHARD_MAP = "shard-map"


class Membership(enum.StrEnum):
    """Whether a member adds its databases to the group or takes them out."""

    INCLUDE = "include"
    EXCLUDE = "exclude"


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a target group."""

    id: int
    kind: MemberKind
    membership: Membership
    server_url: str
    database: str | None = None
    database_pattern: str | None = None
    schema_pattern: str | None = None
    shard_map_query: str | None = None
    refresh_credential: str | None = None

    @property
    def exclude(self) -> bool:
        """True for an exclude member."""
        return self.membership is Membership.EXCLUDE


@dataclass(frozen=True, slots=True)
class TargetGroup:
    """A named, reusable set of members."""

    id: int
    name: str
    members: tuple[Member, ...] = ()


@dataclass(frozen=True, slots=True)
class OutputDestination:
    """Where a step's first result set goes: a table on some database."""

    server_url: str
    database: str
    table: str
    credential: str
    schema: str | None = None


@dataclass(frozen=True, slots=True)
class StepSettings:
    """Everything about a step but its identity: what `add-step` and `update-step` set."""

    command: str
    target_group: str
    credential: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    step_timeout_seconds: int = limits.DEFAULT_STEP_TIMEOUT
    connect_timeout_seconds: int = limits.DEFAULT_CONNECT_TIMEOUT
    max_parallelism: int | None = None
    continue_on_failure: bool = False
    output: OutputDestination | None = None
    # MySQL/MariaDB: the script may USE, CREATE or DROP a database (see `sqlfleet.statements`).
    allow_database_switch: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    """A step of one version of a job: its number, its name and its settings."""

    step_id: int
    name: str
    settings: StepSettings


@dataclass(frozen=True, slots=True)
class Job:
    """A job as of one version, with that version's steps in order."""

    id: int
    name: str
    description: str
    enabled: bool
    schedule: Schedule | None
    version: int
    steps: tuple[Step, ...]
    created_at: datetime
    updated_at: datetime

    def step(self, name: str) -> Step | None:
        """The step called `name`, if any."""
        return next((s for s in self.steps if s.name == name), None)


@dataclass(frozen=True, slots=True)
class JobVersion:
    """One version of a job: when it was made."""

    job_id: int
    version: int
    created_at: datetime


@dataclass(frozen=True, slots=True, order=True)
class Target:
    """One database, or one schema of a database, that a step runs on."""

    server_url: str
    database: str
    schema: str | None = None

    @property
    def target_type(self) -> str:
        """`database` or `schema`, as the job_executions view shows it."""
        return "schema" if self.schema is not None else "database"

    def __str__(self) -> str:
        where = f"{self.server_url}/{self.database}"
        return f"{where} (schema {self.schema})" if self.schema is not None else where


# -- executions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobExecution:
    """One run of a job, with how many of its target executions are in each state."""

    id: int
    job_id: int
    job_name: str
    job_version: int
    lifecycle: Lifecycle
    trigger: str
    create_time: datetime
    start_time: datetime | None
    end_time: datetime | None
    last_message: str | None
    target_counts: dict[str, int] = field(default_factory=dict)

    @property
    def is_active(self) -> bool:
        """True until the execution reaches a terminal state."""
        return not self.lifecycle.is_terminal


@dataclass(frozen=True, slots=True)
class StepExecution:
    """One step of a job execution."""

    id: int
    job_execution_id: int
    step_id: int
    step_name: str
    target_group_name: str
    lifecycle: Lifecycle
    create_time: datetime
    start_time: datetime | None
    end_time: datetime | None
    last_message: str | None
    target_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TargetExecution:
    """One step on one target database (or schema)."""

    id: int
    job_execution_id: int
    step_execution_id: int
    step_id: int
    target_type: str
    target_server_name: str
    target_database_name: str
    target_schema_name: str | None
    lifecycle: Lifecycle
    create_time: datetime
    start_time: datetime | None
    end_time: datetime | None
    current_attempts: int
    current_attempt_start_time: datetime | None
    next_attempt_start_time: datetime | None
    last_message: str | None
    agent_name: str | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt of a target execution."""

    target_execution_id: int
    attempt_number: int
    agent_name: str | None
    start_time: datetime
    end_time: datetime | None
    lifecycle: Lifecycle
    message: str | None
    row_count: int | None
    server_messages: str | None
    # Where a failed attempt failed: batch, script line and column, the statement's start.
    error_batch: int | None = None
    error_line: int | None = None
    error_column: int | None = None
    error_statement: str | None = None
