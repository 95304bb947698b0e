"""Pages for executions: the list, one execution live, a target's full error log, Stop."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import JSONResponse, Response

from sqlfleet import documents
from sqlfleet.api.pages.common import call, elapsed, flash, fleet_of, redirect, render
from sqlfleet.api.routes.executions import find_target
from sqlfleet.api.schemas import PathId
from sqlfleet.api.security import checked_form, require_login
from sqlfleet.errors import InvalidValue
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle

router = APIRouter(dependencies=[Depends(require_login)], include_in_schema=False)

# One page shows this many targets; the REST API pages through more.
MAX_ROWS = 2000


@router.get("/executions")
async def executions_page(request: Request, active: Annotated[bool, Query()] = False) -> Response:
    """The latest executions of every job."""
    executions = await call(fleet_of(request).list_executions, count=200, active=active)
    return render(
        request, "executions.html", nav="executions", executions=executions, active=active
    )


def live_document(fleet: Fleet, execution_id: int) -> dict[str, Any]:
    """An execution as the page shows it: counts, steps, and a row per target."""
    now = fleet.clock()
    execution = fleet.get_execution(execution_id)
    steps = fleet.list_step_executions(execution_id)
    targets = fleet.list_target_executions(execution_id, limit=MAX_ROWS)
    names = {s.step_id: s.step_name for s in steps}
    rows = []
    for target in targets:
        row = documents.target_execution(target)
        row["step_name"] = names.get(target.step_id, str(target.step_id))
        row["duration_seconds"] = elapsed(target.start_time, target.end_time, now)
        rows.append(row)
    document = documents.job_execution(execution)
    if len(targets) < MAX_ROWS:
        # Counted from the rows shown, so the counts and the rows always agree.
        counts = Counter(t.lifecycle.value for t in targets)
        document["target_counts"] = dict(sorted(counts.items()))
    document["duration_seconds"] = elapsed(execution.start_time, execution.end_time, now)
    document["total_targets"] = sum(document["target_counts"].values())
    return {
        "execution": document,
        "steps": [documents.step_execution(s) for s in steps],
        "targets": rows,
        "truncated": document["total_targets"] > len(rows),
        # A stopped execution ends at once; its running targets end a moment later.
        "live": execution.is_active or any(not t.lifecycle.is_terminal for t in targets),
    }


@router.get("/executions/{execution_id}")
async def execution_page(
    request: Request,
    execution_id: PathId,
    state: Annotated[Lifecycle | None, Query()] = None,
) -> Response:
    """One execution: counts per state and one row per target, kept up to date live."""
    live = await call(live_document, fleet_of(request), execution_id)
    return render(
        request,
        "execution.html",
        nav="executions",
        live=live,
        execution=live["execution"],
        only_state=state.value if state else "",
    )


@router.get("/executions/{execution_id}/live.json")
async def execution_live(request: Request, execution_id: PathId) -> Response:
    """What the execution page polls every second."""
    live = await call(live_document, fleet_of(request), execution_id)
    return JSONResponse(live, headers={"Cache-Control": "no-store"})


@router.post("/executions/{execution_id}/stop")
async def stop_execution(request: Request, execution_id: PathId) -> Response:
    """Cancel the execution."""
    await checked_form(request)
    try:
        await call(fleet_of(request).stop, execution_id)
    except InvalidValue as exc:  # it ended already
        flash(request, exc.message, "error")
    else:
        flash(request, f"Execution {execution_id} stopped.")
    return redirect(f"/executions/{execution_id}")


def _target_log(fleet: Fleet, execution_id: int, target_execution_id: int) -> dict[str, Any]:
    now = fleet.clock()
    target = find_target(fleet, execution_id, target_execution_id)
    execution = fleet.get_execution(execution_id)
    steps = {s.step_id: s.step_name for s in fleet.list_step_executions(execution_id)}
    attempts = [
        (attempt, elapsed(attempt.start_time, attempt.end_time, now))
        for attempt in fleet.list_attempts(target.id)
    ]
    return {
        "execution": execution,
        "target": target,
        "step_name": steps.get(target.step_id, str(target.step_id)),
        "attempts": attempts,
        "duration": elapsed(target.start_time, target.end_time, now),
        "result": fleet.target_result(execution_id, target.id),
    }


@router.get("/executions/{execution_id}/targets/{target_execution_id}")
async def target_page(
    request: Request, execution_id: PathId, target_execution_id: PathId
) -> Response:
    """One target's full log: every attempt with its message."""
    data = await call(_target_log, fleet_of(request), execution_id, target_execution_id)
    return render(request, "target.html", nav="executions", **data)
