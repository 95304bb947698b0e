"""Dry run and preflight on real fleets: what would run where, with nothing run or recorded."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sqlfleet.fleet import Fleet
from sqlfleet.secrets import Secret
from sqlfleet.targets import mysql, postgres
from tests.cli_runner import Cli
from tests.conftest import row_count
from tests.integration.engine.conftest import MYSQL, PG

pytestmark = pytest.mark.timeout(120)

SCRIPT = (
    "INSERT INTO probe (v) VALUES ($(target_database_name:literal))\n"
    "GO\n"
    "SELECT '$(job_name)', $(step_id), '$(job_execution_id)'"
)


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, sqlite_job_db: str
) -> Cli:
    Fleet.init(sqlite_job_db)
    with Fleet.open(sqlite_job_db) as fleet:
        fleet.add_credential("pg", "postgres", Secret("unused-under-trust-auth"))
        fleet.add_credential("my", "root", Secret(""))
    return Cli(capsys, monkeypatch, sqlite_job_db)


def _commits(pg_sql: Any, databases: list[str]) -> dict[str, int]:
    """Committed transactions per database, once the statistics stopped moving.

    Statistics are flushed when a backend ends, a moment after its client left: read until
    two readings a while apart agree (or fail at the deadline).
    """
    query = "SELECT datname, xact_commit FROM pg_stat_database WHERE datname = ANY(%s)"
    deadline = time.monotonic() + 20
    last: dict[str, int] | None = None
    while time.monotonic() < deadline:
        now = {name: int(count) for name, count in pg_sql("postgres", query, [databases])}
        if now == last:
            return now
        last = now
        time.sleep(0.5)  # the interval between two readings, not a wait for an event
    pytest.fail("the statistics of the test databases kept moving")


def test_dry_run_renders_each_targets_batches_and_changes_nothing(
    cli: Cli, sqlite_job_db: str, pg_fleet: Any, pg_sql: Any, mysql_fleet: Any, mysql_sql: Any
) -> None:
    pg_names = sorted(pg_fleet(3))
    [my_name] = mysql_fleet(1)
    for name in pg_names:
        pg_sql(name, "CREATE TABLE probe (v text)")
    mysql_sql(my_name, "CREATE TABLE probe (v text)")
    prefix = pg_names[0].rsplit("_", 1)[0]
    cli.ok("target-group", "add", "pg")
    cli.ok("target-group", "add-member", "pg", "--server", PG, "--database-pattern", f"{prefix}_*")
    cli.ok("target-group", "add", "my")
    cli.ok("target-group", "add-member", "my", "--server", MYSQL, "--database", my_name)
    cli.ok("job", "add", "deploy")
    for step, group, credential in (("on-pg", "pg", "pg"), ("on-my", "my", "my")):
        cli.ok(
            "job", "add-step", "deploy", "--name", step, "--target-group", group,
            "--credential", credential, "--command", SCRIPT,
        )  # fmt: skip
    before = _commits(pg_sql, pg_names)

    shown = cli("run", "deploy", "--dry-run", "--json")

    assert shown.code == 0, shown.err
    steps = shown.json()
    assert [s["step_name"] for s in steps] == ["on-pg", "on-my"]
    assert [t["target_database_name"] for t in steps[0]["targets"]] == pg_names
    for step, quote in ((steps[0], postgres.quote_literal), (steps[1], mysql.quote_literal)):
        for target in step["targets"]:
            database = target["target_database_name"]
            assert target["error"] is None
            assert target["batches"] == [
                f"INSERT INTO probe (v) VALUES ({quote(database)})",
                f"SELECT 'deploy', {step['step_id']}, '$(job_execution_id)'",
            ]
    assert steps[1]["targets"][0]["target_server_name"] == MYSQL
    text = cli("start", "deploy", "--dry-run")
    assert text.code == 0, text.err
    assert "-- batch 2" in text.out and "no execution recorded" in text.out

    assert _commits(pg_sql, pg_names) == before
    for name in pg_names:
        assert pg_sql(name, "SELECT count(*) FROM probe") == [(0,)]
    assert mysql_sql(my_name, "SELECT count(*) FROM probe") == [(0,)]
    assert row_count(sqlite_job_db, "job_execution") == 0
    assert cli.ok("execution", "list", "--json").json() == []


def test_preflight_reports_the_targets_it_cannot_log_in_to(cli: Cli, pg_fleet: Any) -> None:
    good = pg_fleet(2)
    cli.ok("target-group", "add", "some")
    for name in good:
        cli.ok("target-group", "add-member", "some", "--server", PG, "--database", name)
    cli.ok("job", "add", "check")
    cli.ok(
        "job", "add-step", "check", "--name", "s", "--target-group", "some",
        "--credential", "pg", "--command", "DROP TABLE everything",
    )  # fmt: skip

    assert "every target can be logged in to" in cli.ok("run", "check", "--preflight").out

    for missing in ("sqlfleet_no_such_db_1", "sqlfleet_no_such_db_2"):
        cli.ok("target-group", "add-member", "some", "--server", PG, "--database", missing)
    result = cli("run", "check", "--preflight")
    assert result.code == 1
    assert "2 target(s): cannot connect to database <database>" in result.out
    assert "the database does not exist" in result.out
    assert "sqlfleet_no_such_db_2" in result.out
    assert "no execution recorded" in result.out
