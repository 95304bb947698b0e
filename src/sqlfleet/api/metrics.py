"""`GET /metrics`: Prometheus metrics, behind the API token when the server has one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sqlfleet.api.security import require_token
from sqlfleet.metrics import CONTENT_TYPE, FleetMetrics

router = APIRouter()


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(require_token)])
async def metrics(request: Request) -> Response:
    """The metrics in Prometheus' text format (the job database is read off the event loop)."""
    source: FleetMetrics | None = request.app.state.metrics
    if source is None:  # `web`: what the job database holds, and this process's store errors
        source = request.app.state.metrics = FleetMetrics(request.app.state.fleet.store)
    return Response(await run_in_threadpool(source.exposition), media_type=CONTENT_TYPE)
