"""Fixtures for the robustness suite: one seeded job database per engine per module.

Every bad input must be refused cleanly and change nothing, so the tests share one job
database per module (on SQLite and on PostgreSQL) and compare a dump of what is stored
before and after each input. The CLI runs in this process (`sqlfleet.cli.main`), with its
output captured; the REST API and the pages run in a TestClient.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select

from sqlfleet.api import AgentLauncher, create_app
from sqlfleet.cli import main
from sqlfleet.fleet import Fleet
from sqlfleet.secrets import KEY_ENV, Secret
from sqlfleet.store import tables as t
from tests.conftest import pg_admin
from tests.robustness.bad import URL_PASSWORD

KEY = Fernet.generate_key().decode()
PASSWORD_ENV = "SQLFLEET_ROBUSTNESS_PASSWORD"
# What a refused command changes: nothing in these tables.
WATCHED = (
    t.credential,
    t.target_group,
    t.target_group_member,
    t.job,
    t.job_version,
    t.job_step,
    t.job_webhook,
    t.job_execution,
)


@dataclass
class Seeded:
    """A job database with a credential, a group with a member, jobs, a step, an execution."""

    url: str
    fleet: Fleet
    member_id: int
    execution_id: int

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the definition tables (and the executions), in a stable order."""
        with self.fleet.store.engine.connect() as conn:
            return {
                table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
                for table in WATCHED
            }


@pytest.fixture(autouse=True)
def _secret_key(sqlfleet_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's key for every command (each CLI call opens the job database anew)."""
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv(PASSWORD_ENV, "pw")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    """A job database per engine for the module, seeded with one of everything."""
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('robustness') / 'jobs.db'}"
    else:
        template = request.getfixturevalue("pg_job_db_template")
        name = f"sqlfleet_test_robust_{uuid.uuid4().hex[:10]}"
        with pg_admin() as admin:
            admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, KEY)
        Fleet.init(url)
        fleet = Fleet.open(url)
        fleet.secrets  # noqa: B018 -- reads the key while it is set
        fleet.add_credential("pg", "postgres", Secret("pw"))
        fleet.add_target_group("g")
        member = fleet.add_member("g", server="postgresql://127.0.0.1:5432", database="d")
        fleet.add_job("k")
        fleet.add_job("j")
        fleet.add_step("j", "s", command="SELECT 1", target_group="g", credential="pg")
        execution = fleet.create_execution("j")
    try:
        yield Seeded(url, fleet, member.id, execution.id)
    finally:
        fleet.close()
        if name is not None:
            with pg_admin() as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass
class Run:
    """What one command printed and returned."""

    code: int
    out: str
    err: str


class Cli:
    """`sqlfleet --job-db URL ...` in this process, with stdin given and output captured."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, *args: str, stdin: str = "") -> Run:
        out, err = io.StringIO(), io.StringIO()
        saved = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(["--job-db", self.url, *args])
        finally:
            sys.stdin = saved
        return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def cli(seeded: Seeded) -> Cli:
    """The command line on the module's job database."""
    return Cli(seeded.url)


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    """The REST API and pages on the module's job database; started executions only wait."""
    app = create_app(seeded.fleet, launcher=AgentLauncher())
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client


def assert_refused(run: Run, args: tuple[str, ...] | list[str]) -> None:
    """A clean refusal: exit 2 and one `error:` line, nothing on stdout, no traceback."""
    shown = " ".join(a.encode("utf-8", "backslashreplace").decode()[:80] for a in args)
    assert run.code == 2, f"sqlfleet {shown}: exit {run.code}, {run.err!r}"
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), f"sqlfleet {shown}: {run.err!r}"
    assert "Traceback" not in run.err and run.out == "", f"sqlfleet {shown}: {run.out!r}"
    assert URL_PASSWORD not in run.err, f"sqlfleet {shown}: the password shows: {run.err!r}"


def assert_api_error(response: Any, what: str) -> None:
    """A 4xx with a one-line JSON error body."""
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.text}"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}, body
    message = body["error"]["message"]
    assert message and "\n" not in message and "Traceback" not in message, body
    assert URL_PASSWORD not in response.text, f"{what}: the password shows: {response.text}"


def password_env() -> str:
    """The environment variable the CLI tests read a (good) password from."""
    assert os.environ[PASSWORD_ENV]
    return PASSWORD_ENV
