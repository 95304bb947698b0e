"""The web UI: server-rendered pages, one module per thing a user works with."""

from __future__ import annotations

from fastapi import FastAPI

from sqlfleet.api.pages import (
    credentials,
    executions,
    jobs,
    login,
    results,
    rollout,
    target_groups,
)


def include_pages(app: FastAPI) -> None:
    """Add every page (behind a login when the server has a token)."""
    for module in (login, jobs, executions, results, rollout, target_groups, credentials):
        app.include_router(module.router)
