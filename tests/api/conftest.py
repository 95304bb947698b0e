"""Fixtures for the REST API and page tests: an app on a real job database, and its client.

`Api` wraps Starlette's TestClient: every call states the status it expects, error answers
must be one-line JSON errors, and every response is kept so that the fixture can check, after
each test, that no response ever held a credential's secret.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from sqlfleet.api import AgentLauncher, create_app
from sqlfleet.api.launcher import Launcher
from sqlfleet.fleet import Fleet
from sqlfleet.secrets import KEY_ENV, Secret
from sqlfleet.store.tables import metadata
from tests.conftest import pg_admin

# Real PostgreSQL target databases (see tests/integration/conftest.py).
from tests.integration.conftest import closed_port, pg_fleet, pg_server, pg_sql  # noqa: F401

BASE_URL = "http://127.0.0.1"
PG = "postgresql://127.0.0.1:5432"
PG_JOB_SERVER = "postgresql://postgres@127.0.0.1:5432"
SECRET = "Sup3r-S3cret-never-shown"


class Api:
    """Calls the app and checks each answer's status; error answers must be JSON errors."""

    def __init__(self, client: TestClient, fleet: Fleet) -> None:
        self.client = client
        self.fleet = fleet
        self.seen: list[str] = []

    def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        self.seen.append(f"{response.headers}\n{response.text}")
        assert response.status_code == status, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        if status >= 400:
            assert_error(response.json())
        if status == 204 or not response.content:
            return None
        return response.json()

    def get(self, path: str, status: int = 200, **kwargs: Any) -> Any:
        return self.call("GET", path, status, **kwargs)

    def post(self, path: str, status: int = 200, **kwargs: Any) -> Any:
        return self.call("POST", path, status, **kwargs)

    def patch(self, path: str, status: int = 200, **kwargs: Any) -> Any:
        return self.call("PATCH", path, status, **kwargs)

    def delete(self, path: str, status: int = 204, **kwargs: Any) -> Any:
        return self.call("DELETE", path, status, **kwargs)

    def error(self, method: str, path: str, status: int, kind: str, **kwargs: Any) -> str:
        """Call, expect an error of this status and type, and return its message."""
        body = self.call(method, path, status, **kwargs)
        assert body["error"]["type"] == kind, body
        message: str = body["error"]["message"]
        return message

    def assert_no_secret(self) -> None:
        leaks = [text for text in self.seen if SECRET in text]
        assert not leaks, f"a response held the secret: {leaks[0][:500]}"


def assert_error(body: Any) -> None:
    """An error body: `{"error": {"type": ..., "message": ...}}`, one line, no traceback."""
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"type", "message"}, body
    message = body["error"]["message"]
    assert message and "\n" not in message and "Traceback" not in message, body


def make_client(fleet: Fleet, launcher: Launcher | None = None, **options: Any) -> TestClient:
    """A client on an app on `fleet`; use it in a `with` block (it runs the app's lifespan)."""
    return TestClient(create_app(fleet, launcher=launcher, **options), base_url=BASE_URL)


@pytest.fixture(scope="session")
def secret_key() -> str:
    """One secret key for the session's job databases, so they can be made once and copied."""
    return Fernet.generate_key().decode()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory, secret_key: str) -> Path:
    """A SQLite job database initialized once (`Fleet.init` costs half a second)."""
    path = tmp_path_factory.mktemp("api-job-db") / "jobs.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, secret_key)
        Fleet.init(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def dropped_at_exit() -> Iterator[list[str]]:
    """PostgreSQL databases to drop when the session ends.

    Dropping a database costs this server a checkpoint (seconds); drops made together, in
    parallel, share them.
    """
    names: list[str] = []
    yield names
    drop_databases(names)


def drop_databases(names: list[str]) -> None:
    def drop(name: str) -> None:
        with pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(drop, names))


@pytest.fixture(scope="session")
def pg_job_database(pg_job_db_template: str, secret_key: str, dropped_at_exit: list[str]) -> str:
    """A PostgreSQL job database initialized once for the session; its URL."""
    name = f"sqlfleet_test_api_{uuid.uuid4().hex[:8]}"
    with pg_admin() as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {pg_job_db_template}")
    dropped_at_exit.append(name)
    url = f"{PG_JOB_SERVER}/{name}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, secret_key)
        Fleet.init(url)
    return url


@pytest.fixture(scope="session")
def pg_targets(dropped_at_exit: list[str]) -> list[str]:
    """Three PostgreSQL target databases shared by the session's tests (scripts must not
    change them for good)."""
    prefix = f"sqlfleet_api_t_{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}_{i}" for i in range(3)]

    def create(name: str) -> None:
        with pg_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')

    dropped_at_exit.extend(names)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, names))
    return names


@pytest.fixture
def fleet_on_sqlite(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret_key: str
) -> Iterator[Fleet]:
    """A Fleet on a fresh SQLite job database."""
    monkeypatch.setenv(KEY_ENV, secret_key)
    path = tmp_path / "jobs.db"
    shutil.copyfile(sqlite_template, path)
    with Fleet.open(f"sqlite:///{path}") as opened:
        yield opened


@pytest.fixture
def fleet_on_pg(
    pg_job_database: str, monkeypatch: pytest.MonkeyPatch, secret_key: str
) -> Iterator[Fleet]:
    """A Fleet on the session's PostgreSQL job database, emptied first.

    Emptying takes milliseconds; dropping a database per test would take this server seconds.
    """
    monkeypatch.setenv(KEY_ENV, secret_key)
    with Fleet.open(pg_job_database) as opened:
        kept = {"meta", "alembic_version"}
        tables = [t.name for t in metadata.sorted_tables if t.name not in kept]
        with opened.store.engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        yield opened


@pytest.fixture(params=["sqlite", "postgresql"])
def fleet(request: pytest.FixtureRequest) -> Fleet:
    """A Fleet on a fresh job database, once on each engine."""
    name = "fleet_on_sqlite" if request.param == "sqlite" else "fleet_on_pg"
    opened: Fleet = request.getfixturevalue(name)
    return opened


def _api(fleet: Fleet, launcher: Launcher | None = None) -> Iterator[Api]:
    fleet.add_credential("pg", "postgres", Secret(SECRET))
    with make_client(fleet, launcher) as client:
        api = Api(client, fleet)
        yield api
    api.assert_no_secret()


@pytest.fixture
def api(fleet: Fleet) -> Iterator[Api]:
    """The API on each job database engine, with a credential `pg` (secret SECRET).

    Started executions run in the app's process.
    """
    yield from _api(fleet)


@pytest.fixture
def sqlite_api(fleet_on_sqlite: Fleet) -> Iterator[Api]:
    """Like `api`, on a SQLite job database only."""
    yield from _api(fleet_on_sqlite)


@pytest.fixture
def queue_api(fleet_on_sqlite: Fleet) -> Iterator[Api]:
    """Like `sqlite_api`, but started executions wait for an agent (nothing runs them)."""
    yield from _api(fleet_on_sqlite, AgentLauncher())


def one_step_job(api: Api, name: str, group: str, command: str, **settings: Any) -> Any:
    """Create a job with one step `main` through the API."""
    step = {"name": "main", "command": command, "target_group": group, "credential": "pg"}
    return api.post("/api/v1/jobs", 201, json={"name": name, "steps": [{**step, **settings}]})


def pattern_group(api: Api, name: str, databases: list[str]) -> None:
    """A target group of the PostgreSQL databases named like `databases` (same prefix)."""
    prefix = databases[0].rsplit("_", 1)[0]
    api.post("/api/v1/target-groups", 201, json={"name": name})
    api.post(
        f"/api/v1/target-groups/{name}/members",
        201,
        json={"server": PG, "database_pattern": f"{prefix}_*"},
    )
