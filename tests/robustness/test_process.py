"""What only a real process shows: bytes that are not UTF-8 in its arguments and on its stdin,
and creates of one name racing on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import make_url

from sqlfleet.errors import DuplicateName
from sqlfleet.fleet import Fleet
from sqlfleet.secrets import Secret
from sqlfleet.store.definitions import DefinitionStore
from tests.conftest import pg_admin
from tests.polling import wait_for
from tests.robustness.conftest import KEY, Seeded

SQLFLEET = str(Path(sys.executable).with_name("sqlfleet"))


def sqlfleet(job_db: str, *args: bytes, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run the installed `sqlfleet` with raw bytes for arguments and stdin."""
    env = {**os.environ, "SQLFLEET_SECRET_KEY": KEY, "LC_ALL": "C.UTF-8"}
    return subprocess.run(
        [SQLFLEET.encode(), b"--job-db", job_db.encode(), *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        ((b"job", b"add", b"caf\xe9"), b""),
        ((b"target-group", b"add-member", b"g", b"--server", b"postgresql://h\xff"), b""),
        ((b"credential", b"add", b"c2", b"--username", b"u", b"--password-stdin"), b"p\xe9w\n"),
    ],
    ids=["argument", "option", "stdin"],
)
def test_bytes_that_are_not_utf8_are_one_line_and_exit_2(
    seeded: Seeded, args: tuple[bytes, ...], stdin: bytes
) -> None:
    before = seeded.dump()
    done = sqlfleet(seeded.url, *args, stdin=stdin)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.decode("utf-8").splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert b"not valid UTF-8" in done.stderr or b"not UTF-8" in done.stderr
    assert done.stdout == b""
    assert seeded.dump() == before


# Each create, and a row that a concurrent session inserted without committing yet.
RACERS: dict[str, tuple[Callable[[Fleet, str], object], str]] = {
    "credential": (
        lambda f, n: f.add_credential(n, "u", Secret("pw")),
        "INSERT INTO credential (name, username, secret_token, created_at, updated_at) "
        "VALUES (%(n)s, 'u', 'x', now(), now())",
    ),
    "target group": (
        lambda f, n: f.add_target_group(n),
        "INSERT INTO target_group (name, created_at) VALUES (%(n)s, now())",
    ),
    "job": (
        lambda f, n: f.add_job(n),
        "INSERT INTO job (name, description, enabled, current_version, created_at, updated_at) "
        "VALUES (%(n)s, '', false, 1, now(), now())",
    ),
}


@pytest.mark.parametrize("what", sorted(RACERS))
def test_creates_of_one_name_that_race_are_duplicate_names(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    """Each create checks the name, then inserts; two creates can both pass the check.

    On PostgreSQL the race is real: a first session inserts and holds its transaction open
    until the second create blocks on the unique index, then commits. SQLite takes its write
    lock before the check, so there the lost race is simulated by hiding the existing row.
    """
    make, insert = RACERS[what]
    name = f"raced {what}"
    if seeded.url.startswith("sqlite"):
        make(seeded.fleet, name)
        monkeypatch.setattr(DefinitionStore, "_credential_row", lambda *_: None)
        monkeypatch.setattr(DefinitionStore, "_group_row", lambda *_: None)
        monkeypatch.setattr(DefinitionStore, "_job_row", lambda *_: None)
        with pytest.raises(DuplicateName, match="already exists"):
            make(seeded.fleet, name)
        return
    database = make_url(seeded.url).database
    outcome: list[BaseException | None] = []

    def create(fleet: Fleet) -> None:
        try:
            make(fleet, name)
            outcome.append(None)
        except Exception as exc:  # reported to the test below
            outcome.append(exc)

    with Fleet.open(seeded.url) as second, seeded.fleet.store.engine.connect() as first:
        transaction = first.begin()
        first.exec_driver_sql(insert, {"n": name})
        racer = threading.Thread(target=create, args=(second,))
        racer.start()
        with pg_admin() as admin:
            wait_for(
                lambda: admin.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = %s AND wait_event_type = 'Lock'",
                    (database,),
                ).fetchone()[0],
                what="the racing create to wait for the unique index",
            )
        transaction.commit()
        racer.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], DuplicateName), outcome
    assert f"named {name!r} already exists" in str(outcome[0])
