"""Statements of the hot path, prepared once: what every claim and batch of outcomes runs.

A run over a thousand targets makes dozens of claims and batches of outcomes, each a few
statements. Building a SQLAlchemy statement (and its cache key) each time, and SQLAlchemy's
generic processing of each row of an executemany, cost more than SQLite takes to run them:
the statements are built once, with bound parameters (lists as expanding ones), and the
rows of a batch go to the driver's executemany as plain tuples (`RowsStatement`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql.dml import UpdateBase

__all__ = ["RowsStatement"]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # Per bound name, in `names` order: the type's conversion of a value, if it has one.
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]
    # A row's values (converted) as the driver takes them: a tuple in placeholder order
    # for a positional driver (SQLite), a dict for a named one (psycopg).
    shape: Callable[[Sequence[Any]], Any]

    def parameters(self, row: Sequence[Any], converted: dict[tuple[Any, Any], Any]) -> Any:
        if self.converters:
            row = list(row)
            for i, convert in self.converters:
                value = row[i]
                if value is not None:  # NULL needs no converting
                    key = (convert, value)
                    done = converted.get(key)
                    if done is None:
                        done = converted[key] = convert(value)
                    row[i] = done
        return self.shape(row)


class RowsStatement:
    """An INSERT or UPDATE run once per row of a batch, each row a tuple of `names`' values.

    Every parameter of `statement` is a `bindparam` named in `names` (no literal values, no
    column default left for SQLAlchemy to fill in): it is compiled once per dialect, and each
    row reaches the driver with only the values whose type converts them (datetimes) changed.
    """

    def __init__(self, statement: UpdateBase, names: Sequence[str]) -> None:
        self.statement = statement
        self.names = tuple(names)
        self._compiled: dict[str, _Compiled] = {}

    def execute(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Run the statement for each row, in one executemany."""
        if not rows:
            return
        compiled = self._compiled.get(conn.dialect.name)
        if compiled is None:
            compiled = self._compiled[conn.dialect.name] = self._compile(conn.dialect)
        # The rows of a batch share values (the time of their claim, of this write): each is
        # converted once.
        converted: dict[tuple[Any, Any], Any] = {}
        conn.exec_driver_sql(compiled.sql, [compiled.parameters(r, converted) for r in rows])

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        index = {name: i for i, name in enumerate(self.names)}
        converters = []
        for name in self.names:
            bind = compiled.binds.get(name)
            if bind is None:
                raise ValueError(f"{name!r} is not a parameter of {compiled}")
            # The dialect's own implementation: on SQLite, a datetime becomes the text that
            # SQLAlchemy writes everywhere else (and compares as text).
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                converters.append((index[name], convert))
        shape: Callable[[Sequence[Any]], Any]
        if not compiled.positional:
            names = self.names
            shape = lambda values: dict(zip(names, values, strict=True))  # noqa: E731
        else:
            placeholders = compiled.positiontup or []
            unknown = [name for name in placeholders if name not in index]
            if unknown:
                raise ValueError(f"{compiled} has parameters not in its rows: {unknown}")
            order = [index[name] for name in placeholders]
            if order == list(range(len(self.names))):
                shape = tuple
            elif len(order) == 1:
                shape = lambda values: (values[order[0]],)  # noqa: E731
            else:
                shape = itemgetter(*order)
        return _Compiled(str(compiled), tuple(converters), shape)
