"""Appending each target's first result set to the step's output table.

One writer per step keeps one connection to the output database and writes the rows of many
targets together: targets hand their rows over, and a batch is written when it holds
`BATCH_ROWS` rows or its first rows have waited `BATCH_SECONDS`. The table is created by the
first batch (`CREATE TABLE IF NOT EXISTS`) and only inserted into after that.

Ordering, for crash safety: a target's `append` returns only once its rows are committed in
the output database, and only then does its attempt end Succeeded (its outcome is recorded in
the job database after that). A crash in between loses no rows: the target runs again when
its lease runs out and its rows are written again (delivery is at least once, as everywhere).
A crash before the write loses the rows of the targets waiting in the batch, and none of them
was recorded Succeeded. A write that fails is retried target by target, so that only the
targets whose rows cannot be written fail, each with the error as it was before batching.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlfleet.errors import SqlfleetError, TargetConnectError, TargetError
from sqlfleet.model import OutputDestination
from sqlfleet.servers import ServerUrl
from sqlfleet.store import ClaimedTarget
from sqlfleet.targets import Login, TargetConnection, driver_for

EXTRA_COLUMNS = ("internal_execution_id", "target_server_name", "target_database_name")
CONNECT_TIMEOUT_SECONDS = 30.0
WRITE_TIMEOUT_SECONDS = 120.0
# A batch is written when it holds this many rows, or when its first rows waited this long.
BATCH_ROWS = 5000
BATCH_SECONDS = 0.05


@dataclass(slots=True)
class _Rows:
    """One target's rows waiting for their batch, and the future its `append` waits on."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class OutputWriter:
    """Writes result rows to one output destination, in batches."""

    def __init__(self, destination: OutputDestination, login: Login | None) -> None:
        self.destination = destination
        self.login = login
        self._lock = asyncio.Lock()
        self._connection: TargetConnection | None = None
        self._last_used = 0.0
        self._created = False
        self._waiting: list[_Rows] = []
        self._waiting_rows = 0
        self._full = asyncio.Event()
        self._batcher: asyncio.Task[None] | None = None

    async def append(
        self, claimed: ClaimedTarget, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Append `rows` with the target's identity in the extra columns; return once written."""
        target = claimed.target
        database = (
            f"{target.database} (schema {target.schema})" if target.schema else target.database
        )
        extra = (claimed.job_execution_id, target.server_url, database)
        clash = {c.lower() for c in columns} & set(EXTRA_COLUMNS)
        if clash:
            raise TargetError(
                f"the result set has column(s) {', '.join(sorted(clash))} that the output "
                "table adds itself: rename them in the query"
            )
        entry = _Rows((*EXTRA_COLUMNS, *columns), [(*extra, *row) for row in rows])
        self._waiting.append(entry)
        self._waiting_rows += len(entry.rows)
        if self._waiting_rows >= BATCH_ROWS:
            self._full.set()
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._write_batches(), name="output-batches")
        try:
            # Shielded: a target canceled while its batch is being written must not cancel
            # the write of the other targets' rows.
            await asyncio.shield(entry.done)
        except asyncio.CancelledError:
            if entry in self._waiting:  # not taken yet: its rows are not written at all
                self._waiting.remove(entry)
                self._waiting_rows -= len(entry.rows)
            else:  # being written: nobody waits for how that ends any more
                entry.done.add_done_callback(_forget)
            raise

    async def _write_batches(self) -> None:
        """Write the waiting rows, batch after batch, until none wait."""
        while self._waiting:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(BATCH_SECONDS):
                    await self._full.wait()
            self._full.clear()
            batch, self._waiting, self._waiting_rows = self._waiting, [], 0
            if batch:
                async with self._lock:
                    try:
                        await self._write(batch)
                    finally:
                        # Whatever stopped the write (a defect, the loop shutting down), no
                        # target may wait for its rows forever: those not told are told now.
                        interrupted = self._failed("the write was interrupted")
                        for entry in batch:
                            _settle(entry, interrupted)

    async def _write(self, batch: list[_Rows]) -> None:
        """Write a batch: all rows at once, or target by target when that fails."""
        by_columns: dict[tuple[str, ...], list[_Rows]] = {}
        for entry in batch:
            by_columns.setdefault(entry.columns, []).append(entry)
        for columns, entries in by_columns.items():
            rows = [row for entry in entries for row in entry.rows]
            error = await self._insert(columns, rows)
            if error is not None and len(entries) > 1 and not isinstance(error, _Unreachable):
                # Which target's rows the database refused is unknown: each one alone.
                for entry in entries:
                    _settle(entry, await self._insert(columns, entry.rows))
                continue
            for entry in entries:
                _settle(entry, error)

    async def _insert(
        self, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> TargetError | None:
        """Insert rows in one transaction; the error a target gets if it failed, else None."""
        created = self._created
        error = await self._try_insert(columns, rows, create=not created)
        if error is not None and created and not isinstance(error, _Unreachable):
            # The table may have been dropped since: create it if missing, as every write
            # did before batching, and fail only if that does not help.
            error = await self._try_insert(columns, rows, create=True)
        return error

    async def _try_insert(
        self, columns: tuple[str, ...], rows: list[tuple[Any, ...]], *, create: bool
    ) -> TargetError | None:
        try:
            connection = await self._connect()
            await connection.append_rows(
                self.destination.schema,
                self.destination.table,
                columns,
                rows,
                timeout=WRITE_TIMEOUT_SECONDS,
                create=create,
            )
            self._created = True
            self._last_used = asyncio.get_running_loop().time()
            return None
        except SqlfleetError as exc:
            await self.close()
            kind = _Unreachable if isinstance(exc, TargetConnectError) else TargetError
            return self._failed(exc.message, kind)

    def _failed(self, why: str, kind: type[TargetError] = TargetError) -> TargetError:
        return kind(f"writing the output to {self.destination.table!r} failed: {why}")

    async def _connect(self) -> TargetConnection:
        if self._connection is None:
            server = ServerUrl.parse(self.destination.server_url)
            self._connection = await driver_for(server).connect(
                server,
                self.destination.database,
                self.login,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
            )
        return self._connection

    async def close_if_idle(self, seconds: float) -> None:
        """Close the connection when nothing was written for `seconds` (an agent runs long)."""
        if self._connection is None or self._lock.locked() or self._waiting:
            return
        if asyncio.get_running_loop().time() - self._last_used >= seconds:
            await self.close()

    async def close(self) -> None:
        """Close the connection, if open."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()


class _Unreachable(TargetError):
    """The output database could not be reached: trying each target alone would not help."""


def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def _forget(done: asyncio.Future[None]) -> None:
    if not done.cancelled():
        done.exception()


def _settle(entry: _Rows, error: TargetError | None) -> None:
    if entry.done.done():
        return
    if error is None:
        entry.done.set_result(None)
    else:
        entry.done.set_exception(TargetError(error.message))
