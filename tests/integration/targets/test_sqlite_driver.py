"""The SQLite driver on files made by the test."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sqlfleet.errors import (
    InvalidValue,
    TargetCanceled,
    TargetConnectError,
    TargetQueryError,
    TargetTimeout,
)
from sqlfleet.servers import ServerUrl
from sqlfleet.targets import driver_for
from sqlfleet.targets.sqlite import SqliteConnection, SqliteDriver

# Counts forever: only an interrupt ends it.
ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


@pytest.fixture
def driver() -> SqliteDriver:
    return SqliteDriver()


@pytest.fixture
def database(sqlite_fleet: Any) -> str:
    return str(sqlite_fleet(1)[0])


@pytest.fixture
async def connection(driver: SqliteDriver, sqlite_server: ServerUrl, database: str) -> Any:
    connection = await driver.connect(sqlite_server, database, None, connect_timeout=5)
    yield connection
    await connection.close()


async def test_list_databases_lists_db_and_sqlite_files(
    driver: SqliteDriver, sqlite_server: ServerUrl, sqlite_fleet: Any
) -> None:
    names = sqlite_fleet(2)
    folder = Path(sqlite_server.path)
    (folder / "other.sqlite").touch()
    (folder / "notes.txt").touch()
    (folder / "dir.db").mkdir()
    listed = await driver.list_databases(sqlite_server, None, connect_timeout=5)
    assert listed == sorted([*names, "other.sqlite"])


async def test_missing_folder_is_a_connect_error(driver: SqliteDriver, tmp_path: Path) -> None:
    server = ServerUrl(engine="sqlite", path=str(tmp_path / "nowhere"))
    with pytest.raises(TargetConnectError, match="does not exist"):
        await driver.list_databases(server, None, connect_timeout=5)
    with pytest.raises(TargetConnectError, match="folder does not exist"):
        await driver.connect(server, "a.db", None, connect_timeout=5)


async def test_missing_file_is_a_connect_error_and_is_not_created(
    driver: SqliteDriver, sqlite_server: ServerUrl
) -> None:
    with pytest.raises(TargetConnectError, match="no such file"):
        await driver.connect(sqlite_server, "ghost.db", None, connect_timeout=5)
    assert not (Path(sqlite_server.path) / "ghost.db").exists()


@pytest.mark.parametrize("name", ["../escape.db", "..", "sub/x.db", "a\\b.db", "", "x\x00.db"])
async def test_names_that_leave_the_folder_are_refused(
    driver: SqliteDriver, sqlite_server: ServerUrl, name: str
) -> None:
    (Path(sqlite_server.path).parent / "escape.db").touch()
    with pytest.raises(InvalidValue, match="file name inside the server's folder"):
        await driver.connect(sqlite_server, name, None, connect_timeout=5)


async def test_schema_targets_are_refused(
    driver: SqliteDriver, sqlite_server: ServerUrl, database: str
) -> None:
    with pytest.raises(InvalidValue, match="need PostgreSQL"):
        await driver.list_schemas(sqlite_server, database, None, connect_timeout=5)
    with pytest.raises(InvalidValue, match="need PostgreSQL"):
        await driver.connect(sqlite_server, database, None, connect_timeout=5, schema="main")


async def test_script_then_rows(
    connection: SqliteConnection, sqlite_server: ServerUrl, database: str
) -> None:
    result = await connection.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); "
        "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'); "
        "UPDATE t SET name = 'z' WHERE id > 1;",
        timeout=10,
    )
    assert (result.columns, result.rows, result.row_count, result.messages) == ([], [], 5, [])
    rows = await connection.execute(
        "SELECT id, name FROM t ORDER BY id", timeout=10, want_rows=True
    )
    assert (rows.columns, rows.rows, rows.row_count) == (
        ["id", "name"],
        [(1, "a"), (2, "z"), (3, "z")],
        3,
    )
    empty = await connection.execute("SELECT id AS n FROM t WHERE 0", timeout=10, want_rows=True)
    assert (empty.columns, empty.rows, empty.row_count) == (["n"], [], 0)
    # Autocommit: another connection sees the rows at once.
    with sqlite3.connect(Path(sqlite_server.path) / database) as other:
        assert other.execute("SELECT count(*) FROM t").fetchone() == (3,)


async def test_errors_carry_sqlite_text(connection: SqliteConnection) -> None:
    with pytest.raises(TargetQueryError, match="SQLITE_ERROR: no such table: nope"):
        await connection.execute("SELECT * FROM nope", timeout=10)
    with pytest.raises(TargetQueryError, match=r"single statement.*GO"):
        await connection.execute("SELECT 1; SELECT 2", timeout=10, want_rows=True)


async def test_timeout_interrupts(connection: SqliteConnection) -> None:
    started = asyncio.get_running_loop().time()
    with pytest.raises(TargetTimeout, match="interrupted"):
        await connection.execute(ENDLESS, timeout=0.3, want_rows=True)
    assert asyncio.get_running_loop().time() - started < 5
    assert (await connection.execute("SELECT 1", timeout=10, want_rows=True)).rows == [(1,)]


async def test_cancel_from_another_task(connection: SqliteConnection) -> None:
    await connection.cancel()  # nothing runs: a no-op
    running = asyncio.create_task(connection.execute(ENDLESS, timeout=60))
    # One yield lets execute() hand the statement to its thread; whether the thread has
    # started it yet or not, the cancel must stop it.
    await asyncio.sleep(0)
    await connection.cancel()
    with pytest.raises(TargetCanceled):
        await running
    assert (await connection.execute("SELECT 1", timeout=10, want_rows=True)).rows == [(1,)]


async def test_cancelling_the_caller_leaves_no_unretrieved_error(
    connection: SqliteConnection, caplog: pytest.LogCaptureFixture, poll: Any
) -> None:
    # What earlier tests left for the garbage collector is not this test's to judge.
    gc.collect()
    caplog.clear()
    running = asyncio.create_task(connection.execute(ENDLESS, timeout=60))
    await asyncio.sleep(0)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    # The interrupted statement's result arrives later; once it did, the statement's future
    # is collected, and asyncio would log an error nobody retrieved.
    assert (await connection.execute("SELECT 1", timeout=10, want_rows=True)).rows == [(1,)]
    del running
    gc.collect()
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text


async def test_connections_do_not_wait_for_each_other(
    driver: SqliteDriver, sqlite_server: ServerUrl, sqlite_fleet: Any
) -> None:
    names = sqlite_fleet(40)
    connections = [
        await driver.connect(sqlite_server, name, None, connect_timeout=5) for name in names
    ]
    try:
        # Forty endless statements at once: each has its own thread, so all time out together.
        started = asyncio.get_running_loop().time()
        outcomes = await asyncio.gather(
            *(c.execute(ENDLESS, timeout=0.5) for c in connections), return_exceptions=True
        )
        assert all(isinstance(outcome, TargetTimeout) for outcome in outcomes)
        assert asyncio.get_running_loop().time() - started < 10
    finally:
        await asyncio.gather(*(c.close() for c in connections))


async def test_append_rows_creates_the_table_and_round_trips_types(
    connection: SqliteConnection,
) -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    columns = ["i", "f", "d", "b", "ts", "day", "raw", "s", "nothing"]
    rows = [
        (1, 1.5, Decimal("1.10"), True, when, date(2024, 5, 6), b"\x00\xff", "x", None),
        (2, None, None, None, None, None, None, None, None),
    ]
    await connection.append_rows(None, "results", columns, rows)
    await connection.append_rows("main", "results", columns, rows[:1])
    back = await connection.execute("SELECT * FROM results ORDER BY i", timeout=10, want_rows=True)
    assert back.columns == columns
    assert back.rows[0] == (
        1, 1.5, "1.10", 1, "2024-05-06 07:08:09.123456+00:00", "2024-05-06", b"\x00\xff", "x",
        None,
    )  # fmt: skip
    assert len(back.rows) == 3


async def test_query_and_driver_for(sqlite_server: ServerUrl, database: str) -> None:
    driver = driver_for(sqlite_server)
    assert driver.engine == "sqlite"
    rows = await driver.query(
        sqlite_server, database, None, "PRAGMA user_version", connect_timeout=5, timeout=5
    )
    assert rows == [(1,)]


async def test_close_twice(connection: SqliteConnection) -> None:
    await connection.close()
    await connection.close()


def test_driver_for_refuses_sql_server() -> None:
    with pytest.raises(InvalidValue, match="SQL Server targets are not supported yet"):
        driver_for(ServerUrl(engine="mssql", host="h", port=1433))
