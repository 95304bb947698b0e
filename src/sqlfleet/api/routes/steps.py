"""REST routes for a job's steps: each change makes a new version of the job."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sqlfleet import documents
from sqlfleet.api.deps import FleetDep
from sqlfleet.api.errors import ApiError
from sqlfleet.api.schemas import PathName, StepCreate, StepUpdate
from sqlfleet.errors import NotFound

router = APIRouter(prefix="/jobs/{name}/steps", tags=["steps"])


@router.get("")
def list_steps(name: PathName, fleet: FleetDep) -> list[dict[str, Any]]:
    """The steps of the job's current version, in order."""
    return [documents.step(s) for s in fleet.get_job(name).steps]


@router.post("", status_code=201)
def add_step(name: PathName, body: StepCreate, fleet: FleetDep) -> dict[str, Any]:
    """Append a step; returns the job at its new version."""
    return documents.job(fleet.add_step(name, body.name, **body.settings()))


@router.get("/{step}")
def get_step(name: PathName, step: PathName, fleet: FleetDep) -> dict[str, Any]:
    """One step of the job's current version."""
    found = fleet.get_job(name).step(step)
    if found is None:
        raise NotFound(f"job {name!r} has no step named {step!r}")
    return documents.step(found)


@router.patch("/{step}")
def update_step(
    name: PathName, step: PathName, body: StepUpdate, fleet: FleetDep
) -> dict[str, Any]:
    """Change some settings of a step; returns the job at its new version."""
    if not body.model_fields_set:
        raise ApiError(422, "InvalidValue", "nothing to change: give the settings to change")
    return documents.job(fleet.update_step(name, step, new_name=body.name, **body.settings()))


@router.delete("/{step}")
def remove_step(name: PathName, step: PathName, fleet: FleetDep) -> dict[str, Any]:
    """Remove a step; returns the job at its new version."""
    return documents.job(fleet.remove_step(name, step))
