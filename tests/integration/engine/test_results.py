"""Kept results on real PostgreSQL, MariaDB and SQLite targets, read back as a user reads them."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqlfleet.engine.results import json_safe
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from tests.cli_runner import Cli
from tests.integration.conftest import _fleet_names, _in_parallel, _mysql_connect, _pg_connect
from tests.integration.engine.conftest import MYSQL, PG

pytestmark = pytest.mark.timeout(120)

TARGET = ["target_server_name", "target_database_name"]
TABLE = "CREATE TABLE inventory (id int, name varchar(40), price decimal(10,2), seen date)"
# PostgreSQL's tables have one more column: `SELECT *` returns different columns per engine.
PG_TABLE = TABLE[:-1] + ", colour varchar(10))"


def _rows_for(number: int, *, colour: bool) -> list[tuple[Any, ...]]:
    """A target's rows: as many as its number plus one, one with NULLs."""
    rows: list[tuple[Any, ...]] = [
        (i, f"item {number}-{i}", f"{i * 1.25:.2f}", f"2024-0{i}-1{number}") for i in range(1, 3)
    ]
    rows += [(9, None, None, None)] * (number % 2)
    return [(*row, "red" if row[1] else None) if colour else row for row in rows]


def _insert(run: Any, database: str, rows: list[tuple[Any, ...]], mark: str) -> None:
    holes = ", ".join([mark] * len(rows[0]))
    for row in rows:
        run(database, f"INSERT INTO inventory VALUES ({holes})", row)


def _pg(database: str, statement: str, params: Any = None) -> list[Any]:
    with _pg_connect(database) as connection:
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def _my(database: str | None, statement: str, params: Any = None) -> list[Any]:
    connection = _mysql_connect(database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return list(cursor.fetchall())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[tuple[str, str]]]]:
    """Two databases on each engine holding `inventory`, made once for the module (the tests
    only read them): each engine's targets, as (server URL, database)."""
    pg_names, my_names = _fleet_names(2, None), _fleet_names(2, None)
    folder = tmp_path_factory.mktemp("sqlite_server")
    lite_names = [f"tenant_{i}.db" for i in range(2)]

    def lite(database: str, statement: str, params: Any = ()) -> None:
        with sqlite3.connect(folder / database) as db:
            db.execute(statement, params)
        db.close()

    def create(name: str) -> None:
        _pg("postgres", f'CREATE DATABASE "{name}"')

    def drop(name: str) -> None:
        _pg("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    try:
        _in_parallel(create, pg_names)
        for name in my_names:
            _my(None, f"CREATE DATABASE `{name}`")
        for number, name in enumerate(pg_names):
            _pg(name, PG_TABLE)
            _insert(_pg, name, _rows_for(number, colour=True), "%s")
        for number, name in enumerate(my_names):
            _my(name, TABLE)
            _insert(_my, name, _rows_for(number, colour=False), "%s")
        for number, name in enumerate(lite_names):
            lite(name, TABLE)
            _insert(lite, name, _rows_for(number, colour=False), "?")
        yield {
            "pg": [(PG, n) for n in pg_names],
            "my": [(MYSQL, n) for n in my_names],
            "lite": [(f"sqlite://{folder}", n) for n in lite_names],
        }
    finally:
        _in_parallel(drop, pg_names)
        for name in my_names:
            _my(None, f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def groups(
    fleet: Fleet, servers: dict[str, list[tuple[str, str]]]
) -> dict[str, list[tuple[str, str]]]:
    """Target groups `pg`, `my` and `lite` of the module's databases; their targets."""
    for group, targets in servers.items():
        fleet.add_target_group(group)
        server, first = targets[0]
        pattern = first.removesuffix(".db")[:-2] + "_*"
        fleet.add_member(group, server=server, database_pattern=pattern)
    return servers


def _held(where: tuple[str, str]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """What a target holds, read with the engine's own client: its columns and its rows."""
    server, database = where
    query = "SELECT * FROM inventory ORDER BY id"
    if server.startswith("postgresql"):
        return ["id", "name", "price", "seen", "colour"], _pg(database, query)
    if server.startswith("mysql"):
        return ["id", "name", "price", "seen"], _my(database, query)
    with sqlite3.connect(Path(server.removeprefix("sqlite://")) / database) as db:
        rows = db.execute(query).fetchall()
    db.close()
    return ["id", "name", "price", "seen"], rows


async def test_results_of_a_three_step_job_are_what_the_targets_hold(
    fleet: Fleet,
    groups: dict[str, list[tuple[str, str]]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fleet.add_job("inventory")
    for group, credential in (("pg", "pg"), ("my", "my"), ("lite", "pg")):
        fleet.add_step(
            "inventory",
            f"on-{group}",
            command="SELECT * FROM inventory ORDER BY id",
            target_group=group,
            credential=credential,
        )
    execution = await fleet.run("inventory", concurrency=10)
    assert execution.lifecycle is Lifecycle.SUCCEEDED, fleet.list_target_executions(execution.id)
    cli = Cli(capsys, monkeypatch, _job_db(fleet))
    results = ["execution", "results", str(execution.id)]

    union = ["id", "name", "price", "seen", "colour"]
    expected: dict[str, list[list[Any]]] = {}
    for group, targets in groups.items():
        document = cli.ok(*results, "--step", f"on-{group}", "--format", "json").json()
        expected[group] = []
        for where in targets:
            columns, rows = _held(where)
            for row in rows:
                values = dict(zip(columns, (json_safe(v) for v in row), strict=True))
                expected[group].append([*where, *(values[c] for c in columns)])
        assert document["columns"] == [*TARGET, *columns]
        assert document["rows"] == expected[group], group
        assert document["total_rows"] == len(expected[group]) > 4
        assert document["truncated_targets"] == 0

    # Every step at once: named, the union of columns in the order first seen.
    every = cli.ok(*results, "--json").json()
    assert every["columns"] == ["step_name", *TARGET, *union]
    merged = [
        [f"on-{group}", *row[:2], *row[2:], *([None] * (len(union) + 2 - len(row)))]
        for group in ("pg", "my", "lite")
        for row in expected[group]
    ]
    assert every["rows"] == merged

    # CSV: the same rows as text; the table: a header and one line per row.
    as_csv = cli.ok(*results, "--format", "csv")
    parsed = list(csv.reader(io.StringIO(as_csv.out)))
    assert parsed[0] == every["columns"]
    assert parsed[1:] == [["" if v is None else str(v) for v in row] for row in merged]
    assert as_csv.err == ""
    table = cli.ok(*results, "--step", "on-my")
    assert len(table.out.splitlines()) == 1 + len(expected["my"])

    # Pages cut anywhere, across targets and steps, give the same rows.
    paged: list[list[Any]] = []
    for offset in range(0, len(merged) + 3, 4):
        page = fleet.execution_results(execution.id, offset=offset, limit=4)
        paged.extend(list(r) for r in page.rows)
    assert paged == merged


async def test_a_cap_cuts_rows_and_a_batch_of_statements_keeps_none(
    fleet: Fleet,
    groups: dict[str, list[tuple[str, str]]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fleet.add_job("inventory")
    for group in ("pg", "lite"):
        # Several statements in one batch, the first a query: they run as they always did.
        fleet.add_step(
            "inventory",
            f"touch-{group}",
            command="SELECT 1 AS one; UPDATE inventory SET id = id",
            target_group=group,
            credential="pg",
        )
    fleet.add_step(
        "inventory",
        "capped",
        command="SELECT id FROM inventory ORDER BY id",
        target_group="pg",
        credential="pg",
        result_rows=2,
    )
    execution = await fleet.run("inventory", concurrency=10)
    assert execution.lifecycle is Lifecycle.SUCCEEDED, fleet.list_target_executions(execution.id)
    cli = Cli(capsys, monkeypatch, _job_db(fleet))
    results = ["execution", "results", str(execution.id)]
    for group in ("pg", "lite"):
        touched = cli.ok(*results, "--step", f"touch-{group}", "--json").json()
        assert touched["rows"] == [] and touched["targets_with_results"] == 0
    run = cli.ok(*results, "--step", "capped", "--format", "csv")
    rows = list(csv.reader(io.StringIO(run.out)))[1:]
    assert [r[2] for r in rows] == ["1", "2", "1", "2"]  # two kept of two, two of three
    assert run.err.startswith("note: 1 target(s) returned more rows than their step keeps")
    assert f"{groups['pg'][1][0]}/{groups['pg'][1][1]} returned 3, kept 2" in run.err
    document = cli.ok(*results, "--step", "capped", "--json").json()
    assert document["truncated_targets"] == 1
    assert [(c["returned_rows"], c["kept_rows"]) for c in document["truncated"]] == [(3, 2)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--step", "nope"], "has no step named 'nope' (its steps: 'main')"),
        (["--format", "xml"], "'xml' is not one of"),
        (["--step", ""], "has no step named ''"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    fleet: Fleet,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    fleet.add_target_group("g")
    fleet.add_job("j")
    fleet.add_step("j", "main", command="SELECT 1", target_group="g", credential="pg")
    execution = fleet.create_execution("j")
    run = Cli(capsys, monkeypatch, _job_db(fleet))("execution", "results", str(execution.id), *args)
    assert run.code == 2 and run.out == ""
    assert len(run.err.splitlines()) == 1 and message in run.err, run.err


def _job_db(fleet: Fleet) -> str:
    return str(fleet.store.engine.url.render_as_string(hide_password=False)).replace(
        "postgresql+psycopg://", "postgresql://"
    )
