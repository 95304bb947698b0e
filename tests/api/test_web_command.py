"""`sqlfleet web` as a process: served off 127.0.0.1 only with a token, and stopped cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.browser.server import running_web, sqlfleet_env

pytestmark = pytest.mark.timeout(60)

TOKEN = "a-long-token-for-the-process-test"


def get(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}"} if token else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_web_on_every_address_needs_the_token(tmp_path: Path) -> None:
    job_db = f"sqlite:///{tmp_path / 'jobs.db'}"
    env = sqlfleet_env(SQLFLEET_HOME=str(tmp_path), SQLFLEET_API_TOKEN=TOKEN)
    subprocess.run(
        [sys.executable, "-m", "sqlfleet", "--job-db", job_db, "init"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    with running_web(job_db, env, "--host", "0.0.0.0") as web:
        assert get(f"{web.url}/api/v1/jobs") == (
            401,
            {
                "error": {
                    "type": "Unauthorized",
                    "message": "send the server's SQLFLEET_API_TOKEN as `Authorization: Bearer <token>`",
                }
            },
        )
        assert get(f"{web.url}/api/v1/jobs", "wrong")[0] == 401
        assert get(f"{web.url}/api/v1/jobs", TOKEN) == (200, [])
    assert "sqlfleet web on http://0.0.0.0:" in web.printed
    assert TOKEN not in web.printed


def test_web_on_another_loopback_address_needs_no_token(tmp_path: Path) -> None:
    job_db = f"sqlite:///{tmp_path / 'jobs.db'}"
    env = sqlfleet_env(SQLFLEET_HOME=str(tmp_path))
    subprocess.run(
        [sys.executable, "-m", "sqlfleet", "--job-db", job_db, "init"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    with running_web(job_db, env, "--host", "127.0.0.2") as web:
        # Served by its own address (with the port) as the Host header.
        assert web.url.startswith("http://127.0.0.2:")
        assert get(f"{web.url}/api/v1/jobs") == (200, [])
