"""REST API: jobs, their versions and steps."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import PG, Api, one_step_job

URL = "/api/v1/jobs"


@pytest.fixture
def group(api: Api) -> str:
    api.post("/api/v1/target-groups", 201, json={"name": "g"})
    api.post("/api/v1/target-groups/g/members", 201, json={"server": PG, "database": "x"})
    return "g"


@pytest.fixture
def sqlite_group(sqlite_api: Api) -> str:
    sqlite_api.post("/api/v1/target-groups", 201, json={"name": "g"})
    return "g"


def test_job_definition_versions_and_steps(api: Api, group: str) -> None:
    created = api.post(
        URL,
        201,
        json={
            "name": "nightly",
            "description": "every night",
            "schedule": {"spec": "0 3 * * *", "timezone": "Europe/Paris"},
            "steps": [
                {"name": "first", "command": "SELECT 1", "target_group": group, "credential": "pg"}
            ],
        },
    )
    assert created["job_name"] == "nightly"
    assert created["job_version"] == 1  # the job and its steps, made together
    assert created["schedule"]["schedule_cron"] == "0 3 * * *"
    assert created["schedule"]["schedule_timezone"] == "Europe/Paris"
    assert created["enabled"] is False
    [step] = created["steps"]
    assert step["retry_attempts"] == 10 and step["step_timeout_seconds"] == 43200

    job = api.post(
        f"{URL}/nightly/steps",
        201,
        json={
            "name": "second",
            "command": "SELECT 2",
            "target_group": group,
            "credential": "pg",
            "retry_attempts": 2,
            "max_parallelism": 5,
            "continue_on_failure": True,
            "output": {
                "server": PG,
                "database": "results",
                "table": "out",
                "credential": "pg",
                "schema": "public",
            },
        },
    )
    assert [s["step_name"] for s in job["steps"]] == ["first", "second"]
    second = api.get(f"{URL}/nightly/steps/second")
    assert (second["retry_attempts"], second["max_parallelism"]) == (2, 5)
    assert second["output"]["output_schema_name"] == "public"

    job = api.patch(
        f"{URL}/nightly/steps/second", json={"name": "two", "command": "SELECT 22", "output": None}
    )
    two = job["steps"][1]
    assert (two["step_name"], two["command"], two["output"], two["retry_attempts"]) == (
        "two",
        "SELECT 22",
        None,
        2,
    )
    assert [s["step_name"] for s in api.get(f"{URL}/nightly/steps")] == ["first", "two"]
    assert [s["step_name"] for s in api.delete(f"{URL}/nightly/steps/first", 200)["steps"]] == [
        "two"
    ]

    assert api.post(f"{URL}/nightly/enable")["enabled"] is True
    assert api.post(f"{URL}/nightly/disable")["enabled"] is False
    job = api.patch(f"{URL}/nightly", json={"description": "changed", "schedule": None})
    assert (job["description"], job["schedule"]) == ("changed", None)
    job = api.patch(
        f"{URL}/nightly", json={"name": "renamed", "schedule": {"spec": "every 2 hours"}}
    )
    assert job["schedule"]["schedule_interval_count"] == 2

    versions = api.get(f"{URL}/renamed/versions")
    assert [v["job_version"] for v in versions] == list(range(1, job["job_version"] + 1))
    old = api.get(f"{URL}/renamed", params={"version": 1})
    assert [s["step_name"] for s in old["steps"]] == ["first"]
    assert [j["job_name"] for j in api.get(URL)] == ["renamed"]
    api.delete(f"{URL}/renamed")
    api.error("GET", f"{URL}/renamed", 404, "NotFound")


def test_unknown_jobs_steps_and_versions(sqlite_api: Api, sqlite_group: str) -> None:
    api = sqlite_api
    one_step_job(api, "j", sqlite_group, "SELECT 1")
    for method, path in [
        ("GET", f"{URL}/nope"),
        ("PATCH", f"{URL}/nope"),
        ("DELETE", f"{URL}/nope"),
        ("POST", f"{URL}/nope/enable"),
        ("POST", f"{URL}/nope/disable"),
        ("GET", f"{URL}/nope/versions"),
        ("GET", f"{URL}/nope/steps"),
        ("POST", f"{URL}/nope/executions"),
        ("GET", f"{URL}/j/steps/nope"),
        ("PATCH", f"{URL}/j/steps/nope"),
        ("DELETE", f"{URL}/j/steps/nope"),
    ]:
        body = None
        if method == "PATCH":
            body = {"command": "SELECT 3"} if "/steps/" in path else {"description": "x"}
        api.error(method, path, 404, "NotFound", json=body)
    api.error("GET", f"{URL}/j", 404, "NotFound", params={"version": 99})
    api.error("GET", f"{URL}/j", 422, "ValidationError", params={"version": 0})
    api.error("GET", f"{URL}/j", 422, "ValidationError", params={"version": "last"})


def test_duplicates_are_conflicts(sqlite_api: Api, sqlite_group: str) -> None:
    api = sqlite_api
    one_step_job(api, "j", sqlite_group, "SELECT 1")
    one_step_job(api, "k", sqlite_group, "SELECT 1")
    api.error("POST", URL, 409, "DuplicateName", json={"name": "j"})
    api.error("PATCH", f"{URL}/k", 409, "DuplicateName", json={"name": "j"})
    step = {"name": "main", "command": "SELECT 2", "target_group": sqlite_group, "credential": "pg"}
    api.error("POST", f"{URL}/j/steps", 409, "DuplicateName", json=step)


def test_a_job_whose_step_is_refused_is_not_created(sqlite_api: Api, sqlite_group: str) -> None:
    api = sqlite_api
    steps = [
        {"name": "one", "command": "SELECT 1", "target_group": sqlite_group, "credential": "pg"},
        {"name": "two", "command": "SELECT 2", "target_group": "nope", "credential": "pg"},
    ]
    api.error("POST", URL, 404, "NotFound", json={"name": "half", "steps": steps})
    assert api.get(URL) == []


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"name": "j", "schedule": {"spec": "every fortnight"}}, "InvalidSchedule"),
        ({"name": "j", "schedule": {"spec": "0 3 * *"}}, "InvalidSchedule"),
        (
            {"name": "j", "schedule": {"spec": "0 3 * * *", "timezone": "Mars/Olympus"}},
            "InvalidSchedule",
        ),
        (
            {
                "name": "j",
                "schedule": {
                    "spec": "once",
                    "start_time": "2030-01-01T00:00:00",
                    "end_time": "2029-01-01T00:00:00",
                },
            },
            "InvalidSchedule",
        ),
        (
            {"name": "j", "schedule": {"spec": "once", "start_time": "0001-01-01T00:00:00+14:00"}},
            "InvalidSchedule",
        ),
        ({"name": "j", "schedule": "daily"}, "ValidationError"),
        ({"name": "j", "enabled": "sometimes"}, "ValidationError"),
        ({"name": "j", "description": "a\x00b"}, "ValidationError"),
        ({"name": "j", "steps": [{"name": "s"}]}, "ValidationError"),
        (
            {
                "name": "j",
                "steps": [{"name": "s", "command": "GO", "target_group": "g", "credential": "pg"}],
            },
            "InvalidCommand",
        ),
        (
            {
                "name": "j",
                "steps": [
                    {
                        "name": "s",
                        "command": "x",
                        "target_group": "g",
                        "credential": "pg",
                        "retry_attempts": -1,
                    }
                ],
            },
            "ValidationError",
        ),
        (
            {
                "name": "j",
                "steps": [
                    {
                        "name": "s",
                        "command": "x",
                        "target_group": "g",
                        "credential": "pg",
                        "step_timeout_seconds": 0,
                    }
                ],
            },
            "ValidationError",
        ),
        (
            {
                "name": "j",
                "steps": [
                    {
                        "name": "s",
                        "command": "x",
                        "target_group": "g",
                        "credential": "pg",
                        "retry_interval_backoff_multiplier": 0.5,
                    }
                ],
            },
            "ValidationError",
        ),
        (
            {
                "name": "j",
                "steps": [
                    {
                        "name": "s",
                        "command": "x",
                        "target_group": "g",
                        "credential": "pg",
                        "initial_retry_interval_seconds": 5,
                        "maximum_retry_interval_seconds": 1,
                    }
                ],
            },
            "InvalidValue",
        ),
        (
            {
                "name": "j",
                "steps": [
                    {
                        "name": "s",
                        "command": "x",
                        "target_group": "g",
                        "credential": "pg",
                        "output": {"server": "nowhere"},
                    }
                ],
            },
            "ValidationError",
        ),
        (
            {
                "name": "j",
                "steps": [
                    {
                        "name": "s",
                        "command": "x",
                        "target_group": "g",
                        "credential": "pg",
                        "output": {
                            "server": "x",
                            "database": "d",
                            "table": "t",
                            "credential": "pg",
                        },
                    }
                ],
            },
            "InvalidServerUrl",
        ),
    ],
)
def test_bad_jobs_are_refused(
    sqlite_api: Api, sqlite_group: str, body: dict[str, Any], kind: str
) -> None:
    sqlite_api.error("POST", URL, 422, kind, json=body)
    assert sqlite_api.get(URL) == []


def test_bad_changes_are_refused(sqlite_api: Api, sqlite_group: str) -> None:
    api = sqlite_api
    one_step_job(api, "j", sqlite_group, "SELECT 1")
    assert "nothing to change" in api.error("PATCH", f"{URL}/j", 422, "InvalidValue", json={})
    assert "nothing to change" in api.error(
        "PATCH", f"{URL}/j/steps/main", 422, "InvalidValue", json={}
    )
    api.error("PATCH", f"{URL}/j", 422, "ValidationError", json={"steps": []})
    api.error("PATCH", f"{URL}/j/steps/main", 422, "ValidationError", json={"max_parallelism": -1})
    api.error("PATCH", f"{URL}/j/steps/main", 404, "NotFound", json={"target_group": "nope"})
    api.error("PATCH", f"{URL}/j/steps/main", 404, "NotFound", json={"credential": "nope"})
    api.error(
        "POST",
        f"{URL}/j/steps",
        422,
        "ValidationError",
        content=b"{",
        headers={"content-type": "application/json"},
    )
    assert api.get(f"{URL}/j")["job_version"] == 1  # nothing changed


def test_a_running_job_is_deleted_only_by_force(queue_api: Api) -> None:
    api = queue_api
    api.post("/api/v1/target-groups", 201, json={"name": "g"})
    one_step_job(api, "j", "g", "SELECT 1")
    api.post(f"{URL}/j/executions", 202)  # nothing runs it: it stays active
    assert "active" in api.error("DELETE", f"{URL}/j", 409, "InUse")
    api.error("DELETE", f"{URL}/j", 422, "ValidationError", params={"force": "maybe"})
    api.delete(f"{URL}/j", params={"force": "true"})
    assert api.get(URL) == []


def test_preview_renders_the_batches_and_records_nothing(api: Api, group: str) -> None:
    one_step_job(
        api,
        "deploy",
        group,
        "UPDATE t SET db = $(target_database_name:literal)\nGO\nSELECT $(step_id)",
        canary=2,
        wave_size="10%",
        max_failures="1",
        retry_on="transient",
    )
    shown = api.get(f"{URL}/deploy")["steps"][0]
    assert (shown["canary"], shown["wave_size"], shown["max_failures"]) == (2, "10%", "1")
    assert shown["retry_on"] == "transient"

    preview = api.post(f"{URL}/deploy/preview")

    assert preview["ok"] is True
    [step] = preview["steps"]
    [target] = step["targets"]
    assert (target["target_server_name"], target["target_database_name"]) == (PG, "x")
    assert target["batches"] == ["UPDATE t SET db = 'x'", "SELECT 1"]
    assert api.get("/api/v1/executions") == []
    api.error("POST", f"{URL}/nope/preview", 404, "NotFound")
