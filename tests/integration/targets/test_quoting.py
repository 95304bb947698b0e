"""Each engine's quoting on its real server: `SELECT <literal>` returns exactly the value.

Every string without NUL must survive, also under the settings that change how a server
reads quotes and backslashes: PostgreSQL with standard_conforming_strings off, MariaDB
with NO_BACKSLASH_ESCAPES and ANSI_QUOTES (and without them, its default).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sqlfleet.servers import ServerUrl
from sqlfleet.targets import Driver
from sqlfleet.targets.base import Login
from sqlfleet.targets.mysql import MysqlDriver
from sqlfleet.targets.postgres import PostgresDriver
from sqlfleet.targets.sqlite import SqliteDriver

pytestmark = pytest.mark.timeout(180)

TRICKY = [
    "",
    "'",
    "\\",
    "\\'",
    "'\\",
    '"',
    "`",
    "$$",
    "x'); DROP TABLE victim; --",
    "a\\'; DROP TABLE victim; --",
    "tenant_é_日本",
    "😀 \n\r\t\x1b",
]
values = st.lists(
    st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"])),
    min_size=1,
)
# PostgreSQL cuts identifiers at 63 bytes: 15 characters of at most 4 bytes stay below.
identifiers = st.lists(
    st.text(
        alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]),
        min_size=1,
        max_size=15,
    ),
    min_size=1,
    max_size=10,
)
on_a_real_server = settings(
    max_examples=25,
    deadline=None,
    # The database fixture is made once per test and only read: sharing it is the point.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
PG_MODES = ["SET standard_conforming_strings = on", "SET standard_conforming_strings = off"]
MYSQL_MODES = [
    "SET SESSION sql_mode = DEFAULT",
    "SET SESSION sql_mode = ''",
    "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES'",
]


async def _select_literals(
    driver: Driver,
    server: ServerUrl,
    database: str,
    login: Login | None,
    modes: list[str],
    texts: list[str],
) -> list[tuple[Any, ...]]:
    """The row `SELECT <literal>, ...` returns after each mode statement, on one connection."""
    select = "SELECT " + ", ".join(
        f"{driver.quote_literal(text)} AS c{number}" for number, text in enumerate(texts)
    )
    connection = await driver.connect(server, database, login, connect_timeout=10)
    rows: list[tuple[Any, ...]] = []
    try:
        for mode in modes:
            await connection.execute(mode, timeout=10)
            result = await connection.execute(select, timeout=10, want_rows=True)
            rows.extend(result.rows)
    finally:
        await connection.close()
    return rows


async def _alias_columns(
    driver: Driver, server: ServerUrl, database: str, login: Login | None, names: list[str]
) -> list[str]:
    """The column names of `SELECT 1 AS <identifier>, ...`."""
    select = "SELECT " + ", ".join(f"1 AS {driver.quote_identifier(name)}" for name in names)
    connection = await driver.connect(server, database, login, connect_timeout=10)
    try:
        result = await connection.execute(select, timeout=10, want_rows=True)
    finally:
        await connection.close()
    return result.columns


@pytest.fixture
def pg_database(pg_fleet: Any) -> str:
    return str(pg_fleet(1)[0])


@pytest.fixture
def mysql_database(mysql_fleet: Any, mysql_sql: Any) -> str:
    [database] = mysql_fleet(1)
    mysql_sql(None, f"ALTER DATABASE `{database}` CHARACTER SET utf8mb4")
    return str(database)


@pytest.fixture
def sqlite_database(sqlite_fleet: Any) -> str:
    return str(sqlite_fleet(1)[0])


@pytest.mark.postgres
@on_a_real_server
@given(values)
@example(TRICKY)
def test_postgres_returns_every_literal_exactly(
    pg_server: ServerUrl, pg_login: Login, pg_database: str, texts: list[str]
) -> None:
    rows = asyncio.run(
        _select_literals(PostgresDriver(), pg_server, pg_database, pg_login, PG_MODES, texts)
    )
    assert rows == [tuple(texts)] * len(PG_MODES)


@pytest.mark.mysql
@on_a_real_server
@given(values)
@example(TRICKY)
def test_mariadb_returns_every_literal_exactly(
    mysql_server: ServerUrl, mysql_login: Login, mysql_database: str, texts: list[str]
) -> None:
    rows = asyncio.run(
        _select_literals(
            MysqlDriver(), mysql_server, mysql_database, mysql_login, MYSQL_MODES, texts
        )
    )
    assert rows == [tuple(texts)] * len(MYSQL_MODES)


@on_a_real_server
@given(values)
@example(TRICKY)
def test_sqlite_returns_every_literal_exactly(
    sqlite_server: ServerUrl, sqlite_database: str, texts: list[str]
) -> None:
    rows = asyncio.run(
        _select_literals(SqliteDriver(), sqlite_server, sqlite_database, None, ["SELECT 1"], texts)
    )
    assert rows == [tuple(texts)]


@pytest.mark.postgres
@on_a_real_server
@given(identifiers)
@example([text for text in TRICKY if text])
def test_postgres_names_a_column_with_every_identifier_exactly(
    pg_server: ServerUrl, pg_login: Login, pg_database: str, names: list[str]
) -> None:
    columns = asyncio.run(_alias_columns(PostgresDriver(), pg_server, pg_database, pg_login, names))
    assert columns == names


@on_a_real_server
@given(identifiers)
@example([text for text in TRICKY if text])
def test_sqlite_names_a_column_with_every_identifier_exactly(
    sqlite_server: ServerUrl, sqlite_database: str, names: list[str]
) -> None:
    columns = asyncio.run(
        _alias_columns(SqliteDriver(), sqlite_server, sqlite_database, None, names)
    )
    assert columns == names


@pytest.mark.mysql
# MariaDB identifiers hold characters of the Basic Multilingual Plane only.
@pytest.mark.parametrize(
    "name", [text for text in TRICKY if text.strip() and max(map(ord, text)) <= 0xFFFF]
)
async def test_mariadb_creates_a_table_with_every_identifier_exactly(
    mysql_server: ServerUrl, mysql_login: Login, mysql_database: str, mysql_sql: Any, name: str
) -> None:
    # MariaDB trims leading spaces from column aliases, so tables show the name instead.
    driver = MysqlDriver()
    connection = await driver.connect(mysql_server, mysql_database, mysql_login, connect_timeout=10)
    try:
        await connection.execute(
            f"CREATE TABLE {driver.quote_identifier(name)} (x int)", timeout=10
        )
    finally:
        await connection.close()
    tables = mysql_sql(
        None,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
        [mysql_database],
    )
    assert tables == [(name,)]
