"""REST routes for results: the rows targets returned, merged across targets, paged or as CSV."""

from __future__ import annotations

from itertools import chain
from typing import Any

from fastapi import APIRouter
from starlette.responses import StreamingResponse

from sqlfleet import documents
from sqlfleet.api.deps import FleetDep
from sqlfleet.api.routes.executions import Limit, Offset
from sqlfleet.api.schemas import PathId, QueryName
from sqlfleet.fleet import Fleet
from sqlfleet.results import csv_chunks, result_pages

router = APIRouter(prefix="/executions", tags=["results"])


@router.get("/{execution_id}/results")
def get_results(
    execution_id: PathId,
    fleet: FleetDep,
    step: QueryName = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Kept rows of each target's first result set, merged: target columns first.

    Without `step`, every step's rows, with a `step_name` column when there are several
    steps. `total_rows` counts every kept row; `truncated` names targets that returned more
    rows than their step keeps.
    """
    page = fleet.execution_results(execution_id, step=step, offset=offset, limit=limit)
    document = documents.result_page(page)
    document["limit"] = limit
    return document


@router.get(
    "/{execution_id}/results.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The merged rows as CSV"}},
)
def get_results_csv(execution_id: PathId, fleet: FleetDep, step: QueryName = None) -> Any:
    """Every kept row, merged across targets, as a CSV download."""
    return csv_download(fleet, execution_id, step)


@router.get("/{execution_id}/targets/{target_execution_id}/result")
def get_target_result(
    execution_id: PathId, target_execution_id: PathId, fleet: FleetDep
) -> dict[str, Any] | None:
    """The rows one target kept of its first result set; null when its step kept none."""
    result = fleet.target_result(execution_id, target_execution_id)
    return None if result is None else documents.kept_result(result)


def csv_download(fleet: Fleet, execution_id: int, step: str | None) -> StreamingResponse:
    """The CSV of an execution's kept rows, streamed page by page (bad input fails first)."""
    pages = result_pages(fleet, execution_id, step=step)
    first = next(pages)
    name = f"execution-{execution_id}-results.csv"
    return StreamingResponse(
        csv_chunks(chain([first], pages)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
