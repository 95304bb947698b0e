"""Connections kept between a step's targets, so that one connection serves many in turn.

Opening a connection costs a server far more than a query does (a TCP handshake, a login, a
PostgreSQL backend started), and a step over a thousand databases of one server would open
a thousand. Where the engine allows it (`Driver.session_scope`: MySQL/MariaDB databases of
one server, PostgreSQL schemas of one database), a connection that ran a target's script to
its end is reset (`ReusableConnection.reset`) and serves the step's next target on the same
server with the same login. A connection is closed instead, never reused, when its attempt
did not end cleanly (an error, a timeout, a cancellation) or its reset failed. When the
server refuses a new connection for a while (too many clients), a target waits for one of
its step's connections on that server to be free rather than fail.

Bounds: connections open at once (in use, idle or being opened) stay within `capacity`, the
dispatcher's concurrency, by closing the longest idle one to make room; a connection idle
for `idle_seconds` is closed, and so is every idle connection of a step that ended, at the
next `sweep`; `close` closes them all. A step with `fresh_connection` gets a new connection
per target, as do targets no connection can serve in turn (SQLite files, PostgreSQL
databases).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlfleet.errors import TargetConnectError, TargetError
from sqlfleet.model import Target
from sqlfleet.servers import ServerUrl
from sqlfleet.targets import Driver, Login, ReusableConnection, TargetConnection

__all__ = ["IDLE_SECONDS", "Lease", "Sessions"]

log = logging.getLogger("sqlfleet.engine")

# An idle connection nobody took for this long is closed (a step between waves, a retry).
IDLE_SECONDS = 30.0

C = TypeVar("C", bound=TargetConnection)

# Connections that may serve each other's targets: the step execution, the server, the
# login, and the driver's session scope on that server.
_Key = tuple[int, str, Login | None, str]


@dataclass(eq=False, slots=True)
class _Idle:
    connection: ReusableConnection
    key: _Key
    since: float


@dataclass(eq=False, slots=True)
class Lease:
    """One attempt's connection: `keep()` once the attempt ended cleanly, then `release()`."""

    connection: TargetConnection
    _sessions: Sessions
    # Where it goes back to, and as what, if it may serve another target.
    _key: _Key | None
    _reusable: ReusableConnection | None
    _reset_timeout: float
    _kept: bool = field(default=False, init=False)
    _released: bool = field(default=False, init=False)

    def keep(self) -> None:
        """The attempt ran to its end: once reset, the connection may serve another target."""
        self._kept = True

    async def release(self) -> None:
        """Give the connection back (reset and kept) or close it; never raises but
        `CancelledError` (the connection is then closed)."""
        if not self._released:
            self._released = True
            await self._sessions._release(self)


class Sessions:
    """The connections of one dispatcher's attempts, reused between targets where allowed."""

    def __init__(self, capacity: int, *, idle_seconds: float = IDLE_SECONDS) -> None:
        self.capacity = capacity
        self.idle_seconds = idle_seconds
        # How many connections were opened, for tests and measurements.
        self.opened = 0
        self._idle: dict[_Key, list[_Idle]] = {}
        # Reusable connections lent out or being opened, and targets waiting for one.
        self._in_use: dict[_Key, int] = {}
        self._waiters: dict[_Key, deque[asyncio.Future[ReusableConnection]]] = {}
        self._open = 0  # in use, idle, or being opened
        self._ended_steps: set[int] = set()
        self._closed = False

    @property
    def open(self) -> int:
        """Connections open now: in use, idle, or being opened."""
        return self._open

    @property
    def idle(self) -> int:
        """Connections open and waiting for a target."""
        return sum(len(entries) for entries in self._idle.values())

    async def lease(
        self,
        driver: Driver,
        server: ServerUrl,
        target: Target,
        login: Login | None,
        *,
        connect_timeout: float,
        fresh: bool,
        step_execution_id: int,
    ) -> Lease:
        """A connection to `target`: an idle one of the step pointed at it, or a new one.

        Raises what `Driver.connect` raises.
        """
        scope = None if fresh else driver.session_scope(target.database, target.schema)
        if scope is None:
            connection: TargetConnection = await self._open_new(
                driver.connect(
                    server,
                    target.database,
                    login,
                    connect_timeout=connect_timeout,
                    schema=target.schema,
                )
            )
            return Lease(connection, self, None, None, connect_timeout)
        key = (step_execution_id, str(server), login, scope)
        idle = self._take(key)
        if idle is not None:
            lease = await self._point(idle, key, target, connect_timeout)
            if lease is not None:
                return lease
        self._count_in_use(key, 1)  # from now: others may wait for it
        try:
            reusable = await self._open_new(
                driver.connect_reusable(
                    server,
                    target.database,
                    login,
                    connect_timeout=connect_timeout,
                    schema=target.schema,
                )
            )
        except TargetConnectError as exc:
            self._count_in_use(key, -1)
            # The server takes no more connections now (too many clients, say): one of the
            # step's own, in use or being opened, is soon free to serve this target instead.
            if not exc.transient or not self._in_use.get(key):
                raise
            returned = await self._wait_for(key, connect_timeout)
            lease = None
            if returned is not None:
                lease = await self._point(returned, key, target, connect_timeout)
            if lease is None:
                raise
            return lease
        except BaseException:
            self._count_in_use(key, -1)
            raise
        return Lease(reusable, self, key, reusable, connect_timeout)

    async def _point(
        self, connection: ReusableConnection, key: _Key, target: Target, seconds: float
    ) -> Lease | None:
        """A lease of a connection that served another target, pointed at `target`; None
        (and closed) if it cannot serve it."""
        try:
            await connection.use(target.database, target.schema, timeout=seconds)
        except TargetError as exc:
            # It went away while idle, or the database is not there: a new connection says
            # which, in the words of a connect error.
            log.debug("a connection could not go on to serve %s: %s", target, exc.message)
            await self._close(connection)
            return None
        except BaseException:
            await self._close(connection)
            raise
        self._count_in_use(key, 1)
        return Lease(connection, self, key, connection, seconds)

    def _count_in_use(self, key: _Key, change: int) -> None:
        count = self._in_use.get(key, 0) + change
        if count:
            self._in_use[key] = count
        else:
            del self._in_use[key]

    async def _wait_for(self, key: _Key, seconds: float) -> ReusableConnection | None:
        """The next connection of `key` given back, or None if none comes within `seconds`."""
        waiter: asyncio.Future[ReusableConnection] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(key, deque())
        waiters.append(waiter)
        got = False
        try:
            async with asyncio.timeout(seconds):
                connection = await waiter
            got = True
            return connection
        except TimeoutError:
            return None
        finally:
            if not got:
                if waiter.done() and not waiter.cancelled():
                    self._give_back(key, waiter.result())  # handed over as we gave up
                else:
                    waiter.cancel()
                    with contextlib.suppress(ValueError):
                        waiters.remove(waiter)
                if not waiters and self._waiters.get(key) is waiters:
                    del self._waiters[key]

    async def _open_new(self, connecting: Coroutine[Any, Any, C]) -> C:
        """Await `connecting` with a place for it among the open connections."""
        self._open += 1
        try:
            await self._make_room()
            connection = await connecting
        except BaseException:
            self._open -= 1
            connecting.close()  # never awaited when making room failed
            raise
        self.opened += 1
        return connection

    async def _make_room(self) -> None:
        """Close the longest idle connections while more than `capacity` are open."""
        while self._open > self.capacity:
            oldest = min(
                (entries[0] for entries in self._idle.values() if entries),
                key=lambda entry: entry.since,
                default=None,
            )
            if oldest is None:
                return  # all in use: the dispatcher's slots bound those
            self._forget(oldest)
            await self._close(oldest.connection)

    def _take(self, key: _Key) -> ReusableConnection | None:
        entries = self._idle.get(key)
        if not entries:
            return None
        # The most recently used: the others age out when fewer are needed.
        entry = entries.pop()
        if not entries:
            del self._idle[key]
        return entry.connection

    def _forget(self, entry: _Idle) -> None:
        entries = self._idle[entry.key]
        entries.remove(entry)
        if not entries:
            del self._idle[entry.key]

    async def _release(self, lease: Lease) -> None:
        key, connection = lease._key, lease._reusable
        if key is not None and connection is not None:
            self._count_in_use(key, -1)
        if (
            key is None
            or connection is None
            or not lease._kept
            or self._closed
            or key[0] in self._ended_steps
        ):
            await self._close(lease.connection)
            return
        try:
            await connection.reset(timeout=lease._reset_timeout)
        except TargetError as exc:
            log.debug("closing a connection instead of reusing it: %s", exc.message)
            await self._close(connection)
            return
        except BaseException:
            await self._close(connection)
            raise
        self._give_back(key, connection)

    def _give_back(self, key: _Key, connection: ReusableConnection) -> None:
        """To a target waiting for one, or else to the idle ones."""
        waiters = self._waiters.get(key)
        while waiters:
            waiter = waiters.popleft()
            if not waiters:
                del self._waiters[key]
            if not waiter.done():
                waiter.set_result(connection)
                return
        since = asyncio.get_running_loop().time()
        self._idle.setdefault(key, []).append(_Idle(connection, key, since))

    def step_ended(self, step_execution_ids: set[int]) -> None:
        """These steps ended: their idle connections are closed at the next `sweep`."""
        self._ended_steps |= step_execution_ids

    async def sweep(self) -> None:
        """Close connections idle too long, and those of steps that ended."""
        now = asyncio.get_running_loop().time()
        stale = [
            entry
            for entries in self._idle.values()
            for entry in entries
            if entry.key[0] in self._ended_steps or now - entry.since >= self.idle_seconds
        ]
        self._ended_steps.clear()
        for entry in stale:
            self._forget(entry)
        await self._close_all([entry.connection for entry in stale])

    async def close(self) -> None:
        """Close every idle connection; those in use are closed when released."""
        self._closed = True
        idle = [entry.connection for entries in self._idle.values() for entry in entries]
        self._idle.clear()
        await self._close_all(idle)

    async def _close_all(self, connections: list[ReusableConnection]) -> None:
        if connections:
            await asyncio.gather(*(self._close(connection) for connection in connections))

    async def _close(self, connection: TargetConnection) -> None:
        self._open -= 1
        await connection.close()
