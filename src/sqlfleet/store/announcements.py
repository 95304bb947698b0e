"""Changes of job executions as a PostgreSQL job database announces them (LISTEN/NOTIFY).

Since migration 0011 a PostgreSQL job database announces each job execution created and each
change of its state or stop request. `listen` hears them on a connection of its own and hands
each to a callback: an agent starts new work at once instead of at its next poll, and
`start --wait` sees its execution end at once. An announcement is a hint, never the only way
to learn something: whoever listens polls as well, as without it. Announcements made while
the connection is down are lost, so each connection made is handed on as "anything may have
changed" (an `ExecutionChange` without an id). A connection that fails is opened again,
with one line at INFO for a run of failures: an outage of the job database is reported as
such by the store's own calls. A SQLite job database announces nothing, and `listen`
returns at once.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from sqlfleet.lifecycle import Lifecycle
from sqlfleet.store.database import CONNECT_TIMEOUT_SECONDS, safe_url

__all__ = ["CHANNEL", "ExecutionChange", "listen"]

log = logging.getLogger("sqlfleet.store")

# As named by migration 0011's trigger.
CHANNEL = "sqlfleet_job_execution"
# A connection that vanished without a word (its host went down) is found out by TCP
# keepalives within about 30 s; the URL's own settings, if any, take precedence.
_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 15,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
# Between two failed connections: doubling from the first to the last.
_RETRY_SECONDS = (1.0, 30.0)
# A job execution's id as the trigger writes it (anyone who may connect may NOTIFY anything).
_ID = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True, slots=True)
class ExecutionChange:
    """A job execution was created or changed; no id: anything may have changed."""

    job_execution_id: int | None = None
    lifecycle: Lifecycle | None = None
    stop_requested: bool = False

    @classmethod
    def parse(cls, payload: str) -> ExecutionChange | None:
        """The change an announcement says (`<id> <lifecycle> <0|1>`); None if unreadable."""
        parts = payload.split(" ")
        if len(parts) != 3 or not _ID.fullmatch(parts[0]) or parts[2] not in ("0", "1"):
            return None
        try:
            lifecycle = Lifecycle(parts[1])
        except ValueError:
            return None
        return cls(int(parts[0]), lifecycle, parts[2] == "1")


async def listen(engine: Engine, on_change: Callable[[ExecutionChange], None]) -> None:
    """Hand every announced change to `on_change` until canceled; never raises otherwise.

    `on_change` runs on the event loop and must return quickly without raising.
    """
    if engine.dialect.name != "postgresql":
        return
    import psycopg

    # The engine's own connection parameters (host, user, password, TLS settings).
    _, params = engine.dialect.create_connect_args(engine.url)
    params = {
        **_KEEPALIVES,
        **params,
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "autocommit": True,
    }
    delay = _RETRY_SECONDS[0]
    failing = False
    while True:
        try:
            connection = await psycopg.AsyncConnection.connect(**params)
            async with connection:
                await connection.execute(f"LISTEN {CHANNEL}")
                delay, failing = _RETRY_SECONDS[0], False
                on_change(ExecutionChange())  # what was announced before now was not heard
                async for notify in connection.notifies():
                    change = ExecutionChange.parse(notify.payload)
                    if change is not None:
                        on_change(change)
        except Exception as exc:
            # Whatever it is (the server away, a payload it cannot decode), this is a hint:
            # it must never stop what listens. Not the message: it is the driver's.
            log.log(
                logging.DEBUG if failing else logging.INFO,
                "no announcements from the job database %s (%s); polling meanwhile",
                safe_url(engine.url),
                type(exc).__name__,
            )
            failing = True
        await asyncio.sleep(delay)
        delay = min(delay * 2, _RETRY_SECONDS[1])
