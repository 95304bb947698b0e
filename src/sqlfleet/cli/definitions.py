"""Commands that define things: init, credentials, target groups, jobs and their steps."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from sqlfleet import documents, limits
from sqlfleet.cli.app import (
    JsonOption,
    app,
    checked,
    job_db_option,
    number_option,
    open_fleet,
    print_fields,
    print_json,
    print_table,
    say,
)
from sqlfleet.errors import InvalidValue
from sqlfleet.model import UNCHANGED, Job
from sqlfleet.schedule import Schedule, parse_time
from sqlfleet.secrets import Secret
from sqlfleet.step_settings import read_command_file
from sqlfleet.variables import describe, parse_assignments
from sqlfleet.webhooks import WebhookSpec

credential_app = typer.Typer(
    help="Credentials: user names with encrypted secrets.", no_args_is_help=True
)
group_app = typer.Typer(help="Target groups: the databases a step runs on.", no_args_is_help=True)
job_app = typer.Typer(help="Jobs and their steps.", no_args_is_help=True)
app.add_typer(credential_app, name="credential")
app.add_typer(group_app, name="target-group")
app.add_typer(job_app, name="job")


@app.command()
def init(ctx: typer.Context) -> None:
    """Create or upgrade the job database, and a secret key if there is none."""
    from sqlfleet.fleet import Fleet

    report = Fleet.init(job_db_option(ctx))
    if report.schema_before is None:
        say(f"created the job database {report.job_db}")
    elif report.schema_before != report.schema_after:
        say(
            f"upgraded the job database {report.job_db} "
            f"({report.schema_before} -> {report.schema_after})"
        )
    else:
        say(f"the job database {report.job_db} is up to date (schema {report.schema_after})")
    made = "created " if report.key_created else ""
    say(f"secrets are encrypted with the {made}{report.key_source}")


# -- credentials ------------------------------------------------------------------------------


def _read_secret(
    password_stdin: bool, password_env: str | None, *, required: bool
) -> Secret | None:
    if password_stdin and password_env:
        raise InvalidValue("give --password-stdin or --password-env, not both")
    if password_stdin:
        try:
            line = sys.stdin.readline()
        except UnicodeDecodeError:
            raise InvalidValue("the password on standard input is not UTF-8 text") from None
        if not line:
            # An empty line is an empty password (a login without one); no line at all is
            # more likely a mistake.
            raise InvalidValue("no password on standard input (an empty line means none)")
        return Secret(line.rstrip("\r\n"))
    if password_env:
        value = os.environ.get(password_env)
        if value is None:
            raise InvalidValue(f"environment variable {password_env} is not set")
        return Secret(value)
    if required:
        raise InvalidValue("give the password with --password-stdin or --password-env VAR")
    return None


PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]
PasswordEnv = Annotated[
    str | None,
    typer.Option(
        "--password-env", metavar="VAR", help="Read the password from this environment variable."
    ),
]


@credential_app.command("add")
def credential_add(
    ctx: typer.Context,
    name: str,
    username: Annotated[str, typer.Option("--username", help="User name on the target servers.")],
    password_stdin: PasswordStdin = False,
    password_env: PasswordEnv = None,
) -> None:
    """Store a credential. The secret is encrypted and never shown again."""
    secret = _read_secret(password_stdin, password_env, required=True)
    assert secret is not None
    with open_fleet(ctx) as fleet:
        fleet.add_credential(name, username, secret)
    say(f"credential {name!r} added")


@credential_app.command("update")
def credential_update(
    ctx: typer.Context,
    name: str,
    username: Annotated[str | None, typer.Option("--username")] = None,
    password_stdin: PasswordStdin = False,
    password_env: PasswordEnv = None,
) -> None:
    """Change a credential's user name or secret."""
    secret = _read_secret(password_stdin, password_env, required=False)
    if username is None and secret is None:
        raise InvalidValue("nothing to change: give --username and/or a password option")
    with open_fleet(ctx) as fleet:
        fleet.update_credential(name, username=username, secret=secret)
    say(f"credential {name!r} updated")


@credential_app.command("list")
def credential_list(ctx: typer.Context, json: JsonOption = False) -> None:
    """List credentials (never their secrets)."""
    with open_fleet(ctx) as fleet:
        credentials = fleet.list_credentials()
    if json:
        print_json([documents.credential(c) for c in credentials])
        return
    print_table(
        ["NAME", "USERNAME", "UPDATED"],
        [(c.name, c.username, f"{c.updated_at:%Y-%m-%d %H:%M:%S}") for c in credentials],
        title="credentials",
    )


@credential_app.command("remove")
def credential_remove(ctx: typer.Context, name: str) -> None:
    """Delete a credential that nothing uses."""
    with open_fleet(ctx) as fleet:
        fleet.remove_credential(name)
    say(f"credential {name!r} removed")


# -- target groups ----------------------------------------------------------------------------


@group_app.command("add")
def group_add(ctx: typer.Context, name: str) -> None:
    """Create an empty target group."""
    with open_fleet(ctx) as fleet:
        fleet.add_target_group(name)
    say(f"target group {name!r} added")


@group_app.command("list")
def group_list(ctx: typer.Context, json: JsonOption = False) -> None:
    """List target groups."""
    with open_fleet(ctx) as fleet:
        groups = fleet.list_target_groups()
    if json:
        print_json([documents.target_group(g) for g in groups])
        return
    print_table(
        ["NAME", "MEMBERS"],
        [(g.name, len(g.members)) for g in groups],
        title="target groups",
    )


@group_app.command("show")
def group_show(ctx: typer.Context, name: str, json: JsonOption = False) -> None:
    """Show a target group and its members."""
    with open_fleet(ctx) as fleet:
        group = fleet.get_target_group(name)
    if json:
        print_json(documents.target_group(group))
        return
    say(f"target group {group.name}")
    with_variables = any(m.variables for m in group.members)
    print_table(
        [
            "ID",
            "MEMBERSHIP",
            "KIND",
            "SERVER",
            "DATABASE",
            "PATTERN",
            "REFRESH CREDENTIAL",
            *(["VARIABLES"] if with_variables else []),
        ],
        [
            (
                m.id,
                m.membership.value,
                m.kind.value,
                m.server_url,
                m.database or "",
                m.database_pattern or m.schema_pattern or (m.shard_map_query or ""),
                m.refresh_credential or "",
                *([describe(m.variables)] if with_variables else []),
            )
            for m in group.members
        ],
        title="members",
    )


@group_app.command("remove")
def group_remove(ctx: typer.Context, name: str) -> None:
    """Delete a target group that no step uses."""
    with open_fleet(ctx) as fleet:
        fleet.remove_target_group(name)
    say(f"target group {name!r} removed")


@group_app.command("add-member")
def group_add_member(
    ctx: typer.Context,
    group: str,
    server: Annotated[
        str,
        typer.Option(
            "--server", help="postgresql://host:port, mysql://host:port, sqlite:///folder"
        ),
    ],
    database: Annotated[
        str | None, typer.Option("--database", help="One database (or the catalog of a shard map).")
    ] = None,
    database_pattern: Annotated[
        str | None,
        typer.Option(
            "--database-pattern", metavar="GLOB", help="Only databases whose name matches."
        ),
    ] = None,
    schema_pattern: Annotated[
        str | None,
        typer.Option(
            "--schema-pattern", metavar="GLOB", help="Every matching schema of --database."
        ),
    ] = None,
    shard_map_query: Annotated[
        str | None,
        typer.Option(
            "--shard-map-query",
            metavar="SQL",
            help="A catalog query whose rows name the databases.",
        ),
    ] = None,
    refresh_credential: Annotated[
        str | None,
        typer.Option(
            "--refresh-credential", metavar="NAME", help="Credential used to list databases."
        ),
    ] = None,
    exclude: Annotated[
        bool, typer.Option("--exclude", help="Take these databases out of the group.")
    ] = False,
    var: Annotated[
        list[str] | None,
        typer.Option(
            "--var",
            metavar="NAME=VALUE",
            help="A variable of this database, $(NAME) in scripts (repeatable; "
            f"at most {limits.MAX_VARIABLES}, values up to {limits.MAX_VARIABLE_VALUE:,} "
            "characters).",
        ),
    ] = None,
) -> None:
    """Add a member: a server, a database, the schemas of a database, or a shard map.

    A shard map's query names databases by position, (database) or (server, database), or
    by column name: `database`, optionally `server` and `schema`, and every other column
    becomes a variable of its row's target.
    """
    variables = parse_assignments(var or [])
    with open_fleet(ctx) as fleet:
        member = fleet.add_member(
            group,
            server=server,
            database=database,
            database_pattern=database_pattern,
            schema_pattern=schema_pattern,
            shard_map_query=shard_map_query,
            refresh_credential=refresh_credential,
            exclude=exclude,
            variables=variables,
        )
    say(f"member {member.id} ({member.membership.value} {member.kind.value}) added to {group!r}")


@group_app.command("remove-member")
def group_remove_member(
    ctx: typer.Context,
    group: str,
    member_id: Annotated[int, typer.Argument(callback=checked(limits.ID, "member id"))],
) -> None:
    """Take a member out of a target group (ids are shown by `target-group show`)."""
    with open_fleet(ctx) as fleet:
        fleet.remove_member(group, member_id)
    say(f"member {member_id} removed from {group!r}")


# -- jobs -------------------------------------------------------------------------------------

ScheduleOption = Annotated[
    str | None,
    typer.Option(
        "--schedule",
        metavar="SPEC",
        help="once | 'every N minutes|hours|days|weeks|months' | a cron expression.",
    ),
]
TimezoneOption = Annotated[
    str | None,
    typer.Option("--timezone", metavar="TZ", help="IANA time zone of the schedule (default UTC)."),
]
StartOption = Annotated[
    str | None, typer.Option("--start", metavar="TIME", help="Schedule start time (ISO-8601).")
]
EndOption = Annotated[
    str | None, typer.Option("--end", metavar="TIME", help="Schedule end time (ISO-8601).")
]


def _schedule(
    spec: str | None, timezone: str | None, start: str | None, end: str | None
) -> Schedule | None:
    if spec is None:
        if timezone is not None or start is not None or end is not None:
            raise InvalidValue("--timezone, --start and --end need --schedule")
        return None
    # An empty --timezone is a mistake to report, not a way to say UTC.
    zone = "UTC" if timezone is None else timezone
    return Schedule.parse(
        spec,
        timezone=zone,
        start_time=parse_time(start, zone) if start is not None else None,
        end_time=parse_time(end, zone) if end is not None else None,
    )


NotifyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--notify",
        metavar="URL",
        help="A webhook (http/https) told when an execution ends; repeat for several. "
        "The URL is stored encrypted and shown masked.",
    ),
]
NotifyEnvOption = Annotated[
    list[str] | None,
    typer.Option(
        "--notify-env",
        metavar="VAR",
        help="A webhook whose URL is in this environment variable (keeps it off the "
        "command line); repeatable.",
    ),
]
NotifyOnOption = Annotated[
    str | None,
    typer.Option(
        "--notify-on",
        metavar="WHEN",
        help="failure (default): only when an execution did not succeed; always: every end.",
    ),
]
NotifySecretStdin = Annotated[
    bool,
    typer.Option(
        "--notify-secret-stdin",
        help="Read a secret that signs each notification (HMAC-SHA256) from standard input.",
    ),
]
NotifySecretEnv = Annotated[
    str | None,
    typer.Option(
        "--notify-secret-env",
        metavar="VAR",
        help="Read the notifications' signing secret from this environment variable.",
    ),
]


def _read_notify_secret(stdin: bool, env: str | None) -> Secret | None:
    """The notify secret, from standard input or an environment variable: never an argument."""
    if stdin and env:
        raise InvalidValue("give --notify-secret-stdin or --notify-secret-env, not both")
    if stdin:
        try:
            line = sys.stdin.readline()
        except UnicodeDecodeError:
            raise InvalidValue("the notify secret on standard input is not UTF-8 text") from None
        if not line.rstrip("\r\n"):
            raise InvalidValue("no notify secret on standard input")
        return Secret(line.rstrip("\r\n"))
    if env:
        value = os.environ.get(env)
        if value is None:
            raise InvalidValue(f"environment variable {env} is not set")
        return Secret(value)
    return None


def _webhooks(
    urls: list[str] | None,
    url_envs: list[str] | None,
    on: str | None,
    secret_stdin: bool,
    secret_env: str | None,
) -> list[WebhookSpec] | None:
    """The webhooks the options give, or None when they give none."""
    secret = _read_notify_secret(secret_stdin, secret_env)
    given = [Secret(url) for url in urls or []]
    for name in url_envs or []:
        value = os.environ.get(name)
        if value is None:
            raise InvalidValue(f"environment variable {name} is not set")
        given.append(Secret(value))
    if not given:
        if on is not None or secret is not None:
            raise InvalidValue(
                "--notify-on and the notify secret go with --notify or --notify-env "
                "(a job's webhooks are given as a whole)"
            )
        return None
    return [WebhookSpec(url, "failure" if on is None else on, secret) for url in given]


@job_app.command("add")
def job_add(
    ctx: typer.Context,
    name: str,
    description: Annotated[str, typer.Option("--description", metavar="TEXT")] = "",
    schedule: ScheduleOption = None,
    timezone: TimezoneOption = None,
    start: StartOption = None,
    end: EndOption = None,
    enable: Annotated[
        bool, typer.Option("--enable/--disable", help="Whether the schedule fires.")
    ] = False,
    notify: NotifyOption = None,
    notify_env: NotifyEnvOption = None,
    notify_on: NotifyOnOption = None,
    notify_secret_stdin: NotifySecretStdin = False,
    notify_secret_env: NotifySecretEnv = None,
) -> None:
    """Create a job. Add steps with `job add-step`."""
    parsed = _schedule(schedule, timezone, start, end)
    webhooks = _webhooks(notify, notify_env, notify_on, notify_secret_stdin, notify_secret_env)
    with open_fleet(ctx) as fleet:
        fleet.add_job(
            name,
            description=description,
            enabled=enable,
            schedule=parsed,
            webhooks=webhooks or [],
        )
    say(f"job {name!r} added (version 1)")


@job_app.command("update")
def job_update(
    ctx: typer.Context,
    name: str,
    new_name: Annotated[str | None, typer.Option("--name", help="Rename the job.")] = None,
    description: Annotated[str | None, typer.Option("--description", metavar="TEXT")] = None,
    schedule: ScheduleOption = None,
    timezone: TimezoneOption = None,
    start: StartOption = None,
    end: EndOption = None,
    no_schedule: Annotated[
        bool, typer.Option("--no-schedule", help="Remove the schedule.")
    ] = False,
    enable: Annotated[bool | None, typer.Option("--enable/--disable")] = None,
    notify: Annotated[
        list[str] | None,
        typer.Option(
            "--notify",
            metavar="URL",
            help="Replace the job's webhooks with these (repeatable).",
        ),
    ] = None,
    notify_env: NotifyEnvOption = None,
    notify_on: NotifyOnOption = None,
    notify_secret_stdin: NotifySecretStdin = False,
    notify_secret_env: NotifySecretEnv = None,
    no_notify: Annotated[
        bool, typer.Option("--no-notify", help="Remove every webhook of the job.")
    ] = False,
) -> None:
    """Change a job's settings; this makes a new version."""
    if no_schedule and schedule:
        raise InvalidValue("give --schedule or --no-schedule, not both")
    parsed: Any = None if no_schedule else UNCHANGED
    if schedule is not None or any(v is not None for v in (timezone, start, end)):
        parsed = _schedule(schedule, timezone, start, end)
    if no_notify and (notify or notify_env):
        raise InvalidValue("give --notify or --no-notify, not both")
    webhooks = _webhooks(notify, notify_env, notify_on, notify_secret_stdin, notify_secret_env)
    if no_notify:
        webhooks = []
    if (
        new_name is None
        and description is None
        and enable is None
        and parsed is UNCHANGED
        and webhooks is None
    ):
        raise InvalidValue("nothing to change")
    with open_fleet(ctx) as fleet:
        job = fleet.update_job(
            name,
            new_name=new_name,
            description=description,
            enabled=enable,
            schedule=parsed,
            webhooks=webhooks,
        )
    say(f"job {job.name!r} updated (version {job.version})")


@job_app.command("list")
def job_list(ctx: typer.Context, json: JsonOption = False) -> None:
    """List jobs."""
    with open_fleet(ctx) as fleet:
        jobs = fleet.list_jobs()
    if json:
        print_json([documents.job(j) for j in jobs])
        return
    print_table(
        ["NAME", "VERSION", "ENABLED", "SCHEDULE", "STEPS", "DESCRIPTION"],
        [
            (
                j.name,
                j.version,
                "yes" if j.enabled else "no",
                j.schedule or "",
                len(j.steps),
                j.description,
            )
            for j in jobs
        ],
        title="jobs",
    )


@job_app.command("show")
def job_show(
    ctx: typer.Context,
    name: str,
    version: Annotated[int | None, number_option("--version", limits.VERSION)] = None,
    json: JsonOption = False,
) -> None:
    """Show a job with every setting of its steps."""
    with open_fleet(ctx) as fleet:
        job = fleet.get_job(name, version)
    if json:
        print_json(documents.job(job))
        return
    _print_job(job)


def _print_job(job: Job) -> None:
    print_fields(
        [
            ("job", job.name),
            ("version", job.version),
            ("enabled", "yes" if job.enabled else "no"),
            ("schedule", job.schedule or "none (started by hand)"),
            ("description", job.description),
            *[
                (f"notify {i}", f"{w.url} on {w.on}" + (", signed" if w.signed else ""))
                for i, w in enumerate(job.webhooks, start=1)
            ],
        ]
    )
    for step in job.steps:
        doc = documents.step(step)
        say("")
        say(f"step {step.step_id}: {step.name}")
        fields = [
            (k, v) for k, v in doc.items() if k not in ("step_id", "step_name", "command", "output")
        ]
        if doc["output"]:
            fields += list(doc["output"].items())
        print_fields(fields)
        say("command:")
        for line in step.settings.command.splitlines():
            say(f"    {line}")


@job_app.command("remove")
def job_remove(
    ctx: typer.Context,
    name: str,
    force: Annotated[
        bool, typer.Option("--force", help="Also when executions are active.")
    ] = False,
) -> None:
    """Delete a job, its versions and its history."""
    with open_fleet(ctx) as fleet:
        fleet.remove_job(name, force=force)
    say(f"job {name!r} removed")


# -- steps ------------------------------------------------------------------------------------


def _step_options(
    *,
    command: str | None,
    command_file: str | None,
    target_group: str | None,
    credential: str | None,
    retry_attempts: int | None,
    initial_retry_interval: float | None,
    maximum_retry_interval: float | None,
    backoff_multiplier: float | None,
    timeout: int | None,
    connect_timeout: int | None,
    max_parallelism: int | None,
    result_rows: int | None,
    continue_on_failure: bool | None,
    canary: int | None,
    wave_size: str | None,
    wave_pause: float | None,
    max_failures: str | None,
    retry_on: str | None,
    allow_database_switch: bool | None,
    fresh_connection: bool | None,
    output_server: str | None,
    output_database: str | None,
    output_schema: str | None,
    output_table: str | None,
    output_credential: str | None,
) -> dict[str, Any]:
    if command is not None and command_file is not None:
        raise InvalidValue("give --command or --command-file, not both")
    if command_file is not None:
        command = read_command_file(command_file)
    given = {
        "server_url": output_server,
        "database": output_database,
        "schema": output_schema,
        "table": output_table,
        "credential": output_credential,
    }
    # Only the fields given: `update-step` keeps the others, `add-step` needs them all.
    output_changes = {field: value for field, value in given.items() if value is not None}
    return {
        "command": command,
        "target_group": target_group,
        "credential": credential,
        "retry_attempts": retry_attempts,
        "initial_retry_interval_seconds": initial_retry_interval,
        "maximum_retry_interval_seconds": maximum_retry_interval,
        "retry_interval_backoff_multiplier": backoff_multiplier,
        "step_timeout_seconds": timeout,
        "connect_timeout_seconds": connect_timeout,
        "max_parallelism": max_parallelism,
        "result_rows": result_rows,
        "continue_on_failure": continue_on_failure,
        "canary": canary,
        "wave_size": wave_size,
        "wave_pause_seconds": wave_pause,
        "max_failures": max_failures,
        "retry_on": retry_on,
        "allow_database_switch": allow_database_switch,
        "fresh_connection": fresh_connection,
        "output_changes": output_changes or None,
    }


def _step_option(field: str) -> Any:
    """The CLI option of a step setting: flag, help and checks from `limits.STEP_SETTINGS`."""
    setting = limits.STEP_SETTING[field]
    if isinstance(setting.limit, limits.Number):
        return number_option(setting.flag, setting.limit, metavar=setting.metavar)
    return typer.Option(setting.flag, metavar=setting.metavar, help=setting.help_text)


Command = Annotated[str | None, _step_option("command")]
CommandFile = Annotated[
    str | None, typer.Option("--command-file", metavar="PATH", help="Read the script from a file.")
]
RetryAttempts = Annotated[int | None, _step_option("retry_attempts")]
InitialInterval = Annotated[float | None, _step_option("initial_retry_interval_seconds")]
MaximumInterval = Annotated[float | None, _step_option("maximum_retry_interval_seconds")]
Backoff = Annotated[float | None, _step_option("retry_interval_backoff_multiplier")]
Timeout = Annotated[int | None, _step_option("step_timeout_seconds")]
ConnectTimeout = Annotated[int | None, _step_option("connect_timeout_seconds")]
MaxParallelism = Annotated[int | None, _step_option("max_parallelism")]
Canary = Annotated[int | None, _step_option("canary")]
WaveSize = Annotated[str | None, _step_option("wave_size")]
WavePause = Annotated[float | None, _step_option("wave_pause_seconds")]
MaxFailures = Annotated[str | None, _step_option("max_failures")]
RetryOn = Annotated[str | None, _step_option("retry_on")]
ResultRows = Annotated[int | None, _step_option("result_rows")]
_NAME_HELP = f"(up to {limits.MAX_NAME} characters)"
OutputServer = Annotated[
    str | None,
    typer.Option(
        "--output-server",
        metavar="URL",
        help=f"Server of the output table (up to {limits.MAX_URL:,} characters).",
    ),
]
OutputDatabase = Annotated[
    str | None,
    typer.Option("--output-database", metavar="DB", help=f"Its database {_NAME_HELP}."),
]
OutputSchema = Annotated[
    str | None, typer.Option("--output-schema", metavar="S", help=f"Its schema {_NAME_HELP}.")
]
OutputTable = Annotated[
    str | None, typer.Option("--output-table", metavar="T", help=f"The table {_NAME_HELP}.")
]
OutputCredential = Annotated[
    str | None,
    typer.Option("--output-credential", metavar="C", help="The credential that writes it."),
]


@job_app.command("add-step")
def job_add_step(
    ctx: typer.Context,
    job: str,
    name: Annotated[str, typer.Option("--name", help="Step name, unique in the job.")],
    target_group: Annotated[str, _step_option("target_group")],
    credential: Annotated[str, _step_option("credential")],
    command: Command = None,
    command_file: CommandFile = None,
    retry_attempts: RetryAttempts = None,
    initial_retry_interval: InitialInterval = None,
    maximum_retry_interval: MaximumInterval = None,
    backoff_multiplier: Backoff = None,
    timeout: Timeout = None,
    connect_timeout: ConnectTimeout = None,
    max_parallelism: MaxParallelism = None,
    result_rows: ResultRows = None,
    continue_on_failure: Annotated[bool, _step_option("continue_on_failure")] = False,
    canary: Canary = None,
    wave_size: WaveSize = None,
    wave_pause: WavePause = None,
    max_failures: MaxFailures = None,
    retry_on: RetryOn = None,
    allow_database_switch: Annotated[bool, _step_option("allow_database_switch")] = False,
    fresh_connection: Annotated[bool, _step_option("fresh_connection")] = False,
    output_server: OutputServer = None,
    output_database: OutputDatabase = None,
    output_schema: OutputSchema = None,
    output_table: OutputTable = None,
    output_credential: OutputCredential = None,
) -> None:
    """Append a step to a job; this makes a new version."""
    if command is None and command_file is None:
        raise InvalidValue("give the script with --command SQL or --command-file PATH")
    settings = _step_options(
        **{k: v for k, v in locals().items() if k not in ("ctx", "job", "name")}
    )
    with open_fleet(ctx) as fleet:
        updated = fleet.add_step(job, name, **settings)
    say(f"step {name!r} added to job {job!r} (version {updated.version})")


@job_app.command("update-step")
def job_update_step(
    ctx: typer.Context,
    job: str,
    step: str,
    new_name: Annotated[str | None, typer.Option("--name", help="Rename the step.")] = None,
    target_group: Annotated[str | None, _step_option("target_group")] = None,
    credential: Annotated[str | None, _step_option("credential")] = None,
    command: Command = None,
    command_file: CommandFile = None,
    retry_attempts: RetryAttempts = None,
    initial_retry_interval: InitialInterval = None,
    maximum_retry_interval: MaximumInterval = None,
    backoff_multiplier: Backoff = None,
    timeout: Timeout = None,
    connect_timeout: ConnectTimeout = None,
    max_parallelism: MaxParallelism = None,
    result_rows: ResultRows = None,
    continue_on_failure: Annotated[
        bool | None,
        typer.Option(
            "--continue-on-failure/--stop-on-failure",
            help=limits.STEP_SETTING["continue_on_failure"].help_text,
        ),
    ] = None,
    canary: Canary = None,
    wave_size: WaveSize = None,
    wave_pause: WavePause = None,
    max_failures: MaxFailures = None,
    retry_on: RetryOn = None,
    allow_database_switch: Annotated[
        bool | None,
        typer.Option(
            "--allow-database-switch/--forbid-database-switch",
            help=limits.STEP_SETTING["allow_database_switch"].help_text,
        ),
    ] = None,
    fresh_connection: Annotated[
        bool | None,
        typer.Option(
            "--fresh-connection/--reuse-connection",
            help=limits.STEP_SETTING["fresh_connection"].help_text,
        ),
    ] = None,
    output_server: OutputServer = None,
    output_database: OutputDatabase = None,
    output_schema: OutputSchema = None,
    output_table: OutputTable = None,
    output_credential: OutputCredential = None,
    no_output: Annotated[
        bool, typer.Option("--no-output", help="Remove the output destination.")
    ] = False,
) -> None:
    """Change some settings of a step; this makes a new version."""
    options = {
        k: v
        for k, v in locals().items()
        if k not in ("ctx", "job", "step", "new_name", "no_output")
    }
    settings = _step_options(**options)
    if no_output:
        if settings["output_changes"] is not None:
            raise InvalidValue("give output options or --no-output, not both")
        settings["remove_output"] = True
    if new_name is None and all(v is None for v in settings.values()):
        raise InvalidValue("nothing to change")
    with open_fleet(ctx) as fleet:
        updated = fleet.update_step(job, step, new_name=new_name, **settings)
    say(f"step {new_name or step!r} of job {job!r} updated (version {updated.version})")


@job_app.command("remove-step")
def job_remove_step(ctx: typer.Context, job: str, step: str) -> None:
    """Remove a step from a job; this makes a new version."""
    with open_fleet(ctx) as fleet:
        updated = fleet.remove_step(job, step)
    say(f"step {step!r} removed from job {job!r} (version {updated.version})")


@job_app.command("versions")
def job_versions(ctx: typer.Context, name: str, json: JsonOption = False) -> None:
    """List the versions of a job."""
    with open_fleet(ctx) as fleet:
        versions = fleet.job_versions(name)
    if json:
        print_json([documents.job_version(v) for v in versions])
        return
    print_table(
        ["VERSION", "CREATED"], [(v.version, f"{v.created_at:%Y-%m-%d %H:%M:%S}") for v in versions]
    )
