"""The job database: tables, migrations, and `JobStore`, the only code that writes SQL to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, insert, select, update

from sqlfleet.model import UNCHANGED
from sqlfleet.store import tables as t
from sqlfleet.store.agents import AgentInfo, Fired
from sqlfleet.store.boundary import GUARDED, Availability, guard_verbs, translating
from sqlfleet.store.claims import ClaimedTarget, Outcome
from sqlfleet.store.database import (
    check_schema,
    open_engine,
    safe_url,
    upgrade_schema,
)
from sqlfleet.store.executions import StepStart
from sqlfleet.store.metrics import MetricsSnapshot, MetricsStore
from sqlfleet.store.results import ResultStore
from sqlfleet.store.stops import LeaseHold
from sqlfleet.store.webhooks import DeliveryClaim, NotificationStore, WebhookTokens

__all__ = [
    "UNCHANGED",
    "AgentInfo",
    "ClaimedTarget",
    "DeliveryClaim",
    "Fired",
    "JobStore",
    "LeaseHold",
    "MetricsSnapshot",
    "Outcome",
    "StepStart",
    "WebhookTokens",
    "check_schema",
    "open_engine",
    "safe_url",
    "upgrade_schema",
]


@guard_verbs
class JobStore(MetricsStore, ResultStore, NotificationStore):
    """Every read and write of the job database, as domain verbs.

    No driver exception leaves a verb: each is translated into a sqlfleet error at this
    boundary (`sqlfleet.store.boundary`), so callers handle `StoreError` and its kinds only.
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.availability = Availability(safe_url(engine.url))

    @property
    def url(self) -> str:
        """The job database's URL, password masked."""
        return safe_url(self.engine.url)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make every definition verb called inside one transaction: all of it, or nothing."""
        if self._shared.get() is not None:
            yield  # already inside one
            return
        with translating(self), self.engine.begin() as conn:
            token = self._shared.set(conn)
            try:
                yield
            finally:
                self._shared.reset(token)

    # It translates errors itself: `guard_verbs` would guard only the making of the context.
    setattr(transaction, GUARDED, True)

    def get_meta(self, key: str) -> str | None:
        """A value from the job database's own settings."""
        with self.engine.connect() as conn:
            return conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).scalar()

    def set_meta(self, key: str, value: str) -> None:
        """Set one of the job database's own settings."""
        with self.engine.begin() as conn:
            if conn.execute(update(t.meta).where(t.meta.c.key == key).values(value=value)).rowcount:
                return
            conn.execute(insert(t.meta).values(key=key, value=value))

    def close(self) -> None:
        """Release the job database's connections."""
        self.engine.dispose()
