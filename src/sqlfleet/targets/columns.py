"""Column types for output tables, inferred from the Python values of a result set.

A step's output table is created from the first result set of whatever engine the step ran
on, and written to whatever engine the output destination is on; the only common ground is
the Python values the drivers return. Each column gets one `ColumnKind` here, and each
driver maps kinds to its own SQL types and adapts values it cannot bind as they are.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlfleet.errors import InvalidValue

__all__ = ["ColumnKind", "check_columns", "coerce_rows", "infer_kinds", "kind_of"]

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class ColumnKind(enum.Enum):
    """The engine-neutral type of an output column."""

    INTEGER = "integer"
    FLOAT = "float"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    TIMESTAMP_TZ = "timestamp with time zone"
    TIMESTAMP = "timestamp"
    DATE = "date"
    BYTES = "bytes"
    TEXT = "text"


def kind_of(value: Any) -> ColumnKind:
    """The kind one non-NULL value asks for."""
    # bool before int and datetime before date: each is a subclass of the latter.
    if isinstance(value, bool):
        return ColumnKind.BOOLEAN
    if isinstance(value, int):
        in_range = _INT64_MIN <= value <= _INT64_MAX
        return ColumnKind.INTEGER if in_range else ColumnKind.DECIMAL
    if isinstance(value, float):
        return ColumnKind.FLOAT
    if isinstance(value, Decimal):
        return ColumnKind.DECIMAL
    if isinstance(value, datetime):
        return ColumnKind.TIMESTAMP if value.tzinfo is None else ColumnKind.TIMESTAMP_TZ
    if isinstance(value, date):
        return ColumnKind.DATE
    if isinstance(value, bytes | bytearray | memoryview):
        return ColumnKind.BYTES
    return ColumnKind.TEXT


# Mixed numeric columns widen instead of falling back to TEXT, so sums still work.
_WIDENINGS: dict[frozenset[ColumnKind], ColumnKind] = {
    frozenset({ColumnKind.INTEGER, ColumnKind.DECIMAL}): ColumnKind.DECIMAL,
    frozenset({ColumnKind.INTEGER, ColumnKind.FLOAT}): ColumnKind.FLOAT,
    frozenset({ColumnKind.DECIMAL, ColumnKind.FLOAT}): ColumnKind.FLOAT,
    frozenset({ColumnKind.INTEGER, ColumnKind.DECIMAL, ColumnKind.FLOAT}): ColumnKind.FLOAT,
    frozenset({ColumnKind.BOOLEAN, ColumnKind.INTEGER}): ColumnKind.INTEGER,
}


def check_columns(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Raise `InvalidValue` unless the column names are usable and every row fits them."""
    if not columns:
        raise InvalidValue("an output table needs at least one column")
    seen: set[str] = set()
    for name in columns:
        if not name or "\x00" in name:
            raise InvalidValue(f"column name {name!r} is not valid")
        if name.lower() in seen:
            raise InvalidValue(
                f"the result has two columns named {name!r}: give them distinct aliases "
                "so they can be stored in one table"
            )
        seen.add(name.lower())
    for number, row in enumerate(rows, start=1):
        if len(row) != len(columns):
            raise InvalidValue(
                f"row {number} has {len(row)} values but there are {len(columns)} columns"
            )


def infer_kinds(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[ColumnKind]:
    """One kind per column: the kind all its non-NULL values share, widened, else TEXT."""
    seen: list[set[ColumnKind]] = [set() for _ in columns]
    for row in rows:
        for kinds, value in zip(seen, row, strict=True):
            if value is not None:
                kinds.add(kind_of(value))
    result = []
    for kinds in seen:
        if len(kinds) == 1:
            result.append(next(iter(kinds)))
        else:
            # An all-NULL column is TEXT: the most forgiving type for later rows.
            result.append(_WIDENINGS.get(frozenset(kinds), ColumnKind.TEXT))
    return result


def coerce_rows(
    rows: Sequence[Sequence[Any]], kinds: Sequence[ColumnKind]
) -> list[tuple[Any, ...]]:
    """The rows with every value converted to what its column's kind binds as."""
    return [
        tuple(
            None if value is None else _coerce(value, kind)
            for value, kind in zip(row, kinds, strict=True)
        )
        for row in rows
    ]


def _coerce(value: Any, kind: ColumnKind) -> Any:
    if kind is ColumnKind.INTEGER:
        return int(value)
    if kind is ColumnKind.FLOAT:
        return float(value)
    if kind is ColumnKind.DECIMAL:
        return value if isinstance(value, Decimal) else Decimal(value)
    if kind is ColumnKind.BYTES:
        return bytes(value)
    if kind is ColumnKind.TEXT:
        return _as_text(value)
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        # PostgreSQL arrays and MySQL JSON come back as these: keep them readable as JSON.
        return json.dumps(value, default=str)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


@dataclass(frozen=True, slots=True)
class OutputTable:
    """An output table in one engine's SQL: its name, column definitions, and coerced rows."""

    name: str
    definitions: str
    column_list: str
    rows: list[tuple[Any, ...]]

    @property
    def create(self) -> str:
        """CREATE TABLE IF NOT EXISTS for it."""
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({self.definitions})"


def output_table(
    schema: str | None,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    quote: Callable[[str], str],
    types: Mapping[ColumnKind, str],
) -> OutputTable:
    """Check the rows, infer the column types, and spell the table in an engine's SQL."""
    check_columns(columns, rows)
    kinds = infer_kinds(columns, rows)
    name = quote(table) if schema is None else f"{quote(schema)}.{quote(table)}"
    definitions = ", ".join(
        f"{quote(column)} {types[kind]}" for column, kind in zip(columns, kinds, strict=True)
    )
    column_list = ", ".join(quote(column) for column in columns)
    return OutputTable(name, definitions, column_list, coerce_rows(rows, kinds))
