"""A job database holding a million target executions: what the pages ask is found by index.

The executions list, a job's page (of a job that ran long ago, behind twenty thousand newer
executions of another), the job list and an execution's live update must cost in
proportion to what they show, not to the history behind it. The history is written in
bulk by SQL on each engine, then analyzed; every statement the app sends while serving
those pages is then explained, and none may read a history table from end to end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from sqlfleet.api import AgentLauncher, create_app
from sqlfleet.fleet import Fleet
from sqlfleet.model import Target
from sqlfleet.secrets import KEY_ENV, Secret
from tests.api.conftest import PG
from tests.api.test_security import HTML
from tests.conftest import pg_admin
from tests.statements import recorded

EXECUTIONS = 20_000
TARGETS_EACH = 50  # 20,000 executions of 50 targets: a million target executions
HISTORY_TABLES = ("target_execution", "job_execution", "step_execution", "attempt")
FULL_SCAN = re.compile(
    r"\bSCAN (?P<sqlite>\w+)(?! USING)|Seq Scan on (?P<postgresql>\w+)", re.IGNORECASE
)


def _executions_of(fleet: Fleet, job: str, targets: int) -> int:
    """One execution of `job` with `targets` Created targets, made as an agent makes them."""
    execution = fleet.create_execution(job)
    now = datetime.now(UTC)
    step = fleet.store.claim_step_start(
        "builder", now=now, lease=timedelta(minutes=5), job_execution_id=execution.id
    )
    assert step is not None
    fleet.store.add_targets(
        step, "builder", [Target(PG, f"tenant_{i:05d}") for i in range(targets)], now=now
    )
    return execution.id


def _numbers(engine: Engine, count: int) -> tuple[str, str]:
    """A WITH prefix and a FROM item giving `i` = 1..count, and a time `i` seconds in."""
    if engine.dialect.name == "sqlite":
        return (
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) ",
            "n",
        )
    return "", f"generate_series(1, {count}) AS n(i)"


def _moment(engine: Engine, seconds: str) -> str:
    if engine.dialect.name == "sqlite":
        return f"datetime('2025-01-01', '+' || ({seconds}) || ' seconds')"
    return f"(timestamptz '2025-01-01 00:00:00+00' + ({seconds}) * interval '1 second')"


def _fill(fleet: Fleet) -> None:
    """EXECUTIONS ended executions of job `busy`, TARGETS_EACH targets each, by SQL in bulk."""
    engine = fleet.store.engine
    with engine.begin() as conn:
        job_id = conn.exec_driver_sql("SELECT id FROM job WHERE name = 'busy'").scalar_one()
        base = conn.exec_driver_sql("SELECT max(id) FROM job_execution").scalar_one()
        step_base = conn.exec_driver_sql("SELECT max(id) FROM step_execution").scalar_one()
        target_base = conn.exec_driver_sql("SELECT max(id) FROM target_execution").scalar_one()
        with_, numbers = _numbers(engine, EXECUTIONS)
        at = _moment(engine, "i * 60")
        state = "CASE WHEN mod(i, 10) = 0 THEN 'Failed' ELSE 'Succeeded' END"
        conn.exec_driver_sql(
            f"{with_}INSERT INTO job_execution (id, job_id, job_version, lifecycle, trigger, "
            "cancel_requested, create_time, start_time, end_time, trial) "
            f"SELECT {base} + i, {job_id}, 1, {state}, 'schedule', false, {at}, {at}, {at}, "
            f"false FROM {numbers}"
        )
        conn.exec_driver_sql(
            f"{with_}INSERT INTO step_execution (id, job_execution_id, step_id, step_name, "
            "target_group_name, lifecycle, create_time, start_time, end_time) "
            f"SELECT {step_base} + i, {base} + i, 1, 'main', 'g', {state}, {at}, {at}, {at} "
            f"FROM {numbers}"
        )
        with_, numbers = _numbers(engine, EXECUTIONS * TARGETS_EACH)
        owner = f"(i - 1) / {TARGETS_EACH} + 1"
        at = _moment(engine, f"({owner}) * 60")
        state = "CASE WHEN mod(i, 97) = 0 THEN 'Failed' ELSE 'Succeeded' END"
        conn.exec_driver_sql(
            f"{with_}INSERT INTO target_execution (id, job_execution_id, step_execution_id, "
            "job_id, step_id, target_type, target_server_name, target_database_name, "
            "lifecycle, create_time, start_time, end_time, current_attempts, updated_at) "
            f"SELECT {target_base} + i, {base} + {owner}, {step_base} + {owner}, {job_id}, 1, "
            f"'database', '{PG}', 'tenant_' || mod(i, {TARGETS_EACH}), {state}, {at}, {at}, "
            f"{at}, 1, {at} FROM {numbers}"
        )
        # Ended with all their targets: each keeps its counts, as the agent that ended it
        # stored them.
        as_object = (
            "json_group_object(lifecycle, n)"
            if engine.dialect.name == "sqlite"
            else "json_object_agg(lifecycle, n)::text"
        )
        conn.exec_driver_sql(
            f"UPDATE job_execution SET target_counts = (SELECT {as_object} FROM "
            "(SELECT lifecycle, count(*) AS n FROM target_execution "
            "WHERE job_execution_id = job_execution.id GROUP BY lifecycle) AS states) "
            f"WHERE id > {base}"
        )
        if engine.dialect.name == "postgresql":
            for table in ("job_execution", "step_execution", "target_execution"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def history(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Fleet, dict[str, int]]]:
    """An app on a job database holding a million target executions, and executions to view."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, Fernet.generate_key().decode())
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('history') / 'jobs.db'}"
            name = None
        else:
            template = request.getfixturevalue("pg_job_db_template")
            name = f"sqlfleet_test_history_{id(request):x}"
            with pg_admin() as admin:
                admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
            url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        Fleet.init(url)
        try:
            with Fleet.open(url) as fleet:
                fleet.add_credential("pg", "postgres", Secret("unused"))
                fleet.add_target_group("g")
                fleet.add_member("g", server=PG, database_pattern="tenant_*")
                step = {"command": "SELECT 1", "target_group": "g", "credential": "pg"}
                for job in ("quiet", "busy", "watched"):
                    fleet.add_job(job, steps=[("main", step)])
                # The quiet job ran once, long ago: twenty thousand executions came after it.
                seen = {"quiet": _executions_of(fleet, "quiet", 5)}
                _executions_of(fleet, "busy", 5)
                _fill(fleet)
                seen["watched"] = _executions_of(fleet, "watched", 500)
                app = create_app(fleet, token=None, launcher=AgentLauncher())
                with TestClient(app, base_url="http://127.0.0.1") as client:
                    yield client, fleet, seen
        finally:
            if name is not None:
                with pg_admin() as admin:
                    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _statements_of(fleet: Fleet, client: TestClient, paths: list[str]) -> list[tuple[str, Any]]:
    """The SELECT statements the app sends to the job database while serving `paths`."""
    with recorded(fleet.store.engine, "SELECT") as seen:
        for path in paths:
            response = client.get(path, headers=HTML if "api" not in path else {})
            assert response.status_code == 200, f"{path}: {response.text[:300]}"
    return seen


def _full_scans(engine: Engine, statements: list[tuple[str, Any]]) -> list[str]:
    """Each statement that reads a history table from end to end, with its plan."""
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    found = []
    with engine.connect() as conn:
        for sql, params in statements:
            plan = "\n".join(str(row) for row in conn.exec_driver_sql(explain + sql, params))
            for match in FULL_SCAN.finditer(plan):
                table = (match.group("sqlite") or match.group("postgresql") or "").lower()
                if table in HISTORY_TABLES and not _newest_first(sql, table):
                    found.append(f"{sql}\n{plan}")
    return found


def _newest_first(sql: str, table: str) -> bool:
    """Whether `sql` reads `table` unfiltered in primary-key order up to a LIMIT: SQLite says
    SCAN for that walk down its table's own b-tree, which stops after LIMIT rows."""
    unfiltered = re.search(r"\bWHERE\b", sql) is None
    return unfiltered and re.search(rf"ORDER BY {table}\.id DESC\s+LIMIT", sql) is not None


def test_the_history_is_a_million_target_executions(
    history: tuple[TestClient, Fleet, dict[str, int]],
) -> None:
    _, fleet, _ = history
    with fleet.store.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT count(*) FROM target_execution").scalar_one()
    assert stored >= EXECUTIONS * TARGETS_EACH


@pytest.mark.parametrize(
    "paths",
    [
        pytest.param(["/executions", "/api/v1/executions?limit=100"], id="executions list"),
        pytest.param(
            ["/executions?active=true", "/api/v1/executions?active=true"], id="running ones"
        ),
        pytest.param(
            ["/executions?state=Failed", "/api/v1/executions?lifecycle=Failed&offset=100"],
            id="in one state",
        ),
        pytest.param(["/jobs/quiet", "/api/v1/executions?job=quiet&limit=50"], id="a job's page"),
        pytest.param(["/jobs", "/api/v1/jobs"], id="job list"),
        pytest.param(["live"], id="live update"),
    ],
)
def test_pages_are_answered_from_indexes(
    history: tuple[TestClient, Fleet, dict[str, int]], paths: list[str]
) -> None:
    client, fleet, seen = history
    if paths == ["live"]:
        watched = seen["watched"]
        since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
        paths = [
            f"/executions/{watched}/live.json?since={since}",
            f"/api/v1/executions/{watched}/targets?since={since}&limit=100",
            f"/executions/{watched}",
        ]
    statements = _statements_of(fleet, client, [p.replace("+", "%2B") for p in paths])
    assert any(re.search(r"\b(job_execution|target_execution)\b", sql) for sql, _ in statements), (
        statements
    )
    scans = _full_scans(fleet.store.engine, statements)
    assert not scans, "\n\n".join(scans)


def test_an_idle_agents_polling_is_answered_from_indexes(
    history: tuple[TestClient, Fleet, dict[str, int]],
) -> None:
    """What an agent asks every second with nothing to do costs nothing per past execution."""
    _, fleet, _ = history
    store, engine = fleet.store, fleet.store.engine
    now = datetime.now(UTC)
    with recorded(engine, "SELECT|UPDATE|DELETE") as seen:
        store.claim_step_start("idle", now=now, lease=timedelta(minutes=1))
        store.claim_targets("idle", 10, now=now - timedelta(days=3650), lease=timedelta(1))
        store.canceled_running_targets("idle")
        store.extend_leases("idle", until=now + timedelta(minutes=1))
        store.fire_due_schedules(now=now)
    assert len(seen) >= 5, seen
    scans = _full_scans(engine, seen)
    assert not scans, "\n\n".join(scans)


def test_a_full_scan_is_seen(history: tuple[TestClient, Fleet, dict[str, int]]) -> None:
    """The check above would catch a statement that reads a history table whole."""
    _, fleet, _ = history
    unindexed = "SELECT id FROM target_execution WHERE last_message = 'x'"
    assert _full_scans(fleet.store.engine, [(unindexed, {})])
