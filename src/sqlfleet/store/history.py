"""The job database's history verbs: reading executions, steps, targets, attempts; purging."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, delete, func, or_, select
from sqlalchemy.sql import ColumnElement

from sqlfleet.errors import NotFound
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import (
    TARGET_SORTS,
    Attempt,
    JobExecution,
    StepExecution,
    TargetExecution,
)
from sqlfleet.store import tables as t
from sqlfleet.store.executions import LIVE_NAMES, TERMINAL_NAMES
from sqlfleet.store.reruns import RerunStore
from sqlfleet.variables import from_json


class HistoryStore(RerunStore):
    """Reading what ran, and forgetting what is old."""

    # -- reading ----------------------------------------------------------------------------------

    def get_execution(self, job_execution_id: int) -> JobExecution:
        """One job execution with its target counts per state."""
        executions = self.list_executions(ids=[job_execution_id])
        if not executions:
            raise NotFound(f"no execution {job_execution_id}")
        return executions[0]

    def require_execution(self, job_execution_id: int) -> None:
        """Nothing if the job execution exists; else NotFound."""
        je = t.job_execution
        with self.engine.connect() as conn:
            if conn.execute(select(je.c.id).where(je.c.id == job_execution_id)).first() is None:
                raise NotFound(f"no execution {job_execution_id}")

    def list_executions(
        self,
        *,
        job: str | None = None,
        count: int | None = None,
        active: bool = False,
        lifecycle: Lifecycle | None = None,
        ids: Sequence[int] | None = None,
        offset: int = 0,
    ) -> list[JobExecution]:
        """Job executions, newest first."""
        je = t.job_execution
        query = (
            select(je, t.job.c.name.label("job_name"))
            .join(t.job, t.job.c.id == je.c.job_id)
            .order_by(je.c.id.desc())
        )
        if job is not None:
            with self.engine.connect() as conn:
                self._require_job(conn, job)
            query = query.where(t.job.c.name == job)
        if active:
            query = query.where(je.c.lifecycle.in_(LIVE_NAMES))
        if lifecycle is not None:
            query = query.where(je.c.lifecycle == lifecycle.value)
        if ids is not None:
            query = query.where(je.c.id.in_(list(ids)))
        if count is not None:
            query = query.limit(count)
        if offset:
            query = query.offset(offset)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            # Counted only where they may still change: an ended execution stored its own.
            counts = self._counts(
                conn,
                t.target_execution.c.job_execution_id,
                [r.id for r in rows if r.target_counts is None],
            )
        return [
            _from_row(
                JobExecution,
                r,
                target_counts=counts.get(r.id, {})
                if r.target_counts is None
                else json.loads(r.target_counts),
            )
            for r in rows
        ]

    def _counts(self, conn: Connection, key: Any, ids: list[int]) -> dict[int, dict[str, int]]:
        if not ids:
            return {}
        te = t.target_execution
        counts: dict[int, dict[str, int]] = {}
        for owner, state, n in conn.execute(
            select(key, te.c.lifecycle, func.count())
            .where(key.in_(ids))
            .group_by(key, te.c.lifecycle)
        ):
            counts.setdefault(owner, {})[state] = n
        return counts

    def list_step_executions(self, job_execution_id: int) -> list[StepExecution]:
        """The step executions of a job execution, in step order."""
        se = t.step_execution
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(se).where(se.c.job_execution_id == job_execution_id).order_by(se.c.step_id)
            ).all()
            counts = self._counts(
                conn, t.target_execution.c.step_execution_id, [r.id for r in rows]
            )
        return [_from_row(StepExecution, r, target_counts=counts.get(r.id, {})) for r in rows]

    def list_target_executions(
        self,
        job_execution_id: int,
        *,
        lifecycle: Sequence[Lifecycle] | None = None,
        limit: int | None = None,
        offset: int = 0,
        target_execution_id: int | None = None,
        search: str | None = None,
        sort: str = "step",
        descending: bool = False,
        changed_since: datetime | None = None,
    ) -> list[TargetExecution]:
        """The target executions of a job execution (or one of them), by step then target.

        `search` keeps targets whose server or database name holds it (any case); `sort` is
        one of TARGET_SORTS; `changed_since` keeps rows changed at or after that moment.
        """
        te = t.target_execution
        conditions = _target_conditions(job_execution_id, lifecycle, search)
        if target_execution_id is not None:
            conditions.append(te.c.id == target_execution_id)
        if changed_since is not None:
            conditions.append(te.c.updated_at >= changed_since)
        keys = [te.c[name] for name in TARGET_SORTS[sort]]
        order = [k.desc() for k in keys] if descending else keys
        query = select(te).where(*conditions).order_by(*order, te.c.id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            _from_row(TargetExecution, r, target_variables=from_json(r.target_variables))
            for r in rows
        ]

    def count_target_executions(
        self,
        job_execution_id: int,
        *,
        lifecycle: Sequence[Lifecycle] | None = None,
        search: str | None = None,
    ) -> int:
        """How many target executions `list_target_executions` would list without a limit."""
        conditions = _target_conditions(job_execution_id, lifecycle, search)
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(t.target_execution).where(*conditions)
                ).scalar_one()
            )

    def list_attempts(self, target_execution_id: int) -> list[Attempt]:
        """Every attempt of a target execution, first first."""
        a = t.attempt
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(a)
                .where(a.c.target_execution_id == target_execution_id)
                .order_by(a.c.attempt_number, a.c.id)
            ).all()
        return [_from_row(Attempt, r) for r in rows]

    def list_execution_attempts(
        self, job_execution_id: int, target_execution_ids: Sequence[int]
    ) -> dict[int, list[Attempt]]:
        """The attempts of some targets of an execution, by target execution, first first."""
        a, te = t.attempt, t.target_execution
        found: dict[int, list[Attempt]] = {i: [] for i in target_execution_ids}
        with self.engine.connect() as conn:
            for chunk in range(0, len(target_execution_ids), 500):
                part = list(target_execution_ids[chunk : chunk + 500])
                rows = conn.execute(
                    select(a)
                    .join(te, te.c.id == a.c.target_execution_id)
                    .where(te.c.job_execution_id == job_execution_id, te.c.id.in_(part))
                    .order_by(a.c.target_execution_id, a.c.attempt_number, a.c.id)
                ).all()
                for row in rows:
                    found[row.target_execution_id].append(_from_row(Attempt, row))
        return found

    # -- purging -----------------------------------------------------------------------------------

    def purge(self, *, before: datetime, job: str | None = None) -> int:
        """Delete ended executions that ended before `before`; how many."""
        je = t.job_execution
        conditions = [je.c.lifecycle.in_(TERMINAL_NAMES), je.c.end_time < before]
        with self.engine.begin() as conn:
            if job is not None:
                conditions.append(je.c.job_id == self._require_job(conn, job).id)
            ids = conn.execute(select(je.c.id).where(*conditions)).scalars().all()
            for chunk in range(0, len(ids), 500):
                part = ids[chunk : chunk + 500]
                # SQLite may run without cascading deletes in old files: delete children explicitly.
                tes = select(t.target_execution.c.id).where(
                    t.target_execution.c.job_execution_id.in_(part)
                )
                conn.execute(delete(t.attempt).where(t.attempt.c.target_execution_id.in_(tes)))
                conn.execute(
                    delete(t.target_result).where(t.target_result.c.job_execution_id.in_(part))
                )
                conn.execute(
                    delete(t.notification_delivery).where(
                        t.notification_delivery.c.job_execution_id.in_(part)
                    )
                )
                conn.execute(
                    delete(t.target_execution).where(
                        t.target_execution.c.job_execution_id.in_(part)
                    )
                )
                conn.execute(
                    delete(t.step_execution).where(t.step_execution.c.job_execution_id.in_(part))
                )
                conn.execute(delete(je).where(je.c.id.in_(part)))
            return len(ids)


CHANGE_SLACK = timedelta(seconds=10)


def changes_cursor() -> datetime:
    """A moment to pass as `changed_since` next time so that no change is missed.

    It lies CHANGE_SLACK before now: a change stamped by a host whose clock is a little
    behind, or committed a little after it was stamped, is still sent (twice at worst).
    """
    return datetime.now(UTC) - CHANGE_SLACK


def _target_conditions(
    job_execution_id: int, lifecycle: Sequence[Lifecycle] | None, search: str | None
) -> list[ColumnElement[bool]]:
    te = t.target_execution
    conditions: list[ColumnElement[bool]] = [te.c.job_execution_id == job_execution_id]
    if lifecycle:
        conditions.append(te.c.lifecycle.in_([s.value for s in lifecycle]))
    if search:
        pattern = "%" + _escape_like(search.lower()) + "%"
        conditions.append(
            or_(
                func.lower(te.c.target_server_name).like(pattern, escape="\\"),
                func.lower(te.c.target_database_name).like(pattern, escape="\\"),
                func.lower(func.coalesce(te.c.target_schema_name, "")).like(pattern, escape="\\"),
            )
        )
    return conditions


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


M = TypeVar("M")


def _from_row(model: type[M], row: Any, **values: Any) -> M:
    """A model from a row whose columns carry the model's field names."""
    names = _field_names(model)  # type: ignore[arg-type]
    data = {name: getattr(row, name) for name in names if name not in values}
    data["lifecycle"] = Lifecycle(data["lifecycle"])
    return model(**data, **values)


@functools.cache
def _field_names(model: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(model))
