"""Appending each target's first result set to the step's output table.

One writer per output destination keeps one connection open and writes one target's rows at
a time, so the table is created once and a thousand targets do not open a thousand
connections to the output database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlfleet.errors import SqlfleetError, TargetError
from sqlfleet.model import OutputDestination
from sqlfleet.servers import ServerUrl
from sqlfleet.store import ClaimedTarget
from sqlfleet.targets import Login, TargetConnection, driver_for

EXTRA_COLUMNS = ("internal_execution_id", "target_server_name", "target_database_name")
CONNECT_TIMEOUT_SECONDS = 30.0
WRITE_TIMEOUT_SECONDS = 120.0


class OutputWriter:
    """Writes result rows to one output destination."""

    def __init__(self, destination: OutputDestination, login: Login | None) -> None:
        self.destination = destination
        self.login = login
        self._lock = asyncio.Lock()
        self._connection: TargetConnection | None = None
        self._last_used = 0.0

    async def append(
        self, claimed: ClaimedTarget, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Append `rows` with the target's identity in the extra columns."""
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
        async with self._lock:
            try:
                connection = await self._connect()
                await connection.append_rows(
                    self.destination.schema,
                    self.destination.table,
                    [*EXTRA_COLUMNS, *columns],
                    [(*extra, *row) for row in rows],
                    timeout=WRITE_TIMEOUT_SECONDS,
                )
                self._last_used = asyncio.get_running_loop().time()
            except SqlfleetError as exc:
                await self.close()
                raise TargetError(
                    f"writing the output to {self.destination.table!r} failed: {exc.message}"
                ) from None

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
        if self._connection is None or self._lock.locked():
            return
        if asyncio.get_running_loop().time() - self._last_used >= seconds:
            await self.close()

    async def close(self) -> None:
        """Close the connection, if open."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()
