"""The job database's schema: migrations equal the table definitions; init and version checks."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from sqlfleet.errors import (
    InvalidJobDatabaseUrl,
    JobDatabaseNotInitialized,
    JobDatabaseTooNew,
    JobDatabaseUnreachable,
)
from sqlfleet.fleet import Fleet
from sqlfleet.store import open_engine
from sqlfleet.store.database import SCHEMA_REVISION, head_revision
from sqlfleet.store.tables import metadata

VIEWS = {
    "job_executions",
    "jobs",
    "jobsteps",
    "jobstep_versions",
    "target_groups",
    "target_group_members",
}


def test_schema_revision_is_alembic_head() -> None:
    assert head_revision() == SCHEMA_REVISION


def test_migrated_schema_equals_table_definitions(job_db: str) -> None:
    engine = open_engine(job_db)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
        views = set(inspect(conn).get_view_names())
    engine.dispose()
    assert diff == []
    assert views >= VIEWS


def test_views_answer_queries(job_db: str) -> None:
    engine = open_engine(job_db)
    with engine.connect() as conn:
        for view in VIEWS:
            assert conn.execute(text(f"SELECT count(*) FROM {view}")).scalar_one() == 0
    engine.dispose()


def test_init_twice_is_safe(sqlite_job_db: str) -> None:
    first = Fleet.init(sqlite_job_db)
    second = Fleet.init(sqlite_job_db)
    assert first.schema_before is None and first.key_created
    assert second.schema_before == SCHEMA_REVISION and not second.key_created


def test_missing_job_database_says_to_run_init(sqlite_job_db: str) -> None:
    with pytest.raises(JobDatabaseNotInitialized, match="run `sqlfleet init`"):
        Fleet.open(sqlite_job_db)


def test_empty_postgres_database_says_to_run_init(pg_job_db: str) -> None:
    engine = open_engine(pg_job_db)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    engine.dispose()
    with pytest.raises(JobDatabaseNotInitialized, match="not initialized"):
        Fleet.open(pg_job_db)


def test_newer_schema_is_refused(job_db: str) -> None:
    engine = open_engine(job_db)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(JobDatabaseTooNew, match="newer than this sqlfleet"):
        Fleet.open(job_db)
    with pytest.raises(JobDatabaseTooNew):
        Fleet.init(job_db)


def test_unreachable_job_database() -> None:
    with pytest.raises(JobDatabaseUnreachable, match="cannot reach") as caught:
        Fleet.open("postgresql://postgres:hunter2@127.0.0.1:1/jobs")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://postgres:hunter2@127.0.0.1:abc/jobs", "port must be a number"),
        ("postgresql://postgres:hunter2@127.0.0.1:70000/jobs", "port must be a number"),
        ("postgresql://postgres:hunter2@127.0.0.1:0/jobs", "port must be a number"),
        ("postgresql://postgres:hunter2@[::1/jobs", "malformed"),
        ("oracle://postgres:hunter2@127.0.0.1/jobs", "unsupported engine 'oracle'"),
        ("postgres:hunter2@127.0.0.1/jobs", "malformed"),
        ("postgresql://postgres:hunter2@127.0.0.1\n/jobs", "control character"),
        ("sqlite:///:memory:", "not an in-memory database"),
    ],
)
def test_malformed_job_database_urls_are_refused_without_the_password(
    url: str, message: str
) -> None:
    for call in (Fleet.open, Fleet.init):
        with pytest.raises(InvalidJobDatabaseUrl, match=message) as caught:
            call(url)
        assert "hunter2" not in str(caught.value) and "\n" not in str(caught.value)


def test_key_file_that_cannot_be_made_is_a_clear_error(
    sqlite_job_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlfleet.errors import SecretKeyError

    monkeypatch.setenv("SQLFLEET_SECRET_KEY_FILE", "/proc/no-such-folder/secret.key")
    with pytest.raises(SecretKeyError, match="cannot create the key file"):
        Fleet.init(sqlite_job_db)
