"""Rolling out safely in the web UI: preview a job, then re-run the targets that failed."""

from __future__ import annotations

import re
import secrets

import psycopg
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import FLEET_SIZE, PG, Web, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

ROWS = "#targets tbody tr"


def _create_table(database: str, table: str) -> None:
    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:5432/{database}", autocommit=True, connect_timeout=5
    ) as connection:
        connection.execute(f"CREATE TABLE {table} (id int)")


def test_preview_then_rerun_the_failed_targets(page: Page, web: Web) -> None:
    table = f"ready_{secrets.token_hex(4)}"
    ready, missing = web.databases[:6], web.databases[6:]
    for database in ready:
        _create_table(database, table)
    with web.fleet() as fleet:
        fleet.add_target_group("rerun-ten")
        fleet.add_member("rerun-ten", server=PG, database_pattern=f"{web.prefix}_*")
        fleet.add_job("fill")
        fleet.add_step(
            "fill",
            "insert",
            command=f"INSERT INTO {table} VALUES ($(step_id))",
            target_group="rerun-ten",
            credential="pg",
            retry_on="transient",
        )

    page.goto("/jobs/fill")
    page.get_by_role("link", name="Preview").click()
    expect(page.locator("pre.script")).to_have_count(FLEET_SIZE)
    expect(page.locator("pre.script").first).to_have_text(f"INSERT INTO {table} VALUES (1)")
    screenshot(page, "job-preview")

    page.goto("/jobs/fill")
    page.get_by_role("button", name="▶ Run").click()
    expect(page).to_have_url(re.compile(r"/executions/\d+$"))
    first_url = page.url
    expect(page.locator("#execution-state")).to_have_text("Failed", timeout=30_000)
    expect(page.locator(f"{ROWS}[data-state=Failed]")).to_have_count(len(missing))
    expect(page.locator(f"{ROWS}[data-state=Failed] td.message").first).to_contain_text(
        "not a transient error"
    )
    for database in missing:
        _create_table(database, table)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Re-run failed targets").click()
    expect(page).not_to_have_url(first_url)
    expect(page).to_have_url(re.compile(r"/executions/\d+$"))
    first_id = first_url.rsplit("/", 1)[1]
    expect(page.locator("#rerun-of")).to_contain_text(f"#{first_id}")
    expect(page.locator("#execution-state")).to_have_text("Succeeded", timeout=30_000)
    expect(page.locator(ROWS)).to_have_count(len(missing))
    databases = page.locator(f"{ROWS} td.database").all_inner_texts()
    assert sorted(databases) == sorted(missing)
    expect(page.locator("#rerun-form")).to_be_hidden()
    screenshot(page, "execution-rerun-succeeded")
