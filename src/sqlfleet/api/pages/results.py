"""The Results view of an execution: its targets' kept rows merged, a page at a time, and CSV."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from sqlfleet.api.pages.common import call, fleet_of, render
from sqlfleet.api.routes.executions import Offset
from sqlfleet.api.routes.results import csv_download
from sqlfleet.api.schemas import PathId, QueryName
from sqlfleet.api.security import require_login
from sqlfleet.fleet import Fleet
from sqlfleet.results import text_value

router = APIRouter(dependencies=[Depends(require_login)], include_in_schema=False)

PAGE_ROWS = 100
TARGET_COLUMNS = {"step_name", "target_server_name", "target_database_name", "target_schema_name"}


def _results_view(fleet: Fleet, execution_id: int, step: str | None, offset: int) -> dict[str, Any]:
    execution = fleet.get_execution(execution_id)
    steps = fleet.list_step_executions(execution_id)
    page = fleet.execution_results(execution_id, step=step, offset=offset, limit=PAGE_ROWS)
    return {
        "execution": execution,
        "steps": steps,
        "step": step,
        "page": page,
        "rows": [[(v, text_value(v)) for v in row] for row in page.rows],
        "target_columns": [c in TARGET_COLUMNS for c in page.columns],
        "first_row": offset + 1,
        "last_row": offset + len(page.rows),
        "previous": max(offset - PAGE_ROWS, 0) if offset > 0 else None,
        "next": offset + PAGE_ROWS if offset + PAGE_ROWS < page.total_rows else None,
        "last": max((page.total_rows - 1) // PAGE_ROWS * PAGE_ROWS, 0),
        "page_rows": PAGE_ROWS,
    }


@router.get("/executions/{execution_id}/results")
async def results_page(
    request: Request, execution_id: PathId, step: QueryName = None, offset: Offset = 0
) -> Response:
    """The rows each target's first result set returned, merged, a page at a time."""
    view = await call(_results_view, fleet_of(request), execution_id, step, offset)
    return render(request, "execution_results.html", nav="executions", **view)


@router.get("/executions/{execution_id}/results.csv")
async def results_csv(request: Request, execution_id: PathId, step: QueryName = None) -> Response:
    """Every kept row, merged, as a CSV download."""
    return await call(csv_download, fleet_of(request), execution_id, step)
