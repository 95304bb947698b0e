"""The job database's verb for metrics: what is stored and running, counted in a few queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from sqlfleet.lifecycle import Lifecycle
from sqlfleet.store import tables as t
from sqlfleet.store.agents import AgentStore


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Counts read at one moment, for a scrape of `/metrics`."""

    executions: dict[tuple[str, str], int] = field(default_factory=dict)  # (job, state)
    targets_in_progress: int = 0
    targets_due: int = 0
    targets_waiting: int = 0
    heartbeats: dict[str, datetime] = field(default_factory=dict)  # agent: last heartbeat


class MetricsStore(AgentStore):
    """Counting for metrics. Each query is answered from an index or a small table."""

    def metrics_snapshot(self, *, now: datetime) -> MetricsSnapshot:
        """Executions by job and state, targets running and due, agents' heartbeats."""
        je, te = t.job_execution, t.target_execution
        with self.engine.connect() as conn:
            executions = conn.execute(
                select(t.job.c.name, je.c.lifecycle, func.count())
                .join(t.job, t.job.c.id == je.c.job_id)
                .group_by(t.job.c.name, je.c.lifecycle)
            ).all()
            waiting = (Lifecycle.CREATED.value, Lifecycle.WAITING_FOR_RETRY.value)
            due = or_(te.c.next_attempt_start_time.is_(None), te.c.next_attempt_start_time <= now)
            counts = conn.execute(
                select(
                    func.count().filter(te.c.lifecycle == Lifecycle.IN_PROGRESS.value),
                    func.count().filter(and_(te.c.lifecycle.in_(waiting), due)),
                    func.count().filter(te.c.lifecycle.in_(waiting)),
                ).where(te.c.lifecycle.in_([*waiting, Lifecycle.IN_PROGRESS.value]))
            ).one()
            agents = conn.execute(select(t.agent.c.name, t.agent.c.heartbeat_at)).all()
        return MetricsSnapshot(
            executions={(job, state): n for job, state, n in executions},
            targets_in_progress=counts[0],
            targets_due=counts[1],
            targets_waiting=counts[2],
            heartbeats={name: at for name, at in agents},
        )
