"""The job database's edge: every driver error becomes a sqlfleet error here, once.

Every public verb of `JobStore` is wrapped by `guard_verbs`, so nothing above the store ever
sees a SQLAlchemy, psycopg or sqlite3 exception: a server that is down or restarting is
`JobDatabaseUnavailable` (try again), a read-only or damaged file says so, a value that does
not fit a column is `InvalidValue`, a unique-key race is `ConcurrentChange`, anything else is
a plain `StoreError`. Messages are one line and never hold a password.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import exc as sa

from sqlfleet.errors import (
    ConcurrentChange,
    InvalidValue,
    JobDatabaseCorrupt,
    JobDatabaseReadOnly,
    JobDatabaseUnavailable,
    SqlfleetError,
    StoreError,
)

log = logging.getLogger("sqlfleet.store")

P = ParamSpec("P")
R = TypeVar("R")

# Marks a wrapped verb, so a test can check that none was missed.
GUARDED = "__sqlfleet_guarded__"

_SQLITE_BUSY = ("database is locked", "database table is locked", "unable to open database")
_SQLITE_READ_ONLY = ("readonly database", "read-only")
_SQLITE_CORRUPT = ("file is not a database", "malformed", "not a database", "file is encrypted")


def first_line(error: BaseException) -> str:
    """The first line of a database error, without the driver's noise."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__


def translate(error: BaseException, where: str) -> SqlfleetError | None:
    """The sqlfleet error for a driver error on the job database `where`; None if not one.

    `where` is the job database's URL with its password masked.
    """
    if isinstance(error, SqlfleetError):
        return error
    if isinstance(error, OverflowError):
        # sqlite3 refuses integers beyond 64 bits before anything is sent.
        return InvalidValue("a number is too large for the job database to store")
    if isinstance(error, sa.TimeoutError):
        return JobDatabaseUnavailable(
            f"the job database {where} is busy: no connection was free in time; try again"
        )
    if not isinstance(error, sa.DBAPIError | sa.DisconnectionError):
        return None
    original = getattr(error, "orig", None)
    detail = first_line(error)
    # Only a PostgreSQL job database loads psycopg, and only its errors can be psycopg's:
    # a SQLite job database does not pay for importing it.
    psycopg: Any = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(
        original,
        psycopg.errors.DeadlockDetected
        | psycopg.errors.SerializationFailure
        | psycopg.errors.LockNotAvailable,
    ):
        return ConcurrentChange(f"the job database was busy with another change: {detail}")
    if (
        getattr(error, "connection_invalidated", False)
        or isinstance(original, sa.DisconnectionError)
        or (
            psycopg is not None
            and isinstance(original, psycopg.OperationalError | psycopg.InterfaceError)
        )
    ):
        return JobDatabaseUnavailable(f"the job database {where} is unavailable: {detail}")
    if psycopg is not None and isinstance(original, psycopg.errors.ReadOnlySqlTransaction):
        return JobDatabaseReadOnly(f"the job database {where} is read-only: {detail}")
    if isinstance(original, sqlite3.Error):
        lowered = detail.lower()
        if any(text in lowered for text in _SQLITE_READ_ONLY):
            return JobDatabaseReadOnly(
                f"the job database {where} is read-only: sqlfleet cannot write to it "
                "(it was opened with ?mode=ro, or the file or its folder is not writable)"
            )
        if any(text in lowered for text in _SQLITE_CORRUPT):
            return JobDatabaseCorrupt(
                f"the job database {where} is damaged or not a sqlfleet job database: {detail}"
            )
        if any(text in lowered for text in _SQLITE_BUSY) or isinstance(
            original, sqlite3.OperationalError
        ):
            return JobDatabaseUnavailable(f"the job database {where} is unavailable: {detail}")
    if isinstance(error, sa.DataError):
        return InvalidValue(f"a value does not fit the job database: {detail}")
    if isinstance(error, sa.IntegrityError):
        return ConcurrentChange(
            f"someone else changed the same definition at the same time: try again ({detail})"
        )
    return StoreError(f"the job database {where} failed: {detail}")


_listeners: list[Callable[[StoreError], None]] = []


def listen(listener: Callable[[StoreError], None]) -> Callable[[], None]:
    """Have `listener` told of every job-database error translated here (metrics count them);
    returns what stops it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def _tell(error: SqlfleetError) -> None:
    if isinstance(error, StoreError):
        for listener in list(_listeners):
            listener(error)


class Availability:
    """Whether the job database answers: an outage is logged once when it starts and once
    when it ends, however many calls fail in between, and callers back off by it."""

    MAX_DELAY = 5.0

    def __init__(self, where: str) -> None:
        self.where = where
        self.failures = 0
        self.since: float | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        """False while an outage lasts."""
        return self.since is None

    def retry_delay(self, base: float = 0.25) -> float:
        """How long to wait before the next call: doubling with each failure, up to 5 s."""
        return float(min(self.MAX_DELAY, base * 2.0 ** min(self.failures, 10)))

    def failed(self, error: JobDatabaseUnavailable) -> None:
        """A call found the job database away."""
        with self._lock:
            self.failures += 1
            if self.since is not None:
                return
            self.since = time.monotonic()
        log.warning("%s; retrying until it is back", error.message)

    def answered(self) -> None:
        """A call got through."""
        if self.since is None:
            return
        with self._lock:
            if self.since is None:
                return
            away, self.since, self.failures = time.monotonic() - self.since, None, 0
        log.warning("the job database %s is back after %.1f s", self.where, away)


def _translated(store: Any, error: Exception) -> SqlfleetError | None:
    """The sqlfleet error for a driver error on `store`'s job database, told to the
    listeners and, for an outage, to the store's availability; None if it is no such error."""
    translated = translate(error, getattr(store, "url", "?"))
    if translated is not None:
        _tell(translated)
        availability: Availability | None = getattr(store, "availability", None)
        if availability is not None and isinstance(translated, JobDatabaseUnavailable):
            availability.failed(translated)
    return translated


def guarded(method: Callable[P, R]) -> Callable[P, R]:
    """`method` with driver errors translated. Its first argument is the store: its `url`
    (password masked) goes into messages, its `availability` hears of outages."""

    @functools.wraps(method)
    def verb(*args: P.args, **kwargs: P.kwargs) -> R:
        availability: Availability | None = getattr(args[0], "availability", None)
        try:
            result = method(*args, **kwargs)
        except SqlfleetError as error:
            if availability is not None and isinstance(error, JobDatabaseUnavailable):
                availability.failed(error)
            raise
        except Exception as error:
            translated = _translated(args[0], error)
            if translated is None:
                raise
            raise translated from None
        if availability is not None:
            availability.answered()
        return result

    setattr(verb, GUARDED, True)
    return verb


@contextlib.contextmanager
def translating(store: Any) -> Iterator[None]:
    """Translate driver errors raised in a `with` block, as `guarded` does for one call."""
    try:
        yield
    except SqlfleetError:
        raise
    except Exception as error:
        translated = _translated(store, error)
        if translated is None:
            raise
        raise translated from None


def guard_verbs(cls: type[R]) -> type[R]:
    """Wrap every public method of `cls` (its own and inherited) with `guarded`."""
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if not name.startswith("_") and not getattr(member, GUARDED, False):
            setattr(cls, name, guarded(member))
    return cls


def public_verbs(cls: type[Any]) -> dict[str, Callable[..., Any]]:
    """Every public method of `cls`: what must be guarded."""
    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }
