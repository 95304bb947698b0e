"""Fixtures for every test: an isolated sqlfleet home and job databases on both engines."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine

from sqlfleet.fleet import Fleet

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
# Unique per test session: several sessions may run on one server at once.
JOB_DB_TEMPLATE = f"sqlfleet_test_jobdb_template_{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def sqlfleet_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own sqlfleet home, key file and default job database."""
    home = tmp_path / "sqlfleet-home"
    monkeypatch.setenv("SQLFLEET_HOME", str(home))
    for name in ("SQLFLEET_JOB_DB", "SQLFLEET_SECRET_KEY", "SQLFLEET_SECRET_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    return home


def pg_admin() -> psycopg.Connection:
    """An autocommit connection to the PostgreSQL server, or a loud failure."""
    try:
        return psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at 127.0.0.1:5432 ({exc}); scripts/test starts it",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def pg_job_db_template() -> Iterator[str]:
    """A PostgreSQL database migrated once, cloned for each test that needs a job database."""
    from sqlfleet.store import open_engine, upgrade_schema

    with pg_admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {JOB_DB_TEMPLATE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {JOB_DB_TEMPLATE}")
    engine = open_engine(f"postgresql://postgres@127.0.0.1:5432/{JOB_DB_TEMPLATE}")
    upgrade_schema(engine)
    engine.dispose()
    yield JOB_DB_TEMPLATE
    with pg_admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {JOB_DB_TEMPLATE} WITH (FORCE)")


@pytest.fixture
def pg_job_db(pg_job_db_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL job database; its URL."""
    name = f"sqlfleet_test_jobdb_{uuid.uuid4().hex[:10]}"
    with pg_admin() as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {pg_job_db_template}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with pg_admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sqlite_job_db(tmp_path: Path) -> str:
    """A SQLite job database URL (not created yet)."""
    return f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def job_db(request: pytest.FixtureRequest) -> str:
    """The URL of an initialized job database, once on each engine."""
    url: str
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_job_db")
    else:
        url = request.getfixturevalue("pg_job_db")
    Fleet.init(url)
    return url


@pytest.fixture
def fleet(job_db: str) -> Iterator[Fleet]:
    """A Fleet on an initialized job database, on each engine."""
    with Fleet.open(job_db) as opened:
        yield opened


def row_count(url: str, table: str) -> int:
    """How many rows a job database table has (for checking that nothing changed)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        count = conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
    engine.dispose()
    return int(count)
