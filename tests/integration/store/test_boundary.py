"""The store's edge: no verb lets a driver exception out, on SQLite and PostgreSQL.

Every public verb of `JobStore` is called on a job database that cannot be reached, with
sample arguments made from its signature, so a verb added later is checked without anyone
remembering to list it here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sqlfleet.errors import (
    ConcurrentChange,
    DuplicateName,
    InvalidValue,
    JobDatabaseCorrupt,
    JobDatabaseReadOnly,
    JobDatabaseUnavailable,
)
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import MemberKind, Membership, StepSettings, Target
from sqlfleet.store import JobStore, Outcome, StepStart, open_engine
from sqlfleet.store.boundary import GUARDED, public_verbs
from tests.conftest import PG_ADMIN_DSN

NOW = datetime(2026, 1, 1, tzinfo=UTC)
# A sample value for each parameter type the verbs take: enough to get past any Python-level
# work to the first database call.
SAMPLES: dict[str, Any] = {
    "str": "x",
    "str | None": "x",
    "int": 1,
    "int | None": 1,
    "bool": False,
    "datetime": NOW,
    "timedelta": timedelta(seconds=60),
    "MemberKind": MemberKind.DATABASE,
    "Membership": Membership.INCLUDE,
    "StepStart": StepStart(1, 1, 1, "job", 1, 1),
    "StepSettings": StepSettings(command="SELECT 1", target_group="g", credential="c"),
    "Sequence[Target]": [Target("sqlite:///tmp", "a.db")],
    "Sequence[Outcome]": [Outcome(1, 1, NOW, Lifecycle.SUCCEEDED, NOW)],
    "Sequence[tuple[str, StepSettings]]": [],
    "Iterable[str]": ["x"],
    "Sequence[int]": [1],
    "Sequence[Lifecycle]": [Lifecycle.FAILED],
    "Schedule | None": None,
}
NO_DATABASE_CALL = {"close", "transaction"}  # transaction: a context, tested on its own


def sample_call(store: JobStore, name: str) -> Callable[[], Any]:
    """`store.<name>` bound to sample values for its required parameters."""
    verb = getattr(store, name)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for parameter in inspect.signature(verb).parameters.values():
        if parameter.default is not inspect.Parameter.empty:
            continue
        annotation = str(parameter.annotation)
        assert annotation in SAMPLES, f"{name}: add a sample value for {annotation!r}"
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = SAMPLES[annotation]
        else:
            args.append(SAMPLES[annotation])
    return lambda: verb(*args, **kwargs)


def test_every_public_verb_is_guarded() -> None:
    unguarded = [n for n, f in public_verbs(JobStore).items() if not getattr(f, GUARDED, False)]
    assert unguarded == []


@pytest.fixture(params=["sqlite", "postgresql"])
def unreachable_store(
    request: pytest.FixtureRequest, tmp_path: Path, closed_port: int
) -> Iterator[JobStore]:
    """A store whose job database cannot be reached: a file in a folder that is gone, or a
    PostgreSQL server that refuses connections."""
    if request.param == "sqlite":
        path = tmp_path / "gone" / "jobs.db"
        path.parent.mkdir()
        path.touch()
        engine = open_engine(f"sqlite:///{path}")
        path.unlink()
        path.parent.rmdir()
    else:
        engine = open_engine(f"postgresql://postgres:pw@127.0.0.1:{closed_port}/jobs")
    store = JobStore(engine)
    yield store
    store.close()


@pytest.mark.parametrize("verb", sorted(set(public_verbs(JobStore)) - NO_DATABASE_CALL))
def test_a_verb_on_an_unreachable_job_database_raises_unavailable(
    unreachable_store: JobStore, verb: str
) -> None:
    with pytest.raises(JobDatabaseUnavailable) as raised:
        sample_call(unreachable_store, verb)()
    assert "is unavailable" in raised.value.message
    assert "pw" not in raised.value.message.replace("postgres", "")
    assert raised.value.__cause__ is None  # the driver's exception stays behind


def test_a_transaction_on_an_unreachable_job_database_raises_unavailable(
    unreachable_store: JobStore,
) -> None:
    with pytest.raises(JobDatabaseUnavailable), unreachable_store.transaction():
        pytest.fail("the transaction began")


def test_verbs_in_one_transaction_are_stored_together_or_not_at_all(job_db: str) -> None:
    store = JobStore(open_engine(job_db))
    try:
        with store.transaction():
            store.add_target_group("first")
            store.add_target_group("second")
        with pytest.raises(DuplicateName), store.transaction():
            store.add_target_group("third")
            store.add_target_group("first")
        assert [g.name for g in store.list_target_groups()] == ["first", "second"]
    finally:
        store.close()


def test_an_outage_is_noticed_once_and_its_end_once(
    unreachable_store: JobStore, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):
        with pytest.raises(JobDatabaseUnavailable):
            unreachable_store.list_jobs()
    assert not unreachable_store.availability.available
    assert unreachable_store.availability.retry_delay(0.5) == 4.0
    outage = [r for r in caplog.records if r.name == "sqlfleet.store"]
    assert len(outage) == 1
    assert "retrying until it is back" in outage[0].getMessage()


def test_a_store_comes_back_after_its_server_dropped_every_connection(
    pg_job_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = JobStore(open_engine(pg_job_db))
    try:
        store.list_jobs()  # a pooled connection now exists
        database = pg_job_db.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [database],
            )
        assert store.list_jobs() == []
        assert store.availability.available
    finally:
        store.close()


def test_a_corrupt_sqlite_file_is_said_to_be_damaged(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    path.write_bytes(b"this is not a database" * 200)
    store = JobStore(open_engine(f"sqlite:///{path}"))
    with pytest.raises(JobDatabaseCorrupt, match="damaged or not a sqlfleet job database"):
        store.list_jobs()
    store.close()


def test_a_read_only_sqlite_job_database_reads_and_refuses_writes(sqlite_job_db: str) -> None:
    Fleet.init(sqlite_job_db)
    store = JobStore(open_engine(f"{sqlite_job_db}?mode=ro"))
    try:
        assert store.list_jobs() == []
        with pytest.raises(JobDatabaseReadOnly, match=r"is read-only.*\?mode=ro"):
            store.add_target_group("tenants")
        assert store.url.endswith("jobs.db?mode=ro")
    finally:
        store.close()


def test_values_beyond_the_columns_are_invalid_values_not_crashes(job_db: str) -> None:
    store = JobStore(open_engine(job_db))
    try:
        with pytest.raises(InvalidValue, match="job database"):
            store.get_execution(99999999999999999999 if "sqlite" in job_db else 2**31)
    finally:
        store.close()


def test_a_unique_key_race_is_a_concurrent_change(job_db: str) -> None:
    from sqlalchemy.exc import IntegrityError

    from sqlfleet.store import tables as t
    from sqlfleet.store.boundary import translate

    store = JobStore(open_engine(job_db))
    try:
        store.set_meta("k", "v")
        with pytest.raises(IntegrityError) as raised, store.engine.begin() as conn:
            conn.execute(t.meta.insert().values(key="k", value="w"))
        assert isinstance(translate(raised.value, store.url), ConcurrentChange)
    finally:
        store.close()
