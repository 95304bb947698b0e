"""Stopping executions, and taking back what an agent that stopped answering held.

A stop marks the execution: nothing of it starts any more, what had not started ends
Canceled, and the agents cancel the statements still running (`canceled_running_targets`)
and record them. A running target whose agent's lease ran out has nobody to do that: it is
taken back (`_take_back`), its attempt recorded as possibly complete, and it ends Canceled
or is due again at once. `lease_holders` says who still holds what of an execution.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from sqlfleet.errors import InvalidValue, NotFound
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.store import tables as t
from sqlfleet.store.executions import CLAIMABLE, ExecutionStore

# InProgress targets with what taking them back needs; `_EXPIRED`: those whose lease ran
# out, which every claim asks for (built once: see `sqlfleet.store.prepared`).
_HELD_BY_ANYONE = (
    select(
        t.target_execution.c.id,
        t.target_execution.c.step_execution_id,
        t.target_execution.c.agent_name,
        t.target_execution.c.current_attempts,
        t.target_execution.c.current_attempt_start_time,
        t.job_execution.c.cancel_requested,
    )
    .join(t.job_execution, t.job_execution.c.id == t.target_execution.c.job_execution_id)
    .where(t.target_execution.c.lifecycle == Lifecycle.IN_PROGRESS.value)
    .with_for_update(skip_locked=True, of=t.target_execution)
)
_EXPIRED = _HELD_BY_ANYONE.where(
    t.target_execution.c.lease_expires_at < bindparam("now", type_=t.UtcDateTime)
)
# An agent's running targets whose execution was canceled: asked twice a second.
_CANCELED_RUNNING = (
    select(t.target_execution.c.id)
    .join(t.job_execution, t.job_execution.c.id == t.target_execution.c.job_execution_id)
    .where(
        t.target_execution.c.agent_name == bindparam("agent"),
        t.target_execution.c.lifecycle == Lifecycle.IN_PROGRESS.value,
        t.job_execution.c.cancel_requested.is_(True),
    )
)


def lost_message(agent: str | None, *, canceled: bool) -> str:
    """What a taken-back attempt's record says: its agent is gone, the work may be done."""
    who = f"agent {agent}" if agent else "the agent running this attempt"
    then = "the execution was canceled" if canceled else "taken over as a new attempt"
    return f"{who} stopped answering; the attempt may have completed; {then}"


@dataclass(frozen=True, slots=True)
class LeaseHold:
    """What one holder has of an execution: how many targets and steps, leased until when."""

    count: int
    until: datetime


class StopStore(ExecutionStore):
    """Stopping executions and taking back what gone agents held."""

    def cancel_execution(
        self, job_execution_id: int, *, now: datetime, message: str = "canceled by request"
    ) -> None:
        """Cancel an execution: it becomes Canceled; what has not started never starts.

        Targets that are running stay InProgress until their agent has canceled the
        statement on the server and recorded it; `canceled_running_targets` lists them.
        Those whose lease has expired (their agent is gone) end Canceled here and now.
        """
        je, se, te = t.job_execution, t.step_execution, t.target_execution
        with self.engine.begin() as conn:
            row = conn.execute(select(je.c.lifecycle).where(je.c.id == job_execution_id)).first()
            if row is None:
                raise NotFound(f"no execution {job_execution_id}")
            if Lifecycle(row.lifecycle).is_terminal:
                # A stop repeated after a dead agent's leases ran out ends what it left.
                if self._take_back(
                    conn,
                    and_(te.c.job_execution_id == job_execution_id, te.c.lease_expires_at < now),
                    now,
                ):
                    return
                raise InvalidValue(f"execution {job_execution_id} already ended {row.lifecycle}")
            conn.execute(
                update(je).where(je.c.id == job_execution_id).values(cancel_requested=True)
            )
            # Running targets whose agent is gone (lease expired) have nobody to cancel them.
            self._take_back(
                conn,
                and_(te.c.job_execution_id == job_execution_id, te.c.lease_expires_at < now),
                now,
            )
            for table in (te, se):
                conn.execute(
                    update(table)
                    .where(
                        table.c.job_execution_id == job_execution_id,
                        table.c.lifecycle.in_(
                            [*CLAIMABLE, Lifecycle.WAITING_FOR_CHILD_JOB_EXECUTIONS.value]
                        ),
                    )
                    .values(lifecycle=Lifecycle.CANCELED.value, end_time=now, last_message=message)
                )
            conn.execute(
                update(se)
                .where(
                    se.c.job_execution_id == job_execution_id,
                    se.c.lifecycle == Lifecycle.IN_PROGRESS.value,
                )
                .values(
                    lifecycle=Lifecycle.CANCELED.value,
                    end_time=now,
                    last_message=message,
                    agent_name=None,
                )
            )
            self._end_job(conn, job_execution_id, Lifecycle.CANCELED, message, now)

    # -- taking back what a gone agent held ------------------------------------------------------

    def _take_back(self, conn: Connection, which: Any, now: datetime) -> int:
        """Take the InProgress targets matching `which` (None: those whose lease expired)
        from the agent that holds them.

        Their attempt ends with a row that says its agent stopped answering and that it may
        have completed (delivery is at least once). A target whose execution was canceled
        ends Canceled; any other is due again at once, and the next claim runs it as a new
        attempt. Returns how many targets were taken back.
        """
        te = t.target_execution
        if which is None:
            lost = conn.execute(_EXPIRED, {"now": now}).all()
        else:
            lost = conn.execute(_HELD_BY_ANYONE.where(which)).all()
        if not lost:
            return 0
        conn.execute(
            insert(t.attempt),
            [
                {
                    "target_execution_id": r.id,
                    "attempt_number": r.current_attempts,
                    "agent_name": r.agent_name,
                    "start_time": r.current_attempt_start_time or now,
                    "end_time": now,
                    "lifecycle": (
                        Lifecycle.CANCELED if r.cancel_requested else Lifecycle.FAILED
                    ).value,
                    "message": lost_message(r.agent_name, canceled=r.cancel_requested),
                }
                for r in lost
            ],
        )
        guard = and_(te.c.id == bindparam("b_id"), te.c.lifecycle == Lifecycle.IN_PROGRESS.value)
        released = {"agent_name": None, "lease_expires_at": None}
        canceled = [r for r in lost if r.cancel_requested]
        again = [r for r in lost if not r.cancel_requested]
        if canceled:
            conn.execute(
                update(te)
                .where(guard)
                .values(
                    lifecycle=Lifecycle.CANCELED.value,
                    end_time=now,
                    last_message=bindparam("b_message"),
                    **released,
                ),
                [
                    {"b_id": r.id, "b_message": lost_message(r.agent_name, canceled=True)}
                    for r in canceled
                ],
            )
            self._finish_steps(conn, sorted({r.step_execution_id for r in canceled}), now)
        if again:
            conn.execute(
                update(te)
                .where(guard)
                .values(
                    lifecycle=Lifecycle.WAITING_FOR_RETRY.value,
                    next_attempt_start_time=now,
                    last_message=bindparam("b_message"),
                    **released,
                ),
                [
                    {"b_id": r.id, "b_message": lost_message(r.agent_name, canceled=False)}
                    for r in again
                ],
            )
        return len(lost)

    def lease_holders(self, job_execution_id: int, *, now: datetime) -> dict[str, LeaseHold]:
        """Who holds a live lease on the execution's running targets or steps, and until when."""
        holders: dict[str, LeaseHold] = {}
        with self.engine.connect() as conn:
            for table in (t.target_execution, t.step_execution):
                rows = conn.execute(
                    select(table.c.agent_name, func.count(), func.max(table.c.lease_expires_at))
                    .where(
                        table.c.job_execution_id == job_execution_id,
                        table.c.lifecycle == Lifecycle.IN_PROGRESS.value,
                        table.c.agent_name.is_not(None),
                        table.c.lease_expires_at >= now,
                    )
                    .group_by(table.c.agent_name)
                )
                for agent, count, until in rows:
                    held = holders.get(agent)
                    if held is not None:
                        count, until = count + held.count, max(until, held.until)
                    holders[agent] = LeaseHold(count, until)
        return holders

    def canceled_running_targets(self, agent: str) -> list[int]:
        """Ids of this agent's running targets whose execution was canceled."""
        with self.engine.connect() as conn:
            return list(conn.execute(_CANCELED_RUNNING, {"agent": agent}).scalars())
