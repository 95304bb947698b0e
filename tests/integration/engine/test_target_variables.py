"""Per-target variables on real fleets: a shard map's named columns and a member's --var.

Each engine gets a catalog database whose `tenants` table maps each tenant database (made by
the test) to its plan; the plans hold quotes, backslashes and non-ASCII text. A step inserts
`$(plan:literal)` into each tenant, which must then hold exactly its own plan.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sqlfleet.errors import InvalidValue, TargetError
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import JobExecution, TargetExecution
from sqlfleet.servers import ServerUrl
from tests.cli_runner import Cli
from tests.integration.conftest import Fleet as DatabaseFactory
from tests.integration.conftest import SqlRunner
from tests.integration.engine.conftest import MYSQL, PG, one_step_job
from tests.polling import wait_for_async

pytestmark = pytest.mark.timeout(180)
RUN_DEADLINE = 60.0

# One plan per tenant: each way a value can break out of a quoted string, and text past ASCII.
PLANS = [
    "O'Brien's 'gold'",
    'say "hi" -- not a comment',
    "back\\slash \\' \\\\ ends in \\",
    "ünïcødé 日本 ☃ 🚀 \u2018curly\u2019 ; DROP TABLE plan_log; --",
]
INSERT = "INSERT INTO plan_log (plan) VALUES ($(plan:literal))"


@dataclass
class Catalog:
    """A catalog database and tenant databases on one engine, and how to look inside them."""

    server: str
    credential: str
    catalog: str
    tenants: list[str]
    # The shard-map query: the catalog's `tenants` rows, columns `database` and `plan`.
    query: str
    # run(database, statement, params): as the admin, behind sqlfleet's back.
    run: Callable[..., list[tuple[Any, ...]]]


def _tables(run: Callable[..., Any], catalog: str, tenants: list[str], text: str) -> None:
    run(catalog, f"CREATE TABLE tenants (db {text}, plan {text})")
    for name, plan in zip(tenants, PLANS, strict=True):
        run(catalog, "INSERT INTO tenants (db, plan) VALUES (%s, %s)", (name, plan))
        run(name, f"CREATE TABLE plan_log (plan {text})")


@pytest.fixture
def postgresql_catalog(pg_fleet: DatabaseFactory, pg_sql: SqlRunner) -> Catalog:
    catalog, *tenants = pg_fleet(1 + len(PLANS))
    _tables(pg_sql, catalog, tenants, "text")
    query = "SELECT db AS database, plan FROM tenants"
    return Catalog(PG, "pg", catalog, tenants, query, pg_sql)


@pytest.fixture
def mysql_catalog(mysql_fleet: DatabaseFactory, mysql_sql: SqlRunner) -> Catalog:
    catalog, *tenants = mysql_fleet(1 + len(PLANS))
    _tables(mysql_sql, catalog, tenants, "varchar(200) CHARACTER SET utf8mb4")
    # DATABASE is a reserved word on MySQL/MariaDB: the column name is quoted.
    query = "SELECT db AS `database`, plan FROM tenants"
    return Catalog(MYSQL, "my", catalog, tenants, query, mysql_sql)


@pytest.fixture
def sqlite_catalog(sqlite_fleet: DatabaseFactory, sqlite_server: ServerUrl) -> Catalog:
    folder = Path(sqlite_server.path)

    def run(database: str, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        connection = sqlite3.connect(folder / database)
        try:
            rows = connection.execute(statement.replace("%s", "?"), params).fetchall()
            connection.commit()
            return rows
        finally:
            connection.close()

    catalog, *tenants = sqlite_fleet(1 + len(PLANS))
    _tables(run, catalog, tenants, "text")
    query = "SELECT db AS database, plan FROM tenants"
    return Catalog(str(sqlite_server), "pg", catalog, tenants, query, run)


@pytest.fixture(params=["postgresql", "mysql", "sqlite"])
def catalog(request: pytest.FixtureRequest) -> Catalog:
    made: Catalog = request.getfixturevalue(f"{request.param}_catalog")
    return made


def _shard_map(fleet: Fleet, made: Catalog, query: str | None = None) -> None:
    fleet.add_target_group("tenants")
    fleet.add_member(
        "tenants",
        server=made.server,
        database=made.catalog,
        shard_map_query=query or made.query,
    )


async def _run(fleet: Fleet, job: str) -> JobExecution:
    return await asyncio.wait_for(fleet.run(job, concurrency=10), timeout=RUN_DEADLINE)


def _targets(fleet: Fleet, execution_id: int) -> dict[str, TargetExecution]:
    return {t.target_database_name: t for t in fleet.list_target_executions(execution_id)}


def _logged(made: Catalog, tenant: str) -> list[str]:
    return [row[0] for row in made.run(tenant, "SELECT plan FROM plan_log")]


async def test_each_tenant_gets_its_own_plan_from_the_shard_map(
    fleet: Fleet, catalog: Catalog
) -> None:
    _shard_map(fleet, catalog)
    one_step_job(fleet, "plans", "tenants", INSERT, catalog.credential)

    execution = await _run(fleet, "plans")

    targets = _targets(fleet, execution.id)
    assert execution.lifecycle is Lifecycle.SUCCEEDED, list(targets.values())
    assert sorted(targets) == sorted(catalog.tenants)
    for tenant, plan in zip(catalog.tenants, PLANS, strict=True):
        assert _logged(catalog, tenant) == [plan]
        # The target log keeps the values the target ran with.
        assert targets[tenant].target_variables == (("plan", plan),)


async def test_a_retry_uses_the_values_the_target_was_resolved_with(
    sqlite_fleet_db: Fleet, sqlite_catalog: Catalog
) -> None:
    fleet, made = sqlite_fleet_db, sqlite_catalog
    tenant = made.tenants[0]
    _shard_map(fleet, made, f"SELECT db AS database, plan FROM tenants WHERE db = '{tenant}'")
    made.run(tenant, "DROP TABLE plan_log")  # the first attempt fails
    one_step_job(
        fleet,
        "plans",
        "tenants",
        INSERT,
        made.credential,
        retry_attempts=1,
        initial_retry_interval_seconds=3600,
        maximum_retry_interval_seconds=3600,
    )
    execution = fleet.create_execution("plans")
    running = asyncio.create_task(fleet.run_execution(execution.id, concurrency=2))

    def waiting() -> TargetExecution | None:
        found = fleet.list_target_executions(execution.id)
        return next((t for t in found if t.lifecycle is Lifecycle.WAITING_FOR_RETRY), None)

    target = await wait_for_async(waiting, within=30, what="the first attempt to fail")
    # The catalog changes meanwhile: the retry still inserts what the target was given.
    made.run(made.catalog, "UPDATE tenants SET plan = 'changed since'")
    made.run(tenant, "CREATE TABLE plan_log (plan text)")
    fleet.retry_now(execution.id, target.id)
    ended = await asyncio.wait_for(running, timeout=RUN_DEADLINE)

    assert ended.lifecycle is Lifecycle.SUCCEEDED
    assert _logged(made, tenant) == [PLANS[0]]
    assert fleet.list_target_executions(execution.id)[0].current_attempts == 2


@pytest.mark.postgres
async def test_a_shard_map_names_server_database_and_schema_on_postgresql(
    sqlite_fleet_db: Fleet, pg_fleet: DatabaseFactory, pg_sql: SqlRunner
) -> None:
    fleet = sqlite_fleet_db
    catalog, tenants_db = pg_fleet(2)
    schemas = ["acme", "Globex Corp", "initech"]
    pg_sql(catalog, "CREATE TABLE shards (url text, db text, tenant_schema text, plan text)")
    for schema, plan in zip(schemas, PLANS, strict=False):
        pg_sql(tenants_db, f'CREATE SCHEMA "{schema}"')
        pg_sql(tenants_db, f'CREATE TABLE "{schema}".plan_log (plan text)')
        pg_sql(
            catalog,
            "INSERT INTO shards VALUES (%s, %s, %s, %s)",
            ("postgresql://127.0.0.1:5432", tenants_db, schema, plan),
        )
    fleet.add_target_group("tenants")
    fleet.add_member(
        "tenants",
        server=PG,
        database=catalog,
        shard_map_query="SELECT url AS server, db AS database, tenant_schema AS schema, "
        "plan, upper(tenant_schema) AS tenant_name FROM shards",
    )
    one_step_job(
        fleet,
        "plans",
        "tenants",
        f"{INSERT}\nGO\nINSERT INTO plan_log VALUES ($(tenant_name:literal))",
    )

    execution = await _run(fleet, "plans")

    targets = fleet.list_target_executions(execution.id)
    assert execution.lifecycle is Lifecycle.SUCCEEDED, targets
    assert {(t.target_server_name, t.target_schema_name) for t in targets} == {
        ("postgresql://127.0.0.1:5432", s) for s in schemas
    }
    for schema, plan in zip(schemas, PLANS, strict=False):
        rows = pg_sql(tenants_db, f'SELECT plan FROM "{schema}".plan_log ORDER BY 1')
        assert sorted(r[0] for r in rows) == sorted([plan, schema.upper()])
    by_schema = {t.target_schema_name: t.target_variables for t in targets}
    assert by_schema["acme"] == (("plan", PLANS[0]), ("tenant_name", "ACME"))


async def test_a_database_member_carries_its_var_values(
    sqlite_fleet_db: Fleet, sqlite_catalog: Catalog
) -> None:
    fleet, made = sqlite_fleet_db, sqlite_catalog
    fleet.add_target_group("tenants")
    for tenant, plan in zip(made.tenants, PLANS, strict=True):
        fleet.add_member(
            "tenants",
            server=made.server,
            database=tenant,
            variables=[("plan", plan), ("region", "eu-west")],
        )
    one_step_job(
        fleet,
        "plans",
        "tenants",
        f"{INSERT}\nGO\nINSERT INTO plan_log VALUES ('$(region)')",
        made.credential,
    )

    execution = await _run(fleet, "plans")

    assert execution.lifecycle is Lifecycle.SUCCEEDED
    for tenant, plan in zip(made.tenants, PLANS, strict=True):
        assert _logged(made, tenant) == [plan, "eu-west"]
    members = fleet.get_target_group("tenants").members
    assert members[0].variables == (("plan", PLANS[0]), ("region", "eu-west"))


async def test_excluding_a_database_excludes_it_whatever_its_variables(
    sqlite_fleet_db: Fleet, sqlite_catalog: Catalog
) -> None:
    fleet, made = sqlite_fleet_db, sqlite_catalog
    _shard_map(fleet, made)
    fleet.add_member("tenants", server=made.server, database=made.tenants[0], exclude=True)

    resolved = await fleet.resolve_target_group("tenants", credential="pg")

    assert [t.database for t in resolved] == sorted(made.tenants[1:])


async def test_a_target_named_twice_gets_the_variables_of_both(
    sqlite_fleet_db: Fleet, sqlite_catalog: Catalog
) -> None:
    fleet, made = sqlite_fleet_db, sqlite_catalog
    _shard_map(fleet, made)
    first = made.tenants[0]
    fleet.add_member("tenants", server=made.server, database=first, variables={"tier": "1"})
    # The same value again is no conflict.
    fleet.add_member("tenants", server=made.server, database=first, variables={"tier": "1"})

    resolved = await fleet.resolve_target_group("tenants", credential="pg")

    assert len(resolved) == len(made.tenants)
    chosen = next(t for t in resolved if t.database == first)
    assert chosen.variables == (("plan", PLANS[0]), ("tier", "1"))


async def test_the_same_target_with_two_values_of_a_variable_is_an_error(
    sqlite_fleet_db: Fleet, sqlite_catalog: Catalog
) -> None:
    fleet, made = sqlite_fleet_db, sqlite_catalog
    _shard_map(fleet, made)
    first = made.tenants[0]
    fleet.add_member("tenants", server=made.server, database=first, variables={"plan": "other"})
    one_step_job(fleet, "plans", "tenants", INSERT, made.credential)

    execution = await _run(fleet, "plans")

    assert execution.lifecycle is Lifecycle.FAILED
    (step,) = fleet.list_step_executions(execution.id)
    assert step.last_message == (
        f"resolving the target group failed: {made.server}/{first} is named twice with "
        f"different values of $(plan): {PLANS[0]!r} and 'other'; a target's variables must "
        "agree wherever it is named"
    )
    assert fleet.list_target_executions(execution.id) == []


@pytest.mark.parametrize(
    ("column", "reason"),
    [
        (
            "job_name",
            "the variable name 'job_name' is taken by the built-in variable $(job_name): "
            "choose another name",
        ),
        (
            "Target_Database_Name",
            "the variable name 'Target_Database_Name' is taken by the built-in variable "
            "$(target_database_name): choose another name",
        ),
        (
            '"my plan"',
            "'my plan' is not a valid variable name: use a letter or _ followed by letters, "
            "digits or _",
        ),
    ],
)
async def test_a_column_that_cannot_be_a_variable_fails_the_step_clearly(
    sqlite_fleet_db: Fleet, sqlite_catalog: Catalog, column: str, reason: str
) -> None:
    fleet, made = sqlite_fleet_db, sqlite_catalog
    _shard_map(fleet, made, f"SELECT db AS database, plan AS {column} FROM tenants")
    one_step_job(fleet, "plans", "tenants", "SELECT 1", made.credential)

    execution = await _run(fleet, "plans")

    assert execution.lifecycle is Lifecycle.FAILED
    (step,) = fleet.list_step_executions(execution.id)
    shown = column.strip('"')
    assert step.last_message == (
        f"resolving the target group failed: shard map query on {made.catalog!r}: column "
        f"{shown!r} cannot be a variable: {reason} (name it with AS)"
    )


async def test_a_server_column_without_a_database_column_is_an_error(
    sqlite_fleet_db: Fleet, sqlite_catalog: Catalog
) -> None:
    fleet, made = sqlite_fleet_db, sqlite_catalog
    _shard_map(fleet, made, "SELECT 'sqlite:///x' AS server, db FROM tenants")

    with pytest.raises(TargetError) as raised:
        await fleet.resolve_target_group("tenants", credential="pg")

    assert raised.value.message == (
        f"shard map query on {made.catalog!r} returns a 'server' column but no 'database' "
        "column: name the column that holds each database `database`"
    )


async def test_a_null_value_fails_only_the_targets_whose_script_uses_it(
    sqlite_fleet_db: Fleet, sqlite_catalog: Catalog
) -> None:
    fleet, made = sqlite_fleet_db, sqlite_catalog
    made.run(made.catalog, "UPDATE tenants SET plan = NULL WHERE db = %s", (made.tenants[0],))
    _shard_map(fleet, made)
    one_step_job(fleet, "plans", "tenants", INSERT, made.credential)

    execution = await _run(fleet, "plans")

    targets = _targets(fleet, execution.id)
    assert execution.lifecycle is Lifecycle.FAILED
    nulled = targets[made.tenants[0]]
    assert (nulled.lifecycle, nulled.current_attempts, nulled.last_message) == (
        Lifecycle.FAILED,
        1,
        "$(plan:literal) has no value on this target (NULL in its shard map), so nothing was sent",
    )
    assert nulled.target_variables == (("plan", None),)
    assert _logged(made, made.tenants[0]) == []
    for tenant, plan in zip(made.tenants[1:], PLANS[1:], strict=True):
        assert targets[tenant].lifecycle is Lifecycle.SUCCEEDED
        assert _logged(made, tenant) == [plan]


async def test_a_bare_value_that_is_not_a_plain_name_sends_nothing(
    sqlite_fleet_db: Fleet, sqlite_catalog: Catalog
) -> None:
    fleet, made = sqlite_fleet_db, sqlite_catalog
    _shard_map(fleet, made)
    one_step_job(fleet, "plans", "tenants", "INSERT INTO plan_log VALUES ('$(plan)')", "pg")

    execution = await _run(fleet, "plans")

    targets = _targets(fleet, execution.id)
    for tenant, plan in zip(made.tenants, PLANS, strict=True):
        assert targets[tenant].lifecycle is Lifecycle.FAILED
        assert (targets[tenant].last_message or "").startswith(f"$(plan) is {plan!r}, which")
        assert _logged(made, tenant) == []


@pytest.mark.postgres
async def test_numbers_dates_and_booleans_become_text(
    sqlite_fleet_db: Fleet, pg_fleet: DatabaseFactory
) -> None:
    fleet = sqlite_fleet_db
    (tenant,) = pg_fleet(1)
    fleet.add_target_group("tenants")
    fleet.add_member(
        "tenants",
        server=PG,
        database=tenant,
        shard_map_query=(
            "SELECT current_database() AS database, 42 AS tenant_id, 1.50::numeric AS price, "
            "DATE '2024-02-29' AS since, true AS active, 0.25::float8 AS share, "
            "'\\x00ff'::bytea AS raw"
        ),
    )

    (target,) = await fleet.resolve_target_group("tenants", credential="pg")

    assert target.variables == (
        ("tenant_id", "42"),
        ("price", "1.50"),
        ("since", "2024-02-29"),
        ("active", "true"),
        ("share", "0.25"),
        ("raw", "\\x00ff"),
    )


@pytest.mark.postgres
async def test_positional_shard_maps_are_read_as_before(
    sqlite_fleet_db: Fleet, pg_fleet: DatabaseFactory, pg_sql: SqlRunner
) -> None:
    fleet = sqlite_fleet_db
    catalog, *tenants = pg_fleet(3)
    pg_sql(catalog, "CREATE TABLE shards (url text, db text)")
    for name in tenants:
        pg_sql(catalog, "INSERT INTO shards VALUES (%s, %s)", (PG, name))
    fleet.add_target_group("by-name")
    fleet.add_member(
        "by-name", server=PG, database=catalog, shard_map_query="SELECT db FROM shards"
    )
    fleet.add_target_group("by-server")
    fleet.add_member(
        "by-server", server=PG, database=catalog, shard_map_query="SELECT url, db FROM shards"
    )

    for group in ("by-name", "by-server"):
        resolved = await fleet.resolve_target_group(group, credential="pg")
        assert [(t.server_url, t.database, t.variables) for t in resolved] == [
            (PG, name, ()) for name in sorted(tenants)
        ]


def test_var_is_for_database_members_only(sqlite_fleet_db: Fleet) -> None:
    fleet = sqlite_fleet_db
    fleet.add_target_group("g")
    cases = [
        (
            {"server": PG},
            "a server member takes no variables: its variables can be given to a database "
            "member only (--server and --database)",
        ),
        (
            {"server": PG, "database": "c", "shard_map_query": "SELECT 1"},
            "a shard-map member takes no variables: its variables come from its query's "
            "columns other than database, server and schema",
        ),
        (
            {"server": PG, "database": "d", "exclude": True},
            "an exclude member takes no variables: excluding a database excludes it "
            "whatever its variables",
        ),
        (
            {"server": PG, "database": "d", "variables_": [("plan", "a"), ("plan", "b")]},
            "the variable 'plan' is given twice",
        ),
    ]
    for options, message in cases:
        variables = options.pop("variables_", {"plan": "gold"})
        with pytest.raises(InvalidValue) as raised:
            fleet.add_member("g", variables=variables, **options)  # type: ignore[arg-type]
        assert raised.value.message == message
    assert fleet.get_target_group("g").members == ()


# -- the command line: --var, dry run, target log --------------------------------------------


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    sqlite_job_db: str,
    sqlite_fleet_db: Fleet,
) -> Cli:
    return Cli(capsys, monkeypatch, sqlite_job_db)


def test_the_command_line_adds_vars_and_shows_them_in_dry_run_and_target_log(
    cli: Cli, sqlite_catalog: Catalog
) -> None:
    made = sqlite_catalog
    first, second, *_ = made.tenants
    cli.ok("target-group", "add", "tenants")
    cli.ok(
        "target-group",
        "add-member",
        "tenants",
        "--server",
        made.server,
        "--database",
        first,
        "--var",
        f"plan={PLANS[0]}",
        "--var",
        "note=a=b ",  # the value is all after the first '=', spaces kept
    )
    cli.ok(
        "target-group",
        "add-member",
        "tenants",
        "--server",
        made.server,
        "--database",
        made.catalog,
        "--shard-map-query",
        f"SELECT db AS database, plan FROM tenants WHERE db = '{second}'",
    )
    shown = cli.ok("target-group", "show", "tenants", "--json").json()
    assert shown["members"][0]["variables"] == {"plan": PLANS[0], "note": "a=b "}
    table = cli.ok("target-group", "show", "tenants").out
    assert "VARIABLES" in table and '"a=b "' in table
    resolved = cli.ok("target-group", "resolve", "tenants", "--credential", "pg", "--json")
    assert [t["target_variables"] for t in resolved.json()] == [
        {"plan": PLANS[0], "note": "a=b "},
        {"plan": PLANS[1]},
    ]
    cli.ok(
        "job",
        "add",
        "plans",
    )
    cli.ok(
        "job",
        "add-step",
        "plans",
        "--name",
        "main",
        "--target-group",
        "tenants",
        "--credential",
        "pg",
        "--command",
        INSERT,
    )

    dry = cli("start", "plans", "--dry-run")
    assert dry.code == 0, dry.err
    assert f"    variables: plan={json.dumps(PLANS[0], ensure_ascii=False)}" in dry.out
    assert "INSERT INTO plan_log (plan) VALUES ('O''Brien''s ''gold''')" in dry.out
    previewed = cli.ok("start", "plans", "--dry-run", "--json").json()
    assert previewed[0]["targets"][1]["target_variables"] == {"plan": PLANS[1]}
    assert _logged(made, first) == []  # a dry run runs nothing

    ran = cli("run", "plans", "--json")
    assert ran.code == 0, ran.err
    execution_id = ran.json()["job_execution_id"]
    assert _logged(made, first) == [PLANS[0]] and _logged(made, second) == [PLANS[1]]
    log = cli.ok("execution", "show", str(execution_id), "--targets", "--json").json()
    assert [t["target_variables"] for t in log["targets"]] == [
        {"plan": PLANS[0], "note": "a=b "},
        {"plan": PLANS[1]},
    ]
    table = cli.ok("execution", "show", str(execution_id), "--targets").out
    assert "VARIABLES" in table and json.dumps(PLANS[1], ensure_ascii=False) in table
    attempts = cli.ok("execution", "show", str(execution_id), "--attempts").out
    assert f"  variables: plan={json.dumps(PLANS[1], ensure_ascii=False)}" in attempts


@pytest.mark.parametrize(
    ("var", "says"),
    [
        ("plan", "a variable is written NAME=VALUE, not 'plan': e.g. plan=gold"),
        ("=gold", "a variable name is empty"),
        ("my plan=gold", "'my plan' is not a valid variable name"),
        ("9lives=x", "'9lives' is not a valid variable name"),
        ("step_name=x", "taken by the built-in variable $(step_name)"),
        ("Database=x", "the variable name 'Database' is taken: database, server and schema"),
        ("p" * 64 + "=x", "is longer than 63 characters"),
        ("plan=" + "x" * 4001, "the value of variable 'plan' is longer than 4,000 characters"),
        ("plan=a\x00b", "the value of variable 'plan' contains a NUL character"),
    ],
)
def test_a_bad_var_is_one_line_and_changes_nothing(cli: Cli, var: str, says: str) -> None:
    cli.ok("target-group", "add", "g")
    run = cli("target-group", "add-member", "g", "--server", PG, "--database", "d", "--var", var)
    assert run.code == 2 and run.out == "", run
    assert run.err.count("\n") == 1 and says in run.err, run.err
    assert cli.ok("target-group", "show", "g", "--json").json()["members"] == []


def test_too_many_vars_are_refused(cli: Cli) -> None:
    cli.ok("target-group", "add", "g")
    many = [item for i in range(65) for item in ("--var", f"v{i}=x")]
    run = cli("target-group", "add-member", "g", "--server", PG, "--database", "d", *many)
    assert run.code == 2
    assert "a target has at most 64 variables" in run.err
    enough = many[:128]
    cli.ok("target-group", "add-member", "g", "--server", PG, "--database", "d", *enough)


@pytest.mark.parametrize(("server", "credential"), [(PG, "pg"), (MYSQL, "my")])
async def test_a_password_in_a_value_is_masked_where_an_error_quotes_it(
    fleet: Fleet,
    pg_fleet: DatabaseFactory,
    mysql_fleet: DatabaseFactory,
    server: str,
    credential: str,
) -> None:
    (database,) = pg_fleet(1) if server == PG else mysql_fleet(1)
    fleet.add_target_group("tenants")
    secret_url = "postgresql://owner:TopSecret9@db.example.com/app"
    fleet.add_member("tenants", server=server, database=database, variables={"dsn": secret_url})
    # The server refuses the value and quotes it, and the failing statement holds it.
    one_step_job(
        fleet,
        "leaky",
        "tenants",
        "SELECT 1\nGO\nSELECT CAST($(dsn:literal) AS INTEGER) + no_such_column",
        credential=credential,
        retry_attempts=0,
    )
    execution = await _run(fleet, "leaky")
    (target,) = _targets(fleet, execution.id).values()
    assert target.lifecycle == Lifecycle.FAILED
    attempts = fleet.list_attempts(target.id)
    said = [target.last_message, *(a.message for a in attempts)]
    said += [a.error_statement for a in attempts]
    # Neither as written nor as MySQL's hex literal of it; PostgreSQL quotes it as text.
    hidden = ("TopSecret9", b"TopSecret9".hex().upper())
    assert all(h not in (text or "") for text in said for h in hidden), said
    shown = "owner:***@" if server == PG else b"owner:***@".hex().upper()
    assert any(shown in (text or "") for text in said), said
