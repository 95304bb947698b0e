"""Agents as users run them: several on one PostgreSQL job database, crashes, stop, SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.schedule import Schedule
from sqlfleet.secrets import Secret
from sqlfleet.store import JobStore, open_engine
from tests.acceptance.conftest import count_rows
from tests.polling import wait_for_async as _until

pytestmark = pytest.mark.timeout(240)
PG = "postgresql://127.0.0.1:5432"
FAST = ("--lease-seconds", "3", "--concurrency", "10")


@pytest.fixture
def pg_fleet_db(pg_job_db: str) -> Iterator[Fleet]:
    Fleet.init(pg_job_db)
    with Fleet.open(pg_job_db) as fleet:
        fleet.add_credential("pg", "postgres", Secret("trust"))
        yield fleet


def _define(fleet: Fleet, job: str, prefix: str, command: str) -> None:
    if job + "-group" not in [g.name for g in fleet.list_target_groups()]:
        fleet.add_target_group(job + "-group")
        fleet.add_member(job + "-group", server=PG, database_pattern=f"{prefix}_*")
    fleet.add_job(job)
    fleet.add_step(
        job,
        "main",
        command=command,
        target_group=job + "-group",
        credential="pg",
        initial_retry_interval_seconds=0.2,
    )


def _attempt_agents(job_db: str, execution_id: int) -> dict[str, list[str]]:
    """Per target database, the agents of its attempts, in order."""
    engine = open_engine(job_db)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT te.target_database_name, a.agent_name FROM attempt a "
                "JOIN target_execution te ON te.id = a.target_execution_id "
                "WHERE te.job_execution_id = :id ORDER BY a.id"
            ),
            {"id": execution_id},
        ).all()
    engine.dispose()
    agents: dict[str, list[str]] = {}
    for database, agent in rows:
        agents.setdefault(database, []).append(agent)
    return agents


async def test_three_agents_share_300_databases(
    pg_fleet_db: Fleet, pg_job_db: str, big_fleet: tuple[str, list[str]], agents: Any
) -> None:
    prefix, names = big_fleet
    fleet = pg_fleet_db
    _define(
        fleet,
        "count",
        prefix,
        "CREATE TABLE IF NOT EXISTS counter (at timestamptz DEFAULT now());"
        " INSERT INTO counter DEFAULT VALUES",
    )
    for name in ("a", "b", "c"):
        agents(pg_job_db, name, *FAST)
    execution = fleet.create_execution("count")

    done = await _until(
        lambda: fleet.get_execution(execution.id).lifecycle.is_terminal, 120, "the execution to end"
    )
    assert done
    ended = fleet.get_execution(execution.id)
    assert ended.lifecycle is Lifecycle.SUCCEEDED, ended
    assert ended.target_counts == {"Succeeded": 300}
    assert set(count_rows(names, "counter").values()) == {1}
    by_target = _attempt_agents(pg_job_db, execution.id)
    assert len(by_target) == 300 and all(len(a) == 1 for a in by_target.values())
    assert len(Counter(a[0] for a in by_target.values())) >= 2  # the work really was shared


async def test_a_killed_agent_loses_nothing(
    pg_fleet_db: Fleet, pg_job_db: str, big_fleet: tuple[str, list[str]], agents: Any
) -> None:
    prefix, names = big_fleet
    fleet = pg_fleet_db
    # The row is inserted and committed before the sleep: a target cut short by the kill has
    # its row already, and runs again on another agent.
    _define(
        fleet,
        "count2",
        prefix,
        "CREATE TABLE IF NOT EXISTS counter2 (at timestamptz DEFAULT now());"
        " INSERT INTO counter2 DEFAULT VALUES\nGO\nSELECT pg_sleep(0.3)",
    )
    victim = agents(pg_job_db, "victim", *FAST)
    agents(pg_job_db, "survivor1", *FAST)
    agents(pg_job_db, "survivor2", *FAST)
    execution = fleet.create_execution("count2")

    def victim_busy() -> bool:
        # Mid-run: some targets done, and the victim holding targets that are running.
        done = fleet.get_execution(execution.id).target_counts.get("Succeeded", 0)
        return done >= 40 and any(
            t.agent_name == "victim"
            for t in fleet.list_target_executions(execution.id, lifecycle=["InProgress"])
        )

    await _until(victim_busy, 60, "the victim agent to be mid-run")
    victim.signal(signal.SIGKILL)
    await _until(
        lambda: fleet.get_execution(execution.id).lifecycle.is_terminal, 120, "the execution to end"
    )

    ended = fleet.get_execution(execution.id)
    assert ended.lifecycle is Lifecycle.SUCCEEDED and ended.target_counts == {"Succeeded": 300}
    rows = count_rows(names, "counter2")
    by_target = _attempt_agents(pg_job_db, execution.id)
    taken_over = {db for db, a in by_target.items() if len(a) == 2 and a[0] == "victim"}
    assert taken_over, "the victim had targets in flight"
    assert all(len(a) == 1 for db, a in by_target.items() if db not in taken_over)
    assert all(rows[db] == 1 for db in names if db not in taken_over)
    assert all(rows[db] in (1, 2) for db in taken_over)
    assert any(rows[db] == 2 for db in taken_over)


def test_schedule_fires_once_per_minute_with_two_agents(pg_fleet_db: Fleet, pg_job_db: str) -> None:
    fleet = pg_fleet_db
    fleet.add_target_group("nothing")
    start = datetime(2026, 11, 21, 9, 0, 30, tzinfo=UTC)
    fleet.add_job(
        "minutely",
        enabled=True,
        schedule=Schedule.parse("every 1 minute", start_time=start - timedelta(hours=1)),
    )
    fleet.add_step("minutely", "s", command="SELECT 1", target_group="nothing", credential="pg")
    stores = [JobStore(open_engine(pg_job_db)) for _ in range(2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            for second in range(0, 5 * 60, 5):  # five minutes, both agents every 5 seconds
                now = start + timedelta(seconds=second)
                list(pool.map(lambda s, now=now: s.fire_due_schedules(now=now), stores))
    finally:
        for store in stores:
            store.close()
    executions = fleet.list_executions(job="minutely")
    engine = open_engine(pg_job_db)
    with engine.connect() as conn:
        times = (
            conn.execute(text("SELECT scheduled_time FROM job_execution ORDER BY scheduled_time"))
            .scalars()
            .all()
        )
    engine.dispose()
    # Fire times count from the start time (08:00:30): the earlier ones coalesce into the
    # first, and then one a minute for the five minutes the agents ran.
    assert len(executions) == 5
    assert [t.astimezone(UTC).strftime("%H:%M:%S") for t in times] == [
        f"09:0{m}:30" for m in range(5)
    ]


async def test_stop_cancels_running_statements_within_two_seconds(
    pg_fleet_db: Fleet, pg_job_db: str, agents: Any, pg_fleet: Any
) -> None:
    names = pg_fleet(20)
    prefix = names[0].rsplit("_", 1)[0]
    fleet = pg_fleet_db
    _define(fleet, "sleepy", prefix, "SELECT pg_sleep(60)")
    agents(pg_job_db, "worker", "--concurrency", "25")
    execution = fleet.create_execution("sleepy")

    def sleeping() -> int:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres") as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE %s AND query LIKE %s",
                [f"{prefix}_%", "%pg_sleep(60)%"],
            ).fetchone()
            return int(row[0]) if row else 0

    await _until(lambda: sleeping() == 20, 30, "20 sleeping sessions")
    stopped = subprocess.run(  # noqa: ASYNC221 -- the user's `sqlfleet stop`, while the agent runs
        [sys.executable, "-m", "sqlfleet", "--job-db", pg_job_db, "stop", str(execution.id)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert stopped.returncode == 0, stopped.stderr
    await _until(lambda: sleeping() == 0, 2.0, "no sleeping session 2 seconds after stop")
    await _until(
        lambda: not fleet.get_execution(execution.id).target_counts.get("InProgress"),
        10,
        "targets to end",
    )
    ended = fleet.get_execution(execution.id)
    assert ended.lifecycle is Lifecycle.CANCELED
    assert ended.target_counts == {"Canceled": 20}


async def test_second_agent_on_sqlite_is_refused(sqlite_job_db: str, agents: Any) -> None:
    Fleet.init(sqlite_job_db)
    first = agents(sqlite_job_db, "first")
    store = JobStore(open_engine(sqlite_job_db))
    try:
        await _until(
            lambda: store.list_agents() or first.process.poll() is not None, 30, "the first agent"
        )
        assert [a.name for a in store.list_agents()] == ["first"], first.output()
    finally:
        store.close()
    second = agents(sqlite_job_db, "second")
    assert second.wait(timeout=30) != 0
    assert "takes one agent at a time" in second.output()
    assert first.process.poll() is None


async def test_sigterm_hands_the_run_to_another_agent(
    pg_fleet_db: Fleet, pg_job_db: str, agents: Any, pg_fleet: Any
) -> None:
    names = pg_fleet(30)
    prefix = names[0].rsplit("_", 1)[0]
    fleet = pg_fleet_db
    _define(fleet, "handover", prefix, "SELECT pg_sleep(0.5)")
    leaving = agents(pg_job_db, "leaving", "--concurrency", "5", "--grace-period", "0")
    execution = fleet.create_execution("handover")
    await _until(
        lambda: fleet.get_execution(execution.id).target_counts.get("InProgress"),
        30,
        "the run to start",
    )
    staying = agents(pg_job_db, "staying", "--concurrency", "5")
    leaving.signal(signal.SIGTERM)
    assert leaving.wait(timeout=30) == 0, leaving.output()
    await _until(
        lambda: fleet.get_execution(execution.id).lifecycle.is_terminal, 60, "the execution to end"
    )
    ended = fleet.get_execution(execution.id)
    assert ended.lifecycle is Lifecycle.SUCCEEDED and ended.target_counts == {"Succeeded": 30}
    assert staying.process.poll() is None
    assert [a.name for a in fleet.store.list_agents()] == ["staying"]
    assert "stopped" in leaving.output()
