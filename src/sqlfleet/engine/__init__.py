"""Running executions: the dispatcher, the per-target runner, the output writer."""

from __future__ import annotations

from sqlfleet.engine.dispatcher import Dispatcher, DispatcherSettings

__all__ = ["Dispatcher", "DispatcherSettings"]
