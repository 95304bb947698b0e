"""An execution of many targets in the browser: pages, state chips and search on the server."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from sqlfleet.lifecycle import Lifecycle
from sqlfleet.store import tables as t
from tests.api.test_target_pages import big_execution
from tests.browser.conftest import Web, screenshot
from tests.browser.test_web_ui import ROWS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

TARGETS = 250


def test_every_target_of_a_big_execution_is_reachable(page: Page, web: Web) -> None:
    with web.fleet() as fleet:
        execution_id = big_execution(fleet, TARGETS, job="many-targets")
    page.goto(f"/executions/{execution_id}")
    expect(page.locator(ROWS)).to_have_count(100)
    expect(page.locator("#pager-text")).to_have_text(f"1\u2013100 of {TARGETS}")
    expect(page.locator('#chips [data-filter="Failed"] b')).to_have_text("1")

    page.locator("#page-next").click()
    expect(page.locator("#pager-text")).to_have_text(f"101\u2013200 of {TARGETS}")
    expect(page.locator(f"{ROWS} td.database").first).to_have_text("tenant_00101")

    # The one Failed target, the last of 250, is one click away.
    page.locator('#chips [data-filter="Failed"]').click()
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator(f"{ROWS} td.database")).to_have_text(f"tenant_{TARGETS:05d}")

    page.locator('#chips [data-filter=""]').click()
    page.fill("#target-search", "tenant_0002")
    page.select_option("#target-sort", "database")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(ROWS)).to_have_count(10)
    screenshot(page, "execution-search")

    # A target that changes while the page is open is updated in place, without a reload.
    page.evaluate("window.notReloaded = true")
    with web.fleet() as fleet, fleet.store.engine.begin() as conn:
        te = t.target_execution
        conn.execute(
            update(te)
            .where(
                te.c.job_execution_id == execution_id, te.c.target_database_name == "tenant_00021"
            )
            .values(lifecycle=Lifecycle.IN_PROGRESS.value, current_attempts=1)
        )
    expect(page.locator(f'{ROWS}[data-state="InProgress"] td.database')).to_have_text(
        "tenant_00021"
    )
    assert page.evaluate("window.notReloaded") is True
