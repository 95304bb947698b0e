"""The job database's claim verbs: agents claim due target executions and record outcomes.

Claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several agents share the work, and
each claim carries the agent's name and a lease its heartbeat extends; on SQLite every write
transaction takes the database lock up front (BEGIN IMMEDIATE). Outcomes are written in
batches, guarded by the agent still holding the target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, bindparam, case, func, insert, or_, select, update

from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import KeptResult, Target
from sqlfleet.statements import Location
from sqlfleet.store import tables as t
from sqlfleet.store.executions import CLAIMABLE
from sqlfleet.store.prepared import RowsStatement
from sqlfleet.store.results import keep_results
from sqlfleet.store.stops import StopStore
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


# -- the statements of every claim and batch of outcomes, built once (see `prepared`) -------

ATTEMPT_COLUMNS = (
    "target_execution_id",
    "attempt_number",
    "agent_name",
    "start_time",
    "end_time",
    "lifecycle",
    "message",
    "row_count",
    "error_batch",
    "error_line",
    "error_column",
    "error_statement",
    "server_messages",
)


def _attempt_row(agent: str, o: Outcome) -> tuple[Any, ...]:
    """An attempt's row, its values in ATTEMPT_COLUMNS order."""
    where = o.location
    return (
        o.target_execution_id,
        o.attempt_number,
        agent,
        o.attempt_start_time,
        o.end_time,
        (Lifecycle.FAILED if o.lifecycle is Lifecycle.WAITING_FOR_RETRY else o.lifecycle).value,
        o.message,
        o.row_count,
        None if where is None else where.batch,
        None if where is None else where.line,
        None if where is None else where.column,
        None if where is None else where.statement,
        o.server_messages,
    )


_te, _je, _se, _s = t.target_execution, t.job_execution, t.step_execution, t.job_step
_NOW = bindparam("now", type_=t.UtcDateTime)


def _due(lifecycle: Lifecycle, *, one_execution: bool) -> Select[Any]:
    """Due targets in `lifecycle` (Created or WaitingForRetry), past any next attempt time."""
    query = (
        # Only what a claim needs: each column read is converted per row.
        select(
            _te.c.id,
            _te.c.job_execution_id,
            _te.c.step_execution_id,
            _te.c.job_id,
            _te.c.step_id,
            _te.c.target_server_name,
            _te.c.target_database_name,
            _te.c.target_schema_name,
            _te.c.target_variables,
            _te.c.current_attempts,
            _te.c.start_time,
            _je.c.job_version,
            _je.c.trial,
        )
        .join(_je, _je.c.id == _te.c.job_execution_id)
        .join(_se, _se.c.id == _te.c.step_execution_id)
        .where(
            _te.c.lifecycle == lifecycle.value,
            or_(_te.c.next_attempt_start_time.is_(None), _te.c.next_attempt_start_time <= _NOW),
            _je.c.cancel_requested.is_(False),
            # A target of a staged rollout waits until its step opens its wave.
            or_(_te.c.wave.is_(None), _te.c.wave <= _se.c.open_wave),
        )
        .order_by(_te.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True, of=_te)
    )
    if one_execution:
        query = query.where(_te.c.job_execution_id == bindparam("job_execution_id"))
    return query


def _limited(*, one_execution: bool) -> Select[Any]:
    """max_parallelism of each active step execution that has one."""
    query = (
        select(_se.c.id, _s.c.max_parallelism)
        .join(_je, _je.c.id == _se.c.job_execution_id)
        .join(_s, t.defines(_s, _je, _se))
        .where(
            _se.c.lifecycle == Lifecycle.WAITING_FOR_CHILD_JOB_EXECUTIONS.value,
            _s.c.max_parallelism.is_not(None),
        )
    )
    if one_execution:
        query = query.where(_se.c.job_execution_id == bindparam("job_execution_id"))
    return query


# Due targets are asked for one state at a time: an index on (execution, state) then gives
# them in id order, where asking for both states at once sorted every due target of the
# execution on each claim (a claim cost more the bigger the step).
_DUE = {
    one: [_due(Lifecycle(state), one_execution=one) for state in CLAIMABLE] for one in (False, True)
}
_LIMITED, _LIMITED_IN_EXECUTION = _limited(one_execution=False), _limited(one_execution=True)
_CLAIM = (
    update(_te)
    .where(_te.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        lifecycle=Lifecycle.IN_PROGRESS.value,
        agent_name=bindparam("agent"),
        lease_expires_at=bindparam("lease_expires_at", type_=t.UtcDateTime),
        current_attempts=_te.c.current_attempts + 1,
        current_attempt_start_time=_NOW,
        next_attempt_start_time=None,
        start_time=func.coalesce(_te.c.start_time, _NOW),
    )
)
# The targets of a batch of outcomes that this agent still holds, locked until it is written.
_HELD = (
    select(_te.c.id, _te.c.step_execution_id, _te.c.job_execution_id, _te.c.step_id)
    .where(
        _te.c.id.in_(bindparam("ids", expanding=True)),
        _te.c.agent_name == bindparam("agent"),
        _te.c.lifecycle == Lifecycle.IN_PROGRESS.value,
    )
    .with_for_update()
)
_RECORD_ATTEMPT = RowsStatement(
    insert(t.attempt).values({name: bindparam(name) for name in ATTEMPT_COLUMNS}).inline(),
    ATTEMPT_COLUMNS,
)
_END_ATTEMPT = RowsStatement(
    update(_te)
    .where(_te.c.id == bindparam("id"))
    .values(
        lifecycle=bindparam("lifecycle"),
        end_time=bindparam("end_time"),
        last_message=bindparam("last_message"),
        next_attempt_start_time=bindparam("next_attempt_start_time"),
        agent_name=bindparam("agent_name"),
        lease_expires_at=bindparam("lease_expires_at"),
        # The claim counted an attempt; one that never started takes it back.
        current_attempts=_te.c.current_attempts - bindparam("unstarted"),
        start_time=case(
            (_te.c.current_attempts == bindparam("unstarted"), None), else_=_te.c.start_time
        ),
        updated_at=bindparam("updated_at"),
    ),
    (
        "id",
        "lifecycle",
        "end_time",
        "last_message",
        "next_attempt_start_time",
        "agent_name",
        "lease_expires_at",
        "unstarted",
        "updated_at",
    ),
)


def _due_targets(conn: Connection, params: dict[str, Any], limit: int) -> list[Any]:
    """The first `limit` due targets (of `params["job_execution_id"]`, if not None) by id."""
    due: list[Any] = []
    for query in _DUE[params["job_execution_id"] is not None]:
        due += conn.execute(query, {**params, "limit": limit}).all()
    due.sort(key=lambda row: row.id)
    return due[:limit]


class ClaimStore(StopStore):
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
        with self.engine.begin() as conn:
            # Whoever looks for work first takes back what dead agents held, in any execution:
            # nothing stays InProgress past its lease.
            self._take_back(conn, None, now)
            limits = self._parallelism_limits(conn, job_execution_id)
            params = {"now": now, "job_execution_id": job_execution_id}
            if not limits:
                candidates = _due_targets(conn, params, limit)
            else:
                candidates = self._within_limits(conn, params, limits, limit)
            if not candidates:
                return []
            conn.execute(
                _CLAIM,
                {
                    "ids": [c.id for c in candidates],
                    "agent": agent,
                    "now": now,
                    "lease_expires_at": now + lease,
                },
            )
            return [
                ClaimedTarget(
                    id=id_,
                    job_execution_id=job_execution_id_,
                    step_execution_id=step_execution_id,
                    job_id=job_id,
                    job_version=job_version,
                    step_id=step_id,
                    target=Target(server, database, schema, from_json(variables)),
                    attempt_number=attempts + 1,
                    first_start_time=start_time or now,
                    attempt_start_time=now,
                    trial=trial,
                )
                for (
                    id_,
                    job_execution_id_,
                    step_execution_id,
                    job_id,
                    step_id,
                    server,
                    database,
                    schema,
                    variables,
                    attempts,
                    start_time,
                    job_version,
                    trial,
                ) in candidates
            ]

    def _parallelism_limits(self, conn: Connection, job_execution_id: int | None) -> dict[int, int]:
        """max_parallelism of each active step execution that has one."""
        if job_execution_id is None:
            rows = conn.execute(_LIMITED)
        else:
            rows = conn.execute(_LIMITED_IN_EXECUTION, {"job_execution_id": job_execution_id})
        return {r.id: r.max_parallelism for r in rows}

    def _within_limits(
        self,
        conn: Connection,
        params: dict[str, Any],
        limits: dict[int, int],
        limit: int,
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
        wider = limit + 10 * sum(limits.values()) + 1000
        for row in _due_targets(conn, params, wider):
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
        with self.engine.begin() as conn:
            held = {
                row.id: row
                for row in conn.execute(
                    _HELD, {"ids": [o.target_execution_id for o in outcomes], "agent": agent}
                )
            }
            outcomes = [o for o in outcomes if o.target_execution_id in held]
            if not outcomes:
                return set()
            attempted = [o for o in outcomes if o.started]
            _RECORD_ATTEMPT.execute(conn, [_attempt_row(agent, o) for o in attempted])
            keep_results(
                conn,
                [
                    (
                        held[o.target_execution_id].job_execution_id,
                        held[o.target_execution_id].step_id,
                        o,
                    )
                    for o in attempted
                    if o.result is not None
                ],
            )
            updated_at = datetime.now(UTC)  # as SQLAlchemy's `onupdate` would set it
            _END_ATTEMPT.execute(
                conn,
                [
                    (
                        o.target_execution_id,
                        o.lifecycle.value,
                        None if o.lifecycle is Lifecycle.WAITING_FOR_RETRY else o.end_time,
                        o.message,
                        o.next_attempt_start_time,
                        None,  # agent_name: the target is this agent's no longer
                        None,  # lease_expires_at
                        0 if o.started else 1,
                        updated_at,
                    )
                    for o in outcomes
                ],
            )
            ended = {
                held[o.target_execution_id].step_execution_id
                for o in outcomes
                if o.lifecycle is not Lifecycle.WAITING_FOR_RETRY
            }
            return self._finish_steps(conn, sorted(ended), now) if ended else set()
