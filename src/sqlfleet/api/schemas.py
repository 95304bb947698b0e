"""Request bodies of the REST API (and of the pages' forms), validated by pydantic.

Responses use `sqlfleet.documents`, the shapes `--json` prints. The rules here catch what
would not even reach the Python API (types, ranges, NUL characters); the Python API checks
the rest (names, server URLs, schedules) and its errors become 4xx answers too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from sqlfleet.errors import InvalidSchedule
from sqlfleet.model import OutputDestination
from sqlfleet.schedule import Schedule

MAX_NAME = 128
MAX_TEXT = 10_000
MAX_SCRIPT = 1_000_000
MAX_ID = 2_147_483_647
MAX_SECONDS = 2_147_483_647
MAX_INTERVAL = 31_536_000.0  # a year, in seconds

# Names appear in URL paths: a slash would split them; control characters are never names.
NAME_PATTERN = r"^[^/\x00-\x1f\x7f]+$"


def _storable(value: str) -> str:
    """Text both job databases can store: no NUL, valid Unicode."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _secret_storable(value: SecretStr) -> SecretStr:
    _storable(value.get_secret_value())
    return value


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN)]
Text = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_storable)]
ShortText = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_storable)]
Script = Annotated[str, Field(min_length=1, max_length=MAX_SCRIPT), AfterValidator(_storable)]
Seconds = Annotated[int, Field(ge=1, le=MAX_SECONDS)]
Interval = Annotated[float, Field(ge=0, le=MAX_INTERVAL, allow_inf_nan=False)]
Multiplier = Annotated[float, Field(ge=1, le=1000, allow_inf_nan=False)]
SecretText = Annotated[
    SecretStr, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(_secret_storable)
]

# Path and query parameters.
PathName = Annotated[str, Path(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryName = Annotated[str | None, Query(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN)]


class ErrorDetail(BaseModel):
    """What went wrong: the error's type (e.g. NotFound) and a one-line message."""

    type: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No or wrong bearer token"},
    404: {"model": ErrorBody, "description": "No such credential, group, job, step or execution"},
    409: {"model": ErrorBody, "description": "The name is taken, or it is still in use"},
    422: {"model": ErrorBody, "description": "The request or a value in it is not valid"},
    503: {"model": ErrorBody, "description": "The job database or the secret key failed"},
}


class Body(BaseModel):
    """A request body: unknown fields are refused, so a typo is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid")


# -- credentials --------------------------------------------------------------------------


class CredentialCreate(Body):
    """A new credential. The secret is stored encrypted and never returned."""

    name: Name
    username: ShortText
    secret: SecretText


class CredentialUpdate(Body):
    """A new user name and/or a new secret."""

    username: ShortText | None = None
    secret: SecretText | None = None


# -- target groups ------------------------------------------------------------------------


class TargetGroupCreate(Body):
    """A new, empty target group."""

    name: Name


class MemberCreate(Body):
    """A member; its kind follows from the fields given (as `target-group add-member`)."""

    server: ShortText = Field(
        description="postgresql://host:port, mysql://host:port, sqlite:///folder, "
        "mssql://host:port",
    )
    database: ShortText | None = Field(None, description="One database, or a shard map's catalog")
    database_pattern: ShortText | None = Field(None, description="Databases matching a glob")
    schema_pattern: ShortText | None = Field(None, description="Schemas of `database` (a glob)")
    shard_map_query: Script | None = Field(None, description="Catalog query naming databases")
    refresh_credential: Name | None = Field(None, description="Credential that lists databases")
    exclude: bool = False


class ResolveRequest(Body):
    """How to resolve a group: the credential for members without a refresh credential."""

    credential: Name | None = None


# -- jobs and steps -----------------------------------------------------------------------


class ScheduleSpec(Body):
    """A schedule: `once`, `every N minutes|hours|days|weeks|months`, or a cron expression."""

    spec: ShortText = Field(examples=["every 15 minutes", "0 3 * * *", "once"])
    timezone: ShortText = "UTC"
    start_time: datetime | None = Field(None, description="Naive times are in `timezone`")
    end_time: datetime | None = None

    def build(self) -> Schedule:
        """The schedule, or InvalidSchedule."""
        try:
            return Schedule.parse(
                self.spec,
                timezone=self.timezone,
                start_time=self.start_time,
                end_time=self.end_time,
            )
        except (OverflowError, ValueError) as exc:
            if isinstance(exc, InvalidSchedule):
                raise
            raise InvalidSchedule(f"the schedule's times are out of range: {exc}") from None


class OutputSpec(Body):
    """Where a step's first result set goes."""

    server: ShortText
    database: ShortText
    table: ShortText
    credential: Name
    schema_name: ShortText | None = Field(None, alias="schema")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def build(self) -> OutputDestination:
        """The output destination."""
        return OutputDestination(
            server_url=self.server,
            database=self.database,
            table=self.table,
            credential=self.credential,
            schema=self.schema_name,
        )


class StepFields(Body):
    """Settings shared by adding and changing a step; None keeps the default or current value."""

    command: Script | None = None
    target_group: Name | None = None
    credential: Name | None = None
    retry_attempts: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    initial_retry_interval_seconds: Interval | None = None
    maximum_retry_interval_seconds: Interval | None = None
    retry_interval_backoff_multiplier: Multiplier | None = None
    step_timeout_seconds: Seconds | None = None
    connect_timeout_seconds: Seconds | None = None
    max_parallelism: Annotated[int, Field(ge=0, le=MAX_SECONDS)] | None = Field(
        None, description="Databases per server at a time; 0 means no limit"
    )
    continue_on_failure: bool | None = None

    def settings(self) -> dict[str, Any]:
        """Keyword arguments for `Fleet.add_step` / `Fleet.update_step`."""
        return self.model_dump(exclude={"name", "output"}, exclude_none=True)


class StepCreate(StepFields):
    """A new step, appended to the job."""

    name: Name
    command: Script
    target_group: Name
    credential: Name
    output: OutputSpec | None = None

    def settings(self) -> dict[str, Any]:
        """Keyword arguments for `Fleet.add_step`."""
        fields = super().settings()
        if self.output is not None:
            fields["output"] = self.output.build()
        return fields


class StepUpdate(StepFields):
    """Changes to a step; `"output": null` removes its output destination."""

    name: Name | None = Field(None, description="A new name for the step")
    output: OutputSpec | None = None

    def settings(self) -> dict[str, Any]:
        """Keyword arguments for `Fleet.update_step`."""
        fields = super().settings()
        if "output" in self.model_fields_set:
            if self.output is None:
                fields["remove_output"] = True
            else:
                fields["output"] = self.output.build()
        return fields


class JobCreate(Body):
    """A new job, optionally with its steps."""

    name: Name
    description: Text = ""
    enabled: bool = False
    schedule: ScheduleSpec | None = None
    steps: list[StepCreate] = Field(default_factory=list, max_length=100)


class JobUpdate(Body):
    """Changes to a job; `"schedule": null` removes its schedule."""

    name: Name | None = Field(None, description="A new name for the job")
    description: Text | None = None
    enabled: bool | None = None
    schedule: ScheduleSpec | None = None

    def changes(self) -> dict[str, Any]:
        """Keyword arguments for `Fleet.update_job` (schedule only when it was given)."""
        changes: dict[str, Any] = {
            "new_name": self.name,
            "description": self.description,
            "enabled": self.enabled,
        }
        if "schedule" in self.model_fields_set:
            changes["schedule"] = self.schedule.build() if self.schedule else None
        return changes
