"""Time, injectable: the engine and the agent ask a `Clock`, so tests can move time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Now, as an aware UTC datetime: the default clock."""
    return datetime.now(UTC)
