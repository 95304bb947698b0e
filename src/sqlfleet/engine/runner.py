"""One attempt of one step on one target: connect, run each batch, keep the first result set.

The step timeout covers every attempt on the target: each statement gets what is left of it,
and the driver cancels the statement on the server when it runs out. A failed attempt is
retried after the policy's backoff while attempts and time remain.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlfleet.clock import Clock
from sqlfleet.engine.output import OutputWriter
from sqlfleet.engine.plan import StepPlan
from sqlfleet.engine.results import keep_result
from sqlfleet.engine.sessions import Sessions
from sqlfleet.errors import (
    InvalidCommand,
    MultipleStatements,
    SqlfleetError,
    TargetError,
    TargetQueryError,
    TargetTimeout,
)
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import KeptResult
from sqlfleet.script import substitute
from sqlfleet.servers import ServerUrl
from sqlfleet.statements import Location, Statement, location_of
from sqlfleet.store import ClaimedTarget, Outcome
from sqlfleet.targets import Driver, driver_for
from sqlfleet.variables import shown

MAX_MESSAGE = 4000
# A batch that starts with one of these returns rows: only such a batch can be the step's
# first result set (drivers fetch rows with the extended protocol, one statement per batch).
_QUERY_START = re.compile(
    r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*(select|with|values|show|table|explain|pragma)\b",
    re.I | re.S,
)


@dataclass(slots=True)
class FirstResult:
    """The first result set a target's script produced."""

    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)


@functools.lru_cache(maxsize=4096)
def _server(url: str) -> tuple[ServerUrl, Driver]:
    """A target's server and its driver: the same few servers for thousands of targets."""
    server = ServerUrl.parse(url)
    return server, driver_for(server)


def returns_rows(batch: str) -> bool:
    """Whether a batch looks like a query (so its rows can be kept or go to the output table)."""
    return _QUERY_START.match(batch) is not None


async def run_attempt(
    claimed: ClaimedTarget,
    plan: StepPlan,
    output: OutputWriter | None,
    clock: Clock,
    sessions: Sessions,
) -> Outcome:
    """Run one attempt on a connection from `sessions`; say how it ended; never raises for
    a target's failure."""
    outcome = await _attempt(claimed, plan, output, clock, sessions)
    return _masked(outcome, claimed)


def _masked(outcome: Outcome, claimed: ClaimedTarget) -> Outcome:
    """`outcome` with a password that one of the target's values holds (a connection string
    in a catalog's column) masked wherever a server's error or a statement quotes it."""
    replacements: list[tuple[str, str]] = []
    for _, value in claimed.target.variables:
        masked = shown(value)
        if value is None or masked is None or masked == value:
            continue
        _, driver = _server(claimed.target.server_url)
        replacements.append((value, masked))
        for quote in (driver.quote_literal, driver.quote_identifier):
            with contextlib.suppress(SqlfleetError):
                replacements.append((quote(value), quote(masked)))
    if not replacements:
        return outcome

    def mask(text: str | None) -> str | None:
        if text is None:
            return None
        for secret, masked in replacements:
            text = text.replace(secret, masked)
        return text

    location = outcome.location
    if location is not None and location.statement is not None:
        location = dataclasses.replace(location, statement=mask(location.statement))
    return dataclasses.replace(
        outcome,
        message=mask(outcome.message),
        server_messages=mask(outcome.server_messages),
        location=location,
    )


async def _attempt(
    claimed: ClaimedTarget,
    plan: StepPlan,
    output: OutputWriter | None,
    clock: Clock,
    sessions: Sessions,
) -> Outcome:
    settings = plan.step.settings
    deadline = claimed.first_start_time + timedelta(seconds=settings.step_timeout_seconds)
    target = claimed.target
    messages: list[str] = []
    row_count: int | None = None
    location: Location | None = None
    try:
        remaining = _remaining(deadline, clock)
        server, driver = _server(target.server_url)
        # Everything is read and rendered before connecting: a script that cannot be read,
        # or a value that cannot be put in it, sends nothing.
        rendered = plan.statements(driver.engine)
        variables: dict[str, object] = {}
        if plan.has_references:
            variables = plan.variables(claimed.job_execution_id, target)
            rendered = [
                [dataclasses.replace(s, text=substitute(s.text, variables, driver)) for s in batch]
                for batch in rendered
            ]
        trial = driver.trial_statements if claimed.trial else None
        if claimed.trial and trial is None:
            raise InvalidCommand(
                f"a trial is refused on {driver.engine}: its DDL commits at once, so a "
                "transaction that is rolled back could not undo it"
            )
        lease = await sessions.lease(
            driver,
            server,
            target,
            plan.login,
            connect_timeout=min(float(settings.connect_timeout_seconds), remaining),
            fresh=settings.fresh_connection,
            step_execution_id=claimed.step_execution_id,
        )
        connection = lease.connection
        first: FirstResult | None = None
        keep = settings.result_rows
        try:
            if trial is not None:
                await connection.execute(
                    trial[0], timeout=_remaining(deadline, clock), want_rows=False
                )
            for batch, statements in zip(plan.batches, rendered, strict=True):
                for _ in range(batch.repeat):
                    want_rows = (
                        (output is not None or keep > 0)
                        and first is None
                        and returns_rows(batch.text)
                    )
                    sent = statements
                    result = None
                    try:
                        if want_rows:
                            text = batch.text
                            if plan.has_references:
                                text = substitute(text, variables, driver)
                            sent = [Statement(text, batch.line)]
                            try:
                                result = await connection.execute(
                                    text, timeout=_remaining(deadline, clock), want_rows=True
                                )
                            except MultipleStatements:
                                if output is not None:
                                    raise
                                # Only kept, not written anywhere: a batch of several
                                # statements runs as any other (nothing of it ran) and keeps
                                # no rows.
                                want_rows, sent = False, statements
                        if result is None:
                            result = await connection.run_statements(
                                statements, timeout=_remaining(deadline, clock)
                            )
                    except TargetQueryError as exc:
                        location = _location(batch.number, batch.line, sent, exc, want_rows)
                        raise
                    messages.extend(result.messages)
                    row_count = result.row_count
                    if want_rows and result.columns:
                        first = FirstResult(result.columns, result.rows)
            if trial is not None:
                # Closing would roll back too; saying so makes the server confirm it.
                await connection.execute(
                    trial[1], timeout=_remaining(deadline, clock), want_rows=False
                )
            lease.keep()  # ended cleanly: once reset, it may serve the next target
        finally:
            await lease.release()
        # A trial writes nothing anywhere, its output table included.
        if output is not None and first is not None and first.rows and not claimed.trial:
            await output.append(claimed, first.columns, first.rows)
        kept = keep_result(first.columns, first.rows, keep) if first is not None else None
    except TargetTimeout as exc:
        return _ended(
            claimed,
            Lifecycle.TIMED_OUT,
            clock,
            _timeout_message(exc, settings.step_timeout_seconds),
            row_count,
            messages,
        )
    except InvalidCommand as exc:
        # The script cannot be read by this target's client (an unclosed quote, a psql
        # meta-command, a database switch) or rendered for it (a value that is not a plain
        # name, one that cannot be quoted): nothing was sent, and every retry would render the
        # same script, so the target fails now instead of waiting through its retries.
        return _ended(claimed, Lifecycle.FAILED, clock, exc.message, row_count, messages)
    except TargetError as exc:
        # Judged by the driver that raised it; `retry_on=transient` retries only those.
        retried = exc.transient or settings.retry_on != "transient"
        judged = "transient error" if exc.transient else "not a transient error"
        said = f"{exc.message} ({judged}{'' if retried else ': not retried'})"
        message = said if location is None else _located_message(said, location)
        if not retried:
            return _ended(claimed, Lifecycle.FAILED, clock, message, row_count, messages, location)
        return _failed(claimed, plan, message, deadline, clock, row_count, messages, location)
    except SqlfleetError as exc:
        message = exc.message if location is None else _located_message(exc.message, location)
        return _failed(claimed, plan, message, deadline, clock, row_count, messages, location)
    return _ended(claimed, Lifecycle.SUCCEEDED, clock, None, row_count, messages, result=kept)


def _location(
    batch: int, batch_line: int, sent: list[Statement], exc: TargetQueryError, whole: bool
) -> Location:
    if whole:  # the batch went as one text: the error is in it, wherever the server says
        return location_of(batch, sent, 0, 0, exc.position, batch_line, exc.line)
    return location_of(
        batch, sent, exc.statement, exc.last_statement, exc.position, batch_line, exc.line
    )


def _located_message(message: str, location: Location) -> str:
    text = f"{location.describe()}: {message}"
    if location.statement:
        shown = "\n".join(f"  | {line}" for line in location.statement.splitlines())
        text += f"\n{shown}"
    return text


def _remaining(deadline: datetime, clock: Clock) -> float:
    seconds: float = (deadline - clock()).total_seconds()
    if seconds <= 0:
        raise TargetTimeout("the step timeout ran out before the attempt could start")
    return seconds


def _timeout_message(exc: TargetTimeout, timeout_seconds: int) -> str:
    return f"step timeout of {timeout_seconds} s reached: {exc.message}"


def _failed(
    claimed: ClaimedTarget,
    plan: StepPlan,
    message: str,
    deadline: datetime,
    clock: Clock,
    row_count: int | None,
    messages: list[str],
    location: Location | None,
) -> Outcome:
    retry = plan.step.settings.retry
    now = clock()
    if retry.may_retry(claimed.attempt_number):
        next_time = now + timedelta(seconds=retry.delay_after_attempt(claimed.attempt_number))
        if next_time < deadline:
            return claimed.ended(
                Lifecycle.WAITING_FOR_RETRY,
                now,
                _clip(message),
                next_attempt_start_time=next_time,
                row_count=row_count,
                server_messages=_server_messages(messages),
                location=location,
            )
    return _ended(claimed, Lifecycle.FAILED, clock, message, row_count, messages, location)


def _ended(
    claimed: ClaimedTarget,
    state: Lifecycle,
    clock: Clock,
    message: str | None,
    row_count: int | None,
    messages: list[str],
    location: Location | None = None,
    result: KeptResult | None = None,
) -> Outcome:
    return claimed.ended(
        state,
        clock(),
        _clip(message) if message else None,
        row_count=row_count,
        server_messages=_server_messages(messages),
        location=location,
        result=result,
    )


def canceled(
    claimed: ClaimedTarget, clock: Clock, message: str = "canceled", *, started: bool = True
) -> Outcome:
    """The outcome of an attempt stopped because its execution was canceled."""
    if not started:
        message = f"{message} (before its attempt started)"
    return claimed.ended(Lifecycle.CANCELED, clock(), message, started=started)


def _server_messages(messages: list[str]) -> str | None:
    return _clip("\n".join(messages)) if messages else None


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
