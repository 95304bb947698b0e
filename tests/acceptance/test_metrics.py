"""Prometheus metrics of a real agent and of the web server, checked against the job database."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from sqlfleet.api import create_app
from sqlfleet.api.launcher import AgentLauncher
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.secrets import Secret
from tests.polling import wait_for

PG = "postgresql://127.0.0.1:5432"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample, by name and sorted labels, read with Prometheus' own text parser."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain")
        return parse(answer.read().decode())


@pytest.fixture
def fleet(pg_job_db: str, pg_fleet: Callable[..., list[str]]) -> Any:
    Fleet.init(pg_job_db)
    ok, failing = pg_fleet(8, "metrics_ok"), pg_fleet(3, "metrics_fail")
    with Fleet.open(pg_job_db) as opened:
        opened.add_credential("pg", "postgres", Secret("trust"))
        for name, databases in (("ok", ok), ("fail", failing)):
            opened.add_target_group(name)
            for database in databases:
                opened.add_member(name, server=PG, database=database)
        opened.add_job(
            "slow",
            steps=[("sleep", {"command": "SELECT pg_sleep(0.5)", "target_group": "ok",
                              "credential": "pg"})],
        )  # fmt: skip
        opened.add_job(
            "broken",
            steps=[
                (
                    "divide",
                    {
                        "command": "SELECT 1/0",
                        "target_group": "fail",
                        "credential": "pg",
                        "retry_attempts": 1,
                        "initial_retry_interval_seconds": 0.1,
                    },
                )
            ],
        )
        yield opened


def test_metrics_during_and_after_executions_match_the_job_database(
    fleet: Fleet, pg_job_db: str, agents: Any
) -> None:
    agent = agents(pg_job_db, "m1", "--concurrency", "4", "--metrics-port", "0")
    found = wait_for(
        lambda: re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)", agent.output()),
        within=30,
        what="the agent's metrics address",
    )
    url = found.group(1)
    slow = fleet.create_execution("slow")
    broken = fleet.create_execution("broken")

    during = wait_for(
        lambda: (s := scrape(url)) and value(s, "sqlfleet_targets_in_flight") > 0 and s,
        within=30,
        what="targets in flight",
    )
    assert (
        0 < value(during, "sqlfleet_targets_in_flight") <= 2 * 4
    )  # it claims up to twice its concurrency

    for execution in (slow, broken):
        wait_for(
            lambda e=execution: fleet.get_execution(e.id).lifecycle.is_terminal,
            within=60,
            what=f"execution {execution.id} to end",
        )
    after = wait_for(
        lambda: (
            (s := scrape(url))
            and value(s, "sqlfleet_attempts_total", job="broken", step="divide", state="Failed")
            == 6
            and s
        ),
        within=10,
        what="the last outcomes to be counted",
    )

    def attempts(execution_id: int) -> dict[str, int]:
        counted: dict[str, int] = {}
        for target in fleet.list_target_executions(execution_id):
            for attempt in fleet.list_attempts(target.id):
                counted[attempt.lifecycle.value] = counted.get(attempt.lifecycle.value, 0) + 1
        return counted

    assert attempts(slow.id) == {"Succeeded": 8}
    assert attempts(broken.id) == {"Failed": 6}  # 3 targets, each retried once
    job_step = {"job": "slow", "step": "sleep"}
    assert value(after, "sqlfleet_attempts_total", **job_step, state="Succeeded") == 8
    assert (
        value(after, "sqlfleet_target_executions_ended_total", **job_step, state="Succeeded") == 8
    )
    assert value(after, "sqlfleet_attempt_duration_seconds_count", **job_step) == 8
    assert value(after, "sqlfleet_attempt_duration_seconds_sum", **job_step) >= 8 * 0.5
    broken_step = {"job": "broken", "step": "divide"}
    assert value(after, "sqlfleet_attempts_total", **broken_step, state="Failed") == 6
    assert value(after, "sqlfleet_retries_total", **broken_step) == 3
    assert (
        value(after, "sqlfleet_target_executions_ended_total", **broken_step, state="Failed") == 3
    )
    assert value(after, "sqlfleet_targets_in_flight") == 0
    assert value(after, "sqlfleet_agent_heartbeat_age_seconds", agent="m1") < 30

    # The web server's /metrics reads the job database: what is stored, whoever ran it.
    app = create_app(fleet, launcher=AgentLauncher())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200
    web = parse(answer.text)
    executions = {e.job_name: e.lifecycle for e in fleet.list_executions()}
    assert executions == {"slow": Lifecycle.SUCCEEDED, "broken": Lifecycle.FAILED}
    assert value(web, "sqlfleet_job_executions", job="slow", state="Succeeded") == 1
    assert value(web, "sqlfleet_job_executions", job="broken", state="Failed") == 1
    assert value(web, "sqlfleet_targets_in_progress") == 0
    assert value(web, "sqlfleet_targets_due") == 0


def test_metrics_want_the_token_off_loopback(fleet: Fleet) -> None:
    app = create_app(fleet, token="t0ken", launcher=AgentLauncher())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.get("/metrics").status_code == 401
        answer = client.get("/metrics", headers={"Authorization": "Bearer t0ken"})
    assert answer.status_code == 200
    assert "sqlfleet_job_executions" in answer.text
