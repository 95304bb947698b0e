"""The REST API under /api/v1: one module per resource."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from sqlfleet.api.routes import credentials, executions, jobs, results, steps, target_groups
from sqlfleet.api.schemas import ERROR_RESPONSES
from sqlfleet.api.security import require_token

API_PREFIX = "/api/v1"


def include_api(app: FastAPI) -> None:
    """Add every REST route, behind the bearer token when the server has one."""
    for module in (credentials, target_groups, jobs, steps, executions, results):
        app.include_router(
            module.router,
            prefix=API_PREFIX,
            dependencies=[Depends(require_token)],
            responses=ERROR_RESPONSES,
        )
