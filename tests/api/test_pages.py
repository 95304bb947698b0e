"""The web pages through HTTP (the browser tests drive them in Chromium)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api.conftest import PG, Api, one_step_job, pattern_group
from tests.api.test_security import HTML, csrf_of
from tests.polling import wait_for


def form_post(api: Api, page: str, path: str, data: dict[str, Any]) -> Any:
    """Post a form with the CSRF token of `page`, as a browser would; the response."""
    token = csrf_of(api.client.get(page, headers=HTML).text)
    return api.client.post(
        path, data={**data, "csrf_token": token}, headers=HTML, follow_redirects=False
    )


def test_every_page_renders(sqlite_api: Api, pg_targets: list[str]) -> None:
    api = sqlite_api
    pattern_group(api, "g", pg_targets)
    made = form_post(
        api,
        "/new-job",
        "/new-job",
        {
            "name": "j",
            "command": "SELECT 1",
            "target_group": "g",
            "credential": "pg",
            "action": "run",
        },
    )
    assert made.status_code == 303
    execution_path = made.headers["location"]
    assert re.fullmatch(r"/executions/\d+", execution_path)
    execution_id = int(execution_path.rsplit("/", 1)[1])
    wait_for(lambda: not api.get(f"/api/v1/executions/{execution_id}")["is_active"])
    [target] = api.get(f"/api/v1/executions/{execution_id}/targets", params={"limit": 1})

    pages = {
        "/": "Jobs",
        "/jobs": "Succeeded",
        "/new-job": "Save and Run",
        "/jobs/j": "SELECT 1",
        "/executions": "#" + str(execution_id),
        "/executions?job=j&state=Succeeded": "#" + str(execution_id),
        execution_path: pg_targets[0],
        f"{execution_path}?state=Succeeded": pg_targets[2],
        f"/executions/{execution_id}/targets/{target['target_execution_id']}": "Attempt 1",
        "/target-groups": "g",
        "/target-groups/g": pg_targets[0].rsplit("_", 1)[0],
        "/target-groups/g?resolve=true&credential=pg": pg_targets[1],
        "/credentials": "postgres",
        "/login": "Jobs",  # no token: already signed in
    }
    for path, text in pages.items():
        page = api.client.get(path, headers=HTML)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html"), path
        assert text in page.text, path

    none = api.client.get("/executions?job=j&state=Failed", headers=HTML)
    assert none.status_code == 200 and f'href="/executions/{execution_id}"' not in none.text

    live = api.get(f"/executions/{execution_id}/live.json")
    assert live["execution"]["lifecycle"] == "Succeeded"
    assert [t["target_database_name"] for t in live["targets"]] == pg_targets
    assert all(t["duration_seconds"] >= 0 for t in live["targets"])
    assert api.client.get("/static/app.css").status_code == 200
    assert api.client.get("/static/execution.js").status_code == 200


def test_create_job_form_saves_or_shows_what_is_wrong(sqlite_api: Api) -> None:
    api = sqlite_api
    api.post("/api/v1/target-groups", 201, json={"name": "g"})
    wrong = form_post(
        api,
        "/new-job",
        "/new-job",
        {
            "name": "j",
            "command": "SELECT 1",
            "target_group": "g",
            "credential": "pg",
            "retry_attempts": "-1",
            "action": "save",
        },
    )
    assert wrong.status_code == 422
    assert "retry_attempts" in wrong.text and "SELECT 1" in wrong.text  # the script is kept
    assert api.get("/api/v1/jobs") == []

    missing = form_post(
        api,
        "/new-job",
        "/new-job",
        {"name": "j", "command": "x", "target_group": "nope", "credential": "pg"},
    )
    assert missing.status_code == 422 and "nope" in missing.text
    assert api.get("/api/v1/jobs") == []

    saved = form_post(
        api,
        "/new-job",
        "/new-job",
        {
            "name": "j",
            "description": "a job",
            "command": "SELECT 1\nGO\nSELECT 2",
            "target_group": "g",
            "credential": "pg",
            "step_name": "only",
            "retry_attempts": "3",
            "initial_retry_interval_seconds": "0.5",
            "max_parallelism": "4",
            "continue_on_failure": "on",
            "schedule": "every 15 minutes",
            "timezone": "Europe/Paris",
            "enabled": "on",
            "action": "save",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/jobs/j"
    job = api.get("/api/v1/jobs/j")
    [step] = job["steps"]
    assert (job["description"], job["enabled"], job["schedule"]["description"]) == (
        "a job",
        True,
        "every 15 minutes (Europe/Paris)",
    )
    assert (
        step["step_name"],
        step["command"],
        step["retry_attempts"],
        step["max_parallelism"],
    ) == ("only", "SELECT 1\nGO\nSELECT 2", 3, 4)
    assert step["initial_retry_interval_seconds"] == 0.5 and step["continue_on_failure"] is True


def test_job_page_actions(queue_api: Api) -> None:
    api = queue_api
    api.post("/api/v1/target-groups", 201, json={"name": "g"})
    step = {"name": "main", "command": "SELECT 1", "target_group": "g", "credential": "pg"}
    api.post("/api/v1/jobs", 201, json={"name": "j", "steps": [step]})

    disabled = form_post(api, "/jobs/j", "/jobs/j/enabled", {"enabled": "true"})
    assert disabled.headers["location"] == "/jobs/j"
    assert api.get("/api/v1/jobs/j")["enabled"] is True
    assert "Job j enabled." in api.client.get("/jobs/j", headers=HTML).text

    run = form_post(api, "/jobs/j", "/jobs/j/run", {})
    execution_id = int(run.headers["location"].rsplit("/", 1)[1])
    assert api.get(f"/api/v1/executions/{execution_id}")["lifecycle"] == "Created"

    busy = form_post(api, "/jobs/j", "/jobs/j/delete", {})
    assert busy.headers["location"] == "/jobs/j"
    assert "active execution" in api.client.get("/jobs/j", headers=HTML).text

    stopped = form_post(api, f"/executions/{execution_id}", f"/executions/{execution_id}/stop", {})
    assert stopped.headers["location"] == f"/executions/{execution_id}"
    assert api.get(f"/api/v1/executions/{execution_id}")["lifecycle"] == "Canceled"
    again = form_post(api, f"/executions/{execution_id}", f"/executions/{execution_id}/stop", {})
    assert "already ended" in api.client.get(again.headers["location"], headers=HTML).text

    gone = form_post(api, "/jobs/j", "/jobs/j/delete", {})
    assert gone.headers["location"] == "/jobs"
    assert api.get("/api/v1/jobs") == []


def test_target_group_and_credential_forms(sqlite_api: Api) -> None:
    api = sqlite_api
    form_post(api, "/target-groups", "/target-groups", {"name": "g"})
    added = form_post(
        api,
        "/target-groups/g",
        "/target-groups/g/members",
        {"server": PG, "database_pattern": "t_*", "refresh_credential": "pg"},
    )
    assert added.headers["location"] == "/target-groups/g"
    [member] = api.get("/api/v1/target-groups/g")["members"]
    assert (member["database_pattern"], member["refresh_credential_name"]) == ("t_*", "pg")
    form_post(api, "/target-groups/g", "/target-groups/g/members", {"server": "nowhere"})
    assert "no scheme" in api.client.get("/target-groups/g", headers=HTML).text
    form_post(api, "/target-groups/g", f"/target-groups/g/members/{member['target_id']}/delete", {})
    assert api.get("/api/v1/target-groups/g")["members"] == []
    form_post(api, "/target-groups/g", "/target-groups/g/delete", {})
    assert api.get("/api/v1/target-groups") == []

    form_post(
        api,
        "/credentials",
        "/credentials",
        {"name": "ops", "username": "admin", "secret": "hunter2-hunter2"},
    )
    form_post(
        api, "/credentials", "/credentials/ops", {"username": "root", "secret": "new-hunter2"}
    )
    assert api.fleet.credential_login("ops")[1].reveal() == "new-hunter2"
    page = api.client.get("/credentials", headers=HTML).text
    assert "root" in page and "hunter2" not in page
    form_post(api, "/credentials", "/credentials/ops", {})
    assert "Nothing to change" in api.client.get("/credentials", headers=HTML).text
    form_post(api, "/credentials", "/credentials", {"name": "pg", "username": "x", "secret": "y"})
    assert "already exists" in api.client.get("/credentials", headers=HTML).text
    form_post(api, "/credentials", "/credentials/ops/delete", {})
    assert [c["credential_name"] for c in api.get("/api/v1/credentials")] == ["pg"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/jobs/nope", 404),
        ("/target-groups/nope", 404),
        ("/executions/99", 404),
        ("/executions/0", 422),
        ("/no-such-page", 404),
    ],
)
def test_errors_are_pages_for_browsers(sqlite_api: Api, path: str, status: int) -> None:
    page = sqlite_api.client.get(path, headers=HTML)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="error-message"' in page.text
    assert sqlite_api.client.get(path).json()["error"]["type"]  # scripts get JSON


def test_the_executions_list_pages_back_through_history(queue_api: Api) -> None:
    api = queue_api
    pattern_group(api, "g", ["tenant_a"])
    one_step_job(api, "paged", "g", "SELECT 1")
    one_step_job(api, "other", "g", "SELECT 1")
    made = [api.fleet.create_execution("paged").id for _ in range(120)]
    api.fleet.create_execution("other")

    def shown(query: str) -> list[int]:
        page = api.client.get(f"/executions{query}", headers=HTML)
        assert page.status_code == 200, page.text
        return [int(n) for n in re.findall(r'href="/executions/(\d+)"', page.text)]

    newest_first = made[::-1]
    first = api.client.get("/executions?job=paged", headers=HTML).text
    assert shown("?job=paged") == newest_first[:50]
    assert 'href="/executions?job=paged&amp;page=2"' in first and "page-newer" not in first
    assert shown("?job=paged&page=2") == newest_first[50:100]
    last = api.client.get("/executions?job=paged&page=3", headers=HTML).text
    assert shown("?job=paged&page=3") == newest_first[100:]
    assert "page-older" not in last and 'href="/executions?job=paged&amp;page=2"' in last
    assert shown("?job=paged&page=9") == []
    assert len(shown("")) == 50  # every job: the other job's execution first
    for bad in ("0", "-1", "x", "99999999999"):
        answer = api.client.get(f"/executions?page={bad}", headers=HTML)
        assert answer.status_code == 422, bad
