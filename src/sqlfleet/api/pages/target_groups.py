"""Pages for target groups: the list, a group's members, adding members, "resolve now"."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from sqlfleet.api.pages.common import (
    call,
    checkbox,
    flash,
    fleet_of,
    problem,
    q,
    raw_field,
    redirect,
    render,
    text_field,
)
from sqlfleet.api.routes.target_groups import resolve_now
from sqlfleet.api.schemas import MemberCreate, PathId, PathName, QueryName, TargetGroupCreate
from sqlfleet.api.security import checked_form, require_login
from sqlfleet.errors import SqlfleetError
from sqlfleet.fleet import Fleet
from sqlfleet.variables import parse_assignments

router = APIRouter(dependencies=[Depends(require_login)], include_in_schema=False)


@router.get("/target-groups")
async def target_groups_page(request: Request) -> Response:
    """Every target group, and a form to create one."""
    groups = await call(fleet_of(request).list_target_groups)
    return render(request, "target_groups.html", nav="target-groups", groups=groups)


@router.post("/target-groups")
async def create_target_group(request: Request) -> Response:
    """Create a target group, then go add its members."""
    form = await checked_form(request)
    try:
        body = TargetGroupCreate.model_validate({"name": text_field(form, "name") or ""})
        group = await call(fleet_of(request).add_target_group, body.name)
    except (ValidationError, SqlfleetError) as exc:
        flash(request, problem(exc), "error")
        return redirect("/target-groups")
    flash(request, f"Target group {group.name} created: add its members.")
    return redirect(f"/target-groups/{q(group.name)}")


def _group_page_data(
    fleet: Fleet, name: str, resolve: bool, credential: str | None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "group": fleet.get_target_group(name),
        "credentials": [c.name for c in fleet.list_credentials()],
        "resolved": None,
        "resolve_error": None,
        "resolve_credential": credential,
    }
    if resolve:
        try:
            data["resolved"] = resolve_now(fleet, name, credential)
        except SqlfleetError as exc:
            data["resolve_error"] = exc.message
    return data


@router.get("/target-groups/{name}")
async def target_group_page(
    request: Request,
    name: PathName,
    resolve: Annotated[bool, Query()] = False,
    credential: QueryName = None,
) -> Response:
    """A group's members, a form to add one, and (with ?resolve=1) what it resolves to now."""
    data = await call(_group_page_data, fleet_of(request), name, resolve, credential)
    return render(request, "target_group.html", nav="target-groups", **data)


@router.post("/target-groups/{name}/members")
async def add_member(request: Request, name: PathName) -> Response:
    """Add a member to the group."""
    form = await checked_form(request)
    fields = {
        key: text_field(form, key)
        for key in (
            "server",
            "database",
            "database_pattern",
            "schema_pattern",
            "shard_map_query",
            "refresh_credential",
        )
    }
    try:
        # One NAME=VALUE a line, as `--var` takes them; blank lines are left out. Lines end
        # at a newline only (a browser sends CRLF): a value may hold any other separator.
        lines = raw_field(form, "variables").replace("\r\n", "\n").split("\n")
        pairs = parse_assignments([line for line in lines if line.strip()])
        body = MemberCreate.model_validate(
            {**fields, "server": fields["server"] or "", "exclude": checkbox(form, "exclude")}
        )
        values = {**body.model_dump(), "variables": pairs}
        # Checked by the Python API, as the CLI's are: a name given twice is refused there.
        member = await call(fleet_of(request).add_member, name, **values)
    except (ValidationError, SqlfleetError) as exc:
        flash(request, problem(exc), "error")
    else:
        flash(request, f"Member {member.id} ({member.membership} {member.kind}) added.")
    return redirect(f"/target-groups/{q(name)}")


@router.post("/target-groups/{name}/members/{member_id}/delete")
async def remove_member(request: Request, name: PathName, member_id: PathId) -> Response:
    """Take a member out of the group."""
    await checked_form(request)
    await call(fleet_of(request).remove_member, name, member_id)
    flash(request, f"Member {member_id} removed.")
    return redirect(f"/target-groups/{q(name)}")


@router.post("/target-groups/{name}/delete")
async def delete_target_group(request: Request, name: PathName) -> Response:
    """Delete the group, if no step uses it."""
    await checked_form(request)
    try:
        await call(fleet_of(request).remove_target_group, name)
    except SqlfleetError as exc:
        flash(request, exc.message, "error")
        return redirect(f"/target-groups/{q(name)}")
    flash(request, f"Target group {name} deleted.")
    return redirect("/target-groups")
