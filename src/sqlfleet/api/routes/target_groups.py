"""REST routes for target groups, their members, and resolving them now."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response

from sqlfleet import documents
from sqlfleet.api.deps import FleetDep
from sqlfleet.api.schemas import MemberCreate, PathId, PathName, ResolveRequest, TargetGroupCreate
from sqlfleet.fleet import Fleet
from sqlfleet.model import Target

router = APIRouter(prefix="/target-groups", tags=["target groups"])


@router.get("")
def list_target_groups(fleet: FleetDep) -> list[dict[str, Any]]:
    """Every target group with its members."""
    return [documents.target_group(g) for g in fleet.list_target_groups()]


@router.post("", status_code=201)
def create_target_group(body: TargetGroupCreate, fleet: FleetDep) -> dict[str, Any]:
    """Create an empty target group."""
    return documents.target_group(fleet.add_target_group(body.name))


@router.get("/{name}")
def get_target_group(name: PathName, fleet: FleetDep) -> dict[str, Any]:
    """One target group with its members."""
    return documents.target_group(fleet.get_target_group(name))


@router.delete("/{name}", status_code=204)
def delete_target_group(name: PathName, fleet: FleetDep) -> Response:
    """Delete a target group that no step uses."""
    fleet.remove_target_group(name)
    return Response(status_code=204)


@router.post("/{name}/members", status_code=201)
def add_member(name: PathName, body: MemberCreate, fleet: FleetDep) -> dict[str, Any]:
    """Add a member: a server, a database, a database's schemas, or a shard map."""
    return documents.member(fleet.add_member(name, **body.model_dump()))


@router.delete("/{name}/members/{member_id}", status_code=204)
def remove_member(name: PathName, member_id: PathId, fleet: FleetDep) -> Response:
    """Take a member out of the group."""
    fleet.remove_member(name, member_id)
    return Response(status_code=204)


@router.post("/{name}/resolve")
def resolve_target_group(
    name: PathName, fleet: FleetDep, body: ResolveRequest | None = None
) -> list[dict[str, Any]]:
    """The databases (or schemas) the group names right now; nothing is run on them."""
    credential = body.credential if body is not None else None
    return [documents.target(t) for t in resolve_now(fleet, name, credential)]


def resolve_now(fleet: Fleet, name: str, credential: str | None) -> list[Target]:
    """Resolve a group from a worker thread (its job-database reads block)."""
    return asyncio.run(fleet.resolve_target_group(name, credential=credential))
