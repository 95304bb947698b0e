"""`sqlfleet up` serving hundreds of executions and the pages that watch them: flat memory.

One `up` process runs 300 executions of a job on a small SQLite fleet, started through the
REST API ten at a time, each followed by what an open browser tab fetches (the job list, the
execution list, the execution's page and its live JSON). Its resident memory after the last
200 executions stays within a few MB of what it was after the first 100: nothing is kept per
execution once it ended.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.polling import wait_for

EXECUTIONS = 300
AT_ONCE = 10
TENANTS = 10
# Caches of bounded size (SQLAlchemy's compiled statements, SQLite's pages, the allocator's
# pools) fill during the first few hundred executions: measured +2.4 to +3.7 MB from the 100th
# to the 300th execution, then +0.7 MB over the next 300. A leak of 25 KB an execution fails.
ALLOWED_GROWTH_MB = 5.0

FLEET = """\
credentials:
  - {{name: local, username: local, secret: {{env: FLEET_SECRET}}}}
target_groups:
  - name: tenants
    members: [{{server: "sqlite:///{folder}"}}]
jobs:
  - name: census
    steps:
      - name: count
        target_group: tenants
        credential: local
        retry_attempts: 0
        command: |
          CREATE TABLE IF NOT EXISTS visits (at TEXT);
          INSERT INTO visits VALUES (datetime('now'))
          GO
          SELECT '$(target_database_name)' AS tenant, count(*) AS visits FROM visits
"""


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match.group(1)) / 1024


@pytest.fixture
def up(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`sqlfleet up` on a SQLite job database and a fleet of SQLite tenants; (process, URL)."""
    folder = tmp_path / "tenants"
    folder.mkdir()
    for i in range(TENANTS):
        sqlite3.connect(folder / f"tenant_{i:02d}.db").close()
    (tmp_path / "fleet.yaml").write_text(FLEET.format(folder=folder))
    env = {**os.environ, "FLEET_SECRET": "local-only"}
    sqlfleet = [sys.executable, "-m", "sqlfleet"]
    subprocess.run([*sqlfleet, "init"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*sqlfleet, "apply", str(tmp_path / "fleet.yaml")], env=env, check=True, capture_output=True
    )
    log = (tmp_path / "up.log").open("wb")
    process = subprocess.Popen(
        [*sqlfleet, "up", "--port", "0"], env=env, stdout=log, stderr=subprocess.STDOUT
    )

    def address() -> str | None:
        found = re.search(r"on (http://127\.0\.0\.1:\d+)/", (tmp_path / "up.log").read_text())
        return found.group(1) if found else None

    try:
        url = wait_for(address, 60, "sqlfleet up to say where it listens")
        yield process, url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
        assert "Traceback" not in (tmp_path / "up.log").read_text()


def test_memory_stays_flat_over_300_executions_and_their_pages(
    up: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, url = up
    rss: dict[int, float] = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for done in range(AT_ONCE, EXECUTIONS + 1, AT_ONCE):
            started = [
                client.post("/api/v1/jobs/census/executions").json()["job_execution_id"]
                for _ in range(AT_ONCE)
            ]

            def all_ended(ids: list[int] = started) -> bool:
                states = [client.get(f"/api/v1/executions/{i}").json()["lifecycle"] for i in ids]
                return all(state == "Succeeded" for state in states) or (
                    any(state in ("Failed", "Canceled", "TimedOut") for state in states)
                    and pytest.fail(f"executions {ids} ended {states}")
                )

            wait_for(all_ended, 120, f"executions {started} to succeed")
            for execution in started:
                for page in ("/jobs", "/executions", f"/executions/{execution}"):
                    assert client.get(page).status_code == 200
                live = client.get(f"/executions/{execution}/live.json").json()
                assert live["execution"]["lifecycle"] == "Succeeded"
            rss[done] = _rss_mb(process.pid)
    growth = rss[EXECUTIONS] - rss[100]
    trend = ", ".join(f"{n}: {mb:.1f}" for n, mb in rss.items() if n % 50 == 0)
    assert growth < ALLOWED_GROWTH_MB, f"RSS grew {growth:.1f} MB after execution 100 ({trend})"
