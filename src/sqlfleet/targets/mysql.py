"""MySQL and MariaDB targets on aiomysql.

Connections are opened in autocommit mode (what the server starts in, so it costs no round
trip) with multi-statement batches enabled. aiomysql cannot cancel a statement itself, and
abandoning a read mid-packet leaves its connection unusable, so every batch runs in a task
of its own: on timeout or `cancel()` a second short connection sends `KILL QUERY <id>`, the
server interrupts the statement (and the rest of the batch), and the batch's task ends on
its own. Only if it does not end within a grace period is the connection dropped.

A connection serves the databases of its server in turn (`connect_reusable`): between two
targets, COM_RESET_CONNECTION (MySQL 5.7.3, MariaDB 10.2.4 and later) rolls back, drops
temporary tables, frees user locks and puts every session variable back as a new
connection has it; COM_INIT_DB then selects the next database, as `USE` does, with no
quoting to get wrong. The reset is sent as the last target ends and its answer read with
COM_INIT_DB's, when the connection serves the next one: one round trip between targets.
"""

# ruff: noqa: ASYNC109 -- `timeout` is part of the driver protocol on purpose: a driver must
# cancel the statement on the server when it expires, which an outer asyncio.timeout cannot do.

from __future__ import annotations

import asyncio
import re
import struct
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

import aiomysql
from pymysql.constants import CLIENT, COMMAND, ER  # type: ignore[import-untyped]

from sqlfleet.errors import (
    InvalidValue,
    TargetCanceled,
    TargetConnectError,
    TargetError,
    TargetQueryError,
    TargetTimeout,
)
from sqlfleet.servers import ServerUrl
from sqlfleet.statements import Statement
from sqlfleet.targets.base import BatchResult, Login, ReusableConnection, fetch_once, grouped
from sqlfleet.targets.columns import ColumnKind, output_table

__all__ = ["MysqlConnection", "MysqlDriver", "quote_identifier", "quote_literal"]

_TYPES = {
    ColumnKind.INTEGER: "BIGINT",
    ColumnKind.FLOAT: "DOUBLE",
    # A bare DECIMAL is DECIMAL(10,0) and would drop every fraction.
    ColumnKind.DECIMAL: "DECIMAL(65,30)",
    ColumnKind.BOOLEAN: "BOOLEAN",
    ColumnKind.TIMESTAMP_TZ: "DATETIME(6)",
    ColumnKind.TIMESTAMP: "DATETIME(6)",
    ColumnKind.DATE: "DATE",
    ColumnKind.BYTES: "LONGBLOB",
    # TEXT stops at 64 KiB; query output has no such promise.
    ColumnKind.TEXT: "LONGTEXT",
}

_SYSTEM_DATABASES = frozenset({"information_schema", "performance_schema", "mysql", "sys"})

# How long a killed statement may take to report back before its connection is dropped.
_KILL_GRACE = 5.0
_CLOSE_TIMEOUT = 5.0
# PyMySQL names no constant for it (and aiomysql has no call that sends it).
_COM_RESET_CONNECTION = 0x1F
_SCHEMA_TARGETS = (
    "schema targets need PostgreSQL: on MySQL and MariaDB a schema is a database, "
    "so target the database instead"
)


def quote_identifier(name: str) -> str:
    """`name` as a MySQL quoted identifier."""
    if not name or "\x00" in name:
        raise InvalidValue(f"{name!r} is not a valid MySQL identifier")
    return "`" + name.replace("`", "``") + "`"


def quote_literal(value: str) -> str:
    """`value` as a MySQL/MariaDB string: a utf8mb4 hexadecimal literal, `_utf8mb4 X'...'`.

    A quoted `'...'` would have to know the session: a backslash escapes in it unless
    sql_mode has NO_BACKSLASH_ESCAPES, which a script can set half-way through, and some
    client character sets hide a quote inside a multi-byte character. Hex digits read the
    same in every mode and character set. Such a literal is valid wherever an expression
    is; clauses that take only a quoted string (`COMMENT '...'`, account names) refuse it.
    """
    if "\x00" in value:
        raise InvalidValue("a MySQL string written by sqlfleet cannot hold a NUL character")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValue("a lone surrogate is not text that MySQL can store") from None
    return "_utf8mb4 X'" + encoded.hex().upper() + "'"


# Error numbers that may pass on their own: too many connections, server shutdown, lock
# wait timeout, deadlock, a killed query or connection, and the client's lost-connection
# errors (can't connect, gone away, lost during query).
_TRANSIENT_ERRORS = {1040, 1053, 1205, 1213, 1317, 1927, 2002, 2003, 2006, 2013, 2055}


def is_transient(exc: BaseException) -> bool:
    """Whether a MySQL/MariaDB error may pass if the batch is tried again."""
    if isinstance(exc, OSError | TimeoutError):
        return True
    args: tuple[Any, ...] = exc.args
    return bool(args) and args[0] in _TRANSIENT_ERRORS


def _server_error(exc: aiomysql.Error) -> str:
    if len(exc.args) >= 2 and isinstance(exc.args[0], int):
        return f"ERROR {exc.args[0]}: {exc.args[1]}"
    return str(exc)


class _MessageCursor(aiomysql.Cursor):  # type: ignore[misc]
    """A cursor that keeps server warnings as messages instead of emitting Python warnings.

    aiomysql asks for SHOW WARNINGS only when the server reported a warning count, and only
    after the last result set of a batch (the server keeps just the last statement's).
    """

    messages: list[str]

    async def _show_warnings(self, conn: Any) -> None:
        if self._result and self._result.has_next:
            return
        for level, code, text in await conn.show_warnings() or ():
            self.messages.append(f"{level} {code}: {text}")


def _utc_naive(value: Any) -> Any:
    # DATETIME has no zone: store aware values as UTC rather than as their local wall time.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


class MysqlConnection:
    """A connection to one MySQL or MariaDB database."""

    def __init__(
        self,
        connection: Any,
        server: ServerUrl,
        login: Login | None,
        connect_timeout: float,
        where: str,
    ) -> None:
        self._connection = connection
        # Kept to open the short side connection that sends KILL QUERY.
        self._server = server
        self._login = login
        self._connect_timeout = connect_timeout
        self._where = where
        # What `reset` sends to put the session's first role back (see `remember_role`).
        self._role_reset: str | None = None
        self._running: asyncio.Task[BatchResult] | None = None
        self._cancel_requested = False
        # Which statement of the last run_statements failed, for its error's location.
        self._failing: int | None = None
        # The server's max_allowed_packet, asked once, and only for a large batch.
        self._packet_limit: int | None = None
        # `reset` sent, its answers not read yet (the next `use` reads them).
        self._reset_sent = False

    async def execute(
        self, sql: str, *, timeout: float | None, want_rows: bool = False
    ) -> BatchResult:
        """Run one batch of any number of statements; keep the first result set's rows."""
        self._failing = None
        return await self._supervise(self._run_batch(sql, want_rows), timeout)

    async def run_statements(
        self, statements: Sequence[Statement], *, timeout: float | None
    ) -> BatchResult:
        """Run the statements in order, as the mysql client sends them: each its own query,
        consecutive ones grouped while they fit well under any server's max_allowed_packet.

        Statements read under a custom DELIMITER (routine and trigger bodies) go alone.
        Every statement commits as it ends (autocommit): a failure keeps those before it.
        """
        return await self._supervise(self._run_groups(statements), timeout)

    async def _budget(self, cursor: Any, statements: Sequence[Statement]) -> int:
        """How many bytes of statements may go in one packet to this server."""
        if sum(len(s.text) for s in statements) * 4 <= _ASK_ABOVE:
            return _GROUP_BUDGET  # fits in any packet whatever its characters: ask nothing
        if self._packet_limit is None:
            await cursor.execute("SELECT @@max_allowed_packet")
            row = await cursor.fetchone()
            self._packet_limit = int(row[0]) if row else _ASK_ABOVE
        return max(1, min(_GROUP_BUDGET, self._packet_limit - _PACKET_HEADROOM))

    async def _run_groups(self, statements: Sequence[Statement]) -> BatchResult:
        self._failing = None
        cursor = await self._connection.cursor(_MessageCursor)
        cursor.messages = []
        result = BatchResult(messages=cursor.messages)
        try:
            budget = await self._budget(cursor, statements)
            # On a line of its own: a statement may end in a `#` or `-- ` comment.
            for group in grouped(statements, separator="\n;\n", budget=budget):
                done = 0
                try:
                    await cursor.execute(group.text)
                    done = 1
                    result.row_count = cursor.rowcount
                    while await cursor.nextset():
                        done += 1
                        result.row_count = cursor.rowcount
                except aiomysql.Error:
                    self._failing = group.first + done
                    raise
        finally:
            await cursor.close()
        if result.row_count is not None and result.row_count < 0:
            result.row_count = None
        return result

    async def _run_batch(self, sql: str, want_rows: bool) -> BatchResult:
        cursor = await self._connection.cursor(_MessageCursor)
        cursor.messages = []
        try:
            await cursor.execute(sql)
            result = BatchResult(messages=cursor.messages)
            if want_rows and cursor.description:
                result.columns = [column[0] for column in cursor.description]
                result.rows = [tuple(row) for row in await cursor.fetchall()]
                result.row_count = len(result.rows)
            else:
                result.row_count = cursor.rowcount
            # Later result sets must be read for the connection to be usable again.
            while await cursor.nextset():
                if not want_rows or not result.columns:
                    result.row_count = cursor.rowcount
        finally:
            await cursor.close()
        if result.row_count is not None and result.row_count < 0:
            result.row_count = None
        return result

    async def _supervise(
        self, job: Coroutine[Any, Any, BatchResult], timeout: float | None
    ) -> BatchResult:
        task = asyncio.ensure_future(job)
        self._running = task
        self._cancel_requested = False
        try:
            try:
                done, _ = await asyncio.wait({task}, timeout=timeout)
            except asyncio.CancelledError:
                # Whoever awaits us gave up (e.g. the execution was stopped): the statement
                # must not go on running on the server.
                await self._stop(task)
                raise
            if not done:
                failure = await self._stop(task)
                note = "" if failure is None else f" (cancelling it failed: {failure})"
                raise TargetTimeout(
                    f"the statement on {self._where} did not finish within {timeout:g} s "
                    f"and was canceled on the server{note}"
                )
            if self._cancel_requested:
                _consume(task)
                raise TargetCanceled(f"the statement on {self._where} was canceled on the server")
            try:
                return task.result()
            except aiomysql.OperationalError as exc:
                if exc.args and exc.args[0] in _LOST_CONNECTION:
                    raise TargetConnectError(
                        f"lost the connection to {self._where}: {_server_error(exc)}",
                        transient=True,
                    ) from exc
                raise self._query_error(exc) from exc
            except aiomysql.InterfaceError as exc:
                # Before aiomysql.Error, its base: the connection was lost before this batch
                # (pymysql says "(0, 'Not connected')"), which is no fault of the script.
                raise TargetConnectError(
                    f"lost the connection to {self._where}: {exc}", transient=True
                ) from exc
            except aiomysql.Error as exc:
                raise self._query_error(exc) from exc
            except OSError as exc:
                raise TargetConnectError(
                    f"lost the connection to {self._where}: {exc}", transient=True
                ) from exc
        finally:
            self._running = None

    def _query_error(self, exc: aiomysql.Error) -> TargetQueryError:
        """The server's error, with the statement it is about and the line it names."""
        text = _server_error(exc)
        near = _NEAR_LINE.search(text) if exc.args and exc.args[0] == ER.PARSE_ERROR else None
        line = int(near.group(1)) if near else None
        return TargetQueryError(
            text, statement=self._failing, line=line, transient=is_transient(exc)
        )

    async def _stop(self, task: asyncio.Task[BatchResult]) -> str | None:
        """Kill the task's statement on the server and let the task end; why killing failed."""
        failure = None
        try:
            failure = await self._kill_query()
            if failure is None:
                await asyncio.wait({task}, timeout=_KILL_GRACE)
        finally:
            if not task.done():
                # The protocol state mid-read is unknown: this connection cannot be reused.
                task.cancel()
                self._connection.close()
            _consume(task)
        return failure

    async def _kill_query(self) -> str | None:
        thread_id = int(self._connection.thread_id())
        try:
            async with asyncio.timeout(self._connect_timeout):
                side = await _connect(self._server, None, self._login, self._connect_timeout)
                try:
                    async with side.cursor() as cursor:
                        await cursor.execute(f"KILL QUERY {thread_id}")
                finally:
                    await _close(side)
        except TimeoutError:
            return f"no answer from the server within {self._connect_timeout:g} s"
        except aiomysql.Error as exc:
            if exc.args and exc.args[0] == ER.NO_SUCH_THREAD:
                return None  # it ended by itself meanwhile
            return _server_error(exc)
        except (TargetError, OSError) as exc:
            return str(exc)
        return None

    async def cancel(self) -> None:
        """Cancel the running batch on the server with KILL QUERY; a no-op when idle."""
        task = self._running
        if task is None or task.done():
            return
        self._cancel_requested = True
        if await self._kill_query() is not None and not task.done():
            # The server would not take the kill: stop waiting for the statement at least.
            task.cancel()
            self._connection.close()

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
        """Create the table if missing, then insert with multi-row INSERT statements."""
        shape = output_table(schema, table, columns, rows, quote=quote_identifier, types=_TYPES)
        values = [tuple(_utc_naive(value) for value in row) for row in shape.rows]
        insert = f"INSERT INTO {shape.name} ({shape.column_list}) VALUES "
        await self._supervise(
            self._write(shape.create if create else None, insert, values), timeout
        )

    async def _write(
        self, create: str | None, insert: str, values: list[tuple[Any, ...]]
    ) -> BatchResult:
        async with self._connection.cursor(_MessageCursor) as cursor:
            cursor.messages = []
            if create is not None:
                await cursor.execute(create)
            for statement in _multi_row_inserts(self._connection, insert, values):
                await cursor.execute(statement)
        return BatchResult(row_count=len(values))

    async def remember_role(self, *, timeout: float) -> None:
        """Note the role the session began with, which `reset` puts back (no roles: nothing)."""
        try:
            result = await self.execute("SELECT CURRENT_ROLE()", timeout=timeout, want_rows=True)
        except TargetQueryError:
            return  # a server without roles: no script can set one either
        role = result.rows[0][0] if result.rows else None
        if role is None or role == "NONE":
            self._role_reset = "SET ROLE NONE"
        elif role.startswith("`"):  # MySQL writes them quoted, as SET ROLE takes them
            self._role_reset = f"SET ROLE {role}"
        else:
            self._role_reset = f"SET ROLE {quote_identifier(role)}"

    async def use(self, database: str, schema: str | None, *, timeout: float) -> None:
        """Select `database` with COM_INIT_DB, the command behind `USE`, and read the
        answers to the reset sent before it."""
        if schema is not None:
            raise InvalidValue(_SCHEMA_TARGETS)
        where = f"database {database!r} on {self._server}"
        connection = self._connection
        try:
            async with asyncio.timeout(timeout):
                connection._ensure_alive()
                connection._write_bytes(
                    _packet(COMMAND.COM_INIT_DB, database.encode(connection.encoding))
                )
                await self._read_reset_answers()
                await _read_answer(connection, query=False)
                # The server's default, which a new connection does not keep either.
                await connection.autocommit(True)
        except (aiomysql.Error, OSError, TimeoutError) as exc:
            raise TargetConnectError(
                f"cannot connect to {where}: {_failure(exc, timeout)}",
                transient=is_transient(exc),
            ) from exc
        self._where = where

    async def reset(self, *, timeout: float) -> None:
        """Send COM_RESET_CONNECTION, and the role to put back, without waiting: the server
        resets the session at once, and the next `use` reads its answers with its own, so
        that a reused connection costs one round trip between two targets, not three."""
        connection = self._connection
        packets = _packet(_COM_RESET_CONNECTION, b"")
        # MariaDB's reset keeps the role a script set: put back the one the connection began
        # with, so no target runs with another one's privileges.
        if self._role_reset is not None:
            packets += _packet(COMMAND.COM_QUERY, self._role_reset.encode(connection.encoding))
        try:
            connection._ensure_alive()
            connection._write_bytes(packets)
        except (aiomysql.Error, OSError) as exc:
            raise TargetConnectError(
                f"cannot reset the connection to {self._where}: {_failure(exc, timeout)}",
                transient=True,
            ) from exc
        self._reset_sent = True

    async def _read_reset_answers(self) -> None:
        if self._reset_sent:
            self._reset_sent = False
            await _read_answer(self._connection, query=False)
            if self._role_reset is not None:
                await _read_answer(self._connection, query=True)

    async def close(self) -> None:
        """Say goodbye to the server and close the socket."""
        await _close(self._connection)


_LOST_CONNECTION = frozenset({2006, 2013})
# A syntax error says "... near 'x' at line 3": the line of the statement.
_NEAR_LINE = re.compile(r"at line (\d+)\Z")

# Statements sent as one query are grouped up to this many bytes, and never beyond the
# server's max_allowed_packet (less some headroom for the packet's own bytes): a statement
# longer than that goes alone, as the mysql client would send it. A batch that fits in
# _ASK_ABOVE bytes is sent without asking the server its limit (no server ships with less).
_GROUP_BUDGET = 1024 * 1024
_ASK_ABOVE = 64 * 1024
_PACKET_HEADROOM = 1024

# Rows per INSERT are bounded by size, well under MySQL's and MariaDB's max_allowed_packet.
_MAX_STATEMENT_CHARS = 1_000_000


def _packet(command: int, payload: bytes) -> bytes:
    """A command's packet (its exchange's first: sequence number 0); payload < 16 MiB."""
    return struct.pack("<I", len(payload) + 1)[:3] + b"\x00" + bytes((command,)) + payload


async def _read_answer(connection: Any, *, query: bool) -> None:
    """Read the answer to a command sent with `_packet` before the last one read: an OK
    packet, or a query's result; raise the server's error. (aiomysql reads answers this way,
    one command at a time: the answer's packets are numbered from 1.)"""
    connection._next_seq_id = 1
    if query:
        await connection._read_query_result()
    else:
        await connection._read_ok_packet()


def _multi_row_inserts(connection: Any, insert: str, rows: list[tuple[Any, ...]]) -> list[str]:
    """`insert` followed by as many row literals as fit in one statement, as often as needed.

    Built here rather than with executemany: aiomysql cannot escape bytes with the PyMySQL
    it depends on, so binary values are written as hex literals.
    """
    statements: list[str] = []
    batch: list[str] = []
    size = 0
    for row in rows:
        literals = (f"X'{v.hex()}'" if isinstance(v, bytes) else connection.escape(v) for v in row)
        text = "(" + ", ".join(literals) + ")"
        if batch and size + len(text) > _MAX_STATEMENT_CHARS:
            statements.append(insert + ", ".join(batch))
            batch, size = [], 0
        batch.append(text)
        size += len(text) + 2
    if batch:
        statements.append(insert + ", ".join(batch))
    return statements


async def _close(connection: Any) -> None:
    if connection.closed:
        return
    try:
        async with asyncio.timeout(_CLOSE_TIMEOUT):
            await connection.ensure_closed()
    except (aiomysql.Error, OSError):
        connection.close()


def _failure(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, aiomysql.Error):
        return _server_error(exc)
    return str(exc)


def _consume(task: asyncio.Task[Any]) -> None:
    """Mark the task's outcome as seen, so asyncio does not log it as never retrieved."""

    def retrieve(done: asyncio.Task[Any]) -> None:
        if not done.cancelled():
            done.exception()

    task.add_done_callback(retrieve)


class MysqlDriver:
    """MySQL and MariaDB servers, through aiomysql."""

    engine: str = "mysql"
    trial_statements: tuple[str, str] | None = None

    def quote_literal(self, value: str) -> str:
        """`value` as a string: a hexadecimal literal `_utf8mb4 X'...'`, safe in every mode."""
        return quote_literal(value)

    def quote_identifier(self, value: str) -> str:
        """`value` as a quoted identifier: `` `...` `` with backticks doubled."""
        return quote_identifier(value)

    async def connect(
        self,
        server: ServerUrl,
        database: str,
        login: Login | None,
        *,
        connect_timeout: float,
        schema: str | None = None,
    ) -> MysqlConnection:
        """Open an autocommit, multi-statement connection to `database`."""
        if schema is not None:
            raise InvalidValue(_SCHEMA_TARGETS)
        connection = await _connect(server, database, login, connect_timeout)
        where = f"database {database!r} on {server}"
        return MysqlConnection(connection, server, login, connect_timeout, where)

    def session_scope(self, database: str, schema: str | None) -> str | None:
        """Every database of a server: one connection serves them in turn."""
        return "" if schema is None else None

    async def connect_reusable(
        self,
        server: ServerUrl,
        database: str,
        login: Login | None,
        *,
        connect_timeout: float,
        schema: str | None = None,
    ) -> ReusableConnection:
        """`connect`: the database chosen at the handshake costs no round trip."""
        connection = await self.connect(
            server, database, login, connect_timeout=connect_timeout, schema=schema
        )
        try:
            await connection.remember_role(timeout=connect_timeout)
        except BaseException:
            await connection.close()
            raise
        return connection

    async def list_databases(
        self, server: ServerUrl, login: Login | None, *, connect_timeout: float
    ) -> list[str]:
        """Every database but information_schema, performance_schema, mysql and sys."""
        connection = await _connect(server, None, login, connect_timeout)
        target = MysqlConnection(connection, server, login, connect_timeout, f"server {server}")
        try:
            result = await target.execute("SHOW DATABASES", timeout=connect_timeout, want_rows=True)
        finally:
            await target.close()
        names = (row[0] for row in result.rows)
        return sorted(name for name in names if name.lower() not in _SYSTEM_DATABASES)

    async def list_schemas(
        self, server: ServerUrl, database: str, login: Login | None, *, connect_timeout: float
    ) -> list[str]:
        """Not meaningful on MySQL: raises `InvalidValue`."""
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
        """Connect, run one query, return its first result set's rows, close."""
        return await fetch_once(
            self, server, database, login, sql, connect_timeout=connect_timeout, timeout=timeout
        )


async def _connect(
    server: ServerUrl, database: str | None, login: Login | None, connect_timeout: float
) -> Any:
    connection = aiomysql.Connection(
        host=server.host,
        port=server.port,
        user=login.username if login else None,
        password=login.password.reveal() if login and login.password else "",
        db=database,
        autocommit=True,
        client_flag=CLIENT.MULTI_STATEMENTS,
        connect_timeout=connect_timeout,
    )
    where = f"database {database!r} on {server}" if database else f"server {server}"
    try:
        # aiomysql's own timeout covers the TCP connect only, not the handshake, and its
        # connect() hides the connection object, so a cancelled handshake would leak the
        # socket: drive the connection's own _connect() and close it on any failure.
        async with asyncio.timeout(connect_timeout):
            await connection._connect()
    except BaseException as exc:
        connection.close()
        if isinstance(exc, TimeoutError):
            reason = f"no answer within {connect_timeout:g} s"
        elif isinstance(exc, aiomysql.Error):
            reason = _server_error(exc)
            if exc.__cause__ is not None:
                reason += f" ({exc.__cause__})"
        elif isinstance(exc, OSError):
            reason = f"the server is not reachable: {exc.strerror or exc}"
        else:
            raise
        raise TargetConnectError(
            f"cannot connect to {where}: {reason}", transient=is_transient(exc)
        ) from exc
    return connection
