"""Fixtures for running jobs: a Fleet with credentials for the local servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlfleet.fleet import Fleet
from sqlfleet.secrets import Secret

PG = "postgresql://127.0.0.1:5432"
MYSQL = "mysql://127.0.0.1:3306"


@pytest.fixture
def fleet(job_db: str) -> Iterator[Fleet]:
    """A Fleet (on each job database engine) with credentials `pg` and `my`."""
    with Fleet.open(job_db) as opened:
        opened.add_credential("pg", "postgres", Secret("unused-under-trust-auth"))
        opened.add_credential("my", "root", Secret(""))
        yield opened


@pytest.fixture
def sqlite_fleet_db(sqlite_job_db: str) -> Iterator[Fleet]:
    """Like `fleet`, on a SQLite job database only (for tests that are about targets)."""
    Fleet.init(sqlite_job_db)
    with Fleet.open(sqlite_job_db) as opened:
        opened.add_credential("pg", "postgres", Secret("unused-under-trust-auth"))
        opened.add_credential("my", "root", Secret(""))
        yield opened


def one_step_job(
    fleet: Fleet, name: str, group: str, command: str, credential: str = "pg", **settings: object
) -> None:
    """Define a job with one step."""
    fleet.add_job(name)
    fleet.add_step(
        name, "main", command=command, target_group=group, credential=credential, **settings
    )
