"""Fixtures for tests against real database servers: fleets of throwaway databases.

The servers are PostgreSQL at 127.0.0.1:5432 (user `postgres`, trust auth) and MariaDB at
127.0.0.1:3306 (user `root`, empty password); set `SQLFLEET_TEST_PG_HOST`/`_PORT`/`_USER`
or `SQLFLEET_TEST_MYSQL_HOST`/`_PORT`/`_USER`/`_PASSWORD` to use others. A server that is
not reachable fails the test with how to start it: these tests are never skipped.

Fleet fixtures are factories: `pg_fleet(3)` creates three databases named
`sqlfleet_t_<8 hex>_<i>` and returns their names; everything a test's factories created is
dropped when the test ends. The fixtures are synchronous, so they serve sync and async
tests alike; `pg_sql` / `mysql_sql` run a statement as the admin user to set up or check a
database behind the driver's back.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import psycopg
import pymysql
import pytest
from psycopg import sql

from sqlfleet.secrets import Secret
from sqlfleet.servers import ServerUrl
from sqlfleet.targets.base import Login
from tests.polling import wait_for_async

PG_HOST = os.environ.get("SQLFLEET_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SQLFLEET_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("SQLFLEET_TEST_PG_USER", "postgres")
MYSQL_HOST = os.environ.get("SQLFLEET_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("SQLFLEET_TEST_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("SQLFLEET_TEST_MYSQL_USER", "root")
MYSQL_PASSWORD = os.environ.get("SQLFLEET_TEST_MYSQL_PASSWORD", "")

# Creating a database costs a few hundred milliseconds (fsync); a few at a time is faster.
_ADMIN_PARALLELISM = 8


class Fleet(Protocol):
    """Creates `n` databases (names `<prefix>_<i>`) and returns their names, in order.

    Without `prefix`, a fresh random one (`sqlfleet_t_<8 hex>`) makes them unique; with
    one, the caller makes it unique.
    """

    def __call__(self, n: int, prefix: str | None = None) -> list[str]: ...


SqlRunner = Callable[..., list[tuple[Any, ...]]]


def _fleet_names(n: int, prefix: str | None, suffix: str = "") -> list[str]:
    prefix = prefix or f"sqlfleet_t_{secrets.token_hex(4)}"
    return [f"{prefix}_{i}{suffix}" for i in range(n)]


def _in_parallel(action: Callable[[str], None], names: Sequence[str]) -> None:
    with ThreadPoolExecutor(max_workers=_ADMIN_PARALLELISM) as pool:
        # list() re-raises the first failure.
        list(pool.map(action, names))


# -- PostgreSQL ---------------------------------------------------------------------------


def _pg_connect(database: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        dbname=database,
        autocommit=True,
        connect_timeout=5,
    )


@pytest.fixture(scope="session")
def pg_server() -> ServerUrl:
    """The PostgreSQL test server; fails (never skips) the test if it is not reachable."""
    try:
        _pg_connect().close()
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} as {PG_USER!r}: {exc}\n"
            "Start it with `sudo service postgresql start` (or `pg_ctlcluster 15 main start`), "
            "or point SQLFLEET_TEST_PG_HOST/SQLFLEET_TEST_PG_PORT at a running server.",
            pytrace=False,
        )
    return ServerUrl(engine="postgresql", host=PG_HOST, port=PG_PORT)


@pytest.fixture(scope="session")
def pg_login() -> Login:
    """The login the tests connect to PostgreSQL with (trust auth: no password)."""
    return Login(PG_USER, None)


@pytest.fixture
def pg_sql(pg_server: ServerUrl) -> SqlRunner:
    """`pg_sql(database, statement, params=None)`: run it as the admin user, return rows."""

    def run(database: str, statement: str, params: Sequence[Any] | None = None) -> list[Any]:
        with _pg_connect(database) as connection:
            cursor = connection.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    return run


@pytest.fixture
def pg_fleet(pg_server: ServerUrl) -> Iterator[Fleet]:
    """Factory of real PostgreSQL databases, all dropped (WITH (FORCE)) after the test."""
    created: list[str] = []

    def create(name: str) -> None:
        with _pg_connect() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop(name: str) -> None:
        with _pg_connect() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def make(n: int, prefix: str | None = None) -> list[str]:
        names = _fleet_names(n, prefix)
        created.extend(names)
        _in_parallel(create, names)
        return names

    yield make
    _in_parallel(drop, created)


# -- MariaDB / MySQL ----------------------------------------------------------------------


def _mysql_connect(database: str | None = None) -> pymysql.Connection:
    return pymysql.connect(
        host=MYSQL_HOST,
        port=MYSQL_PORT,
        user=MYSQL_USER,
        password=MYSQL_PASSWORD,
        database=database,
        autocommit=True,
        connect_timeout=5,
    )


@pytest.fixture(scope="session")
def mysql_server() -> ServerUrl:
    """The MariaDB test server; fails (never skips) the test if it is not reachable."""
    try:
        _mysql_connect().close()
    except pymysql.Error as exc:
        pytest.fail(
            f"MariaDB is not reachable at {MYSQL_HOST}:{MYSQL_PORT} as {MYSQL_USER!r}: {exc}\n"
            "Start it with `sudo service mariadb start`, or point "
            "SQLFLEET_TEST_MYSQL_HOST/SQLFLEET_TEST_MYSQL_PORT at a running server.",
            pytrace=False,
        )
    return ServerUrl(engine="mysql", host=MYSQL_HOST, port=MYSQL_PORT)


@pytest.fixture(scope="session")
def mysql_login() -> Login:
    """The login the tests connect to MariaDB with."""
    return Login(MYSQL_USER, Secret(MYSQL_PASSWORD) if MYSQL_PASSWORD else None)


@pytest.fixture
def mysql_sql(mysql_server: ServerUrl) -> SqlRunner:
    """`mysql_sql(database, statement, params=None)`: run it as the admin user, return rows."""

    def run(database: str | None, statement: str, params: Sequence[Any] | None = None) -> list[Any]:
        connection = _mysql_connect(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement, params)
                return list(cursor.fetchall())
        finally:
            connection.close()

    return run


@pytest.fixture
def mysql_fleet(mysql_server: ServerUrl) -> Iterator[Fleet]:
    """Factory of real MariaDB databases, all dropped after the test."""
    created: list[str] = []

    def run(statement: str) -> None:
        connection = _mysql_connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def make(n: int, prefix: str | None = None) -> list[str]:
        names = _fleet_names(n, prefix)
        created.extend(names)
        for name in names:
            run(f"CREATE DATABASE `{name}`")
        return names

    yield make
    for name in created:
        run(f"DROP DATABASE IF EXISTS `{name}`")


# -- SQLite -------------------------------------------------------------------------------


@pytest.fixture
def sqlite_server(tmp_path: Path) -> ServerUrl:
    """A SQLite "server": an empty folder of the test's own."""
    folder = tmp_path / "sqlite_server"
    folder.mkdir()
    return ServerUrl(engine="sqlite", path=str(folder))


@pytest.fixture
def sqlite_fleet(sqlite_server: ServerUrl) -> Fleet:
    """Factory of SQLite database files (`<prefix>_<i>.db`) in `sqlite_server`'s folder."""

    def make(n: int, prefix: str | None = None) -> list[str]:
        names = _fleet_names(n, prefix, suffix=".db")
        for name in names:
            connection = sqlite3.connect(Path(sqlite_server.path) / name)
            try:
                # Writes the header, so the file is a database and not just an empty file.
                connection.execute("PRAGMA user_version = 1")
            finally:
                connection.close()
        return names

    return make


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture
def poll() -> Callable[..., Any]:
    """`await poll(check, within=10)`: call `check()` until it is truthy, else fail.

    Tests never sleep to wait for something; they poll with a deadline. Returns the truthy
    value `check()` returned.
    """

    return wait_for_async


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local TCP port that accepts connections and never says a word (a hung server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        # The kernel completes handshakes up to the backlog without accept(): clients connect
        # and then wait forever for the server's greeting.
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A local TCP port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
