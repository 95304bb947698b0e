"""Scripts read as each engine's own client reads them: dumps made by the engines' own tools
load unchanged on a fleet, and a failure says where in the script it happened."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from sqlfleet.errors import InvalidCommand
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import OutputDestination
from sqlfleet.secrets import Secret
from sqlfleet.servers import ServerUrl
from tests.cli_runner import Cli
from tests.integration.engine.conftest import MYSQL, PG, one_step_job

pytestmark = pytest.mark.timeout(180)

TARGETS = 5


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def _dump(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


async def _run_on_group(fleet: Fleet, job: str, command: str, credential: str) -> int:
    one_step_job(fleet, job, "targets", command, credential=credential, retry_attempts=0)
    execution = await fleet.run(job, concurrency=TARGETS)
    targets = fleet.list_target_executions(execution.id)
    assert execution.lifecycle is Lifecycle.SUCCEEDED, [t.last_message for t in targets]
    assert len(targets) == TARGETS
    return execution.id


# -- PostgreSQL: pg_dump's plain format, COPY ... FROM stdin data and all ---------------------

PG_SOURCE = [
    "CREATE TABLE author (id serial PRIMARY KEY, name text NOT NULL, note text)",
    "CREATE TABLE book (id serial PRIMARY KEY, author_id int REFERENCES author (id),"
    " title text, price numeric(8, 2), updated timestamptz)",
    "INSERT INTO author (name, note) SELECT 'author ' || g, CASE WHEN g % 3 = 0 THEN NULL"
    " ELSE E'tab\\there\\nnew line \\\\ back; semi ''quoted'' \\\\.' END"
    " FROM generate_series(1, 300) g",
    "INSERT INTO book (author_id, title, price) SELECT 1 + g % 300, 'title ' || g, g * 1.5"
    " FROM generate_series(1, 700) g",
    "CREATE VIEW cheap_book AS SELECT id, title FROM book WHERE price < 100",
    "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN NEW.updated := now(); RETURN NEW; END; $$",
    "CREATE TRIGGER book_touch BEFORE UPDATE ON book FOR EACH ROW EXECUTE FUNCTION touch()",
    "CREATE FUNCTION book_count(a int) RETURNS bigint LANGUAGE sql AS"
    " $body$ SELECT count(*) FROM book WHERE author_id = a; $body$",
    "CREATE FUNCTION author_name(i int) RETURNS text LANGUAGE sql"
    " BEGIN ATOMIC SELECT name FROM author WHERE id = i; END",
]
PG_CATALOG = [
    "SELECT table_name, table_type FROM information_schema.tables"
    " WHERE table_schema = 'public' ORDER BY 1",
    "SELECT routine_name, routine_type FROM information_schema.routines"
    " WHERE routine_schema = 'public' ORDER BY 1",
    "SELECT trigger_name, event_manipulation, action_timing FROM information_schema.triggers"
    " ORDER BY 1, 2",
    "SELECT count(*), md5(string_agg(a::text, ',' ORDER BY id)) FROM author a",
    "SELECT count(*), md5(string_agg(b::text, ',' ORDER BY id)) FROM book b",
    "SELECT nextval('book_id_seq')",
]


def _pg_state(pg_sql: Any, database: str) -> list[Any]:
    return [pg_sql(database, query) for query in PG_CATALOG]


async def test_a_pg_dump_loads_unchanged(
    sqlite_fleet_db: Fleet, pg_fleet: Any, pg_sql: Any
) -> None:
    pg_dump = _tool("pg_dump")
    source = pg_fleet(1, prefix="scripts_pg_source")[0]
    for statement in PG_SOURCE:
        pg_sql(source, statement)
    server = ServerUrl.parse(PG)
    dump = _dump(pg_dump, "-h", server.host, "-p", str(server.port), "-U", "postgres", source)
    assert "COPY public.author" in dump and "FROM stdin;" in dump  # what this test is about
    targets = pg_fleet(TARGETS, prefix="scripts_pg_target")
    fleet = sqlite_fleet_db
    fleet.add_target_group("targets")
    fleet.add_member("targets", server=PG, database_pattern="scripts_pg_target*")

    await _run_on_group(fleet, "pg-dump", dump, "pg")

    expected = _pg_state(pg_sql, source)
    assert expected[0] and expected[1] and expected[2]
    for target in targets:
        assert _pg_state(pg_sql, target) == expected, target


# -- MariaDB: mariadb-dump with routines and triggers, in DELIMITER blocks --------------------

MYSQL_SOURCE = [
    "CREATE TABLE author (id int PRIMARY KEY AUTO_INCREMENT, name varchar(100) NOT NULL,"
    " note text)",
    "CREATE TABLE book (id int PRIMARY KEY AUTO_INCREMENT, author_id int, title varchar(200),"
    " price decimal(8, 2), updated datetime, FOREIGN KEY (author_id) REFERENCES author (id))",
    "INSERT INTO author (name, note) SELECT CONCAT('author ', seq),"
    " IF(seq % 3 = 0, NULL, 'tab\there\nnew line \\\\ back; semi ''quoted'' # -- /* */ $$')"
    " FROM seq_1_to_300",
    "INSERT INTO book (author_id, title, price) SELECT 1 + seq % 300, CONCAT('title ', seq),"
    " seq * 1.5 FROM seq_1_to_700",
    "CREATE VIEW cheap_book AS SELECT id, title FROM book WHERE price < 100",
    "CREATE TRIGGER book_touch BEFORE UPDATE ON book FOR EACH ROW"
    " BEGIN SET NEW.updated = NOW(); SET NEW.title = TRIM(NEW.title); END",
    "CREATE PROCEDURE reprice(IN factor decimal(4, 2)) BEGIN"
    " UPDATE book SET price = price * factor; SELECT COUNT(*) FROM book; END",
    "CREATE FUNCTION book_count(a int) RETURNS int READS SQL DATA"
    " BEGIN DECLARE n int; SELECT COUNT(*) INTO n FROM book WHERE author_id = a; RETURN n; END",
]


def _mysql_state(mysql_sql: Any, database: str) -> list[Any]:
    schema = f"TABLE_SCHEMA = '{database}'"
    return [
        mysql_sql(
            None,
            f"SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE {schema}"
            " ORDER BY 1",
        ),
        mysql_sql(
            None,
            "SELECT ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION FROM information_schema.ROUTINES"
            f" WHERE ROUTINE_SCHEMA = '{database}' ORDER BY 1",
        ),
        mysql_sql(
            None,
            "SELECT TRIGGER_NAME, ACTION_STATEMENT FROM information_schema.TRIGGERS"
            f" WHERE TRIGGER_SCHEMA = '{database}' ORDER BY 1",
        ),
        mysql_sql(
            database,
            "SELECT COUNT(*), MD5(GROUP_CONCAT(CONCAT_WS('|', id, name, COALESCE(note, '~'))"
            " ORDER BY id SEPARATOR ',')) FROM author",
        ),
        mysql_sql(
            database,
            "SELECT COUNT(*), SUM(price), MD5(GROUP_CONCAT(title ORDER BY id)) FROM book",
        ),
    ]


async def test_a_mariadb_dump_with_routines_and_triggers_loads_unchanged(
    sqlite_fleet_db: Fleet, mysql_fleet: Any, mysql_sql: Any
) -> None:
    mariadb_dump = _tool("mariadb-dump")
    source = mysql_fleet(1, prefix="scripts_my_source")[0]
    for statement in MYSQL_SOURCE:
        mysql_sql(source, statement)
    server = ServerUrl.parse(MYSQL)
    dump = _dump(
        mariadb_dump,
        "-h",
        server.host,
        "-P",
        str(server.port),
        "-uroot",
        "--routines",
        "--triggers",
        source,
    )
    assert "DELIMITER ;;" in dump  # what this test is about
    targets = mysql_fleet(TARGETS, prefix="scripts_my_target")
    fleet = sqlite_fleet_db
    fleet.add_target_group("targets")
    fleet.add_member("targets", server=MYSQL, database_pattern="scripts_my_target*")

    await _run_on_group(fleet, "mariadb-dump", dump, "my")

    expected = _mysql_state(mysql_sql, source)
    assert len(expected[0]) == 3 and len(expected[1]) == 2 and len(expected[2]) == 1
    for target in targets:
        assert _mysql_state(mysql_sql, target) == expected, target


@pytest.fixture(scope="module")
def small_packet_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerUrl]:
    """A MariaDB server of this module's own with max_allowed_packet at 64 KiB.

    The shared server's global setting must not change, and its session value is read-only:
    a server of our own is the honest way to have a packet limit smaller than a script.
    """
    mariadbd = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin")
    install = shutil.which("mariadb-install-db")
    if mariadbd is None or install is None:
        pytest.skip("mariadbd is not installed")
    folder = tmp_path_factory.mktemp("mariadb")
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [
            install,
            "--no-defaults",
            *user,
            f"--datadir={folder / 'data'}",
            "--skip-test-db",
            "--auth-root-authentication-method=normal",
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            mariadbd,
            "--no-defaults",
            *user,
            f"--datadir={folder / 'data'}",
            f"--socket={folder / 's'}",
            "--bind-address=127.0.0.1",
            f"--port={port}",
            f"--max-allowed-packet={SMALL_PACKET}",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=8M",
            f"--log-error={folder / 'error.log'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=port, user="root", password="").close()
                break
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
        yield ServerUrl.parse(f"mysql://127.0.0.1:{port}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


SMALL_PACKET = 64 * 1024


def _small_packet_sql(server: ServerUrl, statement: str, database: str | None = None) -> Any:
    connection = pymysql.connect(
        host=server.host,
        port=server.port,
        user="root",
        password="",
        database=database,
        autocommit=True,
        client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall()
    finally:
        connection.close()


async def test_a_mysql_data_file_larger_than_max_allowed_packet_loads(
    sqlite_fleet_db: Fleet, small_packet_mariadb: ServerUrl
) -> None:
    server = small_packet_mariadb
    row = "(" + ", ".join(["'" + "x" * 120 + "'"] * 4) + ")"
    lines = ["CREATE TABLE filler (a text, b text, c text, d text);"]
    lines += [f"INSERT INTO filler VALUES {', '.join([row] * 3)};" for _ in range(300)]
    script = "\n".join(lines)
    assert len(script) > 6 * SMALL_PACKET
    targets = [f"packet_{n}" for n in range(TARGETS)]
    for target in targets:
        _small_packet_sql(server, f"CREATE DATABASE {target}")
    # Sent whole, as one packet, the server refuses it: the limit is real.
    with pytest.raises(pymysql.err.OperationalError):
        _small_packet_sql(server, script, targets[0])
    fleet = sqlite_fleet_db
    fleet.add_credential("small", "root", Secret(""))
    fleet.add_target_group("targets")
    fleet.add_member("targets", server=str(server), database_pattern="packet_*")

    await _run_on_group(fleet, "data-file", script, "small")

    for target in targets:
        assert _small_packet_sql(server, "SELECT COUNT(*) FROM filler", target) == ((900,),)


# -- SQLite: the sqlite3 shell's .dump ----------------------------------------------------------

SQLITE_SOURCE = """
CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT);
CREATE TABLE book (id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES author (id),
                   title TEXT, price REAL, updated TEXT);
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 300)
INSERT INTO author (name, note) SELECT 'author ' || n,
    CASE WHEN n % 3 = 0 THEN NULL ELSE 'semi; ''quoted'' -- /* */ ' || char(10) || 'line' END
FROM g;
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 700)
INSERT INTO book (author_id, title, price) SELECT 1 + n % 300, 'title ' || n, n * 1.5 FROM g;
CREATE VIEW cheap_book AS SELECT id, title FROM book WHERE price < 100;
CREATE TRIGGER book_touch AFTER UPDATE ON book BEGIN
    UPDATE book SET updated = datetime('now') WHERE id = NEW.id;
    SELECT 1;
END;
"""


def _sqlite_state(path: Path) -> list[Any]:
    connection = sqlite3.connect(path)
    try:
        return [
            connection.execute(
                "SELECT type, name, sql FROM sqlite_master ORDER BY 1, 2"
            ).fetchall(),
            connection.execute("SELECT * FROM author ORDER BY id").fetchall(),
            connection.execute("SELECT * FROM book ORDER BY id").fetchall(),
        ]
    finally:
        connection.close()


async def test_a_sqlite_dump_loads_unchanged(
    sqlite_fleet_db: Fleet, sqlite_fleet: Any, sqlite_server: ServerUrl, tmp_path: Path
) -> None:
    shell = _tool("sqlite3")
    source = tmp_path / "source.db"
    connection = sqlite3.connect(source)
    connection.executescript(SQLITE_SOURCE)
    connection.close()
    dump = _dump(shell, str(source), ".dump")
    assert "CREATE TRIGGER" in dump
    targets = sqlite_fleet(TARGETS, prefix="scripts_lite")
    fleet = sqlite_fleet_db
    fleet.add_target_group("targets")
    fleet.add_member("targets", server=str(sqlite_server), database_pattern="scripts_lite*")

    await _run_on_group(fleet, "sqlite-dump", dump, "pg")

    expected = _sqlite_state(source)
    for target in targets:
        assert _sqlite_state(Path(sqlite_server.path) / target) == expected, target


# -- where a failure happened --------------------------------------------------------------------


def _script_failing_at_line_115(table: str) -> str:
    lines = [f"CREATE TABLE IF NOT EXISTS {table} (n int);"]
    lines += [f"INSERT INTO {table} VALUES ({n});" for n in range(2, 50)]
    lines.append("GO")  # line 50: what follows is batch 2
    lines += [f"INSERT INTO {table} VALUES ({n});" for n in range(51, 115)]
    lines.append("   SELECT n FROM missing_table;")  # line 115, the name at column 18
    lines += [f"INSERT INTO {table} VALUES ({n});" for n in range(116, 301)]
    assert len(lines) == 300 and lines[114].endswith("missing_table;")
    return "\n".join(lines)


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
async def test_a_failure_says_its_batch_line_and_column(
    engine: str,
    sqlite_fleet_db: Fleet,
    pg_fleet: Any,
    mysql_fleet: Any,
    sqlite_fleet: Any,
    sqlite_server: ServerUrl,
) -> None:
    make, server, credential = {
        "postgresql": (pg_fleet, PG, "pg"),
        "mysql": (mysql_fleet, MYSQL, "my"),
        "sqlite": (sqlite_fleet, str(sqlite_server), "pg"),
    }[engine]
    target = make(1, prefix="scripts_where")[0]
    fleet = sqlite_fleet_db
    fleet.add_target_group("targets")
    fleet.add_member("targets", server=server, database=target)
    one_step_job(
        fleet,
        "fails",
        "targets",
        _script_failing_at_line_115("counted"),
        credential,
        retry_attempts=1,
        initial_retry_interval_seconds=0,
    )

    execution = await fleet.run("fails", concurrency=1)

    assert execution.lifecycle is Lifecycle.FAILED
    (failed,) = fleet.list_target_executions(execution.id)
    attempts = fleet.list_attempts(failed.id)
    assert len(attempts) == 2
    for attempt in attempts:
        assert (attempt.error_batch, attempt.error_line) == (2, 115), attempt
        assert attempt.error_column == (18 if engine == "postgresql" else None)
        assert attempt.error_statement == "SELECT n FROM missing_table;".rstrip(
            ";" if engine == "mysql" else ""
        )
        assert attempt.message is not None
        where = "batch 2, line 115" + (", column 18" if engine == "postgresql" else "")
        assert attempt.message.startswith(where + ": "), attempt.message
        assert "missing_table" in attempt.message


# -- what cannot be read is refused before anything is sent -------------------------------------


@pytest.mark.parametrize(
    ("engine", "script", "expected"),
    [
        (
            "postgresql",
            "SELECT 1;\n\\connect other\nSELECT 2;",
            "line 2: psql meta-command \\connect",
        ),
        ("postgresql", "SELECT 1;\nCOPY t (a) FROM stdin;\n1\n2\n", "line 2: the COPY"),
        ("postgresql", "SELECT 1;\n\nSELECT 'open;\n", "line 3: the quote ' opened here"),
        ("mysql", "SELECT 1;\nDELIMITER //\nSELECT 2//\n", "line 2: DELIMITER // is never set"),
        ("mysql", "SELECT 1;\nSELECT `open;\n", "line 2: the backtick ` opened here"),
    ],
)
def test_a_script_its_client_cannot_read_is_refused_when_defined(
    engine: str, script: str, expected: str, sqlite_fleet_db: Fleet
) -> None:
    fleet = sqlite_fleet_db
    fleet.add_target_group("targets")
    fleet.add_member("targets", server=PG if engine == "postgresql" else MYSQL, database="any")
    fleet.add_job("unreadable")
    with pytest.raises(InvalidCommand) as caught:
        fleet.add_step(
            "unreadable", "main", command=script, target_group="targets", credential="pg"
        )
    assert caught.value.message.startswith(expected), caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(
    "statement",
    [
        "USE other",
        "use `other`",
        "CREATE DATABASE other",
        "create schema if not exists other",
        "DROP DATABASE other",
        "/*!40000 DROP DATABASE IF EXISTS `other`*/",
    ],
)
def test_a_mysql_step_that_switches_database_needs_leave(
    statement: str, sqlite_fleet_db: Fleet
) -> None:
    fleet = sqlite_fleet_db
    fleet.add_target_group("targets")
    fleet.add_member("targets", server=MYSQL, database="any")
    fleet.add_job("switching")
    script = f"SELECT 1;\n{statement};\nSELECT 2;"
    with pytest.raises(InvalidCommand) as caught:
        fleet.add_step("switching", "main", command=script, target_group="targets", credential="my")
    assert caught.value.message.startswith("line 2: "), caught.value.message
    assert "same database" in caught.value.message
    assert "--allow-database-switch" in caught.value.message

    job = fleet.add_step(
        "switching",
        "main",
        command=script,
        target_group="targets",
        credential="my",
        allow_database_switch=True,
    )
    assert job.steps[0].settings.allow_database_switch is True


# -- every attempt, and the first error, on the command line -------------------------------------


async def test_execution_show_lists_each_attempt_and_the_first_error(
    sqlite_fleet_db: Fleet,
    sqlite_job_db: str,
    sqlite_fleet: Any,
    sqlite_server: ServerUrl,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = sqlite_fleet(1, prefix="scripts_attempts")[0]
    fleet = sqlite_fleet_db
    fleet.add_target_group("targets")
    fleet.add_member("targets", server=str(sqlite_server), database=target)
    # The first attempt fails in batch 2; the retry then fails on what batch 1 left behind.
    script = "CREATE TABLE once (n int);\nGO\nSELECT * FROM missing_table;"
    one_step_job(
        fleet, "twice", "targets", script, "pg", retry_attempts=1, initial_retry_interval_seconds=0
    )
    execution = await fleet.run("twice", concurrency=1)
    assert execution.lifecycle is Lifecycle.FAILED
    cli = Cli(capsys, monkeypatch, sqlite_job_db)

    shown = cli.ok("execution", "show", str(execution.id), "--attempts").out
    first = shown.index("attempt 1: Failed")
    second = shown.index("attempt 2: Failed")
    assert first < shown.index("batch 2, line 3: ") < second
    assert "missing_table" in shown[first:second]
    assert "batch 1, line 1: " in shown[second:] and "already exists" in shown[second:]

    failed = cli.ok("execution", "show", str(execution.id), "--failed").out
    assert "FIRST MESSAGE" in failed
    assert "missing_table" in failed.split("FIRST MESSAGE", 1)[1]

    document = cli.ok("execution", "show", str(execution.id), "--failed", "--json").json()
    (shown_target,) = document["targets"]
    assert "missing_table" in shown_target["first_message"]
    assert "already exists" in shown_target["last_message"]
    attempts = cli.ok("execution", "show", str(execution.id), "--attempts", "--json").json()
    located = [(a["error_batch"], a["error_line"]) for a in attempts["targets"][0]["attempts"]]
    assert located == [(2, 3), (1, 1)]


async def test_a_database_switch_is_refused_on_mysql_targets_that_came_after_the_step(
    sqlite_fleet_db: Fleet, mysql_fleet: Any, mysql_sql: Any
) -> None:
    target = mysql_fleet(1, prefix="scripts_late")[0]
    fleet = sqlite_fleet_db
    fleet.add_target_group("targets")  # no server yet: no engine to read the script for
    script = "CREATE TABLE here (a int);\nUSE mysql;\nCREATE TABLE there (a int);"
    one_step_job(fleet, "switch", "targets", script, "my", retry_attempts=3)
    fleet.add_member("targets", server=MYSQL, database=target)

    execution = await fleet.run("switch", concurrency=1)

    assert execution.lifecycle is Lifecycle.FAILED
    (failed,) = fleet.list_target_executions(execution.id)
    assert failed.last_message is not None
    assert failed.last_message.startswith("line 2: 'USE mysql' switches database")
    assert failed.current_attempts == 1  # every retry would read the same script
    assert mysql_sql(target, "SHOW TABLES") == []  # nothing was sent


@pytest.mark.parametrize(
    ("engine", "script"),
    [
        (
            "postgresql",
            "CREATE TABLE IF NOT EXISTS copied (n int, s text);\n"
            "COPY copied (n, s) FROM stdin;\n1\tone\n2\ttwo\nx\tthree\n\\.\n",
        ),
        (
            "mysql",
            "CREATE TABLE IF NOT EXISTS t1 (n int);\nINSERT INTO t1 VALUES (1);\n"
            "INSERT INTO t1\nVALUES (2),\n(3) oops;\nINSERT INTO t1 VALUES (4);\n",
        ),
    ],
)
async def test_a_line_the_server_names_is_a_line_of_the_script(
    engine: str, script: str, sqlite_fleet_db: Fleet, pg_fleet: Any, mysql_fleet: Any
) -> None:
    make, server, credential = (
        (pg_fleet, PG, "pg") if engine == "postgresql" else (mysql_fleet, MYSQL, "my")
    )
    target = make(1, prefix="scripts_line")[0]
    fleet = sqlite_fleet_db
    fleet.add_target_group("targets")
    fleet.add_member("targets", server=server, database=target)
    one_step_job(fleet, "bad-line", "targets", script, credential, retry_attempts=0)

    execution = await fleet.run("bad-line", concurrency=1)

    (failed,) = fleet.list_target_executions(execution.id)
    (attempt,) = fleet.list_attempts(failed.id)
    assert (attempt.error_batch, attempt.error_line) == (1, 5), attempt.message
    assert attempt.message is not None and attempt.message.startswith("batch 1, line 5: ")


@pytest.mark.parametrize(("engine", "rows_left"), [("postgresql", 0), ("mysql", 2), ("sqlite", 2)])
async def test_what_a_failed_batch_leaves_behind(
    engine: str,
    rows_left: int,
    sqlite_fleet_db: Fleet,
    pg_fleet: Any,
    pg_sql: Any,
    mysql_fleet: Any,
    mysql_sql: Any,
    sqlite_fleet: Any,
    sqlite_server: ServerUrl,
) -> None:
    make, server, credential = {
        "postgresql": (pg_fleet, PG, "pg"),
        "mysql": (mysql_fleet, MYSQL, "my"),
        "sqlite": (sqlite_fleet, str(sqlite_server), "pg"),
    }[engine]
    target = make(1, prefix="scripts_left")[0]
    fleet = sqlite_fleet_db
    fleet.add_target_group("targets")
    fleet.add_member("targets", server=server, database=target)
    script = (
        "CREATE TABLE kept (n int);\nGO\n"
        "INSERT INTO kept VALUES (1);\nINSERT INTO kept VALUES (2);\nSELECT * FROM missing_table;"
    )
    one_step_job(fleet, "half", "targets", script, credential, retry_attempts=0)

    execution = await fleet.run("half", concurrency=1)

    assert execution.lifecycle is Lifecycle.FAILED
    count = "SELECT COUNT(*) FROM kept"
    if engine == "postgresql":
        assert pg_sql(target, count) == [(rows_left,)]  # the table of batch 1 stays
    elif engine == "mysql":
        assert mysql_sql(target, count) == [(rows_left,)]
    else:
        connection = sqlite3.connect(Path(sqlite_server.path) / target)
        try:
            assert connection.execute(count).fetchall() == [(rows_left,)]
        finally:
            connection.close()


async def test_a_failing_output_query_says_its_line_and_column(
    sqlite_fleet_db: Fleet, pg_fleet: Any
) -> None:
    target, results = pg_fleet(2, prefix="scripts_output")
    fleet = sqlite_fleet_db
    fleet.add_target_group("targets")
    fleet.add_member("targets", server=PG, database=target)
    script = "CREATE TABLE IF NOT EXISTS t (a int);\nGO\n\n  SELECT nope FROM t"
    one_step_job(
        fleet,
        "query",
        "targets",
        script,
        "pg",
        retry_attempts=0,
        output=OutputDestination(PG, results, "collected", "pg", "public"),
    )

    execution = await fleet.run("query", concurrency=1)

    (failed,) = fleet.list_target_executions(execution.id)
    (attempt,) = fleet.list_attempts(failed.id)
    assert (attempt.error_batch, attempt.error_line, attempt.error_column) == (2, 4, 10)
