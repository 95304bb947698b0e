"""Keeping a target's first result set: JSON-safe values, up to the step's `result_rows`.

Every engine hands back its own Python types (Decimal, datetime, UUID, bytes, arrays, ...);
what is kept is what JSON, CSV and a web page show the same way: numbers, text, null and
booleans as they are, anything else as text.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlfleet.model import JsonValue, KeptResult


def json_safe(value: Any) -> JsonValue:
    """`value` as a number, text, boolean or None (dates, decimals and bytes become text)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # JSON has no NaN or infinity: keep their text, as the engines print them.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()  # as PostgreSQL prints bytea
    return str(value)


def unique_names(columns: Sequence[str]) -> tuple[str, ...]:
    """Column names made unique (`a`, `a_2`, ...): merged rows are matched by name."""
    names: list[str] = []
    taken: set[str] = set()
    for column in columns:
        name, number = str(column), 1
        while name in taken:
            number += 1
            name = f"{column}_{number}"
        taken.add(name)
        names.append(name)
    return tuple(names)


def keep_result(columns: Sequence[str], rows: Sequence[Sequence[Any]], keep: int) -> KeptResult:
    """The first `keep` rows of a result set, JSON-safe, with how many it had."""
    kept = tuple(tuple(json_safe(v) for v in row) for row in rows[: max(keep, 0)])
    return KeptResult(unique_names(columns), kept, len(rows))
