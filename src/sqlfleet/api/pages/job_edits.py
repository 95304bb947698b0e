"""Pages that change a job: its settings, its steps (add, edit, remove, move), and the diff
between two of its versions.

The step form's settings are generated from `limits.STEP_SETTINGS`, the table the CLI options
and the REST API are built from, and checked by the REST API's own bodies, so every setting
appears and is checked the same way at every door.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from sqlfleet import limits
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
from sqlfleet.api.schemas import JobUpdate, PathName, StepCreate, StepUpdate
from sqlfleet.api.security import checked_form, require_login
from sqlfleet.errors import InvalidValue, NotFound, SqlfleetError
from sqlfleet.fleet import Fleet
from sqlfleet.model import Job, Step
from sqlfleet.step_settings import setting_value

router = APIRouter(dependencies=[Depends(require_login)], include_in_schema=False)

# The settings every step form shows above the folded ones.
MAIN_SETTINGS = ("command", "target_group", "credential")
LABELS = {
    "retry_attempts": "Retry attempts",
    "initial_retry_interval_seconds": "First retry after (s)",
    "maximum_retry_interval_seconds": "Longest retry wait (s)",
    "retry_interval_backoff_multiplier": "Backoff multiplier",
    "step_timeout_seconds": "Step timeout per target (s)",
    "connect_timeout_seconds": "Connect timeout (s)",
    "max_parallelism": "Max databases per server",
    "result_rows": "Result rows kept per target",
    "canary": "Canary targets",
    "wave_size": "Wave size (N or P%)",
    "wave_pause_seconds": "Pause between waves (s)",
    "max_failures": "Failure budget (N or P%)",
    "retry_on": "Retry on",
}
OUTPUT_FIELDS = ("server", "database", "schema", "table", "credential")


@dataclass(frozen=True)
class SettingField:
    """One input of the step form, made from a row of the step settings table."""

    name: str
    label: str
    kind: str  # number, checkbox, choice or text
    help: str
    low: float | None = None
    high: float | None = None
    whole: bool = True
    placeholder: str = ""
    choices: tuple[str, ...] = ()


def setting_fields() -> list[SettingField]:
    """The step form's folded settings, one per row of `limits.STEP_SETTINGS`."""
    fields = []
    for setting in limits.STEP_SETTINGS:
        if setting.field in MAIN_SETTINGS:
            continue
        label = LABELS.get(setting.field, setting.field.replace("_", " ").capitalize())
        limit = setting.limit
        if isinstance(limit, limits.Number):
            default = "no limit" if limit.default is None else f"{limit.default:g}"
            fields.append(
                SettingField(
                    setting.field,
                    label,
                    "number",
                    setting.help_text,
                    limit.low,
                    limit.high,
                    limit.whole,
                    default,
                )
            )
        elif limit is None:
            fields.append(SettingField(setting.field, setting.help, "checkbox", setting.help_text))
        elif re.fullmatch(r"[a-z]+(\|[a-z]+)+", setting.metavar):  # a choice: all|transient
            choices = tuple(setting.metavar.split("|"))
            fields.append(
                SettingField(setting.field, label, "choice", setting.help_text, choices=choices)
            )
        else:
            fields.append(SettingField(setting.field, label, "text", setting.help_text))
    return fields


def step_form_values(step: Step) -> dict[str, Any]:
    """A step's settings as the step form shows them."""
    settings = step.settings
    values: dict[str, Any] = {
        "step_name": step.name,
        "command": settings.command,
        "target_group": settings.target_group,
        "credential": settings.credential,
    }
    for field in setting_fields():
        value = setting_value(settings, field.name)
        if field.kind == "checkbox":
            values[field.name] = bool(value)
        elif value is not None:
            values[field.name] = f"{value:g}" if isinstance(value, float) else str(value)
    if settings.output is not None:
        output = settings.output
        values.update(
            output_server=output.server_url,
            output_database=output.database,
            output_schema=output.schema or "",
            output_table=output.table,
            output_credential=output.credential,
        )
    return values


def step_body(form: FormData, *, editing: bool) -> dict[str, Any]:
    """The REST API's step body from the step form.

    Editing, a blank number means its default (the form shows every value, so blank was
    chosen); creating, it is left out, which means the same.
    """
    body: dict[str, Any] = {
        "name": text_field(form, "step_name") or (None if editing else "main"),
        "command": raw_field(form, "command"),
        "target_group": text_field(form, "target_group") or "",
        "credential": text_field(form, "credential") or "",
    }
    for field in setting_fields():
        if field.kind == "checkbox":
            body[field.name] = checkbox(form, field.name)
            continue
        value = text_field(form, field.name)
        if value is not None:
            body[field.name] = value
        elif editing and field.kind == "number":
            limit = limits.STEP_SETTING[field.name].limit
            assert isinstance(limit, limits.Number)
            body[field.name] = limit.default if limit.default is not None else limit.low
    output = {name: text_field(form, f"output_{name}") for name in OUTPUT_FIELDS}
    if any(output.values()):
        body["output"] = {k: v for k, v in output.items() if v is not None}
    elif editing:
        body["output"] = None
    return body


def _choices(fleet: Fleet) -> dict[str, Any]:
    return {
        "groups": [g.name for g in fleet.list_target_groups()],
        "credentials": [c.name for c in fleet.list_credentials()],
        "setting_fields": setting_fields(),
    }


# -- the job's own settings ----------------------------------------------------------------------


def _job_values(job: Job) -> dict[str, Any]:
    return {
        "description": job.description,
        "schedule": job.schedule.spec if job.schedule else "",
        "timezone": job.schedule.timezone if job.schedule else "",
        "enabled": job.enabled,
    }


@router.get("/jobs/{name}/edit")
async def edit_job_page(request: Request, name: PathName) -> Response:
    """The form that changes a job's description, schedule, time zone and enabled."""
    job = await call(fleet_of(request).get_job, name)
    return render(
        request, "job_edit.html", nav="jobs", job=job, values=_job_values(job), error=None
    )


@router.post("/jobs/{name}/edit")
async def edit_job(request: Request, name: PathName) -> Response:
    """Save the job's settings (a new version)."""
    form = await checked_form(request)
    fleet = fleet_of(request)
    job = await call(fleet.get_job, name)
    schedule = text_field(form, "schedule")
    body: dict[str, Any] = {
        "description": raw_field(form, "description").strip(),
        "enabled": checkbox(form, "enabled"),
        "schedule": (
            {"spec": schedule, "timezone": text_field(form, "timezone") or "UTC"}
            if schedule
            else None
        ),
    }
    try:
        webhooks = notify_field(form)
        if webhooks is not None:
            body["notify"] = webhooks
        changes = JobUpdate.model_validate(body).changes()
        job = await call(fleet.update_job, name, **changes)
    except (ValidationError, SqlfleetError) as exc:
        values: dict[str, Any] = form_values(form)
        values["enabled"] = checkbox(form, "enabled")
        return render(
            request,
            "job_edit.html",
            status=422,
            nav="jobs",
            job=job,
            values=values,
            error=problem(exc),
        )
    flash(request, f"Job {job.name} saved (version {job.version}).")
    return redirect(f"/jobs/{q(job.name)}")


# -- steps -------------------------------------------------------------------------------------


def _step_page(fleet: Fleet, name: str, step_name: str | None) -> dict[str, Any]:
    job = fleet.get_job(name)
    values: dict[str, Any] = {}
    if step_name is not None:
        step = job.step(step_name)
        if step is None:
            raise_not_found(name, step_name)
        values = step_form_values(step)
    return {"job": job, "values": values, "step_name": step_name, **_choices(fleet)}


def raise_not_found(job: str, step: str) -> NoReturn:
    """The NotFound of a step the job does not have."""
    raise NotFound(f"job {job!r} has no step named {step!r}")


@router.get("/jobs/{name}/steps/new")
async def new_step_page(request: Request, name: PathName) -> Response:
    """The form that appends a step."""
    data = await call(_step_page, fleet_of(request), name, None)
    return render(request, "step_form.html", nav="jobs", error=None, **data)


@router.get("/jobs/{name}/steps/{step}/edit")
async def edit_step_page(request: Request, name: PathName, step: PathName) -> Response:
    """The form that changes a step: script, target group, credential, every setting, output."""
    data = await call(_step_page, fleet_of(request), name, step)
    return render(request, "step_form.html", nav="jobs", error=None, **data)


async def _save_step(request: Request, name: str, step: str | None) -> Response:
    form = await checked_form(request)
    fleet = fleet_of(request)
    try:
        if step is None:
            created = StepCreate.model_validate(step_body(form, editing=False))
            job = await call(fleet.add_step, name, created.name, **created.settings())
            done = f"Step {created.name} added"
        else:
            changed = StepUpdate.model_validate(step_body(form, editing=True))
            new_name = changed.name if changed.name and changed.name != step else None
            job = await call(fleet.update_step, name, step, new_name=new_name, **changed.settings())
            done = f"Step {new_name or step} saved"
    except (ValidationError, SqlfleetError) as exc:
        data = await call(_step_page, fleet, name, None)
        values: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
        for field in setting_fields():
            if field.kind == "checkbox":
                values[field.name] = checkbox(form, field.name)
        data.update(values=values, step_name=step)
        return render(request, "step_form.html", status=422, nav="jobs", error=problem(exc), **data)
    flash(request, f"{done} (version {job.version}).")
    return redirect(f"/jobs/{q(name)}")


@router.post("/jobs/{name}/steps/new")
async def add_step(request: Request, name: PathName) -> Response:
    """Append the step (a new version)."""
    return await _save_step(request, name, None)


@router.post("/jobs/{name}/steps/{step}/edit")
async def edit_step(request: Request, name: PathName, step: PathName) -> Response:
    """Save the step's changes (a new version)."""
    return await _save_step(request, name, step)


@router.post("/jobs/{name}/steps/{step}/delete")
async def remove_step(request: Request, name: PathName, step: PathName) -> Response:
    """Remove the step (a new version)."""
    await checked_form(request)
    try:
        job = await call(fleet_of(request).remove_step, name, step)
    except SqlfleetError as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, f"Step {step} removed (version {job.version}).")
    return redirect(f"/jobs/{q(name)}")


@router.post("/jobs/{name}/steps/{step}/move")
async def move_step(request: Request, name: PathName, step: PathName) -> Response:
    """Move the step up or down one place (a new version)."""
    form = await checked_form(request)
    fleet = fleet_of(request)
    try:
        job = await call(fleet.get_job, name)
        current = job.step(step)
        if current is None:
            raise_not_found(name, step)
        offset = {"up": -1, "down": 1}.get(str(form.get("direction")))
        if offset is None:
            raise InvalidValue("direction must be up or down")
        job = await call(fleet.move_step, name, step, current.step_id + offset)
    except SqlfleetError as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, f"Step {step} moved (version {job.version}).")
    return redirect(f"/jobs/{q(name)}")


# -- versions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepChange:
    """How one step differs between two versions."""

    name: str
    change: str  # added, removed, changed, unchanged
    settings: list[tuple[str, str, str]]  # setting, before, after
    script: list[tuple[str, str]]  # (css class, line) of a unified diff


def version_diff(old: Job, new: Job) -> list[StepChange]:
    """What changed in the steps from `old` to `new`, step by step, the script as a diff."""
    changes = []
    names = [s.name for s in new.steps] + [s.name for s in old.steps if new.step(s.name) is None]
    for name in names:
        before, after = old.step(name), new.step(name)
        if before is None or after is None:
            kept = before or after
            assert kept is not None
            lines = kept.settings.command.splitlines()
            sign, css = ("+", "add") if before is None else ("-", "del")
            changes.append(
                StepChange(
                    name,
                    "added" if before is None else "removed",
                    [],
                    [(css, sign + line) for line in lines],
                )
            )
            continue
        old_values, new_values = _described(before), _described(after)
        settings = [
            (key, old_values.get(key, ""), new_values.get(key, ""))
            for key in dict.fromkeys([*old_values, *new_values])
            if old_values.get(key) != new_values.get(key)
        ]
        script = [
            (_line_class(line), line)
            for line in difflib.unified_diff(
                before.settings.command.splitlines(),
                after.settings.command.splitlines(),
                f"version {old.version}",
                f"version {new.version}",
                lineterm="",
            )
        ]
        changed = bool(settings or script)
        changes.append(StepChange(name, "changed" if changed else "unchanged", settings, script))
    return changes


def _described(step: Step) -> dict[str, str]:
    values = step_form_values(step)
    values.pop("command")
    values.pop("step_name")
    values["position"] = str(step.step_id)
    return {k: str(v) for k, v in values.items()}


def _line_class(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "head"
    if line.startswith("@@"):
        return "hunk"
    return {"+": "add", "-": "del"}.get(line[:1], "")


def _diff_page(fleet: Fleet, name: str, old: int | None, new: int | None) -> dict[str, Any]:
    job = fleet.get_job(name)
    new = new or job.version
    old = old or max(new - 1, 1)
    old_job, new_job = fleet.get_job(name, old), fleet.get_job(name, new)
    return {
        "job": job,
        "old": old_job,
        "new": new_job,
        "changes": version_diff(old_job, new_job),
        "versions": fleet.job_versions(name),
    }


@router.get("/jobs/{name}/diff")
async def diff_page(
    request: Request,
    name: PathName,
    old: Annotated[
        int | None, Query(alias="from", ge=limits.VERSION.low, le=limits.VERSION.high)
    ] = None,
    new: Annotated[
        int | None, Query(alias="to", ge=limits.VERSION.low, le=limits.VERSION.high)
    ] = None,
) -> Response:
    """What changed between two versions of a job (by default the last change)."""
    data = await call(_diff_page, fleet_of(request), name, old, new)
    return render(request, "job_diff.html", nav="jobs", **data)
