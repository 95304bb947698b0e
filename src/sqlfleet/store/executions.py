"""The job database's execution verbs: create executions, start steps, finish them.

State changes are guarded in SQL (`... WHERE lifecycle IN (...) AND agent_name = :agent`): an
update that matches nothing means someone else moved the row, never a blind overwrite.
Stopping them is in `stops`, claiming targets and recording their outcomes in `claims`,
reading history in `history`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
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

from sqlfleet.errors import InvalidValue
from sqlfleet.lifecycle import TERMINAL, Lifecycle, rollup
from sqlfleet.model import Target
from sqlfleet.store import tables as t
from sqlfleet.store.definitions import DefinitionStore
from sqlfleet.store.prepared import RowsStatement
from sqlfleet.store.webhooks import enqueue
from sqlfleet.variables import to_json
from sqlfleet.webhooks import EXECUTION_ENDED

TERMINAL_NAMES = [s.value for s in TERMINAL]
# The states an execution is in while it runs: asked for by name, so that an index on the
# state finds the few live rows instead of reading every ended one (NOT IN cannot use it).
LIVE_NAMES = [s.value for s in Lifecycle if s not in TERMINAL]
CLAIMABLE = [Lifecycle.CREATED.value, Lifecycle.WAITING_FOR_RETRY.value]
FAILING = (Lifecycle.FAILED, Lifecycle.TIMED_OUT)


# One target of a step that has not ended, if there is one: asked after every batch of
# outcomes.
_UNFINISHED = (
    select(t.target_execution.c.id)
    .where(
        t.target_execution.c.step_execution_id == bindparam("step"),
        t.target_execution.c.lifecycle.in_(LIVE_NAMES),
    )
    .limit(1)
)


def _ready_step(*, one_execution: bool) -> Select[int]:
    """The first step execution whose targets are to be resolved: every earlier step of its
    execution is terminal, or its resolving agent's lease expired."""
    se, je = t.step_execution, t.job_execution
    earlier = t.step_execution.alias("earlier")
    pending_earlier = exists().where(
        earlier.c.job_execution_id == se.c.job_execution_id,
        earlier.c.step_id < se.c.step_id,
        earlier.c.lifecycle.not_in(TERMINAL_NAMES),
    )
    ready = or_(
        and_(se.c.lifecycle == Lifecycle.CREATED.value, not_(pending_earlier)),
        and_(
            se.c.lifecycle == Lifecycle.IN_PROGRESS.value,
            se.c.lease_expires_at < bindparam("now", type_=t.UtcDateTime),
        ),
    )
    query = (
        select(se.c.id)
        .join(je, je.c.id == se.c.job_execution_id)
        .where(je.c.lifecycle.in_(LIVE_NAMES), je.c.cancel_requested.is_(False), ready)
        .order_by(se.c.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=se)
    )
    if one_execution:
        query = query.where(se.c.job_execution_id == bindparam("job_execution_id"))
    return query


# Asked on every poll of every agent: built once (see `sqlfleet.store.prepared`).
_READY_STEP = _ready_step(one_execution=False)
_READY_STEP_IN_EXECUTION = _ready_step(one_execution=True)


# A step's target executions, as its targets are resolved: thousands of rows at once.
_NEW_TARGET_COLUMNS = (
    "job_execution_id",
    "step_execution_id",
    "job_id",
    "step_id",
    "target_type",
    "target_server_name",
    "target_database_name",
    "target_schema_name",
    "target_variables",
    "lifecycle",
    "create_time",
    "end_time",
    "current_attempts",
    "wave",
    "last_message",
    "updated_at",
)
_ADD_TARGET = RowsStatement(
    insert(t.target_execution)
    .values({name: bindparam(name) for name in _NEW_TARGET_COLUMNS})
    .inline(),
    _NEW_TARGET_COLUMNS,
)


@dataclass(frozen=True, slots=True)
class StepStart:
    """A step execution this agent claimed to resolve its targets."""

    step_execution_id: int
    job_execution_id: int
    job_id: int
    job_name: str
    job_version: int
    step_id: int
    trial: bool = False
    # A re-run: the execution whose targets (in these states) this step runs again.
    rerun_of: int | None = None
    rerun_states: tuple[str, ...] = ()


class ExecutionStore(DefinitionStore):
    """Execution verbs; inherits the definition verbs for the job lookups they need."""

    # -- creating -----------------------------------------------------------------------------

    def create_execution(
        self,
        job_name: str,
        *,
        trigger: str,
        now: datetime,
        scheduled_time: datetime | None = None,
        trial: bool = False,
    ) -> int:
        """A new job execution of the job's current version, with its step executions.

        A `trial` runs each target's batches in a transaction that is rolled back.
        """
        with self.engine.begin() as conn:
            row = self._require_job(conn, job_name)
            return self._create_execution(
                conn, row, trigger=trigger, now=now, scheduled_time=scheduled_time, trial=trial
            )

    def _create_execution(
        self,
        conn: Connection,
        job_row: Any,
        *,
        trigger: str,
        now: datetime,
        scheduled_time: datetime | None,
        version: int | None = None,
        **extra: Any,
    ) -> int:
        version = version or job_row.current_version
        steps = conn.execute(
            select(t.job_step.c.step_id, t.job_step.c.step_name, t.target_group.c.name)
            .join(t.target_group, t.target_group.c.id == t.job_step.c.target_group_id)
            .where(
                t.job_step.c.job_id == job_row.id,
                t.job_step.c.job_version == version,
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
                job_version=version,
                lifecycle=Lifecycle.CREATED.value,
                trigger=trigger,
                scheduled_time=scheduled_time,
                cancel_requested=False,
                create_time=now,
                **extra,
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
        query = _READY_STEP if job_execution_id is None else _READY_STEP_IN_EXECUTION
        with self.engine.begin() as conn:
            step_execution_id = conn.execute(
                query, {"now": now, "job_execution_id": job_execution_id}
            ).scalar()
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
                    se.c.job_execution_id,
                    se.c.step_id,
                    je.c.job_id,
                    je.c.job_version,
                    je.c.trial,
                    je.c.rerun_of,
                    je.c.rerun_states,
                    t.job.c.name,
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
                trial=row.trial,
                rerun_of=row.rerun_of,
                rerun_states=tuple(row.rerun_states.split(",")) if row.rerun_states else (),
            )

    def add_targets(
        self,
        step: StepStart,
        agent: str,
        targets: Sequence[Target],
        *,
        now: datetime,
        waves: Sequence[int | None] | None = None,
    ) -> bool:
        """Create the step's target executions and let agents claim them.

        A target on which the same step of the same job is already running in another
        execution is created Skipped. With `waves` (one per target, see
        `sqlfleet.engine.rollout`), a target may start only once its wave is open; wave 0
        opens now. False if this agent no longer holds the step.
        """
        waves = list(waves) if waves is not None else [None] * len(targets)
        staged = any(w is not None for w in waves)
        with self.engine.begin() as conn:
            if not self._leave_step(
                conn,
                step,
                agent,
                lifecycle=Lifecycle.WAITING_FOR_CHILD_JOB_EXECUTIONS.value,
                open_wave=0 if staged else None,
            ):
                return False
            busy = self._busy_targets(conn, step, now)
            skipped_message = (
                "skipped: this step is already running on this target in another execution"
            )
            updated_at = datetime.now(UTC)  # as SQLAlchemy's column default would set it
            rows = []
            for target, wave in zip(targets, waves, strict=True):
                skipped = (target.server_url, target.database, target.schema) in busy
                rows.append(
                    (
                        step.job_execution_id,
                        step.step_execution_id,
                        step.job_id,
                        step.step_id,
                        target.target_type,
                        target.server_url,
                        target.database,
                        target.schema,
                        to_json(target.variables),
                        (Lifecycle.SKIPPED if skipped else Lifecycle.CREATED).value,
                        now,
                        now if skipped else None,
                        0,
                        wave,
                        skipped_message if skipped else None,
                        updated_at,
                    )
                )
            _ADD_TARGET.execute(conn, rows)
            self._finish_steps(conn, [step.step_execution_id], now)
            return True

    def _leave_step(self, conn: Connection, step: StepStart, agent: str, **values: Any) -> bool:
        """Move a step this agent resolves on, giving up its lease; False if not held."""
        se = t.step_execution
        return bool(
            conn.execute(
                update(se)
                .where(
                    se.c.id == step.step_execution_id,
                    se.c.agent_name == agent,
                    se.c.lifecycle == Lifecycle.IN_PROGRESS.value,
                )
                .values(agent_name=None, lease_expires_at=None, **values)
            ).rowcount
        )

    def _busy_targets(
        self, conn: Connection, step: StepStart, now: datetime
    ) -> set[tuple[str, str, str | None]]:
        """Targets on which this step runs in another execution under a live lease.

        An InProgress target whose lease ran out is not busy: its agent is gone, and it is
        taken over (or ended, if its execution was canceled) by whoever finds it next.
        """
        te = t.target_execution
        rows = conn.execute(
            select(
                te.c.target_server_name, te.c.target_database_name, te.c.target_schema_name
            ).where(
                te.c.job_id == step.job_id,
                te.c.step_id == step.step_id,
                te.c.job_execution_id != step.job_execution_id,
                te.c.lifecycle == Lifecycle.IN_PROGRESS.value,
                te.c.lease_expires_at >= now,
            )
        )
        return {(r[0], r[1], r[2]) for r in rows}

    def fail_step(self, step: StepStart, agent: str, message: str, *, now: datetime) -> None:
        """The step's targets could not be resolved: the step fails with `message`."""
        with self.engine.begin() as conn:
            if self._leave_step(
                conn,
                step,
                agent,
                lifecycle=Lifecycle.FAILED.value,
                end_time=now,
                last_message=message,
            ):
                self._finish_job_after_step(conn, step.step_execution_id, now)

    # -- finishing ------------------------------------------------------------------------------

    def _finish_steps(
        self, conn: Connection, step_execution_ids: Iterable[int], now: datetime
    ) -> set[int]:
        """Finish each step whose targets are all terminal; then maybe its job."""
        se, te = t.step_execution, t.target_execution
        ended: set[int] = set()
        step_execution_ids = sorted(set(step_execution_ids))
        if step_execution_ids and conn.dialect.name == "postgresql":
            # Agents record the outcomes of one step's targets at once, each in a transaction
            # of its own. Locking the step's row before looking for its unfinished targets
            # makes the second of two agents recording its last ones look after the first
            # committed: otherwise each could see the other's targets still running, and
            # neither would finish the step. (SQLite has one writer at a time.)
            conn.execute(
                select(se.c.id)
                .where(se.c.id.in_(step_execution_ids))
                .order_by(se.c.id)
                .with_for_update()
            )
        for step_execution_id in step_execution_ids:
            # One unfinished target is enough to know (an index lookup): counting the states
            # of every target after each batch of outcomes would read the step's targets
            # once per batch.
            unfinished = conn.execute(_UNFINISHED, {"step": step_execution_id}).first()
            if unfinished is not None:
                continue
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
            else:
                # Ended before its last target did (canceled while it ran): now it has all.
                job_execution_id = conn.execute(
                    select(se.c.job_execution_id).where(se.c.id == step_execution_id)
                ).scalar_one()
                self._settle_counts(conn, job_execution_id)
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
            .join(s, t.defines(s, je, se))
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
        if not moved:
            return set()
        self._settle_counts(conn, job_execution_id)
        # In the transaction that ended it: told once, whoever ended it, crash or not.
        enqueue(conn, job_execution_id, EXECUTION_ENDED, state=state, now=now)
        return {job_execution_id}

    def _settle_counts(self, conn: Connection, job_execution_id: int) -> None:
        """Store an ended execution's target counts once none of its targets is live: from
        then on they never change, and lists read them instead of counting its targets."""
        je, te = t.job_execution, t.target_execution
        execution = conn.execute(
            select(je.c.lifecycle, je.c.target_counts).where(je.c.id == job_execution_id)
        ).one()
        if execution.lifecycle not in TERMINAL_NAMES or execution.target_counts is not None:
            return
        states = conn.execute(
            select(te.c.lifecycle, func.count())
            .where(te.c.job_execution_id == job_execution_id)
            .group_by(te.c.lifecycle)
        ).all()
        if any(state not in TERMINAL_NAMES for state, _ in states):
            return
        conn.execute(
            update(je)
            .where(
                je.c.id == job_execution_id,
                je.c.lifecycle.in_(TERMINAL_NAMES),
                je.c.target_counts.is_(None),
            )
            .values(target_counts=json.dumps(dict(states), sort_keys=True))
        )
