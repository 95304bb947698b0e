"""Trials (rolled back, PostgreSQL only here) and re-runs of what failed, on real fleets.

Synchronous tests: the command line they also drive runs its own event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqlfleet.errors import InvalidValue
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.secrets import Secret
from tests.cli_runner import Cli
from tests.conftest import row_count
from tests.integration.engine.conftest import MYSQL, PG, one_step_job

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def jobs(sqlite_job_db: str) -> Iterator[Fleet]:
    Fleet.init(sqlite_job_db)
    with Fleet.open(sqlite_job_db) as fleet:
        fleet.add_credential("pg", "postgres", Secret("unused-under-trust-auth"))
        fleet.add_credential("my", "root", Secret(""))
        yield fleet


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, sqlite_job_db: str
) -> Cli:
    return Cli(capsys, monkeypatch, sqlite_job_db)


def _pattern_group(fleet: Fleet, name: str, databases: list[str], server: str = PG) -> None:
    fleet.add_target_group(name)
    prefix = databases[0].rsplit("_", 1)[0]
    fleet.add_member(name, server=server, database_pattern=f"{prefix}_*")


def test_a_trial_leaves_nothing_behind_and_is_marked(
    jobs: Fleet, cli: Cli, pg_fleet: Any, pg_sql: Any
) -> None:
    names = pg_fleet(20)
    _pattern_group(jobs, "tenants", names)
    one_step_job(
        jobs, "create", "tenants", "CREATE TABLE tried (id int)\nGO\nINSERT INTO tried VALUES (1)"
    )

    execution = asyncio.run(jobs.run("create", trial=True))

    assert execution.lifecycle is Lifecycle.SUCCEEDED
    assert execution.trial is True
    targets = jobs.list_target_executions(execution.id)
    assert len(targets) == 20
    assert {t.lifecycle for t in targets} == {Lifecycle.SUCCEEDED}
    for name in names:
        assert pg_sql(name, "SELECT count(*) FROM pg_tables WHERE tablename = 'tried'") == [(0,)]
    listed = cli.ok("execution", "list")
    assert "Succeeded (trial)" in listed.out
    assert cli.ok("execution", "show", str(execution.id), "--json").json()["trial"] is True


def test_a_trial_on_sqlite_rolls_back_every_batch(
    jobs: Fleet, sqlite_fleet: Any, sqlite_server: Any
) -> None:
    names = sqlite_fleet(3)
    jobs.add_target_group("files")
    jobs.add_member("files", server=str(sqlite_server))
    one_step_job(
        jobs,
        "create",
        "files",
        "CREATE TABLE tried (v text); INSERT INTO tried VALUES ('a;b')\nGO\n"
        "CREATE TRIGGER t AFTER INSERT ON tried BEGIN SELECT 1; END;\nINSERT INTO tried VALUES (1)",
        credential="pg",
    )

    execution = asyncio.run(jobs.run("create", trial=True))

    assert execution.lifecycle is Lifecycle.SUCCEEDED, jobs.list_target_executions(execution.id)
    for name in names:
        with sqlite3.connect(Path(sqlite_server.path) / name) as connection:
            tables = connection.execute("SELECT name FROM sqlite_master").fetchall()
        connection.close()
        assert tables == []


def test_a_trial_on_mariadb_is_refused_before_anything_is_created(
    jobs: Fleet, cli: Cli, sqlite_job_db: str, mysql_fleet: Any
) -> None:
    names = mysql_fleet(1)
    _pattern_group(jobs, "my", names, MYSQL)
    one_step_job(jobs, "create", "my", "CREATE TABLE tried (id int)", credential="my")

    with pytest.raises(InvalidValue, match="a trial is refused: step 'main' runs on mysql://"):
        asyncio.run(jobs.run("create", trial=True))
    refused = cli("run", "create", "--trial")
    assert refused.code == 2
    assert "commits DDL at once" in refused.err and "Traceback" not in refused.err
    assert row_count(sqlite_job_db, "job_execution") == 0


def test_rerun_runs_only_the_failed_targets_at_the_original_version(
    jobs: Fleet, cli: Cli, pg_fleet: Any, pg_sql: Any
) -> None:
    names = sorted(pg_fleet(5))
    missing = {names[1], names[3]}
    for name in names:
        if name not in missing:
            pg_sql(name, "CREATE TABLE items (v text)")
    _pattern_group(jobs, "tenants", names)
    one_step_job(
        jobs,
        "fill",
        "tenants",
        "INSERT INTO items VALUES ('version one')",
        retry_on="transient",
    )
    first = asyncio.run(jobs.run("fill"))
    assert first.lifecycle is Lifecycle.FAILED
    assert first.target_counts == {"Failed": 2, "Succeeded": 3}
    # The job changes; the re-run still runs the version that failed.
    jobs.update_step("fill", "main", command="INSERT INTO items VALUES ('version two')")
    for name in missing:
        pg_sql(name, "CREATE TABLE items (v text)")

    rerun = cli("execution", "rerun", str(first.id), "--run", "--json")

    assert rerun.code == 0, rerun.err
    document = rerun.json()
    assert document["rerun_of"] == first.id
    assert document["job_version"] == first.job_version
    assert document["lifecycle"] == "Succeeded"
    targets = jobs.list_target_executions(document["job_execution_id"])
    assert sorted(t.target_database_name for t in targets) == sorted(missing)
    for name in names:
        assert pg_sql(name, "SELECT v FROM items") == [("version one",)]
    shown = cli.ok("execution", "show", str(document["job_execution_id"]))
    assert "(re-run of" in shown.out and "re-runs:" in shown.out

    nothing = cli("execution", "rerun", str(document["job_execution_id"]))
    assert nothing.code == 2
    assert "nothing to re-run" in nothing.err
    bad = cli("execution", "rerun", str(first.id), "--state", "Succeeded")
    assert bad.code == 2
    assert "cannot re-run targets that ended 'Succeeded'" in bad.err
