"""The one small protocol every target engine implements.

A `Driver` knows one engine: it enumerates databases and schemas on a server and opens a
`TargetConnection` to one database. A connection runs batches with a timeout, can be
cancelled from another task, and appends rows to a table (for step output). Every driver
translates its library's exceptions into `sqlfleet.errors` once, in its own module, so
nothing above this package ever sees asyncpg, aiomysql or sqlite3.

The contract, for every engine:

- `execute(sql, timeout=...)` runs one batch. When `want_rows` is False the batch may hold
  several statements and nothing is fetched; when True the batch must be a single query
  (PostgreSQL and SQLite enforce this; MySQL keeps the first result set) and the first
  result set's columns and rows come back. A batch of several statements given with
  `want_rows` raises `MultipleStatements` before any of it runs (PostgreSQL, SQLite).
- A timeout cancels the statement *on the server* and raises `TargetTimeout`; `cancel()`
  does the same from another task and makes `execute()` raise `TargetCanceled`. If the
  task running `execute()` is itself cancelled, the statement is cancelled on the server
  too and `CancelledError` propagates.
- Server errors raise `TargetQueryError` with the server's text, prefixed by its code.
- `connect` failures of any kind (unreachable, refused login, unknown database, timeout)
  raise `TargetConnectError`; no message ever contains a password.
- Schema targets (`schema=`, `list_schemas`) exist on PostgreSQL only; other engines raise
  `InvalidValue`.
- Where the engine allows it, one connection serves several targets in turn: targets with
  the same `session_scope` on one server and login (MySQL: every database of the server;
  PostgreSQL: the schemas of one database). `connect_reusable` opens such a connection,
  `ReusableConnection.use` points it at a target, and `reset` leaves nothing of a script
  behind for the next one: the session then looks as a new connection's would.
- `quote_literal` and `quote_identifier` write a value so that the engine reads back exactly
  that value, whatever the session's settings; a driver is the `Quoting` that script
  substitution uses for `$(name:literal)` and `$(name:identifier)`.
"""

# ruff: noqa: ASYNC109 -- `timeout` is part of the driver protocol on purpose: a driver must
# cancel the statement on the server when it expires, which an outer asyncio.timeout cannot do.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlfleet.secrets import Secret
from sqlfleet.servers import ServerUrl
from sqlfleet.statements import Statement

__all__ = [
    "BatchResult",
    "Driver",
    "Group",
    "Login",
    "ReusableConnection",
    "TargetConnection",
    "fetch_once",
    "fetch_result",
    "grouped",
]


@dataclass(frozen=True, slots=True)
class Login:
    """A user name and secret to connect with; its repr masks the secret."""

    username: str
    password: Secret | None = None


@dataclass(slots=True)
class BatchResult:
    """What one batch produced.

    `columns` and `rows` describe the first result set and are filled only when the batch
    ran with `want_rows=True` (empty when it returned no result set). `row_count` is what
    the server reports: the rows returned by the first result set when rows were wanted,
    otherwise the rows affected by the batch (PostgreSQL and MySQL: its last statement;
    SQLite: all its statements), or None when the server does not say.
    """

    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    row_count: int | None = None
    messages: list[str] = field(default_factory=list)


class TargetConnection(Protocol):
    """An open connection to one target database."""

    async def execute(
        self, sql: str, *, timeout: float | None, want_rows: bool = False
    ) -> BatchResult:
        """Run one batch; on timeout cancel it on the server and raise `TargetTimeout`.

        Raises `TargetQueryError` (server error), `TargetTimeout`, `TargetCanceled` (after
        `cancel()`), or `TargetConnectError` when the connection is lost mid-batch.
        """
        ...

    async def run_statements(
        self, statements: Sequence[Statement], *, timeout: float | None
    ) -> BatchResult:
        """Run a batch's statements, read as the engine's client reads them, in order.

        Raises what `execute` raises; a `TargetQueryError` says which statement failed
        (`statement`, an index into `statements`) and, where the server gives a position,
        where in its text (`position`).
        """
        ...

    async def cancel(self) -> None:
        """Cancel the running statement on the server; a no-op when nothing runs."""
        ...

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
        """Create `table` if missing (types inferred from the values), then insert `rows`.

        `create=False` only inserts: the caller created the table with an earlier call.

        Column types come from `sqlfleet.targets.columns.infer_kinds`; all rows go in one
        round trip where the driver allows. Raises `InvalidValue` for bad identifiers,
        duplicate column names or rows of the wrong width.
        """
        ...

    async def close(self) -> None:
        """Close the connection; safe to call twice, never raises."""
        ...


class ReusableConnection(TargetConnection, Protocol):
    """A connection that serves the targets of one session scope in turn."""

    async def use(self, database: str, schema: str | None, *, timeout: float) -> None:
        """Point the session at another target of its scope, as `connect` would have.

        Raises `TargetConnectError` (an unknown database, a lost connection).
        """
        ...

    async def reset(self, *, timeout: float) -> None:
        """Leave nothing of the last script for the next target: its transaction rolled
        back, its temporary tables, locks, variables and settings gone.

        Raises `TargetError` when that cannot be done: the connection must then be closed.
        A driver may send the reset without waiting for its answer: the next `use` then
        raises what it would have.
        """
        ...


class Driver(Protocol):
    """One database engine: enumerate targets and connect to them."""

    engine: str
    # How a trial wraps a target's batches (begin, roll back); None where DDL commits at
    # once (MySQL/MariaDB), so a trial could not undo what it ran.
    trial_statements: tuple[str, str] | None

    def quote_literal(self, value: str) -> str:
        """`value` as a string literal of this engine; `InvalidValue` for a NUL in it."""
        ...

    def quote_identifier(self, value: str) -> str:
        """`value` as a quoted identifier; `InvalidValue` if it is empty or holds a NUL."""
        ...

    async def connect(
        self,
        server: ServerUrl,
        database: str,
        login: Login | None,
        *,
        connect_timeout: float,
        schema: str | None = None,
    ) -> TargetConnection:
        """Open a connection to `database`, with `schema` as the search path if given.

        Raises `TargetConnectError` (never showing the password), or `InvalidValue` for a
        schema on an engine without schema targets or a malformed database name.
        """
        ...

    def session_scope(self, database: str, schema: str | None) -> str | None:
        """What the targets one connection may serve in turn have in common on a server
        (for one login); None where each target needs a connection of its own."""
        ...

    async def connect_reusable(
        self,
        server: ServerUrl,
        database: str,
        login: Login | None,
        *,
        connect_timeout: float,
        schema: str | None = None,
    ) -> ReusableConnection:
        """`connect`, for a connection that goes on to serve other targets of its scope.

        Only called for a target whose `session_scope` is not None.
        """
        ...

    async def list_databases(
        self, server: ServerUrl, login: Login | None, *, connect_timeout: float
    ) -> list[str]:
        """Every user database on the server, sorted; system databases left out."""
        ...

    async def list_schemas(
        self, server: ServerUrl, database: str, login: Login | None, *, connect_timeout: float
    ) -> list[str]:
        """Every user schema of `database`, sorted (PostgreSQL; others raise `InvalidValue`)."""
        ...

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
        """Connect, run one query, return its rows, close: for catalog queries."""
        ...


async def fetch_once(
    driver: Driver,
    server: ServerUrl,
    database: str,
    login: Login | None,
    sql: str,
    *,
    connect_timeout: float,
    timeout: float | None,
) -> list[tuple[Any, ...]]:
    """The shared body of `Driver.query`: one connection, one query, always closed."""
    result = await fetch_result(
        driver, server, database, login, sql, connect_timeout=connect_timeout, timeout=timeout
    )
    return result.rows


async def fetch_result(
    driver: Driver,
    server: ServerUrl,
    database: str,
    login: Login | None,
    sql: str,
    *,
    connect_timeout: float,
    timeout: float | None,
) -> BatchResult:
    """One query's column names and rows, on a connection of its own (a shard map's query)."""
    connection = await driver.connect(server, database, login, connect_timeout=connect_timeout)
    try:
        return await connection.execute(sql, timeout=timeout, want_rows=True)
    finally:
        await connection.close()


@dataclass(frozen=True, slots=True)
class Group:
    """Statements sent together as one text: the first one's index and where each starts.

    A COPY statement is a group of its own, with its inline data.
    """

    first: int
    text: str
    starts: tuple[int, ...] = (0,)
    copy_data: str | None = None

    @property
    def last(self) -> int:
        """The index of the group's last statement."""
        return self.first + len(self.starts) - 1

    def which(self, position: int | None) -> tuple[int, int | None]:
        """The index of the statement holding a 1-based `position` of the text, and the
        position within that statement; the first statement when there is no position."""
        if position is None or position < 1:
            return self.first, None
        offset = position - 1
        number = max(k for k, start in enumerate(self.starts) if start <= offset)
        return self.first + number, offset - self.starts[number] + 1


def grouped(
    statements: Sequence[Statement], *, separator: str, budget: int | None = None
) -> list[Group]:
    """Consecutive plain statements joined into groups; COPY and `alone` statements apart.

    With a `budget` (bytes of UTF-8), a group grows only while its text stays within it; a
    statement longer than the budget is a group of its own.
    """
    parts: list[Group] = []
    texts: list[str] = []
    starts: list[int] = []
    first = 0
    size = 0  # characters, for the statements' starts
    used = 0  # bytes, for the budget
    gap = len(separator.encode("utf-8"))

    def close() -> None:
        if texts:
            parts.append(Group(first, separator.join(texts), tuple(starts)))
            texts.clear()
            starts.clear()

    for index, statement in enumerate(statements):
        if statement.copy_data is not None or statement.alone:
            close()
            parts.append(Group(index, statement.text, copy_data=statement.copy_data))
            continue
        length = len(statement.text.encode("utf-8"))
        if texts and budget is not None and used + gap + length > budget:
            close()
        if not texts:
            first, size, used = index, 0, 0
        else:
            size += len(separator)
            used += gap
        starts.append(size)
        texts.append(statement.text)
        size += len(statement.text)
        used += length
    close()
    return parts
