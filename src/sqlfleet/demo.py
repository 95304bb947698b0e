"""A demo fleet: a folder of SQLite tenant databases and a job that runs on all of them."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlfleet import config
from sqlfleet.errors import DuplicateName
from sqlfleet.fleet import Fleet
from sqlfleet.model import OutputDestination
from sqlfleet.secrets import Secret

GROUP = "demo-fleet"
CREDENTIAL = "demo"
JOB = "demo-inventory"
COMMAND = """\
CREATE TABLE IF NOT EXISTS audit_log (id INTEGER PRIMARY KEY, note TEXT, at TEXT);
INSERT INTO audit_log (note, at) VALUES ('visited by job $(job_name)', datetime('now'))
GO
SELECT '$(target_database_name)' AS tenant, count(*) AS customers,
       coalesce(sum(balance), 0) AS total_balance
  FROM customers
"""


@dataclass(frozen=True, slots=True)
class Demo:
    """What `create_demo` made."""

    folder: Path
    databases: int
    job: str
    results: str


def default_folder() -> Path:
    """Where the demo fleet lives unless told otherwise."""
    return config.data_dir() / "demo-fleet"


def create_demo(fleet: Fleet, folder: Path | None = None, databases: int = 12) -> Demo:
    """Make the demo fleet and its definitions; what exists already is kept."""
    folder = folder or default_folder()
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, databases + 1):
        _tenant_database(folder / f"tenant_{i:03d}.db", i)
    output = folder.parent / "demo-results"
    results = f"table tenant_inventory of {output / 'results.db'}"
    output.mkdir(parents=True, exist_ok=True)
    _touch_database(output / "results.db")
    for make in (
        lambda: fleet.add_credential(CREDENTIAL, "demo", Secret("demo-only-no-secret")),
        lambda: fleet.add_target_group(GROUP),
    ):
        with contextlib.suppress(DuplicateName):
            make()
    if not fleet.get_target_group(GROUP).members:
        fleet.add_member(GROUP, server=f"sqlite:///{folder}")
    step = {
        "command": COMMAND,
        "target_group": GROUP,
        "credential": CREDENTIAL,
        "retry_attempts": 2,
        "output": _output(output),
    }
    # Made with its step in one go: a new job is version 1.
    with contextlib.suppress(DuplicateName):
        fleet.add_job(
            JOB,
            description="Counts each tenant's customers into one table.",
            steps=[("inventory", step)],
        )
    return Demo(folder, databases, JOB, results)


def _output(folder: Path) -> OutputDestination:
    return OutputDestination(f"sqlite:///{folder}", "results.db", "tenant_inventory", CREDENTIAL)


def _touch_database(path: Path) -> None:
    sqlite3.connect(path).close()


def _tenant_database(path: Path, number: int) -> None:
    if path.exists():
        return
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, balance NUMERIC)")
        db.executemany(
            "INSERT INTO customers (name, balance) VALUES (?, ?)",
            [
                (f"customer {number}-{i}", (number * 37 + i * 11) % 500)
                for i in range(number % 7 + 3)
            ],
        )
    db.close()
