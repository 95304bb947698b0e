"""Execution pages on many targets: the server's time for the pages and the API's lists.

It makes a job database (a SQLite file, and a PostgreSQL database on the local server),
stores one execution of `--targets` targets through the store's own
verbs, as an agent would, and as many other target executions as `--stored` says (in
executions of 10,000), then times in-process, around the app's call, `--rounds` calls of:

- the execution page (100 targets of 10,000, counts per state);
- the page filtered by state (all of them match: the worst case) and by name (one matches);
- the page searched by database name and sorted by it, descending;
- the REST API's list of 1,000 targets;
- live.json asked for what changed since a cursor (nothing: the execution is still).

It prints the medians and best times and appends them, with the machine, to
benchmarks/RESULTS.md (unless `--no-record`). The PostgreSQL database is dropped at the end.
Run it as `.venv/bin/python benchmarks/target_pages.py --help`.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from sqlfleet.api import AgentLauncher, create_app
from sqlfleet.fleet import Fleet
from sqlfleet.model import Target
from sqlfleet.secrets import KEY_ENV, Secret

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "RESULTS.md"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG = "postgresql://127.0.0.1:5432"
HTML = {"accept": "text/html"}
CHUNK = 10_000


def execution_of(fleet: Fleet, job: str, targets: int) -> int:
    """An execution of `targets` targets made through the store's verbs; its id."""
    execution = fleet.create_execution(job)
    now = datetime.now(UTC)
    step = fleet.store.claim_step_start(
        "bench", now=now, lease=timedelta(minutes=5), job_execution_id=execution.id
    )
    assert step is not None
    fleet.store.add_targets(
        step,
        "bench",
        [Target(f"{PG}/srv{i % 7}", f"tenant_{i:05d}") for i in range(1, targets + 1)],
        now=now,
    )
    return execution.id


def fill(fleet: Fleet, targets: int, stored: int) -> int:
    """The measured execution, after `stored` other target executions; its id."""
    fleet.add_credential("pg", "postgres", Secret("unused"))
    fleet.add_target_group("g")
    fleet.add_member("g", server=PG, database_pattern="tenant_*")
    step = {"command": "SELECT 1", "target_group": "g", "credential": "pg"}
    fleet.add_job("filler", steps=[("main", step)])
    fleet.add_job("big", steps=[("main", step)])
    made = 0
    while made < stored:
        n = min(CHUNK, stored - made)
        execution_of(fleet, "filler", n)
        made += n
        print(f"  stored {made:,} of {stored:,} other target executions", file=sys.stderr)
    return execution_of(fleet, "big", targets)


def timings(call: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median and best seconds of `rounds` calls (after one warm-up call)."""
    call()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def measure(fleet: Fleet, execution_id: int, rounds: int) -> dict[str, tuple[float, float]]:
    """The timings of each page and list."""
    with TestClient(create_app(fleet, launcher=AgentLauncher()), base_url="http://127.0.0.1") as c:
        page = f"/executions/{execution_id}"
        api = f"/api/v1/executions/{execution_id}/targets"
        cursor = c.get(f"{page}/live.json").json()["cursor"]

        def get(path: str, **kwargs: object) -> Callable[[], object]:
            def call() -> object:
                response = c.get(path, **kwargs)  # type: ignore[arg-type]
                assert response.status_code == 200, response.text[:300]
                return response

            return call

        return {
            "execution page": timings(get(page, headers=HTML), rounds),
            "page filtered by state": timings(get(f"{page}?state=Created", headers=HTML), rounds),
            "page filtered by name": timings(get(f"{page}?q=tenant_10000", headers=HTML), rounds),
            "page searched and sorted": timings(
                get(f"{page}?q=tenant_09&sort=database&desc=1", headers=HTML), rounds
            ),
            "API list of 1,000": timings(get(api, params={"limit": 1000}), rounds),
            "live.json since a cursor": timings(
                get(f"{page}/live.json", params={"since": cursor}), rounds
            ),
        }


@contextmanager
def sqlite_job_db() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'jobs.db'}"


@contextmanager
def postgres_job_db() -> Iterator[str]:
    name = f"sqlfleet_bench_pages_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run(engine: str, options: argparse.Namespace) -> dict[str, tuple[float, float]]:
    opener = sqlite_job_db if engine == "sqlite" else postgres_job_db
    with opener() as url:
        Fleet.init(url)
        with Fleet.open(url) as fleet:
            print(f"{engine}: storing…", file=sys.stderr)
            execution_id = fill(fleet, options.targets, options.stored)
            if engine == "postgresql":  # fresh planner statistics, as autovacuum would make
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("ANALYZE")
            print(f"{engine}: measuring…", file=sys.stderr)
            return measure(fleet, execution_id, options.rounds)


def machine() -> str:
    """One line describing the machine."""
    model = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    memory = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.system()} {platform.release()} · {model[1] if model else '?'} · "
        f"{os.cpu_count()} cores · "
        f"{int(memory[1]) / 1024**2 if memory else 0:.1f} GiB RAM · load {load} (1/5/15 min)"
    )


def report(results: dict[str, dict[str, tuple[float, float]]], options: argparse.Namespace) -> str:
    lines = [
        f"## Target pages, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Written by `benchmarks/target_pages.py`. {machine()} · one execution of "
        f"{options.targets:,} targets · {options.stored:,} other target executions stored · "
        f"{options.rounds} rounds · server time in-process, goal < 300 ms",
        "",
        "| job database | call | median ms | best ms |",
        "|---|---|---:|---:|",
    ]
    for engine, by_call in results.items():
        for call, (median, best) in by_call.items():
            lines.append(f"| {engine} | {call} | {median * 1000:.0f} | {best * 1000:.0f} |")
    return "\n".join(lines) + "\n"


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=10_000, help="targets of the execution")
    parser.add_argument(
        "--stored", type=int, default=0, help="other target executions stored (e.g. 1000000)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    os.environ.setdefault(KEY_ENV, Fernet.generate_key().decode())
    engines = ["sqlite", "postgresql"] if options.engine == "both" else [options.engine]
    results = {engine: run(engine, options) for engine in engines}
    text = report(results, options)
    print(text)
    if not options.no_record:
        with RESULTS.open("a") as out:
            out.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
