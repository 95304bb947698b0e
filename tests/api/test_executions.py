"""REST API: starting, following and stopping executions on real PostgreSQL databases."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import PG, Api, one_step_job, pattern_group
from tests.polling import wait_for

URL = "/api/v1/executions"

pytestmark = pytest.mark.timeout(120)


def ended(api: Api, execution_id: int) -> dict[str, Any]:
    """Wait for the execution to end; return it."""
    return wait_for(
        lambda: (e := api.get(f"{URL}/{execution_id}")) and not e["is_active"] and e,
        what=f"execution {execution_id} to end",
    )


def test_start_follow_and_page_through_an_execution(api: Api, pg_targets: list[str]) -> None:
    databases = pg_targets
    pattern_group(api, "g", databases)
    one_step_job(api, "ok", "g", "SELECT count(*) FROM pg_class")
    one_step_job(api, "bad", "g", "SELECT 1/0", retry_attempts=1, initial_retry_interval_seconds=0)

    started = api.post("/api/v1/jobs/ok/executions", 202)
    assert started["lifecycle"] == "Created" and started["trigger"] == "manual"
    ok = ended(api, started["job_execution_id"])
    assert ok["lifecycle"] == "Succeeded"
    assert ok["target_counts"] == {"Succeeded": 3}
    [step] = ok["steps"]
    assert (step["step_name"], step["lifecycle"]) == ("main", "Succeeded")

    bad = ended(api, api.post("/api/v1/jobs/bad/executions", 202)["job_execution_id"])
    assert bad["lifecycle"] == "Failed"

    every = api.get(URL)
    assert [e["job_execution_id"] for e in every] == [
        bad["job_execution_id"],
        ok["job_execution_id"],
    ]
    assert [e["job_name"] for e in api.get(URL, params={"job": "ok"})] == ["ok"]
    assert [e["job_name"] for e in api.get(URL, params={"lifecycle": "Failed"})] == ["bad"]
    assert api.get(URL, params={"active": "true"}) == []
    assert [e["job_name"] for e in api.get(URL, params={"limit": 1, "offset": 1})] == ["ok"]

    targets_url = f"{URL}/{bad['job_execution_id']}/targets"
    targets = api.get(targets_url)
    assert sorted(t["target_database_name"] for t in targets) == databases
    assert {t["lifecycle"] for t in targets} == {"Failed"}
    assert len(api.get(targets_url, params={"limit": 2})) == 2
    assert len(api.get(targets_url, params={"limit": 2, "offset": 2})) == 1
    assert api.get(targets_url, params={"lifecycle": "Succeeded"}) == []
    assert (
        len(api.get(targets_url, params=[("lifecycle", "Succeeded"), ("lifecycle", "Failed")])) == 3
    )

    target = targets[0]
    one = api.get(f"{targets_url}/{target['target_execution_id']}")
    assert one["current_attempts"] == 2
    attempts = api.get(f"{targets_url}/{target['target_execution_id']}/attempts")
    assert attempts == one["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2]
    assert all("division by zero" in a["message"] for a in attempts)


def test_stop_cancels_a_running_execution(
    sqlite_api: Api, pg_targets: list[str], pg_sql: Any
) -> None:
    api = sqlite_api
    pattern_group(api, "g", pg_targets)
    one_step_job(api, "slow", "g", "SELECT pg_sleep(60)")
    execution_id = api.post("/api/v1/jobs/slow/executions", 202)["job_execution_id"]
    wait_for(
        lambda: api.get(f"{URL}/{execution_id}")["target_counts"].get("InProgress") == 3,
        what="the targets to run",
    )

    stopped = api.post(f"{URL}/{execution_id}/stop")
    assert stopped["lifecycle"] == "Canceled"

    def targets_ended() -> list[dict[str, Any]]:
        targets: list[dict[str, Any]] = api.get(f"{URL}/{execution_id}/targets")
        return targets if all(not t["is_active"] for t in targets) else []

    final = wait_for(targets_ended, what="the targets to be canceled")
    assert {t["lifecycle"] for t in final} == {"Canceled"}
    wait_for(
        lambda: (
            not pg_sql(
                "postgres", "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'"
            )
        ),
        what="the statements to be canceled on the server",
    )
    assert "already ended" in api.error("POST", f"{URL}/{execution_id}/stop", 409, "Conflict")


def test_unknown_executions_and_targets(queue_api: Api) -> None:
    api = queue_api
    api.post("/api/v1/target-groups", 201, json={"name": "g"})
    one_step_job(api, "j", "g", "SELECT 1")
    execution_id = api.post("/api/v1/jobs/j/executions", 202)["job_execution_id"]
    assert api.get(f"{URL}/{execution_id}")["lifecycle"] == "Created"  # waits for an agent
    for method, path in [
        ("GET", f"{URL}/999"),
        ("POST", f"{URL}/999/stop"),
        ("GET", f"{URL}/999/targets"),
        ("GET", f"{URL}/999/targets/1"),
        ("GET", f"{URL}/999/targets/1/attempts"),
        ("GET", f"{URL}/{execution_id}/targets/999"),
        ("GET", f"{URL}/{execution_id}/targets/999/attempts"),
    ]:
        api.error(method, path, 404, "NotFound")
    api.error("GET", URL, 404, "NotFound", params={"job": "nope"})


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (URL, {"lifecycle": "Exploded"}),
        (URL, {"limit": 0}),
        (URL, {"limit": 100000}),
        (URL, {"offset": -1}),
        (URL, {"active": "often"}),
        (URL, {"job": "a\x00b"}),
        (f"{URL}/0", {}),
        (f"{URL}/-1", {}),
        (f"{URL}/abc", {}),
        (f"{URL}/1e3", {}),
        (f"{URL}/99999999999999999999", {}),
        (f"{URL}/1/targets", {"lifecycle": "failed"}),
        (f"{URL}/1/targets", {"limit": "many"}),
        (f"{URL}/1/targets/abc/attempts", {}),
    ],
)
def test_bad_execution_queries_are_refused(
    queue_api: Api, path: str, params: dict[str, Any]
) -> None:
    message = queue_api.error("GET", path, 422, "ValidationError", params=params)
    assert "\x00" not in message


def test_rerun_and_retry_now_refuse_what_they_cannot_do(queue_api: Api) -> None:
    api = queue_api
    api.post("/api/v1/target-groups", 201, json={"name": "g"})
    one_step_job(api, "j", "g", "SELECT 1")
    created = api.post("/api/v1/jobs/j/executions", 202, params={"trial": "true"})
    assert created["trial"] is True and created["rerun_of"] is None
    execution_id = created["job_execution_id"]
    message = api.error("POST", f"{URL}/{execution_id}/rerun", 422, "InvalidValue")
    assert "still Created" in message
    api.error("POST", f"{URL}/999/rerun", 404, "NotFound")
    api.error("POST", f"{URL}/{execution_id}/targets/999/retry-now", 404, "NotFound")
    api.post(f"{URL}/{execution_id}/stop")
    message = api.error(
        "POST", f"{URL}/{execution_id}/rerun", 422, "InvalidValue", json={"states": ["Failed"]}
    )
    assert "nothing to re-run" in message
    rerun = api.post(f"{URL}/{execution_id}/rerun", 202, json={"states": ["Canceled"]})
    assert rerun["rerun_of"] == execution_id and rerun["trial"] is True


def test_retry_now_runs_a_waiting_target_at_once(sqlite_api: Api, pg_targets: list[str]) -> None:
    api = sqlite_api
    api.post("/api/v1/target-groups", 201, json={"name": "g"})
    api.post("/api/v1/target-groups/g/members", 201, json={"server": PG, "database": pg_targets[0]})
    one_step_job(
        api,
        "later",
        "g",
        "SELECT 1/0",
        retry_attempts=1,
        initial_retry_interval_seconds=3600,
        maximum_retry_interval_seconds=3600,
    )
    execution_id = api.post("/api/v1/jobs/later/executions", 202)["job_execution_id"]
    [waiting] = wait_for(
        lambda: [
            t
            for t in api.get(f"{URL}/{execution_id}/targets")
            if t["lifecycle"] == "WaitingForRetry"
        ],
        what="the target to wait for its retry, an hour away",
    )
    assert waiting["next_attempt_start_time"] is not None
    page = api.client.get(f"/executions/{execution_id}", headers={"accept": "text/html"})
    assert "next try at" in page.text and "Retry now" in page.text

    target = f"{URL}/{execution_id}/targets/{waiting['target_execution_id']}"
    api.post(f"{target}/retry-now")

    final = wait_for(
        lambda: (t := api.get(target))["lifecycle"] == "Failed" and t,
        within=15,
        what="the second attempt to run now",
    )
    assert final["current_attempts"] == 2
    assert "not waiting for a retry" in api.error(
        "POST", f"{target}/retry-now", 422, "InvalidValue"
    )
