"""Running `sqlfleet web` as a user does: a real process, on a port the system picks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest


@dataclass
class WebProcess:
    """A running `sqlfleet web`: where it listens and what it printed so far."""

    url: str
    output: list[str] = field(default_factory=list)

    @property
    def printed(self) -> str:
        return "".join(self.output)


def sqlfleet_env(**values: str) -> dict[str, str]:
    """This environment without any SQLFLEET_* setting of the caller's, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLFLEET_")}
    env.update(values, PYTHONUNBUFFERED="1")
    return env


@contextmanager
def running_web(job_db: str, env: Mapping[str, str], *options: str) -> Iterator[WebProcess]:
    """`sqlfleet --job-db JOB_DB web --port 0 OPTIONS`, until the block ends."""
    command = [sys.executable, "-m", "sqlfleet", "--job-db", job_db]
    server = subprocess.Popen(
        [*command, "web", "--port", "0", *options],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(server.stdout or []), daemon=True)
    reader.start()
    try:
        yield WebProcess(_wait_until_serving(server, output), output)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        reader.join(timeout=5)
        if server.stdout is not None:
            server.stdout.close()
    assert "Traceback" not in "".join(output), "".join(output)


def _wait_until_serving(server: subprocess.Popen[str], output: list[str]) -> str:
    deadline = time.monotonic() + 30
    url = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"sqlfleet web exited with {server.returncode}: {''.join(output)}")
        if url is None:
            match = re.search(r"sqlfleet web on http://(\S+):(\d+)/", "".join(output))
            if match:
                # 0.0.0.0 and :: listen everywhere, this machine included.
                host = "127.0.0.1" if match.group(1) in ("0.0.0.0", "[::]") else match.group(1)
                url = f"http://{host}:{match.group(2)}"
        if url is not None:
            try:
                with urllib.request.urlopen(f"{url}/openapi.json", timeout=2) as response:
                    if response.status == 200:
                        return url
            except (urllib.error.URLError, ConnectionError):
                pass
        time.sleep(0.1)
    pytest.fail(f"sqlfleet web did not start within 30 s: {''.join(output)}")
