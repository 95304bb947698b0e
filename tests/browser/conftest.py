"""Fixtures for the browser tests: `sqlfleet web` as a user starts it, and headless Chromium.

The server is a real `sqlfleet web --port 0` process on a SQLite job database; the targets
are ten real PostgreSQL databases. Chromium is Debian's (`scripts/install-browser`), driven by
Playwright; a missing browser fails the tests, it never skips them.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Page, sync_playwright

from sqlfleet.fleet import Fleet
from sqlfleet.secrets import KEY_ENV, Secret
from tests.browser.server import running_web, sqlfleet_env
from tests.conftest import pg_admin

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PG = "postgresql://127.0.0.1:5432"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
FLEET_SIZE = 10


@dataclass
class Web:
    """A running `sqlfleet web`: its URL, and a way to define things with the Python API."""

    url: str
    job_db: str
    key: str
    databases: list[str]
    prefix: str

    def fleet(self) -> Fleet:
        """A Fleet on the server's job database (close it after use)."""
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(KEY_ENV, self.key)
            fleet = Fleet.open(self.job_db)
            fleet.secrets  # noqa: B018 -- reads the key while it is set
        return fleet


@pytest.fixture(scope="session")
def pg_fleet_of_ten() -> Iterator[tuple[str, list[str]]]:
    """Ten PostgreSQL databases `<prefix>_<i>` for the session; their prefix and names."""
    prefix = f"sqlfleet_web_{secrets.token_hex(4)}"
    names = [f"{prefix}_{i}" for i in range(FLEET_SIZE)]

    def run(statement: str) -> None:
        with pg_admin() as admin:
            admin.execute(statement)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda name: run(f'CREATE DATABASE "{name}"'), names))
    yield prefix, names
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda name: run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'), names))


@pytest.fixture(scope="module")
def web(
    tmp_path_factory: pytest.TempPathFactory, pg_fleet_of_ten: tuple[str, list[str]]
) -> Iterator[Web]:
    """`sqlfleet web --port 0` on a fresh job database with a credential `pg`."""
    home = tmp_path_factory.mktemp("web-home")
    job_db = f"sqlite:///{home / 'jobs.db'}"
    key = Fernet.generate_key().decode()
    env = sqlfleet_env(SQLFLEET_HOME=str(home), **{KEY_ENV: key})
    subprocess.run(
        [sys.executable, "-m", "sqlfleet", "--job-db", job_db, "init"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    with running_web(job_db, env) as server:
        prefix, names = pg_fleet_of_ten
        web = Web(url=server.url, job_db=job_db, key=key, databases=names, prefix=prefix)
        with web.fleet() as fleet:
            fleet.add_credential("pg", "postgres", Secret("unused-under-trust-auth"))
        yield web


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, web: Web) -> Iterator[Page]:
    """A fresh browser tab on the server, 1280 wide; it fails the test on a page error."""
    context = browser.new_context(base_url=web.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[Any] = []
    tab.on("pageerror", lambda error: errors.append(error))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def screenshot(page: Page, name: str) -> None:
    """Save the whole page as artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
