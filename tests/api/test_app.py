"""`create_app`: on a job database URL (opened and closed by the app) or on a given Fleet."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sqlfleet.api import create_app
from sqlfleet.errors import JobDatabaseNotInitialized
from sqlfleet.fleet import Fleet
from sqlfleet.secrets import KEY_ENV
from tests.api.conftest import BASE_URL


def test_the_app_opens_and_closes_a_job_database_by_url(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret_key: str
) -> None:
    monkeypatch.setenv(KEY_ENV, secret_key)
    shutil.copyfile(sqlite_template, tmp_path / "jobs.db")
    app = create_app(f"sqlite:///{tmp_path / 'jobs.db'}")
    fleet: Fleet = app.state.fleet
    closed: list[bool] = []
    close = fleet.close
    monkeypatch.setattr(fleet, "close", lambda: (closed.append(True), close()))
    with TestClient(app, base_url=BASE_URL) as client:
        assert client.post("/api/v1/target-groups", json={"name": "g"}).status_code == 201
        assert closed == []
    assert closed == [True]


def test_the_app_leaves_a_given_fleet_open(fleet_on_sqlite: Fleet) -> None:
    with TestClient(create_app(fleet_on_sqlite), base_url=BASE_URL) as client:
        assert client.get("/api/v1/jobs").json() == []
    assert fleet_on_sqlite.list_jobs() == []  # still usable


def test_an_uninitialized_job_database_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(JobDatabaseNotInitialized, match="sqlfleet init"):
        create_app(f"sqlite:///{tmp_path / 'none.db'}")
