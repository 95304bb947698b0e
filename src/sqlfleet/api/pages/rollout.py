"""Pages for rolling out safely: preview a job, try it, re-run what failed, retry now."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from sqlfleet.api.pages.common import call, flash, fleet_of, q, redirect, render
from sqlfleet.api.schemas import PathId, PathName
from sqlfleet.api.security import checked_form, require_login
from sqlfleet.errors import SqlfleetError

router = APIRouter(dependencies=[Depends(require_login)], include_in_schema=False)


@router.get("/jobs/{name}/preview")
async def preview_page(request: Request, name: PathName) -> Response:
    """What the job would run where, per target; nothing runs and nothing is recorded."""
    fleet = fleet_of(request)
    job = await call(fleet.get_job, name)
    steps = await fleet.preview(name)
    return render(request, "preview.html", nav="jobs", job=job, steps=steps)


@router.post("/jobs/{name}/trial")
async def trial_job(request: Request, name: PathName) -> Response:
    """Start a trial: each target's batches run in a transaction that is rolled back."""
    await checked_form(request)
    fleet = fleet_of(request)
    try:
        execution = await request.app.state.launcher.launch(
            fleet, lambda: fleet.create_execution(name, trigger="manual", trial=True)
        )
    except SqlfleetError as exc:
        flash(request, f"Could not try {name}: {exc.message}", "error")
        return redirect(f"/jobs/{q(name)}")
    return redirect(f"/executions/{execution.id}")


@router.post("/executions/{execution_id}/rerun")
async def rerun_execution(request: Request, execution_id: PathId) -> Response:
    """Re-run the targets that failed, timed out or were canceled, at the same job version."""
    await checked_form(request)
    fleet = fleet_of(request)
    try:
        execution = await request.app.state.launcher.launch(
            fleet, lambda: fleet.rerun(execution_id)
        )
    except SqlfleetError as exc:
        flash(request, exc.message, "error")
        return redirect(f"/executions/{execution_id}")
    flash(request, f"Execution {execution.id} re-runs execution {execution_id}.")
    return redirect(f"/executions/{execution.id}")


@router.post("/executions/{execution_id}/targets/{target_execution_id}/retry-now")
async def retry_now(
    request: Request, execution_id: PathId, target_execution_id: PathId
) -> Response:
    """Let a target waiting for its next attempt try again now."""
    await checked_form(request)
    try:
        await call(fleet_of(request).retry_now, execution_id, target_execution_id)
    except SqlfleetError as exc:
        flash(request, exc.message, "error")
    return redirect(f"/executions/{execution_id}")
