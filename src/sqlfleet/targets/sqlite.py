"""SQLite targets: every `*.db` / `*.sqlite` file in a folder is a database.

sqlite3 blocks, so each connection owns one worker thread: a long statement on one target
never waits for a free thread in a shared pool. A timeout or `cancel()` stops the statement
through SQLite's progress handler, which aborts it at its next thousand VM steps, even if
it had not started yet when it was cancelled (a bare `interrupt()` would be lost then); an
`interrupt()` is sent as well for the waits between steps. Files are opened with
`mode=rw`, so naming a missing database fails instead of creating an empty one.
Connections are in autocommit mode, as in the sqlite3 shell: a batch commits statement by
statement unless it says BEGIN itself.
"""

# ruff: noqa: ASYNC109 -- `timeout` is part of the driver protocol on purpose: a driver must
# cancel the statement on the server when it expires, which an outer asyncio.timeout cannot do.

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlfleet.errors import (
    InvalidValue,
    MultipleStatements,
    TargetCanceled,
    TargetConnectError,
    TargetQueryError,
    TargetTimeout,
)
from sqlfleet.servers import ServerUrl
from sqlfleet.statements import Statement
from sqlfleet.targets.base import BatchResult, Login, ReusableConnection, fetch_once
from sqlfleet.targets.columns import ColumnKind, output_table

__all__ = ["SUFFIXES", "SqliteConnection", "SqliteDriver", "quote_identifier", "quote_literal"]

SUFFIXES = (".db", ".sqlite")

_TYPES = {
    ColumnKind.INTEGER: "INTEGER",
    ColumnKind.FLOAT: "REAL",
    # Stored as text: NUMERIC affinity would round a Decimal to a double.
    ColumnKind.DECIMAL: "TEXT",
    ColumnKind.BOOLEAN: "BOOLEAN",
    ColumnKind.TIMESTAMP_TZ: "TIMESTAMP",
    ColumnKind.TIMESTAMP: "TIMESTAMP",
    ColumnKind.DATE: "DATE",
    ColumnKind.BYTES: "BLOB",
    ColumnKind.TEXT: "TEXT",
}

# VM steps between checks for a stop: microseconds apart, and cheap to check.
_PROGRESS_STEPS = 1000

_SCHEMA_TARGETS = "schema targets need PostgreSQL: a SQLite file has no schemas to target"

_T = TypeVar("_T")


def quote_identifier(name: str) -> str:
    """`name` as a SQLite quoted identifier."""
    if not name or "\x00" in name:
        raise InvalidValue(f"{name!r} is not a valid SQLite identifier")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """`value` as a SQLite string literal: `'...'` with `'` doubled (no backslash escapes)."""
    if "\x00" in value:
        raise InvalidValue("a SQLite string literal cannot hold a NUL character")
    return "'" + value.replace("'", "''") + "'"


def database_path(server: ServerUrl, database: str) -> Path:
    """The file of `database` in the server's folder; `InvalidValue` if it would leave it."""
    separators = {"/", "\\", "\x00", os.sep, os.altsep or os.sep}
    if database in ("", ".", "..") or any(s in database for s in separators):
        raise InvalidValue(
            f"SQLite database name {database!r} must be a file name inside the server's "
            "folder, without path separators or '..'"
        )
    return Path(server.path) / database


def _adapt(value: Any) -> Any:
    # sqlite3's own date adapters are deprecated (Python 3.12): store ISO 8601 text.
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# Result codes that may pass on their own: the file is locked by another connection
# (SQLITE_BUSY, SQLITE_LOCKED and their extended codes share the low byte).
_TRANSIENT_CODES = {5, 6}


def is_transient(exc: sqlite3.Error) -> bool:
    """Whether a SQLite error may pass if the batch is tried again."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _TRANSIENT_CODES


def _statements(sql: str) -> list[str]:
    """The complete statements of a script, as SQLite itself would end them."""
    statements, pending = [], ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\r\n;"):
                statements.append(pending)
            pending = ""
    if pending.strip(" \t\r\n;"):
        statements.append(pending[:-1])  # the last one, without a closing semicolon
    return statements


def _error_text(exc: sqlite3.Error) -> str:
    name = getattr(exc, "sqlite_errorname", None)
    return f"{name}: {exc}" if name else str(exc)


class SqliteConnection:
    """A connection to one SQLite file, driven from its own worker thread."""

    def __init__(self, connection: sqlite3.Connection, worker: ThreadPoolExecutor, where: str):
        self._connection = connection
        self._worker = worker
        self._where = where
        self._running: asyncio.Future[Any] | None = None
        self._cancel_requested = False
        self._closed = False
        # Each piece of work gets a number; the worker runs `_current`, and every number up
        # to `_stop_upto` must stop. Plain ints: the GIL makes their updates atomic.
        self._submitted = 0
        self._current = 0
        self._stop_upto = 0
        connection.set_progress_handler(self._should_stop, _PROGRESS_STEPS)

    def _should_stop(self) -> bool:
        # Called by SQLite in the worker thread; True aborts with SQLITE_INTERRUPT.
        return self._current <= self._stop_upto

    def _stop(self, upto: int) -> None:
        self._stop_upto = max(self._stop_upto, upto)
        self._connection.interrupt()

    def _numbered(self, number: int, work: Callable[..., _T], *args: Any) -> _T:
        self._current = number
        return work(*args)

    async def execute(
        self, sql: str, *, timeout: float | None, want_rows: bool = False
    ) -> BatchResult:
        """Run a script (executescript) or, with rows wanted, one statement."""
        if want_rows:
            return await self._supervise(self._fetch, sql, timeout=timeout)
        return await self._supervise(self._script, sql, timeout=timeout)

    async def run_statements(
        self, statements: Sequence[Statement], *, timeout: float | None
    ) -> BatchResult:
        """Run the statements one by one, as the sqlite3 shell does: each commits as it
        ends unless the script says BEGIN, and a failure keeps those before it."""
        failing: list[int] = []
        try:
            return await self._supervise(self._statements, statements, failing, timeout=timeout)
        except TargetQueryError as exc:
            if failing and exc.statement is None:
                exc.statement = exc.last_statement = failing[0]
            raise

    def _statements(self, statements: Sequence[Statement], failing: list[int]) -> BatchResult:
        before = self._connection.total_changes
        for index, statement in enumerate(statements):
            try:
                cursor = self._connection.execute(statement.text)
                # Stepped to the end, as executescript does: a query in a script runs fully.
                for _ in cursor:
                    pass
                cursor.close()
            except sqlite3.Error:
                failing.append(index)
                raise
        return BatchResult(row_count=self._connection.total_changes - before)

    def _script(self, sql: str) -> BatchResult:
        before = self._connection.total_changes
        if self._connection.in_transaction:
            # executescript() would commit the open transaction (a trial's) first: run the
            # batch statement by statement inside it instead.
            for statement in _statements(sql):
                self._connection.execute(statement).close()
        else:
            self._connection.executescript(sql)
        return BatchResult(row_count=self._connection.total_changes - before)

    def _fetch(self, sql: str) -> BatchResult:
        try:
            cursor = self._connection.execute(sql)
        except sqlite3.ProgrammingError as exc:
            if "one statement at a time" not in str(exc):
                raise
            raise MultipleStatements(
                "a step with an output table needs its query as a single statement "
                "in a batch of its own: separate the other statements with a GO line"
            ) from exc
        try:
            if cursor.description is None:
                return BatchResult(row_count=cursor.rowcount if cursor.rowcount >= 0 else None)
            rows = [tuple(row) for row in cursor.fetchall()]
            columns = [column[0] for column in cursor.description]
            return BatchResult(columns=columns, rows=rows, row_count=len(rows))
        finally:
            cursor.close()

    async def _supervise(self, work: Callable[..., _T], *args: Any, timeout: float | None) -> _T:
        loop = asyncio.get_running_loop()
        self._submitted += 1
        number = self._submitted
        future = loop.run_in_executor(self._worker, self._numbered, number, work, *args)
        self._running = future
        self._cancel_requested = False
        try:
            try:
                done, _ = await asyncio.wait({future}, timeout=timeout)
            except asyncio.CancelledError:
                # The caller gave up: stop the statement; close() queues behind it. Nobody
                # awaits the interrupted statement now: see its error, or asyncio logs it.
                self._stop(number)
                future.add_done_callback(_seen)
                raise
            if not done:
                self._stop(number)
                # The worker notices at its next progress check; wait for it to be free.
                await asyncio.wait({future})
                if future.exception() is None or self._interrupted(future):
                    raise TargetTimeout(
                        f"the statement on {self._where} did not finish within {timeout:g} s "
                        "and was interrupted"
                    )
            if self._cancel_requested and self._interrupted(future):
                raise TargetCanceled(f"the statement on {self._where} was canceled")
            try:
                return future.result()
            except sqlite3.Error as exc:
                raise TargetQueryError(_error_text(exc), transient=is_transient(exc)) from exc
        finally:
            self._running = None

    @staticmethod
    def _interrupted(future: asyncio.Future[Any]) -> bool:
        exc = future.exception()
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT

    async def cancel(self) -> None:
        """Interrupt the running statement; a no-op when nothing runs."""
        if self._running is not None and not self._running.done():
            self._cancel_requested = True
            self._stop(self._submitted)

    async def append_rows(
        self,
        schema: str | None,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        timeout: float | None = None,
        create: bool = True,
    ) -> None:
        """Create the table if missing, then insert all rows in one transaction."""
        shape = output_table(schema, table, columns, rows, quote=quote_identifier, types=_TYPES)
        placeholders = ", ".join("?" for _ in columns)
        values = [tuple(_adapt(value) for value in row) for row in shape.rows]
        create_table = shape.create if create else None
        insert = f"INSERT INTO {shape.name} ({shape.column_list}) VALUES ({placeholders})"
        await self._supervise(self._write, create_table, insert, values, timeout=timeout)

    def _write(self, create: str | None, insert: str, values: list[tuple[Any, ...]]) -> None:
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            if create is not None:
                connection.execute(create)
            connection.executemany(insert, values)
        except BaseException:
            # An interrupt may have rolled the transaction back already.
            if connection.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    async def close(self) -> None:
        """Close the file and let the worker thread end."""
        if self._closed:
            return
        self._closed = True
        if self._running is not None:
            self._stop(self._submitted)
        try:
            await asyncio.get_running_loop().run_in_executor(self._worker, self._connection.close)
        except sqlite3.Error:
            pass
        finally:
            self._worker.shutdown(wait=False)


def _seen(future: asyncio.Future[Any]) -> None:
    """Mark a future's outcome as seen, so asyncio does not log it as never retrieved."""
    if not future.cancelled():
        future.exception()


class SqliteDriver:
    """SQLite files in a folder, through the standard sqlite3 module."""

    engine: str = "sqlite"
    trial_statements: tuple[str, str] | None = ("BEGIN", "ROLLBACK")

    def quote_literal(self, value: str) -> str:
        """`value` as a string literal: `'...'` with `'` doubled."""
        return quote_literal(value)

    def quote_identifier(self, value: str) -> str:
        """`value` as a quoted identifier: `"..."` with `"` doubled."""
        return quote_identifier(value)

    async def connect(
        self,
        server: ServerUrl,
        database: str,
        login: Login | None,
        *,
        connect_timeout: float,
        schema: str | None = None,
    ) -> SqliteConnection:
        """Open an existing file of the folder; `connect_timeout` bounds waits for locks."""
        if schema is not None:
            raise InvalidValue(_SCHEMA_TARGETS)
        path = database_path(server, database)
        where = f"database {database!r} in {server}"
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlfleet-sqlite")
        try:
            connection = await asyncio.get_running_loop().run_in_executor(
                worker, _open, path, connect_timeout
            )
        except BaseException as exc:
            worker.shutdown(wait=False)
            if isinstance(exc, sqlite3.Error):
                reason = _error_text(exc)
            elif isinstance(exc, OSError):
                reason = str(exc)
            else:
                raise
            # sqlite3 says only "unable to open database file": say why when we can.
            if not await asyncio.to_thread(path.is_file):
                reason = "no such file"
                if not await asyncio.to_thread(Path(server.path).is_dir):
                    reason = "the folder does not exist"
            raise TargetConnectError(f"cannot open {where}: {reason}") from exc
        return SqliteConnection(connection, worker, where)

    def session_scope(self, database: str, schema: str | None) -> str | None:
        """None: a connection opens one file, so each target has its own."""
        return None

    async def connect_reusable(
        self,
        server: ServerUrl,
        database: str,
        login: Login | None,
        *,
        connect_timeout: float,
        schema: str | None = None,
    ) -> ReusableConnection:
        """Never called (no session scope): raises `InvalidValue`."""
        raise InvalidValue("a SQLite connection serves one database file only")

    async def list_databases(
        self, server: ServerUrl, login: Login | None, *, connect_timeout: float
    ) -> list[str]:
        """File names of every `*.db` and `*.sqlite` file in the folder, sorted."""
        return await asyncio.to_thread(_list_folder, Path(server.path))

    async def list_schemas(
        self, server: ServerUrl, database: str, login: Login | None, *, connect_timeout: float
    ) -> list[str]:
        """Not meaningful on SQLite: raises `InvalidValue`."""
        raise InvalidValue(_SCHEMA_TARGETS)

    async def query(
        self,
        server: ServerUrl,
        database: str,
        login: Login | None,
        sql: str,
        *,
        connect_timeout: float,
        timeout: float | None,
    ) -> list[tuple[Any, ...]]:
        """Open the file, run one query, return its rows, close."""
        return await fetch_once(
            self, server, database, login, sql, connect_timeout=connect_timeout, timeout=timeout
        )


def _open(path: Path, busy_timeout: float) -> sqlite3.Connection:
    return sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=rw",
        uri=True,
        timeout=busy_timeout,
        isolation_level=None,
        check_same_thread=False,
    )


def _list_folder(folder: Path) -> list[str]:
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        raise TargetConnectError(f"the SQLite folder {folder} does not exist") from None
    except NotADirectoryError:
        raise TargetConnectError(f"the SQLite server {folder} is not a folder") from None
    except OSError as exc:
        raise TargetConnectError(f"cannot list the SQLite folder {folder}: {exc}") from None
    return sorted(
        entry.name for entry in entries if entry.suffix.lower() in SUFFIXES and entry.is_file()
    )
