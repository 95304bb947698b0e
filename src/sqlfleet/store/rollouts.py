"""The job database's rollout verbs: where staged steps stand, opening waves, halting a step.

What to do is decided in `sqlfleet.engine.rollout`; these verbs only read and move rows,
each move guarded in SQL so that two agents making the same decision make it once.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, or_, select, update

from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import RolloutProgress, StepSettings
from sqlfleet.store import tables as t
from sqlfleet.store.claims import ClaimStore
from sqlfleet.store.definitions import rollout_settings
from sqlfleet.store.webhooks import enqueue
from sqlfleet.webhooks import ROLLOUT_HALTED

_FAILED = (Lifecycle.FAILED.value, Lifecycle.TIMED_OUT.value)


def _staged(*, one_execution: bool) -> Select[Any]:
    """Running step executions with a rollout policy, with their step's settings."""
    se, je, s = t.step_execution, t.job_execution, t.job_step
    query = (
        select(se.c.id, se.c.open_wave, s)
        .join(je, je.c.id == se.c.job_execution_id)
        .join(s, t.defines(s, je, se))
        .where(
            se.c.lifecycle == Lifecycle.WAITING_FOR_CHILD_JOB_EXECUTIONS.value,
            or_(s.c.canary.is_not(None), s.c.wave_size.is_not(None), s.c.max_failures.is_not(None)),
        )
    )
    if one_execution:
        query = query.where(se.c.job_execution_id == bindparam("job_execution_id"))
    return query


# Asked on every poll of every agent: built once (see `sqlfleet.store.prepared`).
_STAGED, _STAGED_IN_EXECUTION = _staged(one_execution=False), _staged(one_execution=True)


class RolloutStore(ClaimStore):
    """Reading and moving staged (canary, waves, failure budget) step executions."""

    def rollout_progress(self, job_execution_id: int | None = None) -> list[RolloutProgress]:
        """Where each running step execution with a rollout policy stands."""
        te = t.target_execution
        steps_query = _STAGED if job_execution_id is None else _STAGED_IN_EXECUTION
        with self.engine.connect() as conn:
            steps = conn.execute(steps_query, {"job_execution_id": job_execution_id}).all()
            if not steps:
                return []
            ids = [row.id for row in steps]
            counts = conn.execute(
                select(te.c.step_execution_id, te.c.wave, te.c.lifecycle, func.count())
                .where(te.c.step_execution_id.in_(ids))
                .group_by(te.c.step_execution_id, te.c.wave, te.c.lifecycle)
            ).all()
        by_step: dict[int, list[tuple[int | None, Lifecycle, int]]] = defaultdict(list)
        for step_execution_id, wave, lifecycle, count in counts:
            by_step[step_execution_id].append((wave, Lifecycle(lifecycle), count))
        progress = []
        for row in steps:
            settings = StepSettings(
                command="", target_group="", credential="", **rollout_settings(row)
            )
            unfinished: dict[int | None, int] = defaultdict(int)
            total = failed = canary_failed = not_started = 0
            for wave, lifecycle, count in by_step[row.id]:
                total += count
                if not lifecycle.is_terminal:
                    unfinished[wave] += count
                if lifecycle is Lifecycle.CREATED:
                    not_started += count
                if lifecycle.value in _FAILED:
                    failed += count
                    if settings.canary and wave == 0:
                        canary_failed += count
            progress.append(
                RolloutProgress(
                    step_execution_id=row.id,
                    settings=settings,
                    total=total,
                    open_wave=row.open_wave,
                    unfinished_by_wave=dict(unfinished),
                    failed=failed,
                    canary_failed=canary_failed,
                    not_started=not_started,
                )
            )
        return progress

    def open_wave(
        self, step_execution_id: int, current: int | None, wave: int, *, start_at: datetime
    ) -> bool:
        """Let the targets of `wave` start at `start_at`; False if another agent did it first."""
        se, te = t.step_execution, t.target_execution
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(se)
                .where(
                    se.c.id == step_execution_id,
                    se.c.open_wave == current,
                    se.c.lifecycle == Lifecycle.WAITING_FOR_CHILD_JOB_EXECUTIONS.value,
                )
                .values(open_wave=wave)
            ).rowcount
            if moved:
                conn.execute(
                    update(te)
                    .where(
                        te.c.step_execution_id == step_execution_id,
                        te.c.wave == wave,
                        te.c.lifecycle == Lifecycle.CREATED.value,
                    )
                    .values(next_attempt_start_time=start_at)
                )
            return bool(moved)

    def halt_rollout(self, step_execution_id: int, message: str, *, now: datetime) -> bool:
        """End the step's not-started targets Canceled with `message`; the running ones finish.

        The step then ends when its last running target does (Failed: one of them failed).
        """
        te = t.target_execution
        with self.engine.begin() as conn:
            halted = conn.execute(
                update(te)
                .where(
                    te.c.step_execution_id == step_execution_id,
                    te.c.lifecycle == Lifecycle.CREATED.value,
                )
                .values(lifecycle=Lifecycle.CANCELED.value, end_time=now, last_message=message)
            ).rowcount
            if halted:
                job_execution_id = conn.execute(
                    select(t.step_execution.c.job_execution_id).where(
                        t.step_execution.c.id == step_execution_id
                    )
                ).scalar_one()
                enqueue(
                    conn,
                    job_execution_id,
                    ROLLOUT_HALTED,
                    state=None,
                    now=now,
                    step_execution_id=step_execution_id,
                    message=message,
                )
                self._finish_steps(conn, [step_execution_id], now)
            return bool(halted)
