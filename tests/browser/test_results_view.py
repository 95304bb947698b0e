"""The Results view in headless Chromium: the demo job's rows, merged, and their CSV download."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Page, expect

from sqlfleet.demo import JOB, create_demo
from sqlfleet.secrets import KEY_ENV
from tests.browser.conftest import Web, screenshot
from tests.browser.server import running_web, sqlfleet_env

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

TENANTS = 12


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """`sqlfleet web --port 0` on a fresh job database: the demo needs no database server."""
    home = tmp_path_factory.mktemp("results-web-home")
    job_db = f"sqlite:///{home / 'jobs.db'}"
    key = Fernet.generate_key().decode()
    env = sqlfleet_env(SQLFLEET_HOME=str(home), **{KEY_ENV: key})
    command = [sys.executable, "-m", "sqlfleet", "--job-db", job_db, "init"]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=60)
    with running_web(job_db, env) as server:
        yield Web(url=server.url, job_db=job_db, key=key, databases=[], prefix="")


def _output_table(path: Path, execution_id: int) -> list[list[str]]:
    """The demo's output table rows of one execution, as text, without the execution id."""
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT target_server_name, target_database_name, tenant, customers, total_balance "
            "FROM tenant_inventory WHERE internal_execution_id = ?",
            (execution_id,),
        ).fetchall()
    db.close()
    return [["" if v is None else str(v) for v in row] for row in rows]


def test_the_demo_jobs_results_and_their_csv_are_the_output_tables_rows(
    page: Page, web: Web, tmp_path: Path
) -> None:
    with web.fleet() as fleet:
        create_demo(fleet, tmp_path / "demo-fleet", TENANTS)
    page.goto(f"/jobs/{JOB}")
    page.get_by_role("button", name="▶ Run").click()
    expect(page).to_have_url(re.compile(r"/executions/\d+$"))
    execution_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#execution-state")).to_have_text("Succeeded", timeout=30_000)

    page.locator("#results-link").click()
    expect(page).to_have_url(re.compile(rf"/executions/{execution_id}/results$"))
    headers = page.locator("#results thead th").all_inner_texts()
    assert headers == [
        "target_server_name",
        "target_database_name",
        "tenant",
        "customers",
        "total_balance",
    ]
    expect(page.locator("#results tbody tr")).to_have_count(TENANTS)
    expect(page.locator("#results-range")).to_have_text(
        f"Rows 1\u2013{TENANTS} of {TENANTS} from {TENANTS} targets"
    )
    shown = [row.locator("td").all_inner_texts() for row in page.locator("#results tbody tr").all()]
    screenshot(page, "execution-results")

    with page.expect_download() as download_info:
        page.locator("#download-csv").click()
    download = download_info.value
    assert download.suggested_filename == f"execution-{execution_id}-results.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert rows[0] == headers
    table = _output_table(tmp_path / "demo-results" / "results.db", execution_id)
    assert len(table) == TENANTS
    assert sorted(rows[1:]) == sorted(table)
    assert rows[1:] == shown  # the view shows the same rows, in the same order

    # One tenant's log shows its row.
    page.goto(f"/executions/{execution_id}")
    page.locator("#targets tbody tr").first.get_by_role("link", name="log").click()
    expect(page.locator("#target-result-count")).to_contain_text("1 row returned")
    cells = page.locator("#target-result tbody td").all_inner_texts()
    assert cells in [row[2:] for row in table]
    screenshot(page, "target-result")
