"""Staged rollouts on real fleets: canary first, waves, a failure budget that halts the step,
and retries limited to transient errors."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.secrets import Secret
from tests.integration.engine.conftest import MYSQL, PG, one_step_job

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def pg_jobs(pg_job_db: str) -> Iterator[Fleet]:
    """A Fleet on a PostgreSQL job database (claims there lock rows: the multi-agent case)."""
    Fleet.init(pg_job_db)
    with Fleet.open(pg_job_db) as opened:
        opened.add_credential("pg", "postgres", Secret("unused-under-trust-auth"))
        yield opened


SCRIPT = "INSERT INTO items (v) VALUES ('$(target_database_name)')"


def _fleet_with_missing_tables(
    fleet: Fleet, pg_fleet: Any, pg_sql: Any, n: int, missing: set[int]
) -> list[str]:
    """`n` databases in resolution order; those at positions `missing` lack the table."""
    names = sorted(pg_fleet(n))
    for position, name in enumerate(names):
        if position not in missing:
            pg_sql(name, "CREATE TABLE items (v text)")
    prefix = names[0].rsplit("_", 1)[0]
    fleet.add_target_group("tenants")
    fleet.add_member("tenants", server=PG, database_pattern=f"{prefix}_*")
    return names


def _by_database(fleet: Fleet, execution_id: int) -> dict[str, Any]:
    return {t.target_database_name: t for t in fleet.list_target_executions(execution_id)}


def _rows(pg_sql: Any, database: str) -> int:
    if not pg_sql(database, "SELECT 1 FROM pg_tables WHERE tablename = 'items'"):
        return 0
    return int(pg_sql(database, "SELECT count(*) FROM items")[0][0])


async def test_failure_budget_halts_the_rollout_after_canary_and_waves(
    pg_jobs: Fleet, pg_fleet: Any, pg_sql: Any
) -> None:
    fleet = pg_jobs
    missing = {7, 12, 30, 31, 33, 52, 64, 70, 88, 99}
    names = _fleet_with_missing_tables(fleet, pg_fleet, pg_sql, 100, missing)
    one_step_job(
        fleet,
        "rollout",
        "tenants",
        SCRIPT,
        canary=5,
        wave_size="20",
        max_failures="3",
        retry_on="transient",
    )

    execution = await fleet.run("rollout", concurrency=50)

    assert execution.lifecycle is Lifecycle.FAILED
    targets = _by_database(fleet, execution.id)
    # Waves: canary 0-4, then 5-24, 25-44, 45-64, ...; the third failure (position 30, 31
    # or 33) happens in the wave 25-44, whose targets were in flight: nothing after it starts.
    failed = [p for p, n in enumerate(names) if targets[n].lifecycle is Lifecycle.FAILED]
    assert failed == [7, 12, 30, 31, 33]
    assert all(
        "not a transient error: not retried" in targets[names[p]].last_message for p in failed
    )
    assert all(targets[names[p]].current_attempts == 1 for p in failed)
    for position, name in enumerate(names):
        target = targets[name]
        if position < 45:
            assert target.lifecycle in (Lifecycle.SUCCEEDED, Lifecycle.FAILED), (position, target)
            continue
        assert target.lifecycle is Lifecycle.CANCELED, (position, target)
        assert target.last_message.startswith("not started:"), target.last_message
        assert "max_failures=3" in target.last_message
        assert target.current_attempts == 0 and target.start_time is None
        assert _rows(pg_sql, name) == 0, f"the script ran on {name}"
    assert _rows(pg_sql, names[0]) == 1
    [step] = fleet.list_step_executions(execution.id)
    assert step.lifecycle is Lifecycle.FAILED


async def test_a_failing_canary_starts_nothing_beyond_the_canary(
    sqlite_fleet_db: Fleet, pg_fleet: Any, pg_sql: Any
) -> None:
    fleet = sqlite_fleet_db
    names = _fleet_with_missing_tables(fleet, pg_fleet, pg_sql, 12, {1, 3})
    one_step_job(
        fleet,
        "rollout",
        "tenants",
        SCRIPT,
        canary=5,
        wave_size="50%",
        max_failures="10%",
        retry_on="transient",
    )

    execution = await fleet.run("rollout", concurrency=50)

    assert execution.lifecycle is Lifecycle.FAILED
    targets = _by_database(fleet, execution.id)
    states = [targets[n].lifecycle for n in names]
    assert states[:5] == [
        Lifecycle.SUCCEEDED,
        Lifecycle.FAILED,
        Lifecycle.SUCCEEDED,
        Lifecycle.FAILED,
        Lifecycle.SUCCEEDED,
    ]
    for name in names[5:]:
        assert targets[name].lifecycle is Lifecycle.CANCELED
        assert targets[name].last_message.startswith("not started:")
        assert "of the 5 canary target(s) failed" in targets[name].last_message
        assert _rows(pg_sql, name) == 0


async def test_waves_start_one_after_another_with_a_pause(
    sqlite_fleet_db: Fleet, pg_fleet: Any, pg_sql: Any
) -> None:
    fleet = sqlite_fleet_db
    names = _fleet_with_missing_tables(fleet, pg_fleet, pg_sql, 6, set())
    one_step_job(fleet, "waves", "tenants", SCRIPT, wave_size="2", wave_pause_seconds=0.3)

    execution = await fleet.run("waves", concurrency=50)

    assert execution.lifecycle is Lifecycle.SUCCEEDED
    targets = _by_database(fleet, execution.id)
    waves = [names[0:2], names[2:4], names[4:6]]
    for earlier, later in itertools.pairwise(waves):
        ended = max(targets[n].end_time for n in earlier)
        started = min(targets[n].start_time for n in later)
        assert (started - ended).total_seconds() >= 0.3


async def test_transient_retries_a_terminated_backend_but_not_a_syntax_error(
    sqlite_fleet_db: Fleet, pg_fleet: Any, pg_sql: Any, poll: Any
) -> None:
    fleet = sqlite_fleet_db
    broken, slow = pg_fleet(2)
    pg_sql(slow, "CREATE SEQUENCE tries")
    fleet.add_target_group("broken")
    fleet.add_member("broken", server=PG, database=broken)
    fleet.add_target_group("slow")
    fleet.add_member("slow", server=PG, database=slow)
    one_step_job(
        fleet, "syntax", "broken", "SELEC 1", retry_on="transient", initial_retry_interval_seconds=0
    )
    # The first attempt sleeps, and is terminated meanwhile; the second one is quick.
    one_step_job(
        fleet,
        "terminated",
        "slow",
        "SELECT CASE WHEN nextval('tries') = 1 THEN pg_sleep(30) END",
        retry_on="transient",
        initial_retry_interval_seconds=0.1,
    )

    execution = await fleet.run("syntax")
    assert execution.lifecycle is Lifecycle.FAILED
    [target] = fleet.list_target_executions(execution.id)
    assert target.current_attempts == 1
    assert "syntax error" in target.last_message
    assert "not a transient error: not retried" in target.last_message

    run = asyncio.create_task(fleet.run("terminated"))
    sleeping = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND query LIKE '%%pg_sleep%%'"

    def terminated() -> bool:
        pids = pg_sql("postgres", sleeping, [slow])
        return bool(pids) and bool(
            pg_sql("postgres", "SELECT pg_terminate_backend(%s)", [pids[0][0]])
        )

    await poll(terminated, within=15, what="the first attempt to be running, then terminated")
    execution = await run
    assert execution.lifecycle is Lifecycle.SUCCEEDED
    [target] = fleet.list_target_executions(execution.id)
    assert target.current_attempts == 2
    first = fleet.list_attempts(target.id)[0]
    assert first.lifecycle is Lifecycle.FAILED
    assert "(transient error)" in (first.message or "")


async def test_a_failing_canary_halts_on_mariadb_too(
    sqlite_fleet_db: Fleet, mysql_fleet: Any, mysql_sql: Any
) -> None:
    fleet = sqlite_fleet_db
    names = sorted(mysql_fleet(8))
    for position, name in enumerate(names):
        if position != 2:
            mysql_sql(name, "CREATE TABLE items (v text)")
    prefix = names[0].rsplit("_", 1)[0]
    fleet.add_target_group("tenants")
    fleet.add_member("tenants", server=MYSQL, database_pattern=f"{prefix}_*")
    one_step_job(
        fleet, "rollout", "tenants", SCRIPT, credential="my", canary=3, retry_on="transient"
    )

    execution = await fleet.run("rollout", concurrency=50)

    assert execution.lifecycle is Lifecycle.FAILED
    targets = _by_database(fleet, execution.id)
    assert targets[names[2]].lifecycle is Lifecycle.FAILED
    assert "ERROR 1146" in targets[names[2]].last_message
    assert "not a transient error: not retried" in targets[names[2]].last_message
    for name in names[3:]:
        assert targets[name].lifecycle is Lifecycle.CANCELED
        assert targets[name].last_message.startswith("not started:")
        assert mysql_sql(name, "SELECT count(*) FROM items") == [(0,)]
