"""The job database goes away: agents, `run`, `start --wait` and `web` ride it out.

Each test runs the job database on a PostgreSQL server of its own, restarts it, and stops it
for 20 s while sqlfleet processes work; the targets live on the shared server, untouched.
"""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator

import pytest

from sqlfleet.fleet import Fleet
from sqlfleet.secrets import Secret
from tests.acceptance.conftest import database_fleet
from tests.faults.conftest import PrivateServer, Process
from tests.polling import wait_for

PG = "postgresql://127.0.0.1:5432"
TARGETS = 200
OUTAGE_SECONDS = 20.0


@pytest.fixture(scope="module")
def tenant_databases() -> Iterator[tuple[str, str]]:
    """200 tenant databases on the shared server: (server URL, name pattern)."""
    with database_fleet(TARGETS) as (prefix, _):
        yield PG, f"{prefix}_*"


def define_job(private_pg: PrivateServer, tenants: tuple[str, str], seconds: float) -> str:
    """A job database on the private server with job `slow` over 200 databases; its URL."""
    job_db = private_pg.create_database(f"jobs_{uuid.uuid4().hex[:6]}")
    Fleet.init(job_db)
    server, pattern = tenants
    with Fleet.open(job_db) as fleet:
        fleet.add_credential("admin", "postgres", Secret("trust-auth-needs-none"))
        fleet.add_target_group("tenants")
        fleet.add_member("tenants", server=server, database_pattern=pattern)
        step = {
            "command": f"SELECT pg_sleep({seconds})",
            "target_group": "tenants",
            "credential": "admin",
            "retry_attempts": 0,
        }
        fleet.add_job("slow", steps=[("sleep", step)])
    return job_db


def succeeded(job_db: str) -> int:
    """How many targets of the newest execution Succeeded (0 while the database is away)."""
    try:
        with Fleet.open(job_db) as fleet:
            executions = fleet.list_executions(count=1)
            return executions[0].target_counts.get("Succeeded", 0) if executions else 0
    except Exception:
        return 0


def outage(private_pg: PrivateServer, during: Callable[[], None] = lambda: None) -> None:
    """Restart the job database's server, then stop it for 20 s, calling `during` meanwhile."""
    private_pg.restart()
    private_pg.stop()
    back_at = time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < back_at:
        during()
        time.sleep(0.2)  # the outage lasts 20 s by design: this paces the calls made during it
    private_pg.start()


def assert_no_traceback(*processes: Process) -> None:
    for process in processes:
        for text in (process.stdout, process.stderr):
            assert "Traceback" not in text, f"{process.label}:\n{text}"
            assert "Future exception was never retrieved" not in text, f"{process.label}:\n{text}"


def get(url: str) -> tuple[int, dict[str, str], str]:
    """Status, headers and body of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return (
                answer.status,
                {k.lower(): v for k, v in answer.headers.items()},
                answer.read().decode(),
            )
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode()


def test_agent_start_wait_and_web_ride_out_a_restart_and_an_outage(
    private_pg: PrivateServer,
    tenant_databases: tuple[str, str],
    processes: Callable[..., Process],
) -> None:
    job_db = define_job(private_pg, tenant_databases, 0.5)
    agent = processes("agent", "--job-db", job_db, "agent", "--name", "a1", "--concurrency", "10")
    web = processes("web", "--job-db", job_db, "web", "--port", "0")
    found = wait_for(
        lambda: re.search(r"http://127\.0\.0\.1:(\d+)/", web.stdout), within=30, what="web"
    )
    assert isinstance(found, re.Match)
    base = found.group(0)
    assert get(base + "api/v1/jobs")[0] == 200
    waiting = processes("start", "--job-db", job_db, "start", "slow", "--wait")
    wait_for(lambda: succeeded(job_db) >= 10, within=30, what="the first targets to succeed")

    answers: list[tuple[int, dict[str, str], str]] = []
    outage(private_pg, during=lambda: answers.append(get(base + "api/v1/jobs")))

    assert waiting.wait(timeout=120) == 0, waiting.stderr
    unavailable = [a for a in answers if a[0] == 503]
    assert len(unavailable) >= 20, [a[0] for a in answers]
    assert all(a[0] == 503 for a in answers[len(answers) // 4 :]), [a[0] for a in answers]
    _, headers, body = unavailable[-1]
    assert headers.get("retry-after") == "5"
    assert json.loads(body)["error"]["type"] == "JobDatabaseUnavailable"
    assert get(base + "api/v1/jobs")[0] == 200
    page = urllib.request.Request(base, headers={"Accept": "text/html"})
    with urllib.request.urlopen(page, timeout=10) as answer:
        assert answer.status == 200

    with Fleet.open(job_db) as fleet:
        (execution,) = fleet.list_executions()
    assert execution.lifecycle.value == "Succeeded"
    assert execution.target_counts == {"Succeeded": TARGETS}
    assert "Succeeded (200 Succeeded)" in waiting.stdout
    for process in (agent, web):
        process.process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, process.stderr
    assert_no_traceback(agent, web, waiting)
    assert "retrying until it is back" in agent.stderr
    assert "is back after" in agent.stderr
    # Said once per outage, not once per failed call.
    assert agent.stderr.count("retrying until it is back") <= 2, agent.stderr


def test_run_rides_out_a_restart_and_an_outage(
    private_pg: PrivateServer,
    tenant_databases: tuple[str, str],
    processes: Callable[..., Process],
) -> None:
    job_db = define_job(private_pg, tenant_databases, 0.5)
    run = processes("run", "--job-db", job_db, "run", "slow", "--concurrency", "10")
    wait_for(lambda: succeeded(job_db) >= 10, within=30, what="the first targets to succeed")
    outage(private_pg)
    assert run.wait(timeout=120) == 0, run.stderr
    assert "Succeeded (200 Succeeded)" in run.stdout
    assert_no_traceback(run)
    assert run.stderr.count("retrying until it is back") <= 2, run.stderr


def test_an_agent_told_to_stop_while_the_job_database_is_away_drains_and_exits(
    private_pg: PrivateServer,
    tenant_databases: tuple[str, str],
    processes: Callable[..., Process],
) -> None:
    job_db = define_job(private_pg, tenant_databases, 0.5)
    agent = processes("agent", "--job-db", job_db, "agent", "--name", "a1", "--grace-period", "1")
    wait_for(lambda: "running on" in agent.stderr, within=30, what="the agent to start")
    private_pg.stop()
    agent.process.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=40) == 0, agent.stderr
    assert_no_traceback(agent)
    assert "could not sign off" in agent.stderr
    assert "stopped" in agent.stderr
