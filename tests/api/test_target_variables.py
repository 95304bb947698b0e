"""Per-target variables through the REST API and the web pages, on SQLite target files."""

from __future__ import annotations

import asyncio
import html
import json
import sqlite3
from pathlib import Path

import pytest

from sqlfleet import limits
from sqlfleet.lifecycle import Lifecycle
from tests.api.conftest import Api, one_step_job
from tests.api.test_pages import form_post
from tests.api.test_security import HTML

URL = "/api/v1/target-groups"
PLAN = 'it\'s "gold" \\ 日本 <b>'


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A SQLite "server" with two tenant files, each with an empty `plan_log` table."""
    made = tmp_path / "tenants"
    made.mkdir()
    for name in ("a.db", "b.db"):
        connection = sqlite3.connect(made / name)
        connection.execute("CREATE TABLE plan_log (plan text)")
        connection.commit()
        connection.close()
    return made


def test_a_member_takes_variables_and_shows_them(api: Api) -> None:
    api.post(URL, 201, json={"name": "g"})
    member = api.post(
        f"{URL}/g/members",
        201,
        json={
            "server": "postgresql://h",
            "database": "d",
            "variables": {"plan": PLAN, "region": ""},
        },
    )
    assert member["variables"] == {"plan": PLAN, "region": ""}
    assert api.get(f"{URL}/g")["members"][0]["variables"] == {"plan": PLAN, "region": ""}
    # A member without any has an empty mapping.
    other = api.post(f"{URL}/g/members", 201, json={"server": "postgresql://h"})
    assert other["variables"] == {}


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"variables": {"job_id": "x"}}, "taken by the built-in variable $(job_id)"),
        ({"variables": {"plan": "x"}, "exclude": True}, "an exclude member takes no variables"),
        ({"variables": {"plan": "x" * (limits.MAX_VARIABLE_VALUE + 1)}}, "variables.plan"),
        ({"variables": {"my plan": "x"}}, "variables.my plan"),
    ],
)
def test_bad_variables_are_refused(api: Api, fields: dict[str, object], says: str) -> None:
    api.post(URL, 201, json={"name": "g"})
    response = api.client.post(
        f"{URL}/g/members", json={"server": "postgresql://h", "database": "d", **fields}
    )
    assert response.status_code in (400, 422), response.text
    assert says in response.json()["error"]["message"], response.text
    assert api.get(f"{URL}/g")["members"] == []


def test_the_member_form_takes_variables_one_a_line(sqlite_api: Api) -> None:
    api = sqlite_api
    form_post(api, "/target-groups", "/target-groups", {"name": "g"})
    form_post(
        api,
        "/target-groups/g",
        "/target-groups/g/members",
        {
            "server": "postgresql://h",
            "database": "d",
            "variables": f"plan={PLAN}\r\n\r\ntier=1\r\nnote=a\x85b\u2028c",
        },
    )
    [member] = api.get(f"{URL}/g")["members"]
    # A line ends at a newline only, as `--var` would take each value whole.
    assert member["variables"] == {"plan": PLAN, "tier": "1", "note": "a\x85b\u2028c"}
    page = api.client.get("/target-groups/g", headers=HTML).text
    assert json.dumps(PLAN, ensure_ascii=False) in html.unescape(page)
    assert "<b>" not in page.split('id="members"')[1].split("</table>")[0]

    form_post(
        api,
        "/target-groups/g",
        "/target-groups/g/members",
        {"server": "postgresql://h", "database": "e", "variables": "target_group_name=x"},
    )
    page = api.client.get("/target-groups/g", headers=HTML).text
    assert "taken by the built-in variable $(target_group_name)" in html.unescape(page)
    assert len(api.get(f"{URL}/g")["members"]) == 1


def test_preview_target_log_and_pages_show_each_targets_values(
    sqlite_api: Api, folder: Path
) -> None:
    api = sqlite_api
    server = f"sqlite:///{folder}"
    api.post(URL, 201, json={"name": "g"})
    for name, plan in (("a.db", PLAN), ("b.db", "silver")):
        api.post(
            f"{URL}/g/members",
            201,
            json={"server": server, "database": name, "variables": {"plan": plan}},
        )
    one_step_job(api, "plans", "g", "INSERT INTO plan_log VALUES ($(plan:literal))")
    resolved = api.post(f"{URL}/g/resolve", json={"credential": "pg"})
    assert [t["target_variables"] for t in resolved] == [{"plan": PLAN}, {"plan": "silver"}]
    previewed = api.post("/api/v1/jobs/plans/preview")["steps"]
    assert previewed[0]["targets"][0]["batches"] == [
        "INSERT INTO plan_log VALUES ('it''s \"gold\" \\ 日本 <b>')"
    ]
    assert previewed[0]["targets"][0]["target_variables"] == {"plan": PLAN}
    page = api.client.get("/jobs/plans/preview", headers=HTML).text
    shown = json.dumps(PLAN, ensure_ascii=False)
    assert shown in html.unescape(page) and "日本 <b>" not in page

    execution = asyncio.run(api.fleet.run("plans"))

    assert execution.lifecycle is Lifecycle.SUCCEEDED
    for name, plan in (("a.db", PLAN), ("b.db", "silver")):
        connection = sqlite3.connect(folder / name)
        assert connection.execute("SELECT plan FROM plan_log").fetchall() == [(plan,)]
        connection.close()
    targets = api.get(f"/api/v1/executions/{execution.id}/targets")
    rows = targets["targets"] if isinstance(targets, dict) else targets
    assert [t["target_variables"] for t in rows] == [{"plan": PLAN}, {"plan": "silver"}]
    first = rows[0]["target_execution_id"]
    one = api.get(f"/api/v1/executions/{execution.id}/targets/{first}")
    assert one["target_variables"] == {"plan": PLAN}
    live = api.get(f"/executions/{execution.id}/live.json")
    assert live["targets"][0]["target_variables"] == {"plan": PLAN}
    page = api.client.get(f"/executions/{execution.id}", headers=HTML).text
    assert f"plan={shown}" in html.unescape(page)
    page = api.client.get(f"/executions/{execution.id}/targets/{first}", headers=HTML).text
    assert 'id="variables"' in page and shown in html.unescape(page)


def test_a_value_holding_a_url_password_is_shown_masked(api: Api) -> None:
    api.post(URL, 201, json={"name": "g"})
    dsn = "postgresql://app:Zq9-pw@db1:5432/app"
    member = api.post(
        f"{URL}/g/members",
        201,
        json={"server": "postgresql://h", "database": "d", "variables": {"dsn": dsn}},
    )
    assert member["variables"] == {"dsn": "postgresql://app:***@db1:5432/app"}
    assert "Zq9-pw" not in api.client.get("/target-groups/g", headers=HTML).text
    # Kept as given: scripts get the value itself.
    assert api.fleet.get_target_group("g").members[0].variables == (("dsn", dsn),)
