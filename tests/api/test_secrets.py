"""A password never comes back out: not in CLI output, API answers, pages, cookies or logs.

One distinctive password goes through every path that takes a URL or a credential and can
fail: malformed server URLs (members, step outputs), malformed job database URLs, the REST
API, the web forms with their flash messages and session cookie, and failed logins on real
PostgreSQL and MariaDB servers. Every path must fail with a clear message, and nothing any of
them printed, answered or logged may hold the password.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlfleet.api.app import SESSION_COOKIE
from sqlfleet.fleet import Fleet
from tests.api.conftest import Api, make_client
from tests.api.test_security import HTML, csrf_of, decode_session_cookie
from tests.browser.server import sqlfleet_env
from tests.cli_runner import Cli, Result
from tests.conftest import row_count

PW = "Zq9-distinctive-PW"

# Every kind of malformed server URL, each holding the password somewhere.
BAD_SERVER_URLS = [
    f"postgresql://u:{PW}@db1:abc",
    f"postgresql://u:{PW}@db1:70000",
    f"postgresql://u:{PW}@db1:0",
    f"oracle://u:{PW}@db1:1521",
    f"u:{PW}@db1:5432",  # no scheme
    f"postgresql//u:{PW}@db1:5432",  # half a scheme
    f"postgresql://u:{PW}@[::1",
    f"postgresql://u:{PW}@[::1]x",
    f"postgresql://u:{PW}@db1\n:5432",
    f"postgresql://u:{PW}@db1\t:5432",
    f"postgresql://u:{PW}@db1:5432",  # well formed, but a server URL holds no password
    f"postgresql://u:{PW}",  # `@host` left out: the password reads as the port
    f"mysql://db1:3306?password={PW}",
]
BAD_SERVER_IDS = [repr(u.replace(PW, "PW"))[1:-1] for u in BAD_SERVER_URLS]

# Malformed job database URLs, and the exit code each is: 2 bad input, 3 unreachable.
BAD_JOB_DB_URLS = [
    (f"postgresql://u:{PW}@127.0.0.1:abc/jobs", 2),
    (f"postgresql://u:{PW}@127.0.0.1:70000/jobs", 2),
    (f"postgresql://u:{PW}@127.0.0.1:0/jobs", 2),
    (f"oracle://u:{PW}@127.0.0.1/jobs", 2),
    (f"u:{PW}@127.0.0.1/jobs", 2),
    (f"postgresql://u:{PW}@[::1/jobs", 2),
    (f"postgresql://u:{PW}@127.0.0.1\n/jobs", 2),
    (f"postgresql://u:{PW}@127.0.0.1:1/jobs", 3),
    (f"postgresql://u@127.0.0.1:1/jobs?password={PW}", 3),
]
BAD_JOB_DB_IDS = [repr(u.replace(PW, "PW"))[1:-1] for u, _ in BAD_JOB_DB_URLS]


def assert_clean_error(result: Result, code: int) -> None:
    """A one-line error with the expected exit code, and no password anywhere."""
    assert result.code == code, result
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err
    assert PW not in result.out + result.err, result.err


@pytest.fixture(autouse=True)
def no_password_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Whatever a test does, nothing it logs, at any level, holds the password."""
    caplog.set_level(logging.DEBUG)
    yield
    assert PW not in caplog.text


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fleet_on_sqlite: Fleet
) -> Cli:
    """The command line on a job database with a credential, a target group and a job."""
    run = Cli(capsys, monkeypatch, str(fleet_on_sqlite.store.engine.url))
    run.ok("credential", "add", "c", "--username", "u", "--password-stdin", stdin=PW + "\n")
    run.ok("target-group", "add", "g")
    run.ok("job", "add", "j")
    run.ok(
        "job",
        "add-step",
        "j",
        "--name",
        "main",
        "--target-group",
        "g",
        "--credential",
        "c",
        "--command",
        "SELECT 1",
    )
    return run


@pytest.mark.parametrize("url", BAD_SERVER_URLS, ids=BAD_SERVER_IDS)
def test_cli_server_url_errors_never_show_the_password(cli: Cli, url: str) -> None:
    job_db = cli.job_db or ""
    before = {t: row_count(job_db, t) for t in ("target_group_member", "job_version")}
    assert_clean_error(cli("target-group", "add-member", "g", "--server", url), 2)
    output = ("--output-database", "d", "--output-table", "t", "--output-credential", "c")
    added = cli(
        "job",
        "add-step",
        "j",
        "--name",
        "out",
        "--target-group",
        "g",
        "--credential",
        "c",
        "--command",
        "SELECT 1",
        "--output-server",
        url,
        *output,
    )
    assert_clean_error(added, 2)
    updated = cli("job", "update-step", "j", "main", "--output-server", url, *output)
    assert_clean_error(updated, 2)
    assert {t: row_count(job_db, t) for t in before} == before


@pytest.mark.parametrize(("url", "code"), BAD_JOB_DB_URLS, ids=BAD_JOB_DB_IDS)
def test_cli_job_database_url_errors_never_show_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str, code: int
) -> None:
    for args in (("job", "list"), ("init",), ("web", "--port", "0")):
        assert_clean_error(Cli(capsys, monkeypatch, url)(*args), code)
        monkeypatch.setenv("SQLFLEET_JOB_DB", url)
        assert_clean_error(Cli(capsys, monkeypatch, None)(*args), code)
        monkeypatch.delenv("SQLFLEET_JOB_DB")


def test_a_job_database_url_with_a_bad_port_is_one_line_from_a_process(tmp_path: Path) -> None:
    for url in (f"postgresql://u:{PW}@127.0.0.1:abc/jobs", f"postgresql://u:{PW}@[::1/jobs"):
        done = subprocess.run(
            [sys.executable, "-m", "sqlfleet", "job", "list"],
            env=sqlfleet_env(SQLFLEET_HOME=str(tmp_path), SQLFLEET_JOB_DB=url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: job database URL 'postgresql://u:***@")
        assert done.stderr.count("\n") == 1 and PW not in done.stdout + done.stderr


def secret_free(api: Api) -> None:
    leaks = [seen for seen in api.seen if PW in seen]
    assert not leaks, leaks[0][:500]


def test_api_server_url_errors_never_show_the_password(sqlite_api: Api) -> None:
    api = sqlite_api
    api.post("/api/v1/target-groups", 201, json={"name": "g"})
    step = {"command": "SELECT 1", "target_group": "g", "credential": "pg"}
    api.post("/api/v1/jobs", 201, json={"name": "j", "steps": [{"name": "main", **step}]})
    for url in BAD_SERVER_URLS:
        output = {"server": url, "database": "d", "table": "t", "credential": "pg"}
        message = api.error(
            "POST", "/api/v1/target-groups/g/members", 422, "InvalidServerUrl", json={"server": url}
        )
        assert message.startswith(("server URL '", 'server URL "')), message
        api.error(
            "POST",
            "/api/v1/jobs/j/steps",
            422,
            "InvalidServerUrl",
            json={"name": "out", **step, "output": output},
        )
        api.error(
            "PATCH", "/api/v1/jobs/j/steps/main", 422, "InvalidServerUrl", json={"output": output}
        )
        api.error(
            "POST",
            "/api/v1/jobs",
            422,
            "InvalidServerUrl",
            json={"name": "k", "steps": [{"name": "main", **step, "output": output}]},
        )
    assert api.get("/api/v1/target-groups/g")["members"] == []
    assert [j["job_name"] for j in api.get("/api/v1/jobs")] == ["j"]
    secret_free(api)


def test_form_flashes_and_cookies_never_show_the_password(sqlite_api: Api) -> None:
    api = sqlite_api
    client = api.client
    api.post("/api/v1/target-groups", 201, json={"name": "g"})
    for url in BAD_SERVER_URLS:
        page = client.get("/target-groups/g", headers=HTML)
        posted = client.post(
            "/target-groups/g/members",
            data={"server": url, "csrf_token": csrf_of(page.text)},
            headers=HTML,
            follow_redirects=False,
        )
        assert posted.status_code == 303
        shown = client.get("/target-groups/g", headers=HTML)
        assert 'class="flash error"' in shown.text and "server URL" in shown.text
        for response in (page, posted, shown):
            api.seen.append(f"{response.headers}\n{response.text}")
            for key, value in response.headers.multi_items():
                if key == "set-cookie" and value.startswith(f"{SESSION_COOKIE}="):
                    contents = decode_session_cookie(value)
                    assert set(contents) <= {"sid", "csrf"}, contents
                    api.seen.append(json.dumps(contents))
    assert api.get("/api/v1/target-groups/g")["members"] == []
    secret_free(api)


def test_a_wrong_web_login_does_not_echo_what_was_typed(fleet_on_sqlite: Fleet) -> None:
    with make_client(fleet_on_sqlite, token="the-real-token-for-this-test") as client:
        login = client.get("/login", headers=HTML)
        wrong = client.post(
            "/login",
            data={"csrf_token": csrf_of(login.text), "token": PW, "next": "/jobs"},
            headers=HTML,
        )
        assert wrong.status_code == 401
        assert PW not in f"{wrong.headers}\n{wrong.text}"


def test_failed_logins_on_real_servers_never_show_the_password(
    cli: Cli, pg_targets: list[str]
) -> None:
    # MariaDB's root has no password, so this one is refused; PostgreSQL trusts every login,
    # so a role that does not exist is refused there instead.
    cli.ok("credential", "add", "maria", "--username", "root", "--password-stdin", stdin=PW)
    role = ("--username", "sqlfleet_no_such_role")
    cli.ok("credential", "add", "nobody", *role, "--password-stdin", stdin=PW)
    members = {
        "maria-server": ("--server", "mysql://127.0.0.1:3306"),
        "maria-db": ("--server", "mysql://127.0.0.1:3306", "--database", "mysql"),
        "pg-db": ("--server", "postgresql://127.0.0.1:5432", "--database", pg_targets[0]),
    }
    for group, member in members.items():
        cli.ok("target-group", "add", group)
        cli.ok("target-group", "add-member", group, *member)

    resolved = cli("target-group", "resolve", "maria-server", "--credential", "maria")
    assert_clean_error(resolved, 4)
    assert "Access denied" in resolved.err

    with Fleet.open(cli.job_db) as fleet, make_client(fleet) as client:
        for group, credential in (
            ("maria-server", "maria"),
            ("maria-db", "maria"),
            ("pg-db", "nobody"),
        ):
            job = f"job-{group}"
            cli.ok("job", "add", job)
            step = ("--target-group", group, "--credential", credential, "--command", "SELECT 1")
            cli.ok("job", "add-step", job, "--name", "main", *step, "--retry-attempts", "0")
            ran = cli("run", job)
            assert ran.code == 1, ran
            assert PW not in ran.out + ran.err
            [execution] = cli.ok("execution", "list", "--job", job, "--json").json()
            execution_id = execution["job_execution_id"]
            details = cli("execution", "show", str(execution_id), "--steps", "--targets")
            assert "Access denied" in details.out or "sqlfleet_no_such_role" in details.out
            assert PW not in details.out + details.err
            paths = [
                f"/api/v1/executions/{execution_id}",
                f"/api/v1/executions/{execution_id}/targets",
                f"/executions/{execution_id}",
                f"/executions/{execution_id}/live.json",
            ]
            for target in client.get(paths[1]).json():
                where = f"{execution_id}/targets/{target['target_execution_id']}"
                paths += [f"/api/v1/executions/{where}/attempts", f"/executions/{where}"]
            for path in paths:
                answer = client.get(path, headers=HTML)
                assert answer.status_code == 200, f"{path}: {answer.text}"
                assert PW not in answer.text, path
