"""The PostgreSQL driver against a real server, on databases made by the test."""

from __future__ import annotations

import asyncio
import time
import traceback
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

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
from sqlfleet.targets.postgres import PostgresConnection, PostgresDriver
from tests.polling import wait_for_async

pytestmark = pytest.mark.postgres

PASSWORD = "s3cr3t-PASSWORD-never-shown"


@pytest.fixture
def driver() -> PostgresDriver:
    return PostgresDriver()


@pytest.fixture
def database(pg_fleet: Any) -> str:
    return str(pg_fleet(1)[0])


@pytest.fixture
async def connection(
    driver: PostgresDriver, pg_server: ServerUrl, pg_login: Login, database: str
) -> Any:
    connection = await driver.connect(pg_server, database, pg_login, connect_timeout=10)
    yield connection
    await connection.close()


def _sleepers(pg_sql: Any, database: str) -> list[Any]:
    return list(
        pg_sql(
            "postgres",
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
            "AND query LIKE %s AND pid <> pg_backend_pid()",
            (database, "%pg_sleep(30)%"),
        )
    )


async def test_list_databases_shows_the_fleet_not_system_databases(
    driver: PostgresDriver, pg_server: ServerUrl, pg_login: Login, pg_fleet: Any, pg_sql: Any
) -> None:
    names = pg_fleet(3)
    closed = pg_fleet(1)[0]
    pg_sql("postgres", f'ALTER DATABASE "{closed}" ALLOW_CONNECTIONS false')
    listed = await driver.list_databases(pg_server, pg_login, connect_timeout=10)
    assert set(names) <= set(listed)
    assert listed == sorted(listed)
    assert not {"postgres", "template0", "template1", closed} & set(listed)


async def test_list_schemas_shows_user_schemas_only(
    driver: PostgresDriver, pg_server: ServerUrl, pg_login: Login, database: str, pg_sql: Any
) -> None:
    pg_sql(database, 'CREATE SCHEMA tenant_b; CREATE SCHEMA tenant_a; CREATE SCHEMA "Tenant C"')
    schemas = await driver.list_schemas(pg_server, database, pg_login, connect_timeout=10)
    assert schemas == ["Tenant C", "public", "tenant_a", "tenant_b"]


async def test_batch_of_ddl_and_dml_then_rows(connection: PostgresConnection) -> None:
    result = await connection.execute(
        "CREATE TABLE t (id int PRIMARY KEY, name text); "
        "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        timeout=10,
    )
    assert (result.columns, result.rows, result.row_count, result.messages) == ([], [], 3, [])
    result = await connection.execute(
        "SELECT id, name FROM t ORDER BY id", timeout=10, want_rows=True
    )
    assert result.columns == ["id", "name"]
    assert result.rows == [(1, "a"), (2, "b"), (3, "c")]
    assert result.row_count == 3
    empty = await connection.execute(
        "SELECT id AS n FROM t WHERE false", timeout=10, want_rows=True
    )
    assert (empty.columns, empty.rows, empty.row_count) == (["n"], [], 0)
    update = await connection.execute("UPDATE t SET name = 'z'", timeout=10, want_rows=True)
    assert (update.columns, update.rows, update.row_count) == ([], [], 3)


async def test_notices_and_warnings_are_captured_per_batch(connection: PostgresConnection) -> None:
    result = await connection.execute(
        "DO $$ BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful'; END $$",
        timeout=10,
    )
    assert result.messages == ["NOTICE: hello 42", "WARNING: careful"]
    rows = await connection.execute(
        "SELECT 1 AS one FROM (SELECT set_config('x.y', 'z', false)) s", timeout=10, want_rows=True
    )
    assert rows.messages == []


async def test_server_error_carries_the_server_text(connection: PostgresConnection) -> None:
    with pytest.raises(TargetQueryError) as caught:
        await connection.execute("SELECT * FROM nope", timeout=10)
    assert '42P01: relation "nope" does not exist' in str(caught.value)
    # The connection is still usable after an error.
    assert (await connection.execute("SELECT 1", timeout=10)).row_count == 1


async def test_output_query_must_be_one_statement(connection: PostgresConnection) -> None:
    with pytest.raises(TargetQueryError, match=r"single statement.*GO"):
        await connection.execute("SELECT 1; SELECT 2", timeout=10, want_rows=True)


async def test_unknown_role_is_a_connect_error_without_the_password(
    driver: PostgresDriver, pg_server: ServerUrl, database: str
) -> None:
    # The test server trusts every local login, so a refused login is an unknown role here.
    login = Login("no_such_role_sqlfleet", Secret(PASSWORD))
    with pytest.raises(TargetConnectError) as caught:
        await driver.connect(pg_server, database, login, connect_timeout=10)
    assert "no_such_role_sqlfleet" in str(caught.value)
    assert PASSWORD not in "".join(traceback.format_exception(caught.value))


async def test_unknown_database_is_a_connect_error(
    driver: PostgresDriver, pg_server: ServerUrl, pg_login: Login
) -> None:
    with pytest.raises(TargetConnectError, match="does not exist"):
        await driver.connect(pg_server, "sqlfleet_no_such_db", pg_login, connect_timeout=10)


async def test_unreachable_port_is_a_connect_error(
    driver: PostgresDriver, closed_port: int
) -> None:
    server = ServerUrl(engine="postgresql", host="127.0.0.1", port=closed_port)
    login = Login("postgres", Secret(PASSWORD))
    with pytest.raises(TargetConnectError, match="not reachable") as caught:
        await driver.connect(server, "x", login, connect_timeout=5)
    assert PASSWORD not in "".join(traceback.format_exception(caught.value))


async def test_hung_server_is_a_connect_timeout(driver: PostgresDriver, silent_port: int) -> None:
    server = ServerUrl(engine="postgresql", host="127.0.0.1", port=silent_port)
    started = asyncio.get_running_loop().time()
    with pytest.raises(TargetConnectError, match=r"no answer within 0\.5 s"):
        await driver.connect(server, "x", None, connect_timeout=0.5)
    assert asyncio.get_running_loop().time() - started < 5


async def test_timeout_cancels_the_statement_on_the_server(
    connection: PostgresConnection, database: str, pg_sql: Any, poll: Any
) -> None:
    with pytest.raises(TargetTimeout, match=r"within 0\.5 s"):
        await connection.execute("SELECT pg_sleep(30)", timeout=0.5)
    await poll(lambda: not _sleepers(pg_sql, database), what="pg_sleep to end on the server")
    assert (await connection.execute("SELECT 1", timeout=10)).row_count == 1


async def test_cancel_from_another_task(
    connection: PostgresConnection, database: str, pg_sql: Any, poll: Any
) -> None:
    await connection.cancel()  # nothing runs: a no-op
    running = asyncio.create_task(connection.execute("SELECT pg_sleep(30)", timeout=60))
    await poll(lambda: _sleepers(pg_sql, database), what="pg_sleep to start")
    await connection.cancel()
    with pytest.raises(TargetCanceled):
        await running
    await poll(lambda: not _sleepers(pg_sql, database), what="pg_sleep to end on the server")
    assert (await connection.execute("SELECT 1", timeout=10)).row_count == 1


async def test_cancelling_the_caller_cancels_on_the_server(
    connection: PostgresConnection, database: str, pg_sql: Any, poll: Any
) -> None:
    running = asyncio.create_task(connection.execute("SELECT pg_sleep(30)", timeout=60))
    await poll(lambda: _sleepers(pg_sql, database), what="pg_sleep to start")
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await poll(lambda: not _sleepers(pg_sql, database), what="pg_sleep to end on the server")


async def test_a_connection_lost_mid_batch_is_a_connect_error(
    connection: PostgresConnection, database: str, pg_sql: Any, poll: Any
) -> None:
    running = asyncio.create_task(connection.execute("SELECT pg_sleep(30)", timeout=60))
    [(pid,)] = await poll(lambda: _sleepers(pg_sql, database), what="pg_sleep to start")
    try:
        connection._connection._transport.abort()  # the network drops the connection
        with pytest.raises(TargetConnectError, match="lost the connection to") as caught:
            await running
        assert "08003" not in caught.value.message and "None" not in caught.value.message
    finally:
        pg_sql("postgres", "SELECT pg_cancel_backend(%s)", (pid,))


async def test_schema_is_the_search_path(
    driver: PostgresDriver, pg_server: ServerUrl, pg_login: Login, database: str, pg_sql: Any
) -> None:
    pg_sql(database, 'CREATE SCHEMA "Tenant A"')
    connection = await driver.connect(
        pg_server, database, pg_login, connect_timeout=10, schema="Tenant A"
    )
    try:
        await connection.execute("CREATE TABLE made_here (x int)", timeout=10)
        result = await connection.execute("SELECT current_schema()", timeout=10, want_rows=True)
    finally:
        await connection.close()
    assert result.rows == [("Tenant A",)]
    found = pg_sql(
        database,
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'made_here'",
    )
    assert found == [("Tenant A",)]


async def test_append_rows_creates_the_table_and_round_trips_types(
    connection: PostgresConnection, database: str, pg_sql: Any
) -> None:
    pg_sql(database, "CREATE SCHEMA out")
    when = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    naive = datetime(2024, 5, 6, 7, 8, 9)
    ident = uuid.uuid4()
    columns = ["i", "f", "d", "b", "ts", "naive", "day", "raw", "u", "s", "nothing", "Mixed Case"]
    rows = [
        (
            1,
            1.5,
            Decimal("1.10"),
            True,
            when,
            naive,
            date(2024, 5, 6),
            b"\x00\xff",
            ident,
            "x",
            None,
            2,
        ),
        (None, None, None, None, None, None, None, None, None, None, None, 3),
    ]
    await connection.append_rows("out", "results", columns, rows)
    await connection.append_rows("out", "results", columns, rows[:1])
    types = pg_sql(
        database,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'out' AND table_name = 'results' ORDER BY ordinal_position",
    )
    assert [t for _, t in types] == [
        "bigint",
        "double precision",
        "numeric",
        "boolean",
        "timestamp with time zone",
        "timestamp without time zone",
        "date",
        "bytea",
        "text",
        "text",
        "text",
        "bigint",
    ]
    back = await connection.execute(
        'SELECT * FROM out.results ORDER BY "Mixed Case", i', timeout=10, want_rows=True
    )
    assert back.columns == columns
    assert back.rows[0] == (
        1,
        1.5,
        Decimal("1.10"),
        True,
        when,
        naive,
        date(2024, 5, 6),
        b"\x00\xff",
        str(ident),
        "x",
        None,
        2,
    )
    assert back.rows[2] == (None,) * 11 + (3,)
    assert len(back.rows) == 3


async def test_append_rows_races_to_create_one_table(
    driver: PostgresDriver, pg_server: ServerUrl, pg_login: Login, database: str, pg_sql: Any
) -> None:
    connections = [
        await driver.connect(pg_server, database, pg_login, connect_timeout=10) for _ in range(8)
    ]
    try:
        await asyncio.gather(
            *(c.append_rows(None, "shared", ["n"], [(n,)]) for n, c in enumerate(connections))
        )
    finally:
        await asyncio.gather(*(c.close() for c in connections))
    assert pg_sql(database, "SELECT count(*) FROM shared") == [(8,)]


async def test_append_rows_rejects_duplicate_columns(connection: PostgresConnection) -> None:
    with pytest.raises(InvalidValue, match="two columns named"):
        await connection.append_rows(None, "t", ["a", "a"], [(1, 2)])


async def test_query_and_driver_for(pg_server: ServerUrl, pg_login: Login, database: str) -> None:
    driver = driver_for(pg_server)
    assert driver.engine == "postgresql"
    rows = await driver.query(
        pg_server, database, pg_login, "SELECT current_database()", connect_timeout=10, timeout=10
    )
    assert rows == [(database,)]


async def test_close_twice(connection: PostgresConnection) -> None:
    await connection.close()
    await connection.close()


# The first message of a connection that asks for TLS: length 8, code 80877103.
_SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")


async def test_a_server_that_refused_tls_is_not_asked_again_for_a_while(
    driver: PostgresDriver,
    pg_server: ServerUrl,
    pg_login: Login,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """sslmode=prefer asks for TLS before each login. The test server (ssl = off) logs the
    first one in without TLS; sqlfleet then asks the server itself once, hears N, and logs
    in without asking until the memory of that runs out. Counted on the wire, by a proxy
    in front of the server: the first bytes of each connection."""
    from sqlfleet.targets import postgres

    monkeypatch.delenv("PGSSLMODE", raising=False)
    monkeypatch.delenv("PGSSLNEGOTIATION", raising=False)
    monkeypatch.setattr(postgres, "_tls_answers", {})
    first_messages: list[bytes] = []

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    writers: list[asyncio.StreamWriter] = []

    async def accept(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(pg_server.host, pg_server.port)
        writers.extend((client_w, server_w))
        first = await client_r.readexactly(8)
        first_messages.append(first)
        server_w.write(first)
        await asyncio.gather(relay(client_r, server_w), relay(server_r, client_w))

    proxy = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    through = ServerUrl.parse(f"postgresql://127.0.0.1:{port}")
    try:

        async def connect_and_close() -> None:
            connection = await driver.connect(through, database, pg_login, connect_timeout=10)
            result = await connection.execute("SELECT 1", timeout=10, want_rows=True)
            assert result.rows == [(1,)]
            await connection.close()

        await connect_and_close()
        # The login asked (and went on in plain text); then sqlfleet's own question.
        await wait_for_async(lambda: len(first_messages) == 2, within=5, what="the question")
        await wait_for_async(lambda: not postgres._asking_tls, within=5, what="the answer")
        for _ in range(3):
            await connect_and_close()
        asked = [message == _SSL_REQUEST for message in first_messages]
        assert asked == [True, True, False, False, False]
        # Once the memory runs out, logins ask again (and sqlfleet asks the server again).
        monkeypatch.setattr(postgres, "_TLS_MEMORY", 0.0)
        await connect_and_close()
        assert first_messages[5] == _SSL_REQUEST
        # With PGSSLMODE set, asyncpg applies it to every login: nothing is asked or known.
        monkeypatch.setattr(postgres, "_TLS_MEMORY", 60.0)
        monkeypatch.setattr(
            postgres, "_tls_answers", {(through.host, through.port): (True, time.monotonic())}
        )
        monkeypatch.setenv("PGSSLMODE", "require")
        with pytest.raises(TargetConnectError, match="rejected SSL upgrade"):
            await connect_and_close()
    finally:
        monkeypatch.delenv("PGSSLMODE", raising=False)  # before the fixtures' own clean-up
        await wait_for_async(lambda: not postgres._asking_tls, within=5, what="the answer")
        for writer in writers:
            writer.close()
        proxy.close()
        await proxy.wait_closed()
