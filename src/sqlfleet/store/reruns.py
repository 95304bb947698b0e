"""The job database's re-run verbs: run the targets of an earlier execution again.

A re-run is a new execution of the same job version. Each of its steps runs on the targets
that the same step of the original execution left in the chosen states; a step the original
never started (it was not run after an earlier step failed) is resolved anew.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, select, update

from sqlfleet.errors import InvalidValue, NotFound
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import Target
from sqlfleet.store import tables as t
from sqlfleet.store.executions import StepStart
from sqlfleet.store.rollouts import RolloutStore
from sqlfleet.variables import from_json

DEFAULT_RERUN_STATES = (Lifecycle.FAILED, Lifecycle.TIMED_OUT, Lifecycle.CANCELED)
RERUN_STATES = (*DEFAULT_RERUN_STATES, Lifecycle.SKIPPED)


class RerunStore(RolloutStore):
    """Creating re-runs and telling their steps which targets to run."""

    def create_rerun(
        self, job_execution_id: int, states: Sequence[Lifecycle], *, now: datetime
    ) -> int:
        """A new execution of the same job version, on the targets that ended in `states`."""
        je, se, te = t.job_execution, t.step_execution, t.target_execution
        names = sorted({s.value for s in states})
        with self.engine.begin() as conn:
            original = conn.execute(select(je).where(je.c.id == job_execution_id)).first()
            if original is None:
                raise NotFound(f"no execution {job_execution_id}")
            if not Lifecycle(original.lifecycle).is_terminal:
                raise InvalidValue(
                    f"execution {job_execution_id} is still {original.lifecycle}: "
                    "re-run it once it has ended"
                )
            targets = conn.execute(
                select(func.count()).where(
                    te.c.job_execution_id == job_execution_id, te.c.lifecycle.in_(names)
                )
            ).scalar_one()
            never_started = conn.execute(
                select(func.count()).where(
                    se.c.job_execution_id == job_execution_id,
                    se.c.start_time.is_(None),
                )
            ).scalar_one()
            if not targets and not (never_started and Lifecycle.CANCELED.value in names):
                raise InvalidValue(
                    f"execution {job_execution_id} has no targets that ended "
                    f"{', '.join(names)}: nothing to re-run"
                )
            job_row = conn.execute(select(t.job).where(t.job.c.id == original.job_id)).one()
            return self._create_execution(
                conn,
                job_row,
                trigger="rerun",
                now=now,
                scheduled_time=None,
                version=original.job_version,
                trial=original.trial,
                rerun_of=job_execution_id,
                rerun_states=",".join(names),
            )

    def rerun_targets(self, step: StepStart) -> list[Target] | None:
        """The targets a re-run's step runs on, in their original order, with their variables.

        None when the original execution never started this step: it is resolved anew.
        """
        se, te = t.step_execution, t.target_execution
        with self.engine.connect() as conn:
            original = conn.execute(
                select(se.c.id, se.c.start_time).where(
                    and_(se.c.job_execution_id == step.rerun_of, se.c.step_id == step.step_id)
                )
            ).first()
            if original is None or original.start_time is None:
                return None
            rows = conn.execute(
                select(
                    te.c.target_server_name,
                    te.c.target_database_name,
                    te.c.target_schema_name,
                    te.c.target_variables,
                )
                .where(
                    te.c.step_execution_id == original.id,
                    te.c.lifecycle.in_(list(step.rerun_states)),
                )
                .order_by(te.c.id)
            ).all()
        # With the values they had: a re-run runs the same work again.
        return [Target(r[0], r[1], r[2], from_json(r[3])) for r in rows]

    def retry_now(self, target_execution_id: int, *, now: datetime) -> None:
        """Make a WaitingForRetry target due now; InvalidValue if it is not waiting."""
        te = t.target_execution
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(te)
                .where(
                    te.c.id == target_execution_id,
                    te.c.lifecycle == Lifecycle.WAITING_FOR_RETRY.value,
                )
                .values(next_attempt_start_time=now)
            ).rowcount
            if not moved:
                raise InvalidValue(
                    f"target execution {target_execution_id} is not waiting for a retry"
                )
