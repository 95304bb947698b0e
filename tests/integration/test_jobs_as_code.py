"""Jobs as code: apply, export and apply again, on both job databases."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from sqlfleet import limits
from sqlfleet.cli import main
from sqlfleet.fleet import Fleet
from sqlfleet.secrets import Secret

DEFINITION_TABLES = (
    "credential",
    "target_group",
    "target_group_member",
    "job",
    "job_version",
    "job_step",
    "job_webhook",
)
HOOK = "https://hooks.example.com/services/T0/B0/Wh00kT0ken"
HOOK_SECRET = "hmac-Secr3t"


def sqlfleet(job_db: str, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--job-db", job_db, *args])
    return code, out.getvalue(), err.getvalue()


def dump(job_db: str) -> dict[str, list[Any]]:
    """Every row of the definition tables (secrets included, as encrypted tokens)."""
    engine = create_engine(job_db.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = {
            table: sorted(map(repr, conn.execute(text(f"SELECT * FROM {table}")).all()))
            for table in DEFINITION_TABLES
        }
    engine.dispose()
    return rows


def every_step_setting() -> dict[str, Any]:
    """A value other than the default for every numeric and yes/no step setting."""
    values: dict[str, Any] = {}
    for setting in limits.STEP_SETTINGS:
        limit = setting.limit
        if limit is None:
            values[setting.field] = True
        elif isinstance(limit, limits.Number):
            value: float = 7 if limit.whole else 2.5
            if value == limit.default:
                value += 1
            values[setting.field] = max(limit.low, min(limit.high, value))
    return values


@pytest.fixture
def definitions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ADMIN_PASSWORD", "pw-'quoted'")
    monkeypatch.setenv("NIGHTLY_HOOK", HOOK)
    monkeypatch.setenv("NIGHTLY_HOOK_SECRET", HOOK_SECRET)
    (tmp_path / "reader.secret").write_text("s3cret\n")
    (tmp_path / "migration.sql").write_text("ALTER TABLE t ADD COLUMN c int;\nGO\nSELECT 1\n")
    document = {
        "credentials": [
            {"name": "admin", "username": "admin", "secret": {"env": "ADMIN_PASSWORD"}},
            {"name": "reader", "username": "ro", "secret": {"file": "reader.secret"}},
        ],
        "target_groups": [
            {
                "name": "tenants",
                "members": [
                    {"server": "postgresql://db1:5432", "database_pattern": "tenant_*"},
                    {"server": "postgresql://db1:5432", "database": "tenant_x", "exclude": True},
                    {"server": "mysql://db2:3306", "database": "app"},
                    {
                        "server": "mysql://db2:3306",
                        "database": "billing",
                        # Written in any order; a whole number is the text it shows.
                        "vars": {"plan": 'it\'s "gold" \\ 日本', "tier": 3, "empty": ""},
                    },
                    {"server": "postgresql://db3", "database": "app", "schema_pattern": "t_*"},
                    {
                        "server": "mysql://db4:3306",
                        "database": "catalog",
                        "shard_map_query": "SELECT db FROM shards",
                        "refresh_credential": "reader",
                    },
                    {"server": "sqlite:///srv/tenants"},
                ],
            },
            {"name": "reports", "members": [{"server": "postgresql://db9:5432", "database": "r"}]},
        ],
        "jobs": [
            {
                "name": "nightly",
                "description": "Every night, Paris time",
                "enabled": True,
                "schedule": {"spec": "0 3 * * *", "timezone": "Europe/Paris"},
                "notify": [
                    {"url_env": "NIGHTLY_HOOK", "on": "always", "secret_env": "NIGHTLY_HOOK_SECRET"}
                ],
                "steps": [
                    {
                        "name": "migrate",
                        "target_group": "tenants",
                        "credential": "admin",
                        "command_file": "migration.sql",
                        **every_step_setting(),
                    },
                    {
                        "name": "collect",
                        "target_group": "tenants",
                        "credential": "reader",
                        "command": "SELECT count(*) AS customers FROM customers",
                        "output": {
                            "server": "postgresql://db9:5432",
                            "database": "r",
                            "schema": "stats",
                            "table": "customers",
                            "credential": "admin",
                        },
                    },
                ],
            },
            {
                "name": "weekly",
                "schedule": {
                    "spec": "every 2 weeks",
                    "timezone": "America/New_York",
                    "start_time": "2026-03-08T01:30:00",
                    "end_time": "2027-01-01T00:00:00",
                },
                "steps": [
                    {
                        "name": "s",
                        "target_group": "reports",
                        "credential": "reader",
                        "command": "SELECT 1",
                    }
                ],
            },
        ],
    }
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_apply_export_apply_round_trips_with_no_new_version(
    job_db: str, definitions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = sqlfleet(job_db, "apply", str(definitions))
    assert code == 0, err
    assert "+ job nightly: create" in out and out.rstrip().endswith("applied")
    applied = dump(job_db)
    with Fleet.open(job_db) as fleet:
        nightly = fleet.get_job("nightly")
        assert nightly.version == 1
        assert nightly.steps[0].settings.command.startswith("ALTER TABLE t")
        assert fleet.credential_login("admin")[1].reveal() == "pw-'quoted'"
        assert fleet.credential_login("reader")[1].reveal() == "s3cret"
        members = fleet.get_target_group("tenants").members
        assert len(members) == 7
        assert members[3].variables == (
            ("plan", 'it\'s "gold" \\ 日本'),
            ("tier", "3"),
            ("empty", ""),
        )
        (webhook,) = fleet.webhook_specs(nightly)
        assert (webhook.url.reveal(), webhook.on, webhook.secret) == (
            HOOK,
            "always",
            Secret(HOOK_SECRET),
        )
        assert [(w.url, w.signed) for w in nightly.webhooks] == [
            ("https://hooks.example.com/…", True)
        ]

    code, out, err = sqlfleet(job_db, "apply", str(definitions))
    assert code == 0, err
    assert "nothing to change" in out and "~" not in out and "+" not in out
    assert dump(job_db) == applied

    code, exported, err = sqlfleet(job_db, "export")
    assert code == 0, err
    assert "pw-" not in exported and "s3cret" not in exported
    assert "vars:" in exported
    assert "Wh00kT0ken" not in exported and HOOK_SECRET not in exported
    assert yaml.safe_load(exported)["jobs"][0]["notify"] == [
        {
            "url_env": "SQLFLEET_NOTIFY_NIGHTLY_1",
            "on": "always",
            "secret_env": "SQLFLEET_NOTIFY_SECRET_NIGHTLY_1",
        }
    ]
    (tmp_path / "exported.yaml").write_text(exported)
    monkeypatch.setenv("SQLFLEET_SECRET_ADMIN", "pw-'quoted'")
    monkeypatch.setenv("SQLFLEET_SECRET_READER", "s3cret")
    monkeypatch.setenv("SQLFLEET_NOTIFY_NIGHTLY_1", HOOK)
    monkeypatch.setenv("SQLFLEET_NOTIFY_SECRET_NIGHTLY_1", HOOK_SECRET)
    code, out, err = sqlfleet(job_db, "apply", str(tmp_path / "exported.yaml"))
    assert (code, err) == (0, "")
    assert "nothing to change" in out
    assert dump(job_db) == applied


def test_a_changed_webhook_makes_one_version_and_a_bare_on_key_is_read(
    job_db: str, definitions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sqlfleet(job_db, "apply", str(definitions))[0] == 0
    monkeypatch.setenv("NIGHTLY_HOOK_SECRET", "another secret")
    code, out, _ = sqlfleet(job_db, "apply", str(definitions))
    assert code == 0 and "~ job nightly: change (notify)" in out
    assert "another" not in out and "Wh00kT0ken" not in out
    # Hand-written YAML: a bare `on` key is YAML 1.1's boolean true.
    text = definitions.read_text()
    text = text.replace("'on': always", "on: failure").replace(
        "secret_env: NIGHTLY_HOOK_SECRET", ""
    )
    assert " on: failure" in text and "'on'" not in text
    definitions.write_text(text)
    code, out, err = sqlfleet(job_db, "apply", str(definitions))
    assert code == 0, err
    with Fleet.open(job_db) as fleet:
        nightly = fleet.get_job("nightly")
        assert nightly.version == 3
        assert [(w.on, w.signed) for w in nightly.webhooks] == [("failure", False)]
    assert "nothing to change" in sqlfleet(job_db, "apply", str(definitions))[1]


def test_a_change_makes_one_version_and_prune_removes_what_the_files_no_longer_hold(
    job_db: str, definitions: Path
) -> None:
    assert sqlfleet(job_db, "apply", str(definitions))[0] == 0
    document = yaml.safe_load(definitions.read_text())
    document["jobs"][0]["steps"][1]["command"] = "SELECT 2 AS customers"
    document["jobs"][0]["description"] = "changed"
    document["jobs"].pop()  # weekly
    document["target_groups"][0]["members"].pop(0)
    definitions.write_text(yaml.safe_dump(document, sort_keys=False))

    code, out, _ = sqlfleet(job_db, "apply", str(definitions))
    assert code == 0
    assert "~ job nightly: change (description, steps)" in out
    assert "~ target group tenants: change (0 member(s) added, 1 removed)" in out
    with Fleet.open(job_db) as fleet:
        assert fleet.get_job("nightly").version == 2
        assert fleet.get_job("weekly").version == 1  # not pruned without --prune

    before = dump(job_db)
    code, out, _ = sqlfleet(job_db, "apply", str(definitions), "--prune", "--dry-run")
    assert code == 0 and "- job weekly: remove" in out and "dry run" in out
    assert dump(job_db) == before
    assert sqlfleet(job_db, "apply", str(definitions), "--prune")[0] == 0
    with Fleet.open(job_db) as fleet:
        assert [j.name for j in fleet.list_jobs()] == ["nightly"]


def test_a_failure_while_applying_changes_nothing(job_db: str, definitions: Path) -> None:
    with Fleet.open(job_db) as fleet:
        fleet.add_credential("old", "u", Secret("pw"))
        fleet.add_target_group("old")
        step = {"command": "SELECT 1", "target_group": "old", "credential": "old"}
        fleet.add_job("old-job", steps=[("s", step)])
        fleet.create_execution("old-job")  # active: the job cannot be removed without --force
    before = dump(job_db)
    code, out, err = sqlfleet(job_db, "apply", str(definitions), "--prune")
    assert code == 2, out
    assert err.startswith("error: job 'old-job' has 1 active execution(s)"), err
    assert dump(job_db) == before


@pytest.mark.parametrize(
    ("content", "line", "says"),
    [
        (
            "jobs:\n  - name: a\n    notify:\n      - url_env: SQLFLEET_NOT_SET_HOOK\n",
            4,
            "jobs[0].notify[0].url_env: environment variable SQLFLEET_NOT_SET_HOOK is not set",
        ),
        (
            "jobs:\n  - name: a\n    notify:\n      - url_env: SQLFLEET_TEST_BAD_HOOK\n",
            4,
            "jobs[0].notify[0].url_env: the webhook URL ftp://h/… must start with http",
        ),
        (
            "jobs:\n  - name: a\n    notify:\n      - url_env: HOME\n        on: sometimes\n",
            5,
            "jobs[0].notify[0].on: Input should be 'failure' or 'always'",
        ),
        ("jobs:\n  - name: a\n    stepz: []\n", 3, "jobs[0].stepz: Extra inputs are not permitted"),
        (
            "jobs:\n  - name: a\n    steps:\n      - name: s\n        target_group: g\n"
            "        credential: c\n        command: SELECT 1\n        retry_attempts: many\n",
            8,
            "jobs[0].steps[0].retry_attempts: Input should be a valid integer",
        ),
        (
            "jobs:\n  - name: a\n    steps:\n      - name: s\n        target_group: nope\n"
            "        credential: c\n        command: SELECT 1\n",
            5,
            "jobs[0].steps[0].target_group: target group 'nope' is neither in the files",
        ),
        ("jobs:\n  - name: a\n    steps: [\n", 4, "YAML syntax error"),
        (
            "credentials:\n  - name: c\n    username: u\n    secret: {env: SQLFLEET_NOT_SET_X}\n",
            4,
            "credentials[0].secret: environment variable SQLFLEET_NOT_SET_X is not set",
        ),
        (
            "credentials:\n  - name: c\n    username: u\n    secret: {env: HOME, file: x}\n",
            4,
            "credentials[0].secret: give the secret's source",
        ),
        ("- 1\n", 1, "the file must be a mapping"),
        (
            "target_groups:\n  - name: g\n    members:\n      - server: postgresql://u:Zq9pw@h:abc\n",
            4,
            "target_groups[0].members[0]:",
        ),
        (
            "jobs:\n  - name: a\n    steps:\n      - name: s\n        target_group: g\n"
            "        credential: c\n        command_file: /etc/passwd\n",
            4,
            "jobs[0].steps[0]: '/etc/passwd' is outside the folder being applied",
        ),
        (
            "credentials:\n  - name: c\n    username: u\n    secret: {file: ../../../etc/shadow}\n",
            4,
            "credentials[0].secret: '../../../etc/shadow' is outside the folder being applied",
        ),
        ("jobs:\n  - name: a\n    name: b\n", 3, "the key 'name' is written twice"),
        (
            "jobs:\n  - name: big\n    description: " + "x" * 10_001 + "\n",
            2,
            "jobs[0]: the description is longer than",
        ),
        (
            "target_groups:\n  - name: g2\n    members:\n      - server: postgresql://h\n"
            '        database: "bad\\0db"\n',
            4,
            "target_groups[0].members[0]: the database contains a NUL character",
        ),
        (
            "target_groups:\n  - name: g2\n    members:\n      - server: mssql://h\n",
            4,
            "names SQL Server: its targets are not supported yet",
        ),
        (
            "target_groups:\n  - name: g2\n    members:\n      - server: postgresql://h\n"
            "        database: d\n        vars:\n          version: 1.10\n",
            7,
            "target_groups[0].members[0].vars: the value of 'version' is 1.1, not text: "
            "write it in quotes",
        ),
        (
            "target_groups:\n  - name: g2\n    members:\n      - server: postgresql://h\n"
            "        database: d\n        vars:\n          job_name: x\n",
            4,
            "target_groups[0].members[0]: the variable name 'job_name' is taken by the "
            "built-in variable $(job_name)",
        ),
        (
            "target_groups:\n  - name: g2\n    members:\n      - server: postgresql://h\n"
            "        vars:\n          plan: gold\n",
            4,
            "target_groups[0].members[0]: a server member takes no variables",
        ),
    ],
    ids=[
        "notify-unset-env",
        "notify-bad-url",
        "notify-bad-on",
        "unknown-field",
        "wrong-type",
        "unknown-reference",
        "syntax",
        "unset-env",
        "two-sources",
        "not-a-mapping",
        "bad-url",
        "script-outside",
        "secret-outside",
        "duplicate-key",
        "long-description",
        "nul-in-database",
        "sql-server",
        "float-var",
        "built-in-var",
        "var-on-server",
    ],
)
def test_a_bad_file_is_one_line_with_file_and_line_and_changes_nothing(
    job_db: str, tmp_path: Path, content: str, line: int, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQLFLEET_TEST_BAD_HOOK", "ftp://h/Zq9pw-token")
    with Fleet.open(job_db) as fleet:
        fleet.add_target_group("g")
        fleet.add_credential("c", "u", Secret("pw"))
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    before = dump(job_db)
    code, out, err = sqlfleet(job_db, "apply", str(path))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith(f"error: {path}:{line}: "), err
    assert says in err
    assert "Zq9pw" not in err
    assert dump(job_db) == before


def test_a_file_too_large_is_refused_before_it_is_read(job_db: str, tmp_path: Path) -> None:
    from sqlfleet.jobs_as_code.document import MAX_FILE_BYTES

    path = tmp_path / "huge.yaml"
    with path.open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)
    code, _, err = sqlfleet(job_db, "apply", str(path), "--dry-run")
    assert code == 2 and "is larger than 20 MB" in err


def test_a_script_file_beside_the_definitions_is_read(job_db: str, definitions: Path) -> None:
    """Inside the folder applied, a relative path and a link to a file in it are fine."""
    (definitions.parent / "linked.sql").symlink_to(definitions.parent / "migration.sql")
    document = yaml.safe_load(definitions.read_text())
    document["jobs"][0]["steps"][0]["command_file"] = "./linked.sql"
    definitions.write_text(yaml.safe_dump(document, sort_keys=False))
    code, _, err = sqlfleet(job_db, "apply", str(definitions))
    assert code == 0, err


def test_the_schema_describes_every_step_setting() -> None:
    import json

    code, out, _ = sqlfleet("sqlite:////nonexistent/jobs.db", "schema")
    assert code == 0
    schema = json.loads(out)
    step = schema["$defs"]["StepDoc"]["properties"]
    assert {s.field for s in limits.STEP_SETTINGS} <= set(step)
    assert schema["additionalProperties"] is False
