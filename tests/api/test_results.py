"""REST API and pages: the rows targets returned, merged, paged, as CSV, purged with history."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from sqlfleet.api.pages import results as results_pages
from tests.api.conftest import Api, pattern_group
from tests.api.test_executions import ended

URL = "/api/v1/executions"
HTML = {"accept": "text/html"}
# Each target names itself in its rows, with a number, a boolean and a null.
QUERY = (
    "SELECT current_database() AS db, n AS number, n % 2 = 0 AS even, NULL AS nothing "
    "FROM generate_series(1, {rows}) AS n"
)

pytestmark = pytest.mark.timeout(120)


def _run(api: Api, databases: list[str]) -> int:
    """A two-step job (the second keeping two rows per target), run to its end."""
    pattern_group(api, "g", databases)
    step = {"target_group": "g", "credential": "pg"}
    api.post(
        "/api/v1/jobs",
        201,
        json={
            "name": "collect",
            "steps": [
                {**step, "name": "few", "command": QUERY.format(rows=2)},
                {**step, "name": "capped", "command": QUERY.format(rows=3), "result_rows": 2},
            ],
        },
    )
    execution = ended(api, api.post("/api/v1/jobs/collect/executions", 202)["job_execution_id"])
    assert execution["lifecycle"] == "Succeeded", execution
    return int(execution["job_execution_id"])


def test_results_are_served_paged_and_as_csv(
    api: Api, pg_targets: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = _run(api, pg_targets)
    results = f"{URL}/{execution_id}/results"

    few = api.get(results, params={"step": "few"})
    assert few["columns"] == [
        "target_server_name",
        "target_database_name",
        "db",
        "number",
        "even",
        "nothing",
    ]
    expected = [
        ["postgresql://127.0.0.1:5432", db, db, n, n % 2 == 0, None]
        for db in pg_targets
        for n in (1, 2)
    ]
    assert few["rows"] == expected
    assert (few["total_rows"], few["targets_with_results"], few["truncated_targets"]) == (6, 3, 0)
    assert (few["offset"], few["limit"], few["step_name"]) == (0, 1000, "few")
    page = api.get(results, params={"step": "few", "limit": 4, "offset": 3})
    assert page["rows"] == expected[3:] and page["total_rows"] == 6
    assert api.get(results, params={"step": "few", "offset": 6})["rows"] == []

    capped = api.get(results, params={"step": "capped"})
    assert [r[3] for r in capped["rows"]] == [1, 2] * 3
    assert capped["truncated_targets"] == 3
    assert {(c["returned_rows"], c["kept_rows"]) for c in capped["truncated"]} == {(3, 2)}

    every = api.get(results)
    assert every["columns"][0] == "step_name" and every["total_rows"] == 12
    assert [r[0] for r in every["rows"]] == ["few"] * 6 + ["capped"] * 6

    for path in (f"{results}.csv", f"/executions/{execution_id}/results.csv"):
        response = api.client.get(path)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0] == every["columns"]
        assert rows[1:] == [[_text(v) for v in row] for row in every["rows"]]

    # The page: the merged table, paged, a step at a time, with the download.
    view = api.client.get(f"/executions/{execution_id}/results", params={"step": "few"})
    assert view.status_code == 200
    assert f'href="/executions/{execution_id}/results.csv?step=few"' in view.text
    assert view.text.count("<tr>") == 1 + 6
    assert "Rows 1\u20136 of 6 from 3 targets" in view.text
    capped_view = api.client.get(f"/executions/{execution_id}/results?step=capped").text
    assert "3 targets returned more rows than their step keeps" in capped_view

    # Four rows a page: the pager walks through them, and past the end it says so.
    monkeypatch.setattr(results_pages, "PAGE_ROWS", 4)
    view = api.client.get(f"/executions/{execution_id}/results", params={"step": "few"}).text
    assert view.count("<tr>") == 1 + 4 and 'id="results-previous"' not in view
    assert f'href="/executions/{execution_id}/results?step=few&amp;offset=4"' in view
    view = api.client.get(
        f"/executions/{execution_id}/results", params={"step": "few", "offset": 4}
    ).text
    assert view.count("<tr>") == 1 + 2 and 'id="results-next"' not in view
    assert "Rows 5\u20136 of 6 from 3 targets" in view
    view = api.client.get(f"/executions/{execution_id}/results", params={"offset": 40}).text
    assert "No rows past row 12" in view and "offset=8" in view

    # A target's log shows its rows; the API has them too.
    target = api.get(f"{URL}/{execution_id}/targets")[-1]
    kept = api.get(f"{URL}/{execution_id}/targets/{target['target_execution_id']}/result")
    assert kept == {
        "columns": ["db", "number", "even", "nothing"],
        "rows": [[target["target_database_name"], n, n % 2 == 0, None] for n in (1, 2)],
        "returned_rows": 3,
        "kept_rows": 2,
        "truncated": True,
    }
    log = api.client.get(f"/executions/{execution_id}/targets/{target['target_execution_id']}")
    assert "3 rows returned, the first 2 kept" in log.text
    assert re.search(r"<td>\s*" + re.escape(target["target_database_name"]), log.text)


def test_results_go_with_their_execution(api: Api, pg_targets: list[str]) -> None:
    execution_id = _run(api, pg_targets)
    assert api.get(f"{URL}/{execution_id}/results")["total_rows"] == 12
    assert api.fleet.purge(older_than_days=0) == 1
    api.error("GET", f"{URL}/{execution_id}/results", 404, "NotFound")
    with api.fleet.store.engine.connect() as connection:
        left = connection.exec_driver_sql("SELECT count(*) FROM target_result").scalar_one()
    assert left == 0


def test_bad_result_queries_are_4xx(queue_api: Api) -> None:
    api = queue_api
    api.post("/api/v1/target-groups", 201, json={"name": "g"})
    step = {"name": "main", "command": "SELECT 1", "target_group": "g", "credential": "pg"}
    api.post("/api/v1/jobs", 201, json={"name": "j", "steps": [step]})
    execution_id = api.post("/api/v1/jobs/j/executions", 202)["job_execution_id"]
    results = f"{URL}/{execution_id}/results"
    message = api.error("GET", results, 404, "NotFound", params={"step": "nope"})
    assert message == f"execution {execution_id} has no step named 'nope' (its steps: 'main')"
    api.error("GET", f"{results}.csv", 404, "NotFound", params={"step": "nope"})
    api.error("GET", f"{URL}/999/results", 404, "NotFound")
    api.error("GET", f"{URL}/999/results.csv", 404, "NotFound")
    api.error("GET", f"{URL}/999/targets/1/result", 404, "NotFound")
    api.error("GET", f"{URL}/{execution_id}/targets/999/result", 404, "NotFound")
    for params in ({"limit": 0}, {"limit": 10001}, {"offset": -1}, {"step": ""}, {"limit": "x"}):
        api.error("GET", results, 422, "ValidationError", params=params)
    empty = api.get(results)
    assert (empty["rows"], empty["total_rows"]) == ([], 0)
    page = api.client.get(f"/executions/{execution_id}/results", headers=HTML)
    assert "No target has returned rows yet." in page.text
    assert api.client.get(f"/executions/{execution_id}/results?step=nope").status_code == 404


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
