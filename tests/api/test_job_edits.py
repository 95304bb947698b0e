"""Changing a job in the web UI: its settings, its steps, and the diff of two versions."""

from __future__ import annotations

import re
from typing import Any

from sqlfleet import limits
from tests.api.conftest import PG, Api
from tests.api.test_pages import form_post
from tests.api.test_security import HTML

STEP = {"command": "SELECT 1", "target_group": "g", "credential": "pg"}


def one_step_job(api: Api) -> None:
    api.post("/api/v1/target-groups", 201, json={"name": "g"})
    api.post("/api/v1/jobs", 201, json={"name": "j", "steps": [{"name": "main", **STEP}]})


def post(api: Api, path: str, data: dict[str, Any], page: str | None = None) -> Any:
    return form_post(api, page or path, path, data)


def form_error(response: Any) -> str:
    match = re.search(r'id="form-error">([^<]*)<', response.text)
    assert match, response.text[:2000]
    return match.group(1)


def test_the_step_form_has_every_setting_of_the_settings_table(sqlite_api: Api) -> None:
    one_step_job(sqlite_api)
    for path in ("/jobs/j/steps/new", "/jobs/j/steps/main/edit", "/new-job"):
        page = sqlite_api.client.get(path, headers=HTML)
        assert page.status_code == 200, path
        for setting in limits.STEP_SETTINGS:
            assert f'name="{setting.field}"' in page.text, (path, setting.field)
        assert 'name="output_table"' in page.text, path


def test_editing_a_job_and_its_steps_makes_versions(sqlite_api: Api) -> None:
    api = sqlite_api
    one_step_job(api)
    job_page = api.client.get("/jobs/j", headers=HTML).text
    assert ">manual<" in job_page and "disabled" not in job_page

    saved = post(
        api,
        "/jobs/j/edit",
        {"description": "counts", "schedule": "every 5 minutes", "timezone": "Europe/Paris"},
    )
    assert saved.status_code == 303
    job = api.get("/api/v1/jobs/j")
    assert job["description"] == "counts" and job["job_version"] == 2
    assert job["schedule"]["schedule_timezone"] == "Europe/Paris" and job["enabled"] is False

    bad = post(api, "/jobs/j/edit", {"schedule": "every now and then"}, "/jobs/j/edit")
    assert bad.status_code == 422 and "\n" not in form_error(bad)
    assert api.get("/api/v1/jobs/j")["job_version"] == 2

    edited = post(
        api,
        "/jobs/j/steps/main/edit",
        {**STEP, "step_name": "main", "command": "SELECT 2", "retry_attempts": "3"},
    )
    assert edited.status_code == 303
    [step] = api.get("/api/v1/jobs/j")["steps"]
    assert step["command"] == "SELECT 2" and step["retry_attempts"] == 3

    refused = post(
        api, "/jobs/j/steps/main/edit", {**STEP, "step_name": "main", "retry_attempts": "-1"}
    )
    assert refused.status_code == 422 and "retry_attempts" in form_error(refused)

    added = post(
        api,
        "/jobs/j/steps/new",
        {
            **STEP,
            "step_name": "collect",
            "command": "SELECT 3 AS n",
            "continue_on_failure": "on",
            "output_server": PG,
            "output_database": "results",
            "output_table": "counts",
            "output_credential": "pg",
        },
    )
    assert added.status_code == 303, form_error(added)
    job = api.get("/api/v1/jobs/j")
    assert [s["step_name"] for s in job["steps"]] == ["main", "collect"]
    assert job["steps"][1]["output"]["output_table_name"] == "counts"
    assert job["steps"][1]["continue_on_failure"] is True

    moved = post(api, "/jobs/j/steps/collect/move", {"direction": "up"}, "/jobs/j")
    assert moved.status_code == 303
    assert [s["step_name"] for s in api.get("/api/v1/jobs/j")["steps"]] == ["collect", "main"]

    # An edit that leaves the output fields empty removes the output table.
    kept = post(
        api,
        "/jobs/j/steps/collect/edit",
        {**STEP, "step_name": "collect", "command": "SELECT 3 AS n"},
    )
    assert kept.status_code == 303
    assert api.get("/api/v1/jobs/j")["steps"][0].get("output") is None

    removed = post(api, "/jobs/j/steps/main/delete", {}, "/jobs/j")
    assert removed.status_code == 303
    job = api.get("/api/v1/jobs/j")
    assert [s["step_name"] for s in job["steps"]] == ["collect"]
    versions = [v["job_version"] for v in api.get("/api/v1/jobs/j/versions")]
    assert versions == list(range(1, job["job_version"] + 1)) and job["job_version"] == 7

    diff = api.client.get("/jobs/j/diff?from=2&to=3", headers=HTML)
    assert diff.status_code == 200
    assert '<span class="del">-SELECT 1</span>' in diff.text
    assert '<span class="add">+SELECT 2</span>' in diff.text
    assert "retry_attempts" in diff.text
    assert api.client.get("/jobs/j/diff", headers=HTML).status_code == 200
    assert api.client.get("/jobs/j/diff?from=99", headers=HTML).status_code == 404
    assert api.client.get("/jobs/j/diff?from=0", headers=HTML).status_code == 422


def test_the_create_form_sets_an_output_table(sqlite_api: Api) -> None:
    api = sqlite_api
    api.post("/api/v1/target-groups", 201, json={"name": "g"})
    made = post(
        api,
        "/new-job",
        {
            "name": "k",
            **STEP,
            "output_server": PG,
            "output_database": "results",
            "output_schema": "public",
            "output_table": "counts",
            "output_credential": "pg",
            "action": "save",
        },
        "/new-job",
    )
    assert made.status_code == 303
    output = api.get("/api/v1/jobs/k")["steps"][0]["output"]
    assert (output["output_table_name"], output["output_schema_name"]) == ("counts", "public")

    half = post(
        api,
        "/new-job",
        {"name": "k2", **STEP, "output_table": "counts", "action": "save"},
        "/new-job",
    )
    assert half.status_code == 422 and "\n" not in form_error(half)
