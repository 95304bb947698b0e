"""The job database's claim verbs: agents claim due target executions and record outcomes.

Claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several agents share the work, and
each claim carries the agent's name and a lease its heartbeat extends; on SQLite every write
transaction takes the database lock up front (BEGIN IMMEDIATE). Outcomes are written in
batches, guarded by the agent still holding the target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, insert, or_, select, update

from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import KeptResult, Target
from sqlfleet.statements import Location
from sqlfleet.store import tables as t
from sqlfleet.store.executions import CLAIMABLE, ExecutionStore
from sqlfleet.store.results import keep_results
from sqlfleet.variables import from_json


@dataclass(frozen=True, slots=True)
class ClaimedTarget:
    """A target execution this agent claimed for one attempt."""

    id: int
    job_execution_id: int
    step_execution_id: int
    job_id: int
    job_version: int
    step_id: int
    target: Target
    attempt_number: int
    first_start_time: datetime
    attempt_start_time: datetime
    trial: bool = False  # run the batches in a transaction that is rolled back

    def ended(
        self,
        lifecycle: Lifecycle,
        end_time: datetime,
        message: str | None = None,
        *,
        next_attempt_start_time: datetime | None = None,
        row_count: int | None = None,
        server_messages: str | None = None,
        started: bool = True,
        result: KeptResult | None = None,
        location: Location | None = None,
    ) -> Outcome:
        """How this attempt ended (`started=False`: it ended before it began)."""
        return Outcome(
            self.id,
            self.attempt_number,
            self.attempt_start_time,
            lifecycle,
            end_time,
            message,
            next_attempt_start_time,
            row_count,
            server_messages,
            started,
            location,
            result=result,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt ended: a terminal state, or WaitingForRetry with the next time."""

    target_execution_id: int
    attempt_number: int
    attempt_start_time: datetime
    lifecycle: Lifecycle
    end_time: datetime
    message: str | None = None
    next_attempt_start_time: datetime | None = None
    row_count: int | None = None
    server_messages: str | None = None
    # False when the attempt never began (canceled while it waited for a connection slot):
    # it is then no attempt at all, and the target's attempt count goes back down.
    started: bool = True
    # Where in the script a failed attempt failed, when it got as far as a statement.
    location: Location | None = None
    # The first result set's kept rows (a succeeded attempt of a step that keeps rows).
    result: KeptResult | None = None


class ClaimStore(ExecutionStore):
    """Claiming attempts and recording how they ended."""

    # -- claiming and recording attempts ------------------------------------------------------

    def claim_targets(
        self,
        agent: str,
        limit: int,
        *,
        now: datetime,
        lease: timedelta,
        job_execution_id: int | None = None,
    ) -> list[ClaimedTarget]:
        """Claim up to `limit` target executions whose next attempt is due.

        Due: Created, or WaitingForRetry past its next attempt time, or InProgress with an
        expired lease (its agent died: this counts as a new attempt, and the lost attempt is
        recorded as one that may have completed). Expired targets of any canceled execution
        end Canceled on the way. A step's `max_parallelism` caps how many of its targets per
        server are InProgress at once.
        """
        if limit <= 0:
            return []
        te, je = t.target_execution, t.job_execution
        due = and_(
            te.c.lifecycle.in_(CLAIMABLE),
            or_(te.c.next_attempt_start_time.is_(None), te.c.next_attempt_start_time <= now),
        )
        with self.engine.begin() as conn:
            # Whoever looks for work first takes back what dead agents held, in any execution:
            # nothing stays InProgress past its lease.
            self._take_back(conn, te.c.lease_expires_at < now, now)
            limits = self._parallelism_limits(conn, job_execution_id)
            se = t.step_execution
            # A target of a staged rollout waits until its step opens its wave.
            wave_open = or_(te.c.wave.is_(None), te.c.wave <= se.c.open_wave)
            query = (
                select(te, je.c.job_version, je.c.trial)
                .join(je, je.c.id == te.c.job_execution_id)
                .join(se, se.c.id == te.c.step_execution_id)
                .where(due, je.c.cancel_requested.is_(False), wave_open)
                .order_by(te.c.id)
                .with_for_update(skip_locked=True, of=te)
            )
            if job_execution_id is not None:
                query = query.where(te.c.job_execution_id == job_execution_id)
            if not limits:
                candidates = conn.execute(query.limit(limit)).all()
            else:
                candidates = self._within_limits(conn, query, limits, limit)
            if not candidates:
                return []
            ids = [c.id for c in candidates]
            conn.execute(
                update(te)
                .where(te.c.id.in_(ids))
                .values(
                    lifecycle=Lifecycle.IN_PROGRESS.value,
                    agent_name=agent,
                    lease_expires_at=now + lease,
                    current_attempts=te.c.current_attempts + 1,
                    current_attempt_start_time=now,
                    next_attempt_start_time=None,
                    start_time=func.coalesce(te.c.start_time, now),
                )
            )
            return [
                ClaimedTarget(
                    id=c.id,
                    job_execution_id=c.job_execution_id,
                    step_execution_id=c.step_execution_id,
                    job_id=c.job_id,
                    job_version=c.job_version,
                    step_id=c.step_id,
                    target=Target(
                        c.target_server_name,
                        c.target_database_name,
                        c.target_schema_name,
                        from_json(c.target_variables),
                    ),
                    attempt_number=c.current_attempts + 1,
                    first_start_time=c.start_time or now,
                    attempt_start_time=now,
                    trial=c.trial,
                )
                for c in candidates
            ]

    def _parallelism_limits(self, conn: Connection, job_execution_id: int | None) -> dict[int, int]:
        """max_parallelism of each active step execution that has one."""
        se, je, s = t.step_execution, t.job_execution, t.job_step
        query = (
            select(se.c.id, s.c.max_parallelism)
            .join(je, je.c.id == se.c.job_execution_id)
            .join(
                s,
                and_(
                    s.c.job_id == je.c.job_id,
                    s.c.job_version == je.c.job_version,
                    s.c.step_id == se.c.step_id,
                ),
            )
            .where(
                se.c.lifecycle == Lifecycle.WAITING_FOR_CHILD_JOB_EXECUTIONS.value,
                s.c.max_parallelism.is_not(None),
            )
        )
        if job_execution_id is not None:
            query = query.where(se.c.job_execution_id == job_execution_id)
        return {r.id: r.max_parallelism for r in conn.execute(query)}

    def _within_limits(
        self, conn: Connection, query: Any, limits: dict[int, int], limit: int
    ) -> list[Any]:
        te, se = t.target_execution, t.step_execution
        # Serialize claims on the limited steps so two agents cannot both fill the last slot.
        conn.execute(select(se.c.id).where(se.c.id.in_(list(limits))).with_for_update())
        running: dict[tuple[int, str], int] = {}
        for row in conn.execute(
            select(te.c.step_execution_id, te.c.target_server_name, func.count())
            .where(
                te.c.step_execution_id.in_(list(limits)),
                te.c.lifecycle == Lifecycle.IN_PROGRESS.value,
            )
            .group_by(te.c.step_execution_id, te.c.target_server_name)
        ):
            running[(row[0], row[1])] = row[2]
        chosen = []
        for row in conn.execute(query.limit(limit + 10 * sum(limits.values()) + 1000)):
            key = (row.step_execution_id, row.target_server_name)
            cap = limits.get(row.step_execution_id)
            if cap is not None:
                if running.get(key, 0) >= cap:
                    continue
                running[key] = running.get(key, 0) + 1
            chosen.append(row)
            if len(chosen) == limit:
                break
        return chosen

    def extend_leases(self, agent: str, *, until: datetime) -> None:
        """Keep this agent's claimed targets and steps its own."""
        with self.engine.begin() as conn:
            for table in (t.target_execution, t.step_execution):
                conn.execute(
                    update(table)
                    .where(
                        table.c.agent_name == agent,
                        table.c.lifecycle == Lifecycle.IN_PROGRESS.value,
                    )
                    .values(lease_expires_at=until)
                )

    def record_outcomes(
        self, agent: str, outcomes: Sequence[Outcome], *, now: datetime
    ) -> set[int]:
        """Record finished attempts in one transaction; finish steps and jobs they complete.

        Each attempt gets its row here, once, as it ends; an outcome that never started gets
        none, and its claim is not counted as an attempt. Outcomes of targets this agent no
        longer holds are dropped: their lease ran out, another agent took them over, and the
        attempt was recorded then. Returns the ids of the step executions that ended.
        """
        if not outcomes:
            return set()
        te = t.target_execution
        with self.engine.begin() as conn:
            held = conn.execute(
                select(te.c.id, te.c.step_execution_id)
                .where(
                    te.c.id.in_([o.target_execution_id for o in outcomes]),
                    te.c.agent_name == agent,
                    te.c.lifecycle == Lifecycle.IN_PROGRESS.value,
                )
                .with_for_update()
            ).all()
            step_of = {row.id: row.step_execution_id for row in held}
            outcomes = [o for o in outcomes if o.target_execution_id in step_of]
            if not outcomes:
                return set()
            attempted = [o for o in outcomes if o.started]
            if attempted:
                self._insert_attempts(conn, agent, attempted)
                keep_results(conn, attempted)
            conn.execute(
                update(te)
                .where(te.c.id == bindparam("b_id"))
                .values(
                    lifecycle=bindparam("b_state"),
                    end_time=bindparam("b_end"),
                    last_message=bindparam("b_message"),
                    next_attempt_start_time=bindparam("b_next"),
                    agent_name=None,
                    lease_expires_at=None,
                    # The claim counted an attempt; one that never started takes it back.
                    current_attempts=te.c.current_attempts - bindparam("b_unstarted"),
                    start_time=case(
                        (te.c.current_attempts == bindparam("b_unstarted"), None),
                        else_=te.c.start_time,
                    ),
                ),
                [
                    {
                        "b_id": o.target_execution_id,
                        "b_state": o.lifecycle.value,
                        "b_end": None if o.lifecycle is Lifecycle.WAITING_FOR_RETRY else o.end_time,
                        "b_message": o.message,
                        "b_next": o.next_attempt_start_time,
                        "b_unstarted": 0 if o.started else 1,
                    }
                    for o in outcomes
                ],
            )
            ended = {
                step_of[o.target_execution_id]
                for o in outcomes
                if o.lifecycle is not Lifecycle.WAITING_FOR_RETRY
            }
            return self._finish_steps(conn, sorted(ended), now) if ended else set()

    def _insert_attempts(self, conn: Connection, agent: str, outcomes: Sequence[Outcome]) -> None:
        conn.execute(
            insert(t.attempt),
            [
                {
                    "target_execution_id": o.target_execution_id,
                    "attempt_number": o.attempt_number,
                    "agent_name": agent,
                    "start_time": o.attempt_start_time,
                    "end_time": o.end_time,
                    "lifecycle": (
                        Lifecycle.FAILED
                        if o.lifecycle is Lifecycle.WAITING_FOR_RETRY
                        else o.lifecycle
                    ).value,
                    "message": o.message,
                    "row_count": o.row_count,
                    "error_batch": o.location.batch if o.location else None,
                    "error_line": o.location.line if o.location else None,
                    "error_column": o.location.column if o.location else None,
                    "error_statement": o.location.statement if o.location else None,
                    "server_messages": o.server_messages,
                }
                for o in outcomes
            ],
        )
