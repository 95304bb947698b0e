"""The job database's result verbs: keeping each target's first result set, reading them merged.

A target's kept rows are one row of `target_result`: its column names and its rows as two
JSON documents. A page of merged rows is found by a running sum of the kept row counts, in
the order targets are listed (step, then target execution), so only the targets that hold
the page's rows are read, however many targets the execution has.

Rows are kept here even when the step also writes them to an output table, and read back from
here, not from that table: reading needs neither the output server to be reachable nor its
credential decrypted by the web process; the rows are exactly this execution's, whatever else
writes to a table that every run appends to; they page with the job database's SQL; and they
are purged with their execution. The output table stays the complete copy: the cap applies
only here, and a cut target says how many rows it returned.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select
from sqlalchemy.sql import ColumnElement

from sqlfleet.errors import NotFound
from sqlfleet.limits import shown
from sqlfleet.model import CutResult, JsonValue, KeptResult, ResultPage, Target
from sqlfleet.store import tables as t
from sqlfleet.store.prepared import RowsStatement

if TYPE_CHECKING:
    from sqlfleet.store.claims import Outcome

TARGET_COLUMNS = ("target_server_name", "target_database_name")
SCHEMA_COLUMN = "target_schema_name"
STEP_COLUMN = "step_name"
# A page names this many of the targets whose rows were cut; it counts all of them.
CUT_SHOWN = 20
RESULT_COLUMNS = (
    "target_execution_id",
    "job_execution_id",
    "step_id",
    "attempt_number",
    "column_names",
    "returned_rows",
    "kept_rows",
    "row_values",
)


# One encoder for every document: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_ASCII_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _document(value: Any) -> str:
    text = _ENCODER.encode(value)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: escaped, every job database stores it
            text = _ASCII_ENCODER.encode(value)
    return text


_tr = t.target_result
_DELETE_KEPT = delete(_tr).where(_tr.c.target_execution_id.in_(bindparam("ids", expanding=True)))
_KEEP = RowsStatement(
    insert(_tr).values({name: bindparam(name) for name in RESULT_COLUMNS}).inline(), RESULT_COLUMNS
)


def keep_results(conn: Connection, kept: Sequence[tuple[int, int, Outcome]]) -> None:
    """Keep the result sets of these recorded attempts, each given with its target's
    execution and step ids (a later attempt's replaces any)."""
    if not kept:
        return
    conn.execute(_DELETE_KEPT, {"ids": [o.target_execution_id for _, _, o in kept]})
    rows = []
    # A step's targets mostly return the same columns: each list is written once.
    names: dict[tuple[str, ...], str] = {}
    for job_execution_id, step_id, outcome in kept:
        result = outcome.result
        assert result is not None
        columns = names.get(result.columns)
        if columns is None:
            columns = names[result.columns] = _document(list(result.columns))
        rows.append(
            (
                outcome.target_execution_id,
                job_execution_id,
                step_id,
                outcome.attempt_number,
                columns,
                result.returned_rows,
                result.kept_rows,
                _document([list(row) for row in result.rows]),
            )
        )
    _KEEP.execute(conn, rows)


class ResultStore:
    """Reading kept results: one target's, or an execution's merged across targets."""

    engine: Engine

    def target_result(self, target_execution_id: int) -> KeptResult | None:
        """The rows a target kept, if its step kept any."""
        tr = t.target_result
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tr).where(tr.c.target_execution_id == target_execution_id)
            ).first()
        if row is None:
            return None
        rows = tuple(tuple(r) for r in json.loads(row.row_values))
        return KeptResult(tuple(json.loads(row.column_names)), rows, row.returned_rows)

    def result_page(
        self,
        job_execution_id: int,
        *,
        step: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> ResultPage:
        """Kept rows of an execution (or of its step named `step`), merged across targets.

        Rows come by step, then target, then in the target's own order; `offset` and
        `limit` count merged rows. Without `step`, an execution of several steps gets a
        `step_name` column first. An unknown step is NotFound, naming the execution's steps.
        """
        tr, te, se = t.target_result, t.target_execution, t.step_execution
        where: list[ColumnElement[bool]] = [tr.c.job_execution_id == job_execution_id]
        with self.engine.connect() as conn:
            steps: dict[int, str] = dict(
                conn.execute(
                    select(se.c.step_id, se.c.step_name)
                    .where(se.c.job_execution_id == job_execution_id)
                    .order_by(se.c.step_id)
                ).all()
            )
            step_id = None if step is None else _step_id(job_execution_id, steps, step)
            if step_id is not None:
                where.append(tr.c.step_id == step_id)
            totals = conn.execute(
                select(func.count(), func.coalesce(func.sum(tr.c.kept_rows), 0)).where(*where)
            ).one()
            result_columns = self._column_union(conn, where)
            with_schema = conn.execute(
                select(func.count())
                .select_from(tr.join(te, te.c.id == tr.c.target_execution_id))
                .where(*where, te.c.target_schema_name.is_not(None))
            ).scalar_one()
            by_step = step_id is None and len(steps) > 1
            target_columns = (
                ((STEP_COLUMN,) if by_step else ())
                + TARGET_COLUMNS
                + ((SCHEMA_COLUMN,) if with_schema else ())
            )
            columns = target_columns + _renamed(result_columns, set(target_columns))
            rows = self._rows(conn, where, steps, columns, len(target_columns), offset, limit)
            cut_targets, cut = self._cut(conn, where, steps)
        return ResultPage(
            job_execution_id=job_execution_id,
            step_name=step,
            columns=columns,
            rows=tuple(rows),
            offset=offset,
            total_rows=int(totals[1]),
            targets=int(totals[0]),
            cut_targets=cut_targets,
            cut=cut,
        )

    @staticmethod
    def _column_union(conn: Connection, where: Sequence[ColumnElement[bool]]) -> tuple[str, ...]:
        """Every result column, in the order the targets are listed: a GROUP BY, no rows read."""
        tr = t.target_result
        groups = conn.execute(
            select(tr.c.step_id, func.min(tr.c.target_execution_id), tr.c.column_names)
            .where(*where)
            .group_by(tr.c.step_id, tr.c.column_names)
        ).all()
        union: dict[str, None] = {}
        for _step, _first, names in sorted(groups, key=lambda g: (g[0], g[1])):
            union.update(dict.fromkeys(json.loads(names)))
        return tuple(union)

    @staticmethod
    def _rows(
        conn: Connection,
        where: Sequence[ColumnElement[bool]],
        steps: dict[int, str],
        columns: tuple[str, ...],
        fixed: int,
        offset: int,
        limit: int | None,
    ) -> list[tuple[JsonValue, ...]]:
        tr, te = t.target_result, t.target_execution
        order = (tr.c.step_id, tr.c.target_execution_id)
        before = (func.sum(tr.c.kept_rows).over(order_by=order) - tr.c.kept_rows).label("before")
        spans = (
            select(tr.c.target_execution_id, tr.c.step_id, tr.c.kept_rows, before)
            .where(*where, tr.c.kept_rows > 0)
            .subquery()
        )
        query = select(spans.c.target_execution_id, spans.c.before).where(
            spans.c.before + spans.c.kept_rows > offset
        )
        if limit is not None:
            query = query.where(spans.c.before < offset + limit)
        starts = dict(
            conn.execute(query.order_by(spans.c.step_id, spans.c.target_execution_id)).all()
        )
        if not starts:
            return []
        where_of = {name: i for i, name in enumerate(columns)}
        loaded = conn.execute(
            select(
                tr.c.target_execution_id,
                tr.c.step_id,
                tr.c.column_names,
                tr.c.row_values,
                te.c.target_server_name,
                te.c.target_database_name,
                te.c.target_schema_name,
            )
            .join(te, te.c.id == tr.c.target_execution_id)
            .where(tr.c.target_execution_id.in_(list(starts)))
            .order_by(*order)
        ).all()
        end = None if limit is None else offset + limit
        rows: list[tuple[JsonValue, ...]] = []
        for target in loaded:
            first = starts[target.target_execution_id]
            own = json.loads(target.row_values)
            low = max(offset - first, 0)
            high = len(own) if end is None else min(end - first, len(own))
            identity: dict[str, JsonValue] = {
                STEP_COLUMN: steps.get(target.step_id, str(target.step_id)),
                "target_server_name": target.target_server_name,
                "target_database_name": target.target_database_name,
                SCHEMA_COLUMN: target.target_schema_name,
            }
            head = [identity[name] for name in columns[:fixed]]
            names = _renamed(tuple(json.loads(target.column_names)), set(columns[:fixed]))
            picks = [where_of[name] - fixed for name in names]
            width = len(columns) - fixed
            for values in own[low:high]:
                line: list[JsonValue] = [None] * width
                for pick, value in zip(picks, values, strict=False):
                    line[pick] = value
                rows.append((*head, *line))
        return rows

    @staticmethod
    def _cut(
        conn: Connection, where: Sequence[ColumnElement[bool]], steps: dict[int, str]
    ) -> tuple[int, tuple[CutResult, ...]]:
        """How many targets returned more rows than were kept, and the first of them."""
        tr, te = t.target_result, t.target_execution
        cut = [*where, tr.c.returned_rows > tr.c.kept_rows]
        count = conn.execute(select(func.count()).select_from(tr).where(*cut)).scalar_one()
        if not count:
            return 0, ()
        shown = conn.execute(
            select(
                tr.c.step_id,
                tr.c.returned_rows,
                tr.c.kept_rows,
                te.c.target_server_name,
                te.c.target_database_name,
                te.c.target_schema_name,
            )
            .join(te, te.c.id == tr.c.target_execution_id)
            .where(*cut)
            .order_by(tr.c.step_id, tr.c.target_execution_id)
            .limit(CUT_SHOWN)
        ).all()
        return int(count), tuple(
            CutResult(
                steps.get(r.step_id, str(r.step_id)),
                Target(r.target_server_name, r.target_database_name, r.target_schema_name),
                r.returned_rows,
                r.kept_rows,
            )
            for r in shown
        )


def _step_id(job_execution_id: int, steps: dict[int, str], name: str) -> int:
    """The id of the step called `name`, else NotFound naming the execution's steps."""
    for step_id, step_name in steps.items():
        if step_name == name:
            return step_id
    names = ", ".join(repr(n) for n in steps.values()) or "none"
    raise NotFound(
        f"execution {job_execution_id} has no step named {shown(name)} (its steps: {names})"
    )


def _renamed(names: tuple[str, ...], taken: set[str]) -> tuple[str, ...]:
    """Result columns that a target column's name would hide get a `result_` prefix."""
    return tuple(f"result_{name}" if name in taken else name for name in names)
