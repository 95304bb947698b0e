"""Commands that run things and show what ran: run, start, stop, execution, purge, resolve."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from sqlfleet import documents, limits
from sqlfleet.cli.app import (
    JsonOption,
    app,
    checked,
    number_option,
    open_fleet,
    print_columns,
    print_fields,
    print_json,
    print_table,
    say,
)
from sqlfleet.cli.attempts import print_attempts, print_first_errors, target_document
from sqlfleet.cli.definitions import group_app
from sqlfleet.cli.preview import DryRunOption, PreflightOption, TrialOption, show_preview
from sqlfleet.errors import InvalidValue, JobDatabaseUnavailable
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import TARGET_SORTS, JobExecution
from sqlfleet.variables import describe

if TYPE_CHECKING:
    from sqlfleet.fleet import Fleet
    from sqlfleet.store.announcements import ExecutionChange

R = TypeVar("R")
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
# How long `start --wait`, interrupted, waits for the agents to cancel running targets.
CANCEL_WAIT_SECONDS = 15.0
# How often `start --wait` looks at its execution, besides when PostgreSQL announces a change.
FOLLOW_POLL_SECONDS = 0.5
SUCCESS = (Lifecycle.SUCCEEDED, Lifecycle.SUCCEEDED_WITH_SKIPPED)
FAILING = (Lifecycle.FAILED, Lifecycle.TIMED_OUT, Lifecycle.CANCELED)
ORDER = [s.value for s in Lifecycle]

execution_app = typer.Typer(
    help="Executions: what ran, where, and how it ended.", no_args_is_help=True
)
app.add_typer(execution_app, name="execution")


def _counts(execution: JobExecution) -> str:
    counts = execution.target_counts
    if not counts:
        return "no targets yet"
    return ", ".join(f"{counts[s]} {s}" for s in sorted(counts, key=ORDER.index))


class Progress:
    """Shows an execution's progress: a live bar on a terminal, plain lines otherwise."""

    def __init__(self, fleet: Fleet, *, quiet: bool) -> None:
        self.fleet = fleet
        self.quiet = quiet
        self.live = sys.stderr.isatty() and not quiet
        self._last_line = ""
        self._last_print = 0.0

    async def follow(self, execution_id: int, done: asyncio.Event) -> None:
        """Show progress until `done` is set."""
        if self.quiet:
            await done.wait()
            return
        if self.live:
            await self._follow_live(execution_id, done)
        else:
            await self._follow_plain(execution_id, done)

    async def _poll(self, execution_id: int) -> JobExecution:
        return await patiently(self.fleet, self.fleet.get_execution, execution_id)

    async def _follow_plain(self, execution_id: int, done: asyncio.Event) -> None:
        while not done.is_set():
            execution = await self._poll(execution_id)
            line = f"execution {execution.id}: {execution.lifecycle.value} ({_counts(execution)})"
            now = time.monotonic()
            if line != self._last_line and now - self._last_print >= 1.0:
                typer.echo(line, err=True)
                self._last_line, self._last_print = line, now
            await _wait(1.0, done)

    async def _follow_live(self, execution_id: int, done: asyncio.Event) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        column = BarColumn()
        with Bar(
            TextColumn("execution {task.fields[id]}"),
            column,
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[counts]}"),
            transient=False,
        ) as bar:
            task = bar.add_task("run", total=None, id=execution_id, counts="starting")
            while True:
                execution = await self._poll(execution_id)
                total = sum(execution.target_counts.values())
                ended = sum(
                    n for s, n in execution.target_counts.items() if Lifecycle(s).is_terminal
                )
                if any(execution.target_counts.get(s.value) for s in FAILING):
                    # Red as soon as a target failed: no need to wait for the end to know.
                    column.complete_style = column.finished_style = "red"
                bar.update(task, total=total or None, completed=ended, counts=_counts(execution))
                if done.is_set():
                    break
                await _wait(0.25, done)


async def patiently(fleet: Fleet, call: Callable[[int], R], argument: int) -> R:
    """`call(argument)` off the event loop, waiting out a job database that is away (a
    restart, a short outage): the store says so once on stderr, and again when it is back."""
    while True:
        try:
            return await asyncio.to_thread(call, argument)
        except JobDatabaseUnavailable:
            await asyncio.sleep(fleet.availability.retry_delay(0.5))


async def _wait(seconds: float, *events: asyncio.Event) -> None:
    """Until one of `events` is set, or `seconds` have passed."""
    waiting = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiting, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiting:
            waiter.cancel()


async def _with_progress(
    fleet: Fleet,
    progress: Progress,
    work: Callable[[Callable[[JobExecution], None]], Awaitable[JobExecution]],
) -> JobExecution:
    """Run `work`, following the execution it creates until it ends."""
    done = asyncio.Event()
    follower: list[asyncio.Task[None]] = []

    def created(execution: JobExecution) -> None:
        typer.echo(f"execution {execution.id} of job {execution.job_name!r} created", err=True)
        follower.append(asyncio.create_task(progress.follow(execution.id, done)))

    try:
        return await work(created)
    finally:
        done.set()
        if follower:
            await follower[0]


class Interrupt:
    """SIGINT/SIGTERM while a command runs: the first sets `event`, a second gives up at once."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    @contextlib.contextmanager
    def handling(self) -> Iterator[asyncio.Event]:
        """Catch the signals on the running loop for the duration; yields `event`."""
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            # A shell starts background jobs with SIGINT ignored: a Ctrl-C meant for the
            # foreground must not cancel them.
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue
            loop.add_signal_handler(sig, self._received)
            installed.append(sig)
        try:
            yield self.event
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    def _received(self) -> None:
        if self.event.is_set():
            # The second one: stop cleaning up (the leases let others finish the work).
            raise KeyboardInterrupt
        self.event.set()

    @contextlib.contextmanager
    def quit_on_second(self) -> Iterator[None]:
        """A second signal ends the command at once, with one line and exit code 130."""
        try:
            yield
        except KeyboardInterrupt:
            typer.echo(
                "interrupted again: quit without waiting; targets still running end when "
                "their lease runs out",
                err=True,
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None

    @property
    def happened(self) -> bool:
        """Whether a signal came."""
        return self.event.is_set()


def _interrupted(execution: JobExecution, json: bool) -> None:
    """Say how an interrupted command left its execution, and exit 130."""
    if json:
        print_json(documents.job_execution(execution))
    state = execution.lifecycle
    what = "canceled" if state is Lifecycle.CANCELED else f"had already ended {state.value}"
    running = sum(n for s, n in execution.target_counts.items() if not Lifecycle(s).is_terminal)
    still = f" ({running} target(s) still being canceled by their agents)" if running else ""
    typer.echo(f"interrupted: execution {execution.id} {what}{still}", err=True)
    raise typer.Exit(EXIT_INTERRUPTED)


def _finish(execution: JobExecution, json: bool, *, interrupted: bool = False) -> None:
    if interrupted:
        _interrupted(execution, json)
    if json:
        print_json(documents.job_execution(execution))
    else:
        say(f"execution {execution.id}: {execution.lifecycle.value} ({_counts(execution)})")
        if execution.lifecycle not in SUCCESS and execution.last_message:
            hint = f"sqlfleet execution show {execution.id} --failed"
            say(f"  {execution.last_message}; see `{hint}`")
    if execution.lifecycle not in SUCCESS:
        raise typer.Exit(EXIT_FAILED)


LeaseOption = Annotated[float, number_option("--lease-seconds", limits.LEASE_SECONDS, metavar="S")]


WebUrlOption = Annotated[
    str | None,
    typer.Option(
        "--web-url",
        metavar="URL",
        help="The web UI's address, for links in notifications (default: $SQLFLEET_WEB_URL).",
    ),
]


@app.command()
def run(
    ctx: typer.Context,
    job: str,
    concurrency: Annotated[int, number_option("--concurrency", limits.CONCURRENCY)] = 100,
    lease_seconds: LeaseOption = 60.0,
    json: JsonOption = False,
    dry_run: DryRunOption = False,
    preflight: PreflightOption = False,
    trial: TrialOption = False,
    web_url: WebUrlOption = None,
) -> None:
    """Create an execution of JOB and run it here, now. Exit 0 only if it succeeded.

    Ctrl-C (or SIGTERM) cancels the execution: running statements are canceled on the
    server, every target ends Canceled, and the exit code is 130. A second Ctrl-C quits at
    once; what was running is then taken over when its lease runs out.
    """
    interrupt = Interrupt()
    with open_fleet(ctx) as fleet:
        if dry_run or preflight:
            show_preview(fleet, job, dry_run=dry_run, preflight=preflight, json=json)
            return
        progress = Progress(fleet, quiet=json)

        async def work(created: Callable[[JobExecution], None]) -> JobExecution:
            with interrupt.handling() as stop:
                return await fleet.run(
                    job,
                    concurrency=concurrency,
                    on_created=created,
                    stop=stop,
                    lease=timedelta(seconds=lease_seconds),
                    trial=trial,
                    web_url=web_url,
                )

        with interrupt.quit_on_second():
            execution = asyncio.run(_with_progress(fleet, progress, work))
    _finish(execution, json, interrupted=interrupt.happened)


@app.command()
def start(
    ctx: typer.Context,
    job: str,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow it until it ends; exit 0 only if it succeeded.")
    ] = False,
    json: JsonOption = False,
    dry_run: DryRunOption = False,
    preflight: PreflightOption = False,
    trial: TrialOption = False,
) -> None:
    """Create an execution of JOB for the agents to run.

    With --wait, Ctrl-C (or SIGTERM) stops the execution, as `sqlfleet stop` does: the
    agents cancel its running statements, it ends Canceled, and the exit code is 130. To
    stop only the waiting, start without --wait and follow with `sqlfleet execution show`.
    """
    interrupt = Interrupt()
    with open_fleet(ctx) as fleet:
        if dry_run or preflight:
            show_preview(fleet, job, dry_run=dry_run, preflight=preflight, json=json)
            return
        execution = fleet.create_execution(job, trigger="manual", trial=trial)
        if not wait:
            if json:
                print_json(documents.job_execution(execution))
            else:
                say(f"execution {execution.id} of job {job!r} created")
            return
        progress = Progress(fleet, quiet=json)

        async def follow() -> JobExecution:
            done = asyncio.Event()
            follower = asyncio.create_task(progress.follow(execution.id, done))
            try:
                with interrupt.handling() as stop:
                    return await _follow(fleet, execution.id, stop)
            finally:
                done.set()
                await follower

        typer.echo(f"execution {execution.id} of job {job!r} created", err=True)
        with interrupt.quit_on_second():
            ended = asyncio.run(follow())
    _finish(ended, json, interrupted=interrupt.happened)


async def _follow(fleet: Fleet, execution_id: int, stop: asyncio.Event) -> JobExecution:
    """Wait for an execution the agents run to end; once `stop` is set, cancel it.

    It polls, and on PostgreSQL looks again as soon as the job database announces a change
    of the execution.
    """
    changed = asyncio.Event()

    def announced(change: ExecutionChange) -> None:
        if change.job_execution_id in (None, execution_id):
            changed.set()

    listening = asyncio.create_task(fleet.listen_for_changes(announced))
    try:
        deadline: float | None = None
        while True:
            if stop.is_set() and deadline is None:
                with contextlib.suppress(InvalidValue):  # it had ended already
                    await asyncio.to_thread(fleet.stop, execution_id)
                deadline = time.monotonic() + CANCEL_WAIT_SECONDS
            changed.clear()
            current = await patiently(fleet, fleet.get_execution, execution_id)
            if current.lifecycle.is_terminal:
                # Stopped: give the agents a moment to cancel the running statements.
                running = any(not Lifecycle(s).is_terminal for s in current.target_counts)
                if deadline is None or not running or time.monotonic() > deadline:
                    return current
            if deadline is None:
                await _wait(FOLLOW_POLL_SECONDS, stop, changed)
            else:
                await asyncio.sleep(0.2)
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening


ExecutionId = Annotated[int, typer.Argument(callback=checked(limits.ID, "execution id"))]


@app.command()
def stop(ctx: typer.Context, execution_id: ExecutionId) -> None:
    """Cancel an execution: nothing more starts, running statements are canceled."""
    with open_fleet(ctx) as fleet:
        execution = fleet.stop(execution_id)
    say(f"execution {execution.id}: {execution.lifecycle.value}")


@execution_app.command("resume")
def execution_resume(
    ctx: typer.Context,
    execution_id: ExecutionId,
    concurrency: Annotated[int, number_option("--concurrency", limits.CONCURRENCY)] = 100,
    lease_seconds: LeaseOption = 60.0,
    json: JsonOption = False,
) -> None:
    """Run what is left of an execution here, now, as `run` does (e.g. after `run` was killed).

    Refuses an execution that ended, or one a running agent still holds. Targets held by a
    `run` killed on this host are taken over at once; those of a process elsewhere when its
    lease runs out. Ctrl-C cancels the execution, as in `run`.
    """
    interrupt = Interrupt()
    with open_fleet(ctx) as fleet:
        for note in fleet.prepare_resume(execution_id):
            typer.echo(note, err=True)
        typer.echo(f"execution {execution_id}: resuming here", err=True)
        progress = Progress(fleet, quiet=json)

        async def work() -> JobExecution:
            done = asyncio.Event()
            follower = asyncio.create_task(progress.follow(execution_id, done))
            try:
                with interrupt.handling() as stop:
                    return await fleet.run_execution(
                        execution_id,
                        concurrency=concurrency,
                        stop=stop,
                        lease=timedelta(seconds=lease_seconds),
                    )
            finally:
                done.set()
                await follower

        with interrupt.quit_on_second():
            execution = asyncio.run(work())
    _finish(execution, json, interrupted=interrupt.happened)


@execution_app.command("list")
def execution_list(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option("--job", help="Only this job's executions.")] = None,
    count: Annotated[int | None, number_option("--count", limits.COUNT)] = None,
    active: Annotated[
        bool, typer.Option("--active", help="Only executions still running.")
    ] = False,
    lifecycle: Annotated[
        str | None, typer.Option("--lifecycle", metavar="STATE", help="Only in this state.")
    ] = None,
    json: JsonOption = False,
) -> None:
    """List executions, newest first."""
    with open_fleet(ctx) as fleet:
        executions = fleet.list_executions(job=job, count=count, active=active, lifecycle=lifecycle)
    if json:
        print_json([documents.job_execution(e) for e in executions])
        return
    print_table(
        ["ID", "JOB", "VERSION", "LIFECYCLE", "CREATED", "ENDED", "TARGETS"],
        [
            (
                e.id,
                e.job_name,
                e.job_version,
                e.lifecycle.value + _marks(e),
                f"{e.create_time:%Y-%m-%d %H:%M:%S}",
                f"{e.end_time:%H:%M:%S}" if e.end_time else "",
                _counts(e),
            )
            for e in executions
        ],
        title="executions",
    )


@execution_app.command("show")
def execution_show(
    ctx: typer.Context,
    execution_id: ExecutionId,
    steps: Annotated[bool, typer.Option("--steps", help="Show each step.")] = False,
    targets: Annotated[bool, typer.Option("--targets", help="Show each target.")] = False,
    failed: Annotated[
        bool,
        typer.Option(
            "--failed",
            help="Only targets that did not succeed, with their first error when it differs.",
        ),
    ] = False,
    attempts: Annotated[
        bool,
        typer.Option("--attempts", help="Each target's attempts, with their messages."),
    ] = False,
    search: Annotated[
        str | None,
        typer.Option("--search", help="Only targets whose server or database name holds this."),
    ] = None,
    sort: Annotated[
        str,
        typer.Option("--sort", help=f"Sort targets by {', '.join(TARGET_SORTS)}."),
    ] = "step",
    limit: Annotated[int | None, number_option("--limit", limits.COUNT)] = None,
    offset: Annotated[int, number_option("--offset", limits.OFFSET)] = 0,
    json: JsonOption = False,
) -> None:
    """Show an execution, and with --steps/--targets/--attempts its steps and targets.

    --limit and --offset page through the targets; without --limit all of them are printed.
    """
    targets = targets or attempts
    with open_fleet(ctx) as fleet:
        execution = fleet.get_execution(execution_id)
        step_list = fleet.list_step_executions(execution_id) if steps or json else []
        states = (
            [s.value for s in Lifecycle if s.is_terminal and s not in SUCCESS] if failed else None
        )
        target_list = (
            fleet.list_target_executions(
                execution_id,
                lifecycle=states,
                search=search,
                sort=sort,
                limit=limit,
                offset=offset,
            )
            if targets or failed
            else []
        )
        tried = (
            fleet.list_execution_attempts(execution_id, [t.id for t in target_list])
            if attempts or failed
            else {}
        )
        notifications = fleet.list_deliveries(execution_id)
    if json:
        document = documents.job_execution(execution)
        document["steps"] = [documents.step_execution(s) for s in step_list]
        document["notifications"] = [documents.delivery(d) for d in notifications]
        if targets or failed:
            document["targets"] = [
                target_document(t, tried.get(t.id), attempts=attempts) for t in target_list
            ]
        print_json(document)
        return
    print_fields(
        [
            ("execution", execution.id),
            ("job", f"{execution.job_name} (version {execution.job_version})"),
            ("lifecycle", execution.lifecycle.value + _marks(execution)),
            *([("re-runs", f"execution {execution.rerun_of}")] if execution.rerun_of else []),
            ("created", _time(execution.create_time)),
            ("started", _time(execution.start_time)),
            ("ended", _time(execution.end_time)),
            ("targets", _counts(execution)),
            ("message", execution.last_message),
        ]
    )
    if step_list:
        say("")
        print_table(
            ["STEP", "NAME", "LIFECYCLE", "TARGETS", "MESSAGE"],
            [
                (
                    s.step_id,
                    s.step_name,
                    s.lifecycle.value,
                    _counts_of(s.target_counts),
                    s.last_message or "",
                )
                for s in step_list
            ],
        )
    if targets or failed:
        say("")
        # A column of the targets' own variables, when any target has some.
        with_variables = any(t.target_variables for t in target_list)
        print_columns(
            [
                "STEP",
                "SERVER",
                "DATABASE",
                *(["VARIABLES"] if with_variables else []),
                "LIFECYCLE",
                "ATTEMPTS",
                "STARTED",
                "ENDED",
                "LAST MESSAGE",
            ],
            [
                (
                    t.step_id,
                    t.target_server_name,
                    t.target_database_name
                    + (f" ({t.target_schema_name})" if t.target_schema_name else ""),
                    *([describe(t.target_variables)] if with_variables else []),
                    t.lifecycle.value,
                    t.current_attempts,
                    f"{t.start_time:%H:%M:%S}" if t.start_time else "",
                    f"{t.end_time:%H:%M:%S}" if t.end_time else "",
                    (t.last_message or "").replace("\n", " ")[:200],
                )
                for t in target_list
            ],
            title="targets",
        )
        if failed:
            print_first_errors(target_list, tried)
    if attempts:
        print_attempts(target_list, tried)
    if notifications:
        say("")
        print_table(
            ["EVENT", "WEBHOOK", "STATE", "ATTEMPTS", "STATUS", "REASON", "UPDATED"],
            [
                (
                    d.event + (f" ({d.step_name})" if d.step_name else ""),
                    d.webhook,
                    d.state,
                    d.attempts,
                    d.last_status or "",
                    (d.last_reason or "")[:120],
                    f"{d.update_time:%H:%M:%S}",
                )
                for d in notifications
            ],
            title="notifications",
        )


def _marks(execution: JobExecution) -> str:
    """What sets an execution apart in a list: a trial, a re-run."""
    marks = ["trial"] if execution.trial else []
    if execution.rerun_of is not None:
        marks.append(f"re-run of {execution.rerun_of}")
    return f" ({', '.join(marks)})" if marks else ""


def _time(moment: datetime | None) -> str | None:
    """A time as `execution list` prints it."""
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment else None


def _counts_of(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[s]} {s}" for s in sorted(counts, key=ORDER.index)) or "-"


@app.command()
def purge(
    ctx: typer.Context,
    older_than: Annotated[
        float, number_option("--older-than", limits.OLDER_THAN_DAYS, metavar="DAYS")
    ] = 45,
    job: Annotated[str | None, typer.Option("--job", help="Only this job's history.")] = None,
) -> None:
    """Delete ended executions older than the retention."""
    with open_fleet(ctx) as fleet:
        deleted = fleet.purge(older_than_days=older_than, job=job)
    say(f"purged {deleted} execution(s)")


@group_app.command("resolve")
def group_resolve(
    ctx: typer.Context,
    name: str,
    credential: Annotated[
        str | None,
        typer.Option(
            "--credential",
            metavar="C",
            help="Enumerate with this credential where a member has no refresh credential.",
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Show the databases a target group resolves to now, without running anything."""
    with open_fleet(ctx) as fleet:
        targets = asyncio.run(fleet.resolve_target_group(name, credential=credential))
    if json:
        print_json([documents.target(t) for t in targets])
        return
    with_variables = any(t.variables for t in targets)
    print_table(
        ["TYPE", "SERVER", "DATABASE", "SCHEMA", *(["VARIABLES"] if with_variables else [])],
        [
            (
                t.target_type,
                t.server_url,
                t.database,
                t.schema or "",
                *([describe(t.variables)] if with_variables else []),
            )
            for t in targets
        ],
        title="targets",
    )
    say(f"{len(targets)} target(s)")
