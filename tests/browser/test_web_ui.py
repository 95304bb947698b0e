"""The web UI in headless Chromium against a fleet of ten real PostgreSQL databases."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import FLEET_SIZE, PG, Web, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

ROWS = "#targets tbody tr"


def group_of_ten(web: Web, name: str) -> None:
    with web.fleet() as fleet:
        fleet.add_target_group(name)
        fleet.add_member(name, server=PG, database_pattern=f"{web.prefix}_*")


def create_job(
    page: Page, name: str, script: str, group: str, shot: str = "", **settings: str
) -> None:
    """Fill in "Create job" (settings go in the folded step settings) and Save and Run."""
    page.goto("/jobs")
    page.get_by_role("link", name="+ Create job").click()
    page.fill("#name", name)
    page.fill("#command", script)
    page.select_option("#target_group", group)
    page.select_option("#credential", "pg")
    if settings:
        page.get_by_text("Step settings").click()
        for field, value in settings.items():
            page.fill(f"#{field}", value)
    if shot:
        screenshot(page, shot)
    page.get_by_role("button", name="Save and Run").click()
    expect(page).to_have_url(re.compile(r"/executions/\d+$"))


def test_a_job_made_in_the_form_runs_on_ten_databases_live(page: Page, web: Web) -> None:
    # The target group, through its pages: a server member with a database pattern.
    page.goto("/target-groups")
    page.fill("#name", "fleet-of-ten")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("h1")).to_have_text("fleet-of-ten")
    page.fill("#server", PG)
    page.fill("#database_pattern", f"{web.prefix}_*")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator("#members tbody tr")).to_have_count(1)
    page.select_option("#resolve-credential", "pg")
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("#resolved-count")).to_have_text(str(FLEET_SIZE))
    screenshot(page, "target-group-resolved")

    create_job(
        page,
        "add-audit-table",
        "CREATE TABLE IF NOT EXISTS audit_web (id int);\nSELECT pg_sleep(1);",
        "fleet-of-ten",
        shot="create-job",
        max_parallelism="5",
    )
    page.evaluate("window.notReloaded = true")
    # At first the group is being resolved: the rows come in while we watch.
    assert page.locator(f"{ROWS}[data-state=Succeeded]").count() < FLEET_SIZE
    expect(page.locator(ROWS)).to_have_count(FLEET_SIZE)
    screenshot(page, "execution-running")

    expect(page.locator(f"{ROWS}[data-state=Succeeded]")).to_have_count(FLEET_SIZE, timeout=30_000)
    expect(page.locator("#execution-state")).to_have_text("Succeeded")
    expect(page.locator('#chips [data-filter="Succeeded"] b')).to_have_text(str(FLEET_SIZE))
    expect(page.locator("#stop-form")).to_be_hidden()
    assert page.evaluate("window.notReloaded") is True, "the page was reloaded"
    databases = page.locator(f"{ROWS} td.database").all_inner_texts()
    assert sorted(databases) == sorted(web.databases)
    screenshot(page, "execution-succeeded")

    page.get_by_role("link", name="Jobs", exact=True).click()
    row = page.locator('#jobs tr[data-job="add-audit-table"]')
    expect(row.locator(".last-execution .state")).to_have_text("Succeeded")
    screenshot(page, "jobs")
    row.get_by_role("link", name="add-audit-table").click()
    expect(page.locator("pre.script")).to_contain_text("CREATE TABLE IF NOT EXISTS audit_web")
    screenshot(page, "job")


def test_a_failing_script_shows_failed_targets_with_the_server_error(page: Page, web: Web) -> None:
    group_of_ten(web, "failing-ten")
    create_job(
        page,
        "divide-by-zero",
        "SELECT 1/0;",
        "failing-ten",
        retry_attempts="1",
        initial_retry_interval_seconds="0",
    )
    expect(page.locator(f"{ROWS}[data-state=Failed]")).to_have_count(FLEET_SIZE, timeout=30_000)
    expect(page.locator("#execution-state")).to_have_text("Failed")
    messages = page.locator(f"{ROWS} td.message").all_inner_texts()
    assert all("division by zero" in m for m in messages), messages
    attempts = page.locator(f"{ROWS} td.attempts").all_inner_texts()
    assert attempts == ["2"] * FLEET_SIZE

    page.locator('#chips [data-filter="Failed"]').click()
    expect(page).to_have_url(re.compile(r"state=Failed"))
    expect(page.locator(f"{ROWS}:visible")).to_have_count(FLEET_SIZE)
    page.locator('#chips [data-filter="Succeeded"]').wait_for(state="detached")
    screenshot(page, "execution-failed")

    page.locator(ROWS).first.get_by_role("link", name="log").click()
    # Both attempts failed alike: one entry, "Attempts 1-2", with the message once.
    expect(page.locator("#attempts .attempt")).to_have_count(1)
    expect(page.locator("#attempts .attempt-head b")).to_have_text("Attempts 1\u20132")
    expect(page.locator("#attempts pre.log").first).to_contain_text("division by zero")
    screenshot(page, "target-error-log")


def test_stop_cancels_a_long_running_execution(page: Page, web: Web) -> None:
    group_of_ten(web, "sleepy-ten")
    with web.fleet() as fleet:
        fleet.add_job("sleep-a-minute")
        fleet.add_step(
            "sleep-a-minute",
            "sleep",
            command="SELECT pg_sleep(60)",
            target_group="sleepy-ten",
            credential="pg",
        )
    page.goto("/jobs/sleep-a-minute")
    page.get_by_role("button", name="▶ Run").click()
    expect(page).to_have_url(re.compile(r"/executions/\d+$"))
    expect(page.locator(f"{ROWS}[data-state=InProgress]")).to_have_count(FLEET_SIZE, timeout=30_000)
    screenshot(page, "execution-before-stop")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#execution-state")).to_have_text("Canceled")
    expect(page.locator(f"{ROWS}[data-state=Canceled]")).to_have_count(FLEET_SIZE, timeout=30_000)
    expect(page.locator(".flash.ok")).to_contain_text("stopped")
    screenshot(page, "execution-canceled")


def test_credentials_page_adds_without_showing_secrets(page: Page) -> None:
    page.goto("/credentials")
    page.fill("#name", "reporting")
    page.fill("#username", "reader")
    page.fill("#secret", "Very-Secret-Value-42")
    page.get_by_role("button", name="Add credential").click()
    expect(page.locator(".flash.ok")).to_contain_text("reporting added")
    expect(page.locator("#credentials")).to_contain_text("reader")
    assert "Very-Secret-Value-42" not in page.content()
    screenshot(page, "credentials")
    page.goto("/jobs")
    screenshot(page, "jobs-overview")  # the jobs the tests above made, with their last state
