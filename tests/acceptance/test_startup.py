"""Start-up: commands import only what they use (see `sqlfleet.cli`'s docstring).

Each case runs `python -X importtime -m sqlfleet ...` in a subprocess and reads the modules
it imported from the import-time report on stderr.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# What a command that does not touch the job database must not pay for.
HEAVY = ("sqlalchemy", "fastapi", "starlette", "asyncpg", "aiomysql", "pymysql", "psycopg")
WEB = ("fastapi", "starlette", "uvicorn", "jinja2")


def imported(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """The top-level packages `sqlfleet ARGS` imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sqlfleet", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "sqlfleet" in names, "no import-time report: was -X importtime honoured?"
    return names


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["run", "--help"],
        ["job", "add-step", "--help"],
        ["agent", "--help"],
        ["up", "--help"],
        ["web", "--help"],
        ["apply", "--help"],
        ["execution", "results", "--help"],
    ],
    ids=" ".join,
)
def test_help_and_version_import_no_database_web_or_driver(args: list[str]) -> None:
    heavy = imported(*args) & set(HEAVY)
    assert not heavy, f"sqlfleet {' '.join(args)} imported {sorted(heavy)}"


def test_run_imports_no_web_framework(tmp_path: Path) -> None:
    """`run` needs the job database and a driver, never the web application."""
    job_db = f"sqlite:///{tmp_path / 'jobs.db'}"
    env = {"SQLFLEET_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "PW": "unused"}
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    add_step = ["job", "add-step", "j", "--name", "s"]
    steps = [
        ["init"],
        ["credential", "add", "c", "--username", "u", "--password-env", "PW"],
        ["target-group", "add", "g"],
        ["target-group", "add-member", "g", "--server", f"sqlite:///{fleet}"],
        ["job", "add", "j"],
        [*add_step, "--target-group", "g", "--credential", "c", "--command", "SELECT 1"],
    ]
    for step in steps:
        done = subprocess.run(
            [sys.executable, "-m", "sqlfleet", "--job-db", job_db, *step],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    (fleet / "a.db").touch()
    names = imported("--job-db", job_db, "run", "j", env=env)
    assert "sqlalchemy" in names  # the check can fail: `run` does open the job database
    assert not names & set(WEB), f"sqlfleet run imported {sorted(names & set(WEB))}"
    assert "psycopg" not in names, "a SQLite job database needs no psycopg"
    assert "httpx" not in names, "a job without webhooks sends no notification"
    assert "croniter" not in names, "a job without a cron schedule reads no cron expression"


SIGNATURE = """
import json, sys
from sqlfleet import cli

def signature(command):
    params = [[p.name, list(p.opts), p.required, repr(p.default)] for p in command.params]
    children = getattr(command, "commands", {})
    return [params, {name: signature(child) for name, child in sorted(children.items())}]

name = sys.argv[1] or None
tree = cli.command(name)
print(json.dumps({n: signature(c) for n, c in tree.commands.items()}))
"""


def tree(name: str) -> dict[str, object]:
    """The command tree `sqlfleet.cli.command(name)` builds in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", SIGNATURE, name], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_each_command_alone_is_built_as_in_the_whole_tree() -> None:
    """A command builds only its own part of the tree from the modules `COMMANDS` names:
    those must be all it needs, and every command must be named there."""
    from sqlfleet import cli

    whole = tree("")
    assert set(whole) == set(cli.COMMANDS)
    for name in cli.COMMANDS:
        assert tree(name) == {name: whole[name]}, name


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["run", "j"], "run"),
        (["--job-db", "sqlite:///x.db", "job", "add", "j"], "job"),
        (["--job-db=sqlite:///x.db", "execution", "list"], "execution"),
        (["--help"], None),
        (["--version"], None),
        (["--job-db"], None),
        ([], None),
    ],
)
def test_the_invoked_command_is_found_past_the_global_options(
    args: list[str], name: str | None
) -> None:
    from sqlfleet import cli

    assert cli.invoked(args) == name
