"""PostgreSQL targets on asyncpg.

The hot path of a fleet run is connect, one simple-protocol query, close: no setup queries,
no version checks, a `search_path` only when a schema is targeted (sent as a startup
parameter, so it costs no round trip), and no request for TLS to a server known to take
none (sslmode=prefer, the default, would ask before every login). asyncpg cancels a
statement on the server by itself when its timeout fires or when the awaiting task is
cancelled; `cancel()` relies on the latter by running each batch in a task of its own.

A connection serves the schemas of its database in turn (`connect_reusable`): between two
targets it rolls back what the script left open and sends `DISCARD ALL` (temporary tables,
advisory locks, settings, prepared statements, listeners), then sets the next schema's
search path. Such a connection starts with an empty search path, which is what `RESET`
or `DISCARD ALL` in a script then leaves: never the schema of another target. It caches
no prepared statement, since `DISCARD ALL` drops them on the server.
"""

# ruff: noqa: ASYNC109 -- `timeout` is part of the driver protocol on purpose: a driver must
# cancel the statement on the server when it expires, which an outer asyncio.timeout cannot do.

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import struct
import time
from collections.abc import Coroutine, Sequence
from typing import Any

import asyncpg

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
from sqlfleet.targets.base import (
    BatchResult,
    Group,
    Login,
    ReusableConnection,
    fetch_once,
    grouped,
)
from sqlfleet.targets.columns import ColumnKind, output_table

__all__ = ["PostgresConnection", "PostgresDriver", "quote_identifier", "quote_literal"]

_TYPES = {
    ColumnKind.INTEGER: "BIGINT",
    ColumnKind.FLOAT: "DOUBLE PRECISION",
    ColumnKind.DECIMAL: "NUMERIC",
    ColumnKind.BOOLEAN: "BOOLEAN",
    ColumnKind.TIMESTAMP_TZ: "TIMESTAMPTZ",
    # asyncpg would read a naive datetime as the agent's local time for TIMESTAMPTZ; a plain
    # TIMESTAMP keeps the wall-clock value that came from the source (MySQL, SQLite).
    ColumnKind.TIMESTAMP: "TIMESTAMP",
    ColumnKind.DATE: "DATE",
    ColumnKind.BYTES: "BYTEA",
    ColumnKind.TEXT: "TEXT",
}

# What an output step must not send as one statement: asyncpg's wording, SQLSTATE 42601.
_MULTIPLE_COMMANDS = "cannot insert multiple commands into a prepared statement"

# Maintenance databases to connect to for enumeration, in order of preference.
_MAINTENANCE_DATABASES = ("postgres", "template1")

_CLOSE_TIMEOUT = 5.0

_COPY_LINE = re.compile(r"COPY [^,]+, line (\d+)")

# sslmode=prefer, asyncpg's default as libpq's, asks the server for TLS before each login: a
# round trip, a new SSL context and the ~/.postgresql files looked up, about a third of what
# a connection costs the client. Whether a server takes TLS at all is the same for every
# database and user: it answers the request (S or N) before any login. So when a login under
# prefer ended in plain text (a server without TLS, or one whose pg_hba.conf refused this
# login over TLS), sqlfleet asks the server itself, once, with a request of its own; a
# server that said N is not asked again for _TLS_MEMORY seconds. Only under prefer:
# PGSSLMODE set to another mode is asyncpg's to apply, every time.
_TLS_MEMORY = 60.0
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
# Per (host, port): whether it said N, and when it was asked; the question in flight.
_tls_answers: dict[tuple[str, int], tuple[bool, float]] = {}
_asking_tls: dict[tuple[str, int], asyncio.Task[None]] = {}


def quote_identifier(name: str) -> str:
    """`name` as a PostgreSQL quoted identifier."""
    if not name or "\x00" in name:
        raise InvalidValue(f"{name!r} is not a valid PostgreSQL identifier")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """`value` as a PostgreSQL string literal that reads back the same under any settings.

    `'` is doubled. A value holding a backslash becomes an escape string, `E'...'`, with the
    backslash doubled too: in a plain `'...'` a backslash is an escape character whenever
    standard_conforming_strings is off (a server, database, role or the script itself may
    turn it off), while `E'...'` reads backslashes the same way with the setting on or off.
    """
    if "\x00" in value:
        raise InvalidValue("a PostgreSQL string cannot hold a NUL character")
    quoted = value.replace("'", "''")
    if "\\" in value:
        return "E'" + quoted.replace("\\", "\\\\") + "'"
    return "'" + quoted + "'"


# SQLSTATEs that may pass on their own: connection exceptions (class 08), too many
# connections, the server shutting down or starting up, serialization failures and
# deadlocks (class 40), lock timeouts, and a query canceled by an administrator.
_TRANSIENT_CLASSES = ("08", "40")
_TRANSIENT_STATES = {"53300", "57P01", "57P02", "57P03", "55P03", "57014"}


def is_transient(sqlstate: str | None) -> bool:
    """Whether an error with this SQLSTATE may pass if the batch is tried again."""
    if not sqlstate:
        return False
    return sqlstate[:2] in _TRANSIENT_CLASSES or sqlstate in _TRANSIENT_STATES


def _server_error(exc: asyncpg.PostgresError) -> str:
    text = f"{exc.severity or 'ERROR'} {exc.sqlstate}: {exc.message}"
    if exc.detail:
        text += f"\nDETAIL: {exc.detail}"
    if exc.hint:
        text += f"\nHINT: {exc.hint}"
    return str(text)


def _row_count(status: str | None) -> int | None:
    """The count at the end of a command tag such as `INSERT 0 5` or `SELECT 3`."""
    last = (status or "").rpartition(" ")[2]
    return int(last) if last.isdigit() else None


def _where(server: ServerUrl, database: str, schema: str | None) -> str:
    where = f"database {database!r} on {server}"
    return where if schema is None else f"schema {schema!r} of {where}"


class PostgresConnection:
    """A connection to one PostgreSQL database."""

    def __init__(
        self, connection: Any, server: ServerUrl, database: str, schema: str | None
    ) -> None:
        self._connection = connection
        self._server = server
        self._database = database
        self._where = _where(server, database, schema)
        self._messages: list[str] = []
        self._running: asyncio.Task[BatchResult] | None = None
        self._cancel_requested = False
        # The group of statements on the wire, to tell which one an error is about.
        self._sending: Group | None = None
        connection.add_log_listener(self._on_message)

    def _on_message(self, _connection: Any, message: Any) -> None:
        self._messages.append(f"{message.severity}: {message.message}")

    async def execute(
        self, sql: str, *, timeout: float | None, want_rows: bool = False
    ) -> BatchResult:
        """Run one batch: simple protocol without rows, one prepared query with rows."""
        messages: list[str] = []
        self._messages = messages
        self._sending = None
        job = self._fetch(sql, timeout) if want_rows else self._execute(sql, timeout)
        result = await self._supervise(job, timeout)
        result.messages = messages
        return result

    async def run_statements(
        self, statements: Sequence[Statement], *, timeout: float | None
    ) -> BatchResult:
        """Run the statements in order, consecutive ones as one simple-protocol query.

        Such a query runs as one transaction (unless it says otherwise): a failed statement
        rolls back the statements sent with it. A `COPY ... FROM stdin` goes through the
        COPY protocol with its inline data, as psql sends it.
        """
        messages: list[str] = []
        self._messages = messages
        result = await self._supervise(
            self._run_groups(grouped(statements, separator="\n"), timeout), timeout
        )
        result.messages = messages
        return result

    async def _run_groups(self, groups: list[Group], timeout: float | None) -> BatchResult:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        result = BatchResult()
        for group in groups:
            remaining = None if deadline is None else max(deadline - loop.time(), 0.001)
            self._sending = group
            if group.copy_data is None:
                status = await self._connection.execute(group.text, timeout=remaining)
            else:
                # asyncpg's public copy_to_table writes its own COPY statement; the script's
                # statement is sent as written (columns, options, quoting) instead.
                # A memoryview: asyncpg would take bytes for a file name.
                data = memoryview(group.copy_data.encode("utf-8"))
                status = await self._connection._copy_in(group.text, data, remaining)
            result.row_count = _row_count(status)
        self._sending = None
        return result

    async def _execute(self, sql: str, timeout: float | None) -> BatchResult:
        status = await self._connection.execute(sql, timeout=timeout)
        return BatchResult(row_count=_row_count(status))

    async def _fetch(self, sql: str, timeout: float | None) -> BatchResult:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        # prepare() rather than fetch(): its attributes name the columns even with no rows.
        statement = await self._connection.prepare(sql, timeout=timeout)
        remaining = None if deadline is None else max(deadline - loop.time(), 0.001)
        records = await statement.fetch(timeout=remaining)
        columns = [attribute.name for attribute in statement.get_attributes()]
        rows = [tuple(record) for record in records]
        row_count = len(rows) if columns else _row_count(statement.get_statusmsg())
        return BatchResult(columns=columns, rows=rows, row_count=row_count)

    async def _supervise(
        self, job: Coroutine[Any, Any, BatchResult], timeout: float | None
    ) -> BatchResult:
        # The batch runs in a task of its own so that cancel() can cancel just it; asyncpg
        # turns that cancellation, like its own timeout, into a cancel request to the server.
        task = asyncio.ensure_future(job)
        self._running = task
        self._cancel_requested = False
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self._cancel_requested and (current is None or current.cancelling() == 0):
                raise TargetCanceled(
                    f"the statement on {self._where} was canceled on the server"
                ) from None
            raise
        except TimeoutError:
            limit = "in time" if timeout is None else f"within {timeout:g} s"
            raise TargetTimeout(
                f"the statement on {self._where} did not finish {limit} "
                "and was canceled on the server"
            ) from None
        except asyncpg.PostgresConnectionError as exc:
            # Before PostgresError, its base: a connection lost mid-batch (08003 and the
            # like) is raised by asyncpg itself, with no server message to show.
            raise TargetConnectError(
                f"lost the connection to {self._where}: {exc.message or exc}", transient=True
            ) from exc
        except asyncpg.PostgresError as exc:
            if exc.sqlstate == "42601" and _MULTIPLE_COMMANDS in str(exc):
                raise MultipleStatements(
                    "a step with an output table needs its query as a single statement "
                    "in a batch of its own: separate the other statements with a GO line"
                ) from exc
            raise self._located(exc) from exc
        except (asyncpg.InterfaceError, OSError) as exc:
            # The connection went away under the batch (a terminated backend, a reset).
            raise TargetQueryError(f"{self._where}: {exc}", transient=True) from exc
        finally:
            self._running = None

    def _located(self, exc: asyncpg.PostgresError) -> TargetQueryError:
        """The server's error, saying which statement it is about and where, when known."""
        group, self._sending = self._sending, None
        position = getattr(exc, "position", None)
        where = int(position) if isinstance(position, str) and position.isdigit() else None
        transient = is_transient(exc.sqlstate)
        if group is None:  # a batch sent whole: the position counts from its start
            return TargetQueryError(_server_error(exc), position=where, transient=transient)
        statement, within = group.which(where)
        last = statement if where is not None else group.last
        line = None
        if group.copy_data is not None:
            # "COPY author, line 5, column note: ...": the 5th line of the data.
            match = _COPY_LINE.match(getattr(exc, "context", None) or "")
            if match:
                line = group.text.count("\n") + 1 + int(match.group(1))
        return TargetQueryError(
            _server_error(exc),
            statement=statement,
            last_statement=last,
            position=within,
            line=line,
            transient=transient,
        )

    async def cancel(self) -> None:
        """Cancel the running batch on the server; a no-op when nothing runs."""
        task = self._running
        if task is not None and not task.done():
            self._cancel_requested = True
            task.cancel()

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
        """Create the table if missing, then insert all rows with one pipelined executemany."""
        shape = output_table(schema, table, columns, rows, quote=quote_identifier, types=_TYPES)
        placeholders = ", ".join(f"${number}" for number in range(1, len(columns) + 1))
        if create:
            await self._supervise(self._create_table(shape.create, timeout), timeout)
        if shape.rows:
            insert = f"INSERT INTO {shape.name} ({shape.column_list}) VALUES ({placeholders})"
            await self._supervise(self._insert(insert, shape.rows, timeout), timeout)

    async def _create_table(self, create: str, timeout: float | None) -> BatchResult:
        # Targets writing to one new output table race to create it, and IF NOT EXISTS does
        # not cover the losers: they fail on the row type (42710) or pg_type's unique index
        # (23505) while the table is there anyway. A real conflict fails the insert after.
        with contextlib.suppress(
            asyncpg.UniqueViolationError, asyncpg.DuplicateTableError, asyncpg.DuplicateObjectError
        ):
            await self._connection.execute(create, timeout=timeout)
        return BatchResult()

    async def _insert(
        self, insert: str, rows: list[tuple[Any, ...]], timeout: float | None
    ) -> BatchResult:
        # executemany is atomic and pipelined: one prepare, then all rows in one stream.
        await self._connection.executemany(insert, rows, timeout=timeout)
        return BatchResult(row_count=len(rows))

    async def use(self, database: str, schema: str | None, *, timeout: float) -> None:
        """Set the search path to `schema` alone (a schema of this connection's database)."""
        if database != self._database or schema is None:
            raise InvalidValue(f"a connection to {self._where} serves its schemas only")
        where = _where(self._server, database, schema)
        # set_config keeps the text as given, as the startup parameter of `connect` does
        # (SET would show `"s"` as `s`).
        path = quote_literal(quote_identifier(schema))
        await self._session_command(
            f"SELECT pg_catalog.set_config('search_path', {path}, false)",
            where,
            "cannot connect to",
            timeout,
        )
        self._where = where

    async def reset(self, *, timeout: float) -> None:
        """Roll back what the script left open, then `DISCARD ALL` (which a transaction
        block refuses)."""
        doing = "cannot reset the connection to"
        if self._connection.is_in_transaction():
            await self._session_command("ROLLBACK", self._where, doing, timeout)
        await self._session_command("DISCARD ALL", self._where, doing, timeout)

    async def _session_command(self, sql: str, where: str, doing: str, timeout: float) -> None:
        self._messages = []  # none of a target's
        try:
            await self._connection.execute(sql, timeout=timeout)
        except TimeoutError as exc:
            raise TargetConnectError(
                f"{doing} {where}: no answer within {timeout:g} s", transient=True
            ) from exc
        except asyncpg.PostgresError as exc:
            raise TargetConnectError(
                f"{doing} {where}: {_server_error(exc)}", transient=is_transient(exc.sqlstate)
            ) from exc
        except (asyncpg.InterfaceError, OSError) as exc:
            raise TargetConnectError(f"{doing} {where}: {exc}", transient=True) from exc

    async def close(self) -> None:
        """Close gracefully, or drop the socket if the server does not answer."""
        if self._connection.is_closed():
            return
        try:
            await self._connection.close(timeout=_CLOSE_TIMEOUT)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            self._connection.terminate()


class PostgresDriver:
    """PostgreSQL and compatible servers, through asyncpg."""

    engine: str = "postgresql"
    trial_statements: tuple[str, str] | None = ("BEGIN", "ROLLBACK")

    def quote_literal(self, value: str) -> str:
        """`value` as a string literal: `'...'`, or `E'...'` when it holds a backslash."""
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
    ) -> PostgresConnection:
        """Open a connection, with `schema` alone on the search path when given."""
        settings = None if schema is None else {"search_path": quote_identifier(schema)}
        connection = await _connect(server, database, login, connect_timeout, settings)
        return PostgresConnection(connection, server, database, schema)

    def session_scope(self, database: str, schema: str | None) -> str | None:
        """The database, for a schema target: one connection serves its schemas in turn; a
        database target has a connection of its own (a connection is bound to a database)."""
        return None if schema is None else database

    async def connect_reusable(
        self,
        server: ServerUrl,
        database: str,
        login: Login | None,
        *,
        connect_timeout: float,
        schema: str | None = None,
    ) -> ReusableConnection:
        """Open a connection to serve `database`'s schemas, set to `schema` first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + connect_timeout
        # An empty search path is what RESET gives back: not the first target's schema.
        connection = await _connect(
            server, database, login, connect_timeout, {"search_path": ""}, statement_cache_size=0
        )
        target = PostgresConnection(connection, server, database, None)
        try:
            await target.use(database, schema, timeout=max(deadline - loop.time(), 0.001))
        except BaseException:
            await target.close()
            raise
        return target

    async def list_databases(
        self, server: ServerUrl, login: Login | None, *, connect_timeout: float
    ) -> list[str]:
        """Databases that accept connections, without postgres and the templates."""
        sql = (
            "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn "
            "AND datname NOT IN ('template0', 'template1', 'postgres')"
        )
        for number, maintenance in enumerate(_MAINTENANCE_DATABASES, start=1):
            try:
                rows = await self.query(
                    server,
                    maintenance,
                    login,
                    sql,
                    connect_timeout=connect_timeout,
                    timeout=connect_timeout,
                )
            except TargetConnectError as exc:
                missing = isinstance(exc.__cause__, asyncpg.InvalidCatalogNameError)
                if missing and number < len(_MAINTENANCE_DATABASES):
                    continue
                raise
            return sorted(row[0] for row in rows)
        raise AssertionError("unreachable")  # pragma: no cover

    async def list_schemas(
        self, server: ServerUrl, database: str, login: Login | None, *, connect_timeout: float
    ) -> list[str]:
        """User schemas: all but pg_* (catalog, toast, temp) and information_schema."""
        sql = (
            "SELECT nspname FROM pg_catalog.pg_namespace "
            "WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"
        )
        rows = await self.query(
            server, database, login, sql, connect_timeout=connect_timeout, timeout=connect_timeout
        )
        return sorted(row[0] for row in rows)

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
        """Connect, run one query, return its rows, close."""
        return await fetch_once(
            self, server, database, login, sql, connect_timeout=connect_timeout, timeout=timeout
        )


async def _connect(
    server: ServerUrl,
    database: str,
    login: Login | None,
    connect_timeout: float,
    settings: dict[str, str] | None,
    *,
    statement_cache_size: int = 100,  # asyncpg's default
) -> Any:
    password = login.password.reveal() if login and login.password else None
    plain = _refuses_tls(server)
    try:
        try:
            connection = await asyncpg.connect(
                host=server.host,
                port=server.port,
                user=login.username if login else None,
                password=password,
                database=database,
                timeout=connect_timeout,
                server_settings=settings,
                statement_cache_size=statement_cache_size,
                ssl=False if plain else None,
            )
        except BaseException:
            if plain:  # whatever went wrong, the next login asks again
                _tls_answers.pop((server.host, server.port), None)
            raise
    except TimeoutError as exc:
        reason = f"no answer within {connect_timeout:g} s"
        raise TargetConnectError(
            _connect_message(server, database, reason), transient=True
        ) from exc
    except asyncpg.InvalidCatalogNameError as exc:
        reason = "the database does not exist"
        raise TargetConnectError(_connect_message(server, database, reason)) from exc
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        reason = f"login refused: {exc.message}"
        raise TargetConnectError(_connect_message(server, database, reason)) from exc
    except asyncpg.PostgresError as exc:
        raise TargetConnectError(
            _connect_message(server, database, _server_error(exc)),
            transient=is_transient(exc.sqlstate),
        ) from exc
    except OSError as exc:
        reason = f"the server is not reachable: {exc.strerror or exc}"
        raise TargetConnectError(
            _connect_message(server, database, reason), transient=True
        ) from exc
    except asyncpg.InterfaceError as exc:
        raise TargetConnectError(
            _connect_message(server, database, str(exc)), transient=True
        ) from exc
    if not plain and _in_plain_text(connection):
        _ask_about_tls(server, connect_timeout)
    return connection


def _prefers_tls() -> bool:
    """Whether asyncpg applies sslmode=prefer, the default (no PGSSLMODE, no direct TLS)."""
    return os.environ.get("PGSSLMODE", "prefer") in ("prefer", "") and not os.environ.get(
        "PGSSLNEGOTIATION"
    )


def _refuses_tls(server: ServerUrl) -> bool:
    """Whether to log in to `server` without asking for TLS: it said N a moment ago."""
    if not _prefers_tls():
        return False
    known = _tls_answers.get((server.host, server.port))
    return known is not None and known[0] and time.monotonic() - known[1] < _TLS_MEMORY


def _in_plain_text(connection: Any) -> bool:
    """Whether a connection ended in plain text (False when that cannot be told: asyncpg's
    transport is its own)."""
    transport = getattr(connection, "_transport", None)
    return transport is not None and transport.get_extra_info("ssl_object") is None


def _ask_about_tls(server: ServerUrl, timeout: float) -> None:
    """Ask `server` whether it takes TLS, in the background, unless it was asked a moment
    ago or is being asked (by this event loop) now."""
    if not _prefers_tls() or server.host.startswith("/"):
        return
    key = (server.host, server.port)
    known = _tls_answers.get(key)
    if known is not None and time.monotonic() - known[1] < _TLS_MEMORY:
        return
    asking = _asking_tls.get(key)
    loop = asyncio.get_running_loop()
    if asking is not None and not asking.done() and asking.get_loop() is loop:
        return
    _asking_tls[key] = loop.create_task(_ask_tls(server, timeout))


async def _ask_tls(server: ServerUrl, timeout: float) -> None:
    """Send an SSLRequest, as a login under prefer does first, read the answer, hang up.

    An answer that is not N, or none, counts as "takes TLS" for _TLS_MEMORY seconds: logins
    go on asking, as asyncpg does by default.
    """
    key = (server.host, server.port)
    answer = b""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(server.host, server.port)
            try:
                writer.write(_SSL_REQUEST)
                answer = await reader.readexactly(1)
            finally:
                writer.close()
    except (OSError, TimeoutError, EOFError):
        pass
    finally:
        _tls_answers[key] = (answer == b"N", time.monotonic())
        if _asking_tls.get(key) is asyncio.current_task():
            del _asking_tls[key]


def _connect_message(server: ServerUrl, database: str, reason: str) -> str:
    return f"cannot connect to database {database!r} on {server}: {reason}"
