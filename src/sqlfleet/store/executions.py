"""The job database's execution verbs: create, claim, record, finish, cancel, read, purge.

State changes are guarded in SQL (`... WHERE lifecycle IN (...) AND agent_name = :agent`): an
update that matches nothing means someone else moved the row, never a blind overwrite.
Claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several agents share the work; on
SQLite every write transaction takes the database lock up front (BEGIN IMMEDIATE).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    exists,
    func,
    insert,
    not_,
    or_,
    select,
    update,
)

from sqlfleet.errors import InvalidValue, NotFound
from sqlfleet.lifecycle import TERMINAL, Lifecycle, rollup
from sqlfleet.model import Target
from sqlfleet.store import tables as t
from sqlfleet.store.definitions import DefinitionStore

TERMINAL_NAMES = [s.value for s in TERMINAL]
CLAIMABLE = [Lifecycle.CREATED.value, Lifecycle.WAITING_FOR_RETRY.value]
FAILING = (Lifecycle.FAILED, Lifecycle.TIMED_OUT)


@dataclass(frozen=True, slots=True)
class StepStart:
    """A step execution this agent claimed to resolve its targets."""

    step_execution_id: int
    job_execution_id: int
    job_id: int
    job_name: str
    job_version: int
    step_id: int


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
    attempt_id: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt ended: a terminal state, or WaitingForRetry with the next time."""

    target_execution_id: int
    attempt_id: int
    lifecycle: Lifecycle
    end_time: datetime
    message: str | None = None
    next_attempt_start_time: datetime | None = None
    row_count: int | None = None
    server_messages: str | None = None


class ExecutionStore(DefinitionStore):
    """Execution verbs; inherits the definition verbs for the job lookups they need."""

    # -- creating -----------------------------------------------------------------------------

    def create_execution(
        self, job_name: str, *, trigger: str, now: datetime, scheduled_time: datetime | None = None
    ) -> int:
        """A new job execution of the job's current version, with its step executions."""
        with self.engine.begin() as conn:
            row = self._require_job(conn, job_name)
            return self._create_execution(
                conn, row, trigger=trigger, now=now, scheduled_time=scheduled_time
            )

    def _create_execution(
        self,
        conn: Connection,
        job_row: Any,
        *,
        trigger: str,
        now: datetime,
        scheduled_time: datetime | None,
    ) -> int:
        steps = conn.execute(
            select(t.job_step.c.step_id, t.job_step.c.step_name, t.target_group.c.name)
            .join(t.target_group, t.target_group.c.id == t.job_step.c.target_group_id)
            .where(
                t.job_step.c.job_id == job_row.id,
                t.job_step.c.job_version == job_row.current_version,
            )
            .order_by(t.job_step.c.step_id)
        ).all()
        if not steps:
            raise InvalidValue(
                f"job {job_row.name!r} has no steps: add one with `sqlfleet job add-step`"
            )
        execution_id: int = conn.execute(
            insert(t.job_execution)
            .values(
                job_id=job_row.id,
                job_version=job_row.current_version,
                lifecycle=Lifecycle.CREATED.value,
                trigger=trigger,
                scheduled_time=scheduled_time,
                cancel_requested=False,
                create_time=now,
            )
            .returning(t.job_execution.c.id)
        ).scalar_one()
        conn.execute(
            insert(t.step_execution),
            [
                {
                    "job_execution_id": execution_id,
                    "step_id": s.step_id,
                    "step_name": s.step_name,
                    "target_group_name": s.name,
                    "lifecycle": Lifecycle.CREATED.value,
                    "create_time": now,
                }
                for s in steps
            ],
        )
        return execution_id

    # -- starting steps -----------------------------------------------------------------------

    def claim_step_start(
        self, agent: str, *, now: datetime, lease: timedelta, job_execution_id: int | None = None
    ) -> StepStart | None:
        """Claim the next step whose targets must be resolved, if any.

        A step is ready when every earlier step of its execution is terminal; a step whose
        resolving agent's lease expired is ready again.
        """
        se, je = t.step_execution, t.job_execution
        earlier = t.step_execution.alias("earlier")
        pending_earlier = exists().where(
            earlier.c.job_execution_id == se.c.job_execution_id,
            earlier.c.step_id < se.c.step_id,
            earlier.c.lifecycle.not_in(TERMINAL_NAMES),
        )
        ready = or_(
            and_(se.c.lifecycle == Lifecycle.CREATED.value, not_(pending_earlier)),
            and_(se.c.lifecycle == Lifecycle.IN_PROGRESS.value, se.c.lease_expires_at < now),
        )
        query = (
            select(se.c.id)
            .join(je, je.c.id == se.c.job_execution_id)
            .where(je.c.lifecycle.not_in(TERMINAL_NAMES), je.c.cancel_requested.is_(False), ready)
            .order_by(se.c.id)
            .limit(1)
            .with_for_update(skip_locked=True, of=se)
        )
        if job_execution_id is not None:
            query = query.where(se.c.job_execution_id == job_execution_id)
        with self.engine.begin() as conn:
            step_execution_id = conn.execute(query).scalar()
            if step_execution_id is None:
                return None
            conn.execute(
                update(se)
                .where(se.c.id == step_execution_id)
                .values(
                    lifecycle=Lifecycle.IN_PROGRESS.value,
                    agent_name=agent,
                    lease_expires_at=now + lease,
                    start_time=func.coalesce(se.c.start_time, now),
                )
            )
            row = conn.execute(
                select(
                    se.c.job_execution_id, se.c.step_id, je.c.job_id, je.c.job_version, t.job.c.name
                )
                .join(je, je.c.id == se.c.job_execution_id)
                .join(t.job, t.job.c.id == je.c.job_id)
                .where(se.c.id == step_execution_id)
            ).one()
            conn.execute(
                update(je)
                .where(je.c.id == row.job_execution_id, je.c.lifecycle == Lifecycle.CREATED.value)
                .values(lifecycle=Lifecycle.IN_PROGRESS.value, start_time=now)
            )
            return StepStart(
                step_execution_id,
                row.job_execution_id,
                row.job_id,
                row.name,
                row.job_version,
                row.step_id,
            )

    def add_targets(
        self, step: StepStart, agent: str, targets: Sequence[Target], *, now: datetime
    ) -> bool:
        """Create the step's target executions and let agents claim them.

        A target on which the same step of the same job is already running in another
        execution is created Skipped. False if this agent no longer holds the step.
        """
        se, te = t.step_execution, t.target_execution
        with self.engine.begin() as conn:
            held = conn.execute(
                update(se)
                .where(
                    se.c.id == step.step_execution_id,
                    se.c.agent_name == agent,
                    se.c.lifecycle == Lifecycle.IN_PROGRESS.value,
                )
                .values(
                    lifecycle=Lifecycle.WAITING_FOR_CHILD_JOB_EXECUTIONS.value,
                    agent_name=None,
                    lease_expires_at=None,
                )
            ).rowcount
            if not held:
                return False
            busy = self._busy_targets(conn, step)
            rows = []
            for target in targets:
                skipped = (target.server_url, target.database, target.schema) in busy
                rows.append(
                    {
                        "job_execution_id": step.job_execution_id,
                        "step_execution_id": step.step_execution_id,
                        "job_id": step.job_id,
                        "step_id": step.step_id,
                        "target_type": target.target_type,
                        "target_server_name": target.server_url,
                        "target_database_name": target.database,
                        "target_schema_name": target.schema,
                        "lifecycle": (Lifecycle.SKIPPED if skipped else Lifecycle.CREATED).value,
                        "create_time": now,
                        "end_time": now if skipped else None,
                        "current_attempts": 0,
                        "last_message": "skipped: this step is already running on this target "
                        "in another execution"
                        if skipped
                        else None,
                    }
                )
            if rows:
                conn.execute(insert(te), rows)
            self._finish_steps(conn, [step.step_execution_id], now)
            return True

    def _busy_targets(self, conn: Connection, step: StepStart) -> set[tuple[str, str, str | None]]:
        te = t.target_execution
        rows = conn.execute(
            select(
                te.c.target_server_name, te.c.target_database_name, te.c.target_schema_name
            ).where(
                te.c.job_id == step.job_id,
                te.c.step_id == step.step_id,
                te.c.job_execution_id != step.job_execution_id,
                te.c.lifecycle == Lifecycle.IN_PROGRESS.value,
            )
        )
        return {(r[0], r[1], r[2]) for r in rows}

    def fail_step(self, step: StepStart, agent: str, message: str, *, now: datetime) -> None:
        """The step's targets could not be resolved: the step fails with `message`."""
        se = t.step_execution
        with self.engine.begin() as conn:
            held = conn.execute(
                update(se)
                .where(
                    se.c.id == step.step_execution_id,
                    se.c.agent_name == agent,
                    se.c.lifecycle == Lifecycle.IN_PROGRESS.value,
                )
                .values(
                    lifecycle=Lifecycle.FAILED.value,
                    end_time=now,
                    last_message=message,
                    agent_name=None,
                    lease_expires_at=None,
                )
            ).rowcount
            if held:
                self._finish_job_after_step(conn, step.step_execution_id, now)

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
        expired lease (its agent died: this counts as a new attempt). A step's
        `max_parallelism` caps how many of its targets per server are InProgress at once.
        """
        if limit <= 0:
            return []
        te, je = t.target_execution, t.job_execution
        due = or_(
            and_(
                te.c.lifecycle.in_(CLAIMABLE),
                or_(te.c.next_attempt_start_time.is_(None), te.c.next_attempt_start_time <= now),
            ),
            and_(te.c.lifecycle == Lifecycle.IN_PROGRESS.value, te.c.lease_expires_at < now),
        )
        with self.engine.begin() as conn:
            limits = self._parallelism_limits(conn, job_execution_id)
            query = (
                select(te.c.id, te.c.step_execution_id, te.c.target_server_name, te.c.lifecycle)
                .join(je, je.c.id == te.c.job_execution_id)
                .where(due, je.c.cancel_requested.is_(False))
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
            taken_over = [c.id for c in candidates if c.lifecycle == Lifecycle.IN_PROGRESS.value]
            if taken_over:
                # The attempt left open by an agent that died ends here, before the new one.
                conn.execute(
                    update(t.attempt)
                    .where(
                        t.attempt.c.target_execution_id.in_(taken_over),
                        t.attempt.c.end_time.is_(None),
                    )
                    .values(
                        end_time=now,
                        lifecycle=Lifecycle.FAILED.value,
                        message="the agent running this attempt stopped answering; taken over",
                    )
                )
            rows = conn.execute(
                select(te, je.c.job_version)
                .join(je, je.c.id == te.c.job_execution_id)
                .where(te.c.id.in_(ids))
            ).all()
            attempt_ids = conn.execute(
                insert(t.attempt).returning(
                    t.attempt.c.id, t.attempt.c.target_execution_id, sort_by_parameter_order=True
                ),
                [
                    {
                        "target_execution_id": r.id,
                        "attempt_number": r.current_attempts,
                        "agent_name": agent,
                        "start_time": now,
                        "lifecycle": Lifecycle.IN_PROGRESS.value,
                    }
                    for r in rows
                ],
            ).all()
            attempt_of = {a.target_execution_id: a.id for a in attempt_ids}
            return [
                ClaimedTarget(
                    id=r.id,
                    job_execution_id=r.job_execution_id,
                    step_execution_id=r.step_execution_id,
                    job_id=r.job_id,
                    job_version=r.job_version,
                    step_id=r.step_id,
                    target=Target(
                        r.target_server_name, r.target_database_name, r.target_schema_name
                    ),
                    attempt_number=r.current_attempts,
                    first_start_time=r.start_time,
                    attempt_id=attempt_of[r.id],
                )
                for r in rows
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

        Outcomes of targets this agent no longer holds (its lease was taken over) are
        recorded on their attempt only. Returns the ids of the step executions that ended.
        """
        if not outcomes:
            return set()
        te = t.target_execution
        with self.engine.begin() as conn:
            conn.execute(
                update(t.attempt)
                .where(t.attempt.c.id == bindparam("b_attempt"))
                .values(
                    end_time=bindparam("b_end"),
                    lifecycle=bindparam("b_state"),
                    message=bindparam("b_message"),
                    row_count=bindparam("b_rows"),
                    server_messages=bindparam("b_server_messages"),
                ),
                [
                    {
                        "b_attempt": o.attempt_id,
                        "b_end": o.end_time,
                        "b_state": (
                            Lifecycle.FAILED
                            if o.lifecycle is Lifecycle.WAITING_FOR_RETRY
                            else o.lifecycle
                        ).value,
                        "b_message": o.message,
                        "b_rows": o.row_count,
                        "b_server_messages": o.server_messages,
                    }
                    for o in outcomes
                ],
            )
            conn.execute(
                update(te)
                .where(
                    te.c.id == bindparam("b_id"),
                    te.c.agent_name == agent,
                    te.c.lifecycle == Lifecycle.IN_PROGRESS.value,
                )
                .values(
                    lifecycle=bindparam("b_state"),
                    end_time=bindparam("b_end"),
                    last_message=bindparam("b_message"),
                    next_attempt_start_time=bindparam("b_next"),
                    agent_name=None,
                    lease_expires_at=None,
                ),
                [
                    {
                        "b_id": o.target_execution_id,
                        "b_state": o.lifecycle.value,
                        "b_end": None if o.lifecycle is Lifecycle.WAITING_FOR_RETRY else o.end_time,
                        "b_message": o.message,
                        "b_next": o.next_attempt_start_time,
                    }
                    for o in outcomes
                ],
            )
            if all(o.lifecycle is Lifecycle.WAITING_FOR_RETRY for o in outcomes):
                return set()
            steps = conn.execute(
                select(te.c.step_execution_id)
                .distinct()
                .where(te.c.id.in_([o.target_execution_id for o in outcomes]))
            ).scalars()
            return self._finish_steps(conn, list(steps), now)

    # -- finishing ------------------------------------------------------------------------------

    def _finish_steps(
        self, conn: Connection, step_execution_ids: Iterable[int], now: datetime
    ) -> set[int]:
        """Finish each step whose targets are all terminal; then maybe its job."""
        se, te = t.step_execution, t.target_execution
        ended: set[int] = set()
        for step_execution_id in step_execution_ids:
            states = conn.execute(
                select(te.c.lifecycle, func.count())
                .where(te.c.step_execution_id == step_execution_id)
                .group_by(te.c.lifecycle)
            ).all()
            if any(Lifecycle(s) not in TERMINAL for s, _ in states):
                continue
            final = rollup(Lifecycle(s) for s, _ in states)
            counts = ", ".join(f"{n} {s}" for s, n in sorted(states)) or "no targets"
            finished = conn.execute(
                update(se)
                .where(
                    se.c.id == step_execution_id,
                    se.c.lifecycle == Lifecycle.WAITING_FOR_CHILD_JOB_EXECUTIONS.value,
                )
                .values(lifecycle=final.value, end_time=now, last_message=counts)
            ).rowcount
            if finished:
                ended.add(step_execution_id)
                self._finish_job_after_step(conn, step_execution_id, now)
        return ended

    def _finish_job_after_step(
        self, conn: Connection, step_execution_id: int, now: datetime
    ) -> set[int]:
        """After a step ended: stop the job on a failure, or finish it after its last step."""
        se, je, s = t.step_execution, t.job_execution, t.job_step
        step = conn.execute(
            select(
                se.c.job_execution_id,
                se.c.step_id,
                se.c.lifecycle,
                se.c.step_name,
                s.c.continue_on_failure,
            )
            .join(je, je.c.id == se.c.job_execution_id)
            .join(
                s,
                and_(
                    s.c.job_id == je.c.job_id,
                    s.c.job_version == je.c.job_version,
                    s.c.step_id == se.c.step_id,
                ),
            )
            .where(se.c.id == step_execution_id)
        ).one()
        state = Lifecycle(step.lifecycle)
        if state in FAILING and not step.continue_on_failure:
            conn.execute(
                update(se)
                .where(
                    se.c.job_execution_id == step.job_execution_id,
                    se.c.lifecycle == Lifecycle.CREATED.value,
                )
                .values(
                    lifecycle=Lifecycle.CANCELED.value,
                    end_time=now,
                    last_message=f"not run: step {step.step_name!r} ended {state.value}",
                )
            )
            return self._end_job(
                conn,
                step.job_execution_id,
                state,
                f"step {step.step_name!r} ended {state.value}",
                now,
            )
        states = (
            conn.execute(
                select(se.c.lifecycle).where(se.c.job_execution_id == step.job_execution_id)
            )
            .scalars()
            .all()
        )
        if any(Lifecycle(x) not in TERMINAL for x in states):
            return set()
        final = rollup(Lifecycle(x) for x in states)
        return self._end_job(
            conn, step.job_execution_id, final, f"{len(states)} step(s) ended", now
        )

    def _end_job(
        self, conn: Connection, job_execution_id: int, state: Lifecycle, message: str, now: datetime
    ) -> set[int]:
        je = t.job_execution
        moved = conn.execute(
            update(je)
            .where(je.c.id == job_execution_id, je.c.lifecycle.not_in(TERMINAL_NAMES))
            .values(lifecycle=state.value, end_time=now, last_message=message)
        ).rowcount
        return {job_execution_id} if moved else set()

    # -- canceling -------------------------------------------------------------------------------

    def cancel_execution(
        self, job_execution_id: int, *, now: datetime, message: str = "canceled by request"
    ) -> None:
        """Cancel an execution: it becomes Canceled; what has not started never starts.

        Targets that are running stay InProgress until their agent has canceled the
        statement on the server and recorded it; `canceled_running_targets` lists them.
        """
        je, se, te = t.job_execution, t.step_execution, t.target_execution
        with self.engine.begin() as conn:
            row = conn.execute(select(je.c.lifecycle).where(je.c.id == job_execution_id)).first()
            if row is None:
                raise NotFound(f"no execution {job_execution_id}")
            if Lifecycle(row.lifecycle).is_terminal:
                raise InvalidValue(f"execution {job_execution_id} already ended {row.lifecycle}")
            conn.execute(
                update(je).where(je.c.id == job_execution_id).values(cancel_requested=True)
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

    def canceled_running_targets(self, agent: str) -> list[int]:
        """Ids of this agent's running targets whose execution was canceled."""
        te, je = t.target_execution, t.job_execution
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(te.c.id)
                    .join(je, je.c.id == te.c.job_execution_id)
                    .where(
                        te.c.agent_name == agent,
                        te.c.lifecycle == Lifecycle.IN_PROGRESS.value,
                        je.c.cancel_requested.is_(True),
                    )
                ).scalars()
            )
