"""The MySQL/MariaDB driver against a real MariaDB, on databases made by the test."""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pymysql
import pytest

from sqlfleet.errors import (
    InvalidValue,
    TargetCanceled,
    TargetConnectError,
    TargetQueryError,
    TargetTimeout,
)
from sqlfleet.secrets import Secret
from sqlfleet.servers import ServerUrl
from sqlfleet.targets import driver_for
from sqlfleet.targets.base import Login
from sqlfleet.targets.mysql import MysqlConnection, MysqlDriver

pytestmark = pytest.mark.mysql

PASSWORD = "s3cr3t-PASSWORD-never-shown"


@pytest.fixture
def driver() -> MysqlDriver:
    return MysqlDriver()


@pytest.fixture
def database(mysql_fleet: Any) -> str:
    return str(mysql_fleet(1)[0])


@pytest.fixture
async def connection(
    driver: MysqlDriver, mysql_server: ServerUrl, mysql_login: Login, database: str
) -> Any:
    connection = await driver.connect(mysql_server, database, mysql_login, connect_timeout=10)
    yield connection
    await connection.close()


def _sleepers(mysql_sql: Any, database: str) -> list[Any]:
    return list(
        mysql_sql(
            None,
            "SELECT id FROM information_schema.processlist "
            "WHERE db = %s AND info LIKE %s AND id <> CONNECTION_ID()",
            (database, "%SLEEP(30)%"),
        )
    )


async def test_list_databases_shows_the_fleet_not_system_databases(
    driver: MysqlDriver, mysql_server: ServerUrl, mysql_login: Login, mysql_fleet: Any
) -> None:
    names = mysql_fleet(3)
    listed = await driver.list_databases(mysql_server, mysql_login, connect_timeout=10)
    assert set(names) <= set(listed)
    assert listed == sorted(listed)
    assert not {"information_schema", "performance_schema", "mysql", "sys"} & set(listed)


async def test_schema_targets_are_refused(
    driver: MysqlDriver, mysql_server: ServerUrl, mysql_login: Login, database: str
) -> None:
    with pytest.raises(InvalidValue, match="need PostgreSQL"):
        await driver.list_schemas(mysql_server, database, mysql_login, connect_timeout=10)
    with pytest.raises(InvalidValue, match="need PostgreSQL"):
        await driver.connect(mysql_server, database, mysql_login, connect_timeout=10, schema="s")


async def test_multi_statement_batch_then_rows(connection: MysqlConnection) -> None:
    result = await connection.execute(
        "CREATE TABLE t (id int PRIMARY KEY, name text); "
        "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'); "
        "UPDATE t SET name = 'z' WHERE id > 1",
        timeout=10,
    )
    assert (result.columns, result.rows, result.row_count, result.messages) == ([], [], 2, [])
    rows = await connection.execute(
        "SELECT id, name FROM t ORDER BY id; SELECT 42", timeout=10, want_rows=True
    )
    assert rows.columns == ["id", "name"]
    assert rows.rows == [(1, "a"), (2, "z"), (3, "z")]
    assert rows.row_count == 3
    empty = await connection.execute(
        "SELECT id AS n FROM t WHERE 1 = 0", timeout=10, want_rows=True
    )
    assert (empty.columns, empty.rows, empty.row_count) == (["n"], [], 0)
    # Autocommit: another session sees the rows.
    again = await connection.execute("SELECT COUNT(*) FROM t", timeout=10, want_rows=True)
    assert again.rows == [(3,)]


async def test_warnings_are_messages(connection: MysqlConnection) -> None:
    result = await connection.execute("SELECT CAST('12abc' AS SIGNED)", timeout=10)
    assert len(result.messages) == 1
    assert result.messages[0].startswith("Warning 1292: Truncated incorrect INTEGER value")


async def test_server_error_carries_the_server_text(
    connection: MysqlConnection, database: str
) -> None:
    with pytest.raises(TargetQueryError) as caught:
        await connection.execute("SELECT 1; SELECT * FROM nope", timeout=10)
    assert f"ERROR 1146: Table '{database}.nope' doesn't exist" in str(caught.value)
    assert (await connection.execute("SELECT 1", timeout=10, want_rows=True)).rows == [(1,)]


async def test_bad_password_is_a_connect_error_without_the_password(
    driver: MysqlDriver, mysql_server: ServerUrl, mysql_login: Login, database: str
) -> None:
    login = Login(mysql_login.username, Secret(PASSWORD))
    with pytest.raises(TargetConnectError, match="Access denied") as caught:
        await driver.connect(mysql_server, database, login, connect_timeout=10)
    assert PASSWORD not in "".join(traceback.format_exception(caught.value))


async def test_unknown_database_is_a_connect_error(
    driver: MysqlDriver, mysql_server: ServerUrl, mysql_login: Login
) -> None:
    with pytest.raises(TargetConnectError, match="Unknown database"):
        await driver.connect(mysql_server, "sqlfleet_no_such_db", mysql_login, connect_timeout=10)


async def test_unreachable_port_is_a_connect_error(driver: MysqlDriver, closed_port: int) -> None:
    server = ServerUrl(engine="mysql", host="127.0.0.1", port=closed_port)
    login = Login("root", Secret(PASSWORD))
    with pytest.raises(TargetConnectError, match="Can't connect") as caught:
        await driver.connect(server, "x", login, connect_timeout=5)
    assert PASSWORD not in "".join(traceback.format_exception(caught.value))


async def test_hung_server_is_a_connect_timeout(driver: MysqlDriver, silent_port: int) -> None:
    server = ServerUrl(engine="mysql", host="127.0.0.1", port=silent_port)
    started = asyncio.get_running_loop().time()
    with pytest.raises(TargetConnectError, match=r"no answer within 0\.5 s"):
        await driver.connect(server, "x", None, connect_timeout=0.5)
    assert asyncio.get_running_loop().time() - started < 5


async def test_timeout_kills_the_query_and_the_rest_of_the_batch(
    connection: MysqlConnection, database: str, mysql_sql: Any, poll: Any
) -> None:
    started = asyncio.get_running_loop().time()
    with pytest.raises(TargetTimeout, match=r"within 0\.5 s"):
        await connection.execute("SELECT SLEEP(30); SELECT SLEEP(30)", timeout=0.5)
    assert asyncio.get_running_loop().time() - started < 10
    await poll(lambda: not _sleepers(mysql_sql, database), what="SLEEP to end on the server")
    assert (await connection.execute("SELECT 1", timeout=10, want_rows=True)).rows == [(1,)]


async def test_cancel_from_another_task(
    connection: MysqlConnection, database: str, mysql_sql: Any, poll: Any
) -> None:
    await connection.cancel()  # nothing runs: a no-op
    running = asyncio.create_task(connection.execute("SELECT SLEEP(30)", timeout=60))
    await poll(lambda: _sleepers(mysql_sql, database), what="SLEEP to start")
    await connection.cancel()
    with pytest.raises(TargetCanceled):
        await running
    await poll(lambda: not _sleepers(mysql_sql, database), what="SLEEP to end on the server")
    assert (await connection.execute("SELECT 1", timeout=10, want_rows=True)).rows == [(1,)]


async def test_cancelling_the_caller_kills_the_query(
    connection: MysqlConnection, database: str, mysql_sql: Any, poll: Any
) -> None:
    running = asyncio.create_task(connection.execute("SELECT SLEEP(30)", timeout=60))
    await poll(lambda: _sleepers(mysql_sql, database), what="SLEEP to start")
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await poll(lambda: not _sleepers(mysql_sql, database), what="SLEEP to end on the server")


async def test_a_lost_connection_is_a_connect_error(
    connection: MysqlConnection, database: str, mysql_sql: Any, poll: Any
) -> None:
    running = asyncio.create_task(connection.execute("SELECT SLEEP(30)", timeout=60))
    [(thread,)] = await poll(lambda: _sleepers(mysql_sql, database), what="SLEEP to start")
    try:
        connection._connection._writer.transport.abort()  # the network drops the connection
        with pytest.raises(TargetConnectError, match="lost the connection to"):
            await running
        # The next batch on it is refused as a lost connection too, not as a script error.
        with pytest.raises(TargetConnectError, match="lost the connection to"):
            await connection.execute("SELECT 1", timeout=10)
    finally:
        with contextlib.suppress(pymysql.MySQLError):  # it may have ended by itself
            mysql_sql(None, f"KILL {int(thread)}")


async def test_append_rows_creates_the_table_and_round_trips_types(
    connection: MysqlConnection, database: str, mysql_sql: Any
) -> None:
    paris = timezone(timedelta(hours=2))
    columns = ["i", "f", "d", "b", "ts", "day", "raw", "s", "nothing", "Mixed `Case`"]
    rows = [
        (
            1,
            1.5,
            Decimal("1.10"),
            True,
            datetime(2024, 5, 6, 9, 8, 9, 123456, tzinfo=paris),
            date(2024, 5, 6),
            b"\x00\xff",
            "x\u00e9",
            None,
            2,
        ),
        (None, None, None, None, None, None, None, None, None, 3),
    ]
    await connection.append_rows(database, "results", columns, rows)
    await connection.append_rows(None, "results", columns, rows[:1])
    types = mysql_sql(
        None,
        "SELECT column_type FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = 'results' ORDER BY ordinal_position",
        (database,),
    )
    assert [t for (t,) in types] == [
        "bigint(20)",
        "double",
        "decimal(65,30)",
        "tinyint(1)",
        "datetime(6)",
        "date",
        "longblob",
        "longtext",
        "longtext",
        "bigint(20)",
    ]
    back = await connection.execute(
        "SELECT * FROM results ORDER BY `Mixed ``Case```, i", timeout=10, want_rows=True
    )
    assert back.columns == columns
    first = back.rows[0]
    assert first[:4] == (1, 1.5, Decimal("1.10"), 1)
    # An aware datetime is stored as UTC.
    assert first[4] == datetime(2024, 5, 6, 7, 8, 9, 123456)
    assert first[5:] == (date(2024, 5, 6), b"\x00\xff", "x\u00e9", None, 2)
    assert back.rows[2] == (None,) * 9 + (3,)
    assert len(back.rows) == 3


async def test_query_and_driver_for(
    mysql_server: ServerUrl, mysql_login: Login, database: str
) -> None:
    driver = driver_for(mysql_server)
    assert driver.engine == "mysql"
    rows = await driver.query(
        mysql_server, database, mysql_login, "SELECT DATABASE()", connect_timeout=10, timeout=10
    )
    assert rows == [(database,)]


async def test_close_twice(connection: MysqlConnection) -> None:
    await connection.close()
    await connection.close()
