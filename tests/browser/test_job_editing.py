"""Changing a job in the browser: fix its script, run it, add a step, read the diff."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import FLEET_SIZE, Web, screenshot
from tests.browser.test_web_ui import ROWS, group_of_ten

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def test_fix_a_script_in_the_ui_run_it_add_a_step_and_read_the_diff(page: Page, web: Web) -> None:
    group_of_ten(web, "edit-ten")
    with web.fleet() as fleet:
        step = {"command": "SELECT 1/0;", "target_group": "edit-ten", "credential": "pg"}
        fleet.add_job("fix-me", steps=[("main", step)])
    page.goto("/jobs/fix-me")
    expect(page.locator("#enabled-tag")).to_have_text("manual")

    # Fix the script in the step's form: a new version.
    page.locator(".step").first.get_by_role("link", name="Edit", exact=True).click()
    expect(page.locator("h1")).to_have_text("Edit step main")
    page.fill("#command", "SELECT 2 AS fixed;")
    page.fill("#retry_attempts", "0")
    screenshot(page, "step-edit")
    page.get_by_role("button", name="Save step").click()
    expect(page.locator(".flash.ok")).to_contain_text("version 2")
    expect(page.locator("pre.script").first).to_have_text("SELECT 2 AS fixed;")

    # Run it: the execution is of version 2, and it succeeds everywhere.
    page.get_by_role("button", name="▶ Run").click()
    expect(page).to_have_url(re.compile(r"/executions/\d+$"))
    expect(page.locator(".page-head .sub")).to_contain_text("version 2")
    expect(page.locator(f"{ROWS}[data-state=Succeeded]")).to_have_count(FLEET_SIZE, timeout=30_000)
    page.get_by_role("link", name="fix-me").first.click()

    # Add a second step.
    page.get_by_role("link", name="+ Add a step").click()
    page.fill("#step_name", "second")
    page.fill("#command", "SELECT 3;")
    page.select_option("#target_group", "edit-ten")
    page.select_option("#credential", "pg")
    page.get_by_role("button", name="Save step").click()
    expect(page.locator(".flash.ok")).to_contain_text("Step second added (version 3)")
    expect(page.locator(".step h2")).to_have_text(["1. main", "2. second"])

    # A bad value is one line on the form, and nothing is saved.
    page.locator(".step").nth(1).get_by_role("link", name="Edit", exact=True).click()
    page.fill("#connect_timeout_seconds", "0")
    page.evaluate("document.getElementById('step-form').noValidate = true")
    page.get_by_role("button", name="Save step").click()
    expect(page.locator("#form-error")).to_contain_text("connect_timeout_seconds")
    page.get_by_role("link", name="Cancel").click()

    # The versions, and what changed from version 1 to 2: the script as a diff.
    expect(page.locator("#versions tbody tr")).to_have_count(3)
    page.locator('#versions tr[data-version="2"]').get_by_role("link", name="changes").click()
    expect(page.locator("h1")).to_have_text("fix-me: version 1 → 2")
    expect(page.locator("pre.diff .del")).to_have_text(["-SELECT 1/0;"])
    expect(page.locator("pre.diff .add")).to_have_text(["+SELECT 2 AS fixed;"])
    screenshot(page, "job-diff")
    page.select_option('#diff-versions select[name="from"]', "2")
    page.select_option('#diff-versions select[name="to"]', "3")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator('.diff-step[data-step="second"]')).to_have_attribute("data-change", "added")
