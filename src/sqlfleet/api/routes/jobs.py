"""REST routes for jobs: definitions, versions, enabling, and starting an execution."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from sqlfleet import documents, limits
from sqlfleet.api.deps import FleetDep, LauncherDep
from sqlfleet.api.errors import ApiError
from sqlfleet.api.schemas import JobCreate, JobUpdate, PathName
from sqlfleet.fleet import Fleet
from sqlfleet.model import Job

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("")
def list_jobs(fleet: FleetDep) -> list[dict[str, Any]]:
    """Every job at its current version, by name."""
    return [documents.job(j) for j in fleet.list_jobs()]


@router.post("", status_code=201)
def create_job(body: JobCreate, fleet: FleetDep) -> dict[str, Any]:
    """Create a job, with its steps if given (all or nothing)."""
    return documents.job(create_job_with_steps(fleet, body))


def create_job_with_steps(fleet: Fleet, body: JobCreate) -> Job:
    """Create the job and its steps in one transaction."""
    schedule = body.schedule.build() if body.schedule is not None else None
    return fleet.add_job(
        body.name,
        description=body.description,
        enabled=body.enabled,
        schedule=schedule,
        steps=[(step.name, step.settings()) for step in body.steps],
        webhooks=body.webhooks(),
    )


@router.get("/{name}")
def get_job(
    name: PathName,
    fleet: FleetDep,
    version: Annotated[
        int | None,
        Query(ge=limits.VERSION.low, le=limits.VERSION.high, description="A past version"),
    ] = None,
) -> dict[str, Any]:
    """One job at its current version, or at `version`."""
    return documents.job(fleet.get_job(name, version))


@router.patch("/{name}")
def update_job(name: PathName, body: JobUpdate, fleet: FleetDep) -> dict[str, Any]:
    """Change a job's settings; this makes a new version."""
    if not body.model_fields_set:
        raise ApiError(422, "InvalidValue", "nothing to change: give the settings to change")
    return documents.job(fleet.update_job(name, **body.changes()))


@router.delete("/{name}", status_code=204)
def delete_job(
    name: PathName,
    fleet: FleetDep,
    force: Annotated[bool, Query(description="Also while executions are active")] = False,
) -> Response:
    """Delete a job with its versions and history."""
    fleet.remove_job(name, force=force)
    return Response(status_code=204)


@router.post("/{name}/enable")
def enable_job(name: PathName, fleet: FleetDep) -> dict[str, Any]:
    """Let the job's schedule fire."""
    return documents.job(fleet.update_job(name, enabled=True))


@router.post("/{name}/disable")
def disable_job(name: PathName, fleet: FleetDep) -> dict[str, Any]:
    """Stop the job's schedule from firing (it can still be started by hand)."""
    return documents.job(fleet.update_job(name, enabled=False))


@router.get("/{name}/versions")
def job_versions(name: PathName, fleet: FleetDep) -> list[dict[str, Any]]:
    """The versions of a job, oldest first."""
    return [documents.job_version(v) for v in fleet.job_versions(name)]


@router.post("/{name}/executions", status_code=202, tags=["executions"])
async def start_job(
    name: PathName,
    fleet: FleetDep,
    launcher: LauncherDep,
    trial: Annotated[
        bool,
        Query(
            description="Run each target's batches in a transaction that is rolled back "
            "(PostgreSQL, SQLite; refused on MySQL/MariaDB)"
        ),
    ] = False,
) -> dict[str, Any]:
    """Start an execution of the job's current version; follow it at /executions/{id}."""
    if trial:
        execution = await launcher.launch(
            fleet, lambda: fleet.create_execution(name, trigger="manual", trial=True)
        )
    else:
        execution = await launcher.start(fleet, name)
    return documents.job_execution(execution)


@router.post("/{name}/preview", tags=["executions"])
async def preview_job(
    name: PathName,
    fleet: FleetDep,
    preflight: Annotated[
        bool, Query(description="Also log in to every target with its step's credential")
    ] = False,
) -> dict[str, Any]:
    """Dry run: each step's targets as resolved now, with the batches each would get.

    Nothing runs on a target and no execution is recorded; `ok` is false when a target
    would fail before anything is sent (or, with `preflight`, cannot be logged in to).
    """
    steps = await fleet.preview(name, preflight=preflight)
    return {
        "job_name": name,
        "ok": all(s.ok for s in steps),
        "steps": [documents.step_preview(s) for s in steps],
    }
