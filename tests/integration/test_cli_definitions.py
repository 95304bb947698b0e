"""The definition commands, on a SQLite and a PostgreSQL job database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_runner import Cli
from tests.conftest import row_count
from tests.webhook_receiver import webhook_receiver

SECRET = "Sup3r-S3cret-Pa55"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, job_db: str) -> Cli:
    return Cli(capsys, monkeypatch, job_db)


@pytest.fixture
def defined(cli: Cli) -> Cli:
    """A credential, a target group and a job with no steps."""
    cli.ok(
        "credential",
        "add",
        "admin",
        "--username",
        "postgres",
        "--password-stdin",
        stdin=SECRET + "\n",
    )
    cli.ok("target-group", "add", "tenants")
    cli.ok("target-group", "add-member", "tenants", "--server", "postgresql://127.0.0.1:5432")
    cli.ok("job", "add", "nightly", "--description", "nightly work")
    return cli


def test_job_show_json_has_every_setting_and_version(defined: Cli) -> None:
    cli = defined
    cli.ok(
        "job",
        "add-step",
        "nightly",
        "--name",
        "first",
        "--target-group",
        "tenants",
        "--credential",
        "admin",
        "--command",
        "SELECT 1",
    )
    shown = cli.ok("job", "show", "nightly", "--json").json()
    assert shown["job_version"] == 2
    assert shown["steps"] == [
        {
            "step_id": 1,
            "step_name": "first",
            "command": "SELECT 1",
            "target_group_name": "tenants",
            "credential_name": "admin",
            "retry_attempts": 10,
            "initial_retry_interval_seconds": 1.0,
            "maximum_retry_interval_seconds": 120.0,
            "retry_interval_backoff_multiplier": 2.0,
            "step_timeout_seconds": 43200,
            "connect_timeout_seconds": 30,
            "max_parallelism": None,
            "continue_on_failure": False,
            "canary": None,
            "wave_size": None,
            "wave_pause_seconds": 0.0,
            "max_failures": None,
            "retry_on": "all",
            "result_rows": 1000,
            "allow_database_switch": False,
            "fresh_connection": False,
            "output": None,
        }
    ]
    cli.ok(
        "job", "update-step", "nightly", "first", "--retry-attempts", "2", "--max-parallelism", "5"
    )
    shown = cli.ok("job", "show", "nightly", "--json").json()
    assert shown["job_version"] == 3
    assert (shown["steps"][0]["retry_attempts"], shown["steps"][0]["max_parallelism"]) == (2, 5)
    old = cli.ok("job", "show", "nightly", "--version", "2", "--json").json()
    assert old["steps"][0]["retry_attempts"] == 10


def test_every_command_works(defined: Cli, tmp_path: Path) -> None:
    cli = defined
    script = tmp_path / "step.sql"
    script.write_text("CREATE TABLE IF NOT EXISTS t (id int)\nGO\nINSERT INTO t VALUES (1)\n")
    cli.ok("credential", "add", "reader", "--username", "ro", "--password-env", "HOME")
    cli.ok("credential", "update", "reader", "--username", "ro2")
    assert "ro2" in cli.ok("credential", "list").out
    assert [c["credential_name"] for c in cli.ok("credential", "list", "--json").json()] == [
        "admin",
        "reader",
    ]
    cli.ok("credential", "remove", "reader")

    cli.ok(
        "target-group",
        "add-member",
        "tenants",
        "--server",
        "postgresql://127.0.0.1:5432",
        "--database",
        "tenant_0",
        "--exclude",
    )
    cli.ok(
        "target-group",
        "add-member",
        "tenants",
        "--server",
        "postgresql://127.0.0.1",
        "--database",
        "app",
        "--schema-pattern",
        "t_*",
        "--refresh-credential",
        "admin",
    )
    cli.ok(
        "target-group",
        "add-member",
        "tenants",
        "--server",
        "mysql://127.0.0.1",
        "--database",
        "catalog",
        "--shard-map-query",
        "SELECT name FROM shards",
    )
    group = cli.ok("target-group", "show", "tenants", "--json").json()
    assert [m["target_type"] for m in group["members"]] == [
        "server",
        "database",
        "schema",
        "shard-map",
    ]
    assert "exclude" in cli.ok("target-group", "show", "tenants").out
    cli.ok("target-group", "remove-member", "tenants", str(group["members"][1]["target_id"]))
    assert len(cli.ok("target-group", "list", "--json").json()[0]["members"]) == 3
    assert "tenants" in cli.ok("target-group", "list").out

    cli.ok(
        "job",
        "add-step",
        "nightly",
        "--name",
        "ddl",
        "--target-group",
        "tenants",
        "--credential",
        "admin",
        "--command-file",
        str(script),
        "--retry-attempts",
        "0",
        "--initial-retry-interval",
        "2",
        "--maximum-retry-interval",
        "30",
        "--backoff-multiplier",
        "3",
        "--timeout",
        "600",
        "--connect-timeout",
        "5",
        "--max-parallelism",
        "2",
        "--continue-on-failure",
        "--output-server",
        "postgresql://127.0.0.1",
        "--output-database",
        "results",
        "--output-schema",
        "public",
        "--output-table",
        "out",
        "--output-credential",
        "admin",
    )
    step = cli.ok("job", "show", "nightly", "--json").json()["steps"][0]
    assert step["command"].startswith("CREATE TABLE")
    assert (
        step["retry_attempts"],
        step["initial_retry_interval_seconds"],
        step["maximum_retry_interval_seconds"],
        step["retry_interval_backoff_multiplier"],
        step["step_timeout_seconds"],
        step["connect_timeout_seconds"],
        step["max_parallelism"],
        step["continue_on_failure"],
    ) == (0, 2.0, 30.0, 3.0, 600, 5, 2, True)
    assert step["output"]["output_table_name"] == "out"
    # One output field changes alone; the others keep their values.
    cli.ok("job", "update-step", "nightly", "ddl", "--output-database", "reports")
    output = cli.ok("job", "show", "nightly", "--json").json()["steps"][0]["output"]
    assert (
        output["output_database_name"],
        output["output_table_name"],
        output["output_schema_name"],
    ) == ("reports", "out", "public")
    cli.ok(
        "job",
        "update-step",
        "nightly",
        "ddl",
        "--no-output",
        "--name",
        "schema",
        "--stop-on-failure",
    )
    step = cli.ok("job", "show", "nightly", "--json").json()["steps"][0]
    assert (step["step_name"], step["output"], step["continue_on_failure"]) == (
        "schema",
        None,
        False,
    )
    assert "step 1: schema" in cli.ok("job", "show", "nightly").out
    # Without a destination to keep values from, a part of one is not enough.
    partial = cli("job", "update-step", "nightly", "schema", "--output-table", "t")
    assert partial.code == 2
    assert "an output destination also needs --output-server" in partial.err

    cli.ok(
        "job",
        "update",
        "nightly",
        "--schedule",
        "0 3 * * *",
        "--timezone",
        "Europe/Paris",
        "--enable",
    )
    job = cli.ok("job", "show", "nightly", "--json").json()
    assert job["enabled"] is True
    assert job["schedule"]["schedule_cron"] == "0 3 * * *"
    assert job["schedule"]["schedule_timezone"] == "Europe/Paris"
    assert "nightly" in cli.ok("job", "list").out
    assert [v["job_version"] for v in cli.ok("job", "versions", "nightly", "--json").json()] == [
        1,
        2,
        3,
        4,
        5,
    ]
    cli.ok("job", "remove-step", "nightly", "schema")
    assert cli.ok("job", "list", "--json").json()[0]["steps"] == []
    cli.ok("job", "remove", "nightly")
    assert cli.ok("job", "list", "--json").json() == []
    cli.ok("target-group", "remove", "tenants")
    assert cli.ok("target-group", "list", "--json").json() == []


def test_secret_never_shown_or_stored_in_clear(
    defined: Cli, job_db: str, sqlfleet_home: Path
) -> None:
    cli = defined
    outputs = [
        cli.ok("credential", "list"),
        cli.ok("credential", "list", "--json"),
        cli("credential", "add", "admin", "--username", "x", "--password-stdin", stdin=SECRET),
        cli.ok("credential", "update", "admin", "--password-stdin", stdin=SECRET + "2\n"),
    ]
    for result in outputs:
        assert SECRET not in result.out + result.err
    if job_db.startswith("sqlite:///"):
        path = Path(job_db.removeprefix("sqlite:///"))
        for file in path.parent.glob(path.name + "*"):  # the database and its WAL
            assert SECRET.encode() not in file.read_bytes()


# -- bad input: one line, non-zero, nothing changed ------------------------------------------------

BAD_INPUTS = [
    (("credential", "add", "admin", "--username", "u", "--password-env", "HOME"), "already exists"),
    (("credential", "add", "c2", "--username", "u"), "--password-stdin or --password-env"),
    (
        ("credential", "add", "c2", "--username", "u", "--password-env", "SQLFLEET_NOPE"),
        "is not set",
    ),
    (("target-group", "add", "tenants"), "already exists"),
    (("target-group", "add-member", "tenants", "--server", "postgresql://u:pw@h:5432"), "password"),
    (("target-group", "add-member", "tenants", "--server", "ftp://h"), "unknown engine"),
    (("target-group", "add-member", "ghost", "--server", "postgresql://h"), "no target group"),
    (("job", "add", "nightly"), "already exists"),
    (("job", "add", "j2", "--schedule", "61 * * * *"), "cron"),
    (("job", "add", "j2", "--schedule", "0 3 * * *", "--timezone", "Mars/Base"), "time zone"),
    (("job", "add", "j2", "--schedule", "every -2 days"), "every -2 days"),
    (
        (
            "job",
            "add-step",
            "nightly",
            "--name",
            "s",
            "--target-group",
            "ghost",
            "--credential",
            "admin",
            "--command",
            "SELECT 1",
        ),
        "no target group named 'ghost'",
    ),
    (
        (
            "job",
            "add-step",
            "nightly",
            "--name",
            "s",
            "--target-group",
            "tenants",
            "--credential",
            "ghost",
            "--command",
            "SELECT 1",
        ),
        "no credential named 'ghost'",
    ),
    (
        (
            "job",
            "add-step",
            "nightly",
            "--name",
            "s",
            "--target-group",
            "tenants",
            "--credential",
            "admin",
            "--command",
            "   ",
        ),
        "empty",
    ),
    (
        (
            "job",
            "add-step",
            "nightly",
            "--name",
            "s",
            "--target-group",
            "tenants",
            "--credential",
            "admin",
            "--command-file",
            "/nonexistent/x.sql",
        ),
        "does not exist",
    ),
    (
        (
            "job",
            "add-step",
            "nightly",
            "--name",
            "s",
            "--target-group",
            "tenants",
            "--credential",
            "admin",
            "--command",
            "SELECT 1",
            "--retry-attempts",
            "-1",
        ),
        "--retry-attempts must be 0 to 1000000",
    ),
    (
        (
            "job",
            "add-step",
            "nightly",
            "--name",
            "s",
            "--target-group",
            "tenants",
            "--credential",
            "admin",
            "--command",
            "SELECT 1",
            "--timeout",
            "abc",
        ),
        "valid integer",
    ),
    (
        (
            "job",
            "add-step",
            "nightly",
            "--name",
            "s",
            "--target-group",
            "tenants",
            "--credential",
            "admin",
            "--command",
            "SELECT 1",
            "--max-parallelism",
            "-3",
        ),
        "--max-parallelism must be 0 to 2147483647",
    ),
    (
        (
            "job",
            "add-step",
            "nightly",
            "--name",
            "s",
            "--target-group",
            "tenants",
            "--credential",
            "admin",
            "--command",
            "SELECT 1",
            "--backoff-multiplier",
            "0.5",
        ),
        "multiplier",
    ),
    (
        (
            "job",
            "add-step",
            "nightly",
            "--name",
            "s",
            "--target-group",
            "tenants",
            "--credential",
            "admin",
            "--command",
            "SELECT 1",
            "--output-table",
            "t",
        ),
        "--output-server",
    ),
    (("job", "show", "ghost"), "no job named 'ghost'"),
    (("job", "add", "a/b"), "contains '/'"),
    (("job", "remove", "ghost"), "no job named 'ghost'"),
    (("job", "update-step", "nightly", "ghost", "--command", "x"), "no step named 'ghost'"),
]


@pytest.mark.parametrize(
    ("args", "message"),
    BAD_INPUTS,
    ids=[" ".join(a[:3]) + f" #{i}" for i, (a, _) in enumerate(BAD_INPUTS)],
)
def test_bad_input_is_one_line_and_changes_nothing(
    defined: Cli, job_db: str, args: tuple[str, ...], message: str
) -> None:
    tables = ["credential", "target_group", "target_group_member", "job", "job_version", "job_step"]
    before = {table: row_count(job_db, table) for table in tables}
    result = defined(*args)
    assert result.code != 0
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert "Traceback" not in result.err
    assert {table: row_count(job_db, table) for table in tables} == before


def test_wrong_secret_key_is_a_clear_error(
    defined: Cli, job_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.fernet import Fernet

    before = row_count(job_db, "credential")
    monkeypatch.setenv("SQLFLEET_SECRET_KEY", Fernet.generate_key().decode())
    result = defined("credential", "add", "other", "--username", "u", "--password-env", "HOME")
    assert result.code == 2
    assert result.err.startswith("error: the secret key cannot decrypt")
    assert len(result.err.strip().splitlines()) == 1
    assert row_count(job_db, "credential") == before
    monkeypatch.setenv("SQLFLEET_SECRET_KEY", "not-a-key")
    result = defined("credential", "update", "admin", "--password-env", "HOME")
    assert result.code == 2 and "malformed" in result.err


def test_unreachable_job_database_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = Cli(capsys, monkeypatch, "postgresql://postgres:hunter2@127.0.0.1:1/jobs")
    result = cli("job", "list")
    assert result.code == 3
    assert result.err.startswith("error: cannot reach the job database")
    assert "hunter2" not in result.err and len(result.err.strip().splitlines()) == 1
    missing = Cli(capsys, monkeypatch, "sqlite:////nonexistent/folder/jobs.db")
    result = missing("job", "list")
    assert result.code == 3 and "run `sqlfleet init`" in result.err


def test_version(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlfleet import __version__

    result = Cli(capsys, monkeypatch, None)("--version")
    assert (result.code, result.out.strip()) == (0, f"sqlfleet {__version__}")


HOOK_TOKEN = "Hk7-token-in-the-path"
NOTIFY_SECRET = "Nf3-signing-secret"


def test_webhooks_are_given_shown_masked_and_cleared(
    defined: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = defined
    monkeypatch.setenv("TEAMS_HOOK", f"https://example.webhook.office.com/{HOOK_TOKEN}")
    cli.ok(
        "job",
        "update",
        "nightly",
        "--notify",
        f"https://hooks.slack.com/services/{HOOK_TOKEN}",
        "--notify-env",
        "TEAMS_HOOK",
        "--notify-on",
        "always",
        "--notify-secret-stdin",
        stdin=NOTIFY_SECRET + "\n",
    )
    shown = cli.ok("job", "show", "nightly")
    assert "notify 1:    https://hooks.slack.com/… on always, signed" in shown.out
    assert "notify 2:    https://example.webhook.office.com/… on always, signed" in shown.out
    document = cli.ok("job", "show", "nightly", "--json").json()
    assert [w["url"] for w in document["notify"]] == [
        "https://hooks.slack.com/…",
        "https://example.webhook.office.com/…",
    ]
    listed = cli.ok("job", "list", "--json").out
    for output in (shown.out, json.dumps(document), listed):
        assert HOOK_TOKEN not in output and NOTIFY_SECRET not in output
    cli.ok("job", "update", "nightly", "--description", "kept")
    assert len(cli.ok("job", "show", "nightly", "--json").json()["notify"]) == 2
    cli.ok("job", "update", "nightly", "--no-notify")
    assert cli.ok("job", "show", "nightly", "--json").json()["notify"] == []
    refused = cli("job", "update", "nightly", "--notify", f"ftp://h/{HOOK_TOKEN}")
    assert refused.code == 2
    assert refused.err == "error: the webhook URL ftp://h/… must start with http:// or https://\n"


def test_run_posts_and_execution_show_lists_the_notifications(defined: Cli, pg_fleet: Any) -> None:
    cli = defined
    databases = pg_fleet(2)
    prefix = databases[0].rsplit("_", 1)[0]
    cli.ok("target-group", "add", "few")
    cli.ok(
        "target-group",
        "add-member",
        "few",
        "--server",
        "postgresql://127.0.0.1:5432",
        "--database-pattern",
        f"{prefix}_*",
    )
    with webhook_receiver(200) as receiver:
        cli.ok(
            "job",
            "add",
            "failing",
            "--notify",
            receiver.url,
            "--notify-secret-stdin",
            stdin=NOTIFY_SECRET + "\n",
        )
        cli.ok(
            "job",
            "add-step",
            "failing",
            "--name",
            "s",
            "--target-group",
            "few",
            "--credential",
            "admin",
            "--command",
            "SELECT 1/0",
            "--retry-attempts",
            "0",
        )
        ran = cli("run", "failing", "--json", "--web-url", "https://fleet.example.com")
        assert ran.code == 1, ran.err
        execution_id = ran.json()["job_execution_id"]
        (post,) = receiver.posts()
    assert post.signed_by(NOTIFY_SECRET)
    body = post.document
    assert body["url"] == f"https://fleet.example.com/executions/{execution_id}"
    assert body["counts"] == {"Failed": 2}
    assert SECRET not in post.body.decode() and NOTIFY_SECRET not in post.body.decode()
    shown = cli.ok("execution", "show", str(execution_id))
    assert "WEBHOOK" in shown.out and "execution.ended" in shown.out
    assert "delivered" in shown.out and "s3cr3tT0k3n" not in shown.out
    (note,) = cli.ok("execution", "show", str(execution_id), "--json").json()["notifications"]
    assert (note["state"], note["attempts"], note["last_status"]) == ("delivered", 1, 200)
