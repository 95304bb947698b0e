"""One connection serves many targets in turn, and no target sees what the last one left.

Each target's script records, on the server, which connection it ran on (`CONNECTION_ID()`,
`pg_backend_pid()`) and what it found of the previous script's leftovers; then it leaves
some behind: a session variable, a temporary table, a user or advisory lock, and an open
transaction with an uncommitted insert.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pymysql
import pytest
from pymysql.constants import CLIENT

from sqlfleet.engine.sessions import Sessions
from sqlfleet.errors import TargetTimeout
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import Target
from sqlfleet.secrets import Secret
from sqlfleet.servers import ServerUrl
from sqlfleet.targets import Login, driver_for
from tests.integration.conftest import (
    MYSQL_HOST,
    MYSQL_PASSWORD,
    MYSQL_PORT,
    MYSQL_USER,
    PG_HOST,
    PG_PORT,
    PG_USER,
)
from tests.integration.engine.conftest import MYSQL, PG, one_step_job
from tests.polling import wait_for_async

pytestmark = pytest.mark.timeout(300)


def _mysql(statements: str) -> list[tuple[Any, ...]]:
    """Run statements (several in one round trip) as the admin; the last one's rows."""
    connection = pymysql.connect(
        host=MYSQL_HOST,
        port=MYSQL_PORT,
        user=MYSQL_USER,
        password=MYSQL_PASSWORD,
        autocommit=True,
        client_flag=CLIENT.MULTI_STATEMENTS,
        connect_timeout=5,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(statements)
            rows = list(cursor.fetchall())
            while cursor.nextset():
                rows = list(cursor.fetchall())
            return rows
    finally:
        connection.close()


def _pg(database: str, statements: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=database, autocommit=True
    ) as connection:
        cursor = connection.execute(statements.encode())  # simple protocol: many statements
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def mysql_databases() -> Iterator[Any]:
    """`make(n)`: n databases with a table `t`, plus a bookkeeping database; all dropped."""
    prefix = f"sqlfleet_r_{secrets.token_hex(4)}"
    made: list[str] = []

    def make(n: int) -> tuple[str, list[str]]:
        names = [f"{prefix}_{i}" for i in range(n)]
        made.extend([*names, f"{prefix}_bk"])
        _mysql(
            f"CREATE DATABASE `{prefix}_bk`;"
            f"CREATE TABLE `{prefix}_bk`.seen (seq INT AUTO_INCREMENT PRIMARY KEY, "
            "db VARCHAR(100), conn BIGINT, leftover VARCHAR(100), temp_tables INT, "
            "lock_free INT, in_tx INT, same_mode INT);"
            + "".join(f"CREATE DATABASE `{n}`; CREATE TABLE `{n}`.t (a INT);" for n in names)
        )
        return f"{prefix}_bk", names

    yield make
    if made:
        _mysql("".join(f"DROP DATABASE IF EXISTS `{name}`;" for name in made))


@pytest.fixture
def pg_schemas(pg_fleet: Any) -> Any:
    """`make(n)`: a database with n schemas (each with a table `t`) and `bk.seen`."""

    def make(n: int) -> tuple[str, list[str]]:
        database = pg_fleet(1)[0]
        names = [f"s_{i}" for i in range(n)]
        _pg(
            database,
            "CREATE SCHEMA bk; CREATE TABLE bk.seen (seq serial PRIMARY KEY, schema_name text, "
            "pid int, leftover text, temp_tables int, locks int, work_mem text);"
            + "".join(f"CREATE SCHEMA {s}; CREATE TABLE {s}.t (a int);" for s in names),
        )
        return database, names

    return make


def _mysql_job(fleet: Fleet, prefix: str, bk: str, script: str, **settings: Any) -> None:
    fleet.add_target_group("dbs")
    fleet.add_member("dbs", server=MYSQL, database_pattern=f"{prefix}_*")
    fleet.add_member("dbs", server=MYSQL, database=bk, exclude=True)
    one_step_job(fleet, "j", "dbs", script, credential="my", **settings)


def _pg_job(fleet: Fleet, database: str, script: str, **settings: Any) -> None:
    fleet.add_target_group("schemas")
    fleet.add_member("schemas", server=PG, database=database, schema_pattern="s_*")
    one_step_job(fleet, "j", "schemas", script, credential="pg", **settings)


def _mysql_leftovers_script(bk: str, lock: str) -> str:
    return f"""
INSERT INTO `{bk}`.seen (db, conn, leftover, lock_free, in_tx, same_mode)
SELECT DATABASE(), CONNECTION_ID(), @leftover, IS_FREE_LOCK('{lock}'), @@in_transaction,
  @@session.sql_mode = @@global.sql_mode;
GO
SET @leftover = DATABASE();
SET SESSION sql_mode = 'ANSI_QUOTES';
SET NAMES latin1;
-- In one database for all: fails if the last target's is still there.
CREATE TEMPORARY TABLE `{bk}`.leftover (a INT);
SELECT GET_LOCK('{lock}', 0);
BEGIN;
INSERT INTO t VALUES (1);
"""


async def test_mysql_databases_share_a_connection_that_keeps_nothing(
    sqlite_fleet_db: Fleet, mysql_databases: Any
) -> None:
    bk, names = mysql_databases(6)
    prefix = names[0].rsplit("_", 1)[0]
    lock = f"sqlfleet_lock_{secrets.token_hex(4)}"
    _mysql_job(sqlite_fleet_db, prefix, bk, _mysql_leftovers_script(bk, lock), retry_attempts=0)

    execution = await sqlite_fleet_db.run("j", concurrency=1)

    assert execution.lifecycle is Lifecycle.SUCCEEDED, execution.last_message
    seen = _mysql(
        f"SELECT db, conn, leftover, lock_free, in_tx, same_mode FROM `{bk}`.seen ORDER BY seq"
    )
    assert sorted(row[0] for row in seen) == names
    assert len({row[1] for row in seen}) == 1  # one connection served every database
    # Nothing of the previous database's script: no variable, temporary table, lock,
    # transaction, or changed setting.
    assert {row[2:] for row in seen} == {(None, 1, 0, 1)}
    for name in names:  # each insert was left uncommitted, and rolled back
        assert _mysql(f"SELECT COUNT(*) FROM `{name}`.t") == [(0,)]
    # Closed when the run ended.
    assert not _mysql(f"SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = {seen[0][1]}")


async def test_postgresql_schemas_share_a_connection_that_keeps_nothing(
    sqlite_fleet_db: Fleet, pg_schemas: Any
) -> None:
    database, names = pg_schemas(6)
    default_work_mem = _pg(database, "SHOW work_mem")[0][0]
    lock = secrets.randbelow(2**31)
    script = f"""
INSERT INTO bk.seen (schema_name, pid, leftover, temp_tables, locks, work_mem)
SELECT current_schema(), pg_backend_pid(), current_setting('sqlfleet.leftover', true),
  (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()),
  (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
  current_setting('work_mem');
GO
SET sqlfleet.leftover = 'left';
SET work_mem = '7MB';
CREATE TEMPORARY TABLE leftover (a int);
SELECT pg_advisory_lock({lock});
BEGIN;
INSERT INTO t VALUES (1);
"""
    _pg_job(sqlite_fleet_db, database, script, retry_attempts=0)

    execution = await sqlite_fleet_db.run("j", concurrency=1)

    assert execution.lifecycle is Lifecycle.SUCCEEDED, execution.last_message
    seen = _pg(
        database,
        "SELECT schema_name, pid, leftover, temp_tables, locks, work_mem FROM bk.seen ORDER BY seq",
    )
    assert sorted(row[0] for row in seen) == names  # each ran in its own schema
    assert len({row[1] for row in seen}) == 1
    assert {row[2:] for row in seen} <= {
        (None, 0, 0, default_work_mem),
        ("", 0, 0, default_work_mem),
    }
    for schema in names:
        assert _pg(database, f"SELECT count(*) FROM {schema}.t") == [(0,)]
    assert not _pg(database, f"SELECT 1 FROM pg_stat_activity WHERE pid = {seen[0][1]}")


@pytest.mark.parametrize("engine", ["mysql", "postgresql"])
async def test_fresh_connection_opens_one_per_target(
    engine: str, sqlite_fleet_db: Fleet, mysql_databases: Any, pg_schemas: Any
) -> None:
    if engine == "mysql":
        bk, names = mysql_databases(8)
        script = f"INSERT INTO `{bk}`.seen (db, conn) VALUES (DATABASE(), CONNECTION_ID())"
        _mysql_job(sqlite_fleet_db, names[0].rsplit("_", 1)[0], bk, script, fresh_connection=True)
    else:
        database, names = pg_schemas(8)
        script = (
            "INSERT INTO bk.seen (schema_name, pid) VALUES (current_schema(), pg_backend_pid())"
        )
        _pg_job(sqlite_fleet_db, database, script, fresh_connection=True)

    execution = await sqlite_fleet_db.run("j", concurrency=2)

    assert execution.lifecycle is Lifecycle.SUCCEEDED, execution.last_message
    if engine == "mysql":
        seen = _mysql(f"SELECT db, conn FROM `{bk}`.seen")
    else:
        seen = _pg(database, "SELECT schema_name, pid FROM bk.seen")
    assert len(seen) == len(names)
    assert len({row[1] for row in seen}) == len(names)


async def test_max_parallelism_bounds_the_connections_to_a_server(
    sqlite_fleet_db: Fleet, mysql_databases: Any
) -> None:
    bk, names = mysql_databases(30)
    script = f"INSERT INTO `{bk}`.seen (db, conn) VALUES (DATABASE(), CONNECTION_ID())"
    _mysql_job(sqlite_fleet_db, names[0].rsplit("_", 1)[0], bk, script, max_parallelism=3)

    execution = await sqlite_fleet_db.run("j", concurrency=20)

    assert execution.lifecycle is Lifecycle.SUCCEEDED, execution.last_message
    databases, connections = _mysql(
        f"SELECT COUNT(DISTINCT db), COUNT(DISTINCT conn) FROM `{bk}`.seen"
    )[0]
    assert databases == 30
    assert 1 <= connections <= 3


async def test_a_thousand_mysql_databases_on_twenty_connections(
    sqlite_fleet_db: Fleet, mysql_databases: Any
) -> None:
    bk, names = mysql_databases(1000)
    script = f"INSERT INTO `{bk}`.seen (db, conn) VALUES (DATABASE(), CONNECTION_ID())"
    _mysql_job(sqlite_fleet_db, names[0].rsplit("_", 1)[0], bk, script)

    execution = await sqlite_fleet_db.run("j", concurrency=20)

    assert execution.lifecycle is Lifecycle.SUCCEEDED, execution.last_message
    seen = _mysql(f"SELECT COUNT(DISTINCT db), COUNT(DISTINCT conn) FROM `{bk}`.seen")
    databases, connections = seen[0]
    assert databases == 1000
    assert 1 <= connections <= 20


async def test_a_thousand_postgresql_schemas_on_twenty_connections(
    sqlite_fleet_db: Fleet, pg_schemas: Any
) -> None:
    database, _ = pg_schemas(1000)
    script = "INSERT INTO bk.seen (schema_name, pid) VALUES (current_schema(), pg_backend_pid())"
    _pg_job(sqlite_fleet_db, database, script)

    execution = await sqlite_fleet_db.run("j", concurrency=20)

    assert execution.lifecycle is Lifecycle.SUCCEEDED, execution.last_message
    schemas, connections = _pg(
        database, "SELECT count(DISTINCT schema_name), count(DISTINCT pid) FROM bk.seen"
    )[0]
    assert schemas == 1000
    assert 1 <= connections <= 20


# -- the pool itself, with the real drivers ---------------------------------------------------


def _who(engine: str) -> str:
    return "SELECT CONNECTION_ID()" if engine == "mysql" else "SELECT pg_backend_pid()"


async def _targets(
    engine: str, mysql_databases: Any, pg_schemas: Any, n: int
) -> tuple[ServerUrl, Login, list[Target], Any]:
    """n targets of one server; the driver; the login."""
    if engine == "mysql":
        _, names = mysql_databases(n)
        server = ServerUrl.parse(MYSQL)
        targets = [Target(MYSQL, name) for name in names]
        login = Login(MYSQL_USER, Secret(MYSQL_PASSWORD) if MYSQL_PASSWORD else None)
    else:
        database, names = pg_schemas(n)
        server = ServerUrl.parse(PG)
        targets = [Target(PG, database, schema) for schema in names]
        login = Login(PG_USER, None)
    return server, login, targets, driver_for(server)


async def _attempt(
    sessions: Sessions,
    driver: Any,
    server: ServerUrl,
    target: Target,
    login: Login,
    sql: str,
    *,
    limit: float = 10,
    ids: list[int] | None = None,
) -> Any:
    """What the runner does: lease, run, keep only if it ended cleanly, release."""
    lease = await sessions.lease(
        driver, server, target, login, connect_timeout=5, fresh=False, step_execution_id=1
    )
    try:
        who = await lease.connection.execute(_who(driver.engine), timeout=5, want_rows=True)
        if ids is not None:
            ids.append(who.rows[0][0])
        result = await lease.connection.execute(sql, timeout=limit, want_rows=True)
        lease.keep()
        return result
    finally:
        await lease.release()


def _alive(engine: str, connection_id: int, database: str) -> bool:
    if engine == "mysql":
        return bool(
            _mysql(f"SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = {connection_id}")
        )
    return bool(_pg(database, f"SELECT 1 FROM pg_stat_activity WHERE pid = {connection_id}"))


@pytest.mark.parametrize("engine", ["mysql", "postgresql"])
async def test_a_timed_out_or_canceled_targets_connection_is_closed_not_reused(
    engine: str, mysql_databases: Any, pg_schemas: Any
) -> None:
    server, login, targets, driver = await _targets(engine, mysql_databases, pg_schemas, 4)
    sleep = "SELECT SLEEP(30)" if engine == "mysql" else "SELECT pg_sleep(30)"
    sessions = Sessions(4)
    ids: list[int] = []
    try:
        await _attempt(sessions, driver, server, targets[0], login, "SELECT 1", ids=ids)
        with pytest.raises(TargetTimeout):
            await _attempt(sessions, driver, server, targets[1], login, sleep, limit=0.5, ids=ids)
        await _attempt(sessions, driver, server, targets[2], login, "SELECT 1", ids=ids)
        assert ids[0] == ids[1] != ids[2]  # the first served two; the timed-out one is gone
        await wait_for_async(lambda: not _alive(engine, ids[1], targets[0].database))

        running = asyncio.create_task(
            _attempt(sessions, driver, server, targets[3], login, sleep, ids=ids)
        )
        await wait_for_async(lambda: len(ids) == 4 and _alive(engine, ids[3], targets[0].database))
        assert ids[3] == ids[2]
        running.cancel()  # what Stop does to a target's task
        with pytest.raises(asyncio.CancelledError):
            await running
        await _attempt(sessions, driver, server, targets[0], login, "SELECT 1", ids=ids)
        assert ids[4] != ids[3]
        await wait_for_async(lambda: not _alive(engine, ids[3], targets[0].database))
        assert sessions.opened == 3 and sessions.open == 1
    finally:
        await sessions.close()
    assert sessions.open == 0


@pytest.mark.parametrize("engine", ["mysql", "postgresql"])
async def test_a_reset_session_looks_like_a_new_connection(
    engine: str, mysql_databases: Any, pg_schemas: Any
) -> None:
    server, login, targets, driver = await _targets(engine, mysql_databases, pg_schemas, 2)
    if engine == "mysql":
        settings = "SHOW SESSION VARIABLES"
        changes = (
            "SET NAMES latin1; SET sql_mode = ''; SET autocommit = 0; SET time_zone = '+05:00';"
            "SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE; SET wait_timeout = 7;"
            "SET sql_select_limit = 3; SET max_statement_time = 3; SET @x = 1;"
            "SET collation_connection = latin1_bin; USE information_schema"
        )
        # Counters and seeds that differ between any two connections.
        moving = {"pseudo_thread_id", "timestamp", "rand_seed1", "rand_seed2"}
    else:
        settings = "SELECT name, setting FROM pg_settings"
        changes = (
            "SET work_mem = '7MB'; SET TIME ZONE 'Asia/Tokyo'; SET statement_timeout = 1234;"
            "SET application_name = 'x'; SET search_path = public; SET ROLE pg_monitor;"
            "SET datestyle = 'SQL, DMY'; SET client_min_messages = error;"
            "PREPARE p AS SELECT 1; LISTEN somewhere; BEGIN"
        )
        moving = set()
    sessions = Sessions(2)
    try:
        fresh = await driver.connect(
            server, targets[1].database, login, connect_timeout=5, schema=targets[1].schema
        )
        try:
            expected = await fresh.execute(settings, timeout=5, want_rows=True)
        finally:
            await fresh.close()
        await _attempt(sessions, driver, server, targets[0], login, "SELECT 1")
        lease = await sessions.lease(
            driver, server, targets[0], login, connect_timeout=5, fresh=False, step_execution_id=1
        )
        await lease.connection.execute(changes, timeout=5)
        lease.keep()
        await lease.release()
        shown = await _attempt(sessions, driver, server, targets[1], login, settings)
        assert sessions.opened == 1
    finally:
        await sessions.close()
    differ = {
        name: (value, dict(expected.rows).get(name))
        for name, value in shown.rows
        if name not in moving and dict(expected.rows).get(name) != value
    }
    assert differ == {}


async def test_connections_stay_within_capacity(mysql_databases: Any, pg_schemas: Any) -> None:
    """Idle connections of other servers are closed to make room; none outlives `close`."""
    my_server, my_login, my_targets, my_driver = await _targets(
        "mysql", mysql_databases, pg_schemas, 2
    )
    pg_server, pg_login, pg_targets, pg_driver = await _targets(
        "postgresql", mysql_databases, pg_schemas, 2
    )
    sessions = Sessions(1)
    try:
        for _ in range(2):
            for target in my_targets:
                await _attempt(sessions, my_driver, my_server, target, my_login, "SELECT 1")
            for target in pg_targets:
                await _attempt(sessions, pg_driver, pg_server, target, pg_login, "SELECT 1")
            assert sessions.open == 1
        assert sessions.opened == 4  # one per switch of server
    finally:
        await sessions.close()
    assert sessions.open == 0 and sessions.idle == 0


async def test_idle_connections_are_closed_after_a_while_and_when_the_step_ends(
    mysql_databases: Any, pg_schemas: Any
) -> None:
    server, login, targets, driver = await _targets("mysql", mysql_databases, pg_schemas, 1)
    ids: list[int] = []
    for ended in (False, True):
        sessions = Sessions(4, idle_seconds=3600 if ended else 0.2)
        try:
            await _attempt(sessions, driver, server, targets[0], login, "SELECT 1", ids=ids)
            await sessions.sweep()
            assert sessions.idle == 1
            if ended:
                sessions.step_ended({1})
            deadline = time.monotonic() + 10
            while sessions.idle:
                assert time.monotonic() < deadline, "the idle connection was never closed"
                await asyncio.sleep(0.05)
                await sessions.sweep()
            await wait_for_async(lambda: not _alive("mysql", ids[-1], ""))
        finally:
            await sessions.close()


async def test_a_target_refused_a_connection_waits_for_one_of_its_steps(pg_schemas: Any) -> None:
    """A role allowed two connections serves six schemas at once, two at a time."""
    database, names = pg_schemas(6)
    role = f"sqlfleet_r_{secrets.token_hex(4)}"
    _pg("postgres", f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 2")
    server = ServerUrl.parse(PG)
    driver = driver_for(server)
    sessions = Sessions(6)
    try:
        await asyncio.gather(
            *(
                _attempt(
                    sessions,
                    driver,
                    server,
                    Target(PG, database, name),
                    Login(role, None),
                    "SELECT pg_sleep(0.2)",
                )
                for name in names
            )
        )
        assert sessions.opened == 2
    finally:
        await sessions.close()
        _pg("postgres", f"DROP ROLE {role}")


async def test_a_role_set_by_one_mysql_target_is_not_the_next_ones(
    sqlite_fleet_db: Fleet, mysql_databases: Any
) -> None:
    """MariaDB's COM_RESET_CONNECTION keeps the active role: the reset must put it back."""
    bk, names = mysql_databases(4)
    prefix = names[0].rsplit("_", 1)[0]
    role = f"sqlfleet_role_{secrets.token_hex(4)}"
    ((me,),) = _mysql("SELECT CURRENT_USER()")
    user, host = me.rsplit("@", 1)
    _mysql(f"CREATE ROLE {role}; GRANT {role} TO '{user}'@'{host}'")
    try:
        script = (
            f"INSERT INTO `{bk}`.seen (db, conn, leftover) "
            "SELECT DATABASE(), CONNECTION_ID(), CURRENT_ROLE()\nGO\n"
            f"SET ROLE {role}\n"
        )
        _mysql_job(sqlite_fleet_db, prefix, bk, script, retry_attempts=0)
        execution = await sqlite_fleet_db.run("j", concurrency=1)
        assert execution.lifecycle is Lifecycle.SUCCEEDED, execution.last_message
        seen = _mysql(f"SELECT conn, leftover FROM `{bk}`.seen ORDER BY seq")
        assert len(seen) == 4 and len({conn for conn, _ in seen}) == 1  # one shared connection
        assert [leftover for _, leftover in seen] == [None] * 4
    finally:
        _mysql(f"DROP ROLE IF EXISTS {role}")


async def test_a_mysql_connection_left_idle_frees_what_its_last_script_held(
    mysql_databases: Any,
) -> None:
    """The reset is sent as the target ends, not with the next target's COM_INIT_DB: when
    none comes, the last script's lock is freed while its connection stays open, idle."""
    server, login, targets, driver = await _targets("mysql", mysql_databases, None, 2)
    lock = f"sqlfleet_lock_{secrets.token_hex(4)}"
    sessions = Sessions(2)
    try:
        ids: list[int] = []
        await _attempt(sessions, driver, server, targets[0], login, "SELECT 1", ids=ids)
        await _attempt(sessions, driver, server, targets[0], login, f"SELECT GET_LOCK('{lock}', 0)")
        assert sessions.idle == 1 and sessions.opened == 1
        await wait_for_async(
            lambda: _mysql(f"SELECT IS_FREE_LOCK('{lock}')") == [(1,)],
            within=5,
            what="the idle connection's reset to free the lock",
        )
        assert sessions.idle == 1 and _alive("mysql", ids[0], targets[0].database)
        # And the reset's answers are read by the next target: the connection serves it.
        await _attempt(sessions, driver, server, targets[1], login, "SELECT 1", ids=ids)
        assert ids[1] == ids[0] and sessions.opened == 1
    finally:
        await sessions.close()


async def test_a_postgresql_connection_left_idle_frees_what_its_last_script_held(
    pg_schemas: Any,
) -> None:
    """As for MariaDB: the last script's advisory lock is freed as it ends, while its
    connection stays open, idle; the next schema is then served on it all the same."""
    server, login, targets, driver = await _targets("postgresql", None, pg_schemas, 2)
    database = targets[0].database
    key = secrets.randbelow(2**31)
    sessions = Sessions(2)
    try:
        ids: list[int] = []
        await _attempt(sessions, driver, server, targets[0], login, "SELECT 1", ids=ids)
        await _attempt(
            sessions, driver, server, targets[0], login, f"SELECT pg_advisory_lock({key})"
        )
        assert sessions.idle == 1 and sessions.opened == 1
        held = f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {key}"
        await wait_for_async(
            lambda: _pg(database, held) == [(0,)],
            within=5,
            what="the idle connection's reset to free the advisory lock",
        )
        assert sessions.idle == 1 and _alive("postgresql", ids[0], database)
        shown = await _attempt(
            sessions, driver, server, targets[1], login, "SHOW search_path", ids=ids
        )
        assert ids[1] == ids[0] and sessions.opened == 1
        assert shown.rows == [(f'"{targets[1].schema}"',)]
    finally:
        await sessions.close()
