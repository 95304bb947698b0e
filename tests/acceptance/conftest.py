"""Acceptance fixtures: sqlfleet agents as real processes, a fleet of real databases."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.integration.conftest import pg_fleet, pg_server  # noqa: F401 -- shared fixtures

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


class AgentProcess:
    """`sqlfleet agent` running in a subprocess, its output in a log file."""

    def __init__(self, job_db: str, name: str, log_dir: Path, *extra: str) -> None:
        self.name = name
        self.log = log_dir / f"agent-{name}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sqlfleet",
                    "--job-db",
                    job_db,
                    "agent",
                    "--name",
                    name,
                    *extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=os.environ.copy(),
            )

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    """Factory: `agents(job_db, name, *options)` starts an agent; all are killed afterwards."""
    started: list[AgentProcess] = []

    def start(job_db: str, name: str, *extra: str) -> AgentProcess:
        agent = AgentProcess(job_db, name, tmp_path, *extra)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()
        # Shown by pytest only when the test failed: what each agent said.
        print(f"--- agent {agent.name} (exit {agent.process.returncode}) ---")
        print(agent.output()[-4000:])


def _admin(statement: sql.Composable) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(statement)


@contextlib.contextmanager
def database_fleet(n: int) -> Iterator[tuple[str, list[str]]]:
    """`n` PostgreSQL databases on the shared server, dropped afterwards: (prefix, names)."""
    prefix = f"sqlfleet_acc_{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}_{i:03d}" for i in range(n)]
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda n: _admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(n))), names
            )
        )
    try:
        yield prefix, names
    finally:
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda n: _admin(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(n))
                    ),
                    names,
                )
            )


@pytest.fixture(scope="module")
def big_fleet() -> Iterator[tuple[str, list[str]]]:
    """300 PostgreSQL databases shared by a module's tests: (name prefix, names)."""
    with database_fleet(300) as fleet:
        yield fleet


def count_rows(names: list[str], table: str) -> dict[str, int]:
    """How many rows `table` has in each database (0 when it does not exist)."""

    def count(name: str) -> int:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as conn:
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [table]).fetchone()
            if not exists or not exists[0]:
                return 0
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()
            return int(row[0]) if row else 0

    with ThreadPoolExecutor(8) as pool:
        return dict(zip(names, pool.map(count, names), strict=True))
