"""A job database that cannot be used as asked: read-only, damaged, or named by a bad URL.

Each is one line on stderr and the exit code that says whose problem it is: 2 for a URL the
user mistyped, 3 for a job database that is there but cannot serve.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlfleet.fleet import Fleet
from tests.robustness.conftest import Cli, Run

WRITES = [
    ["job", "add", "nightly"],
    ["target-group", "add", "tenants"],
    ["credential", "add", "c", "--username", "u", "--password-env", "HOME"],
    ["init"],
]
READS = [["job", "list"], ["execution", "list"], ["credential", "list"]]


def one_line(run: Run, code: int) -> str:
    assert run.code == code, (run.code, run.err)
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.err
    assert "Traceback" not in run.err and run.out == ""
    return lines[0]


@pytest.fixture
def sqlite_job_db_file(tmp_path: Path) -> Path:
    path = tmp_path / "jobs.db"
    Fleet.init(f"sqlite:///{path}")
    return path


@pytest.mark.parametrize("args", WRITES, ids=lambda a: " ".join(a))
def test_a_read_only_job_database_refuses_writes_in_one_line(
    sqlite_job_db_file: Path, args: list[str]
) -> None:
    before = sqlite_job_db_file.read_bytes()
    line = one_line(
        Cli(f"sqlite:///{sqlite_job_db_file}?mode=ro")(*args), 2 if args == ["init"] else 3
    )
    assert "read-only" in line
    assert sqlite_job_db_file.read_bytes() == before


@pytest.mark.parametrize("args", READS, ids=lambda a: " ".join(a))
def test_a_read_only_job_database_still_reads(sqlite_job_db_file: Path, args: list[str]) -> None:
    run = Cli(f"sqlite:///{sqlite_job_db_file}?mode=ro")(*args)
    assert run.code == 0, run.err


@pytest.mark.parametrize(
    "content",
    [b"not a database at all " * 300, b"SQLite format 3\x00" + b"\xff" * 8000],
    ids=["garbage", "damaged-header"],
)
@pytest.mark.parametrize("args", [*READS, *WRITES[:2]], ids=lambda a: " ".join(a))
def test_a_damaged_job_database_is_one_line_and_exit_3(
    tmp_path: Path, content: bytes, args: list[str]
) -> None:
    path = tmp_path / "jobs.db"
    path.write_bytes(content)
    line = one_line(Cli(f"sqlite:///{path}")(*args), 3)
    assert "damaged or not a sqlfleet job database" in line
    assert path.read_bytes() == content


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:Zq9secret@localhost:abc/jobs",
        "postgresql://u:Zq9secret@localhost:70000/jobs",
        "postgresql://u:Zq9secret@[::1/jobs",
        "sqlite:///tmp/jobs.db?mode=bogus",
        "mysql://u:Zq9secret@localhost/jobs",
    ],
)
def test_a_bad_job_database_url_is_one_line_and_exit_2(url: str) -> None:
    line = one_line(Cli(url)("job", "list"), 2)
    assert "Zq9secret" not in line
