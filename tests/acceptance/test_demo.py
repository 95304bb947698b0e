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
        assert (home / "demo-results" / "results.db").exists()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
        assert "Traceback" not in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
