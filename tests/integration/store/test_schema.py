"""The job database's schema: migrations equal the table definitions; init and version checks."""

from __future__ import annotations

import re
import stat
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
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
from sqlfleet.store.database import SCHEMA_REVISION, _alembic_config, head_revision
from sqlfleet.store.tables import metadata
from tests.cli_runner import Cli
from tests.conftest import pg_admin

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


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o700])
@pytest.mark.parametrize(
    "explicit", [False, True], ids=["default-key-file", "SQLFLEET_SECRET_KEY_FILE"]
)
def test_a_key_file_others_may_read_or_write_is_refused(
    sqlite_job_db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mode: int,
    explicit: bool,
) -> None:
    from sqlfleet import config
    from sqlfleet.errors import SecretKeyError

    if explicit:
        monkeypatch.setenv("SQLFLEET_SECRET_KEY_FILE", str(tmp_path / "elsewhere.key"))
    Fleet.init(sqlite_job_db)
    key_file = config.key_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_file.chmod(mode)
    if mode == 0o700:  # the owner's own bits are the owner's business
        with Fleet.open(sqlite_job_db) as fleet:
            fleet.secrets  # noqa: B018
        return
    with pytest.raises(SecretKeyError, match=rf"`chmod 600 {re.escape(str(key_file))}`"):
        Fleet.init(sqlite_job_db)
    with Fleet.open(sqlite_job_db) as fleet, pytest.raises(SecretKeyError, match="other users"):
        fleet.secrets  # noqa: B018
    result = Cli(capsys, monkeypatch, sqlite_job_db)(
        "credential", "add", "c", "--username", "u", "--password-env", "HOME"
    )
    assert result.code == 2
    assert result.err == (
        f"error: the key file {key_file} may be read or written by other users "
        f"(mode {mode:04o}): run `chmod 600 {key_file}`\n"
    )
    key_file.chmod(0o600)
    Fleet.init(sqlite_job_db)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_job_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a job database that exists but holds nothing yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    name = f"sqlfleet_test_old_{uuid.uuid4().hex[:10]}"
    with pg_admin() as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with pg_admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_members_made_before_target_variables_have_none_after_the_upgrade(
    empty_job_db: str,
) -> None:
    engine = open_engine(empty_job_db, create=True)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0005")
    now = datetime(2026, 1, 2, 3, 4, 5)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO target_group (name, created_at) VALUES ('g', :now)"), {"now": now}
        )
        connection.execute(
            text(
                "INSERT INTO target_group_member (target_group_id, membership, kind, "
                "server_url, database_name, created_at) "
                "SELECT id, 'include', 'database', 'postgresql://h:5432', 'd', :now "
                "FROM target_group"
            ),
            {"now": now},
        )
    engine.dispose()

    Fleet.init(empty_job_db)

    with Fleet.open(empty_job_db) as fleet:
        (member,) = fleet.get_target_group("g").members
        assert (member.database, member.variables) == ("d", ())
        added = fleet.add_member("g", server="postgresql://h", database="e", variables={"a": "b"})
        assert added.variables == (("a", "b"),)
