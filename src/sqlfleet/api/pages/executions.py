"""Pages for executions: the list, one execution live, a target's full error log, Stop."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime
from starlette.responses import JSONResponse, Response

from sqlfleet import documents, limits
from sqlfleet.api.pages.common import call, elapsed, flash, fleet_of, redirect, render
from sqlfleet.api.routes.executions import find_target
from sqlfleet.api.schemas import PathId
from sqlfleet.api.security import checked_form, require_login
from sqlfleet.errors import InvalidValue
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import TARGET_SORTS, Attempt, TargetSort

router = APIRouter(dependencies=[Depends(require_login)], include_in_schema=False)

# One page shows this many targets; the pager, the filters and the REST API reach the rest.
PAGE_SIZE = 100
# The executions list shows this many, newest first; older ones are a page further.
EXECUTIONS_PAGE_SIZE = 50

Sort = Annotated[TargetSort, Query()]
Search = Annotated[str, Query(max_length=limits.MAX_NAME)]
PageNumber = Annotated[int, Query(ge=1, le=limits.INT32_MAX // PAGE_SIZE)]


@dataclass(frozen=True)
class TargetView:
    """Which targets an execution page shows: a state, a name search, a sort, a page."""

    state: Lifecycle | None = None
    search: str = ""
    sort: str = "step"
    descending: bool = False
    page: int = 1

    def query(self, **changes: Any) -> str:
        """The query string of this view with some parts changed (page 1 unless given)."""
        view = dataclasses.replace(self, page=1)
        view = dataclasses.replace(view, **changes)
        params = {
            "state": str(view.state or ""),
            "q": view.search,
            "sort": "" if view.sort == "step" else view.sort,
            "desc": "1" if view.descending else "",
            "page": "" if view.page == 1 else str(view.page),
        }
        return urlencode({k: v for k, v in params.items() if v})


def _executions_query(filters: dict[str, str], page: int) -> str:
    """The query string of the executions list with these filters, at this page."""
    params = {**filters, "page": "" if page == 1 else str(page)}
    return urlencode({k: v for k, v in params.items() if v})


@router.get("/executions")
async def executions_page(
    request: Request,
    active: Annotated[bool, Query()] = False,
    job: Annotated[str, Query(max_length=limits.MAX_NAME)] = "",
    state: Annotated[Lifecycle | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=limits.INT32_MAX // EXECUTIONS_PAGE_SIZE)] = 1,
) -> Response:
    """The latest executions of every job, or of one job, or in one state; older ones by page."""
    fleet = fleet_of(request)
    # One more than a page tells whether there is an older page, without counting history.
    executions = await call(
        fleet.list_executions,
        count=EXECUTIONS_PAGE_SIZE + 1,
        offset=(page - 1) * EXECUTIONS_PAGE_SIZE,
        active=active,
        job=job or None,
        lifecycle=state.value if state else None,
    )
    jobs = await call(fleet.list_jobs)
    filters = {
        "active": "true" if active else "",
        "job": job,
        "state": state.value if state else "",
    }
    return render(
        request,
        "executions.html",
        nav="executions",
        executions=executions[:EXECUTIONS_PAGE_SIZE],
        page=page,
        newer=_executions_query(filters, page - 1) if page > 1 else None,
        older=_executions_query(filters, page + 1)
        if len(executions) > EXECUTIONS_PAGE_SIZE
        else None,
        active=active,
        jobs=[j.name for j in jobs],
        only_job=job,
        only_state=state.value if state else "",
        states=[s.value for s in Lifecycle],
    )


def live_document(
    fleet: Fleet, execution_id: int, view: TargetView, since: datetime | None = None
) -> dict[str, Any]:
    """An execution as the page shows it: counts, steps, and one page of targets.

    With `since`, only the page's rows changed since then are sent, with the ids of the whole
    page in order so the page can tell when its rows moved and must be fetched whole.
    """
    now = fleet.clock()
    cursor = fleet.target_changes_cursor()
    execution = fleet.get_execution(execution_id)
    steps = fleet.list_step_executions(execution_id)
    states = [view.state.value] if view.state else None
    targets = fleet.list_target_executions(
        execution_id,
        lifecycle=states,
        search=view.search,
        sort=view.sort,
        descending=view.descending,
        limit=PAGE_SIZE,
        offset=(view.page - 1) * PAGE_SIZE,
    )
    if view.page == 1 and len(targets) < PAGE_SIZE:
        total = len(targets)  # all of them are on this page: no need to count
    else:
        total = fleet.count_target_executions(execution_id, lifecycle=states, search=view.search)
    names = {s.step_id: s.step_name for s in steps}
    rows = []
    for target in targets:
        if since is not None and target.updated_at is not None and target.updated_at < since:
            continue
        row = documents.target_execution(target)
        row["step_name"] = names.get(target.step_id, str(target.step_id))
        row["duration_seconds"] = elapsed(target.start_time, target.end_time, now)
        rows.append(row)
    document = documents.job_execution(execution)
    document["duration_seconds"] = elapsed(execution.start_time, execution.end_time, now)
    document["total_targets"] = sum(document["target_counts"].values())
    unfinished = any(not Lifecycle(s).is_terminal for s in document["target_counts"])
    first = (view.page - 1) * PAGE_SIZE
    return {
        "execution": document,
        "steps": [documents.step_execution(s) for s in steps],
        "targets": rows,
        "ids": [t.id for t in targets],
        "changes_only": since is not None,
        "cursor": cursor.isoformat(),
        "matching": total,
        "first": first + 1 if targets else 0,
        "last": first + len(targets),
        "page": view.page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        # A stopped execution ends at once; its running targets end a moment later.
        "live": execution.is_active or unfinished,
    }


def _view(state: Lifecycle | None, q: str, sort: str, desc: bool, page: int) -> TargetView:
    return TargetView(state=state, search=q.strip(), sort=sort, descending=desc, page=page)


@router.get("/executions/{execution_id}")
async def execution_page(
    request: Request,
    execution_id: PathId,
    state: Annotated[Lifecycle | None, Query()] = None,
    q: Search = "",
    sort: Sort = "step",
    desc: Annotated[bool, Query()] = False,
    page: PageNumber = 1,
) -> Response:
    """One execution: counts per state and a page of targets, kept up to date live."""
    view = _view(state, q, sort, desc, page)
    live = await call(live_document, fleet_of(request), execution_id, view)
    notifications = await call(fleet_of(request).list_deliveries, execution_id)
    return render(
        request,
        "execution.html",
        nav="executions",
        notifications=notifications,
        live=live,
        execution=live["execution"],
        view=view,
        only_state=state.value if state else "",
        sorts=list(TARGET_SORTS),
    )


@router.get("/executions/{execution_id}/live.json")
async def execution_live(
    request: Request,
    execution_id: PathId,
    state: Annotated[Lifecycle | None, Query()] = None,
    q: Search = "",
    sort: Sort = "step",
    desc: Annotated[bool, Query()] = False,
    page: PageNumber = 1,
    since: Annotated[AwareDatetime | None, Query()] = None,
) -> Response:
    """What the execution page polls every second: what changed since its last look."""
    view = _view(state, q, sort, desc, page)
    live = await call(live_document, fleet_of(request), execution_id, view, since)
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


@dataclass(frozen=True)
class AttemptGroup:
    """Consecutive attempts that ended alike: one entry in a target's log."""

    attempts: list[Attempt]
    took: float | None

    @property
    def first(self) -> Attempt:
        """The group's first attempt, whose message and state all of them share."""
        return self.attempts[0]

    @property
    def label(self) -> str:
        """`Attempt 3` or `Attempts 1-11`."""
        low, high = self.attempts[0].attempt_number, self.attempts[-1].attempt_number
        return f"Attempt {low}" if low == high else f"Attempts {low}\u2013{high}"


def group_attempts(attempts: list[Attempt], now: datetime) -> list[AttemptGroup]:
    """Attempts in order, those in a row with the same outcome and message in one group.

    A target that failed eleven times alike reads "Attempts 1-11" and the message once; the
    time shown is from the first one's start to the last one's end.
    """
    groups: list[list[Attempt]] = []
    for attempt in attempts:
        if groups and _alike(groups[-1][-1], attempt):
            groups[-1].append(attempt)
        else:
            groups.append([attempt])
    return [
        AttemptGroup(group, elapsed(group[0].start_time, group[-1].end_time, now))
        for group in groups
    ]


def _alike(one: Attempt, other: Attempt) -> bool:
    # Only ended attempts are grouped: a running one is news of its own.
    return (
        one.end_time is not None
        and other.end_time is not None
        and dataclasses.replace(
            one,
            attempt_number=0,
            agent_name=None,
            start_time=other.start_time,
            end_time=other.end_time,
        )
        == dataclasses.replace(other, attempt_number=0, agent_name=None)
    )


def _target_log(fleet: Fleet, execution_id: int, target_execution_id: int) -> dict[str, Any]:
    now = fleet.clock()
    target = find_target(fleet, execution_id, target_execution_id)
    execution = fleet.get_execution(execution_id)
    steps = {s.step_id: s.step_name for s in fleet.list_step_executions(execution_id)}
    attempts = group_attempts(fleet.list_attempts(target.id), now)
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
