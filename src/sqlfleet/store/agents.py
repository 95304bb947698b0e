"""The job database's agent verbs: registration, heartbeats, schedules, releasing work."""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, case, delete, insert, select, update

from sqlfleet.errors import AgentConflict
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.store import tables as t
from sqlfleet.store.definitions import schedule_from_row
from sqlfleet.store.history import HistoryStore


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """An agent as registered in the job database."""

    name: str
    hostname: str
    pid: int
    concurrency: int
    running: int
    started_at: datetime
    heartbeat_at: datetime
    stopping: bool


@dataclass(frozen=True, slots=True)
class Fired:
    """An execution a schedule created."""

    job_name: str
    scheduled_time: datetime
    job_execution_id: int


class AgentStore(HistoryStore):
    """Agent verbs on top of the execution verbs."""

    def register_agent(
        self,
        name: str,
        *,
        hostname: str,
        pid: int,
        concurrency: int,
        now: datetime,
        stale_after: timedelta,
    ) -> None:
        """Register a running agent; refuse a name in use, or a second agent on SQLite.

        Agents found dead are removed, and what they held is taken back first (a new agent
        under a dead one's name would otherwise keep renewing the dead one's leases).
        """
        a = t.agent
        with self.engine.begin() as conn:
            for other in conn.execute(select(a)).all():
                alive = other.heartbeat_at > now - stale_after and not _dead_here(other, hostname)
                if not alive:
                    self._take_back_all(conn, other.name, now)
                    conn.execute(delete(a).where(a.c.name == other.name))
                    continue
                if other.name == name:
                    raise AgentConflict(
                        f"an agent named {name!r} is already running (pid {other.pid} on "
                        f"{other.hostname}): give this one another --name"
                    )
                if self.is_sqlite:
                    raise AgentConflict(
                        f"agent {other.name!r} (pid {other.pid} on {other.hostname}) already runs "
                        "on this SQLite job database, which takes one agent at a time: stop it, "
                        "or use a PostgreSQL job database for several agents"
                    )
            conn.execute(
                insert(a).values(
                    name=name,
                    hostname=hostname,
                    pid=pid,
                    concurrency=concurrency,
                    running=0,
                    started_at=now,
                    heartbeat_at=now,
                    stopping=False,
                )
            )

    def _take_back_all(self, conn: Connection, agent: str, now: datetime) -> int:
        """Take back the targets and steps a dead `agent` held, so others may claim them."""
        te, se = t.target_execution, t.step_execution
        count = self._take_back(conn, te.c.agent_name == agent, now)
        # A step it was resolving is claimable again: its lease ends now, and nobody renews it.
        conn.execute(
            update(se)
            .where(se.c.agent_name == agent, se.c.lifecycle == Lifecycle.IN_PROGRESS.value)
            .values(agent_name=None, lease_expires_at=now)
        )
        return count

    def take_back_from(self, agent: str, *, now: datetime) -> int:
        """Take back what `agent`, known to be gone, held; how many targets that was."""
        with self.engine.begin() as conn:
            return self._take_back_all(conn, agent, now)

    def heartbeat(self, name: str, *, now: datetime, running: int, stopping: bool = False) -> None:
        """Say the agent is alive, how busy it is, and whether it is stopping."""
        a = t.agent
        with self.engine.begin() as conn:
            conn.execute(
                update(a)
                .where(a.c.name == name)
                .values(heartbeat_at=now, running=running, stopping=stopping)
            )

    def unregister_agent(self, name: str) -> None:
        """Remove a stopped agent."""
        with self.engine.begin() as conn:
            conn.execute(delete(t.agent).where(t.agent.c.name == name))

    def list_agents(self) -> list[AgentInfo]:
        """Registered agents, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.agent).order_by(t.agent.c.name)).all()
        return [
            AgentInfo(
                r.name,
                r.hostname,
                r.pid,
                r.concurrency,
                r.running,
                r.started_at,
                r.heartbeat_at,
                r.stopping,
            )
            for r in rows
        ]

    def fire_due_schedules(self, *, now: datetime) -> list[Fired]:
        """Create an execution for each enabled job whose schedule is due.

        Each due time fires once however many agents call this: the job's last fire time
        moves in a guarded update, and only the agent whose update matched creates the
        execution, in the same transaction.
        """
        j = t.job
        fired: list[Fired] = []
        with self.engine.connect() as conn:
            jobs = conn.execute(
                select(j).where(j.c.enabled.is_(True), j.c.schedule_kind.is_not(None))
            ).all()
        for row in jobs:
            schedule = schedule_from_row(row)
            assert schedule is not None
            due = schedule.due_fire_time(
                row.last_fire_time, now, anchor=schedule.start_time or row.created_at
            )
            if due is None:
                continue
            with self.engine.begin() as conn:
                execution_id = self._fire(conn, row.id, row.last_fire_time, due, now)
            if execution_id is not None:
                fired.append(Fired(row.name, due, execution_id))
        return fired

    def _fire(
        self,
        conn: Connection,
        job_id: int,
        last_fire: datetime | None,
        due: datetime,
        now: datetime,
    ) -> int | None:
        j = t.job
        guard = (
            j.c.last_fire_time.is_(None) if last_fire is None else j.c.last_fire_time == last_fire
        )
        moved = conn.execute(
            update(j)
            .where(j.c.id == job_id, j.c.enabled.is_(True), guard)
            .values(last_fire_time=due)
        ).rowcount
        if not moved:
            return None  # another agent fired it, or the job changed meanwhile
        job_row = conn.execute(select(j).where(j.c.id == job_id)).one()
        has_steps = conn.execute(
            select(t.job_step.c.id)
            .where(
                t.job_step.c.job_id == job_id, t.job_step.c.job_version == job_row.current_version
            )
            .limit(1)
        ).first()
        if has_steps is None:
            return None
        return self._create_execution(
            conn, job_row, trigger="schedule", now=now, scheduled_time=due
        )

    def release_targets(
        self, agent: str, *, now: datetime, message: str, not_started: Collection[int] = ()
    ) -> int:
        """Give back this agent's running targets and steps so another agent takes them.

        Targets in `not_started` were claimed but their attempt never began: they get no
        attempt row, and their claim is not counted as an attempt.
        """
        te, se = t.target_execution, t.step_execution
        with self.engine.begin() as conn:
            running = conn.execute(
                select(te).where(
                    te.c.agent_name == agent, te.c.lifecycle == Lifecycle.IN_PROGRESS.value
                )
            ).all()
            ids = [r.id for r in running]
            started = [r for r in running if r.id not in not_started]
            if started:
                conn.execute(
                    insert(t.attempt),
                    [
                        {
                            "target_execution_id": r.id,
                            "attempt_number": r.current_attempts,
                            "agent_name": agent,
                            "start_time": r.current_attempt_start_time or now,
                            "end_time": now,
                            "lifecycle": Lifecycle.CANCELED.value,
                            "message": message,
                        }
                        for r in started
                    ],
                )
            if ids:
                unstarted = [r.id for r in running if r.id in not_started]
                conn.execute(
                    update(te)
                    .where(te.c.id.in_(ids), te.c.lifecycle == Lifecycle.IN_PROGRESS.value)
                    .values(
                        lifecycle=Lifecycle.WAITING_FOR_RETRY.value,
                        agent_name=None,
                        lease_expires_at=None,
                        next_attempt_start_time=now,
                        last_message=message,
                    )
                )
                if unstarted:
                    # Not an attempt: the count goes back to what it was before the claim.
                    conn.execute(
                        update(te)
                        .where(te.c.id.in_(unstarted))
                        .values(
                            current_attempts=te.c.current_attempts - 1,
                            start_time=case(
                                (te.c.current_attempts == 1, None), else_=te.c.start_time
                            ),
                            last_message=f"{message} (before its attempt started)",
                        )
                    )
            conn.execute(
                update(se)
                .where(se.c.agent_name == agent, se.c.lifecycle == Lifecycle.IN_PROGRESS.value)
                .values(lease_expires_at=now)
            )
            return len(ids)


def _dead_here(row: object, hostname: str) -> bool:
    """True when the registered agent ran on this host and its process is gone."""
    if getattr(row, "hostname", None) != hostname:
        return False
    try:
        os.kill(int(getattr(row, "pid", 0)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False
