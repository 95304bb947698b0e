"""Webhooks through the REST API and the web forms: given, shown masked, never echoed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, one_step_job, pattern_group
from tests.api.test_pages import form_post
from tests.api.test_security import HTML
from tests.polling import wait_for
from tests.webhook_receiver import webhook_receiver

TOKEN = "Tq7-webhook-token-never-shown"
HOOK = f"https://hooks.example.com/services/{TOKEN}"
NOTIFY_SECRET = "Nx4-notify-secret-never-shown"


def _leaks(api: Api) -> list[str]:
    return [text for text in api.seen if TOKEN in text or NOTIFY_SECRET in text]


def test_webhooks_are_given_shown_masked_replaced_and_removed(api: Api) -> None:
    made = api.post(
        "/api/v1/jobs",
        201,
        json={
            "name": "j",
            "notify": [
                {"url": HOOK, "on": "always", "secret": NOTIFY_SECRET},
                {"url": "http://other.example:8080/x"},
            ],
        },
    )
    assert made["notify"] == [
        {"url": "https://hooks.example.com/…", "on": "always", "signed": True},
        {"url": "http://other.example:8080/…", "on": "failure", "signed": False},
    ]
    assert api.get("/api/v1/jobs/j")["notify"] == made["notify"]
    kept = api.patch("/api/v1/jobs/j", json={"description": "d"})
    assert kept["notify"] == made["notify"] and kept["job_version"] == 2
    replaced = api.patch("/api/v1/jobs/j", json={"notify": [{"url": HOOK}]})
    assert replaced["notify"] == [
        {"url": "https://hooks.example.com/…", "on": "failure", "signed": False}
    ]
    assert api.get("/api/v1/jobs/j", params={"version": 1})["notify"] == made["notify"]
    assert api.patch("/api/v1/jobs/j", json={"notify": []})["notify"] == []
    api.patch("/api/v1/jobs/j", json={"notify": [{"url": HOOK}]})
    assert api.patch("/api/v1/jobs/j", json={"notify": None})["notify"] == []
    assert not _leaks(api)


@pytest.mark.parametrize(
    ("webhook", "says"),
    [
        ({"url": f"ftp://h/{TOKEN}"}, "must start with http:// or https://"),
        ({"url": f"https://h:99999/{TOKEN}"}, "port must be a number"),
        ({"url": f"https://h/{TOKEN}\n"}, "control characters"),
        ({"url": f"https://h/{TOKEN} x"}, "contains spaces"),
        ({"url": f"https:///{TOKEN}"}, "names no host"),
        ({"url": "https://h/" + "x" * 1100}, "notify.0.url"),
        ({"url": f"https://h/{TOKEN}", "on": "sometimes"}, "notify.0.on"),
        ({"url": f"https://h/{TOKEN}", "secret": ""}, "notify.0.secret"),
        ({"url": f"https://h/{TOKEN}", "secret": "x" * 600}, "notify.0.secret"),
        ({"url": f"https://h/{TOKEN}", "extra": 1}, "notify.0.extra"),
    ],
)
def test_a_bad_webhook_is_a_422_that_never_quotes_the_url(
    api: Api, webhook: dict[str, Any], says: str
) -> None:
    body = api.post("/api/v1/jobs", 422, json={"name": "j", "notify": [webhook]})
    assert body["error"]["type"] in ("InvalidValue", "ValidationError")
    assert says in body["error"]["message"]
    assert not _leaks(api)
    assert api.get("/api/v1/jobs") == []


def test_too_many_webhooks_and_the_same_url_twice_are_refused(api: Api) -> None:
    many = [{"url": f"https://h/{i}"} for i in range(11)]
    api.post("/api/v1/jobs", 422, json={"name": "j", "notify": many})
    twice = [{"url": HOOK}, {"url": HOOK}]
    message = api.error(
        "POST", "/api/v1/jobs", 422, "InvalidValue", json={"name": "j", "notify": twice}
    )
    assert "given twice" in message
    assert not _leaks(api)


def test_an_execution_shows_its_notifications(sqlite_api: Api, pg_targets: list[str]) -> None:
    api = sqlite_api
    pattern_group(api, "g", pg_targets)
    with webhook_receiver(200) as receiver:
        one_step_job(api, "j", "g", "SELECT 1 / 0", retry_attempts=0)
        api.patch("/api/v1/jobs/j", json={"notify": [{"url": receiver.url}]})
        started = api.post("/api/v1/jobs/j/executions", 202)
        execution_id = started["job_execution_id"]

        def delivered() -> Any:
            notes = api.get(f"/api/v1/executions/{execution_id}")["notifications"]
            return notes if notes and notes[0]["state"] == "delivered" else None

        (note,) = wait_for(delivered, what="the notification to be delivered")
        assert len(receiver.posts()) == 1
    assert note["event"] == "execution.ended"
    assert note["attempts"] == 1 and note["last_status"] == 200
    assert note["webhook"] == "http://127.0.0.1:" + receiver.url.split(":")[2].split("/")[0] + "/…"
    page = api.client.get(f"/executions/{execution_id}", headers=HTML).text
    assert 'id="notifications"' in page and "delivered" in page
    assert "s3cr3tT0k3n" not in page
    assert not any("s3cr3tT0k3n" in text for text in api.seen)


def test_the_job_forms_take_webhooks_and_never_write_them_back(
    sqlite_api: Api, pg_targets: list[str]
) -> None:
    api = sqlite_api
    pattern_group(api, "g", pg_targets)
    step = {"name": "j", "command": "SELECT 1", "target_group": "g", "credential": "pg"}
    wrong = form_post(
        api,
        "/new-job",
        "/new-job",
        {**step, "notify_urls": f"ftp://h/{TOKEN}", "notify_secret": NOTIFY_SECRET},
    )
    assert wrong.status_code == 422
    assert "must start with http:// or https://" in wrong.text
    assert TOKEN not in wrong.text and NOTIFY_SECRET not in wrong.text
    assert api.get("/api/v1/jobs") == []

    made = form_post(
        api,
        "/new-job",
        "/new-job",
        {
            **step,
            "notify_urls": f"{HOOK}\n\nhttp://second.example/x\n",
            "notify_on": "always",
            "notify_secret": NOTIFY_SECRET,
            "action": "save",
        },
    )
    assert made.status_code == 303, made.text
    assert [w["signed"] for w in api.get("/api/v1/jobs/j")["notify"]] == [True, True]
    page = api.client.get("/jobs/j", headers=HTML).text
    assert "https://hooks.example.com/…" in page and "on always" in page
    edit = api.client.get("/jobs/j/edit", headers=HTML).text
    assert "Keep them" in edit and TOKEN not in edit

    kept = form_post(api, "/jobs/j/edit", "/jobs/j/edit", {"description": "d"})
    assert kept.status_code == 303
    assert len(api.get("/api/v1/jobs/j")["notify"]) == 2
    confused = form_post(
        api, "/jobs/j/edit", "/jobs/j/edit", {"notify_action": "keep", "notify_urls": HOOK}
    )
    assert confused.status_code == 422 and "choose to replace" in confused.text
    assert TOKEN not in confused.text
    replaced = form_post(
        api,
        "/jobs/j/edit",
        "/jobs/j/edit",
        {"notify_action": "replace", "notify_urls": "https://third.example/y"},
    )
    assert replaced.status_code == 303
    assert api.get("/api/v1/jobs/j")["notify"] == [
        {"url": "https://third.example/…", "on": "failure", "signed": False}
    ]
    removed = form_post(api, "/jobs/j/edit", "/jobs/j/edit", {"notify_action": "remove"})
    assert removed.status_code == 303
    assert api.get("/api/v1/jobs/j")["notify"] == []
    diff = api.client.get("/jobs/j/diff", headers=HTML).text
    assert 'id="webhooks-diff"' in diff and "https://third.example/…" in diff
    assert not _leaks(api)
