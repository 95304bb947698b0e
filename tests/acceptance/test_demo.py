"""The README's main command: the demo comes up at a printed URL with a job that has run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.polling import wait_for as _until

pytestmark = pytest.mark.timeout(120)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def test_demo_serves_a_job_that_ran(tmp_path: Path) -> None:
    home = tmp_path / "home"
    log = tmp_path / "demo.log"
    env = {**os.environ, "SQLFLEET_HOME": str(home)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sqlfleet", "demo", "--port", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        found = _until(
            lambda: re.search(r"http://127\.0\.0\.1:\d+/", log.read_text()), 60, "the printed URL"
        )
        url = found.group(0)

        def ran() -> bool:
            executions = json.loads(_get(url + "api/v1/executions?job=demo-inventory"))
            return bool(executions) and executions[0]["lifecycle"] == "Succeeded"

        _until(ran, 30, "the demo job to succeed")
        assert "demo-inventory" in _get(url + "jobs")
        assert (home / "demo" / "demo-results" / "results.db").exists()
        # The demo keeps to its own folder: the user's job database was never made.
        assert (home / "demo" / "jobs.db").exists() and not (home / "jobs.db").exists()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
        assert "Traceback" not in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_demo_reset_starts_afresh_and_leaves_the_real_job_database_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "SQLFLEET_HOME": str(home)}
    env.pop("SQLFLEET_JOB_DB", None)

    def sqlfleet(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "sqlfleet", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    sqlfleet("init")
    sqlfleet("demo", "--no-serve")
    again = sqlfleet("demo", "--no-serve")
    assert "execution 2 started" in again
    assert "demo-inventory" not in sqlfleet("job", "list")  # the user's own job database
    # The demo's own job database, seen through SQLFLEET_HOME: a new job is version 1.
    env["SQLFLEET_HOME"] = str(home / "demo")
    [job] = json.loads(sqlfleet("job", "list", "--json"))
    assert (job["job_name"], job["job_version"]) == ("demo-inventory", 1)
    env["SQLFLEET_HOME"] = str(home)
    fresh = sqlfleet("demo", "--no-serve", "--reset")
    assert f"demo folder {home / 'demo'} deleted" in fresh
    assert "execution 1 started" in fresh
