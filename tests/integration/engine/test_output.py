"""The output writer: one connection per destination, closed when idle."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlfleet.engine.output import OutputWriter
from sqlfleet.errors import TargetError
from sqlfleet.model import OutputDestination, Target
from sqlfleet.store import ClaimedTarget


def _claimed(database: str) -> ClaimedTarget:
    now = datetime.now(UTC)
    return ClaimedTarget(1, 7, 1, 1, 1, 1, Target("sqlite:///fleet", database), 1, now, now)


async def test_rows_land_with_the_target_columns_and_idle_connections_close(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "out.db").close()
    writer = OutputWriter(OutputDestination(f"sqlite://{tmp_path}", "out.db", "results", "c"), None)
    await writer.append(_claimed("a.db"), ["n"], [(1,), (2,)])
    await writer.append(_claimed("b.db"), ["n"], [(3,)])
    await writer.close_if_idle(3600)
    assert writer._connection is not None  # still in use
    await writer.close_if_idle(0)
    assert writer._connection is None
    await writer.append(_claimed("c.db"), ["n"], [(4,)])  # reopens
    await writer.close()
    with sqlite3.connect(tmp_path / "out.db") as db:
        rows = db.execute(
            "SELECT internal_execution_id, target_database_name, n FROM results ORDER BY n"
        ).fetchall()
    db.close()
    assert rows == [(7, "a.db", 1), (7, "a.db", 2), (7, "b.db", 3), (7, "c.db", 4)]


async def test_targets_writing_at_once_share_one_batch_and_a_refused_one_fails_alone(
    tmp_path: Path,
) -> None:
    sqlite3.connect(tmp_path / "out.db").close()
    writer = OutputWriter(OutputDestination(f"sqlite://{tmp_path}", "out.db", "results", "c"), None)
    good = [writer.append(_claimed(f"{i}.db"), ["n"], [(i,)]) for i in range(50)]
    bad = writer.append(_claimed("bad.db"), ["n"], [(1, 2)])  # a row wider than its columns
    outcomes = await asyncio.gather(*good, bad, return_exceptions=True)
    await writer.close()
    assert outcomes[:50] == [None] * 50
    assert isinstance(outcomes[50], TargetError)
    assert "writing the output to 'results' failed" in outcomes[50].message
    with sqlite3.connect(tmp_path / "out.db") as db:
        rows = db.execute("SELECT target_database_name, n FROM results ORDER BY n").fetchall()
    db.close()
    assert rows == [(f"{i}.db", i) for i in range(50)]


async def test_a_target_canceled_before_its_batch_is_written_writes_nothing(
    tmp_path: Path,
) -> None:
    sqlite3.connect(tmp_path / "out.db").close()
    writer = OutputWriter(OutputDestination(f"sqlite://{tmp_path}", "out.db", "results", "c"), None)
    await writer.append(_claimed("a.db"), ["n"], [(1,)])
    waiting = asyncio.create_task(writer.append(_claimed("b.db"), ["n"], [(2,)]))
    await asyncio.sleep(0)  # it queued its rows; the batch waits BATCH_SECONDS to fill
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    await writer.append(_claimed("c.db"), ["n"], [(3,)])
    await writer.close()
    with sqlite3.connect(tmp_path / "out.db") as db:
        rows = db.execute("SELECT target_database_name FROM results ORDER BY n").fetchall()
    db.close()
    assert rows == [("a.db",), ("c.db",)]


async def test_a_dropped_output_table_is_created_again(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "out.db").close()
    writer = OutputWriter(OutputDestination(f"sqlite://{tmp_path}", "out.db", "results", "c"), None)
    await writer.append(_claimed("a.db"), ["n"], [(1,)])
    with sqlite3.connect(tmp_path / "out.db") as db:
        db.execute("DROP TABLE results")
    db.close()
    await writer.append(_claimed("b.db"), ["n"], [(2,)])
    await writer.append(_claimed("c.db"), ["n"], [(3,)])
    await writer.close()
    with sqlite3.connect(tmp_path / "out.db") as db:
        rows = db.execute("SELECT target_database_name FROM results").fetchall()
    db.close()
    assert rows == [("b.db",), ("c.db",)]
