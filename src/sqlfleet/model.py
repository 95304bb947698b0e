"""The definitions and records sqlfleet works with, as frozen dataclasses.

They are converted to and from rows only at the store's boundary. Secrets never live here:
a `Credential` names a user; its secret stays encrypted in the job database.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeAlias

from sqlfleet import limits
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.retry import RetryPolicy
from sqlfleet.schedule import Schedule

# A target's own variables, name and value, in the order they were given. A value is text, or
# None where a shard map's column held NULL. A tuple, not a dict: models stay hashable.
TargetVariables: TypeAlias = tuple[tuple[str, str | None], ...]


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
    # A database member's fixed variables ($(plan) ...), as `--var plan=gold` gave them.
    variables: TargetVariables = ()

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
    result_rows: int = limits.DEFAULT_RESULT_ROWS
    output: OutputDestination | None = None
    # MySQL/MariaDB: the script may USE, CREATE or DROP a database (see `sqlfleet.statements`).
    allow_database_switch: bool = False
    # A new connection for each target, instead of one that serves several in turn.
    fresh_connection: bool = False

    # Rollout policy (see sqlfleet.engine.rollout): canary targets, waves, failure budget.
    canary: int | None = None
    wave_size: str | None = None  # "N" or "P%"
    wave_pause_seconds: float = 0.0
    max_failures: str | None = None  # "N" or "P%"
    retry_on: str = "all"  # "all" or "transient"

    @property
    def has_rollout(self) -> bool:
        """Whether the step runs in stages or halts on a failure budget."""
        return bool(self.canary) or self.wave_size is not None or self.max_failures is not None


@dataclass(frozen=True, slots=True)
class Step:
    """A step of one version of a job: its number, its name and its settings."""

    step_id: int
    name: str
    settings: StepSettings


@dataclass(frozen=True, slots=True)
class Webhook:
    """A job's webhook as it may be shown: its URL masked (`https://host/…`), never its
    secret; `signed` says whether it has a notify secret."""

    url: str
    on: str  # "failure" or "always"
    signed: bool


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
    webhooks: tuple[Webhook, ...] = ()

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
    # Where a target is makes it what it is: two targets at one place are equal whatever
    # their variables, so de-duplication and excludes look at the place alone.
    variables: TargetVariables = field(default=(), compare=False)

    @property
    def variable_map(self) -> dict[str, str | None]:
        """The target's own variables by name."""
        return dict(self.variables)

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
    trial: bool = False  # its batches ran in transactions that were rolled back
    rerun_of: int | None = None  # the execution whose targets it runs again

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
    # When the row last changed: live pages send only the rows changed since their last look.
    updated_at: datetime | None = None
    # The target's own variables, as resolved when its step started.
    target_variables: TargetVariables = ()


@dataclass(frozen=True, slots=True)
class TargetPreview:
    """One target of a step: the batches it would get, or why it would fail."""

    target: Target
    batches: list[str] = field(default_factory=list)
    error: str | None = None  # the script cannot be rendered for it, or (preflight) no login


@dataclass(frozen=True, slots=True)
class StepPreview:
    """One step: its targets as resolved now, or why they cannot be resolved."""

    step: Step
    targets: list[TargetPreview] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the step resolved and every target rendered (and logged in)."""
        return self.error is None and all(t.error is None for t in self.targets)


@dataclass(frozen=True, slots=True)
class RolloutProgress:
    """Where a staged step execution stands: what its rollout policy decides from."""

    step_execution_id: int
    settings: StepSettings  # only the rollout fields are filled in
    total: int
    open_wave: int | None
    unfinished_by_wave: dict[int | None, int]  # targets not yet terminal, per wave
    failed: int  # targets that ended Failed or TimedOut
    canary_failed: int  # of those, targets of the canary (wave 0 when there is a canary)
    not_started: int  # targets still Created


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


@dataclass(frozen=True, slots=True)
class AttemptEnded:
    """An attempt this process ran has ended: what metrics are made of."""

    job_name: str
    step_name: str
    lifecycle: Lifecycle
    seconds: float


@dataclass(frozen=True, slots=True)
class NotificationDelivery:
    """One notification to one webhook: its event, its state and its attempts so far."""

    id: int
    job_execution_id: int
    event: str  # "execution.ended" or "rollout.halted"
    webhook: str  # masked: https://host/…
    state: str  # "pending", "delivered" or "failed"
    attempts: int
    last_status: int | None
    last_reason: str | None
    create_time: datetime
    update_time: datetime
    step_name: str | None = None


# -- results --------------------------------------------------------------------------------

# What a kept value can be: dates, decimals, bytes and the like are kept as text.
JsonValue: TypeAlias = bool | int | float | str | None


@dataclass(frozen=True, slots=True)
class KeptResult:
    """A target's first result set as kept: its columns, JSON-safe rows, and how many it had."""

    columns: tuple[str, ...]
    rows: tuple[tuple[JsonValue, ...], ...]
    returned_rows: int

    @property
    def kept_rows(self) -> int:
        """How many rows were kept (at most the step's `result_rows`)."""
        return len(self.rows)

    @property
    def truncated(self) -> bool:
        """True when the target returned more rows than its step keeps."""
        return self.returned_rows > len(self.rows)


@dataclass(frozen=True, slots=True)
class CutResult:
    """A target whose first result set had more rows than its step keeps."""

    step_name: str
    target: Target
    returned_rows: int
    kept_rows: int


@dataclass(frozen=True, slots=True)
class ResultPage:
    """Kept result rows of an execution, merged across its targets, one page of them.

    `columns` are `step_name` (when several steps are shown), the target's server, database
    and (when any target is a schema) schema, then the union of the result sets' columns in
    the order they were first seen; a target without one of them has None there.
    """

    job_execution_id: int
    step_name: str | None
    columns: tuple[str, ...]
    rows: tuple[tuple[JsonValue, ...], ...]
    offset: int
    total_rows: int
    targets: int
    cut_targets: int
    cut: tuple[CutResult, ...] = ()

    def aligned(self, columns: Sequence[str]) -> list[tuple[JsonValue, ...]]:
        """The rows with `columns` (another page's, say), None where this page has none."""
        if tuple(columns) == self.columns:
            return list(self.rows)
        where = {name: i for i, name in enumerate(self.columns)}
        picks = [where.get(name) for name in columns]
        return [tuple(None if i is None else row[i] for i in picks) for row in self.rows]


# Keeps "schedule untouched" apart from "no schedule" in `update_job`.
UNCHANGED: Any = object()

TargetSort = Literal["step", "server", "database", "state", "attempts", "started", "ended"]

# Sort orders of a target list, by the columns compared in turn (ties by id).
TARGET_SORTS: dict[str, tuple[str, ...]] = {
    "step": ("step_id",),
    "server": ("target_server_name", "target_database_name", "target_schema_name"),
    "database": ("target_database_name", "target_schema_name", "target_server_name"),
    "state": ("lifecycle",),
    "attempts": ("current_attempts",),
    "started": ("start_time",),
    "ended": ("end_time",),
}
