"""The output writer: one connection per destination, closed when idle."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlfleet.engine.output import OutputWriter
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
