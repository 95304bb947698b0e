"""REST routes for executions: list, one with its steps, its targets, their attempts, stop."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, Field

from sqlfleet import documents, limits
from sqlfleet.api.deps import FleetDep, LauncherDep
from sqlfleet.api.errors import ApiError
from sqlfleet.api.schemas import Body, PathId, QueryName
from sqlfleet.errors import InvalidValue
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import DEFAULT_RERUN_STATES, RERUN_STATES, Lifecycle
from sqlfleet.model import TargetExecution, TargetSort

router = APIRouter(prefix="/executions", tags=["executions"])

LifecycleName = Annotated[Lifecycle | None, Query(description="Only executions in this state")]
Limit = Annotated[
    int, Query(ge=limits.COUNT.low, le=limits.COUNT.high, description="At most this many")
]
Offset = Annotated[
    int, Query(ge=limits.OFFSET.low, le=limits.OFFSET.high, description="Skip this many first")
]


@router.get("")
def list_executions(
    fleet: FleetDep,
    job: QueryName = None,
    lifecycle: LifecycleName = None,
    active: Annotated[bool, Query(description="Only executions still running")] = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Executions, newest first."""
    executions = fleet.list_executions(
        job=job,
        count=limit,
        active=active,
        lifecycle=lifecycle.value if lifecycle is not None else None,
        offset=offset,
    )
    return [documents.job_execution(e) for e in executions]


@router.get("/{execution_id}")
def get_execution(execution_id: PathId, fleet: FleetDep) -> dict[str, Any]:
    """One execution with its target counts and its steps."""
    document = documents.job_execution(fleet.get_execution(execution_id))
    document["steps"] = [
        documents.step_execution(s) for s in fleet.list_step_executions(execution_id)
    ]
    document["notifications"] = [documents.delivery(d) for d in fleet.list_deliveries(execution_id)]
    return document


@router.post("/{execution_id}/stop")
def stop_execution(execution_id: PathId, fleet: FleetDep) -> dict[str, Any]:
    """Cancel an execution: nothing more starts; running statements are canceled."""
    execution = fleet.get_execution(execution_id)
    if execution.lifecycle.is_terminal:
        raise ApiError(
            409, "Conflict", f"execution {execution_id} already ended {execution.lifecycle}"
        )
    try:
        return documents.job_execution(fleet.stop(execution_id))
    except InvalidValue as exc:  # it ended between the two calls
        raise ApiError(409, "Conflict", exc.message) from None


@router.get("/{execution_id}/targets")
def list_target_executions(
    execution_id: PathId,
    fleet: FleetDep,
    response: Response,
    lifecycle: Annotated[
        list[Lifecycle] | None, Query(description="Only targets in these states")
    ] = None,
    search: Annotated[
        str | None,
        Query(
            max_length=limits.MAX_NAME,
            description="Only targets whose server, database or schema name holds this text",
        ),
    ] = None,
    sort: Annotated[
        TargetSort,
        Query(description="Sort by step (then target), server, database, state, ..."),
    ] = "step",
    desc: Annotated[bool, Query(description="Sort in descending order")] = False,
    since: Annotated[
        AwareDatetime | None,
        Query(description="Only targets changed at or after this time (the X-Changes-Cursor)"),
    ] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """The execution's target executions, one page, by step then target unless sorted.

    X-Total-Count says how many match the filter; X-Changes-Cursor is the `since` to pass
    next time to get only the targets changed in the meantime.
    """
    states = [s.value for s in lifecycle] if lifecycle else None
    cursor = fleet.target_changes_cursor()
    targets = fleet.list_target_executions(
        execution_id,
        lifecycle=states,
        limit=limit,
        offset=offset,
        search=search,
        sort=sort,
        descending=desc,
        changed_since=since,
    )
    if offset == 0 and len(targets) < limit and since is None:
        total = len(targets)  # every match is in this answer: no need to count
    else:
        total = fleet.count_target_executions(execution_id, lifecycle=states, search=search)
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Changes-Cursor"] = cursor.isoformat()
    return [documents.target_execution(t) for t in targets]


@router.get("/{execution_id}/targets/{target_execution_id}")
def get_target_execution(
    execution_id: PathId, target_execution_id: PathId, fleet: FleetDep
) -> dict[str, Any]:
    """One target execution with every attempt and its message."""
    target = find_target(fleet, execution_id, target_execution_id)
    document = documents.target_execution(target)
    document["attempts"] = [documents.attempt(a) for a in fleet.list_attempts(target.id)]
    return document


@router.get("/{execution_id}/targets/{target_execution_id}/attempts")
def list_attempts(
    execution_id: PathId, target_execution_id: PathId, fleet: FleetDep
) -> list[dict[str, Any]]:
    """Every attempt of one target execution, first first, with its message."""
    target = find_target(fleet, execution_id, target_execution_id)
    return [documents.attempt(a) for a in fleet.list_attempts(target.id)]


def find_target(fleet: Fleet, execution_id: int, target_execution_id: int) -> TargetExecution:
    """A target execution of an execution, or NotFound."""
    return fleet.get_target_execution(execution_id, target_execution_id)


RerunState = Annotated[Lifecycle, Field(description=", ".join(s.value for s in RERUN_STATES))]


class RerunRequest(Body):
    """Which targets to run again: those that ended in `states`."""

    states: list[RerunState] = Field(
        default_factory=lambda: list(DEFAULT_RERUN_STATES), min_length=1, max_length=10
    )


@router.post("/{execution_id}/rerun", status_code=202)
async def rerun_execution(
    execution_id: PathId,
    fleet: FleetDep,
    launcher: LauncherDep,
    body: RerunRequest | None = None,
) -> dict[str, Any]:
    """A new execution of the same job version, on the targets that ended in `states`.

    Each step runs on the targets the same step left in those states (by default Failed,
    TimedOut, Canceled); the new execution's `rerun_of` names this one.
    """
    states = (body or RerunRequest()).states
    execution = await launcher.launch(fleet, lambda: fleet.rerun(execution_id, states=states))
    return documents.job_execution(execution)


@router.post("/{execution_id}/targets/{target_execution_id}/retry-now")
def retry_target_now(
    execution_id: PathId, target_execution_id: PathId, fleet: FleetDep
) -> dict[str, Any]:
    """Let a target that waits for its next attempt try again now."""
    return documents.target_execution(fleet.retry_now(execution_id, target_execution_id))
