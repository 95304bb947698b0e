"""Fan-out benchmark: one script on N PostgreSQL databases, by sqlfleet and by its baselines.

It creates N throwaway databases on the local PostgreSQL server and, for two workloads
(`SELECT 1` and a small idempotent DDL script), times each way of running the script on
every database, `--rounds` times in alternation:

- raw asyncpg: connect, execute, close per database at `--concurrency`, in this process
  (the floor: what a hand-written asyncio loop costs);
- xargs psql: `xargs -P8` running the psql binary once per database (what people script);
- sqlfleet: `sqlfleet run JOB --concurrency C` as a subprocess, with a SQLite job database
  and with a PostgreSQL one (the whole process: start-up, job database, targets).

It prints the medians, the ratios next to their goals, and appends them with a description
of the machine to benchmarks/RESULTS.md (unless `--no-record`). The databases are dropped at
the end, also on Ctrl-C or SIGTERM. Missed goals do not change the exit status: 0 when the
benchmark ran, 1 when something failed, 2 when the server cannot take the load.
Run it as `.venv/bin/python benchmarks/fanout.py --help`; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple

import asyncpg

HOST, PORT, USER = "127.0.0.1", 5432, "postgres"
# The binary itself: /usr/bin/psql is Debian's Perl wrapper and would add its own start-up.
PSQL = "/usr/lib/postgresql/15/bin/psql"
PSQL_PARALLELISM = 8
REPO = Path(__file__).resolve().parent.parent
SQLFLEET = REPO / ".venv" / "bin" / "sqlfleet"
RESULTS = REPO / "benchmarks" / "RESULTS.md"
JOB_DB_NAME = "sqlfleet_bench_jobdb"
PASSWORD_ENV = "SQLFLEET_BENCH_PASSWORD"
# Connections beyond --concurrency: the job database's pool, admin and monitoring sessions.
CONNECTION_HEADROOM = 20
RAISED_MAX_CONNECTIONS = 300
# DROP DATABASE waits for a checkpoint; concurrent drops share one, so many at a time go faster.
ADMIN_PARALLELISM = 32

WORKLOADS = {
    "select1": "SELECT 1",
    "ddl": (
        "CREATE TABLE IF NOT EXISTS bench_t (id int PRIMARY KEY, v text); "
        "INSERT INTO bench_t VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET v = excluded.v"
    ),
}

RAW = "raw asyncpg"
XARGS = f"xargs -P{PSQL_PARALLELISM} psql"
FLEET_SQLITE = "sqlfleet, SQLite job db"
FLEET_PG = "sqlfleet, PostgreSQL job db"
METHODS = (RAW, XARGS, FLEET_SQLITE, FLEET_PG)


class BenchmarkError(Exception):
    """A run failed, so its time means nothing."""


class Sample(NamedTuple):
    """One timed run: wall-clock seconds and client CPU seconds (user + system)."""

    wall: float
    cpu: float


# What the product promises, per workload: (method, versus, sign, limit) is the ratio of
# their median wall times, or with no `versus` the method's CPU milliseconds per target.
GOALS: tuple[tuple[str, str | None, str, float], ...] = (
    (FLEET_SQLITE, RAW, "≤", 1.25),
    (XARGS, FLEET_SQLITE, "≥", 1.6),
    (FLEET_PG, RAW, "≤", 1.5),
    (FLEET_SQLITE, None, "≤", 1.5),
    (FLEET_PG, None, "≤", 1.5),
)


# -- the server ---------------------------------------------------------------------------


async def _connect(database: str = "postgres") -> Any:
    return await asyncpg.connect(host=HOST, port=PORT, user=USER, database=database, timeout=30)


def fetchval(query: str) -> Any:
    """The first value of `query`, run as the admin user on the `postgres` database."""

    async def fetch() -> Any:
        connection = await _connect()
        try:
            return await connection.fetchval(query, timeout=60)
        finally:
            await connection.close(timeout=5)

    return asyncio.run(fetch())


def admin_all(statements: Sequence[str]) -> None:
    """Run admin statements (each on its own, outside a transaction) many at a time."""

    async def run() -> None:
        pool = asyncpg.create_pool(
            host=HOST, port=PORT, user=USER, database="postgres", max_size=ADMIN_PARALLELISM
        )
        async with pool:
            await asyncio.gather(*(pool.execute(s, timeout=120) for s in statements))

    if statements:
        asyncio.run(run())


def ensure_connections(concurrency: int, raise_it: bool) -> None:
    """Exit with how to fix it if the server cannot take `concurrency` more connections."""
    allowed = int(fetchval("SHOW max_connections"))
    needed = concurrency + CONNECTION_HEADROOM
    if allowed >= needed:
        return
    wanted = max(RAISED_MAX_CONNECTIONS, needed)
    major = int(fetchval("SHOW server_version_num")) // 10000
    restart = ["pg_ctlcluster", "--skip-systemctl-redirect", str(major), "main", "restart"]
    if not raise_it:
        print(
            f"PostgreSQL allows max_connections = {allowed}; --concurrency {concurrency} "
            f"needs at least {needed}. Raise it with\n"
            f"  {PSQL} -h {HOST} -U {USER} -c 'ALTER SYSTEM SET max_connections = {wanted}'\n"
            f"  {' '.join(restart)}\n"
            "or rerun with --raise-max-connections, which does exactly that.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    print(f"raising max_connections from {allowed} to {wanted} and restarting PostgreSQL")
    fetchval(f"ALTER SYSTEM SET max_connections = {wanted}")
    # pg_ctl waits until the server accepts connections again.
    subprocess.run(restart, check=True)


def quote(name: str) -> str:
    """`name` as a PostgreSQL identifier (the benchmark's names need no escaping)."""
    return f'"{name}"'


def drop_fleet(prefix: str) -> None:
    """Drop every database named `<prefix>_...`, and the PostgreSQL job database."""
    leftovers = fetchval(
        "SELECT coalesce(array_agg(datname), '{}') FROM pg_database "
        f"WHERE datname LIKE '{prefix}\\_%' OR datname = '{JOB_DB_NAME}'"
    )
    if leftovers:
        print(f"dropping {len(leftovers)} databases", flush=True)
    admin_all([f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)" for name in leftovers])


# -- the contenders -----------------------------------------------------------------------


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


async def _raw(names: Sequence[str], script: str, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(name: str) -> None:
        async with gate:
            connection = await _connect(name)
            try:
                await connection.execute(script, timeout=60)
            finally:
                await connection.close(timeout=5)

    await asyncio.gather(*(one(name) for name in names))


def raw_asyncpg(names: Sequence[str], script: str, concurrency: int) -> Sample:
    """Connect, execute, close on every database with asyncpg, `concurrency` at a time."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    asyncio.run(_raw(names, script, concurrency))
    wall = time.perf_counter() - started
    return Sample(wall, _cpu(resource.getrusage(resource.RUSAGE_SELF)) - _cpu(before))


def timed(
    argv: Sequence[str], *, stdin: str | None = None, env: dict[str, str] | None = None
) -> tuple[Sample, str]:
    """Run a command to its end; its time, its (and its children's) CPU time, its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, input=stdin, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    cpu = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN)) - _cpu(before)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-10:])
        raise BenchmarkError(f"{' '.join(argv[:6])} ... exited with {done.returncode}:\n{tail}")
    return Sample(wall, cpu), done.stdout


def xargs_psql(names: Sequence[str], script: str) -> Sample:
    """`xargs -P8` running psql once per database."""
    psql = [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", HOST, "-U", USER, "-c", script]
    argv = ["xargs", f"-P{PSQL_PARALLELISM}", "-n1", *psql, "-d"]
    return timed(argv, stdin="\n".join(names) + "\n")[0]


def sqlfleet(env: dict[str, str], job_db: str, *args: str) -> str:
    """Run one sqlfleet command; its stdout, or `BenchmarkError`."""
    return timed([str(SQLFLEET), "--job-db", job_db, *args], env=env)[1]


def sqlfleet_run(env: dict[str, str], job_db: str, job: str, concurrency: int, n: int) -> Sample:
    """`sqlfleet run JOB` as a user runs it; checks that all `n` targets succeeded."""
    argv = [str(SQLFLEET), "--job-db", job_db, "run", job, "--concurrency", str(concurrency)]
    sample, out = timed([*argv, "--json"], env=env)
    counts = json.loads(out).get("target_counts", {})
    if counts != {"Succeeded": n}:
        raise BenchmarkError(f"sqlfleet run {job} ran {counts}, not {n} Succeeded targets")
    return sample


def define_jobs(env: dict[str, str], job_db: str, prefix: str) -> None:
    """Initialize a job database and define the fleet and one job per workload, by the CLI."""
    for command in (
        "init",
        f"credential add bench --username {USER} --password-env {PASSWORD_ENV}",
        "target-group add fleet",
        f"target-group add-member fleet --server postgresql://{HOST}:{PORT} "
        f"--database-pattern {prefix}_*",
    ):
        sqlfleet(env, job_db, *command.split())
    for job, script in WORKLOADS.items():
        sqlfleet(env, job_db, "job", "add", job)
        step = ["--name", "s", "--target-group", "fleet", "--credential", "bench", "--command"]
        sqlfleet(env, job_db, "job", "add-step", job, *step, script)


# -- the run ------------------------------------------------------------------------------


def benchmark(
    options: argparse.Namespace, prefix: str, workdir: Path
) -> dict[str, dict[str, Sample]]:
    """Create the fleet, time every method on every workload, return the medians."""
    n, concurrency = options.databases, options.concurrency
    names = [f"{prefix}_{i}" for i in range(n)]
    print(f"creating {n} databases {names[0]} .. {names[-1]}", flush=True)
    admin_all([f"CREATE DATABASE {quote(name)}" for name in names])
    admin_all([f"DROP DATABASE IF EXISTS {quote(JOB_DB_NAME)} WITH (FORCE)"])
    admin_all([f"CREATE DATABASE {quote(JOB_DB_NAME)}"])

    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLFLEET_")}
    env.update(
        SQLFLEET_HOME=str(workdir / "home"), **{PASSWORD_ENV: os.environ.get("PGPASSWORD", "trust")}
    )
    job_dbs = {
        FLEET_SQLITE: f"sqlite:///{workdir / 'jobs.db'}",
        FLEET_PG: f"postgresql://{USER}@{HOST}:{PORT}/{JOB_DB_NAME}",
    }
    for job_db in job_dbs.values():
        define_jobs(env, job_db, prefix)
    for script in WORKLOADS.values():
        # Untimed: the first DDL run creates the tables, every timed run finds them there.
        raw_asyncpg(names, script, concurrency)

    methods: dict[str, Callable[[str, str], Sample]] = {
        RAW: lambda _job, script: raw_asyncpg(names, script, concurrency),
        XARGS: lambda _job, script: xargs_psql(names, script),
        FLEET_SQLITE: lambda job, _s: sqlfleet_run(env, job_dbs[FLEET_SQLITE], job, concurrency, n),
        FLEET_PG: lambda job, _s: sqlfleet_run(env, job_dbs[FLEET_PG], job, concurrency, n),
    }
    samples: dict[tuple[str, str], list[Sample]] = {}
    for round_number in range(1, options.rounds + 1):
        for workload, script in WORKLOADS.items():
            for method, run in methods.items():
                sample = run(workload, script)
                samples.setdefault((workload, method), []).append(sample)
                print(
                    f"round {round_number}/{options.rounds}  {workload:8} {method:28} "
                    f"{sample.wall:7.2f} s  CPU {sample.cpu * 1000 / n:6.2f} ms/target",
                    flush=True,
                )
    median = {  # zip(*runs) is (walls, cpus)
        key: Sample(*map(statistics.median, zip(*runs, strict=True)))
        for key, runs in samples.items()
    }
    return {w: {m: median[w, m] for m in METHODS} for w in WORKLOADS}


def machine() -> str:
    """One line describing the machine and the server."""
    model = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    memory = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    assert model is not None and memory is not None
    server = fetchval("SHOW server_version")
    # Other work on the machine skews every number: the 15-minute load shows if there was any.
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.system()} {platform.release()} · {model[1]} · {os.cpu_count()} cores · "
        f"{int(memory[1]) / 1024**2:.1f} GiB RAM · load {load} (1/5/15 min) · "
        f"PostgreSQL {server}"
    )


def report(medians: dict[str, dict[str, Sample]], options: argparse.Namespace) -> str:
    """The results as Markdown: a dated heading, the machine, medians, ratios and goals."""
    n = options.databases
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"{machine()} · {n} databases · concurrency {options.concurrency} · "
        f"median of {options.rounds} round(s)",
        "",
        "| workload | method | wall s | databases/s | client CPU ms/database |",
        "|---|---|---:|---:|---:|",
    ]
    for workload, by_method in medians.items():
        for method, sample in by_method.items():
            lines.append(
                f"| {workload} | {method} | {sample.wall:.2f} | {n / sample.wall:.0f} | "
                f"{sample.cpu * 1000 / n:.2f} |"
            )
    lines += ["", "| workload | measure | value | goal | |", "|---|---|---:|---|---|"]
    for workload, by_method in medians.items():
        for method, versus, sign, limit in GOALS:
            if versus is None:
                measure, unit = f"{method}: CPU per target", " ms"
                value = by_method[method].cpu * 1000 / n
            else:
                measure, unit = f"{method} / {versus}", "x"
                value = by_method[method].wall / by_method[versus].wall
            met = value <= limit if sign == "≤" else value >= limit
            lines.append(
                f"| {workload} | {measure} | {value:.2f}{unit} | {sign} {limit:g}{unit} | "
                f"{'met' if met else 'MISSED'} |"
            )
    lines += [
        "",
        "Client CPU: the benchmark process for raw asyncpg, xargs and every psql for xargs "
        "psql, the `sqlfleet run` process (start-up included) for sqlfleet.",
        "",
    ]
    return "\n".join(lines)


def record(text: str) -> None:
    """Append a section to RESULTS.md, creating it with a title if needed."""
    if not RESULTS.exists():
        RESULTS.write_text("# Fan-out benchmark results\n\nWritten by `benchmarks/fanout.py`.\n\n")
    with RESULTS.open("a") as results:
        results.write(text + "\n")


def _interrupt(_signal: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    for flag, default, text in (
        ("--databases", 1000, "databases to create"),
        ("--concurrency", 100, "connections at a time, for raw asyncpg and sqlfleet"),
        ("--rounds", 3, "timed runs of each method on each workload"),
    ):
        parser.add_argument(flag, type=_positive, default=default, help=f"{text} ({default})")
    parser.add_argument(
        "--raise-max-connections",
        action="store_true",
        help="if the server is short of connections: ALTER SYSTEM SET max_connections = "
        f"{RAISED_MAX_CONNECTIONS} and restart it (for a local benchmark machine)",
    )
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when it ran, whether or not the goals were met."""
    options = parse(argv)
    for tool in (PSQL, str(SQLFLEET)):
        if not os.access(tool, os.X_OK):
            sys.exit(f"{tool} is missing: install PostgreSQL 15's client, run scripts/install")
    signal.signal(signal.SIGTERM, _interrupt)
    ensure_connections(options.concurrency, options.raise_max_connections)
    prefix = f"sqlfleet_bench_{secrets.token_hex(4)}"
    try:
        with tempfile.TemporaryDirectory(prefix="sqlfleet-bench-") as workdir:
            medians = benchmark(options, prefix, Path(workdir))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        drop_fleet(prefix)
    text = report(medians, options)
    print("\n" + text)
    if not options.no_record:
        record(text)
        print(f"appended to {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
