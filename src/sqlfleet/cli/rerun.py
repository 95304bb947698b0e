"""`sqlfleet execution rerun`: run the targets an execution left failed (or canceled) again."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

import typer

from sqlfleet import documents, limits
from sqlfleet.cli.app import JsonOption, checked, open_fleet, print_json, say
from sqlfleet.cli.executions import (
    Interrupt,
    LeaseOption,
    Progress,
    _finish,
    execution_app,
)
from sqlfleet.engine.rerun import check_rerun_states
from sqlfleet.lifecycle import DEFAULT_RERUN_STATES, RERUN_STATES
from sqlfleet.model import JobExecution

_DEFAULT = ",".join(s.value for s in DEFAULT_RERUN_STATES)


@execution_app.command("rerun")
def execution_rerun(
    ctx: typer.Context,
    execution_id: Annotated[int, typer.Argument(callback=checked(limits.ID, "execution id"))],
    state: Annotated[
        str,
        typer.Option(
            "--state",
            metavar="STATES",
            help=f"Re-run the targets that ended in these states, comma-separated "
            f"({', '.join(s.value for s in RERUN_STATES)}).",
        ),
    ] = _DEFAULT,
    run: Annotated[
        bool,
        typer.Option(
            "--run", help="Run it here, now, as `sqlfleet run` does; exit 0 if it succeeded."
        ),
    ] = False,
    lease_seconds: LeaseOption = 60.0,
    json: JsonOption = False,
) -> None:
    """A new execution of the same job version, on the targets EXECUTION_ID left in STATES.

    Each step runs on the targets that the same step left in those states (a step that never
    started is resolved anew). Without --run the agents run it.
    """
    states = check_rerun_states(s.strip() for s in state.split(","))
    interrupt = Interrupt()
    with open_fleet(ctx) as fleet:
        execution = fleet.rerun(execution_id, states=states)
        if not run:
            if json:
                print_json(documents.job_execution(execution))
            else:
                say(f"execution {execution.id} re-runs execution {execution_id}")
            return
        typer.echo(f"execution {execution.id} re-runs execution {execution_id}", err=True)
        progress = Progress(fleet, quiet=json)

        async def work() -> JobExecution:
            done = asyncio.Event()
            follower = asyncio.create_task(progress.follow(execution.id, done))
            try:
                with interrupt.handling() as stop:
                    return await fleet.run_execution(
                        execution.id, stop=stop, lease=timedelta(seconds=lease_seconds)
                    )
            finally:
                done.set()
                await follower

        with interrupt.quit_on_second():
            ended = asyncio.run(work())
    _finish(ended, json, interrupted=interrupt.happened)
