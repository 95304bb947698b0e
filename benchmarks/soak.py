"""Soak: `sqlfleet up` for an hour with jobs firing every minute and a page polling it.

One `sqlfleet up` process serves a fleet of SQLite databases from a SQLite job database.
Three jobs fire every minute: one succeeds, one fails on every target (no retries), one
writes its result set to an output table. A client polls what an open browser tab fetches
(the job list, the execution list, the API's execution list, the newest execution's page
and its live JSON) every few seconds. Every `--sample` seconds the benchmark reads the
process's RSS, open file descriptors and threads, and the job database's size on disk.

At the end it checks that every job fired once per minute, and writes a section to
benchmarks/RESULTS.md: the samples by five-minute window, the slopes after warm-up, and
the goals (RSS growth after minute 10 under 5 MB, between the medians of minutes 10-15 and
of the last five; latencies of the last ten minutes within 1.2x of minutes 5-15).

    .venv/bin/python benchmarks/soak.py --minutes 60
    .venv/bin/python benchmarks/soak.py --minutes 3 --databases 20 --no-write   # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fanout  # the machine's description

ROOT = Path(__file__).resolve().parent.parent
SQLFLEET = ROOT / ".venv" / "bin" / "sqlfleet"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
JOBS = ("soak-ok", "soak-fail", "soak-output")
PAGES = ("/jobs", "/executions", "/api/v1/executions", "execution page", "live json")

FLEET_YAML = """\
credentials:
  - name: soak
    username: soak
    secret: {{env: SOAK_SECRET}}
target_groups:
  - name: soak-fleet
    members:
      - server: sqlite:///{fleet}
jobs:
  - name: soak-ok
    enabled: true
    schedule: {{spec: "every 1 minute"}}
    steps:
      - name: touch
        target_group: soak-fleet
        credential: soak
        command: |
          CREATE TABLE IF NOT EXISTS visits (at TEXT);
          INSERT INTO visits VALUES (datetime('now'));
          DELETE FROM visits WHERE at < datetime('now', '-10 minutes')
  - name: soak-fail
    enabled: true
    schedule: {{spec: "every 1 minute"}}
    steps:
      - name: broken
        target_group: soak-fleet
        credential: soak
        retry_attempts: 0
        command: SELECT * FROM no_such_table
  - name: soak-output
    enabled: true
    schedule: {{spec: "every 1 minute"}}
    steps:
      - name: collect
        target_group: soak-fleet
        credential: soak
        command: SELECT '$(target_database_name)' AS tenant, count(*) AS visits FROM visits
        output:
          server: sqlite:///{results}
          database: results.db
          table: visits
          credential: soak
"""


@dataclass
class Sample:
    """One reading of the process and the job database."""

    minute: float
    rss_mb: float
    fds: int
    threads: int
    job_db_mb: float
    latencies: dict[str, list[float]] = field(default_factory=dict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--databases", type=int, default=200)
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between page polls")
    parser.add_argument(
        "--history-days",
        type=float,
        default=1.0,
        help="days of the same jobs' executions in the job database before it starts",
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sqlfleet-soak-") as tmp:
        home = Path(tmp)
        env = {**os.environ, "SQLFLEET_HOME": str(home), "SOAK_SECRET": "soak-only"}
        env.pop("SQLFLEET_JOB_DB", None)
        fleet, results = home / "fleet", home / "results"
        _make_fleet(fleet, results, args.databases)
        (home / "fleet.yaml").write_text(FLEET_YAML.format(fleet=fleet, results=results))
        _sqlfleet(env, "init")
        _sqlfleet(env, "apply", str(home / "fleet.yaml"))
        seeded = _seed_history(home / "jobs.db", fleet, args.history_days, args.databases)
        port = _free_port()
        started = time.monotonic()
        server = subprocess.Popen(
            [str(SQLFLEET), "up", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(home / "up.log").open("w"),
        )
        try:
            samples = _soak(server.pid, port, home / "jobs.db", started, args)
        finally:
            server.send_signal(signal.SIGTERM)
            code = server.wait(timeout=120)
        log = (home / "up.log").read_text()
        fired = _fired_per_minute(home / "jobs.db", after=seeded)
        report = _report(samples, fired, args, code, log)
    print(report)
    if not args.no_write:
        with RESULTS.open("a") as out:
            out.write("\n" + report)


def _make_fleet(fleet: Path, results: Path, databases: int) -> None:
    fleet.mkdir()
    results.mkdir()
    for i in range(databases):
        sqlite3.connect(fleet / f"tenant_{i:04d}.db").close()
    sqlite3.connect(results / "results.db").close()


def _sqlfleet(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(SQLFLEET), *args], env=env, check=True, stdout=subprocess.DEVNULL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _soak(
    pid: int, port: int, job_db: Path, started: float, args: argparse.Namespace
) -> list[Sample]:
    """Poll the pages and sample the process until `--minutes` have passed."""
    base = f"http://127.0.0.1:{port}"
    samples: list[Sample] = []
    latencies: dict[str, list[float]] = {page: [] for page in PAGES}
    lock = threading.Lock()
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            _wait_until_up(client)
            while not done.is_set():
                newest = client.get("/api/v1/executions", params={"limit": 1}).json()
                pages = {"/jobs": "/jobs", "/executions": "/executions"}
                pages["/api/v1/executions"] = "/api/v1/executions"
                if newest:
                    execution = newest[0]["job_execution_id"]
                    pages["execution page"] = f"/executions/{execution}"
                    pages["live json"] = f"/executions/{execution}/live.json"
                for name, path in pages.items():
                    begin = time.perf_counter()
                    response = client.get(path)
                    elapsed = time.perf_counter() - begin
                    response.raise_for_status()
                    with lock:
                        latencies[name].append(elapsed * 1000)
                done.wait(args.poll)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    deadline = started + args.minutes * 60
    while time.monotonic() < deadline:
        time.sleep(min(args.sample, max(0.0, deadline - time.monotonic())))
        if not poller.is_alive():
            raise SystemExit("the polling client stopped: see the traceback above")
        with lock:
            taken = {page: values[:] for page, values in latencies.items()}
            for values in latencies.values():
                values.clear()
        samples.append(
            Sample(
                minute=(time.monotonic() - started) / 60,
                rss_mb=_rss_mb(pid),
                fds=len(os.listdir(f"/proc/{pid}/fd")),
                threads=len(os.listdir(f"/proc/{pid}/task")),
                job_db_mb=sum(p.stat().st_size for p in job_db.parent.glob(job_db.name + "*"))
                / 2**20,
                latencies=taken,
            )
        )
        last = samples[-1]
        print(
            f"{last.minute:5.1f} min  RSS {last.rss_mb:6.1f} MB  fds {last.fds}  "
            f"threads {last.threads}  job db {last.job_db_mb:6.1f} MB  "
            + "  ".join(f"{p} {_median(v):.0f}" for p, v in taken.items() if v),
            flush=True,
        )
    done.set()
    poller.join(timeout=60)
    return samples


def _wait_until_up(client: httpx.Client) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            client.get("/api/v1/jobs").raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("sqlfleet up did not answer within 60 s")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _seed_history(job_db: Path, fleet: Path, days: float, databases: int) -> int:
    """`days` of the three jobs' executions, one a minute each, ended as `up` ends them,
    written by SQL before `up` starts: the history a service that ran that long has, so
    that every list is full from the first minute. Returns the last seeded execution's id."""
    minutes = int(days * 24 * 60)
    if minutes < 1:
        return 0
    started = time.monotonic()
    with sqlite3.connect(job_db) as db:
        ids = dict(db.execute("SELECT name, id FROM job WHERE name LIKE 'soak-%'").fetchall())
        steps = {
            job: db.execute(
                "SELECT s.step_id, s.step_name, g.name FROM job_step s "
                "JOIN target_group g ON g.id = s.target_group_id "
                "WHERE s.job_id = ? AND s.job_version = 1",
                [ids[job]],
            ).fetchone()
            for job in JOBS
        }
        numbers = (
            f"WITH RECURSIVE m(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM m WHERE i < {minutes}),"
            f" d(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM d WHERE k < {databases - 1}) "
        )
        at = f"datetime('now', '-' || ({minutes} - i + 1) || ' minutes')"
        for job in JOBS:
            state = "Failed" if job == "soak-fail" else "Succeeded"
            message = "no such table: no_such_table" if state == "Failed" else None
            base = db.execute("SELECT coalesce(max(id), 0) FROM job_execution").fetchone()[0]
            step_base = db.execute("SELECT coalesce(max(id), 0) FROM step_execution").fetchone()[0]
            target_base = db.execute(
                "SELECT coalesce(max(id), 0) FROM target_execution"
            ).fetchone()[0]
            step_id, step_name, group = steps[job]
            db.execute(
                f"{numbers}INSERT INTO job_execution (id, job_id, job_version, lifecycle, "
                "trigger, cancel_requested, create_time, start_time, end_time, last_message, "
                "trial, target_counts) "
                f"SELECT {base} + i, ?, 1, ?, 'schedule', 0, {at}, {at}, {at}, "
                f"'1 step(s) ended', 0, ? FROM m",
                [ids[job], state, f'{{"{state}": {databases}}}'],
            )
            db.execute(
                f"{numbers}INSERT INTO step_execution (id, job_execution_id, step_id, step_name, "
                "target_group_name, lifecycle, create_time, start_time, end_time, last_message) "
                f"SELECT {step_base} + i, {base} + i, ?, ?, ?, ?, {at}, {at}, {at}, ? FROM m",
                [step_id, step_name, group, state, f"{databases} {state}"],
            )
            db.execute(
                f"{numbers}INSERT INTO target_execution (id, job_execution_id, "
                "step_execution_id, job_id, step_id, target_type, target_server_name, "
                "target_database_name, lifecycle, create_time, start_time, end_time, "
                "current_attempts, last_message, updated_at) "
                f"SELECT {target_base} + (i - 1) * {databases} + k + 1, {base} + i, "
                f"{step_base} + i, ?, ?, 'database', ?, printf('tenant_%04d.db', k), ?, "
                f"{at}, {at}, {at}, 1, ?, {at} FROM m, d",
                [ids[job], step_id, f"sqlite:///{fleet}", state, message],
            )
            db.execute(
                "INSERT INTO attempt (target_execution_id, attempt_number, agent_name, "
                "start_time, end_time, lifecycle, message) "
                "SELECT id, 1, 'soak', start_time, end_time, lifecycle, last_message "
                "FROM target_execution WHERE id > ?",
                [target_base],
            )
        last: int = db.execute("SELECT max(id) FROM job_execution").fetchone()[0]
    print(
        f"seeded {minutes * len(JOBS):,} executions, {minutes * len(JOBS) * databases:,} "
        f"target executions in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    return last


def _fired_per_minute(job_db: Path, *, after: int) -> dict[str, Counter[str]]:
    """Per job, how many scheduled executions were created in each minute (after the
    seeded history)."""
    fired: dict[str, Counter[str]] = {job: Counter() for job in JOBS}
    with sqlite3.connect(job_db) as db:
        rows = db.execute(
            "SELECT j.name, strftime('%Y-%m-%d %H:%M', e.create_time) FROM job_execution e "
            "JOIN job j ON j.id = e.job_id WHERE e.id > ?",
            [after],
        ).fetchall()
    for job, minute in rows:
        fired[job][minute] += 1
    return fired


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope, per minute."""
    if len(points) < 2:
        return float("nan")
    xs, ys = zip(*points, strict=True)
    return statistics.linear_regression(xs, ys).slope


def _window(samples: list[Sample], start: float, end: float, page: str) -> list[float]:
    return [v for s in samples if start <= s.minute < end for v in s.latencies.get(page, [])]


def _report(
    samples: list[Sample],
    fired: dict[str, Counter[str]],
    args: argparse.Namespace,
    exit_code: int,
    log: str,
) -> str:
    now = dt.datetime.now(dt.UTC)
    lines = [
        f"## Soak of `sqlfleet up`, {now:%Y-%m-%d %H:%M} UTC",
        "",
        f"Written by `benchmarks/soak.py`. {fanout.machine()} at the end · {args.minutes:g} "
        f"minutes · {args.databases} SQLite databases · 3 jobs every minute · a poll of "
        f"{len(PAGES)} pages every {args.poll:g} s · {args.history_days:g} day(s) of history "
        f"before it started · SIGTERM exit {exit_code}",
        "",
        "| minutes | RSS MB | fds | threads | job db MB | "
        + " | ".join(f"{p} ms" for p in PAGES)
        + " |",
        "|---|---:|---:|---:|---:|" + "---:|" * len(PAGES),
    ]
    for start in range(0, int(args.minutes), 5):
        window = [s for s in samples if start <= s.minute < start + 5]
        if not window:
            continue
        last = window[-1]
        medians = [_median(_window(samples, start, start + 5, p)) for p in PAGES]
        lines.append(
            f"| {start}-{start + 5} | {last.rss_mb:.1f} | {last.fds} | {last.threads} | "
            f"{last.job_db_mb:.1f} | " + " | ".join(f"{m:.1f}" for m in medians) + " |"
        )
    warm = [s for s in samples if s.minute >= 10]
    end = args.minutes
    # RSS swings by a few MB within a minute (what is freed between two hand-backs of free
    # memory): growth is the median of the last five minutes' samples less that of minutes
    # 10-15, not two single samples.
    rss_growth = _median([s.rss_mb for s in warm if s.minute >= end - 5]) - _median(
        [s.rss_mb for s in warm if s.minute < 15]
    )
    lines += [
        "",
        "After warm-up (from minute 10): "
        f"RSS {_slope([(s.minute, s.rss_mb) for s in warm]) * 60:+.2f} MB/h "
        f"({rss_growth:+.1f} MB from minutes 10-15 to the last five, medians), "
        f"fds {_slope([(s.minute, s.fds) for s in warm]) * 60:+.2f}/h, "
        f"threads {_slope([(s.minute, s.threads) for s in warm]) * 60:+.2f}/h, "
        f"job db {_slope([(s.minute, s.job_db_mb) for s in warm]) * 60:+.1f} MB/h.",
        "",
        "| goal | measured | |",
        "|---|---:|---|",
        f"| RSS growth after minute 10 < 5 MB | {rss_growth:+.1f} MB | "
        f"{'met' if rss_growth < 5 else 'MISSED'} |",
    ]
    for page in PAGES:
        early = _median(_window(samples, 5, 15, page))
        late = _median(_window(samples, end - 10, end + 1, page))
        ratio = late / early if early else float("nan")
        lines.append(
            f"| {page}: last 10 min / minutes 5-15 ≤ 1.2x | {late:.1f} / {early:.1f} ms = "
            f"{ratio:.2f}x | {'met' if ratio <= 1.2 else 'MISSED'} |"
        )
    for job, minutes in fired.items():
        counts = Counter(minutes.values())
        # The first and last minute may be partial: only whole minutes must fire exactly once.
        inner = sorted(minutes)[1:-1]
        doubled = [m for m in inner if minutes[m] != 1]
        expected = len(inner)
        lines.append(
            f"| {job}: fired once per minute | {len(minutes)} minutes, "
            f"{sum(minutes.values())} executions, per minute {dict(counts)} | "
            f"{'met' if not doubled and expected >= int(args.minutes) - 3 else 'MISSED'} |"
        )
    tracebacks = log.count("Traceback")
    lines.append(
        f"| no traceback in the log | {tracebacks} | {'met' if not tracebacks else 'MISSED'} |"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
