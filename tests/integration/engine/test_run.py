"""Running jobs on real PostgreSQL and MariaDB fleets: the engine's promises."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import OutputDestination
from tests.integration.engine.conftest import MYSQL, PG, one_step_job

pytestmark = pytest.mark.timeout(180)


def _states(fleet: Fleet, execution_id: int) -> dict[str, str]:
    return {
        t.target_database_name: t.lifecycle.value
        for t in fleet.list_target_executions(execution_id)
    }


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
async def test_two_steps_on_two_groups_with_an_exclude(
    engine: str, fleet: Fleet, pg_fleet: Any, mysql_fleet: Any, pg_sql: Any, mysql_sql: Any
) -> None:
    make, server, credential = (
        (pg_fleet, PG, "pg") if engine == "postgresql" else (mysql_fleet, MYSQL, "my")
    )
    names = make(4)
    prefix = names[0].rsplit("_", 1)[0]
    fleet.add_target_group("all")
    fleet.add_member("all", server=server, database_pattern=f"{prefix}_*")
    fleet.add_target_group("all-but-one")
    fleet.add_member("all-but-one", server=server, database_pattern=f"{prefix}_*")
    fleet.add_member("all-but-one", server=server, database=names[0], exclude=True)
    fleet.add_job("two-steps")
    fleet.add_step(
        "two-steps",
        "first",
        command="CREATE TABLE first_step (id int)",
        target_group="all",
        credential=credential,
    )
    fleet.add_step(
        "two-steps",
        "second",
        command="CREATE TABLE second_step (id int)",
        target_group="all-but-one",
        credential=credential,
    )
    late = make(1, prefix=f"{prefix}_late")[0]  # created just before the run

    execution = await fleet.run("two-steps", concurrency=10)

    assert execution.lifecycle is Lifecycle.SUCCEEDED, fleet.list_target_executions(execution.id)
    everyone = [*names, late]
    for database in everyone:
        assert _has_table(engine, pg_sql, mysql_sql, database, "first_step")
        assert _has_table(engine, pg_sql, mysql_sql, database, "second_step") == (
            database != names[0]
        )
    steps = fleet.list_step_executions(execution.id)
    assert [(s.step_name, s.target_counts) for s in steps] == [
        ("first", {"Succeeded": 5}),
        ("second", {"Succeeded": 4}),
    ]


def _has_table(engine: str, pg_sql: Any, mysql_sql: Any, database: str, table: str) -> bool:
    if engine == "postgresql":
        return bool(pg_sql(database, "SELECT 1 FROM pg_tables WHERE tablename = %s", [table]))
    return bool(
        mysql_sql(
            None,
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            [database, table],
        )
    )


async def test_retries_until_success_with_backoff(
    sqlite_fleet_db: Fleet, pg_fleet: Any, pg_sql: Any, poll: Any
) -> None:
    fleet = sqlite_fleet_db
    [database] = pg_fleet(1)
    pg_sql(database, "CREATE SEQUENCE tries")
    fleet.add_target_group("one")
    fleet.add_member("one", server=PG, database=database)
    one_step_job(
        fleet,
        "flaky",
        "one",
        "DO $$ BEGIN IF nextval('tries') < 3 THEN RAISE EXCEPTION 'too early, try again'; END IF; END $$",
        initial_retry_interval_seconds=0.5,
        retry_interval_backoff_multiplier=2.0,
    )
    seen: set[str] = set()
    run = asyncio.create_task(fleet.run("flaky", concurrency=1))

    def waiting() -> bool:
        executions = fleet.list_executions(job="flaky")
        if executions:
            seen.update(_states(fleet, executions[0].id).values())
        return Lifecycle.WAITING_FOR_RETRY.value in seen

    await poll(waiting, within=10, what="a target in WaitingForRetry")
    execution = await run

    assert execution.lifecycle is Lifecycle.SUCCEEDED
    [target] = fleet.list_target_executions(execution.id)
    assert target.current_attempts == 3
    attempts = fleet.list_attempts(target.id)
    assert [a.lifecycle for a in attempts] == [
        Lifecycle.FAILED,
        Lifecycle.FAILED,
        Lifecycle.SUCCEEDED,
    ]
    assert "too early, try again" in (attempts[0].message or "")
    gaps = [
        (b.start_time - a.end_time).total_seconds()
        for a, b in itertools.pairwise(attempts)
        if a.end_time
    ]
    assert gaps[0] >= 0.5 and gaps[1] >= 1.0  # initial, then initial * multiplier
    assert gaps[0] < 3 and gaps[1] < 4


async def test_always_failing_ends_failed_after_all_attempts(
    sqlite_fleet_db: Fleet, pg_fleet: Any
) -> None:
    fleet = sqlite_fleet_db
    [database] = pg_fleet(1)
    fleet.add_target_group("one")
    fleet.add_member("one", server=PG, database=database)
    one_step_job(
        fleet,
        "broken",
        "one",
        "SELECT * FROM no_such_table",
        retry_attempts=2,
        initial_retry_interval_seconds=0.1,
    )

    execution = await fleet.run("broken")

    assert execution.lifecycle is Lifecycle.FAILED
    [target] = fleet.list_target_executions(execution.id)
    assert target.lifecycle is Lifecycle.FAILED
    assert target.current_attempts == 3
    assert 'relation "no_such_table" does not exist' in (target.last_message or "")
    assert len(fleet.list_attempts(target.id)) == 3


async def test_step_timeout_cancels_on_the_server(
    sqlite_fleet_db: Fleet, pg_fleet: Any, pg_sql: Any, poll: Any
) -> None:
    fleet = sqlite_fleet_db
    [database] = pg_fleet(1)
    fleet.add_target_group("one")
    fleet.add_member("one", server=PG, database=database)
    one_step_job(fleet, "slow", "one", "SELECT pg_sleep(60)", step_timeout_seconds=2)

    execution = await fleet.run("slow")

    assert execution.lifecycle is Lifecycle.TIMED_OUT
    [target] = fleet.list_target_executions(execution.id)
    assert target.lifecycle is Lifecycle.TIMED_OUT and target.current_attempts == 1

    def gone() -> bool:
        return not pg_sql(
            "postgres",
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND query LIKE %s",
            [database, "%pg_sleep%"],
        )

    await poll(gone, within=5, what="the sleeping statement to leave pg_stat_activity")


async def test_max_parallelism_per_server(
    sqlite_fleet_db: Fleet, pg_fleet: Any, pg_sql: Any
) -> None:
    fleet = sqlite_fleet_db
    names = pg_fleet(8)
    prefix = names[0].rsplit("_", 1)[0]
    fleet.add_target_group("eight")
    fleet.add_member("eight", server=PG, database_pattern=f"{prefix}_*")
    one_step_job(fleet, "limited", "eight", "SELECT pg_sleep(0.4)", max_parallelism=2)
    run = asyncio.create_task(fleet.run("limited", concurrency=50))
    most = 0
    while not run.done():
        rows = pg_sql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE %s",
            [f"{prefix}_%"],
        )
        most = max(most, rows[0][0])
        await asyncio.sleep(0.02)
    execution = await run
    assert execution.lifecycle is Lifecycle.SUCCEEDED
    assert most == 2  # never more, and the measurement did see the limit reached


@pytest.mark.parametrize("continue_on_failure", [False, True])
async def test_failed_step_stops_later_steps(
    sqlite_fleet_db: Fleet, pg_fleet: Any, pg_sql: Any, continue_on_failure: bool
) -> None:
    fleet = sqlite_fleet_db
    [database] = pg_fleet(1)
    fleet.add_target_group("one")
    fleet.add_member("one", server=PG, database=database)
    fleet.add_job("chain")
    fleet.add_step(
        "chain",
        "fails",
        command="SELECT 1/0",
        target_group="one",
        credential="pg",
        retry_attempts=0,
        continue_on_failure=continue_on_failure,
    )
    fleet.add_step(
        "chain",
        "later",
        command="CREATE TABLE later_ran (id int)",
        target_group="one",
        credential="pg",
    )

    execution = await fleet.run("chain")

    assert execution.lifecycle is Lifecycle.FAILED
    ran = bool(pg_sql(database, "SELECT 1 FROM pg_tables WHERE tablename = 'later_ran'"))
    assert ran == continue_on_failure
    steps = {s.step_name: s.lifecycle for s in fleet.list_step_executions(execution.id)}
    assert steps["fails"] is Lifecycle.FAILED
    assert steps["later"] is (Lifecycle.SUCCEEDED if continue_on_failure else Lifecycle.CANCELED)


async def test_output_table_gets_one_row_per_result_row_per_target(
    sqlite_fleet_db: Fleet, pg_fleet: Any, pg_sql: Any
) -> None:
    fleet = sqlite_fleet_db
    names = pg_fleet(3)
    [results] = pg_fleet(1, prefix=f"{names[0]}_results")
    prefix = names[0].rsplit("_", 1)[0]
    fleet.add_target_group("three")
    fleet.add_member("three", server=PG, database_pattern=f"{prefix}_*")
    fleet.add_member("three", server=PG, database=results, exclude=True)
    one_step_job(
        fleet,
        "collect",
        "three",
        "CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2)\nGO\nSELECT n, 'v' || n AS label FROM t ORDER BY n",
        output=OutputDestination(PG, results, "collected", "pg", "public"),
    )

    execution = await fleet.run("collect")

    assert execution.lifecycle is Lifecycle.SUCCEEDED, fleet.list_target_executions(execution.id)
    rows = pg_sql(
        results,
        "SELECT internal_execution_id, target_server_name, target_database_name, n, label FROM collected ORDER BY target_database_name, n",
    )
    assert rows == [(execution.id, PG, name, n, f"v{n}") for name in names for n in (1, 2)]


async def test_same_step_running_elsewhere_is_skipped(
    sqlite_fleet_db: Fleet, pg_fleet: Any, poll: Any
) -> None:
    fleet = sqlite_fleet_db
    [database] = pg_fleet(1)
    fleet.add_target_group("one")
    fleet.add_member("one", server=PG, database=database)
    one_step_job(fleet, "sleepy", "one", "SELECT pg_sleep(3)")
    first = asyncio.create_task(fleet.run("sleepy"))

    def running() -> bool:
        executions = fleet.list_executions(job="sleepy")
        return bool(executions) and executions[0].target_counts.get("InProgress") == 1

    await poll(running, within=10, what="the first execution to be running")
    second = await fleet.run("sleepy")
    assert second.lifecycle is Lifecycle.SUCCEEDED_WITH_SKIPPED
    assert [t.lifecycle for t in fleet.list_target_executions(second.id)] == [Lifecycle.SKIPPED]
    assert (await first).lifecycle is Lifecycle.SUCCEEDED


async def test_job_executions_view_answers_monitoring_queries(
    fleet: Fleet, job_db: str, pg_fleet: Any
) -> None:
    names = pg_fleet(3)
    prefix = names[0].rsplit("_", 1)[0]
    fleet.add_target_group("three")
    fleet.add_member("three", server=PG, database_pattern=f"{prefix}_*")
    one_step_job(fleet, "monitored", "three", "SELECT 1", retry_attempts=0)
    fleet.add_step(
        "monitored",
        "breaks",
        command="SELECT 1/0",
        target_group="three",
        credential="pg",
        retry_attempts=0,
    )

    execution = await fleet.run("monitored")

    engine = create_engine(job_db.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        by_state = dict(
            conn.execute(
                text(
                    "SELECT lifecycle, count(*) FROM job_executions WHERE job_name = 'monitored' "
                    "AND target_database_name IS NOT NULL GROUP BY lifecycle"
                )
            ).all()
        )
        failed = conn.execute(
            text(
                "SELECT target_database_name, last_message FROM job_executions "
                "WHERE job_execution_id = :id AND step_name = 'breaks' AND lifecycle = 'Failed' "
                "AND target_database_name IS NOT NULL ORDER BY target_database_name"
            ),
            {"id": execution.id},
        ).all()
        job_row = conn.execute(
            text(
                "SELECT lifecycle, is_active FROM job_executions WHERE job_execution_id = :id AND step_id IS NULL"
            ),
            {"id": execution.id},
        ).one()
    engine.dispose()
    assert by_state == {"Succeeded": 3, "Failed": 3}
    assert [r[0] for r in failed] == names
    assert all("division by zero" in r[1] for r in failed)
    assert job_row[0] == "Failed" and not job_row[1]


async def test_stopping_a_run_cancels_it_and_counts_only_started_attempts(
    sqlite_fleet_db: Fleet, pg_fleet: Any, pg_sql: Any, poll: Any
) -> None:
    fleet = sqlite_fleet_db
    names = pg_fleet(6)
    prefix = names[0].rsplit("_", 1)[0]
    fleet.add_target_group("six")
    fleet.add_member("six", server=PG, database_pattern=f"{prefix}_*")
    one_step_job(fleet, "sleepy", "six", "SELECT pg_sleep(60)")
    stop = asyncio.Event()
    # Two connections at a time: the other four targets are claimed and wait for a slot.
    run = asyncio.create_task(fleet.run("sleepy", concurrency=2, stop=stop))

    def sleeping() -> int:
        rows = pg_sql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE %s AND query LIKE %s",
            (f"{prefix}\\_%", "%pg_sleep(60)%"),
        )
        return int(rows[0][0])

    await poll(lambda: sleeping() == 2, within=30, what="two sleeping targets")
    stop.set()
    execution = await asyncio.wait_for(run, 10)
    assert execution.lifecycle is Lifecycle.CANCELED
    assert execution.target_counts == {"Canceled": 6}
    targets = fleet.list_target_executions(execution.id)
    assert sorted(t.current_attempts for t in targets) == [0, 0, 0, 0, 1, 1]
    assert sum(len(fleet.list_attempts(t.id)) for t in targets) == 2
    await poll(lambda: sleeping() == 0, within=5, what="the statements to be canceled")
