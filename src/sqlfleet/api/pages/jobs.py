"""Pages for jobs: the list, "Create job" (Save / Save and Run), and a job's own page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from sqlfleet.api.pages.common import (
    call,
    checkbox,
    flash,
    fleet_of,
    form_values,
    notify_field,
    problem,
    q,
    raw_field,
    redirect,
    render,
    text_field,
)
from sqlfleet.api.pages.job_edits import setting_fields, step_body
from sqlfleet.api.routes.jobs import create_job_with_steps
from sqlfleet.api.schemas import JobCreate, PathName
from sqlfleet.api.security import checked_form, require_login
from sqlfleet.errors import SqlfleetError
from sqlfleet.fleet import Fleet
from sqlfleet.model import Job, JobExecution

router = APIRouter(dependencies=[Depends(require_login)], include_in_schema=False)


@router.get("/")
async def home() -> Response:
    """The jobs list is the home page."""
    return redirect("/jobs")


def _jobs_with_last_execution(fleet: Fleet) -> list[tuple[Job, JobExecution | None]]:
    rows = []
    for job in fleet.list_jobs():
        last = fleet.list_executions(job=job.name, count=1)
        rows.append((job, last[0] if last else None))
    return rows


@router.get("/jobs")
async def jobs_page(request: Request) -> Response:
    """Every job with the state of its last execution."""
    rows = await call(_jobs_with_last_execution, fleet_of(request))
    return render(request, "jobs.html", nav="jobs", rows=rows)


def _choices(fleet: Fleet) -> dict[str, Any]:
    return {
        "groups": [g.name for g in fleet.list_target_groups()],
        "credentials": [c.name for c in fleet.list_credentials()],
        "setting_fields": setting_fields(),
    }


@router.get("/new-job")
async def new_job_page(request: Request) -> Response:
    """The "Create job" form."""
    choices = await call(_choices, fleet_of(request))
    return render(request, "job_new.html", nav="new-job", values={}, error=None, **choices)


def _job_body(form: FormData) -> dict[str, Any]:
    step = step_body(form, editing=False)
    body: dict[str, Any] = {
        "name": raw_field(form, "name").strip(),
        "description": raw_field(form, "description").strip(),
        "enabled": checkbox(form, "enabled"),
        "steps": [step],
    }
    schedule = text_field(form, "schedule")
    if schedule is not None:
        body["schedule"] = {"spec": schedule, "timezone": text_field(form, "timezone") or "UTC"}
    webhooks = notify_field(form)
    if webhooks:
        body["notify"] = webhooks
    return body


@router.post("/new-job")
async def create_job(request: Request) -> Response:
    """Save the job; with "Save and Run", start it and show its execution."""
    form = await checked_form(request)
    fleet = fleet_of(request)
    values = form_values(form)
    try:
        body = JobCreate.model_validate(_job_body(form))
        job = await call(create_job_with_steps, fleet, body)
    except (ValidationError, SqlfleetError) as exc:
        choices = await call(_choices, fleet)
        return render(
            request,
            "job_new.html",
            status=422,
            nav="new-job",
            values=values,
            error=problem(exc),
            **choices,
        )
    if form.get("action") == "run":
        return await _run(request, job.name)
    flash(request, f"Job {job.name} saved (version {job.version}).")
    return redirect(f"/jobs/{q(job.name)}")


async def _run(request: Request, name: str) -> Response:
    try:
        execution = await request.app.state.launcher.start(fleet_of(request), name)
    except SqlfleetError as exc:
        flash(request, f"Could not start {name}: {exc.message}", "error")
        return redirect(f"/jobs/{q(name)}")
    return redirect(f"/executions/{execution.id}")


def _job_page_data(fleet: Fleet, name: str) -> dict[str, Any]:
    job = fleet.get_job(name)
    return {
        "job": job,
        "executions": fleet.list_executions(job=name, count=50),
        "versions": fleet.job_versions(name),
    }


@router.get("/jobs/{name}")
async def job_page(request: Request, name: PathName) -> Response:
    """A job: its definition, steps, schedule, and executions."""
    data = await call(_job_page_data, fleet_of(request), name)
    return render(request, "job.html", nav="jobs", **data)


@router.post("/jobs/{name}/run")
async def run_job(request: Request, name: PathName) -> Response:
    """Start an execution now and show it."""
    await checked_form(request)
    return await _run(request, name)


@router.post("/jobs/{name}/enabled")
async def set_enabled(request: Request, name: PathName) -> Response:
    """Enable or disable the job's schedule."""
    form = await checked_form(request)
    enabled = form.get("enabled") == "true"
    job = await call(fleet_of(request).update_job, name, enabled=enabled)
    flash(request, f"Job {job.name} {'enabled' if enabled else 'disabled'}.")
    return redirect(f"/jobs/{q(name)}")


@router.post("/jobs/{name}/delete")
async def delete_job(request: Request, name: PathName) -> Response:
    """Delete the job and its history."""
    await checked_form(request)
    try:
        await call(fleet_of(request).remove_job, name)
    except SqlfleetError as exc:
        flash(request, exc.message, "error")
        return redirect(f"/jobs/{q(name)}")
    flash(request, f"Job {name} deleted.")
    return redirect("/jobs")
