"""Seeing what a job would do before it does it: dry run and preflight.

A dry run resolves each step's target group now and renders, per target, the batches exactly
as they would be sent (variables substituted, quoted as the target's engine wants); nothing
is sent to a target and nothing is recorded. A preflight also logs in to every target with
the step's credential, runs nothing, and closes the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlfleet.engine.plan import StepPlan
from sqlfleet.errors import SqlfleetError
from sqlfleet.model import Job, StepPreview, Target, TargetGroup, TargetPreview
from sqlfleet.script import substitute
from sqlfleet.secrets import Secret
from sqlfleet.servers import ServerUrl
from sqlfleet.targets import Login, driver_for
from sqlfleet.targets.resolve import resolve_group

LoginSource = Callable[[str], tuple[str, Secret]]
GroupSource = Callable[[str], TargetGroup]
# Logins to the targets of one preflight at a time: enough to be quick, few enough that a
# fleet of thousands does not take every connection slot of its servers.
PREFLIGHT_CONCURRENCY = 20


async def preview(
    job: Job, groups: GroupSource, logins: LoginSource, *, preflight: bool = False
) -> list[StepPreview]:
    """Each step of `job` resolved and rendered per target; with `preflight`, logged in to."""
    cache: dict[str, Login] = {}

    def login(name: str) -> Login:
        if name not in cache:
            cache[name] = Login(*logins(name))
        return cache[name]

    steps = []
    for step in job.steps:
        settings = step.settings
        try:
            group = groups(settings.target_group)
            refresh = {m.refresh_credential for m in group.members if m.refresh_credential}
            targets = await resolve_group(
                group,
                default_login=login(settings.credential),
                logins={name: login(name) for name in refresh},
                connect_timeout=float(settings.connect_timeout_seconds),
            )
        except SqlfleetError as exc:
            steps.append(
                StepPreview(step, error=f"resolving the target group failed: {exc.message}")
            )
            continue
        plan = StepPlan(job, step, login(settings.credential), None)
        rendered = [_render(plan, target) for target in targets]
        if preflight:
            rendered = await _log_in(plan, rendered)
        steps.append(StepPreview(step, rendered))
    return steps


def _render(plan: StepPlan, target: Target) -> TargetPreview:
    # No execution exists: $(job_execution_id) is left as written.
    variables = plan.variables(0, target)
    del variables["job_execution_id"]
    try:
        driver = driver_for(ServerUrl.parse(target.server_url))
        batches = [substitute(batch.text, variables, driver) for batch in plan.batches]
    except SqlfleetError as exc:
        return TargetPreview(target, error=exc.message)
    return TargetPreview(target, batches)


async def _log_in(plan: StepPlan, targets: list[TargetPreview]) -> list[TargetPreview]:
    slots = asyncio.Semaphore(PREFLIGHT_CONCURRENCY)
    timeout = float(plan.step.settings.connect_timeout_seconds)

    async def one(preview: TargetPreview) -> TargetPreview:
        if preview.error is not None:
            return preview
        target = preview.target
        async with slots:
            try:
                server = ServerUrl.parse(target.server_url)
                connection = await driver_for(server).connect(
                    server,
                    target.database,
                    plan.login,
                    connect_timeout=timeout,
                    schema=target.schema,
                )
                await connection.close()
            except SqlfleetError as exc:
                return TargetPreview(target, preview.batches, exc.message)
        return preview

    return list(await asyncio.gather(*(one(p) for p in targets)))


def failures_by_error(steps: list[StepPreview]) -> dict[str, list[Target]]:
    """The targets that failed, grouped by their error (database names taken out of it)."""
    grouped: dict[str, list[Target]] = {}
    for step in steps:
        for preview in step.targets:
            if preview.error is not None:
                key = preview.error.replace(repr(preview.target.database), "<database>")
                grouped.setdefault(key, []).append(preview.target)
    return grouped
