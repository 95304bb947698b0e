"""Script variables on real fleets whose database names hold quotes, `;`, backslashes...

Each engine gets databases named after the usual ways out of a quoted string, among them
one whose name ends in `x'); DROP TABLE victim; --`, plus two plain names. Every database
holds an empty `audit` table and a `victim` table that must survive every job.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from psycopg import sql

from sqlfleet.errors import InvalidCommand
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import JobExecution, TargetExecution
from sqlfleet.servers import ServerUrl
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

pytestmark = pytest.mark.timeout(180)
RUN_DEADLINE = 60.0

# Appended to a unique prefix: the ways out of a quoted string or name, for every engine.
UNSAFE_SUFFIXES = ["'q", '"q', ";s", "`t", " space", "\\b", "x'); DROP TABLE victim; --"]
PLAIN_SUFFIXES = ["_plain", "_tenant_é_日本"]


@dataclass
class Tenants:
    """Databases with awkward names on one engine, and how to look inside them."""

    server: str
    credential: str
    unsafe: list[str]
    plain: list[str]
    # rows(database, query): the rows of a query run as the admin, behind sqlfleet's back.
    rows: Callable[[str, str], list[tuple[Any, ...]]]
    # tables(database): the names of the database's tables, sorted.
    tables: Callable[[str], list[str]]
    # The statement that makes the session read quotes and backslashes the other way.
    hostile_mode: str

    @property
    def names(self) -> list[str]:
        return [*self.unsafe, *self.plain]


def _prefix() -> str:
    return f"sqlfleet_v_{secrets.token_hex(4)}"


def _pg_admin(database: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=database, autocommit=True
    )


def _mysql_admin(database: str | None = None) -> pymysql.Connection:
    return pymysql.connect(
        host=MYSQL_HOST,
        port=MYSQL_PORT,
        user=MYSQL_USER,
        password=MYSQL_PASSWORD,
        database=database,
        autocommit=True,
        charset="utf8mb4",
    )


def _backticks(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@pytest.fixture
def postgresql_tenants(pg_server: ServerUrl) -> Iterator[Tenants]:
    prefix = _prefix()
    names = [prefix + suffix for suffix in UNSAFE_SUFFIXES + PLAIN_SUFFIXES]
    made: list[str] = []
    try:
        for name in names:
            with _pg_admin() as admin:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            made.append(name)
            with _pg_admin(name) as connection:
                connection.execute("CREATE TABLE audit (name text)")
                connection.execute("CREATE TABLE victim (x int)")

        def rows(database: str, query: str) -> list[tuple[Any, ...]]:
            with _pg_admin(database) as connection:
                return connection.execute(query).fetchall()

        def tables(database: str) -> list[str]:
            query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            return sorted(row[0] for row in rows(database, query))

        yield Tenants(
            PG,
            "pg",
            names[: len(UNSAFE_SUFFIXES)],
            names[len(UNSAFE_SUFFIXES) :],
            rows,
            tables,
            "SET standard_conforming_strings = off",
        )
    finally:
        with _pg_admin() as admin:
            for name in made:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


@pytest.fixture
def mysql_tenants(mysql_server: ServerUrl) -> Iterator[Tenants]:
    prefix = _prefix()
    names = [prefix + suffix for suffix in UNSAFE_SUFFIXES + PLAIN_SUFFIXES]
    admin = _mysql_admin()
    made: list[str] = []
    try:
        with admin.cursor() as cursor:
            for name in names:
                cursor.execute(f"CREATE DATABASE {_backticks(name)} CHARACTER SET utf8mb4")
                made.append(name)
                cursor.execute(f"CREATE TABLE {_backticks(name)}.audit (name varchar(200))")
                cursor.execute(f"CREATE TABLE {_backticks(name)}.victim (x int)")

        def rows(database: str, query: str) -> list[tuple[Any, ...]]:
            connection = _mysql_admin(database)
            try:
                with connection.cursor() as cursor:
                    cursor.execute(query)
                    return list(cursor.fetchall())
            finally:
                connection.close()

        def tables(database: str) -> list[str]:
            with admin.cursor() as cursor:
                cursor.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    [database],
                )
                return sorted(row[0] for row in cursor.fetchall())

        yield Tenants(
            MYSQL,
            "my",
            names[: len(UNSAFE_SUFFIXES)],
            names[len(UNSAFE_SUFFIXES) :],
            rows,
            tables,
            "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES'",
        )
    finally:
        with admin.cursor() as cursor:
            for name in made:
                cursor.execute(f"DROP DATABASE IF EXISTS {_backticks(name)}")
        admin.close()


@pytest.fixture
def sqlite_tenants(sqlite_server: ServerUrl) -> Tenants:
    folder = Path(sqlite_server.path)
    prefix = _prefix()
    # A backslash is a path separator to the SQLite driver: such a file is never a target.
    unsafe = [prefix + suffix + ".db" for suffix in UNSAFE_SUFFIXES if "\\" not in suffix]
    plain = [prefix + suffix + ".db" for suffix in PLAIN_SUFFIXES]
    for name in unsafe + plain:
        connection = sqlite3.connect(folder / name)
        try:
            connection.execute("CREATE TABLE audit (name text)")
            connection.execute("CREATE TABLE victim (x int)")
            connection.commit()
        finally:
            connection.close()

    def rows(database: str, query: str) -> list[tuple[Any, ...]]:
        connection = sqlite3.connect(folder / database)
        try:
            return connection.execute(query).fetchall()
        finally:
            connection.close()

    def tables(database: str) -> list[str]:
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
        return sorted(row[0] for row in rows(database, query))

    return Tenants(str(sqlite_server), "pg", unsafe, plain, rows, tables, "SELECT 1")


@pytest.fixture(params=["postgresql", "mysql", "sqlite"])
def tenants(request: pytest.FixtureRequest, sqlite_fleet_db: Fleet) -> Tenants:
    """The awkward databases of one engine, all members of the target group `tenants`."""
    made: Tenants = request.getfixturevalue(f"{request.param}_tenants")
    sqlite_fleet_db.add_target_group("tenants")
    for name in made.names:
        sqlite_fleet_db.add_member("tenants", server=made.server, database=name)
    return made


async def _run(fleet: Fleet, job: str) -> JobExecution:
    # A deadline well below the pytest timeout: a target that retried instead of failing
    # at once would keep the job running for minutes.
    return await asyncio.wait_for(fleet.run(job, concurrency=10), timeout=RUN_DEADLINE)


def _targets(fleet: Fleet, execution_id: int) -> dict[str, TargetExecution]:
    return {t.target_database_name: t for t in fleet.list_target_executions(execution_id)}


def _assert_victims_survive(tenants: Tenants) -> None:
    for name in tenants.names:
        assert "victim" in tenants.tables(name), name


async def test_a_bare_value_that_is_not_a_plain_name_fails_before_anything_is_sent(
    sqlite_fleet_db: Fleet, tenants: Tenants
) -> None:
    fleet = sqlite_fleet_db
    one_step_job(
        fleet,
        "audit-bare",
        "tenants",
        "INSERT INTO audit VALUES ('$(target_database_name)')",
        tenants.credential,
    )

    execution = await _run(fleet, "audit-bare")

    assert execution.lifecycle is Lifecycle.FAILED
    targets = _targets(fleet, execution.id)
    assert sorted(targets) == sorted(tenants.names)
    for name in tenants.unsafe:
        message = (
            f"$(target_database_name) is {name!r}, which is not a plain name (letters, "
            "digits, _ - . $), so nothing was sent: use $(target_database_name:literal) for "
            "a string or $(target_database_name:identifier) for a name"
        )
        target = targets[name]
        assert (target.lifecycle, target.current_attempts, target.last_message) == (
            Lifecycle.FAILED,
            1,
            message,
        )
        # Retries could not help, so there was one attempt although the step allows eleven.
        attempts = fleet.list_attempts(target.id)
        assert [(a.lifecycle, a.message) for a in attempts] == [(Lifecycle.FAILED, message)]
        assert tenants.rows(name, "SELECT name FROM audit") == []
    for name in tenants.plain:
        assert targets[name].lifecycle is Lifecycle.SUCCEEDED, targets[name]
        assert tenants.rows(name, "SELECT name FROM audit") == [(name,)]
    _assert_victims_survive(tenants)


async def test_a_literal_inserts_the_exact_name_in_either_string_mode(
    sqlite_fleet_db: Fleet, tenants: Tenants
) -> None:
    fleet = sqlite_fleet_db
    insert = "INSERT INTO audit VALUES ($(target_database_name:literal))"
    one_step_job(fleet, "audit-literal", "tenants", insert, tenants.credential)
    fleet.add_step(
        "audit-literal",
        "hostile-mode",
        command=f"{tenants.hostile_mode}\nGO\n{insert}",
        target_group="tenants",
        credential=tenants.credential,
    )

    execution = await _run(fleet, "audit-literal")

    targets = _targets(fleet, execution.id)
    assert execution.lifecycle is Lifecycle.SUCCEEDED, list(targets.values())
    for name in tenants.names:
        assert tenants.rows(name, "SELECT name FROM audit") == [(name,), (name,)]
    _assert_victims_survive(tenants)


async def test_an_identifier_names_the_table_exactly(
    sqlite_fleet_db: Fleet, tenants: Tenants
) -> None:
    fleet = sqlite_fleet_db
    one_step_job(
        fleet,
        "table-per-tenant",
        "tenants",
        "CREATE TABLE $(target_database_name:identifier) (x int)\n"
        "GO\n"
        "INSERT INTO $(target_database_name:identifier) VALUES ($(job_version))",
        tenants.credential,
    )

    execution = await _run(fleet, "table-per-tenant")

    targets = _targets(fleet, execution.id)
    assert execution.lifecycle is Lifecycle.SUCCEEDED, list(targets.values())
    for name in tenants.names:
        assert tenants.tables(name) == sorted(["audit", "victim", name])
    _assert_victims_survive(tenants)


def test_an_unknown_modifier_is_refused_when_the_step_is_added(sqlite_fleet_db: Fleet) -> None:
    sqlite_fleet_db.add_job("typo")
    with pytest.raises(InvalidCommand) as raised:
        sqlite_fleet_db.add_step(
            "typo",
            "main",
            command="SELECT $(target_database_name:literl)",
            target_group="tenants",
            credential="pg",
        )
    assert raised.value.message == (
        "$(target_database_name:literl) has an unknown modifier 'literl': write "
        "$(target_database_name) for a plain name, $(target_database_name:literal) for a "
        "string or $(target_database_name:identifier) for a name"
    )
    assert sqlite_fleet_db.get_job("typo").steps == ()
