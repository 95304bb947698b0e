"""The REST API (under /api/v1) and the web UI, on one `Fleet`."""

from __future__ import annotations

from sqlfleet.api.app import create_app
from sqlfleet.api.launcher import AgentLauncher, InProcessLauncher, Launcher
from sqlfleet.api.security import TOKEN_ENV, is_loopback

__all__ = [
    "TOKEN_ENV",
    "AgentLauncher",
    "InProcessLauncher",
    "Launcher",
    "create_app",
    "is_loopback",
]
