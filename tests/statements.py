"""Watching what the app asks the job database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def recorded(engine: Engine, kinds: str = r"\w+") -> Iterator[list[tuple[str, Any]]]:
    """Every statement of `kinds` (`SELECT|UPDATE`, say; any by default) sent through
    `engine` meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []
    wanted = re.compile(rf"\s*({kinds})\b", re.IGNORECASE)

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if wanted.match(statement):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", keep)
