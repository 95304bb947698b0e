"""Request bodies of the REST API (and of the pages' forms), validated by pydantic.

Responses use `sqlfleet.documents`, the shapes `--json` prints. Every bound comes from
`sqlfleet.limits`, the table the CLI and the Python API use too, so that the OpenAPI document
shows the same ranges every door enforces; the Python API checks the rest (server URLs,
schedules) and its errors become 4xx answers too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from sqlfleet import limits
from sqlfleet.errors import InvalidSchedule, InvalidValue
from sqlfleet.model import OutputDestination
from sqlfleet.schedule import Schedule
from sqlfleet.secrets import Secret
from sqlfleet.variables import NAME_PATTERN as VARIABLE_NAME_PATTERN
from sqlfleet.webhooks import WebhookSpec

MAX_NAME = limits.MAX_NAME
MAX_ID = limits.INT32_MAX
NAME_PATTERN = limits.NAME_PATTERN


def _storable(value: str) -> str:
    """Text both job databases can store: valid UTF-8, no NUL (the limits' own check)."""
    try:
        return limits.check_storable("text", value)
    except InvalidValue as exc:
        raise ValueError(exc.message.removeprefix("the text ")) from None


def _secret_storable(value: SecretStr) -> SecretStr:
    _storable(value.get_secret_value())
    return value


def _text(limit: limits.Text) -> Any:
    """Pydantic bounds of a text setting."""
    return Field(min_length=limit.min_length, max_length=limit.max_length)


def _number(limit: limits.Number) -> Any:
    """Pydantic bounds of a numeric setting, with its help as the field's description."""
    return Field(ge=limit.low, le=limit.high, allow_inf_nan=False, description=limit.help_text)


Name = Annotated[str, Field(min_length=1, max_length=limits.MAX_NAME, pattern=limits.NAME_PATTERN)]
Text = Annotated[str, _text(limits.DESCRIPTION), AfterValidator(_storable)]
ShortText = Annotated[str, _text(limits.IDENTIFIER), AfterValidator(_storable)]
Url = Annotated[str, _text(limits.SERVER_URL), AfterValidator(_storable)]
Script = Annotated[str, _text(limits.SCRIPT), AfterValidator(_storable)]
SecretText = Annotated[SecretStr, _text(limits.SECRET), AfterValidator(_secret_storable)]
VariableName = Annotated[
    str,
    Field(min_length=1, max_length=limits.MAX_VARIABLE_NAME, pattern=VARIABLE_NAME_PATTERN),
]
VariableValue = Annotated[
    str, Field(max_length=limits.MAX_VARIABLE_VALUE), AfterValidator(_storable)
]
WebhookUrl = Annotated[SecretStr, _text(limits.WEBHOOK_URL), AfterValidator(_secret_storable)]
NotifySecret = Annotated[SecretStr, _text(limits.NOTIFY_SECRET), AfterValidator(_secret_storable)]

# The step settings' numbers, each from its row of `limits.STEP_SETTINGS`.
RetryAttempts = Annotated[int, _number(limits.RETRY_ATTEMPTS)]
InitialInterval = Annotated[float, _number(limits.INITIAL_RETRY_INTERVAL)]
MaximumInterval = Annotated[float, _number(limits.MAXIMUM_RETRY_INTERVAL)]
Multiplier = Annotated[float, _number(limits.BACKOFF_MULTIPLIER)]
StepTimeout = Annotated[int, _number(limits.STEP_TIMEOUT)]
ConnectTimeout = Annotated[int, _number(limits.CONNECT_TIMEOUT)]
MaxParallelism = Annotated[int, _number(limits.MAX_PARALLELISM)]
Canary = Annotated[int, _number(limits.CANARY)]
WavePause = Annotated[float, _number(limits.WAVE_PAUSE)]
Share = Annotated[
    str,
    Field(min_length=1, max_length=limits.SHARE.max_length, pattern=r"^\s*\d{1,9}\s*%?\s*$"),
]
RetryOn = Literal["all", "transient"]
ResultRows = Annotated[int, _number(limits.RESULT_ROWS)]

# Path and query parameters.
PathName = Annotated[
    str, Path(min_length=1, max_length=limits.MAX_NAME, pattern=limits.NAME_PATTERN)
]
PathId = Annotated[int, Path(ge=limits.ID.low, le=limits.ID.high)]
QueryName = Annotated[
    str | None, Query(min_length=1, max_length=limits.MAX_NAME, pattern=limits.NAME_PATTERN)
]


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

    server: Url = Field(
        description="postgresql://host:port, mysql://host:port, sqlite:///folder, "
        "mssql://host:port",
    )
    database: ShortText | None = Field(None, description="One database, or a shard map's catalog")
    database_pattern: ShortText | None = Field(None, description="Databases matching a glob")
    schema_pattern: ShortText | None = Field(None, description="Schemas of `database` (a glob)")
    shard_map_query: Script | None = Field(None, description="Catalog query naming databases")
    refresh_credential: Name | None = Field(None, description="Credential that lists databases")
    exclude: bool = False
    variables: dict[VariableName, VariableValue] | None = Field(
        None,
        max_length=limits.MAX_VARIABLES,
        description="A database member's own variables, name to text: $(name) in its scripts",
        examples=[{"plan": "gold", "region": "eu-west"}],
    )


class ResolveRequest(Body):
    """How to resolve a group: the credential for members without a refresh credential."""

    credential: Name | None = None


# -- jobs and steps -----------------------------------------------------------------------


class ScheduleSpec(Body):
    """A schedule: `once`, `every N minutes|hours|days|weeks|months`, or a cron expression."""

    spec: Annotated[str, _text(limits.SCHEDULE_SPEC), AfterValidator(_storable)] = Field(
        examples=["every 15 minutes", "0 3 * * *", "once"]
    )
    timezone: Annotated[str, _text(limits.TIMEZONE), AfterValidator(_storable)] = "UTC"
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

    server: Url
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
    retry_attempts: RetryAttempts | None = None
    initial_retry_interval_seconds: InitialInterval | None = None
    maximum_retry_interval_seconds: MaximumInterval | None = None
    retry_interval_backoff_multiplier: Multiplier | None = None
    step_timeout_seconds: StepTimeout | None = None
    connect_timeout_seconds: ConnectTimeout | None = None
    max_parallelism: MaxParallelism | None = None
    continue_on_failure: bool | None = None
    canary: Canary | None = Field(None, description=limits.STEP_SETTING["canary"].help_text)
    wave_size: Share | None = Field(None, description=limits.STEP_SETTING["wave_size"].help_text)
    wave_pause_seconds: WavePause | None = None
    max_failures: Share | None = Field(
        None, description=limits.STEP_SETTING["max_failures"].help_text
    )
    retry_on: RetryOn | None = Field(None, description=limits.STEP_SETTING["retry_on"].help_text)
    result_rows: ResultRows | None = None
    allow_database_switch: bool | None = None
    fresh_connection: bool | None = None

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


class WebhookIn(Body):
    """A webhook told when an execution ends (`failure`: only when it did not succeed).

    Its URL is a secret (an incoming-webhook URL carries a token): it is stored encrypted
    and answered masked. `secret`, if given, signs each body (HMAC-SHA256).
    """

    url: WebhookUrl
    on: Literal["failure", "always"] = "failure"
    secret: NotifySecret | None = None

    def build(self) -> WebhookSpec:
        """The webhook for `Fleet`, its URL and secret still secrets."""
        return WebhookSpec(
            url=Secret(self.url.get_secret_value()),
            on=self.on,
            secret=None if self.secret is None else Secret(self.secret.get_secret_value()),
        )


Webhooks = Annotated[list[WebhookIn], Field(max_length=limits.MAX_WEBHOOKS)]


class JobCreate(Body):
    """A new job, optionally with its steps and webhooks."""

    name: Name
    description: Text = ""
    enabled: bool = False
    schedule: ScheduleSpec | None = None
    steps: list[StepCreate] = Field(default_factory=list, max_length=limits.MAX_STEPS)
    notify: Webhooks = Field(default_factory=list)

    def webhooks(self) -> list[WebhookSpec]:
        """The webhooks for `Fleet.add_job`."""
        return [w.build() for w in self.notify]


class JobUpdate(Body):
    """Changes to a job; `"schedule": null` removes its schedule."""

    name: Name | None = Field(None, description="A new name for the job")
    description: Text | None = None
    enabled: bool | None = None
    schedule: ScheduleSpec | None = None
    notify: Webhooks | None = Field(
        None, description="Replaces the job's webhooks; `[]` or null removes them"
    )

    def changes(self) -> dict[str, Any]:
        """Keyword arguments for `Fleet.update_job` (schedule and webhooks only when given)."""
        changes: dict[str, Any] = {
            "new_name": self.name,
            "description": self.description,
            "enabled": self.enabled,
        }
        if "schedule" in self.model_fields_set:
            changes["schedule"] = self.schedule.build() if self.schedule else None
        if "notify" in self.model_fields_set:
            changes["webhooks"] = [w.build() for w in self.notify or []]
        return changes
