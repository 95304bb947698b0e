"""Interrupts and kills of real `sqlfleet` processes: nothing stays stuck, records stay honest."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.secrets import Secret
from tests.polling import wait_for_async as _until

pytestmark = pytest.mark.timeout(240)
PG = "postgresql://127.0.0.1:5432"
LEASE = 3  # seconds: short, so that a dead holder's targets come back soon
MARGIN = 5  # seconds past a lease that finding and ending a target may take
MAY_HAVE_COMPLETED = "stopped answering; the attempt may have completed"


@pytest.fixture(params=["sqlite", "postgresql"])
def job_db_url(request: pytest.FixtureRequest) -> str:
    """A job database, on SQLite (what `run` uses by default) or PostgreSQL."""
    url: str = request.getfixturevalue(
        "sqlite_job_db" if request.param == "sqlite" else "pg_job_db"
    )
    return url


def _open(job_db: str, prefix: str, command: str) -> Fleet:
    """A fleet on `job_db` with job `sleepy`: one step, on the databases named `prefix_*`."""
    Fleet.init(job_db)
    fleet = Fleet.open(job_db)
    fleet.add_credential("pg", "postgres", Secret("trust"))
    fleet.add_target_group("tenants")
    fleet.add_member("tenants", server=PG, database_pattern=f"{prefix}_*")
    fleet.add_job("sleepy")
    fleet.add_step(
        "sleepy",
        "main",
        command=command,
        target_group="tenants",
        credential="pg",
        initial_retry_interval_seconds=0.2,
    )
    return fleet


@pytest.fixture
def processes() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Factory: `processes(job_db, *args)` runs `sqlfleet`; all are killed afterwards."""
    started: list[subprocess.Popen[str]] = []

    def start(job_db: str, *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "sqlfleet", "--job-db", job_db, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def _sleeping(prefix: str, seconds: str) -> int:
    """Sessions on the test's databases running `pg_sleep(<seconds>)` right now."""
    with psycopg.connect(f"{PG.replace('//', '//postgres@')}/postgres") as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE %s AND query LIKE %s"
            " AND pid <> pg_backend_pid()",
            [f"{prefix}\\_%", f"%pg_sleep({seconds})%"],
        ).fetchone()
        return int(row[0]) if row else 0


def _sqlfleet(job_db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sqlfleet", "--job-db", job_db, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _stuck(fleet: Fleet, execution_id: int) -> int:
    return fleet.get_execution(execution_id).target_counts.get("InProgress", 0)


def _latest(fleet: Fleet) -> int:
    return fleet.list_executions(job="sleepy", count=1)[0].id


async def test_ctrl_c_on_run_cancels_every_target_on_the_server(
    job_db_url: str, pg_fleet: Any, processes: Any
) -> None:
    names = pg_fleet(50)
    prefix = names[0].rsplit("_", 1)[0]
    fleet = _open(job_db_url, prefix, "SELECT pg_sleep(60)")
    try:
        run = processes(job_db_url, "run", "sleepy")
        await _until(lambda: _sleeping(prefix, "60") == 50, 60, "50 sleeping sessions")
        interrupted_at = time.monotonic()
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=30)
        assert run.returncode == 130, stderr
        assert time.monotonic() - interrupted_at < 3.0
        execution = fleet.get_execution(_latest(fleet))
        assert execution.lifecycle is Lifecycle.CANCELED
        assert execution.target_counts == {"Canceled": 50}
        await _until(lambda: _sleeping(prefix, "60") == 0, 3.0, "no sleeping session")
        assert stderr.strip().splitlines()[-1] == f"interrupted: execution {execution.id} canceled"
        assert "Traceback" not in stderr and "never retrieved" not in stderr, stderr
        targets = fleet.list_target_executions(execution.id)
        attempts = [a for t in targets for a in fleet.list_attempts(t.id)]
        assert len(attempts) == 50 and {a.lifecycle for a in attempts} == {Lifecycle.CANCELED}
    finally:
        fleet.close()


async def test_killed_runs_and_agents_leave_nothing_stuck(
    pg_job_db: str, pg_fleet: Any, processes: Any
) -> None:
    names = pg_fleet(20)
    prefix = names[0].rsplit("_", 1)[0]
    fleet = _open(pg_job_db, prefix, "SELECT pg_sleep(60)")
    fast = ("--lease-seconds", str(LEASE), "--concurrency", "25")
    try:
        # 1. `run` killed mid-sleep, then stopped while its leases still look alive.
        run = processes(pg_job_db, "run", "sleepy", "--lease-seconds", str(LEASE))
        await _until(lambda: _sleeping(prefix, "60") == 20, 60, "20 sleeping sessions")
        first = _latest(fleet)
        run.kill()
        run.communicate(timeout=10)
        stopped = _sqlfleet(pg_job_db, "stop", str(first))
        assert stopped.returncode == 0, stopped.stderr
        # The run was killed on this host: the stop ends its targets at once.
        assert fleet.get_execution(first).target_counts == {"Canceled": 20}
        messages = {t.last_message for t in fleet.list_target_executions(first)}
        assert all(m and MAY_HAVE_COMPLETED in m for m in messages), messages

        # 2. A `run` that stops answering (frozen, or on a machine that died) is stopped: an
        # agent that comes along ends its targets once their lease has run out.
        # (A longer lease: `sqlfleet stop` must come before it runs out.)
        frozen = processes(pg_job_db, "run", "sleepy", "--lease-seconds", str(2 * LEASE))
        await _until(
            lambda: _latest(fleet) != first and _stuck(fleet, _latest(fleet)) == 20, 60, "a run"
        )
        second = _latest(fleet)
        frozen.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        stopped = _sqlfleet(pg_job_db, "stop", str(second))
        assert stopped.returncode == 0, stopped.stderr
        assert _stuck(fleet, second) == 20  # it is alive: its leases are its own until they end
        agent = processes(pg_job_db, "agent", "--name", "w", *fast)
        within = 2 * LEASE + MARGIN
        await _until(lambda: _stuck(fleet, second) == 0, within, "the frozen run's targets")
        assert time.monotonic() - frozen_at < within
        assert fleet.get_execution(second).target_counts == {"Canceled": 20}
        frozen.kill()

        # 3. An agent killed mid-sleep and restarted under its name hands its targets over.
        third = fleet.create_execution("sleepy").id
        await _until(
            lambda: fleet.get_execution(third).target_counts == {"InProgress": 20},
            30,
            "the agent to run the third execution",
        )
        agent.kill()
        agent.communicate(timeout=10)
        agent = processes(pg_job_db, "agent", "--name", "w", *fast)

        def taken_over() -> bool:
            targets = fleet.list_target_executions(third)
            return all(t.current_attempts == 2 and t.agent_name == "w" for t in targets)

        await _until(taken_over, 30, "the restarted agent to take its targets over")
        stopped = _sqlfleet(pg_job_db, "stop", str(third))
        assert stopped.returncode == 0, stopped.stderr
        await _until(lambda: _stuck(fleet, third) == 0, LEASE + MARGIN, "the stop to end them")
        assert fleet.get_execution(third).target_counts == {"Canceled": 20}

        # 4. A new execution of the job runs on every database: none is Skipped.
        fleet.update_step("sleepy", "main", command="SELECT 1")
        fourth = fleet.create_execution("sleepy").id
        await _until(
            lambda: fleet.get_execution(fourth).lifecycle.is_terminal, 60, "the fourth execution"
        )
        assert fleet.get_execution(fourth).target_counts == {"Succeeded": 20}
        assert agent.poll() is None
    finally:
        fleet.close()


async def test_resume_finishes_what_a_killed_run_left(
    pg_job_db: str, pg_fleet: Any, processes: Any
) -> None:
    names = pg_fleet(10)
    prefix = names[0].rsplit("_", 1)[0]
    fleet = _open(pg_job_db, prefix, "SELECT pg_sleep(1.5)")
    try:
        run = processes(pg_job_db, "run", "sleepy")  # the default lease: a minute
        await _until(lambda: _sleeping(prefix, "1.5") == 10, 60, "10 sleeping sessions")
        execution_id = _latest(fleet)
        run.kill()
        run.communicate(timeout=10)
        resumed = _sqlfleet(pg_job_db, "execution", "resume", str(execution_id))
        assert resumed.returncode == 0, resumed.stderr
        execution = fleet.get_execution(execution_id)
        assert execution.lifecycle is Lifecycle.SUCCEEDED
        assert execution.target_counts == {"Succeeded": 10}
        for target in fleet.list_target_executions(execution_id):
            attempts = fleet.list_attempts(target.id)
            assert [a.attempt_number for a in attempts] == [1, 2]
            assert attempts[0].message and MAY_HAVE_COMPLETED in attempts[0].message
        again = _sqlfleet(pg_job_db, "execution", "resume", str(execution_id))
        assert again.returncode == 2
        assert "already ended Succeeded" in again.stderr
    finally:
        fleet.close()


async def test_ctrl_c_on_start_wait_stops_the_execution(
    pg_job_db: str, pg_fleet: Any, processes: Any
) -> None:
    names = pg_fleet(10)
    prefix = names[0].rsplit("_", 1)[0]
    fleet = _open(pg_job_db, prefix, "SELECT pg_sleep(60)")
    try:
        processes(pg_job_db, "agent", "--name", "w", "--lease-seconds", str(LEASE))
        waiting = processes(pg_job_db, "start", "sleepy", "--wait")
        await _until(lambda: _sleeping(prefix, "60") == 10, 60, "10 sleeping sessions")
        execution_id = _latest(fleet)
        # The agent runs it: resuming it elsewhere is refused, naming the agent.
        refused = _sqlfleet(pg_job_db, "execution", "resume", str(execution_id))
        assert refused.returncode == 2
        assert f"execution {execution_id} is still being run by agent 'w'" in refused.stderr
        waiting.send_signal(signal.SIGINT)
        _, stderr = waiting.communicate(timeout=30)
        assert waiting.returncode == 130, stderr
        assert stderr.strip().splitlines()[-1] == f"interrupted: execution {execution_id} canceled"
        assert "Traceback" not in stderr
        assert fleet.get_execution(execution_id).target_counts == {"Canceled": 10}
        await _until(lambda: _sleeping(prefix, "60") == 0, 3.0, "no sleeping session")
    finally:
        fleet.close()
