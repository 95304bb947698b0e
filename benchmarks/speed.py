"""Speed benchmark: sqlfleet against raw asyncio loops on three fleets, and where time goes.

Fleets (each made by the benchmark and dropped at the end, also on Ctrl-C or SIGTERM):

- `mariadb`: `--mysql-databases` databases on the local MariaDB server; raw: an aiomysql
  connect, execute, close loop per database;
- `pg-schemas`: `--schemas` schemas in one PostgreSQL database; raw: an asyncpg connect per
  schema with `search_path` set to it;
- `pg-databases`: `--pg-databases` PostgreSQL databases; raw: an asyncpg connect per database.

Workloads: `SELECT 1` and a small idempotent DDL script. Per round, in alternation: the raw
loop of raw_loop.py (`--concurrency` at a time) in this process, the same loop run as a
script (`python raw_loop.py ...`, as a user runs one), `sqlfleet run` as a subprocess with a
SQLite job database (every attempt recorded), and `sqlfleet start --wait` run by one
`sqlfleet agent` on a PostgreSQL job database. It reports medians of wall time and client
CPU per target, the start-up of `sqlfleet`, and sqlfleet's own CPU per target: the run's CPU
less its start-up and less what the raw loop spends in the same driver. The section is
appended to benchmarks/RESULTS.md unless `--no-record`. Exit 0 when it ran, 1 when a run
failed, 2 when a server cannot take the load. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import aiomysql
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fanout  # the PostgreSQL helpers and the machine's description
import raw_loop  # the loops sqlfleet is timed against

HOST, PG_PORT, PG_USER = fanout.HOST, fanout.PORT, fanout.USER
MYSQL_PORT, MYSQL_USER = raw_loop.MYSQL_PORT, raw_loop.MYSQL_USER
RAW_LOOP = Path(raw_loop.__file__)
SQLFLEET, RESULTS, REPO = fanout.SQLFLEET, fanout.RESULTS, fanout.REPO
PASSWORD_ENV = "SQLFLEET_BENCH_PASSWORD"
ADMIN_PARALLELISM = 16

PG_DDL = (
    "CREATE TABLE IF NOT EXISTS bench_t (id int PRIMARY KEY, v text); "
    "INSERT INTO bench_t VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET v = excluded.v"
)
MYSQL_DDL = (
    "CREATE TABLE IF NOT EXISTS bench_t (id int PRIMARY KEY, v text); "
    "INSERT INTO bench_t VALUES (1, 'x') ON DUPLICATE KEY UPDATE v = VALUES(v)"
)
WORKLOADS = ("select1", "ddl")

RAW = "raw loop"
SCRIPT = "raw loop, as a script"
RUN = "sqlfleet run, SQLite job db"
AGENT = "sqlfleet agent, PostgreSQL job db"


class BenchmarkError(Exception):
    """A run failed, so its time means nothing."""


class Sample(NamedTuple):
    """One timed run: wall-clock seconds and client CPU seconds (user + system)."""

    wall: float
    cpu: float


class Fleet(NamedTuple):
    """A fleet: its targets, how sqlfleet names them, and the raw loop over them."""

    name: str  # also the loop's in raw_loop.py
    size: int
    member: list[str]  # `target-group add-member` options
    one: list[str]  # the same for its first target alone: what a run costs whatever its size
    scripts: dict[str, str]
    where: str  # raw_loop.py's name for the targets: a prefix, or the schemas' database

    def raw_loop(self, workload: str, concurrency: int) -> Awaitable[None]:
        """The raw loop, to await in this process."""
        loop = raw_loop.LOOPS[self.name]
        return loop(self.where, self.size, concurrency, self.scripts[workload])

    def raw_script(self, workload: str, concurrency: int) -> list[str]:
        """The raw loop as a user runs it: a Python script."""
        script = self.scripts[workload]
        return [sys.executable, str(RAW_LOOP), self.name, self.where, str(self.size),
                str(concurrency), script]  # fmt: skip


# -- the fleets ---------------------------------------------------------------------------


def mariadb_fleet(prefix: str, size: int) -> Fleet:
    """`size` databases on the MariaDB server."""
    return Fleet(
        "mariadb",
        size,
        ["--server", f"mysql://{HOST}:{MYSQL_PORT}", "--database-pattern", f"{prefix}_*"],
        ["--server", f"mysql://{HOST}:{MYSQL_PORT}", "--database", f"{prefix}_0"],
        {"select1": "SELECT 1", "ddl": MYSQL_DDL},
        prefix,
    )


def pg_schema_fleet(database: str, size: int) -> Fleet:
    """`size` schemas in one PostgreSQL database."""
    member = ["--server", f"postgresql://{HOST}:{PG_PORT}", "--database", database]
    return Fleet(
        "pg-schemas",
        size,
        [*member, "--schema-pattern", "s_*"],
        [*member, "--schema-pattern", "s_0"],
        {"select1": "SELECT 1", "ddl": PG_DDL},
        database,
    )


def pg_database_fleet(prefix: str, size: int) -> Fleet:
    """`size` PostgreSQL databases."""
    return Fleet(
        "pg-databases",
        size,
        ["--server", f"postgresql://{HOST}:{PG_PORT}", "--database-pattern", f"{prefix}_*"],
        ["--server", f"postgresql://{HOST}:{PG_PORT}", "--database", f"{prefix}_0"],
        {"select1": "SELECT 1", "ddl": PG_DDL},
        prefix,
    )


async def _mysql_admin(statements: Sequence[str]) -> None:
    pool = await aiomysql.create_pool(
        host=HOST, port=MYSQL_PORT, user=MYSQL_USER, maxsize=ADMIN_PARALLELISM, autocommit=True
    )
    try:

        async def one(statement: str) -> None:
            async with pool.acquire() as connection, connection.cursor() as cursor:
                await cursor.execute(statement)

        await asyncio.gather(*(one(s) for s in statements))
    finally:
        pool.close()
        await pool.wait_closed()


def mysql_admin(statements: Sequence[str]) -> None:
    """Run admin statements on MariaDB, several at a time."""
    if statements:
        asyncio.run(_mysql_admin(statements))


def mysql_leftovers(prefix: str) -> list[str]:
    """The MariaDB databases named `<prefix>_...`."""

    async def fetch() -> list[str]:
        connection = await aiomysql.connect(host=HOST, port=MYSQL_PORT, user=MYSQL_USER)
        try:
            async with connection.cursor() as cursor:
                await cursor.execute(
                    "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
                    (prefix.replace("_", "\\_") + "\\_%",),
                )
                return [row[0] for row in await cursor.fetchall()]
        finally:
            connection.close()

    return asyncio.run(fetch())


def _mysql_room() -> int:
    """How many more connections the MariaDB server takes now."""

    async def fetch() -> int:
        connection = await aiomysql.connect(host=HOST, port=MYSQL_PORT, user=MYSQL_USER)
        try:
            async with connection.cursor() as cursor:
                await cursor.execute(
                    "SELECT @@max_connections - COUNT(*) FROM information_schema.PROCESSLIST"
                )
                (room,) = await cursor.fetchone()
                return int(room)
        finally:
            connection.close()

    return asyncio.run(fetch())


def wait_for_room(fleet: Fleet, concurrency: int) -> None:
    """Wait until the fleet's server takes `concurrency` more connections (and a margin):
    the agent keeps a step's reused connections open a moment after the step ends, and the
    next method must not find the server full."""
    needed = concurrency + 5
    deadline = time.monotonic() + 60
    while True:
        if fleet.name == "mariadb":
            room = _mysql_room()
        else:
            room = int(
                fanout.fetchval(
                    "SELECT current_setting('max_connections')::int - count(*) "
                    "FROM pg_stat_activity WHERE backend_type = 'client backend'"
                )
            )
        if room >= needed:
            return
        if time.monotonic() > deadline:
            raise BenchmarkError(
                f"the {fleet.name} server still takes only {room} more connections "
                f"after 60 s; {needed} are needed"
            )
        time.sleep(0.2)


def create_fleets(options: argparse.Namespace, prefix: str) -> list[Fleet]:
    """Make the databases and schemas; return the fleets."""
    fleets = []
    if options.mysql_databases:
        print(f"creating {options.mysql_databases} MariaDB databases", flush=True)
        mysql_admin([f"CREATE DATABASE `{prefix}_m_{i}`" for i in range(options.mysql_databases)])
        fleets.append(mariadb_fleet(f"{prefix}_m", options.mysql_databases))
    if options.schemas:
        print(f"creating a PostgreSQL database with {options.schemas} schemas", flush=True)
        database = f"{prefix}_schemas"
        fanout.admin_all([f'CREATE DATABASE "{database}"'])
        create = "; ".join(f"CREATE SCHEMA s_{i}" for i in range(options.schemas))

        async def schemas() -> None:
            connection = await asyncpg.connect(
                host=HOST, port=PG_PORT, user=PG_USER, database=database
            )
            try:
                await connection.execute(create, timeout=300)
            finally:
                await connection.close()

        asyncio.run(schemas())
        fleets.append(pg_schema_fleet(database, options.schemas))
    if options.pg_databases:
        print(f"creating {options.pg_databases} PostgreSQL databases", flush=True)
        fanout.admin_all([f'CREATE DATABASE "{prefix}_p_{i}"' for i in range(options.pg_databases)])
        fleets.append(pg_database_fleet(f"{prefix}_p", options.pg_databases))
    return fleets


def drop_fleets(prefix: str) -> None:
    """Drop everything named `<prefix>_...` on both servers (the job database included)."""
    leftovers = fanout.fetchval(
        "SELECT coalesce(array_agg(datname), '{}') FROM pg_database "
        f"WHERE datname LIKE '{prefix}\\_%'"
    )
    mysql = mysql_leftovers(prefix)
    if leftovers or mysql:
        print(f"dropping {len(leftovers) + len(mysql)} databases", flush=True)
    fanout.admin_all([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in leftovers])
    mysql_admin([f"DROP DATABASE IF EXISTS `{name}`" for name in mysql])


# -- sqlfleet -----------------------------------------------------------------------------


def sqlfleet(env: dict[str, str], job_db: str, *args: str, stdin: str | None = None) -> str:
    """Run one sqlfleet command; its stdout, or `BenchmarkError`."""
    return timed([str(SQLFLEET), "--job-db", job_db, *args], env=env, stdin=stdin)[1]


def timed(
    argv: Sequence[str], *, env: dict[str, str], stdin: str | None = None
) -> tuple[Sample, str]:
    """Run a command to its end; its time and CPU time, its stdout."""
    try:
        return fanout.timed(argv, env=env, stdin=stdin)
    except fanout.BenchmarkError as exc:
        raise BenchmarkError(str(exc)) from None


def define(env: dict[str, str], job_db: str, fleets: Sequence[Fleet]) -> None:
    """Initialize a job database; per fleet a target group, one job per workload, and a job
    `<fleet>-one` that runs `SELECT 1` on its first target alone."""
    sqlfleet(env, job_db, "init")
    sqlfleet(env, job_db, "credential", "add", "pg", "--username", PG_USER, "--password-env",
             PASSWORD_ENV)  # fmt: skip
    # MariaDB's root has an empty password: an empty line on standard input says so.
    sqlfleet(env, job_db, "credential", "add", "my", "--username", MYSQL_USER,
             "--password-stdin", stdin="\n")  # fmt: skip
    for fleet in fleets:
        sqlfleet(env, job_db, "target-group", "add", fleet.name)
        sqlfleet(env, job_db, "target-group", "add-member", fleet.name, *fleet.member)
        sqlfleet(env, job_db, "target-group", "add", f"{fleet.name}-one")
        sqlfleet(env, job_db, "target-group", "add-member", f"{fleet.name}-one", *fleet.one)
        credential = "my" if fleet.name == "mariadb" else "pg"
        for workload, group in (
            *((w, fleet.name) for w in WORKLOADS),
            ("one", f"{fleet.name}-one"),
        ):
            job = f"{fleet.name}-{workload}"
            script = fleet.scripts.get(workload, "SELECT 1")
            sqlfleet(env, job_db, "job", "add", job)
            sqlfleet(env, job_db, "job", "add-step", job, "--name", "s", "--target-group",
                     group, "--credential", credential, "--command", script)  # fmt: skip


def _succeeded(out: str, job: str, n: int) -> None:
    counts = json.loads(out).get("target_counts", {})
    if counts != {"Succeeded": n}:
        raise BenchmarkError(f"{job} ran {counts}, not {n} Succeeded targets")


class Agent:
    """`sqlfleet agent` on the PostgreSQL job database, for the whole benchmark."""

    def __init__(self, env: dict[str, str], job_db: str, concurrency: int, log: Path) -> None:
        self.env, self.job_db = env, job_db
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(SQLFLEET), "--job-db", job_db, "agent", "--concurrency", str(concurrency)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def cpu(self) -> float:
        """The agent's CPU seconds so far (user + system)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def run(self, job: str, n: int) -> Sample:
        """`sqlfleet start JOB --wait`: the agent's CPU and the waiting client's."""
        if self.process.poll() is not None:
            raise BenchmarkError(f"the agent exited with {self.process.returncode}")
        before = self.cpu()
        sample, out = timed(
            [str(SQLFLEET), "--job-db", self.job_db, "start", job, "--wait", "--json"],
            env=self.env,
        )
        _succeeded(out, job, n)
        return Sample(sample.wall, sample.cpu + self.cpu() - before)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def startup(env: dict[str, str]) -> dict[str, Sample]:
    """Median wall and CPU time of `sqlfleet --help` and `sqlfleet run --help` (10 each)."""
    measured = {}
    for args in (["--help"], ["run", "--help"]):
        runs = [timed([str(SQLFLEET), *args], env=env)[0] for _ in range(10)]
        measured[" ".join(args)] = Sample(*map(statistics.median, zip(*runs, strict=True)))
    return measured


# -- the run ------------------------------------------------------------------------------

Key = tuple[str, str, str]  # fleet, workload, method


def benchmark(
    options: argparse.Namespace, prefix: str, workdir: Path
) -> tuple[list[Fleet], dict[Key, Sample], dict[str, Sample]]:
    """Make the fleets, time every method on every fleet and workload; return medians."""
    fleets = create_fleets(options, prefix)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLFLEET_")}
    env.update(
        SQLFLEET_HOME=str(workdir / "home"), **{PASSWORD_ENV: os.environ.get("PGPASSWORD", "trust")}
    )
    sqlite_db = f"sqlite:///{workdir / 'jobs.db'}"
    pg_name = f"{prefix}_jobdb"
    fanout.admin_all([f'CREATE DATABASE "{pg_name}"'])
    pg_db = f"postgresql://{PG_USER}@{HOST}:{PG_PORT}/{pg_name}"
    for job_db in (sqlite_db, pg_db):
        define(env, job_db, fleets)
    concurrency = options.concurrency
    for fleet in fleets:  # untimed: the first DDL run creates the tables
        for workload in WORKLOADS:
            asyncio.run(fleet.raw_loop(workload, concurrency))
    started = startup(env)
    agent = Agent(env, pg_db, concurrency, workdir / "agent.log")
    samples: dict[Key, list[Sample]] = {}
    try:
        for number in range(1, options.rounds + 1):
            for fleet in fleets:
                job = f"{fleet.name}-one"
                wait_for_room(fleet, concurrency)
                one = run_sample(env, sqlite_db, job, concurrency, 1)
                samples.setdefault((fleet.name, "one", RUN), []).append(one)
                print(f"round {number}/{options.rounds}  {fleet.name:12} one target: "
                      f"{one.wall:.2f} s, CPU {one.cpu:.2f} s", flush=True)  # fmt: skip
                for workload in WORKLOADS:
                    for method in (RAW, SCRIPT, RUN, AGENT):
                        job = f"{fleet.name}-{workload}"
                        wait_for_room(fleet, concurrency)
                        if method == RAW:
                            sample = raw_sample(fleet, workload, concurrency)
                        elif method == SCRIPT:
                            sample = timed(fleet.raw_script(workload, concurrency), env=env)[0]
                        elif method == RUN:
                            sample = run_sample(env, sqlite_db, job, concurrency, fleet.size)
                        else:
                            sample = agent.run(job, fleet.size)
                        samples.setdefault((fleet.name, workload, method), []).append(sample)
                        print(
                            f"round {number}/{options.rounds}  {fleet.name:12} {workload:7} "
                            f"{method:34} {sample.wall:7.2f} s  "
                            f"CPU {sample.cpu * 1000 / fleet.size:6.2f} ms/target",
                            flush=True,
                        )
    finally:
        agent.stop()
    medians = {
        key: Sample(*map(statistics.median, zip(*runs, strict=True)))
        for key, runs in samples.items()
    }
    return fleets, medians, started


def raw_sample(fleet: Fleet, workload: str, concurrency: int) -> Sample:
    """The raw loop, in this process."""
    before = time.process_time()
    started = time.perf_counter()
    asyncio.run(fleet.raw_loop(workload, concurrency))
    return Sample(time.perf_counter() - started, time.process_time() - before)


def run_sample(env: dict[str, str], job_db: str, job: str, concurrency: int, n: int) -> Sample:
    """`sqlfleet run JOB` as a user runs it; checks that all `n` targets succeeded."""
    argv = [str(SQLFLEET), "--job-db", job_db, "run", job, "--concurrency", str(concurrency)]
    sample, out = timed([*argv, "--json"], env=env)
    _succeeded(out, job, n)
    return sample


def report(
    fleets: Sequence[Fleet],
    medians: dict[Key, Sample],
    started: dict[str, Sample],
    options: argparse.Namespace,
) -> str:
    """The results as Markdown."""
    mariadb = _mariadb_version() if options.mysql_databases else ""
    lines = [
        f"## Speed, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Written by `benchmarks/speed.py`. {fanout.machine()}{mariadb} · concurrency "
        f"{options.concurrency} · median of {options.rounds} round(s)",
        "",
        "Start-up (median of 10): "
        + ", ".join(
            f"`sqlfleet {args}` {s.wall * 1000:.0f} ms wall, {s.cpu * 1000:.0f} ms CPU"
            for args, s in started.items()
        ),
        "",
    ]
    for title, methods in (
        ("`sqlfleet run`, every attempt recorded in a SQLite job database", (RAW, SCRIPT, RUN)),
        ("An agent on a PostgreSQL job database (`sqlfleet start --wait`)", (RAW, SCRIPT, AGENT)),
    ):
        lines += [
            f"### {title}",
            "",
            "| fleet | workload | method | wall s | targets/s | ratio to the loop "
            "| ratio to the script | client CPU ms/target |",
            "|---|---|---|---:|---:|---:|---:|---:|",
        ]
        for fleet in fleets:
            for workload in WORKLOADS:
                raw = medians[fleet.name, workload, RAW]
                script = medians[fleet.name, workload, SCRIPT]
                for method in methods:
                    s = medians[fleet.name, workload, method]
                    lines.append(
                        f"| {fleet.name} ({fleet.size}) | {workload} | {method} | {s.wall:.2f} | "
                        f"{fleet.size / s.wall:.0f} | {s.wall / raw.wall:.2f}x | "
                        f"{s.wall / script.wall:.2f}x | {s.cpu * 1000 / fleet.size:.2f} |"
                    )
        lines.append("")
    lines += [
        "The loop is timed inside this (warm) process; the script is the same loop run as "
        "`python benchmarks/raw_loop.py ...`, as a user runs one and as `sqlfleet run` is "
        "timed: with Python's start and the driver's import.",
        "",
    ]
    lines += [
        "### Where sqlfleet's time goes (`sqlfleet run`)",
        "",
        "A run's fixed cost is `sqlfleet run` on the fleet's first target alone (start-up, "
        "the job database, resolving the target group, one target). Per target beyond it: "
        "the driver's connect, execute and close (the raw loop's CPU per target) and "
        "sqlfleet's own work, the rest (job database, tasks, rendering): "
        "(run CPU - one-target run CPU) / (targets - 1) - driver.",
        "",
        "| fleet | workload | fixed: wall s | fixed: CPU s | driver ms/target "
        "| sqlfleet's own ms/target | wall beyond raw s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for fleet in fleets:
        one = medians[fleet.name, "one", RUN]
        for workload in WORKLOADS:
            raw, run = medians[fleet.name, workload, RAW], medians[fleet.name, workload, RUN]
            n = fleet.size
            own = (run.cpu - one.cpu) / max(n - 1, 1) - raw.cpu / n
            lines.append(
                f"| {fleet.name} | {workload} | {one.wall:.2f} | {one.cpu:.2f} | "
                f"{raw.cpu * 1000 / n:.2f} | {own * 1000:.2f} | {run.wall - raw.wall:.2f} |"
            )
    lines += [
        "",
        "Client CPU: this process for the raw loop; the script's process; the `sqlfleet run` "
        "process, start-up included; the agent's CPU during the execution plus "
        "`sqlfleet start --wait`'s.",
        "",
    ]
    return "\n".join(lines)


def _mariadb_version() -> str:
    async def fetch() -> str:
        connection = await aiomysql.connect(host=HOST, port=MYSQL_PORT, user=MYSQL_USER)
        try:
            async with connection.cursor() as cursor:
                await cursor.execute("SELECT VERSION()")
                row = await cursor.fetchone()
                return str(row[0])
        finally:
            connection.close()

    return f" · MariaDB {asyncio.run(fetch())}"


def _interrupt(_signal: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    for flag, default, text in (
        ("--mysql-databases", 2000, "MariaDB databases (0: no MariaDB fleet)"),
        ("--schemas", 1000, "schemas in one PostgreSQL database (0: none)"),
        ("--pg-databases", 1000, "PostgreSQL databases (0: none)"),
        ("--concurrency", 100, "connections at a time, for the raw loops and sqlfleet"),
        ("--rounds", 3, "timed runs of each method on each fleet and workload"),
    ):
        parser.add_argument(flag, type=int, default=default, help=f"{text} ({default})")
    parser.add_argument(
        "--raise-max-connections",
        action="store_true",
        help="if PostgreSQL is short of connections: raise max_connections and restart it",
    )
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    options = parser.parse_args(argv)
    if (
        min(options.concurrency, options.rounds) < 1
        or min(options.mysql_databases, options.schemas, options.pg_databases) < 0
    ):
        parser.error("counts must not be negative; --concurrency and --rounds at least 1")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when it ran."""
    options = parse(argv)
    if not os.access(SQLFLEET, os.X_OK):
        sys.exit(f"{SQLFLEET} is missing: run scripts/install")
    signal.signal(signal.SIGTERM, _interrupt)
    fanout.ensure_connections(options.concurrency, options.raise_max_connections)
    prefix = f"sqlfleet_speed_{secrets.token_hex(4)}"
    try:
        with tempfile.TemporaryDirectory(prefix="sqlfleet-speed-") as workdir:
            fleets, medians, started = benchmark(options, prefix, Path(workdir))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        drop_fleets(prefix)
    text = report(fleets, medians, started, options)
    print("\n" + text)
    if not options.no_record:
        with RESULTS.open("a") as results:
            results.write("\n" + text + "\n")
        print(f"appended to {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
